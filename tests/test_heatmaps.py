"""Heatmap rendering, quarter-offset decoding, soft-argmax and the flip of heatmaps."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hglearn.heatmaps import decode, flip_heatmaps, render, soft_argmax
from hglearn.joints import JOINT_SETS, MPII

RES = 64


def test_render_hand_computed_values_and_axis_order():
    heatmaps, weight = render(np.array([[3.0, 5.0]]), np.array([True]), (8, 6), sigma=1.0)
    assert heatmaps.shape == (1, 8, 6) and heatmaps.dtype == np.float32  # (J, h, w)
    assert weight.dtype == np.float32 and weight.tolist() == [1.0]
    assert heatmaps[0, 5, 3] == pytest.approx(1.0)  # row y = 5, column x = 3
    assert heatmaps[0, 5, 4] == pytest.approx(math.exp(-0.5))
    assert heatmaps[0, 4, 4] == pytest.approx(math.exp(-1.0))
    assert heatmaps[0, 5, 1] == pytest.approx(math.exp(-2.0))


def test_render_sigma_sets_the_width():
    heatmaps, _ = render(np.array([[10.0, 10.0]]), np.array([True]), RES, sigma=2.0)
    assert heatmaps[0, 10, 12] == pytest.approx(math.exp(-0.5))  # one σ = 2 px away


def test_render_drops_invisible_missing_and_far_outside_joints():
    joints = np.array([[10.0, 10.0], [20.0, 20.0], [np.nan, np.nan], [-3.5, 10.0], [-2.5, 10.0],
                       [10.0, RES - 1 + 3.5], [10.0, RES - 1 + 2.5]])
    visible = np.array([True, False, True, True, True, True, True])
    heatmaps, weight = render(joints, visible, RES, sigma=1.0)
    # More than 3σ outside the map: dropped; less than 3σ outside: kept, its tail on the map.
    assert weight.tolist() == [1, 0, 0, 0, 1, 0, 1]
    assert np.all(heatmaps[weight == 0] == 0)
    assert np.all(heatmaps[weight == 1].max(axis=(1, 2)) > 0)
    assert np.isfinite(heatmaps).all()


def _rendered(joints_hm: np.ndarray, sigma: float = 1.0) -> torch.Tensor:
    heatmaps, _ = render(joints_hm, np.ones(len(joints_hm), dtype=bool), RES, sigma)
    return torch.from_numpy(heatmaps)[None]  # (1, J, h, w)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(1.0, RES - 2.0), st.floats(1.0, RES - 2.0)), min_size=1, max_size=16))
def test_render_then_decode_is_within_a_quarter_pixel(points):
    joints = np.array(points)
    coords, maxvals = decode(_rendered(joints))
    assert coords.shape == (1, len(points), 2) and maxvals.shape == (1, len(points))
    assert np.abs(coords[0].numpy() - joints).max() <= 0.25 + 1e-5
    assert (maxvals > math.exp(-0.5)).all()  # the nearest pixel is within √2/2 px of the peak


def test_quarter_offset_beats_plain_argmax_on_average():
    joints = np.random.default_rng(0).uniform(2, RES - 3, size=(500, 2))
    heatmaps = _rendered(joints)
    coords, _ = decode(heatmaps)
    index = heatmaps.flatten(2).argmax(dim=2)[0]
    argmax = torch.stack([index % RES, index // RES], dim=1).double().numpy()
    error_refined = np.abs(coords[0].numpy() - joints).mean()
    error_argmax = np.abs(argmax - joints).mean()
    # Uniform sub-pixel positions: mean |error| 0.25 px for argmax, 0.125 px with the quarter step.
    assert error_argmax == pytest.approx(0.25, abs=0.02)
    assert error_refined == pytest.approx(0.125, abs=0.02)


def test_decode_hand_computed_cases():
    heatmaps = torch.zeros(1, 4, 5, 6)
    heatmaps[0, 0, 2, 3] = 1.0  # equal neighbours (all 0): tie, no step
    heatmaps[0, 1, 2, 3], heatmaps[0, 1, 2, 4], heatmaps[0, 1, 1, 3] = 1.0, 0.5, 0.2  # step right and up
    heatmaps[0, 2, 2, 0], heatmaps[0, 2, 2, 1], heatmaps[0, 2, 3, 0] = 1.0, 0.9, 0.3  # left border: no x step
    heatmaps[0, 3, 4, 5], heatmaps[0, 3, 3, 5], heatmaps[0, 3, 4, 4] = 0.8, 0.7, 0.6  # bottom-right corner
    coords, maxvals = decode(heatmaps)
    assert coords[0].tolist() == [[3.0, 2.0], [3.25, 1.75], [0.0, 2.25], [5.0, 4.0]]
    assert maxvals[0].tolist() == pytest.approx([1.0, 1.0, 1.0, 0.8])


@settings(max_examples=30, deadline=None)
@given(st.floats(6.0, RES - 7.0), st.floats(6.0, RES - 7.0))
def test_soft_argmax_of_a_rendered_gaussian_is_within_a_tenth_of_a_pixel(x, y):
    # σ = 2 (mmpose's width): at σ = 1 the peak is too narrow for any β (see soft_argmax).
    xy = soft_argmax(_rendered(np.array([[x, y]]), sigma=2.0))
    assert np.abs(xy[0, 0].numpy() - [x, y]).max() < 0.1


def test_soft_argmax_is_differentiable_and_beta_trades_background_against_snapping():
    joints = np.random.default_rng(1).uniform(6, RES - 7, size=(16, 2))
    heatmaps = _rendered(joints).requires_grad_()
    soft_argmax(heatmaps).sum().backward()
    assert heatmaps.grad is not None and heatmaps.grad.abs().sum() > 0

    def error(beta: float) -> float:
        return float((soft_argmax(_rendered(joints), beta)[0] - torch.from_numpy(joints)).abs().max())

    # Too small a β: the background drags toward the centre; too large: snaps to pixels.
    assert error(4.0) > 5.0
    assert 0.1 < error(16.0) < 0.3  # σ = 1, the default β: the best it gets
    assert error(200.0) > 0.35


@pytest.mark.parametrize("joint_set", JOINT_SETS.values(), ids=JOINT_SETS.keys())
def test_flip_heatmaps_twice_is_the_identity(joint_set):
    heatmaps = torch.rand(2, 3, joint_set.num_joints, 8, 10)  # (B, S, J, h, w)
    once = flip_heatmaps(heatmaps, joint_set.flip_index)
    assert not torch.equal(once, heatmaps)
    assert torch.equal(flip_heatmaps(once, joint_set.flip_index), heatmaps)


def test_flip_heatmaps_equals_rendering_the_mirrored_joints():
    # Mirroring is x → w − 1 − x with pixel centres on integers: exact, no one-pixel shift.
    joints = np.random.default_rng(2).uniform(0, RES - 1, size=(MPII.num_joints, 2))
    mirrored = np.stack([RES - 1 - joints[:, 0], joints[:, 1]], axis=1)[list(MPII.flip_index)]
    expected = _rendered(mirrored)
    assert torch.allclose(flip_heatmaps(_rendered(joints), MPII.flip_index), expected, atol=1e-6)
