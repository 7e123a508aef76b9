"""Checks for notebooks/07_flows_rle.ipynb: an affine coupling layer with its log-determinant, the
change-of-variables log-density of a flow, and the RLE loss, each compared with `hglearn.flows`
and `hglearn.losses`: values on several inputs (which the student's code must leave unchanged),
the documented type (tensors, which training needs), and the gradients that reach the inputs and
every parameter of the networks.
"""
import math
from typing import Any, Callable

import torch
from torch import nn

from hglearn.course.checking import (Returns, Verdict, call, check_function_strictly, difference, failed, passed,
                                     reports_not_attempted, short)
from hglearn.course.checks_blocks import one_thread  # tiny tensors: faster on one thread
from hglearn.flows import MASKS, AffineCoupling, RealNVP
from hglearn.losses import rle_loss

__all__ = ["check_coupling_forward", "check_flow_log_prob", "check_rle_loss"]

A_TENSOR = Returns("a torch.Tensor (a NumPy array or a Python number carries no gradient)",
                   lambda v: isinstance(v, torch.Tensor))
A_PAIR_OF_TENSORS = Returns("a pair of torch.Tensors (z, log_det)",
                            lambda v: isinstance(v, (tuple, list)) and len(v) == 2
                            and all(isinstance(item, torch.Tensor) for item in v))
A_SCALAR_TENSOR = Returns("a 0-d torch.Tensor (loss.backward() needs one; .item() or a NumPy value has no gradient)",
                          lambda v: isinstance(v, torch.Tensor) and v.dim() == 0)


# --- gradients ---------------------------------------------------------------------------------


def projection_weights(result: Any) -> list[torch.Tensor]:
    """Fixed random weights, one tensor per tensor of `result` (one tensor, or a tuple or list)."""
    generator = torch.Generator().manual_seed(0)
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    return [torch.randn(item.shape, generator=generator, dtype=item.dtype) for item in items]


def projection(result: Any, weights: list[torch.Tensor]) -> torch.Tensor | None:
    """Σ_i ⟨result_i, weights_i⟩ over the tensors of `result` (one tensor, or a tuple or list of
    them); None when the result is not tensors of the weights' shapes."""
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    if len(items) != len(weights) or not all(isinstance(item, torch.Tensor) and item.shape == w.shape
                                             for item, w in zip(items, weights)):
        return None
    return sum((item * w).sum() for item, w in zip(items, weights))


def gradient_problem(student: Callable, reference: Callable, case: tuple, inputs: dict[str, torch.Tensor],
                     name: str, rtol: float = 1e-3, atol: float = 1e-5) -> str | None:
    """None when the gradients of the student's result with respect to `inputs` (named leaf tensors
    of `case` that require grad, or parameters of the networks in it) are the reference's, else
    what is wrong, in words: which one gets no gradient or a different one.

    Both results are projected on the same fixed random weights, so that every entry of every
    output matters (the gradient of a plain sum could hide a mistake).
    """
    want = reference(*case)
    weights = projection_weights(want)
    targets = list(inputs.values())
    want_grads = torch.autograd.grad(projection(want, weights), targets, allow_unused=True)
    got, error = call(student, *case)
    if error is not None:
        return error.message
    projected = projection(got, weights)
    if projected is None or not projected.requires_grad:
        return (f"{name}{short(case)}: the result carries no gradient, so training could not use it "
                "(it was computed under torch.no_grad, detached, or outside PyTorch)")
    got_grads = torch.autograd.grad(projected, targets, allow_unused=True)
    pairs = [(label, g, w) for label, g, w in zip(inputs, got_grads, want_grads) if w is not None and w.any()]
    for label, got_grad, _ in pairs:  # a missing gradient first: it names the cause
        if got_grad is None or not got_grad.any():
            return (f"{name}{short(case)}: no gradient reaches {label} (something on its path is "
                    "detached, or computed under torch.no_grad)")
    for label, got_grad, want_grad in pairs:
        if (problem := difference(got_grad, want_grad, rtol, atol)) is not None:
            return f"{name}{short(case)}: the gradient with respect to {label} differs: {problem}"
    return None


