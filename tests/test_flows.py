"""RealNVP: invertibility, the change of variables against autograd Jacobians, fitting a toy density."""
import math

import numpy as np
import pytest
import torch

from hglearn.flows import RealNVP


def random_flow(seed: int = 0) -> RealNVP:
    torch.manual_seed(seed)
    return RealNVP().double()  # PyTorch's default init: far from the identity


def test_forward_is_not_the_identity_and_inverse_undoes_it():
    flow = random_flow()
    x = 2 * torch.randn(500, 2, dtype=torch.float64)
    z, log_det = flow(x)
    assert z.shape == (500, 2) and log_det.shape == (500,)
    assert (z - x).abs().mean() > 0.1 and log_det.abs().mean() > 0.1  # a real test of inversion
    assert torch.allclose(flow.inverse(z), x, atol=1e-5, rtol=0)
    assert torch.allclose(flow(flow.inverse(x))[0], x, atol=1e-5, rtol=0)


def test_log_prob_is_the_prior_plus_the_log_jacobian_determinant_from_autograd():
    flow = random_flow(1)
    points = 2 * torch.randn(8, 2, dtype=torch.float64)
    for x in points:
        jacobian = torch.autograd.functional.jacobian(lambda p: flow(p)[0], x)  # (2, 2) ∂z/∂x
        z = flow(x)[0].detach()
        prior = -0.5 * float(z @ z) - math.log(2 * math.pi)  # log N(z; 0, I₂) by hand
        expected = prior + math.log(abs(float(torch.linalg.det(jacobian))))
        assert flow.log_prob(x).item() == pytest.approx(expected, abs=1e-4)
        assert flow(x)[1].item() == pytest.approx(math.log(abs(float(torch.linalg.det(jacobian)))), abs=1e-4)


def test_any_leading_shape_gives_the_same_as_flat_points():
    flow = random_flow(2)
    x = torch.randn(3, 4, 5, 2, dtype=torch.float64)
    z, log_det = flow(x)
    z_flat, log_det_flat = flow(x.reshape(-1, 2))
    assert z.shape == (3, 4, 5, 2) and log_det.shape == (3, 4, 5)
    assert torch.allclose(z.reshape(-1, 2), z_flat) and torch.allclose(log_det.flatten(), log_det_flat)
    assert flow.log_prob(x).shape == (3, 4, 5)


def test_zero_init_is_the_identity_with_a_standard_normal_density():
    flow = RealNVP(zero_init=True)
    x = 3 * torch.randn(100, 2)
    z, log_det = flow(x)
    assert torch.equal(z, x) and torch.equal(log_det, torch.zeros(100))
    assert torch.equal(flow.inverse(x), x)
    normal = torch.distributions.Normal(0.0, 1.0)
    assert torch.allclose(flow.log_prob(x), normal.log_prob(x).sum(dim=1), atol=1e-5)


def two_moons(n: int, rng: np.random.Generator) -> torch.Tensor:
    """The two interleaved half circles of scikit-learn's make_moons, with noise 0.1."""
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return torch.tensor(np.stack([x, y], axis=1) + 0.1 * rng.standard_normal((n, 2)), dtype=torch.float32)


def test_a_flow_fitted_to_two_moons_samples_like_the_data_and_beats_a_gaussian():
    rng = np.random.default_rng(0)
    data, held_out = two_moons(4096, rng), two_moons(4096, rng)  # mean ≈ (0.5, 0.25), std ≈ (0.86, 0.51)
    torch.manual_seed(0)
    flow = RealNVP(zero_init=True)

    def moments_match() -> bool:
        with torch.no_grad():
            samples = flow.sample(4000, generator=torch.Generator().manual_seed(1))
        return bool((samples.mean(0) - data.mean(0)).abs().max() < 0.1
                    and (samples.std(0) - data.std(0)).abs().max() < 0.1)

    assert not moments_match()  # untrained: N(0, I₂), mean 0 and std 1
    optimizer = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(200):
        batch = data[torch.randint(0, len(data), (256,))]
        loss = -flow.log_prob(batch).mean()  # maximum likelihood
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert moments_match()
    # A Gaussian can match mean and std too; the flow must also have learned the shape.
    gaussian = torch.distributions.MultivariateNormal(data.mean(0), torch.cov(data.T))
    with torch.no_grad():
        assert flow.log_prob(held_out).mean() > gaussian.log_prob(held_out).mean() + 0.4  # nats
