"""SADI-Net's DLM: learnable heatmaps that start as the render() targets and learn through the flow."""
import math

import numpy as np
import pytest
import torch

from hglearn.dlm import DLM, dlm_loss
from hglearn.flows import RealNVP
from hglearn.heatmaps import heatmap_mu_sigma, render

OUT_RES = (48, 64)  # h ≠ w, so that an x/y mix-up shows
JOINTS = np.array([[20.3, 14.7], [40.6, 30.2], [9.4, 35.0]])  # (x, y), sub-pixel


def rendered(sigma: float) -> torch.Tensor:
    heatmaps, _ = render(JOINTS, np.ones(len(JOINTS), dtype=bool), OUT_RES, sigma)
    return torch.from_numpy(heatmaps)[None]  # (1, J, h, w)


def test_output_shape_and_dtype():
    learnable = DLM()(torch.rand(2, 5, *OUT_RES))
    assert learnable.shape == (2, 5, *OUT_RES) and learnable.dtype == torch.float32
    assert torch.isfinite(learnable).all() and (learnable >= 0).all()


@pytest.mark.parametrize("sigma, atol", [(2.0, 0.005), (1.5, 0.005), (1.0, 0.06)])
def test_identity_flow_reproduces_the_rendered_target(sigma, atol):
    # Identity flow: D(p) = exp(−|p − μ|²/(2σ²)) with μ, σ read off the map, i.e. render() itself,
    # up to the bilinear table (< 0.003) and, at σ = 1, the 7% error of σ (see heatmap_mu_sigma).
    target = rendered(sigma)
    learnable = DLM()(target)
    argmax = learnable.flatten(2).argmax(dim=2)[0]  # (J,)
    assert (argmax % OUT_RES[1]).tolist() == np.round(JOINTS[:, 0]).tolist()
    assert (argmax // OUT_RES[1]).tolist() == np.round(JOINTS[:, 1]).tolist()
    assert (learnable - target).abs().max() < atol
    assert dlm_loss(learnable, target, torch.ones(1, len(JOINTS))) < atol**2


def test_the_lookup_table_matches_the_flow_evaluated_at_every_pixel():
    torch.manual_seed(0)
    dlm = DLM(RealNVP())  # default init: a lopsided, non-Gaussian G_φ
    heatmaps = rendered(2.0)
    mu, sigma = heatmap_mu_sigma(heatmaps)
    ys, xs = torch.meshgrid(torch.arange(OUT_RES[0]), torch.arange(OUT_RES[1]), indexing="ij")
    pixels = torch.stack([xs, ys], dim=2).float()  # (h, w, 2) (x, y)
    u = (mu[:, :, None, None, :] - pixels) / sigma[:, :, None, None, :]  # (1, J, h, w, 2)
    with torch.no_grad():
        direct = 2 * math.pi * dlm.flow.log_prob(u).exp()
        learnable = dlm(heatmaps)
    assert direct.max() > 0.3  # the random flow still puts a peak on the map
    assert (learnable - direct).abs().max() < 0.01


def test_gradients_reach_the_flow_and_the_input_heatmaps():
    torch.manual_seed(0)
    dlm = DLM(RealNVP())
    heatmaps = rendered(2.0).requires_grad_()
    dlm_loss(dlm(heatmaps), rendered(1.0), torch.ones(1, len(JOINTS))).backward()
    assert heatmaps.grad is not None and heatmaps.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in dlm.flow.parameters())


def test_training_the_flow_reshapes_the_heatmap():
    # Predictions twice as wide as the targets: the flow learns to narrow them, μ and σ fixed.
    predicted, target, weight = rendered(2.0), rendered(1.0), torch.ones(1, len(JOINTS))
    dlm = DLM()
    optimizer = torch.optim.Adam(dlm.parameters(), lr=1e-2)
    before = dlm_loss(dlm(predicted), target, weight).item()
    for _ in range(10):
        loss = dlm_loss(dlm(predicted), target, weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert dlm_loss(dlm(predicted), target, weight).item() < before / 4  # measured: 8× lower after 10 steps


def test_dlm_loss_by_hand():
    # L = 1/(B·J·h·w) · Σ_b Σ_j w_bj · Σ_xy (D_bj − T_bj)², on 2×2 maps with B = J = 2 (16 pixels).
    target = torch.zeros(2, 2, 2, 2)
    learnable = torch.stack([
        torch.stack([torch.tensor([[1.0, 2.0], [3.0, 4.0]]),  # Σ squares: 1 + 4 + 9 + 16 = 30
                     torch.full((2, 2), 10.0)]),  # 400, but masked out
        torch.stack([torch.tensor([[0.0, 0.0], [0.0, 2.0]]),  # 4
                     torch.full((2, 2), -1.0)]),  # 4
    ])
    weight = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert dlm_loss(learnable, target, weight).item() == (30 + 4 + 4) / 16  # 2.375, exact in float32
    assert dlm_loss(learnable, learnable, weight).item() == 0.0


def test_bfloat16_autocast_and_channels_last():
    heatmaps = rendered(2.0)
    dlm = DLM()
    expected = dlm(heatmaps)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        learnable = dlm(heatmaps.bfloat16())
    assert learnable.dtype == torch.float32  # the flow and the output stay in float32
    assert (learnable - expected).abs().max() < 0.01  # only the bfloat16 input is coarser
    channels_last = heatmaps.contiguous(memory_format=torch.channels_last)
    assert torch.allclose(dlm(channels_last), expected)
