"""Checks for notebooks/06_heatmaps_pckh.ipynb: quarter-offset decoding, PCKh and PCK@0.2, each
compared with `hglearn.heatmaps.decode` and `hglearn.metrics` on random and edge cases.
"""
import dataclasses

import numpy as np
import torch

from hglearn.course.checking import Verdict, check_function, reports_not_attempted
from hglearn.heatmaps import decode, render
from hglearn.joints import FLIC, LSP
from hglearn.metrics import head_size, pck_curve, torso_size

__all__ = ["check_decode_quarter_offset", "check_pckh", "check_pck"]


# --- decoding ----------------------------------------------------------------------------------


def decode_quarter_offset_reference(heatmaps: torch.Tensor) -> torch.Tensor:
    return decode(heatmaps)[0]  # (B, J, 2); the check leaves out the confidences


def rendered(joints, h: int, w: int, sigma: float = 1.0) -> torch.Tensor:
    """One batch item of Gaussians at `joints` (J, 2) on an h × w map: (1, J, h, w)."""
    joints = np.asarray(joints, dtype=np.float64)
    heatmaps, _ = render(joints, np.ones(len(joints), bool), (h, w), sigma)
    return torch.from_numpy(heatmaps).unsqueeze(0)


def decode_cases() -> list[tuple[torch.Tensor]]:
    generator = np.random.default_rng(0)
    cases = []
    # Random sub-pixel joints on a square and a non-square map (x and y must not be swapped).
    for h, w in [(16, 16), (12, 20)]:
        joints = generator.uniform(1.5, [w - 2.5, h - 2.5], size=(2 * 5, 2))
        cases.append((torch.cat([rendered(joints[:5], h, w), rendered(joints[5:], h, w)]),))
    # Peaks on the border and in the corners: a neighbour is missing, no step on that axis.
    border = [(0.3, 5.2), (15.0, 7.7), (6.6, 0.0), (9.2, 15.4), (0.0, 0.0), (15.0, 15.0), (0.4, 15.3)]
    cases.append((rendered(border, 16, 16),))
    # Peaks exactly on a pixel centre: both neighbours are equal, no step either.
    cases.append((rendered([(4.0, 9.0), (7.0, 7.25), (10.5, 3.0)], 16, 16),))
    # Noise: the argmax anywhere, neighbours of any order.
    cases.append((torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(0)),))
    return cases


@reports_not_attempted
def check_decode_quarter_offset(student) -> Verdict:
    """The student's `decode_quarter_offset(heatmaps)` → (B, J, 2) (x, y) against the coordinates of
    `hglearn.heatmaps.decode`: Gaussians at random sub-pixel positions on square and non-square
    maps, peaks on the border and in the corners, peaks on a pixel centre (a tie), and noise."""
    return check_function(student, decode_quarter_offset_reference, decode_cases(), "decode_quarter_offset")


# --- PCKh and PCK ------------------------------------------------------------------------------


def pckh_reference(pred, gt, annotated, head_boxes, threshold: float = 0.5) -> np.ndarray:
    return pck_curve(pred, gt, annotated, head_size(head_boxes), [threshold])[0]  # (J,)


def pck_reference(pred, gt, annotated, torso, threshold: float = 0.2) -> np.ndarray:
    joint_set = dataclasses.replace(LSP, torso=tuple(torso))  # only the pair matters to torso_size
    return pck_curve(pred, gt, annotated, torso_size(gt, annotated, joint_set), [threshold])[0]  # (J,)


def random_people(generator: np.random.Generator, n: int, j: int, spread: float,
                  always: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pred, gt (n, j, 2) and annotated (n, j): errors of about `spread` px around the truth, about a
    fifth of the joints not annotated (their ground truth NaN or, for some, equal to the prediction,
    so that counting them changes the score), every joint annotated at least once, and the joints
    in `always` annotated everywhere."""
    gt = generator.uniform(0, 200, size=(n, j, 2))
    pred = gt + generator.normal(0, spread, size=(n, j, 2))
    annotated = generator.uniform(size=(n, j)) > 0.2
    annotated[0] = True
    annotated[:, list(always)] = True
    missing = np.argwhere(~annotated)
    for k, (person, joint) in enumerate(missing):
        if k % 2:
            gt[person, joint] = np.nan
        else:
            pred[person, joint] = gt[person, joint]  # "correct", but not annotated: must not count
    return pred, gt, annotated


def pckh_cases() -> list[tuple]:
    generator = np.random.default_rng(1)
    cases = []
    for n, j, threshold in [(30, 16, 0.5), (25, 16, 0.2), (12, 5, 1.0)]:
        pred, gt, annotated = random_people(generator, n, j, spread=12.0)
        top_left = generator.uniform(0, 100, size=(n, 2))
        head_boxes = np.stack([top_left, top_left + generator.uniform(20, 50, size=(n, 2))], axis=1)  # (n, 2, 2)
        cases.append((pred, gt, annotated, head_boxes, threshold))
    # A joint exactly at the threshold: head box 30 × 40 (diagonal 50, head size 30), error (9, 12),
    # 15 px = 0.5 · 30. PCKh is strict: it is not correct.
    gt = np.full((2, 3, 2), 50.0)
    pred = gt.copy()
    pred[:, 0] += (9.0, 12.0)  # exactly 0.5 head sizes away
    pred[:, 1] += (8.0, 12.0)  # just inside
    pred[:, 2] += (30.0, 0.0)  # outside
    head_boxes = np.array([[[10.0, 10.0], [40.0, 50.0]]] * 2)
    cases.append((pred, gt, np.ones((2, 3), bool), head_boxes, 0.5))
    return cases


@reports_not_attempted
def check_pckh(student) -> Verdict:
    """The student's `pckh(pred, gt, annotated, head_boxes, threshold)` → per-joint percentages (J,)
    against `hglearn.metrics` (head_size and the PCKh count): random people with unannotated joints
    (NaN or seemingly correct ground truth, which must not count), three thresholds, and joints
    exactly at, just inside and outside the threshold."""
    return check_function(student, pckh_reference, pckh_cases(), "pckh")


def pck_cases() -> list[tuple]:
    generator = np.random.default_rng(2)
    cases = []
    for n, joint_set, threshold in [(30, LSP, 0.2), (20, FLIC, 0.2), (15, LSP, 0.5)]:
        pred, gt, annotated = random_people(generator, n, joint_set.num_joints, spread=15.0,
                                            always=joint_set.torso)
        cases.append((pred, gt, annotated, joint_set.torso, threshold))
    # Exactly at the threshold: the torso (joints 0 and 1) is 50 px long, the error of joint 2 is
    # (6, 8), 10 px = 0.2 · 50: not correct (strict <); joint 3 is just inside.
    gt = np.array([[[0.0, 0.0], [30.0, 40.0], [10.0, 10.0], [20.0, 20.0]]] * 2)
    pred = gt.copy()
    pred[:, 2] += (6.0, 8.0)
    pred[:, 3] += (6.0, 7.5)
    cases.append((pred, gt, np.ones((2, 4), bool), (0, 1), 0.2))
    return cases


@reports_not_attempted
def check_pck(student) -> Verdict:
    """The student's `pck(pred, gt, annotated, torso, threshold)` → per-joint percentages (J,)
    against `hglearn.metrics` (torso_size and the PCK count): LSP and FLIC people with unannotated
    joints, thresholds 0.2 and 0.5, and a joint exactly at the threshold."""
    return check_function(student, pck_reference, pck_cases(), "pck")
