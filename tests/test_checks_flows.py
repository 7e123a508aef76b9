"""The checks of notebook 07 pass right answers written in other ways than the solution's and fail
plausible wrong ones, naming the mistake where the cases tell it apart."""
import math
from functools import partial

import pytest
import torch

import solution_cells
from hglearn import course


def solution(name: str):
    """`name` as notebook 07's solution defines it (the code of its exercise cell, run)."""
    return solution_cells.solution("07_flows_rle.ipynb", name, {"torch": torch, "math": math})


@pytest.mark.parametrize("check, name", [
    (course.check_coupling_forward, "coupling_forward"),
    (course.check_flow_log_prob, "flow_log_prob"),
    (course.check_rle_loss, "rle_loss_by_hand"),
])
def test_the_solution_notebooks_answers_pass(check, name):
    assert check(solution(name))


# --- exercise 1: the affine coupling layer ---------------------------------------------------------


def coupling(x, mask, scale_net, translation_net, *, unmasked_input=False, unmasked_log_det=False, sign=1.0,
             no_log_det=False, linear_scale=False, detach_scale=False):
    """The layer, with the usual mistakes as switches."""
    kept = x * mask
    s_raw = scale_net(x if unmasked_input else kept)
    s_raw = s_raw.detach() if detach_scale else s_raw
    s, t = s_raw * (1 - mask), translation_net(x if unmasked_input else kept) * (1 - mask)
    z = kept + (1 - mask) * (x * (s if linear_scale else torch.exp(s)) + t)
    log_det = (s_raw if unmasked_log_det else s).sum(dim=-1)
    return z, torch.zeros_like(log_det) if no_log_det else sign * log_det


def coupling_by_index(x, mask, scale_net, translation_net):
    """Right, another way: only the free coordinate is changed, by boolean indexing of a copy."""
    free = mask == 0
    kept = x * mask
    s, t = scale_net(kept)[..., free], translation_net(kept)[..., free]
    z = x.clone()
    z[..., free] = x[..., free] * s.exp() + t
    return z, s.sum(dim=-1)


def coupling_with_where(x, mask, scale_net, translation_net):
    """Right, another way: torch.where picks the kept coordinate, the log-det from log|exp(s)|."""
    keep = mask.bool()
    conditioner = torch.where(keep, x, torch.zeros_like(x))
    s = torch.where(keep, torch.zeros_like(x), scale_net(conditioner))
    z = torch.where(keep, x, x * torch.exp(s) + translation_net(conditioner))
    return z, torch.log(torch.exp(s)).sum(-1)


def coupling_in_place(x, mask, scale_net, translation_net):
    kept = x * mask
    s, t = scale_net(kept) * (1 - mask), translation_net(kept) * (1 - mask)
    x.mul_(torch.exp(s)).add_(t)  # the caller's points change
    return x, s.sum(dim=-1)


def test_check_coupling_forward_passes_right_answers_written_differently():
    assert course.check_coupling_forward(coupling)
    assert course.check_coupling_forward(coupling_by_index)
    assert course.check_coupling_forward(coupling_with_where)


@pytest.mark.parametrize("wrong, words", [
    (partial(coupling, unmasked_input=True), "item 0"),  # the nets see x itself: not invertible
    (partial(coupling, unmasked_log_det=True), "sums s on the kept coordinate"),
    (partial(coupling, sign=-1.0), "wrong sign"),
    (partial(coupling, no_log_det=True), "log_det is zero"),
    (partial(coupling, linear_scale=True), "the scale is exp(s)"),
    (lambda x, mask, s, t: coupling(x, 1 - mask, s, t), "the wrong way round"),
    (lambda x, mask, s, t: (coupling(x, mask, s, t)[0], coupling(x, mask, s, t)[1].sum()), "item 1: shape"),
    (coupling_in_place, "changed its argument x in place"),
    (partial(coupling, detach_scale=True), "no gradient reaches scale_net's 0.weight"),
    (lambda *args: tuple(v.numpy() for v in coupling(*args)), "a pair of torch.Tensors"),
])
def test_check_coupling_forward_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_coupling_forward(wrong), words)


def test_check_coupling_forward_names_the_networks_without_printing_them():
    hint = course.check_coupling_forward(partial(coupling, sign=-1.0)).message
    assert "Sequential(...)" in hint and "\n" not in hint


