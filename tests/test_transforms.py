"""The crop matrix agrees with the image warp, inverts exactly, mirrors exactly; augmentation draws."""
import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hglearn.data.transforms import (Augmentation, apply_affine, crop_matrix, heatmap_to_image, invert_affine,
                                     sample_augmentation, warp_image)
from hglearn.joints import JOINT_SETS


def test_crop_matrix_hand_computed():
    center = np.array([100.0, 50.0])  # scale 1: a 200 px box onto 64 px, k = 0.32
    box = np.array([[100.0, 50.0], [0.0, -50.0], [200.0, 150.0], [150.0, 50.0]])  # centre, corners, right
    assert apply_affine(box, crop_matrix(center, 1.0, 64)) == pytest.approx(
        np.array([[31.5, 31.5], [-0.5, -0.5], [63.5, 63.5], [47.5, 31.5]]))
    # Mirrored: x → 63 − x.
    assert apply_affine(box[3], crop_matrix(center, 1.0, 64, flip=True)) == pytest.approx([15.5, 31.5])
    # +90°: a point right of the centre goes up, as with cv2.getRotationMatrix2D (counter-clockwise).
    rotated = apply_affine(box[3], crop_matrix(center, 1.0, 64, rotation_deg=90.0))
    assert rotated == pytest.approx([31.5, 15.5])
    rotation = np.vstack([cv2.getRotationMatrix2D((100.0, 50.0), 90.0, 1.0), [0, 0, 1]])  # about the centre
    assert crop_matrix(center, 1.0, 64, 90.0) == pytest.approx(crop_matrix(center, 1.0, 64) @ rotation)


def test_crop_matrix_non_square_output_and_warp_size():
    matrix = crop_matrix(np.array([100.0, 100.0]), 1.0, (64, 32))  # (w, h)
    assert apply_affine(np.array([100.0, 100.0]), matrix) == pytest.approx([31.5, 15.5])
    image = np.zeros((50, 70, 3), dtype=np.uint8)
    assert warp_image(image, matrix, (64, 32)).shape == (32, 64, 3)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_joint_transform_agrees_with_the_image_warp(data):
    """A bright dot at the joint lands, after warping the image, where apply_affine puts the joint."""
    height, width = 120, 160
    joint = np.array([data.draw(st.floats(15, width - 16)), data.draw(st.floats(15, height - 16))])
    scale = data.draw(st.floats(0.4, 1.2))  # box 80-240 px onto 128 px: the dot stays a few px wide
    center = joint + np.array([data.draw(st.floats(-1, 1)), data.draw(st.floats(-1, 1))]) * 40 * scale
    matrix = crop_matrix(center, scale, 128, data.draw(st.floats(-180, 180)), data.draw(st.booleans()))

    ys, xs = np.mgrid[0:height, 0:width]
    # A sub-pixel dot (σ 2.5 px) rather than one pixel: bilinear sampling must not miss it when shrinking.
    dot = 255 * np.exp(-((xs - joint[0]) ** 2 + (ys - joint[1]) ** 2) / (2 * 2.5**2))
    image = np.repeat(dot[:, :, None], 3, axis=2).round().astype(np.uint8)
    crop = warp_image(image, matrix, 128)[:, :, 0].astype(np.float64)  # (128, 128)

    ys, xs = np.mgrid[0:128, 0:128]
    found = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()  # intensity centroid
    assert np.abs(found - apply_affine(joint, matrix)).max() < 0.1  # measured: below 0.02


