"""Checks for notebooks/08_sadinet_attention.ipynb: the RFM's parameter count, the SFM's
softmax-across-scales fusion and its global attention module, each compared with `hglearn.blocks`
and `hglearn.sadinet`.

The attention module is compared layer by layer whatever order its layers were created in: each
layer holding weights is given its role by what it does, which scales its input depends on
(perturbing one scale at a time) and its type and shapes, and gets the weights of the reference's
layer of the same role.
"""
import itertools

import torch
from torch import nn

from hglearn.blocks import RFM
from hglearn.course.checking import (AN_INT, Verdict, call, check_function_strictly, difference, failed, passed,
                                     reports_not_attempted, short, unchanged)
from hglearn.course.checks_blocks import one_thread, with_trained_batchnorm
from hglearn.course.checks_flows import A_TENSOR, gradient_problem, projection, projection_weights
from hglearn.sadinet import GlobalAttention

__all__ = ["check_rfm_parameters", "check_scale_softmax_fusion", "check_global_attention"]


# --- exercise 1: the RFM's parameters ---------------------------------------------------------------


def rfm_parameters_reference(cin: int, cout: int, reduction: int = 16) -> int:
    return sum(p.numel() for p in RFM(cin, cout, reduction=reduction).parameters())


def rfm_variant(cin, cout, reduction=16, *, hidden_from_cin=False, floor=True, se_bias=True, conv_bias=False,
                batchnorm=2, shortcut="1x1", dilated_cin=True) -> int:
    """The RFM count with the switches of the usual mistakes (the defaults give the right count)."""
    width = cin if hidden_from_cin else cout
    hidden = max(width // reduction, 1) if floor else width // reduction
    convs = 9 * cin * cout + 9 * cout * cout + 9 * (cin if dilated_cin else cout) * cout  # conv1, conv2, dilated
    convs += 3 * cout if conv_bias else 0
    se = 2 * cout * hidden + (hidden + cout if se_bias else 0)
    shortcut_count = {"1x1": cin * cout + cout, "no bias": cin * cout, "none": 0, "always": cin * cout + cout}[shortcut]
    skip = shortcut_count if cin != cout or shortcut == "always" else 0
    return convs + 3 * batchnorm * cout + se + skip


RFM_MISTAKES = [
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, shortcut="none"),
     "the 1×1 shortcut convolution (with bias) that RFM uses when cin ≠ cout is missing"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, shortcut="no bias"), "the 1×1 shortcut's bias is missing"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, shortcut="always"),
     "a 1×1 shortcut is counted when cin == cout: there the shortcut is the identity"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, se_bias=False), "the SE block's two biases are missing"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, conv_bias=True),
     "the 3×3 convolutions are counted with biases: they have none (a BatchNorm follows each)"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, batchnorm=0),
     "the three BatchNorms (2 × cout each) are missing"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, batchnorm=4),
     "BatchNorm's running mean and variance are counted: they are buffers, not parameters"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, floor=False),
     "the SE hidden width is cout // r without the floor of one unit: max(cout // r, 1)"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, hidden_from_cin=True),
     "the SE hidden width is computed from cin: it is max(cout // r, 1)"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, 16), "the reduction argument is not used (16 always)"),
    (lambda cin, cout, r=16: rfm_variant(cin, cout, r, dilated_cin=False),
     "the dilated convolution is counted cout → cout: it reads the block's input, cin → cout"),
]


@reports_not_attempted
def check_rfm_parameters(student) -> Verdict:
    """The student's formula for the parameters of `RFM(cin, cout, reduction=r)` against a count of the
    built block: the paper's 256 and the presets' 88 channels, a width change either way (1×1
    shortcut), other reductions, and widths below the reduction (one hidden SE unit); the verdict
    names the usual mistake that gives the student's numbers on every case, when one does."""
    cases = [(256, 256, 16), (88, 88, 16), (64, 128, 16), (128, 64, 8), (32, 32, 4), (8, 8, 16), (12, 4, 16)]
    return check_function_strictly(student, rfm_parameters_reference, cases, "rfm_parameters", returns=AN_INT,
                                   mistakes=RFM_MISTAKES)


# --- exercise 2: softmax across scales ---------------------------------------------------------------


def scale_softmax_fusion_reference(features: list[torch.Tensor], logits: list[torch.Tensor]) -> torch.Tensor:
    """Σ_k softmax_k(logits)·features_k, as in `GlobalAttention.forward` (the softmax runs over the
    scale axis, separately at every pixel). features: K × (B, C, H, W); logits: K × (B, 1, H, W)."""
    weights = torch.softmax(torch.cat(logits, dim=1), dim=1)  # (B, K, H, W)
    return (weights.unsqueeze(2) * torch.stack(features, dim=1)).sum(1)  # (B, C, H, W)


