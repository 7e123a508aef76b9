"""Checks for notebooks/06_heatmaps_pckh.ipynb: quarter-offset decoding, PCKh and PCK@0.2, each
compared with `hglearn.heatmaps.decode` and `hglearn.metrics` on random and edge cases (borders,
ties, non-square maps, joints exactly at the threshold), with the inputs left unchanged and the
documented type. A verdict names a usual mistake when the student's results match it on every case.
"""
import dataclasses

import numpy as np
import torch

from hglearn.course.checking import (A_FLOAT_ARRAY, Returns, Verdict, check_function_strictly, failed,
                                     reports_not_attempted, short)
from hglearn.course.checks_blocks import one_thread  # tiny tensors: faster on one thread
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


def tied_maxima() -> torch.Tensor:
    """(1, 2, 16, 16): two pixels share the maximum, (11, 4) first in row-major order, each with a
    larger neighbour on its right; and a flat map, where every pixel is a maximum."""
    heatmaps = torch.zeros(1, 2, 16, 16, dtype=torch.float64)
    for x, y in [(11, 4), (3, 10)]:
        heatmaps[0, 0, y, x] = 1.0
        heatmaps[0, 0, y, x + 1], heatmaps[0, 0, y, x - 1] = 0.6, 0.2
        heatmaps[0, 0, y + 1, x], heatmaps[0, 0, y - 1, x] = 0.3, 0.5
    heatmaps[0, 1] = 0.25
    return heatmaps


def decode_cases() -> list[tuple[tuple[torch.Tensor], str]]:
    """(case, what is special about it, for a verdict that fails there first)."""
    generator = np.random.default_rng(0)
    cases = []
    # Random sub-pixel joints on a square and a non-square map (x and y must not be swapped).
    for h, w, note in [(16, 16, ""), (12, 20, "a non-square map: x is the column, index % w, and y the row, "
                                              "index // w")]:
        joints = generator.uniform(1.5, [w - 2.5, h - 2.5], size=(2 * 5, 2))
        cases.append(((torch.cat([rendered(joints[:5], h, w), rendered(joints[5:], h, w)]),), note))
    # Peaks on the border and in the corners: a neighbour is missing, no step on that axis.
    border = [(0.3, 5.2), (15.0, 7.7), (6.6, 0.0), (9.2, 15.4), (0.0, 0.0), (15.0, 15.0), (0.4, 15.3)]
    cases.append(((rendered(border, 16, 16),), "peaks on the border and in the corners: no step on an axis where "
                                               "a neighbour is missing, and no wrap-around to the other side"))
    # Peaks exactly on a pixel centre: both neighbours are equal, no step either.
    cases.append(((rendered([(4.0, 9.0), (7.0, 7.25), (10.5, 3.0)], 16, 16),),
                  "peaks on a pixel centre: equal neighbours give sign 0, no step"))
    # Noise on an odd-sized map: the argmax anywhere, neighbours of any order.
    cases.append(((torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(0)),), ""))
    cases.append(((tied_maxima(),), "two pixels share the maximum, and a flat map: the first maximum in row-major "
                                    "order counts, as the argmax of the flattened map gives"))
    return cases


