"""Checks for notebooks/00_pose_primer.ipynb: mirroring a pose, PCKh's head size, limb lengths.

`head_size` is checked against `hglearn.metrics.head_size`. The library has no function of its own
for the other two (`PoseDataset` mirrors joints inline, through its crop matrix), so their small
references live here, and the notebook's later cells import them from this module.

Every check runs the student's function on copies of its inputs and fails it if it changed them, if
it returns something other than the float array its docstring promises, or if a value differs; a
hint names a usual mistake only when the student's results are that mistake's on every case.
"""
from collections.abc import Sequence

import numpy as np

from hglearn.course.checking import A_FLOAT_ARRAY, Verdict, check_function_strictly, reports_not_attempted
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


def random_joints(rng: np.random.Generator, num_joints: int, size: int) -> np.ndarray:
    return rng.uniform(0, size - 1, (num_joints, 2))


# The usual mistakes, as the results they give (each check names one only when it explains every case).

def _unswapped(joints, width, flip_index):
    return mirror_pose(joints, width, range(len(joints)))


def _mirrored_by_width(joints, width, flip_index):
    return mirror_pose(joints, width + 1, flip_index)


def _only_x_reordered(joints, width, flip_index):
    joints = np.asarray(joints, dtype=np.float64)
    return np.stack([(width - 1 - joints[:, 0])[list(flip_index)], joints[:, 1]], axis=1)


def _y_mirrored(joints, width, flip_index):
    joints = np.asarray(joints, dtype=np.float64)
    return np.stack([joints[:, 0], width - 1 - joints[:, 1]], axis=1)[list(flip_index)]


@reports_not_attempted
def check_mirror_pose(student) -> Verdict:
    """student(joints (J, 2), width, flip_index) against `mirror_pose` on MPII, LSP and FLIC poses:
    a float array, the input left unchanged."""
    rng = np.random.default_rng(0)
    cases = [
        (random_joints(rng, 16, 64), 64, MPII.flip_index),
        (random_joints(rng, 16, 128), 100, MPII.flip_index),  # the width, not the pose, sets the mirror
        (random_joints(rng, 14, 96), 96, LSP.flip_index),
        (random_joints(rng, 11, 50), 50, FLIC.flip_index),
        (np.array([[0.0, 5.0], [63.0, 2.0]]), 64, (1, 0)),  # the border columns swap
        (np.array([[0, 3], [10, 7], [63, 0]]), 64, (2, 1, 0)),  # whole pixels, as ints: the result is float
    ]
    return check_function_strictly(student, mirror_pose, cases, "mirror_pose", returns=A_FLOAT_ARRAY, mistakes=[
        (_unswapped, "the x coordinates are mirrored but left and right joints are not swapped: reorder "
                     "the joints with flip_index"),
        (_mirrored_by_width, "off by one pixel: with pixel centres on integers, x' = width − 1 − x"),
        (_only_x_reordered, "only the x coordinates were reordered: move whole joints, x and y together, "
                            "with flip_index"),
        (_y_mirrored, "the y coordinates were mirrored: a horizontal mirror changes x and keeps y"),
    ])


def _whole_diagonal(head_boxes):
    return head_size(head_boxes) / 0.6


def _width_plus_height(head_boxes):
    boxes = np.asarray(head_boxes, dtype=np.float64)
    return 0.6 * np.abs(boxes[:, 1] - boxes[:, 0]).sum(axis=1)


def _squared_diagonal(head_boxes):
    return 0.6 * (head_size(head_boxes) / 0.6) ** 2


@reports_not_attempted
def check_head_size(student) -> Verdict:
    """student(head_boxes (N, 2, 2)) against `hglearn.metrics.head_size`: 0.6 × the box diagonal."""
    cases = [
        (np.array([[[10.0, 20.0], [40.0, 60.0]]]),),  # 0.6 · 50 = 30
        (np.array([[[0.0, 0.0], [12.0, 5.0]], [[3.0, 4.0], [3.5, 9.0]], [[5.0, 5.0], [25.0, 25.0]]]),),
        (np.array([[[40.0, 60.0], [10.0, 20.0]]]),),  # corners given the other way round
        (np.random.default_rng(1).uniform(0, 200, (6, 2, 2)),),
    ]
    return check_function_strictly(student, head_size, cases, "head_size", returns=A_FLOAT_ARRAY, mistakes=[
        (_whole_diagonal, "that is the whole diagonal: PCKh's head size is 0.6 × it"),
        (_width_plus_height, "width + height is not the diagonal: its length is √(width² + height²)"),
        (_squared_diagonal, "the squared diagonal: take the square root"),
    ])


def _squared_lengths(joints, edges):
    return limb_lengths(joints, edges) ** 2


def _city_block(joints, edges):
    joints = np.asarray(joints, dtype=np.float64)
    a, b = np.asarray(edges).T
    return np.abs(joints[a] - joints[b]).sum(axis=1)


@reports_not_attempted
def check_limb_lengths(student) -> Verdict:
    """student(joints (J, 2), edges) against `limb_lengths` on the three joint sets' skeletons."""
    rng = np.random.default_rng(2)
    cases = [
        (np.array([[0, 0], [3, 4], [3, 10]]), ((0, 1), (1, 2), (2, 0))),  # ints; 5, 6, √109 as floats
        (random_joints(rng, 16, 128), MPII.edges),
        (random_joints(rng, 14, 64), LSP.edges),
        (random_joints(rng, 11, 64), FLIC.edges),
    ]
    return check_function_strictly(student, limb_lengths, cases, "limb_lengths", returns=A_FLOAT_ARRAY, mistakes=[
        (_squared_lengths, "squared lengths: take the square root"),
        (_city_block, "|dx| + |dy| is not the length: it is √(dx² + dy²)"),
    ])
