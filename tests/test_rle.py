"""RLE loss against the formula by hand and its identity-flow limit; μ and σ read off heatmaps."""
import math

import numpy as np
import pytest
import torch

from hglearn.flows import RealNVP
from hglearn.heatmaps import heatmap_mu_sigma, render
from hglearn.losses import rle_loss

B, J = 3, 4


def regression_batch(seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    mu = torch.rand(B, J, 2, generator=g, dtype=torch.float64)  # crop-normalised coordinates
    target = mu + 0.1 * torch.randn(B, J, 2, generator=g, dtype=torch.float64)
    sigma = 0.02 + 0.2 * torch.rand(B, J, 2, generator=g, dtype=torch.float64)
    weight = torch.tensor([[1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]],
                          dtype=torch.float64)
    return mu, sigma, target, weight


def test_rle_loss_matches_the_formula_by_hand():
    torch.manual_seed(0)
    flow = RealNVP().double()  # default init: G_φ far from N(0, I)
    mu, sigma, target, weight = regression_batch()
    total = 0.0
    for b in range(B):
        for j in range(J):
            m, s, t = mu[b, j].numpy(), sigma[b, j].numpy(), target[b, j].numpy()
            e = (m - t) / s
            log_g = flow.log_prob(torch.from_numpy(e)).item()
            per_joint = (np.log(2 * s) + np.abs(e)).sum() - log_g  # −log[Q(ē)·G(ē)/(σ_x·σ_y)]
            total += float(weight[b, j]) * per_joint
    assert rle_loss(mu, sigma, target, flow, weight).item() == pytest.approx(total / B, rel=1e-9)
    no_weight = rle_loss(mu, sigma, target, flow).item()  # None means every joint counts
    assert no_weight == pytest.approx(rle_loss(mu, sigma, target, flow, torch.ones(B, J)).item(), rel=1e-12)


def test_rle_loss_gradient_reaches_the_flow_mu_and_sigma():
    torch.manual_seed(0)
    flow = RealNVP().double()
    mu, sigma, target, weight = regression_batch(1)
    mu.requires_grad_()
    sigma.requires_grad_()
    rle_loss(mu, sigma, target, flow, weight).backward()
    assert mu.grad.abs().sum() > 0 and sigma.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in flow.parameters())
    assert (mu.grad[0, 2] == 0).all()  # target weight 0: no pull at all


def test_rle_loss_with_the_identity_flow_is_the_laplace_likelihood_plus_the_prior_of_the_error():
    # −log G(ē) = log 2π + |ē|²/2 for G = N(0, I₂), so per joint
    # L = Σ_c [log 2σ_c + |ē_c|] + log 2π + |ē|²/2 = −log Laplace(μ_gt; μ, σ) − log N(ē; 0, I₂):
    # log σ counted once, in the Laplace density of μ_gt in image coordinates.
    mu, sigma, target, weight = (t.float() for t in regression_batch(2))
    loss = rle_loss(mu, sigma, target, RealNVP(zero_init=True), weight)
    laplace_nll = -torch.distributions.Laplace(mu, sigma).log_prob(target).sum(dim=2)  # (B, J)
    e = (mu - target) / sigma
    prior = -torch.distributions.MultivariateNormal(torch.zeros(2), torch.eye(2)).log_prob(e)  # (B, J)
    assert loss.item() == pytest.approx(float(((laplace_nll + prior) * weight).sum() / B), rel=1e-5)
    # The constants alone: a perfect guess (ē = 0) with σ = 1 costs log 2π (prior) + 2·log 2 (Laplace).
    perfect = rle_loss(target, torch.ones_like(sigma), target, RealNVP(zero_init=True), weight)
    assert perfect.item() == pytest.approx(float(weight.sum() / B) * (math.log(2 * math.pi) + 2 * math.log(2)))


def test_rle_loss_with_the_identity_flow_puts_sigma_at_the_golden_ratio_times_the_error():
    # Per coordinate the loss is log 2σ + |e|/σ + e²/(2σ²) + const: lowest where σ² = |e|·σ + e².
    e = 0.04
    sigma = torch.full((1, 1, 2), 0.05, dtype=torch.float64, requires_grad=True)
    mu, target = torch.full((1, 1, 2), e, dtype=torch.float64), torch.zeros(1, 1, 2, dtype=torch.float64)
    flow = RealNVP(zero_init=True).double()
    optimizer = torch.optim.LBFGS([sigma], lr=0.5, max_iter=200, tolerance_grad=1e-14, tolerance_change=1e-16)

    def closure():
        optimizer.zero_grad()
        loss = rle_loss(mu, sigma, target, flow)
        loss.backward()
        return loss

    optimizer.step(closure)
    assert sigma.detach().numpy().ravel() == pytest.approx([(1 + math.sqrt(5)) / 2 * e] * 2, rel=1e-6)


def rendered(joints: np.ndarray, sigma: float, out_res=(48, 64)) -> torch.Tensor:
    heatmaps, _ = render(joints, np.ones(len(joints), dtype=bool), out_res, sigma)
    return torch.from_numpy(heatmaps)[None]  # (1, J, h, w)


@pytest.mark.parametrize("sigma, mu_tol, sigma_rel_tol", [(1.0, 0.03, 0.08), (1.5, 1e-3, 1e-3),
                                                          (2.0, 1e-3, 1e-3), (3.0, 1e-3, 1e-3)])
def test_heatmap_mu_sigma_recovers_rendered_gaussians(sigma, mu_tol, sigma_rel_tol):
    # Every sub-pixel phase on a 21×21 lattice: σ = 1 is the worst case, a peak only 1 px wide.
    f = np.linspace(0, 1, 21)
    fx, fy = np.meshgrid(f, f)
    joints = np.stack([20 + fx.ravel(), 25 + fy.ravel()], axis=1)
    mu, s = heatmap_mu_sigma(rendered(joints, sigma))
    assert mu.shape == s.shape == (1, len(joints), 2)
    assert np.abs(mu[0].numpy() - joints).max() < mu_tol
    assert np.abs(s[0].numpy() / sigma - 1).max() < sigma_rel_tol


def test_heatmap_mu_sigma_per_coordinate_and_its_floor():
    ys, xs = torch.meshgrid(torch.arange(48.0), torch.arange(64.0), indexing="ij")
    wide_x = torch.exp(-(xs - 30.3) ** 2 / (2 * 3.0**2) - (ys - 20.6) ** 2 / (2 * 1.5**2))  # σ_x ≠ σ_y
    spike = torch.zeros(48, 64)
    spike[10, 40] = 1.0  # zero spread: held at min_sigma, with a finite gradient
    empty = torch.zeros(48, 64)  # no peak at all: uniform, centred
    heatmaps = torch.stack([wide_x, spike, empty])[None].requires_grad_()
    mu, s = heatmap_mu_sigma(heatmaps)
    assert torch.allclose(mu[0], torch.tensor([[30.3, 20.6], [40, 10], [31.5, 23.5]]), atol=1e-3)
    assert s[0, 0].tolist() == pytest.approx([3.0, 1.5], rel=1e-3)
    assert s[0, 1].tolist() == pytest.approx([0.5, 0.5])
    (mu.sum() + s.sum()).backward()
    assert torch.isfinite(heatmaps.grad).all()
