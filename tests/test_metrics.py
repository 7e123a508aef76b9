"""PCKh@0.5 and PCK@0.2 on hand-made cases, and on Tompson et al.'s MPII validation predictions."""
import json
import math

import numpy as np
import pytest
import torch

from hglearn.joints import LSP, MPII
from hglearn.metrics import head_size, pck, pck_curve, pckh, torso_size

GROUPS = ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean"]


def perfect(num_people: int, joint_set=MPII):
    """Ground truth on a grid, predictions equal to it, everything annotated, head size 10 px."""
    gt = np.stack(np.meshgrid(np.arange(joint_set.num_joints) * 20.0, np.arange(num_people) * 50.0),
                  axis=2)  # (N, J, 2)
    return gt.copy(), gt, np.ones(gt.shape[:2], bool), np.full(num_people, 10.0)


def test_head_size_from_a_3_4_5_box_numpy_and_torch():
    boxes = np.array([[[10.0, 20.0], [13.0, 24.0]], [[0.0, 0.0], [6.0, 8.0]]])  # diagonals 5 and 10
    assert head_size(boxes).tolist() == [3.0, 6.0]
    sizes = head_size(torch.tensor(boxes, dtype=torch.float32))
    assert isinstance(sizes, np.ndarray) and sizes == pytest.approx([3.0, 6.0])


def test_threshold_is_strict():
    """A joint exactly 0.5 · head_size away is wrong; one just under is right."""
    pred, gt, annotated, _ = perfect(2)
    sizes = head_size(np.array([[[0.0, 0.0], [3.0, 4.0]]] * 2))  # 3 px each
    pred[0, 9, 0] += 1.5  # head_top of person 0: 1.5 / 3 = 0.5 exactly
    pred[1, 9, 1] -= 1.4999  # head_top of person 1: just under
    result = pckh(pred, gt, annotated, sizes)
    assert result.per_joint[9] == 50.0 and result.table["Head"] == 50.0
    assert pck_curve(pred, gt, annotated, sizes, [0.5, 0.50001])[:, 9].tolist() == [50.0, 100.0]


def test_missing_joints_are_left_out_and_occluded_ones_count():
    pred, gt, annotated, sizes = perfect(4)
    pred[:, 11] += 100.0  # r_elbow wrong for everyone...
    annotated[:3, 11] = False  # ...but only person 3's is annotated: 1 of 1 wrong
    pred[0, 14] += 100.0  # l_elbow of person 0 is wrong. There is no visibility argument: an occluded
    # joint is simply annotated, so it counts like any other (1 wrong of 4).
    pred[1, 0] = np.nan  # a non-finite prediction of an annotated joint is wrong
    result = pckh(pred, gt, annotated, sizes)
    assert result.counts[11] == 1 and result.per_joint[11] == 0.0
    assert result.counts[14] == 4 and result.per_joint[14] == 75.0
    assert result.per_joint[0] == 75.0
    assert result.table["Elbow"] == pytest.approx(37.5)  # (0 + 75) / 2


def test_a_joint_never_annotated_is_nan_not_zero():
    pred, gt, annotated, sizes = perfect(2)
    annotated[:, 5] = False
    result = pckh(pred, gt, annotated, sizes)
    assert result.counts[5] == 0 and math.isnan(result.per_joint[5])
    assert math.isnan(result.table["Ankle"]) and math.isnan(result.mean)
    assert result.mean_weighted == 100.0  # the weighted mean simply has no l_ankle term
    assert result.as_dict()["per_joint"]["l_ankle"] is None


def test_group_table_averages_left_and_right_and_head_is_head_top_only():
    pred, gt, annotated, sizes = perfect(2)
    names = MPII.names
    pred[0, names.index("r_wrist")] += 100.0  # r_wrist 50, l_wrist 100 -> Wrist 75
    pred[:, names.index("l_knee")] += 100.0  # l_knee 0, r_knee 100 -> Knee 50
    pred[:, names.index("upper_neck")] += 100.0  # not in the Head column, but in the Mean
    result = pckh(pred, gt, annotated, sizes)
    assert list(result.table) == GROUPS
    assert result.table["Wrist"] == 75.0 and result.table["Knee"] == 50.0 and result.table["Head"] == 100.0
    assert result.mean == pytest.approx((11 * 100 + 50 + 0 + 0) / 14)