def test_check_coupling_forward_reports_an_exception_and_not_implemented_as_not_attempted(verdict_fails):
    def shape_error(x, mask, scale_net, translation_net):
        return scale_net(x[..., :1])

    verdict_fails(course.check_coupling_forward(shape_error), "raised RuntimeError")

    def unsolved(x, mask, scale_net, translation_net):
        raise NotImplementedError

    verdict = course.check_coupling_forward(unsolved)
    assert not verdict and not verdict.attempted


# --- exercise 2: the change-of-variables log-density -----------------------------------------------


def log_normal(z, sigma=1.0):
    return -0.5 * (z / sigma).square().sum(dim=-1) - math.log(2 * math.pi) - 2 * math.log(sigma)


def log_prob_multivariate(flow, x, sigma=1.0):
    """Right, another way: torch.distributions' 2-D normal with covariance σ²I."""
    z, log_det = flow(x)
    prior = torch.distributions.MultivariateNormal(torch.zeros(2), sigma ** 2 * torch.eye(2))
    return prior.log_prob(z) + log_det


def log_prob_per_coordinate(flow, x, sigma=1.0):
    """Right, another way: a 1-D normal of scale σ per coordinate, summed."""
    z, log_det = flow(x)
    return torch.distributions.Normal(0.0, sigma).log_prob(z).sum(-1) + log_det


def log_prob_standardised(flow, x, sigma=1.0):
    """Right, a third way: the standard normal at z/σ, then the change of variables z → z/σ (−2 log σ)."""
    z, log_det = flow(x)
    u = z / sigma
    return -0.5 * (u * u).sum(-1) - math.log(2 * math.pi) - 2 * math.log(sigma) + log_det


def log_prob_detached_z(flow, x, sigma=1.0):
    z, log_det = flow(x)
    return log_normal(z.detach(), sigma) + log_det


def test_check_flow_log_prob_passes_right_answers_written_differently():
    assert course.check_flow_log_prob(lambda flow, x, sigma=1.0: log_normal(flow(x)[0], sigma) + flow(x)[1])
    assert course.check_flow_log_prob(log_prob_multivariate)
    assert course.check_flow_log_prob(log_prob_per_coordinate)
    assert course.check_flow_log_prob(log_prob_standardised)


@pytest.mark.parametrize("wrong, words", [
    (lambda flow, x, sigma=1.0: log_normal(flow(x)[0], sigma), "the log-determinant is missing"),
    (lambda flow, x, sigma=1.0: log_normal(flow(x)[0], sigma) - flow(x)[1], "the log-determinant is subtracted"),
    (lambda flow, x, sigma=1.0: -0.5 * (flow(x)[0] / sigma).square().sum(dim=-1) - 2 * math.log(sigma) + flow(x)[1],
     "the constant −log 2π"),
    (lambda flow, x, sigma=1.0: log_normal(flow(x)[0], sigma) + 0.5 * math.log(2 * math.pi) + flow(x)[1], "the 1-D one"),
    (lambda flow, x, sigma=1.0: log_normal(x, sigma) + flow(x)[1], "the prior is evaluated at x"),
    (lambda flow, x, sigma=1.0: log_normal(flow(x)[0]) + flow(x)[1], "σ is ignored"),
    (lambda flow, x, sigma=1.0: log_normal(flow(x)[0], sigma) + math.log(sigma) + flow(x)[1], "subtracted once"),
    (lambda flow, x, sigma=1.0: log_normal(flow(x)[0] / sigma) + flow(x)[1], "−2 log σ is missing"),
    (lambda flow, x, sigma=1.0: log_normal(flow(x)[0], sigma) + 4 * math.log(sigma) + flow(x)[1], "the wrong sign"),
    (lambda flow, x, sigma=1.0: -0.5 * flow(x)[0].square().sum(-1) / sigma - math.log(2 * math.pi)
     - 2 * math.log(sigma) + flow(x)[1], "divided by σ"),
    (lambda flow, x, sigma=2.0: log_normal(flow(x)[0], sigma) + flow(x)[1], "the default should be σ = 1"),
    (lambda flow, x, sigma=1.0: (log_normal(flow(x)[0], sigma) + flow(x)[1]).sum(), "shape"),
    (log_prob_detached_z, "no gradient reaches the flow's layers.5.translation"),  # the last layer's t only shapes z
    (lambda flow, x, sigma=1.0: (log_normal(flow(x)[0], sigma) + flow(x)[1]).numpy(), "a torch.Tensor"),
])
def test_check_flow_log_prob_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_flow_log_prob(wrong), words)