def argmax_xy(heatmaps: torch.Tensor) -> torch.Tensor:
    index = heatmaps.flatten(2).argmax(dim=2)  # (B, J)
    w = heatmaps.shape[-1]
    return torch.stack([index % w, index // w], dim=2).to(heatmaps.dtype)  # (B, J, 2)


DECODE_MISTAKES = [
    (argmax_xy, "no quarter-pixel step: this is the plain argmax"),
    (lambda hm: 2 * argmax_xy(hm) - decode(hm)[0],
     "the step goes toward the smaller neighbour: it goes toward the larger"),
    (lambda hm: 2 * decode(hm)[0] - argmax_xy(hm), "the step is half a pixel: it is a quarter"),
    (lambda hm: decode(hm)[0].flip(-1), "the coordinates come as (y, x): the last axis is (x, y)"),
]

A_FLOAT_TENSOR_OR_ARRAY = Returns("a float tensor or array", lambda v: (
    (isinstance(v, torch.Tensor) and v.is_floating_point()) or (isinstance(v, np.ndarray) and v.dtype.kind == "f")))


def with_note(verdict: Verdict, student, reference, cases: list[tuple[tuple, str]], name: str) -> Verdict:
    """A failed `check_function_strictly` verdict that names no usual mistake, with the note of the
    case whose values differed first ("peaks on the border: ..."), if that case has one."""
    if verdict or " — " in verdict.message:
        return verdict
    for case, note in cases:
        if not check_function_strictly(student, reference, [case], name):
            if note and verdict.message.startswith(f"{name}{short(case)}: "):  # the values differ there
                return failed(f"{verdict.message} ({note})")
            return verdict
    return verdict


@reports_not_attempted
@one_thread()
def check_decode_quarter_offset(student) -> Verdict:
    """The student's `decode_quarter_offset(heatmaps)` → (B, J, 2) (x, y) against the coordinates of
    `hglearn.heatmaps.decode`: Gaussians at random sub-pixel positions on square and non-square
    maps, batches of 1 and 2, peaks on the border and in the corners, peaks on a pixel centre (a
    tie of the neighbours), noise on an odd-sized map, and two equal maxima (the first in
    row-major order counts); the heatmaps left unchanged, a float tensor or array returned."""
    cases = decode_cases()
    verdict = check_function_strictly(student, decode_quarter_offset_reference, [case for case, _ in cases],
                                      "decode_quarter_offset", returns=A_FLOAT_TENSOR_OR_ARRAY,
                                      mistakes=DECODE_MISTAKES)
    return with_note(verdict, student, decode_quarter_offset_reference, cases, "decode_quarter_offset")


# --- PCKh and PCK ------------------------------------------------------------------------------


def pckh_reference(pred, gt, annotated, head_boxes, threshold: float = 0.5) -> np.ndarray:
    return pck_curve(pred, gt, annotated, head_size(head_boxes), [threshold])[0]  # (J,)


def pck_reference(pred, gt, annotated, torso, threshold: float = 0.2) -> np.ndarray:
    joint_set = dataclasses.replace(LSP, torso=tuple(torso))  # only the pair matters to torso_size
    return pck_curve(pred, gt, annotated, torso_size(gt, annotated, joint_set), [threshold])[0]  # (J,)


def percent_correct(pred, gt, annotated, norm, threshold, *, strict=True, everyone=False, unmasked=False,
                    squared=False) -> np.ndarray:
    """Per-joint percentages with the switches of the usual mistakes: `<=`, every person in the
    denominator, unannotated joints counted as hits, squared distances."""
    difference = np.asarray(pred, dtype=float) - np.asarray(gt, dtype=float)
    distance = (difference**2).sum(axis=2) if squared else np.linalg.norm(difference, axis=2)  # (N, J)
    with np.errstate(invalid="ignore"):
        ratio = distance / np.asarray(norm, dtype=float)[:, None]
        hit = ratio < threshold if strict else ratio <= threshold
    counted = np.ones_like(annotated, bool) if unmasked else np.asarray(annotated, bool)
    total = len(annotated) if everyone else np.asarray(annotated).sum(axis=0)
    return 100.0 * (hit & counted).sum(axis=0) / total


def threshold_mistakes(reference, norm, default: float, name: str) -> list:
    """The usual mistakes of a PCK-style metric, `norm(*args)` its (N,) normaliser."""
    def variant(**switches):
        return lambda pred, gt, annotated, box, threshold=default: percent_correct(
            pred, gt, annotated, norm(pred, gt, annotated, box), threshold, **switches)

    return [
        (variant(strict=False), f"a joint exactly at the threshold counts as correct: {name} is strict (<)"),
        (lambda *args: reference(*args) / 100, "fractions, not percentages: multiply by 100"),
        (variant(everyone=True), "the denominator counts every person: divide by the number of annotated "
                                 "instances of each joint"),
        (variant(unmasked=True), "joints that are not annotated count as correct where the prediction matches "
                                 "their ground truth: count annotated joints only"),
        (variant(squared=True), "the squared distance is compared: use ‖pred − gt‖"),
        (lambda pred, gt, annotated, box, threshold=default: percent_correct(
            pred, gt, annotated, norm(pred, gt, annotated, box), default),
         f"the threshold argument is not used ({default} always)"),
    ]


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
    # 16 people for 16 joints: dividing the (N, J) distances by head sizes broadcast along the
    # joints instead of the people would not raise there.
    for n, j, threshold in [(30, 16, 0.5), (25, 16, 0.2), (12, 5, 1.0), (16, 16, 0.5)]:
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


def diagonal(pred, gt, annotated, head_boxes):
    boxes = np.asarray(head_boxes, dtype=float)
    return np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)  # (N,)


PCKH_MISTAKES = threshold_mistakes(pckh_reference, lambda *args: 0.6 * diagonal(*args), 0.5, "PCKh") + [
    (lambda pred, gt, annotated, boxes, threshold=0.5: percent_correct(
        pred, gt, annotated, diagonal(pred, gt, annotated, boxes), threshold),
     "the head size is the whole diagonal of the box: it is 0.6 × the diagonal (SC_BIAS)"),
]


@reports_not_attempted
def check_pckh(student) -> Verdict:
    """The student's `pckh(pred, gt, annotated, head_boxes, threshold)` → per-joint percentages (J,)
    against `hglearn.metrics` (head_size and the PCKh count): random people with unannotated joints
    (NaN or seemingly correct ground truth, which must not count), three thresholds, as many people
    as joints, and joints exactly at, just inside and outside the threshold; the inputs left
    unchanged, a NumPy array of floats returned."""
    return check_function_strictly(student, pckh_reference, pckh_cases(), "pckh", returns=A_FLOAT_ARRAY,
                                   mistakes=PCKH_MISTAKES)


def pck_cases() -> list[tuple]:
    generator = np.random.default_rng(2)
    cases = []
    for n, joint_set, threshold in [(30, LSP, 0.2), (20, FLIC, 0.2), (15, LSP, 0.5), (14, LSP, 0.2)]:
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


def torso_of(joints, torso) -> np.ndarray:
    a, b = torso
    joints = np.asarray(joints, dtype=float)
    return np.linalg.norm(joints[:, a] - joints[:, b], axis=1)  # (N,)


PCK_MISTAKES = threshold_mistakes(pck_reference, lambda pred, gt, annotated, torso: torso_of(gt, torso), 0.2,
                                  "PCK") + [
    (lambda pred, gt, annotated, torso, threshold=0.2: percent_correct(
        pred, gt, annotated, torso_of(pred, torso), threshold),
     "the torso is measured on the predictions: it comes from the ground truth"),
    (lambda pred, gt, annotated, torso, threshold=0.2: percent_correct(
        pred, gt, annotated, np.full(len(gt), torso_of(gt, torso).mean()), threshold),
     "one torso size (the mean) for everyone: each person is divided by their own"),
]


@reports_not_attempted
def check_pck(student) -> Verdict:
    """The student's `pck(pred, gt, annotated, torso, threshold)` → per-joint percentages (J,)
    against `hglearn.metrics` (torso_size and the PCK count): LSP and FLIC people with unannotated
    joints, thresholds 0.2 and 0.5, as many people as joints, another torso pair, and a joint
    exactly at the threshold; the inputs left unchanged, a NumPy array of floats returned."""
    return check_function_strictly(student, pck_reference, pck_cases(), "pck", returns=A_FLOAT_ARRAY,
                                   mistakes=PCK_MISTAKES)