def test_unweighted_and_weighted_means_differ_by_the_hand_computed_amount():
    pred, gt, annotated, sizes = perfect(2)
    pred[0, 0] += 100.0  # r_ankle of person 0 wrong,
    annotated[1, 0] = False  # and person 1's r_ankle missing: r_ankle is 0 % over 1 instance
    pred[:, 6:8] += 100.0  # pelvis and thorax wrong: outside both means
    result = pckh(pred, gt, annotated, sizes)
    assert result.per_joint[6] == result.per_joint[7] == 0.0
    # Unweighted over 14 joints: 13 at 100 % and one at 0 %. Weighted: 26 correct of 27 instances.
    assert result.mean == pytest.approx(1300 / 14)  # 92.857
    assert result.mean_weighted == pytest.approx(2600 / 27)  # 96.296
    assert result.mean_weighted - result.mean == pytest.approx(2600 / 27 - 1300 / 14)  # 3.44 points


def test_pck_at_0_2_uses_lsp_left_shoulder_to_right_hip():
    pred, gt, annotated, _ = perfect(2, LSP)
    l_sho, r_hip, r_sho, l_hip = (LSP.index(n) for n in ("l_shoulder", "r_hip", "r_shoulder", "l_hip"))
    gt[:, l_sho], gt[:, r_hip] = (0.0, 0.0), (30.0, 40.0)  # torso 50 px: threshold 10 px
    gt[:, r_sho], gt[:, l_hip] = (0.0, 0.0), (300.0, 400.0)  # the other diagonal, 500 px: not used
    pred = gt.copy()
    sizes = torso_size(gt, annotated, LSP)
    assert sizes.tolist() == [50.0, 50.0]
    pred[0, LSP.index("r_wrist"), 0] += 10.0  # exactly 0.2 · 50: wrong
    pred[1, LSP.index("r_wrist"), 0] += 9.9  # right
    pred[:, LSP.index("neck"), 1] += 12.0  # wrong for both: Head = (0 + 100) / 2
    result = pck(pred, gt, annotated, sizes)
    assert result.name == "PCK@0.2" and result.threshold == 0.2
    assert result.per_joint[LSP.index("r_wrist")] == 50.0
    assert result.table["Wrist"] == 75.0 and result.table["Head"] == 50.0
    assert result.mean == pytest.approx((12 * 100 + 50 + 0) / 14)


def test_torso_size_is_nan_when_a_torso_joint_is_missing_and_pck_names_the_person():
    pred, gt, annotated, _ = perfect(3, LSP)
    annotated[1, LSP.torso[0]] = False
    sizes = torso_size(gt, annotated, LSP)
    assert np.isfinite(sizes[[0, 2]]).all() and math.isnan(sizes[1])
    with pytest.raises(ValueError, match=r"torso_size .* person index \[1\]"):
        pck(pred, gt, annotated, sizes)


@pytest.mark.parametrize("bad", [0.0, -3.0, np.nan, np.inf])
def test_bad_head_size_raises_naming_the_person(bad):
    pred, gt, annotated, sizes = perfect(4)
    sizes[2] = bad
    with pytest.raises(ValueError, match=r"head_size .* person index \[2\]"):
        pckh(pred, gt, annotated, sizes)


def test_wrong_shapes_and_joint_count_raise():
    pred, gt, annotated, sizes = perfect(2)
    with pytest.raises(ValueError, match="annotated"):
        pckh(pred, gt, annotated[:, :15], sizes)
    with pytest.raises(ValueError, match="lsp has 14"):
        pck(pred, gt, annotated, sizes)  # 16 MPII joints scored against LSP's 14


