"""Accuracy of joint predictions: PCKh@0.5 (MPII) and PCK@0.2 (LSP, FLIC).

Both count a joint as correct when its distance to the ground truth, divided by a size of the
person (the head for PCKh, the torso for PCK), is below a threshold. All coordinates are in the
original image's pixels: decode and map predictions back before calling these functions.

Occlusion does not matter: every annotated joint counts, occluded or not, as in the MPII evaluation,
so there is no `visible` argument. Only `annotated` (False where the dataset has no label) decides
which joints are scored. Inputs may be numpy arrays or torch tensors; outputs are numpy.

Taught in notebooks/06_heatmaps_pckh.ipynb.
"""
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hglearn.joints import LSP, MPII, JointSet

# SC_BIAS in the MPII evaluation code (util_get_head_size.m): the head box is larger than the head.
HEAD_SIZE_FACTOR = 0.6


def _to_numpy(x, dtype=np.float64) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def head_size(head_boxes) -> np.ndarray:
    """Head size of the PCKh normaliser (Andriluka et al., CVPR 2014):

        head_size = 0.6 · ‖(x2 − x1, y2 − y1)‖,

    0.6 times the diagonal of the annotated head rectangle, as in the MPII evaluation code.

    head_boxes: (N, 2, 2) [[x1, y1], [x2, y2]] per person. Returns (N,) in pixels.

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    boxes = _to_numpy(head_boxes)
    return HEAD_SIZE_FACTOR * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)


def torso_size(joints, annotated, joint_set: JointSet) -> np.ndarray:
    """Torso size of the PCK normaliser (Sapp & Taskar, CVPR 2013; Johnson & Everingham, BMVC 2010):

        torso_size = ‖joints[a] − joints[b]‖,  (a, b) = joint_set.torso,

    the distance between a shoulder and the opposite hip. Implementations differ on which pair; hglearn
    takes the left shoulder and the right hip for LSP, FLIC and MPII, the pair of the widely used LSP
    evaluation code (see `hglearn.joints`). NaN where either joint is not annotated.

    joints: (N, J, 2); annotated: (N, J) bool. Returns (N,) in pixels.

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    joints, annotated = _to_numpy(joints), _to_numpy(annotated, bool)
    a, b = joint_set.torso
    size = np.linalg.norm(joints[:, a] - joints[:, b], axis=1)  # (N,)
    return np.where(annotated[:, a] & annotated[:, b], size, np.nan)


def _normalized_distances(pred, gt, annotated, norm, norm_name: str) -> tuple[np.ndarray, np.ndarray]:
    """‖pred − gt‖ / norm per joint, (N, J), NaN where the joint is not annotated; and annotated (N, J).

    A person whose normaliser is not finite or ≤ 0 raises ValueError naming them: dropping them
    silently would change the denominator of every joint.
    """
    pred, gt, norm = _to_numpy(pred), _to_numpy(gt), _to_numpy(norm)
    annotated = _to_numpy(annotated, bool)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 2:
        raise ValueError(f"pred and gt must both be (N, J, 2), got {pred.shape} and {gt.shape}")
    if annotated.shape != gt.shape[:2] or norm.shape != gt.shape[:1]:
        raise ValueError(f"expected annotated {gt.shape[:2]} and {norm_name} {gt.shape[:1]}, "
                         f"got {annotated.shape} and {norm.shape}")
    bad = np.flatnonzero(~(np.isfinite(norm) & (norm > 0)))
    if bad.size:
        raise ValueError(f"{norm_name} is not finite or ≤ 0 for person index {bad.tolist()} "
                         f"(values {norm[bad].tolist()}); fix or remove these people")
    bad = np.argwhere(annotated & ~np.isfinite(gt).all(axis=2))
    if bad.size:
        raise ValueError(f"non-finite ground truth for annotated (person, joint) {bad.tolist()}")
    dist = np.linalg.norm(pred - gt, axis=2) / norm[:, None]  # (N, J)
    return np.where(annotated, dist, np.nan), annotated


def _correct(dist: np.ndarray, annotated: np.ndarray, threshold: float) -> np.ndarray:
    # Strict <, as in the MPII code; a NaN distance (a non-finite prediction) is never correct.
    return ((dist < threshold) & annotated).sum(axis=0)  # (J,)


def _percent(correct: np.ndarray, counts: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, 100.0 * correct / counts, np.nan)  # NaN: no instance to score


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value to compare
class PCKResult:
    """The scores of one evaluation, per joint and as the papers' table.

    per_joint: (J,) percent correct, NaN for a joint with no annotated instance.
    counts: (J,) number of annotated instances of each joint.
    table: the joint set's groups in order (for MPII Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle),
        each the plain average of its joints' per-joint values (left and right), then "Mean", the
        unweighted mean of the per-joint values over `joint_set.mean_joints` (the MATLAB evaluation).
    mean_weighted: the mean over the same joints weighted by their counts, i.e. correct / annotated
        over all of them (mmpose's convention). The two can differ by almost a point on MPII.
    """

    per_joint: np.ndarray
    counts: np.ndarray
    table: dict[str, float]
    mean_weighted: float
    threshold: float
    name: str
    joint_names: tuple[str, ...]

    @property
    def mean(self) -> float:
        return self.table["Mean"]

    def to_markdown(self) -> str:
        """A paper-style one-row table: `| Head | Shoulder | ... | Mean |`, one decimal."""
        header = "| " + " | ".join(self.table) + " |"
        rule = "|" + "|".join("---:" for _ in self.table) + "|"
        row = "| " + " | ".join(f"{v:.1f}" for v in self.table.values()) + " |"
        return "\n".join([header, rule, row])

    def __str__(self) -> str:
        widths = [max(len(k), 5) for k in self.table]
        header = " ".join(f"{k:>{w}}" for k, w in zip(self.table, widths))
        row = " ".join(f"{v:>{w}.1f}" for v, w in zip(self.table.values(), widths))
        pad = " " * len(self.name)
        return (f"{self.name} {header}\n{pad} {row}\n"
                f"Mean weighted by joint counts: {self.mean_weighted:.1f}")

    def as_dict(self) -> dict:
        """Plain floats and strings for JSON; NaN becomes None."""
        def number(x):
            return float(x) if np.isfinite(x) else None

        return {
            "name": self.name,
            "threshold": float(self.threshold),
            "table": {k: number(v) for k, v in self.table.items()},
            "mean": number(self.mean),
            "mean_weighted": number(self.mean_weighted),
            "per_joint": {n: number(v) for n, v in zip(self.joint_names, self.per_joint)},
            "counts": {n: int(c) for n, c in zip(self.joint_names, self.counts)},
        }


