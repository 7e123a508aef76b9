import pytest

from hglearn.joints import FLIC, FLIC_COORD_ROWS, JOINT_SETS, LSP, MPII


# The joint ids as the MPII Human Pose dataset's annotation description gives them (the field
# `annolist(imgidx).annorect(ridx).annopoints.point.id` of the release's .mat file), written as there.
MPII_DOCUMENTED_IDS = (
    "0 - r ankle, 1 - r knee, 2 - r hip, 3 - l hip, 4 - l knee, 5 - l ankle, 6 - pelvis, 7 - thorax, "
    "8 - upper neck, 9 - head top, 10 - r wrist, 11 - r elbow, 12 - r shoulder, 13 - l shoulder, "
    "14 - l elbow, 15 - l wrist"
)


def test_mpii_order_matches_the_documented_annotation_ids():
    documented = dict(entry.split(" - ")[::-1] for entry in MPII_DOCUMENTED_IDS.split(", "))  # name: id
    names = sorted(documented, key=lambda name: int(documented[name]))  # "r ankle", ..., "l wrist"
    assert [int(documented[name]) for name in names] == list(range(16))
    assert MPII.names == tuple(name.replace(" ", "_") for name in names)

    def mirrored(name):  # a mirrored image swaps left and right; the midline joints stay
        side, _, part = name.partition(" ")
        return {"l": "r", "r": "l"}[side] + " " + part if side in ("l", "r") else name

    assert MPII.flip_index == tuple(names.index(mirrored(name)) for name in names)


def test_joint_counts():
    assert (MPII.num_joints, LSP.num_joints, FLIC.num_joints) == (16, 14, 11)
    assert len(FLIC_COORD_ROWS) == FLIC.num_joints


@pytest.mark.parametrize("joint_set", JOINT_SETS.values(), ids=JOINT_SETS.keys())
def test_flip_index_swaps_left_and_right_names(joint_set):
    names = joint_set.names
    assert sorted(joint_set.flip_index) == list(range(joint_set.num_joints))
    for j, k in enumerate(joint_set.flip_index):
        assert joint_set.flip_index[k] == j  # flipping twice is the identity
        side = {"l_": "r_", "r_": "l_"}.get(names[j][:2])
        assert names[k] == (side + names[j][2:] if side else names[j])


@pytest.mark.parametrize("joint_set", JOINT_SETS.values(), ids=JOINT_SETS.keys())
def test_edges_groups_and_torso_name_real_joints(joint_set):
    n = joint_set.num_joints
    assert all(0 <= a < n and 0 <= b < n and a != b for a, b in joint_set.edges)
    assert all(0 <= j < n for group in joint_set.groups.values() for j in group)
    a, b = joint_set.torso
    assert "shoulder" in joint_set.names[a] and "hip" in joint_set.names[b]
    assert joint_set.names[a][:2] != joint_set.names[b][:2]  # opposite sides


@pytest.mark.parametrize("joint_set", [MPII, LSP], ids=["mpii", "lsp"])
def test_full_body_skeletons_are_connected(joint_set):
    # FLIC has no neck joint, so its face points are drawn apart from the shoulders.
    reached, frontier = {0}, [0]
    while frontier:
        j = frontier.pop()
        neighbours = [b for a, b in joint_set.edges if a == j] + [a for a, b in joint_set.edges if b == j]
        frontier += [k for k in neighbours if k not in reached]
        reached.update(neighbours)
    assert reached == set(range(joint_set.num_joints))


def test_mpii_pckh_groups_and_mean_joints():
    name = MPII.names
    assert [name[j] for j in MPII.groups["Head"]] == ["head_top"]
    assert {name[j] for j in MPII.groups["Wrist"]} == {"l_wrist", "r_wrist"}
    assert list(MPII.groups) == ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle"]
    # The mean leaves out pelvis and thorax only; the upper neck counts.
    assert set(range(16)) - set(MPII.mean_joints) == {MPII.index("pelvis"), MPII.index("thorax")}


def test_lsp_head_group_is_neck_and_head_top():
    assert {LSP.names[j] for j in LSP.groups["Head"]} == {"neck", "head_top"}