def fusion_case(batch: int, channels: int, height: int, width: int, scales: int, spread: float, seed: int):
    generator = torch.Generator().manual_seed(seed)
    features = [torch.randn(batch, channels, height, width, generator=generator) for _ in range(scales)]
    logits = [spread * torch.randn(batch, 1, height, width, generator=generator) for _ in range(scales)]
    return features, logits


def _weighted(features, weights):  # Σ_k w_k f_k, weights K × (B, 1, H, W)
    return sum(w * f for w, f in zip(weights, features))


def _naive_softmax(logits):
    e = [l.exp() for l in logits]
    return [x / sum(e) for x in e]


FUSION_MISTAKES = [
    (lambda f, l: _weighted(f, _naive_softmax(l)),
     "exp(l) / Σ exp(l) overflows for logits of a few hundred (nan): subtract the largest logit at each pixel "
     "first, or call torch.softmax"),
    (lambda f, l: _weighted(f, [torch.softmax(x.flatten(2), -1).view_as(x) for x in l]),
     "the softmax runs over the pixels of each scale: it runs across the K scales, at each pixel"),
    (lambda f, l: _weighted(f, torch.softmax(torch.stack(l), dim=1).unbind(0)),
     "the softmax runs over the batch: it runs across the K scales, at each pixel"),
    (lambda f, l: _weighted(f, [torch.sigmoid(x) for x in l]),
     "each scale is gated by a sigmoid of its own: the weights are a softmax across the scales"),
    (lambda f, l: _weighted(f, l), "the logits are used as weights: take their softmax across the scales"),
    (lambda f, l: scale_softmax_fusion_reference(f, l) / len(f),
     "the weighted features are averaged: sum them (the weights already sum to 1)"),
]


@reports_not_attempted
@one_thread()
def check_scale_softmax_fusion(student) -> Verdict:
    """The student's `fusion(features, logits)` against the SFM's global fusion: four scales, other
    scale counts (one scale gives the feature itself), non-square and odd-sized maps, batches of one
    and two, and logits large enough (±300) to overflow a softmax computed as exp(l) / Σ exp(l);
    the lists and their tensors left unchanged, a tensor returned, and the gradients with respect
    to every feature map and logit."""
    cases = [
        fusion_case(2, 8, 6, 6, 4, 1.0, 0),
        fusion_case(1, 3, 5, 7, 4, 2.0, 1),
        fusion_case(2, 4, 4, 4, 2, 1.0, 2),
        fusion_case(1, 5, 3, 4, 1, 1.0, 3),
        fusion_case(2, 4, 5, 5, 3, 300.0, 4),
    ]
    verdict = check_function_strictly(student, scale_softmax_fusion_reference, cases, "scale_softmax_fusion",
                                      returns=A_TENSOR, mistakes=FUSION_MISTAKES)
    if not verdict:
        values_differ = any(verdict.message.startswith(f"scale_softmax_fusion{short(case)}: ") for case in cases)
        if values_differ and " — " not in verdict.message:  # no usual mistake named: do the weights sum to 1?
            features, logits = cases[0]
            got, error = call(student, [torch.ones_like(f) for f in features], logits)
            if error is None and difference(got, torch.ones_like(features[0])) is not None:
                return failed(f"{verdict.message} — with every feature map 1 the result is not 1: the weights of the "
                              "scales do not sum to 1 at each pixel")
        return verdict
    features, logits = (
        [x.clone().requires_grad_() for x in group] for group in fusion_case(2, 3, 5, 7, 3, 2.0, 5))
    inputs = {f"features[{k}]": x for k, x in enumerate(features)} | {f"logits[{k}]": x for k, x in enumerate(logits)}
    if problem := gradient_problem(student, scale_softmax_fusion_reference, (features, logits), inputs,
                                   "scale_softmax_fusion"):
        return failed(problem)
    return passed(f"scale_softmax_fusion agrees with the reference on {len(cases)} inputs, gradients included")


# --- exercise 3: the global attention module -----------------------------------------------------------