# --- exercise 3: the RLE loss ----------------------------------------------------------------------


def rle(mu, sigma, target, flow, target_weight, *, log_sigma=1, log_g=1, laplace=True, log_two=True, scaled=True,
        weighted=True, mean_over_joints=False, by_weights=False, gaussian_q=False, flow_frozen=False):
    """The loss, with the usual mistakes as switches."""
    error = (mu - target) / sigma if scaled else mu - target
    if flow_frozen:
        with torch.no_grad():
            log_density = flow.log_prob(error)
    else:
        log_density = flow.log_prob(error)
    nll = -log_g * log_density + log_sigma * sigma.log().sum(dim=2)
    if laplace:
        q = 0.5 * error.square() + 0.5 * math.log(2 * math.pi) if gaussian_q else error.abs() + log_two * math.log(2)
        nll = nll + q.sum(dim=2)
    if weighted:
        nll = nll * target_weight
    if mean_over_joints:
        return nll.mean()
    return nll.sum() / (target_weight.sum() if by_weights else mu.shape[0])


def rle_with_distributions(mu, sigma, target, flow, target_weight):
    """Right, another way: the Laplace density of μ_gt in image coordinates (scale σ) from
    torch.distributions, which already holds the 1/σ of the change of variables, and the flow's."""
    laplace = -torch.distributions.Laplace(mu, sigma).log_prob(target).sum(-1)  # (B, J)
    return torch.einsum("bj,bj->", laplace - flow.log_prob((mu - target) / sigma), target_weight) / len(mu)


def rle_loops(mu, sigma, target, flow, target_weight):
    """Right, another way: a loop over the images and joints, the density taken apart as −log of
    Q(ē)·G(ē)/(σ_x·σ_y)."""
    total = torch.zeros(())
    for b in range(mu.shape[0]):
        for j in range(mu.shape[1]):
            e = (mu[b, j] - target[b, j]) / sigma[b, j]
            log_q = (-e.abs() - math.log(2)).sum()  # the unit Laplace, per coordinate
            density = log_q + flow.log_prob(e) - torch.log(sigma[b, j].prod())
            total = total - target_weight[b, j] * density
    return total / mu.shape[0]


def mmpose_rle(mu, sigma, target, flow, target_weight):
    """mmpose's RLELoss (residual, Laplace), with its (B, J, 1) + (B, J, 2) broadcast."""
    error = (mu - target) / sigma
    log_phi = flow.log_prob(error)[..., None]  # (B, J, 1)
    loss = sigma.log() - log_phi + torch.log(2 * sigma) + error.abs()  # (B, J, 2)
    return (loss * target_weight[..., None]).sum() / len(mu)


def rle_in_place(mu, sigma, target, flow, target_weight):
    error = mu.sub_(target).div_(sigma)  # the caller's mu changes
    return rle(error * sigma + target, sigma, target, flow, target_weight)


def test_check_rle_loss_passes_right_answers_written_differently():
    assert course.check_rle_loss(rle)
    assert course.check_rle_loss(rle_with_distributions)
    assert course.check_rle_loss(rle_loops)


@pytest.mark.parametrize("wrong, words", [
    (mmpose_rle, "mmpose's sum"),
    (partial(rle, log_g=2), "counted twice per joint"),
    (partial(rle, log_sigma=2), "Σ log σ_c counted twice"),
    (partial(rle, log_sigma=0), "Σ log σ_c is missing"),
    (partial(rle, laplace=False), "the Laplace part, is missing"),
    (partial(rle, log_two=False), "log 2 per coordinate"),
    (partial(rle, gaussian_q=True), "Q is a Gaussian"),
    (partial(rle, scaled=False), "not divided by σ"),
    (partial(rle, weighted=False), "target weights are not applied"),
    (partial(rle, mean_over_joints=True), "divided by B·J"),
    (partial(rle, by_weights=True), "sum of the weights"),
    (lambda mu, sigma, *rest: rle(mu, sigma.log().abs(), *rest), "rle_loss(tensor(1, 1, 2)"),
    (partial(rle, flow_frozen=True), "no gradient reaches the flow's"),
    (lambda *args: rle(*args).item(), "got float"),
    (rle_in_place, "changed its argument mu in place"),
])
def test_check_rle_loss_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_rle_loss(wrong), words)