def parameters_of(prefix: str, network: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters of a network, named for a verdict: "scale_net's 0.weight"."""
    return {f"{prefix}'s {key}": parameter for key, parameter in network.named_parameters()}


# --- exercise 1: the coupling layer ---------------------------------------------------------------


def coupling_forward_reference(x, mask, scale_net, translation_net):
    """`hglearn.flows.AffineCoupling.forward` for the given mask and networks."""
    layer = AffineCoupling(mask.tolist())
    layer.scale, layer.translation = scale_net, translation_net
    return layer(x)


def coupling_cases() -> list[tuple]:
    generator = torch.Generator().manual_seed(0)
    cases = []
    for seed, mask, shape in [(0, MASKS[0], (5, 2)), (1, MASKS[1], (5, 2)), (2, MASKS[0], (3, 4, 2)),
                              (3, MASKS[1], (1, 2))]:
        torch.manual_seed(seed)
        layer = AffineCoupling(mask)
        x = 2 * torch.randn(shape, generator=generator)
        cases.append((x, torch.tensor(mask), layer.scale, layer.translation))
    return cases


def _coupling_variant(x, mask, scale_net, translation_net, *, sign=1.0, mask_log_det=True, exp=True):
    free = 1 - mask
    kept = x * mask
    raw = scale_net(kept)
    s, t = raw * free, translation_net(kept) * free
    z = kept + free * (x * (torch.exp(s) if exp else s) + t)
    return z, sign * (s if mask_log_det else raw).sum(dim=-1)


COUPLING_MISTAKES = [
    (lambda *case: _coupling_variant(*case, sign=-1.0),
     "log_det has the wrong sign: data → latent multiplies by exp(s), so log|det| = +Σ s"),
    (lambda *case: _coupling_variant(*case, mask_log_det=False),
     "log_det also sums s on the kept coordinate: multiply s by 1 − m before summing"),
    (lambda x, mask, s_net, t_net: (_coupling_variant(x, mask, s_net, t_net)[0], torch.zeros(x.shape[:-1])),
     "log_det is zero: it is Σ s over the last axis"),
    (lambda *case: _coupling_variant(*case, exp=False), "z multiplies x by s: the scale is exp(s)"),
    (lambda x, mask, s_net, t_net: _coupling_variant(x, 1 - mask, s_net, t_net),
     "the mask is used the wrong way round: m = 1 marks the coordinate that is kept"),
]


@reports_not_attempted
@one_thread()
def check_coupling_forward(student) -> Verdict:
    """The student's `coupling_forward(x, mask, scale_net, translation_net) -> (z, log_det)` against
    `hglearn.flows.AffineCoupling.forward`, with the networks of randomly initialised layers, both
    masks, and points of shapes (N, 2), (B, J, 2) and (1, 2): values (x, the mask and the networks
    left unchanged), a pair of tensors, and the gradients with respect to x and to every parameter
    of both networks."""
    cases = coupling_cases()
    with torch.no_grad():
        verdict = check_function_strictly(student, coupling_forward_reference, cases, "coupling_forward",
                                          returns=A_PAIR_OF_TENSORS, mistakes=COUPLING_MISTAKES)
    if not verdict:
        return verdict
    for x, mask, scale_net, translation_net in cases[1:3]:
        x = x.clone().requires_grad_()
        inputs = {"x": x, **parameters_of("scale_net", scale_net), **parameters_of("translation_net", translation_net)}
        if problem := gradient_problem(student, coupling_forward_reference, (x, mask, scale_net, translation_net),
                                       inputs, "coupling_forward"):
            return failed(problem)
    return passed(f"coupling_forward agrees with the reference on {len(cases)} inputs, gradients included")


# --- exercise 2: the log-density of a flow --------------------------------------------------------


def random_flow(seed: int) -> RealNVP:
    """A RealNVP with PyTorch's default initialisation: far from the identity, so that every term
    of a formula shows in its output."""
    torch.manual_seed(seed)
    return RealNVP()


def flow_log_prob_reference(flow: RealNVP, x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """log p(x) = log N(f(x); 0, σ²I₂) + log|det ∂f/∂x|, with z = f(x) the flow's output."""
    z, log_det = flow(x)
    return -0.5 * (z / sigma).square().sum(dim=-1) - math.log(2 * math.pi) - 2 * math.log(sigma) + log_det


def _log_prob_variant(flow, x, sigma, *, log_det=1.0, constant=math.log(2 * math.pi), at_x=False, log_sigma=2.0,
                      power=2):
    """The log-density with the usual mistakes as switches: the log-determinant left out or
    subtracted, the constant, the prior at x, the normaliser's log σ counted once, not at all or with
    the wrong sign, the squared distance divided by σ^power (2 is right; 0 with log_sigma=0 ignores σ)."""
    z, ld = flow(x)
    distance = (x if at_x else z).square().sum(dim=-1) / sigma ** power
    return -0.5 * distance - constant - log_sigma * math.log(sigma) + log_det * ld


FLOW_MISTAKES = [
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, log_det=0.0), "the log-determinant is missing: add it"),
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, log_det=-1.0),
     "the log-determinant is subtracted: add it"),
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, constant=0.0), "the constant −log 2π of the 2-D normal is missing"),
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, constant=0.5 * math.log(2 * math.pi)),
     "the constant is the 1-D one, ½ log 2π: in 2-D it is log 2π"),
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, at_x=True),
     "the prior is evaluated at x: it should be at z = f(x), the flow's output"),
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, log_sigma=0.0, power=0),
     "σ is ignored: this is the standard normal's log-density, right only for σ = 1"),
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, log_sigma=1.0),
     "log σ is subtracted once: the 2-D normal's normaliser is 2πσ², one σ per coordinate, so −2 log σ"),
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, log_sigma=0.0),
     "the normaliser's −2 log σ is missing: without it the density does not integrate to 1 for σ ≠ 1"),
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, log_sigma=-2.0),
     "2 log σ has the wrong sign: a wider prior (larger σ) has a lower peak, −2 log σ"),
    (lambda flow, x, sigma: _log_prob_variant(flow, x, sigma, power=1),
     "the squared distance is divided by σ: it is |z|²/σ², the squared distance in units of σ"),
]