def own_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters and buffers a module holds itself (not its submodules'), by name."""
    return dict(itertools.chain(module.named_parameters(recurse=False), module.named_buffers(recurse=False)))


def holders(module: nn.Module) -> dict[str, nn.Module]:
    """The submodules that hold parameters or buffers themselves (convolutions, BatchNorms), by name."""
    return {name: m for name, m in module.named_modules() if own_tensors(m)}


def seen_inputs(module: nn.Module, features: list[torch.Tensor]) -> tuple[dict[str, list[torch.Tensor]], list[str]]:
    """What each holder of `module` receives when it runs on `features` (eval mode, no gradients),
    and the holders in the order of their first call."""
    inputs: dict[str, list[torch.Tensor]] = {}

    def hook(name):
        def record(_, args):
            inputs.setdefault(name, []).append(args[0].detach().clone() if args else None)
        return record

    handles = [m.register_forward_pre_hook(hook(name)) for name, m in holders(module).items()]
    try:
        with torch.no_grad():
            module.eval()(list(features))
    finally:
        for handle in handles:
            handle.remove()
    return inputs, list(inputs)  # dicts keep the order of insertion: of the first calls


def roles(module: nn.Module, features: list[torch.Tensor]) -> list[tuple[tuple, str, nn.Module]]:
    """(role, name, holder) for each holder of `module`, sorted by role, holders of one role in the
    order of their first call. A role is the holder's type, the shapes of its tensors, the number
    of times it runs and the scales its input depends on, found by changing one scale of
    `features` at a time. Raises what the module raises."""
    base, order = seen_inputs(module, features)
    generator = torch.Generator().manual_seed(7)
    depends: dict[str, list[int]] = {name: [] for name in base}
    for k, x in enumerate(features):
        changed = list(features)
        changed[k] = x + 1 + torch.randn(x.shape, generator=generator)
        inputs, _ = seen_inputs(module, changed)
        for name, before in base.items():
            if not unchanged(before, inputs.get(name)):
                depends[name].append(k)
    table = []
    for name, m in holders(module).items():
        shapes = tuple((key, tuple(t.shape)) for key, t in own_tensors(m).items())
        role = (type(m).__name__, shapes, len(base.get(name, [])), tuple(depends.get(name, ())))
        table.append((repr(role), order.index(name) if name in order else len(order), role, name, m))
    return [(role, name, m) for _, _, role, name, m in sorted(table, key=lambda row: row[:2])]


def pairs_of_tensors(reference: nn.Module, student: nn.Module,
                     features: list[torch.Tensor]) -> list[tuple[str, torch.Tensor, torch.Tensor]] | None:
    """(name, the student's tensor, the reference's) for every parameter and buffer: holder by
    holder, matched by role (so in any order of creation); else, for a module not made of the same
    kinds of layers, by shape in creation order, as `checking.copy_parameters`. None when neither
    matches one to one."""
    theirs, ours = roles(student, features), roles(reference, features)
    if [role for role, _, _ in theirs] == [role for role, _, _ in ours]:
        return [(f"{name}.{key}" if name else key, tensor, own_tensors(r)[key])
                for (_, name, m), (_, _, r) in zip(theirs, ours) for key, tensor in own_tensors(m).items()]
    pools: dict[tuple, list[torch.Tensor]] = {}
    for tensor in [*reference.parameters(), *reference.buffers()]:
        pools.setdefault(tuple(tensor.shape), []).append(tensor)
    named = [*student.named_parameters(), *student.named_buffers()]
    if sorted(tuple(t.shape) for _, t in named) != sorted(shape for shape, ts in pools.items() for _ in ts):
        return None
    return [(key, tensor, pools[tuple(tensor.shape)].pop(0)) for key, tensor in named]


def pyramid(batch: int, channels: int, height: int, width: int, num_scales: int, seed: int) -> list[torch.Tensor]:
    """Random features at num_scales scales, finest first, each half the size of the one before."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, channels, height >> k, width >> k, generator=generator) for k in range(num_scales)]


def fused_and_weights(module: nn.Module, features: list[torch.Tensor]):
    """The first and last items that a global attention module returns: (fused, weights), which the
    library's (fused, scaled, weights) also gives."""
    out = module(features)
    if not isinstance(out, (tuple, list)) or len(out) < 2:
        raise TypeError(f"forward returned {type(out).__name__}: it should return (fused, weights)")
    return out[0], out[-1]


def compare_outputs(label: str, got, want) -> str | None:
    """What differs between the student's (fused, weights) and the reference's, the weights first."""
    fused, weights = got
    if (problem := difference(weights, want[1], atol=1e-4)) is not None:
        if isinstance(weights, torch.Tensor) and not torch.allclose(weights.sum(1), torch.ones(()), atol=1e-4):
            return (f"{label}: the weights do not sum to 1 across the scales (axis 1) at each pixel: they are the "
                    "softmax of the scores across the scales")
        return f"{label}: the weights differ: {problem}"
    if (problem := difference(fused, want[0], atol=1e-4)) is not None:
        return f"{label}: the weights agree, the fused output differs: {problem}"
    return None


def gradients_differ(label: str, built: nn.Module, reference: nn.Module, features: list[torch.Tensor],
                     pairs: list[tuple[str, torch.Tensor, torch.Tensor]]) -> str | None:
    """What differs between the gradients, with respect to the features and every parameter, of a
    fixed random projection of the two modules' outputs (eval mode)."""
    inputs = [x.clone().requires_grad_() for x in features]
    learned = [(f"your {name}", tensor, source) for name, tensor, source in pairs if tensor.requires_grad]
    want = fused_and_weights(reference.eval(), inputs)
    weights = projection_weights(want)
    want_grads = torch.autograd.grad(projection(want, weights), [*inputs, *(s for _, _, s in learned)],
                                     allow_unused=True)
    projected = projection(fused_and_weights(built.eval(), inputs), weights)
    if projected is None or not projected.requires_grad:
        return f"{label}: the outputs carry no gradient (computed under torch.no_grad, or detached)"
    got_grads = torch.autograd.grad(projected, [*inputs, *(t for _, t, _ in learned)], allow_unused=True)
    names = [f"features[{k}]" for k in range(len(inputs))] + [name for name, _, _ in learned]
    rows = [(name, got, w) for name, got, w in zip(names, got_grads, want_grads) if w is not None and w.any()]
    for name, got_grad, _ in rows:  # a missing gradient first: it names the cause
        if got_grad is None or not got_grad.any():
            return f"{label}: no gradient reaches {name} (something on its path is detached)"
    for name, got_grad, want_grad in rows:
        if (problem := difference(got_grad, want_grad, rtol=1e-3, atol=1e-4)) is not None:
            return f"{label}: the gradient with respect to {name} differs: {problem}"
    return None


def global_attention_case(student, args: tuple, input_shape: tuple) -> str | None:
    """What differs in one configuration of `check_global_attention`; None when everything agrees."""
    label = f"GlobalAttention{short(args)}"
    built, error = call(student, *args)
    if error is not None:
        return error.message
    torch.manual_seed(0)
    reference = with_trained_batchnorm(GlobalAttention(*args)).eval()
    got_count, want_count = (sum(p.numel() for p in m.parameters()) for m in (built, reference))
    if got_count != want_count:
        return f"{label} has {got_count:,} parameters, the reference {want_count:,}"
    num_scales = len(reference.score)
    features = pyramid(*input_shape, num_scales, seed=sum(input_shape))
    label += f" on {num_scales} scales, the finest {tuple(input_shape)}"
    try:
        with torch.no_grad():
            want = fused_and_weights(reference, features)
            given = [x.clone() for x in features]
            got = fused_and_weights(built.eval(), given)
            if not unchanged(features, given):
                return f"{label}: forward changed the list of features it was given: leave it as it is"
            for name, item, expected in [("fused", got[0], want[0]), ("weights", got[1], want[1])]:
                if not isinstance(item, torch.Tensor) or item.shape != expected.shape:
                    return f"{label}: {name} is {short((item,))[1:-1]}, expected tensor{tuple(expected.shape)}"
            pairs = pairs_of_tensors(reference, built, features)
            if pairs is None:
                return f"{label}: the parameter shapes differ from the reference's"
            for _, tensor, source in pairs:
                tensor.copy_(source)
            got = fused_and_weights(built, features)
            if problem := compare_outputs(f"{label} with the reference's weights", got, want):
                return problem
        if problem := gradients_differ(label, built, reference, features, pairs):
            return problem
        with torch.no_grad():  # training mode: BatchNorm normalises with the batch's statistics
            return compare_outputs(f"{label} in training mode", fused_and_weights(built.train(), features),
                                   fused_and_weights(reference.train(), features))
    except NotImplementedError:
        raise
    except Exception as error:  # the student's module may fail in any way: report, don't crash
        return f"{label} raised {type(error).__name__}: {error}"


@reports_not_attempted
@one_thread()
def check_global_attention(student) -> Verdict:
    """The student's class `GlobalAttention(channels, width, num_scales=4)`, whose forward takes a list
    of num_scales feature maps (finest first, each half the size of the one before) and returns
    (fused, weights), against `hglearn.sadinet.GlobalAttention` with trained-looking BatchNorm
    statistics: parameter count, shapes, the features left unchanged, and, with the reference's
    weights given to the layers of the same role (in whatever order they were created), the values
    in eval and training mode and the gradients with respect to the features and every parameter;
    for a width different from and equal to the input's, the default and 2 to 4 scales, batches of
    1 and 2, non-square inputs."""
    cases = [
        ((8, 12, 4), (2, 8, 16, 16)),
        ((8, 8), (1, 8, 16, 24)),
        ((6, 4, 3), (2, 6, 12, 20)),
        ((4, 6, 2), (2, 4, 6, 10)),
    ]
    for args, input_shape in cases:
        if problem := global_attention_case(student, args, input_shape):
            return failed(problem)
    return passed(f"GlobalAttention matches the reference (parameters, values, gradients) in {len(cases)} "
                  "configurations")
