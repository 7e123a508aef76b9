"""Joint sets of the three benchmarks: names, skeleton edges, flip index and evaluation groups.

Indices are 0-based everywhere in hglearn; the datasets' own files are 1-based and are converted
when they are read (see `hglearn.data`).

Taught in notebooks/00_pose_primer.ipynb.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class JointSet:
    """A dataset's joints.

    names: joint names in the dataset's order.
    edges: pairs of joint indices drawn as limbs.
    flip_index: flip_index[j] is the joint that j becomes in a horizontally mirrored image.
    groups: the columns of the papers' result tables, each the joints averaged into it.
    mean_joints: the joints whose per-joint scores are averaged into the table's "Mean".
    torso: the (shoulder, opposite hip) pair whose distance normalises PCK@0.2.
    """

    name: str
    names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    flip_index: tuple[int, ...]
    groups: dict[str, tuple[int, ...]]
    mean_joints: tuple[int, ...]
    torso: tuple[int, int]

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)


# MPII Human Pose (Andriluka et al., CVPR 2014): the annotation ids 0-15 in the official .mat file.
MPII = JointSet(
    name="mpii",
    names=(
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
        "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    ),
    edges=(
        (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5),  # legs through the pelvis
        (6, 7), (7, 8), (8, 9),  # spine and head
        (10, 11), (11, 12), (12, 7), (7, 13), (13, 14), (14, 15),  # arms through the thorax
    ),
    flip_index=(5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10),
    # PCKh table: Head is head_top alone; the others average left and right (MATLAB evaluation).
    groups={
        "Head": (9,), "Shoulder": (12, 13), "Elbow": (11, 14), "Wrist": (10, 15),
        "Hip": (2, 3), "Knee": (1, 4), "Ankle": (0, 5),
    },
    # All but pelvis (6) and thorax (7): the upper neck counts in the mean though no column shows it.
    mean_joints=(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15),
    torso=(13, 2),  # l_shoulder to r_hip, the same pair as for LSP
)

# Leeds Sports Pose (Johnson & Everingham, BMVC 2010): the 14 rows of joints.mat.
LSP = JointSet(
    name="lsp",
    names=(
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
        "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "neck", "head_top",
    ),
    edges=(
        (0, 1), (1, 2), (2, 3), (3, 4), (4, 5),  # legs and pelvis
        (6, 7), (7, 8), (8, 12), (12, 9), (9, 10), (10, 11),  # arms through the neck
        (12, 13), (2, 8), (3, 9),  # head and torso sides
    ),
    flip_index=(5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13),
    # PCK table: Head averages neck and head top, as the common LSP evaluation code does.
    groups={
        "Head": (12, 13), "Shoulder": (8, 9), "Elbow": (7, 10), "Wrist": (6, 11),
        "Hip": (2, 3), "Knee": (1, 4), "Ankle": (0, 5),
    },
    mean_joints=tuple(range(14)),
    # Left shoulder to right hip: the pair of the widely used LSP evaluation code (its 1-based 10 and 3).
    torso=(9, 2),
)

# FLIC (Sapp & Taskar, CVPR 2013): the 11 annotated upper-body points of the 29 in examples.mat.
FLIC = JointSet(
    name="flic",
    names=(
        "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
        "l_hip", "r_hip", "l_eye", "r_eye", "nose",
    ),
    edges=(
        (0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (0, 6), (3, 7), (6, 7), (8, 10), (9, 10),
    ),
    flip_index=(3, 4, 5, 0, 1, 2, 7, 6, 9, 8, 10),
    # FLIC results are usually quoted for elbows and wrists; the other groups are for completeness.
    groups={
        "Head": (8, 9, 10), "Shoulder": (0, 3), "Elbow": (1, 4), "Wrist": (2, 5), "Hip": (6, 7),
    },
    mean_joints=tuple(range(11)),
    torso=(0, 7),  # l_shoulder to r_hip, the same rule as for LSP
)

# Rows of FLIC's 2x29 `coords` array (0-based) that hold the 11 joints above, in that order.
FLIC_COORD_ROWS = (0, 1, 2, 3, 4, 5, 6, 9, 12, 13, 16)

JOINT_SETS = {joint_set.name: joint_set for joint_set in (MPII, LSP, FLIC)}
