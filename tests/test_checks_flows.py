"""The checks of notebook 07 pass right answers and fail plausible wrong ones with a hint."""
import math

import pytest
import torch

from hglearn import course


# --- exercise 1: the affine coupling layer ---------------------------------------------------------


def coupling(x, mask, scale_net, translation_net):
    kept = x * mask
    s, t = scale_net(kept) * (1 - mask), translation_net(kept) * (1 - mask)
    return kept + (1 - mask) * (x * torch.exp(s) + t), s.sum(dim=-1)


def coupling_unmasked_input(x, mask, scale_net, translation_net):  # the nets see x itself: not invertible
    s, t = scale_net(x) * (1 - mask), translation_net(x) * (1 - mask)
    return x * mask + (1 - mask) * (x * torch.exp(s) + t), s.sum(dim=-1)


def coupling_unmasked_log_det(x, mask, scale_net, translation_net):  # sums s over the kept coordinate too
    kept = x * mask
    s, t = scale_net(kept), translation_net(kept)
    return kept + (1 - mask) * (x * torch.exp(s) + t), s.sum(dim=-1)


def coupling_wrong_sign(x, mask, scale_net, translation_net):  # the inverse's log-determinant
    z, log_det = coupling(x, mask, scale_net, translation_net)
    return z, -log_det


def coupling_no_log_det(x, mask, scale_net, translation_net):
    z, log_det = coupling(x, mask, scale_net, translation_net)
    return z, torch.zeros_like(log_det)


def test_check_coupling_forward(verdict_fails):
    assert course.check_coupling_forward(coupling)
    verdict_fails(course.check_coupling_forward(coupling_unmasked_input), "item 0", "values differ")
    verdict_fails(course.check_coupling_forward(coupling_unmasked_log_det), "item 1")
    verdict_fails(course.check_coupling_forward(coupling_wrong_sign), "item 1")
    verdict_fails(course.check_coupling_forward(coupling_no_log_det), "item 1")
    hint = course.check_coupling_forward(coupling_no_log_det).message
    assert "Sequential(...)" in hint and "\n" not in hint  # the networks are named, not printed


def test_check_coupling_forward_reports_an_exception_and_not_implemented_as_not_attempted(verdict_fails):
    def shape_error(x, mask, scale_net, translation_net):
        return scale_net(x[..., :1])

    verdict_fails(course.check_coupling_forward(shape_error), "raised RuntimeError")

    def unsolved(x, mask, scale_net, translation_net):
        raise NotImplementedError

    verdict = course.check_coupling_forward(unsolved)
    assert not verdict and not verdict.attempted


# --- exercise 2: the change-of-variables log-density -----------------------------------------------


def log_normal(z):
    return -0.5 * z.square().sum(dim=-1) - math.log(2 * math.pi)


def test_check_flow_log_prob(verdict_fails):
    assert course.check_flow_log_prob(lambda flow, x: log_normal(flow(x)[0]) + flow(x)[1])
    verdict_fails(course.check_flow_log_prob(lambda flow, x: log_normal(flow(x)[0])), "values differ")  # no log-det
    verdict_fails(course.check_flow_log_prob(lambda flow, x: log_normal(flow(x)[0]) - flow(x)[1]), "values differ")
    no_constant = lambda flow, x: -0.5 * flow(x)[0].square().sum(dim=-1) + flow(x)[1]
    verdict_fails(course.check_flow_log_prob(no_constant), "flow_log_prob(RealNVP(...), tensor(4, 2))")
    half_constant = lambda flow, x: log_normal(flow(x)[0]) + 0.5 * math.log(2 * math.pi) + flow(x)[1]  # 1-D constant
    verdict_fails(course.check_flow_log_prob(half_constant), "values differ")
    of_x = lambda flow, x: log_normal(x) + flow(x)[1]  # the prior at x instead of at z = f(x)
    verdict_fails(course.check_flow_log_prob(of_x), "flow_log_prob(RealNVP(...), tensor(6, 2))")
    summed = lambda flow, x: (log_normal(flow(x)[0]) + flow(x)[1]).sum()
    verdict_fails(course.check_flow_log_prob(summed), "shape")


# --- exercise 3: the RLE loss ----------------------------------------------------------------------


def rle(mu, sigma, target, flow, target_weight, *, log_sigma=True, laplace=True, scaled=True, twice=False,
        weighted=True, mean_over_joints=False):
    error = (mu - target) / sigma if scaled else mu - target
    log_g = flow.log_prob(error)
    nll = -log_g * (2 if twice else 1)
    if log_sigma:
        nll = nll + sigma.log().sum(dim=2)
    if laplace:
        nll = nll + (torch.log(2 * sigma) + error.abs()).sum(dim=2)
    if weighted:
        nll = nll * target_weight
    return nll.mean() if mean_over_joints else nll.sum() / mu.shape[0]


@pytest.mark.parametrize("mistake", [
    dict(log_sigma=False),  # the flow's density is not moved to image coordinates
    dict(laplace=False),  # the flow alone, without the residual's base density Q
    dict(scaled=False),  # the raw error, not normalised by σ
    dict(twice=True),  # mmpose's broadcast: −log G counted once per coordinate
    dict(weighted=False),  # joints without a target counted
    dict(mean_over_joints=True),  # mean over joints too, not only over the batch
])
def test_check_rle_loss(mistake, verdict_fails):
    assert course.check_rle_loss(rle)
    verdict_fails(course.check_rle_loss(lambda *args: rle(*args, **mistake)), "instead of")


def test_check_rle_loss_log_sigma_normalisation(verdict_fails):
    # σ normalisation by log σ instead of σ: ē = (μ − μ_gt)/log σ
    def by_log_sigma(mu, sigma, target, flow, target_weight):
        return rle(mu, sigma.log().abs(), target, flow, target_weight)

    verdict_fails(course.check_rle_loss(by_log_sigma), "rle_loss(tensor(1, 1, 2)")