@reports_not_attempted
@one_thread()
def check_flow_log_prob(student) -> Verdict:
    """The student's `flow_log_prob(flow, x, sigma)`, log p(x) = log N(f(x); 0, σ²I₂) + log|det ∂f/∂x|,
    against `flow_log_prob_reference`, for the identity flow and randomly initialised ones, σ = 1 and
    other scales, on points of shapes (N, 2), (B, J, 2) and (1, 2): values (the flow and x left
    unchanged), a tensor, the default σ = 1, and the gradients with respect to x and to every
    parameter of the flow."""
    generator = torch.Generator().manual_seed(0)
    cases = [(RealNVP(zero_init=True), torch.randn(4, 2, generator=generator), 1.0),
             (random_flow(0), 2 * torch.randn(6, 2, generator=generator), 1.0),
             (RealNVP(zero_init=True), torch.randn(5, 2, generator=generator), 0.5),
             (random_flow(1), 3 * torch.randn(2, 3, 2, generator=generator), 2.0),
             (random_flow(2), torch.zeros(1, 2), 0.3)]
    with torch.no_grad():
        verdict = check_function_strictly(student, flow_log_prob_reference, cases, "flow_log_prob",
                                          returns=A_TENSOR, mistakes=FLOW_MISTAKES)
        if not verdict:
            return verdict
        flow, x, _ = cases[1]
        got, error = call(student, flow, x.clone())
        if error is not None:
            return error
        if (problem := difference(got, flow_log_prob_reference(flow, x), 1e-4, 1e-5)) is not None:
            return failed(f"flow_log_prob(flow, x) without sigma: {problem} — the default should be σ = 1, "
                          "the standard normal prior that the next section fits with")
    flow, x, sigma = cases[3]
    x = x.clone().requires_grad_()
    if problem := gradient_problem(student, flow_log_prob_reference, (flow, x, sigma),
                                   {"x": x, **parameters_of("the flow", flow)}, "flow_log_prob"):
        return failed(problem)
    return passed(f"flow_log_prob agrees with the reference on {len(cases)} inputs and σ = 1 by default, "
                  "gradients included")


# --- exercise 3: the RLE loss ---------------------------------------------------------------------


