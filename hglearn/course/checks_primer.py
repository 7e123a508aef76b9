"""Checks for notebooks/00_pose_primer.ipynb: mirroring a pose, PCKh's head size, limb lengths.

`head_size` is checked against `hglearn.metrics.head_size`. The library has no function of its own
for the other two (`PoseDataset` mirrors joints inline, through its crop matrix), so their small
references live here, and the notebook's later cells import them from this module.
"""
import functools
from collections.abc import Sequence

import numpy as np

from hglearn.course.checking import Verdict, call, check_function, reports_not_attempted
from hglearn.joints import FLIC, LSP, MPII
from hglearn.metrics import head_size

__all__ = ["check_mirror_pose", "check_head_size", "check_limb_lengths"]


def mirror_pose(joints: np.ndarray, width: int, flip_index: Sequence[int]) -> np.ndarray:
    """The joints (J, 2) of the horizontally mirrored image of width `width`:

        x' = width − 1 − x,   y' = y,   then joint j of the mirror is joint flip_index[j] mirrored,

    so that channel j still holds joint j (a mirrored left wrist is where a right wrist would be).
    Pixel centres are on integers, so column 0 and column width − 1 swap.
    """
    joints = np.asarray(joints, dtype=np.float64)
    mirrored = np.stack([width - 1 - joints[:, 0], joints[:, 1]], axis=1)
    return mirrored[list(flip_index)]


def limb_lengths(joints: np.ndarray, edges: Sequence[tuple[int, int]]) -> np.ndarray:
    """(E,) Euclidean length ‖joints[a] − joints[b]‖ of each skeleton edge (a, b), in the joints' units."""
    joints = np.asarray(joints, dtype=np.float64)
    a, b = np.asarray(edges).T
    return np.linalg.norm(joints[a] - joints[b], axis=1)


def on_copies(student):
    """The student's function called on copies of its array arguments, so that code that changes
    its input in place cannot change what the reference then sees."""
    @functools.wraps(student)
    def wrapper(*args):
        return student(*(np.array(a) if isinstance(a, np.ndarray) else a for a in args))
    return wrapper


def random_joints(rng: np.random.Generator, num_joints: int, size: int) -> np.ndarray:
    return rng.uniform(0, size - 1, (num_joints, 2))


@reports_not_attempted
def check_mirror_pose(student) -> Verdict:
    """student(joints (J, 2), width, flip_index) against `mirror_pose` on MPII, LSP and FLIC poses."""
    rng = np.random.default_rng(0)
    cases = [
        (random_joints(rng, 16, 64), 64, MPII.flip_index),
        (random_joints(rng, 16, 128), 100, MPII.flip_index),  # the width, not the pose, sets the mirror
        (random_joints(rng, 14, 96), 96, LSP.flip_index),
        (random_joints(rng, 11, 50), 50, FLIC.flip_index),
        (np.array([[0.0, 5.0], [63.0, 2.0]]), 64, (1, 0)),  # the border columns swap
    ]
    verdict = check_function(on_copies(student), mirror_pose, cases, "mirror_pose")
    if verdict:
        return verdict
    # Name the two usual slips: no left/right swap, and x' = W − x.
    for case in cases:
        joints, width, flip_index = case
        got, error = call(on_copies(student), *case)
        if error is not None or tuple(np.shape(got)) != joints.shape:
            break
        got = np.asarray(got, dtype=np.float64)
        if np.allclose(got, mirror_pose(joints, width, range(len(joints)))):
            return Verdict(False, verdict.message + " — the x coordinates are mirrored but left and right "
                                  "joints are not swapped: reorder the joints with flip_index")
        if np.allclose(got, mirror_pose(joints, width + 1, flip_index)):
            return Verdict(False, verdict.message + " — off by one pixel: with pixel centres on integers, "
                                  "x' = width − 1 − x")
    return verdict


@reports_not_attempted
def check_head_size(student) -> Verdict:
    """student(head_boxes (N, 2, 2)) against `hglearn.metrics.head_size`: 0.6 × the box diagonal."""
    cases = [
        (np.array([[[10.0, 20.0], [40.0, 60.0]]]),),  # 0.6 · 50 = 30
        (np.array([[[0.0, 0.0], [12.0, 5.0]], [[3.0, 4.0], [3.5, 9.0]], [[5.0, 5.0], [25.0, 25.0]]]),),
        (np.array([[[40.0, 60.0], [10.0, 20.0]]]),),  # corners given the other way round
        (np.random.default_rng(1).uniform(0, 200, (6, 2, 2)),),
    ]
    verdict = check_function(on_copies(student), head_size, cases, "head_size")
    if not verdict and "50 instead of 30" in verdict.message:
        return Verdict(False, verdict.message + " — that is the whole diagonal: PCKh's head size is 0.6 × it")
    return verdict


@reports_not_attempted
def check_limb_lengths(student) -> Verdict:
    """student(joints (J, 2), edges) against `limb_lengths` on the three joint sets' skeletons."""
    rng = np.random.default_rng(2)
    cases = [
        (np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 10.0]]), ((0, 1), (1, 2), (2, 0))),  # 5, 6, √109
        (random_joints(rng, 16, 128), MPII.edges),
        (random_joints(rng, 14, 64), LSP.edges),
        (random_joints(rng, 11, 64), FLIC.edges),
    ]
    verdict = check_function(on_copies(student), limb_lengths, cases, "limb_lengths")
    if not verdict and "25 instead of 5" in verdict.message:
        return Verdict(False, verdict.message + " — squared lengths: take the square root")
    return verdict
