"""Checks for notebooks/07_flows_rle.ipynb: an affine coupling layer with its log-determinant, the
change-of-variables log-density of a flow, and the RLE loss, each compared with `hglearn.flows`
and `hglearn.losses`.
"""
import torch

from hglearn.course.checking import Verdict, check_function, reports_not_attempted
from hglearn.flows import MASKS, AffineCoupling, RealNVP
from hglearn.losses import rle_loss

__all__ = ["check_coupling_forward", "check_flow_log_prob", "check_rle_loss"]


def random_flow(seed: int) -> RealNVP:
    """A RealNVP with PyTorch's default initialisation: far from the identity, so that every term
    of a formula shows in its output."""
    torch.manual_seed(seed)
    return RealNVP()


def coupling_forward_reference(x, mask, scale_net, translation_net):
    """`hglearn.flows.AffineCoupling.forward` for the given mask and networks."""
    layer = AffineCoupling(mask.tolist())
    layer.scale, layer.translation = scale_net, translation_net
    return layer(x)


@reports_not_attempted
def check_coupling_forward(student) -> Verdict:
    """The student's `coupling_forward(x, mask, scale_net, translation_net) -> (z, log_det)` against
    `hglearn.flows.AffineCoupling.forward`, with the networks of randomly initialised layers, both
    masks, and points of shapes (N, 2) and (B, J, 2)."""
    generator = torch.Generator().manual_seed(0)
    cases = []
    for seed, mask, shape in [(0, MASKS[0], (5, 2)), (1, MASKS[1], (5, 2)), (2, MASKS[0], (3, 4, 2)),
                              (3, MASKS[1], (1, 2))]:
        torch.manual_seed(seed)
        layer = AffineCoupling(mask)
        x = 2 * torch.randn(shape, generator=generator)
        cases.append((x, torch.tensor(mask), layer.scale, layer.translation))
    with torch.no_grad():
        return check_function(student, coupling_forward_reference, cases, "coupling_forward")


def flow_log_prob_reference(flow: RealNVP, x: torch.Tensor) -> torch.Tensor:
    return flow.log_prob(x)


@reports_not_attempted
def check_flow_log_prob(student) -> Verdict:
    """The student's `flow_log_prob(flow, x)`, log p(x) = log N(f(x); 0, I₂) + log|det ∂f/∂x|,
    against `hglearn.flows.RealNVP.log_prob`, for the identity flow and randomly initialised ones,
    on points of shapes (N, 2) and (B, J, 2)."""
    generator = torch.Generator().manual_seed(0)
    cases = [(RealNVP(zero_init=True), torch.randn(4, 2, generator=generator)),
             (random_flow(0), 2 * torch.randn(6, 2, generator=generator)),
             (random_flow(1), 3 * torch.randn(2, 3, 2, generator=generator)),
             (random_flow(2), torch.zeros(1, 2))]
    with torch.no_grad():
        return check_function(student, flow_log_prob_reference, cases, "flow_log_prob")


@reports_not_attempted
def check_rle_loss(student) -> Verdict:
    """The student's `rle_loss(mu, sigma, target, flow, target_weight)` against
    `hglearn.losses.rle_loss`: the identity flow and randomly initialised ones, σ from 0.02 to 0.7
    and different in x and y, some target weights 0 where the prediction is badly wrong."""
    generator = torch.Generator().manual_seed(0)
    cases = []
    for seed, (b, j) in enumerate([(1, 1), (2, 3), (4, 16)]):
        mu = torch.rand(b, j, 2, generator=generator)  # coordinates normalised to the crop
        target = mu + 0.05 * torch.randn(b, j, 2, generator=generator)
        sigma = 0.02 + 0.3 * torch.rand(b, j, 2, generator=generator)
        weight = (torch.rand(b, j, generator=generator) > 0.3).float()
        weight[0, 0] = 1.0
        if j > 1:
            weight[-1, -1] = 0.0
            mu[-1, -1] += 1.0  # badly wrong where the weight is 0: it must not count
        flow = RealNVP(zero_init=True) if seed == 0 else random_flow(seed)
        cases.append((mu, sigma, target, flow, weight))
    mu, sigma, target, _, weight = cases[1]
    cases.append((mu, 0.7 * torch.ones_like(sigma), target, random_flow(5), torch.ones_like(weight)))
    with torch.no_grad():
        return check_function(student, rle_loss, cases, "rle_loss", rtol=1e-4, atol=1e-4)