def test_pck_curve_matches_pckh_and_rises_with_the_threshold():
    pred, gt, annotated, sizes = perfect(4)
    pred[:, 3, 0] += np.array([0.5, 1.5, 2.5, 3.5])  # l_hip at 0.05, 0.15, 0.25, 0.35 head sizes
    curve = pck_curve(torch.tensor(pred), torch.tensor(gt), torch.tensor(annotated), sizes, [0.1, 0.2, 0.3, 0.5])
    assert curve.shape == (4, 16)
    assert curve[:, 3].tolist() == [25.0, 50.0, 75.0, 100.0]
    np.testing.assert_array_equal(curve[-1], pckh(pred, gt, annotated, sizes).per_joint)


def test_markdown_text_and_json():
    pred, gt, annotated, sizes = perfect(3)
    pred[0, MPII.index("r_ankle")] += 100.0  # r_ankle 66.67 -> Ankle 83.3
    result = pckh(pred, gt, annotated, sizes)
    markdown = result.to_markdown()
    assert markdown.splitlines()[0] == "| " + " | ".join(GROUPS) + " |"
    assert "| 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 83.3 | 97.6 |" in markdown
    text = str(result)
    assert text.startswith("PCKh@0.5") and "Ankle" in text and "83.3" in text and "97.6" in text
    as_json = json.loads(json.dumps(result.as_dict()))
    assert as_json["table"]["Ankle"] == pytest.approx(250 / 3) and as_json["threshold"] == 0.5
    assert as_json["per_joint"]["r_ankle"] == pytest.approx(200 / 3) and as_json["counts"]["pelvis"] == 3
    assert as_json["mean"] == pytest.approx(result.mean) and as_json["mean_weighted"] == pytest.approx(41 / 42 * 100)


def test_tompson_predictions_on_the_mpii_validation_set(shared_testdata):
    """No trustworthy published per-joint table of this file was found, so the result is checked
    against a plain double loop written from the MPII protocol, and for plausibility (Tompson et al.
    report a mean of 82.0 on the test set)."""
    from hglearn.data.mpii import load_mpii_gt_val

    truth = load_mpii_gt_val(shared_testdata("mpii_val_tompson/detections_our_format.mat"))  # or a skip
    assert truth.joints.shape == (2958, 16, 2)
    result = pckh(truth.predictions, truth.joints, ~truth.missing, head_size(truth.head_boxes))

    correct, count = np.zeros(16), np.zeros(16)
    for n in range(len(truth.joints)):
        (x1, y1), (x2, y2) = truth.head_boxes[n]
        size = 0.6 * math.hypot(x2 - x1, y2 - y1)
        for j in range(16):
            if truth.missing[n, j]:
                continue
            count[j] += 1
            (px, py), (gx, gy) = truth.predictions[n, j], truth.joints[n, j]
            correct[j] += math.hypot(px - gx, py - gy) / size < 0.5
    expected = 100 * correct / count
    np.testing.assert_allclose(result.per_joint, expected, atol=1e-9)
    np.testing.assert_array_equal(result.counts, count)
    left_right = {"Shoulder": (12, 13), "Elbow": (11, 14), "Wrist": (10, 15), "Hip": (2, 3), "Knee": (1, 4),
                  "Ankle": (0, 5)}
    assert result.table["Head"] == pytest.approx(expected[9])
    for group, (a, b) in left_right.items():
        assert result.table[group] == pytest.approx((expected[a] + expected[b]) / 2)
    mean_joints = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15]
    assert result.mean == pytest.approx(expected[mean_joints].mean())
    assert result.mean_weighted == pytest.approx(100 * correct[mean_joints].sum() / count[mean_joints].sum())
    assert 80 < result.mean < 95 and result.mean_weighted > result.mean  # 81.5 and 82.3
    assert 90 < result.table["Head"] and result.table["Ankle"] < result.table["Knee"] < result.table["Hip"]