def _rle_variant(mu, sigma, target, flow, target_weight, *, log_sigma=1, log_g=1, laplace=True, log_two=True,
                 gaussian_q=False, scaled=True, weighted=True, divisor="batch"):
    """The loss with the usual mistakes as switches: how often Σ log σ_c and −log G count, −log Q
    without its log 2 or as a Gaussian, the error not divided by σ, the weights or the divisor."""
    error = (mu - target) / sigma if scaled else mu - target
    nll = -log_g * flow.log_prob(error) + log_sigma * sigma.log().sum(dim=2)
    if laplace and gaussian_q:
        nll = nll + (0.5 * math.log(2 * math.pi) + 0.5 * error.square()).sum(dim=2)
    elif laplace:
        nll = nll + (error.abs() + (math.log(2) if log_two else 0.0)).sum(dim=2)
    if weighted:
        nll = nll * target_weight
    return nll.sum() / {"batch": mu.shape[0], "joints": nll.numel(), "weights": target_weight.sum()}[divisor]


RLE_MISTAKES = [
    (lambda *case: _rle_variant(*case, log_sigma=2, log_g=2, log_two=True),
     "this is mmpose's sum, log σ and −log G each counted twice: the loss here is −log of one density, "
     "each counted once"),
    (lambda *case: _rle_variant(*case, log_g=2),
     "−log G counted twice per joint (mmpose's broadcast of a (B, J, 1) term onto (B, J, 2)): G is one "
     "density of the 2-D ē, count it once"),
    (lambda *case: _rle_variant(*case, log_sigma=2),
     "Σ log σ_c counted twice: the change of variables from ē to image coordinates divides the density "
     "Q·G by σ_x·σ_y once"),
    (lambda *case: _rle_variant(*case, log_sigma=0),
     "Σ log σ_c is missing: the density of μ_gt in image coordinates is Q(ē)·G(ē)/(σ_x·σ_y)"),
    (lambda *case: _rle_variant(*case, laplace=False), "−log Q, the Laplace part, is missing"),
    (lambda *case: _rle_variant(*case, log_two=False),
     "the Laplace density's normaliser is missing: Q(ē_c) = ½·exp(−|ē_c|), so −log Q has a log 2 per coordinate"),
    (lambda *case: _rle_variant(*case, gaussian_q=True), "Q is a Gaussian here: the base density is the Laplace"),
    (lambda *case: _rle_variant(*case, scaled=False), "the error is not divided by σ: ē = (μ − target)/σ"),
    (lambda *case: _rle_variant(*case, weighted=False), "the target weights are not applied"),
    (lambda *case: _rle_variant(*case, divisor="joints"),
     "the sum is divided by B·J (a mean over joints too): divide by the batch size B only"),
    (lambda *case: _rle_variant(*case, divisor="weights"),
     "the sum is divided by the sum of the weights: divide by the batch size B"),
]


def rle_cases() -> list[tuple]:
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
    return cases


@reports_not_attempted
@one_thread()
def check_rle_loss(student) -> Verdict:
    """The student's `rle_loss(mu, sigma, target, flow, target_weight)` against
    `hglearn.losses.rle_loss`: the identity flow and randomly initialised ones, σ from 0.02 to 0.7
    and different in x and y, batches of 1 to 4, some target weights 0 where the prediction is
    badly wrong: values (the inputs left unchanged), a 0-d tensor, and the gradients with respect
    to μ, σ and every parameter of the flow."""
    cases = rle_cases()
    with torch.no_grad():
        verdict = check_function_strictly(student, rle_loss, cases, "rle_loss", returns=A_SCALAR_TENSOR,
                                          mistakes=RLE_MISTAKES, rtol=1e-4, atol=1e-4)
    if not verdict:
        return verdict
    mu, sigma, target, flow, weight = cases[1]
    mu, sigma = mu.clone().requires_grad_(), sigma.clone().requires_grad_()
    if problem := gradient_problem(student, rle_loss, (mu, sigma, target, flow, weight),
                                   {"mu": mu, "sigma": sigma, **parameters_of("the flow", flow)}, "rle_loss"):
        return failed(problem)
    return passed(f"rle_loss agrees with the reference on {len(cases)} inputs, gradients included")