def _result(dist: np.ndarray, annotated: np.ndarray, threshold: float, joint_set: JointSet,
            name: str) -> PCKResult:
    if dist.shape[1] != joint_set.num_joints:
        raise ValueError(f"{dist.shape[1]} joints given but {joint_set.name} has {joint_set.num_joints}")
    correct, counts = _correct(dist, annotated, threshold), annotated.sum(axis=0)  # (J,), (J,)
    per_joint = _percent(correct, counts)
    table = {group: float(np.mean(per_joint[list(joints)])) for group, joints in joint_set.groups.items()}
    chosen = list(joint_set.mean_joints)
    table["Mean"] = float(np.mean(per_joint[chosen]))  # NaN if one of these joints was never annotated
    mean_weighted = float(_percent(correct[chosen].sum(), counts[chosen].sum()))
    return PCKResult(per_joint=per_joint, counts=counts, table=table, mean_weighted=mean_weighted,
                     threshold=threshold, name=name, joint_names=joint_set.names)


def pckh(pred, gt, annotated, head_size, threshold: float = 0.5, joint_set: JointSet = MPII) -> PCKResult:
    """PCKh, the percentage of correct keypoints normalised by head size (Andriluka et al., CVPR 2014):

        correct(n, j) = ‖pred[n, j] − gt[n, j]‖ / head_size[n] < threshold   (strict <),
        PCKh_j = 100 · Σ_n annotated(n, j) · correct(n, j) / Σ_n annotated(n, j).

    Every annotated joint counts, occluded ones included; joints that are not annotated are left out.
    PCKh@0.5 is the MPII benchmark. A person whose head size is not finite or ≤ 0 raises ValueError
    naming their index. The table's Mean is the MATLAB evaluation's (unweighted over 14 joints);
    `mean_weighted` is mmpose's.

    pred, gt: (N, J, 2) in original-image pixels; annotated: (N, J) bool; head_size: (N,) from
    `head_size(head_boxes)`. Returns a PCKResult named "PCKh@0.5".

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    dist, annotated = _normalized_distances(pred, gt, annotated, head_size, "head_size")
    return _result(dist, annotated, threshold, joint_set, f"PCKh@{threshold:g}")


def pck(pred, gt, annotated, torso_size, threshold: float = 0.2, joint_set: JointSet = LSP) -> PCKResult:
    """PCK normalised by torso size, for LSP (Johnson & Everingham, BMVC 2010) and FLIC (Sapp & Taskar,
    CVPR 2013):

        correct(n, j) = ‖pred[n, j] − gt[n, j]‖ / torso_size[n] < threshold   (strict <),

    counted over annotated joints as in `pckh`. PCK@0.2 is the usual benchmark; FLIC results are
    usually quoted for elbows and wrists. A person whose torso size is NaN (a torso joint not
    annotated) raises ValueError naming them rather than being dropped: the standard LSP code
    excludes nobody, since the torso is always annotated there. Leave such people out yourself.

    pred, gt: (N, J, 2) in original-image pixels; annotated: (N, J) bool; torso_size: (N,) from
    `torso_size(gt, annotated, joint_set)`. Returns a PCKResult named "PCK@0.2".

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    dist, annotated = _normalized_distances(pred, gt, annotated, torso_size, "torso_size")
    return _result(dist, annotated, threshold, joint_set, f"PCK@{threshold:g}")


def pck_curve(pred, gt, annotated, norm, thresholds: Sequence[float]) -> np.ndarray:
    """Per-joint PCK at each threshold, for the PCKh-vs-threshold plots (Andriluka et al., CVPR 2014):

        curve[t, j] = 100 · Σ_n annotated(n, j) · [d(n, j) < thresholds[t]] / Σ_n annotated(n, j),
        d(n, j) = ‖pred[n, j] − gt[n, j]‖ / norm[n].

    norm: (N,) head sizes (PCKh) or torso sizes (PCK), checked as in `pckh`. The MPII plots use
    thresholds 0, 0.01, ..., 0.5. Returns (T, J) percent, NaN for a joint with no annotated instance.

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    dist, annotated = _normalized_distances(pred, gt, annotated, norm, "norm")
    counts = annotated.sum(axis=0)  # (J,)
    return np.stack([_percent(_correct(dist, annotated, t), counts) for t in thresholds])  # (T, J)