def test_flipped_crop_is_the_mirror_of_the_crop():
    image = np.random.default_rng(0).integers(0, 256, size=(90, 110, 3), dtype=np.uint8)
    center = np.array([50.0, 40.0])
    plain = warp_image(image, crop_matrix(center, 0.4, 64, 20.0), 64)
    mirrored = warp_image(image, crop_matrix(center, 0.4, 64, 20.0, flip=True), 64)
    assert np.abs(mirrored.astype(int) - plain[:, ::-1].astype(int)).max() <= 1  # rounding only


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_inverse_composed_with_the_transform_is_the_identity(data):
    center = np.array([data.draw(st.floats(-500, 2000)), data.draw(st.floats(-500, 2000))])
    scale, out_size = data.draw(st.floats(0.3, 5.0)), data.draw(st.sampled_from([64, 256, (96, 64)]))
    matrix = crop_matrix(center, scale, out_size, data.draw(st.floats(-180, 180)), data.draw(st.booleans()))
    points = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).uniform(-100, 2000, size=(16, 2))
    inverse = invert_affine(matrix)
    assert apply_affine(apply_affine(points, matrix), inverse) == pytest.approx(points, abs=1e-6)
    assert apply_affine(apply_affine(points, inverse), matrix) == pytest.approx(points, abs=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.5, 5.0), st.floats(-180, 180), st.booleans())
def test_heatmap_to_image_inverts_the_heatmap_crop(scale, rotation, flip):
    # The heatmap crop is the input crop at out_res: the pixel-centre scaling links the two.
    center = np.array([640.0, 360.0])
    joints_img = np.random.default_rng(3).uniform(300, 900, size=(2, 16, 2))  # (B, J, 2)
    joints_hm = apply_affine(joints_img, crop_matrix(center, scale, 64, rotation, flip))
    matrices = torch.from_numpy(np.stack([crop_matrix(center, scale, 256, rotation, flip)] * 2)).float()
    back = heatmap_to_image(torch.from_numpy(joints_hm).float(), matrices, 256, 64)
    assert back.dtype == torch.float32 and back.shape == (2, 16, 2)
    assert np.abs(back.numpy() - joints_img).max() < 1e-3 * scale * 200 / 64 + 1e-3


@pytest.mark.parametrize("joint_set", JOINT_SETS.values(), ids=JOINT_SETS.keys())
def test_flipping_joints_twice_is_the_identity(joint_set):
    # In crop coordinates the flip is the mirror x → w − 1 − x followed by swapping left and right.
    center, order = np.array([60.0, 80.0]), list(joint_set.flip_index)
    mirror = np.vstack([crop_matrix(center, 1.0, 64, 10.0, flip=True), [0, 0, 1]]) @ \
        np.vstack([invert_affine(crop_matrix(center, 1.0, 64, 10.0)), [0, 0, 1]])
    assert mirror[:2] == pytest.approx(np.array([[-1, 0, 63], [0, 1, 0]]))
    joints = np.random.default_rng(4).uniform(0, 63, size=(joint_set.num_joints, 2))
    once = apply_affine(joints, mirror[:2])[order]
    assert not np.allclose(once, joints)
    assert apply_affine(once, mirror[:2])[order] == pytest.approx(joints)


def test_sample_augmentation_ranges_and_probabilities():
    aug = Augmentation()
    draws = [sample_augmentation(aug, np.random.default_rng([7, i])) for i in range(2000)]
    scales = np.array([d[0] for d in draws])
    rotations = np.array([d[1] for d in draws])
    flips = np.array([d[2] for d in draws])
    colors = np.stack([d[3] for d in draws])
    assert scales.min() >= 0.75 and scales.max() <= 1.25 and scales.std() > 0.1
    assert np.abs(rotations).max() <= 30 and np.mean(rotations != 0) == pytest.approx(0.6, abs=0.04)
    assert flips.dtype == bool and flips.mean() == pytest.approx(0.5, abs=0.04)
    assert colors.shape == (2000, 3) and colors.min() >= 0.8 and colors.max() <= 1.2
    assert np.corrcoef(colors.T)[0, 1] == pytest.approx(0, abs=0.1)  # channels drawn independently


def test_sample_augmentation_is_deterministic_and_can_be_switched_off():
    assert repr(sample_augmentation(Augmentation(), np.random.default_rng(1))) == \
        repr(sample_augmentation(Augmentation(), np.random.default_rng(1)))
    off = Augmentation(scale_factor=0, rotation=0, rotation_prob=0, flip_prob=0, color_jitter=0)
    scale, rotation, flip, color = sample_augmentation(off, np.random.default_rng(1))
    assert (scale, rotation, flip, color.tolist()) == (1.0, 0.0, False, [1.0, 1.0, 1.0])

