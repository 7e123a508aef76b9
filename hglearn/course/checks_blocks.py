"""Checks for notebooks/03_residual_blocks.ipynb: the bottleneck, its parameter count, the MDLRB
and the squeeze-and-excitation block, each compared with `hglearn.blocks` and `hglearn.layers`.

The module checks (`compare_modules`, also used by `checks_hourglass`) give the student's module
the reference's weights by the role of each layer, not by the order the layers were created in:
the reference runs once and records what each of its layers receives; then, while the student's
module runs, every layer of it takes the weights of the reference layer of the same shapes that
received the same input (trying the other candidates where two such layers receive the same input,
as the two branches of the MDLRB do). So a student may create the layers in any order and name them
as they like; only the maths must agree. Then outputs are compared in eval mode (BatchNorm on
trained-looking statistics) and in training mode, the gradient reaching every input and every
parameter is compared, and the inputs must come back unchanged.

The counting checks (`check_count`) want the exact count, as an int.
"""
import contextlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from hglearn.blocks import MDLRB, Bottleneck
from hglearn.course.checking import Verdict, call, difference, failed, passed, reports_not_attempted, short
from hglearn.layers import SqueezeExcite

__all__ = ["check_bottleneck", "check_bottleneck_parameters", "check_mdlrb", "check_squeeze_excite"]


def with_trained_batchnorm(module: nn.Module) -> nn.Module:
    """`module` with every BatchNorm given random statistics and affine parameters, as after training.

    A freshly built BatchNorm in eval mode is the identity (mean 0, variance 1, weight 1, bias 0), so
    a check with it could not tell where a student put it; with these values it can. The values are
    drawn from a fixed generator, so the check is deterministic.
    """
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.BatchNorm2d):
                shape = layer.running_mean.shape
                layer.running_mean.copy_(torch.randn(shape, generator=generator) * 0.5)
                layer.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
                layer.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                layer.bias.copy_(torch.randn(shape, generator=generator) * 0.5)
    return module


# --- matching a student's layers with the reference's, by role ------------------------------------

Pair = tuple[str, torch.Tensor, torch.Tensor]  # (the student's name for a tensor, its tensor, the reference's)


def leaves(module: nn.Module) -> list[nn.Module]:
    """The modules that hold tensors of their own (convolutions, BatchNorms, ...), in creation order."""
    return [m for m in module.modules() if next(m.parameters(recurse=False), None) is not None
            or next(m.buffers(recurse=False), None) is not None]


def tensor_key(tensor: torch.Tensor) -> tuple[int, ...]:
    """A tensor's shape without trailing 1s past the second axis, so that a 1×1 convolution's
    weight (out, in, 1, 1) and a linear layer's (out, in) fit each other."""
    shape = tuple(tensor.shape)
    while len(shape) > 2 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def signature(leaf: nn.Module) -> tuple:
    return (tuple(sorted(tensor_key(p) for p in leaf.parameters(recurse=False))),
            tuple(sorted(tensor_key(b) for b in leaf.buffers(recurse=False))))


def leaf_pairs(target: nn.Module, source: nn.Module, names: dict[int, str] | None = None) -> list[Pair]:
    """The tensors of two leaves of the same signature, paired by name where the names agree (two
    BatchNorms), else by shape in creation order."""
    names, pairs = names or {}, []
    for kind in ("parameters", "buffers"):
        mine = dict(getattr(target, f"named_{kind}")(recurse=False))
        theirs = dict(getattr(source, f"named_{kind}")(recurse=False))
        if set(mine) == set(theirs) and all(tensor_key(mine[n]) == tensor_key(theirs[n]) for n in mine):
            pairs += [(names.get(id(t), n), t, theirs[n]) for n, t in mine.items()]
            continue
        pool = defaultdict(list)
        for tensor in theirs.values():
            pool[tensor_key(tensor)].append(tensor)
        pairs += [(names.get(id(t), n), t, pool[tensor_key(t)].pop(0)) for n, t in mine.items()]
    return pairs


def pairs_by_shape(student: nn.Module, reference: nn.Module) -> list[Pair] | None:
    """Every tensor of the student's module paired with one of the reference's of the same shape, in
    creation order, and given its values: the fallback when the two are not made of the same kinds
    of layers. None if the shapes cannot be paired one to one."""
    pairs = []
    for kind in ("parameters", "buffers"):
        pool = defaultdict(list)
        for tensor in getattr(reference, kind)():
            pool[tensor_key(tensor)].append(tensor)
        for name, tensor in getattr(student, f"named_{kind}")():
            if not pool[tensor_key(tensor)]:
                return None
            pairs.append((name, tensor, pool[tensor_key(tensor)].pop(0)))
        if any(pool.values()):
            return None
    copy_pairs(pairs)
    return pairs


def copy_pairs(pairs: list[Pair]) -> None:
    with torch.no_grad():
        for _, mine, theirs in pairs:
            mine.copy_(theirs.reshape(mine.shape))


def first_tensor(args: tuple) -> torch.Tensor | None:
    return next((a for a in args if isinstance(a, torch.Tensor)), None)


def same_values(got: torch.Tensor | None, want: torch.Tensor | None) -> bool:
    """Whether two layer inputs are the same values (compared flat, so (B, C, 1, 1) fits (B, C))."""
    if got is None or want is None or got.numel() != want.numel():
        return False
    got, want = got.detach().reshape(-1).double(), want.reshape(-1).double()
    return bool(((got - want).abs() <= 1e-4 * (1 + want.abs().max())).all())


class DeadEnd(Exception):
    """A layer of the student's module received an input that no free reference layer received."""


def run_assigning(student: nn.Module, inputs: Sequence[torch.Tensor], mine: dict[nn.Module, tuple],
                  groups: dict[tuple, list[nn.Module]], received: dict[nn.Module, torch.Tensor],
                  decisions: list[list[int]], strict: bool) -> tuple[dict[nn.Module, nn.Module] | None, int]:
    """Run the student's module once; each of its leaves (`mine`: leaf → signature), when first
    called, takes the weights of a free reference leaf of its signature (`groups`: signature →
    reference leaves) that received the same input. Where several did, `decisions` (one [choice,
    number of candidates] per call, extended as needed) picks one. Strict: a leaf whose input no
    reference leaf received ends the run (None). Leaves the run never called take the leftover
    reference leaves. Returns the assignment and the number of decisions used."""
    assigned: dict[nn.Module, nn.Module] = {}
    taken: set[int] = set()
    used = 0

    def before(leaf: nn.Module, args: tuple) -> None:
        nonlocal used
        if leaf in assigned:
            return
        candidates = [r for r in groups[mine[leaf]] if id(r) not in taken]
        fed = [r for r in candidates if same_values(first_tensor(args), received.get(r))]
        if not fed and strict:
            raise DeadEnd
        candidates = fed or candidates
        if not candidates:
            return
        if used == len(decisions):
            decisions.append([0, len(candidates)])
        choice = candidates[min(decisions[used][0], len(candidates) - 1)]
        used += 1
        assigned[leaf] = choice
        taken.add(id(choice))
        copy_pairs(leaf_pairs(leaf, choice))

    hooks = [leaf.register_forward_pre_hook(before) for leaf in mine]
    try:
        with torch.no_grad():
            student(*inputs)
    except NotImplementedError:
        raise
    except Exception:  # DeadEnd, or the student's code failing with these weights: no assignment
        return None, used
    finally:
        for hook in hooks:
            hook.remove()
    for leaf, key in mine.items():  # never called (or not through __call__): the leftovers of its signature
        if leaf not in assigned and (spare := [r for r in groups[key] if id(r) not in taken]):
            assigned[leaf] = spare[0]
            taken.add(id(spare[0]))
    return assigned, used


def match_by_role(student: nn.Module, reference: nn.Module, inputs: Sequence[torch.Tensor],
                  want: torch.Tensor, tries: int = 64) -> list[Pair] | None:
    """Give the student's module the reference's weights, each layer those of the reference layer
    with the same role (see the module docstring), and return the tensor pairs; None if the two
    cannot be paired tensor for tensor. Where no assignment reproduces the reference's output (the
    student's maths differ), the last one tried is kept, for the verdict to say what differs."""
    mine, theirs = {leaf: signature(leaf) for leaf in leaves(student)}, leaves(reference)
    groups = defaultdict(list)
    for leaf in theirs:
        groups[signature(leaf)].append(leaf)
    names = {id(t): n for n, t in [*student.named_parameters(), *student.named_buffers()]}
    if sorted(mine.values()) != sorted(signature(leaf) for leaf in theirs):
        return pairs_by_shape(student, reference)
    received: dict[nn.Module, torch.Tensor] = {}

    def record(leaf: nn.Module, args: tuple) -> None:
        if leaf not in received and (x := first_tensor(args)) is not None:
            received[leaf] = x.detach().clone()

    hooks = [leaf.register_forward_pre_hook(record) for leaf in theirs]
    try:
        with torch.no_grad():
            reference(*inputs)
    finally:
        for hook in hooks:
            hook.remove()

    def finish(assigned: dict[nn.Module, nn.Module]) -> list[Pair] | None:
        if len(assigned) < len(mine):
            return None
        pairs = [pair for leaf in mine for pair in leaf_pairs(leaf, assigned[leaf], names)]
        copy_pairs(pairs)
        return pairs

    decisions: list[list[int]] = []
    for _ in range(tries):
        assigned, used = run_assigning(student, inputs, mine, groups, received, decisions, strict=True)
        if assigned is not None and (pairs := finish(assigned)) is not None:
            with torch.no_grad():
                got, error = call(student, *inputs)
            if error is None and isinstance(got, torch.Tensor) and difference(got, want, atol=1e-4) is None:
                return pairs
        del decisions[used:]  # back to the last call with a candidate left untried
        while decisions and decisions[-1][0] + 1 >= decisions[-1][1]:
            decisions.pop()
        if not decisions:
            break
        decisions[-1][0] += 1
    assigned, _ = run_assigning(student, inputs, mine, groups, received, [], strict=False)
    return (assigned and finish(assigned)) or pairs_by_shape(student, reference)


# --- comparing a module with the reference --------------------------------------------------------


def shown(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else repr(value)


def label(name: str, args: tuple) -> str:
    return f"{name}({', '.join(shown(a) for a in args)})"


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def layout_problem(module: nn.Module) -> str | None:
    """Why a module may count fewer parameters than it uses: layers with parameters kept in a plain
    list or dict, which PyTorch does not register, or one layer used in two places."""
    registered = set(map(id, module.modules()))
    for owner_name, owner in module.named_modules():
        for attribute, value in vars(owner).items():
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
            hidden = [v for v in items if isinstance(v, nn.Module) and id(v) not in registered and count(v)]
            if attribute != "_modules" and hidden:
                where = f"{owner_name}.{attribute}" if owner_name else attribute
                return (f"keeps layers in a plain Python {type(value).__name__} (`{where}`), which PyTorch does not "
                        "register: their parameters are not counted, trained or moved. Use nn.ModuleList or nn.ModuleDict")
    places = defaultdict(list)
    for name, sub in module.named_modules(remove_duplicate=False):
        if name and count(sub):  # pre-order: a shared block comes before its shared layers
            places[id(sub)].append(name)
    if shared := next((names for names in places.values() if len(names) > 1), None):
        return (f"has one layer under two names ({' and '.join(f'`{n}`' for n in shared)}); if it is used in two "
                "places, each place needs a layer, with its own weights")
    return None


def parameters_by_kind(module: nn.Module) -> Counter:
    kinds = Counter()
    for leaf in leaves(module):
        kinds[type(leaf).__name__] += sum(p.numel() for p in leaf.parameters(recurse=False))
    return kinds


def count_difference(built: nn.Module, reference: nn.Module) -> str:
    """Where the parameter counts differ, by kind of layer: "Conv2d 2,208 vs 2,256"."""
    mine, theirs = parameters_by_kind(built), parameters_by_kind(reference)
    differ = [f"{kind} {mine[kind]:,} vs {theirs[kind]:,}" for kind in sorted(set(mine) | set(theirs))
              if mine[kind] != theirs[kind]]
    return f" (by kind of layer, yours vs the reference: {'; '.join(differ)})" if differ else ""


def unpaired(built: nn.Module, reference: nn.Module) -> str:
    """Why the tensors of two modules with the same parameter count cannot be paired by shape."""
    for kind, what in (("buffers", "buffers (BatchNorm running statistics)"), ("parameters", "parameter shapes")):
        mine = Counter(tensor_key(t) for t in getattr(built, kind)())
        theirs = Counter(tensor_key(t) for t in getattr(reference, kind)())
        if mine != theirs:
            if kind == "buffers" and sum(mine.values()) != sum(theirs.values()):
                return f"it holds {sum(mine.values())} {what}, the reference {sum(theirs.values())}"
            extra, missing = sorted(mine - theirs), sorted(theirs - mine)
            return (f"its {what} differ from the reference's (yours has {extra[:3] or 'none'} where the reference "
                    f"has {missing[:3] or 'none'})")
    return "its tensors cannot be paired with the reference's"


def gradient_problem(got: torch.Tensor | None, want: torch.Tensor | None) -> str | None:
    if want is None or not want.abs().sum():
        return None
    if got is None or not got.abs().sum():
        return "no gradient reaches"
    scale = float(want.abs().max())
    if (problem := difference(got, want, rtol=1e-3, atol=1e-4 * scale)) is not None:
        return f"the gradient differs ({problem}) for"
    return None


def compare_case(student: Callable[..., nn.Module], reference: Callable[..., nn.Module], args: tuple,
                 shapes: Sequence[tuple[int, ...]], name: str, input_names: Sequence[str],
                 describe: Callable[[nn.Module, nn.Module, tuple], str] | None) -> Verdict | None:
    """One configuration of `compare_modules`: None if the student's module agrees in every way."""
    what = label(name, args)
    torch.manual_seed(0)
    built, error = call(student, *args)
    if error is not None:
        return error
    if not isinstance(built, nn.Module):
        return failed(f"{what} built a {type(built).__name__}, not an nn.Module")
    torch.manual_seed(0)
    expected = reference(*args).eval()
    got_count, want_count = count(built), count(expected)
    if got_count != want_count:
        if problem := layout_problem(built):
            return failed(f"{what} has {got_count:,} parameters, the reference {want_count:,}: it {problem}")
        hint = describe(built, expected, args) if describe else count_difference(built, expected)
        return failed(f"{what} has {got_count:,} parameters, the reference {want_count:,}{hint}")

    generator = torch.Generator().manual_seed(sum(map(sum, shapes)))
    inputs = [torch.randn(shape, generator=generator) for shape in shapes]
    on = f"{what} on {' and '.join(f'{n} {tuple(s)}' for n, s in zip(input_names, shapes))}"
    given = [x.clone() for x in inputs]
    with torch.no_grad():
        want = expected(*inputs)
        got, error = call(built.eval(), *given)
    if error is not None:
        return error
    if not isinstance(got, torch.Tensor):
        return failed(f"{on}: forward returned {type(got).__name__} {short((got,), 60)}, expected one tensor")
    if got.shape != want.shape:
        return failed(f"{on}: output shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    for input_name, before, after in zip(input_names, inputs, given):
        if not torch.equal(before, after):
            return failed(f"{on}: forward changes its input `{input_name}` in place; it must leave its inputs "
                          "as they are and return a new tensor")

    pairs = match_by_role(built, expected, inputs, want)
    if pairs is None:
        return failed(f"{what}: {unpaired(built, expected)}, so the reference's weights cannot be copied in")
    with torch.no_grad():
        got, error = call(built, *inputs)
    if error is not None:
        return error
    if (problem := difference(got, want, atol=1e-4)) is not None:
        return failed(f"{on}, with the reference's weights: {problem}")

    leaves_in, leaves_ref = [x.clone().requires_grad_() for x in inputs], [x.clone().requires_grad_() for x in inputs]
    upstream = torch.randn(want.shape, generator=generator)
    (expected(*leaves_ref) * upstream).sum().backward()
    got, error = call(built, *leaves_in)
    if error is not None:
        return error
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        return failed(f"{on}: the output carries no gradient back to the inputs or the parameters "
                      "(it is cut from the graph)")
    try:
        (got * upstream).sum().backward()
    except RuntimeError as error:
        return failed(f"{on}: backward() raised RuntimeError: {error}")
    for input_name, mine, theirs in zip(input_names, leaves_in, leaves_ref):
        if problem := gradient_problem(mine.grad, theirs.grad):
            return failed(f"{on}, with the reference's weights: {problem} the input `{input_name}`")
    for tensor_name, mine, theirs in pairs:
        want_grad = None if theirs.grad is None else theirs.grad.reshape(mine.shape)
        if isinstance(theirs, nn.Parameter) and (problem := gradient_problem(mine.grad, want_grad)):
            return failed(f"{on}, with the reference's weights: {problem} the parameter `{tensor_name}`")

    built.train()
    expected.train()
    with torch.no_grad():
        want, (got, error) = expected(*inputs), call(built, *inputs)
    if error is not None:
        return error
    if (problem := difference(got, want, atol=1e-4)) is not None:
        return failed(f"{on}, with the reference's weights, in training mode (BatchNorm on the batch's "
                      f"statistics): {problem}")
    for tensor_name, mine, theirs in pairs:
        if not isinstance(theirs, nn.Parameter) and difference(mine, theirs.reshape(mine.shape)) is not None:
            return failed(f"{on}: after a forward in training mode the buffer `{tensor_name}` differs from the "
                          "reference's (BatchNorm's running statistics are updated differently)")
    return None


@contextlib.contextmanager
def one_thread():
    """Run PyTorch on one thread meanwhile: the checks' tensors are tiny, and on a busy 2-core machine
    a second thread only waits for the first (ten times slower, measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def compare_modules(student: Callable[..., nn.Module], reference: Callable[..., nn.Module],
                    cases: Sequence[tuple[tuple, Sequence[tuple[int, ...]]]], name: str,
                    input_names: Sequence[str] = ("x",),
                    describe: Callable[[nn.Module, nn.Module, tuple], str] | None = None) -> Verdict:
    """Build `student(*args)` and `reference(*args)` for every (args, input shapes) case and compare
    them: the layers' layout and parameter count; then, on random inputs, the output's type and
    shape and that the inputs are left unchanged; then, with the reference's weights given to the
    student's layers by role, the outputs in eval mode, the gradients reaching every input and
    parameter, and the outputs and BatchNorm statistics in training mode. `describe(built,
    reference, args)` words a parameter-count mismatch (default: the counts by kind of layer)."""
    with one_thread():
        for args, shapes in cases:
            if (verdict := compare_case(student, reference, args, shapes, name, input_names, describe)) is not None:
                return verdict
    return passed(f"{name} matches the reference in {len(cases)} configurations: parameters, outputs in eval "
                  "and training mode, gradients")


# --- exact counts ---------------------------------------------------------------------------------


def check_count(student: Callable[..., Any], reference: Callable[..., int], cases: Sequence[tuple], name: str,
                causes: Sequence[tuple[str, Callable[..., int]]] = ()) -> Verdict:
    """Compare the student's count with the reference's, exactly and as an int, on every case. When
    the student's numbers are, on every case, those of exactly one of the `causes` (what a usual
    mistake counts, "a bottleneck without ...", and the count it gives), the verdict names it;
    otherwise it says what differs."""
    got = []
    for case in cases:
        value, error = call(student, *case)
        if error is not None:
            return error
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            return failed(f"{name}{short(case)} returned {type(value).__name__} {value!r:.30}: a count is an int "
                          "(a division with / gives a float, // an int)")
        got.append(int(value))
    for case, value in zip(cases, got):
        if value != (want := reference(*case)):
            named = [cause for cause, formula in causes if all(formula(*c) == g for c, g in zip(cases, got))]
            hint = f": that is the count of {named[0]}" if len(named) == 1 else ""
            return failed(f"{name}{short(case)} = {value:,} instead of {want:,}{hint}")
    return passed(f"{name} gives the exact count on {len(cases)} inputs")


# --- 03 the checks ----------------------------------------------------------------------------------


@reports_not_attempted
def check_bottleneck(student) -> Verdict:
    """The student's bottleneck class, `Block(cin, cout)`, against `hglearn.blocks.Bottleneck`
    (BatchNorm statistics as after training): equal and different widths, an odd output width,
    batches of 1 and 2, square, non-square and odd-sized inputs. Layers may be created in any order."""
    cases = [((16, 16), [(2, 16, 8, 8)]), ((8, 16), [(2, 8, 6, 6)]), ((32, 16), [(1, 32, 5, 7)]),
             ((5, 7), [(2, 5, 5, 3)])]
    return compare_modules(student, lambda cin, cout: with_trained_batchnorm(Bottleneck(cin, cout)), cases,
                           "Bottleneck", describe=describe_bottleneck)


def bottleneck_count(cin: int, cout: int, mid: int | None = None, per_channel: int = 2, bias: int = 1,
                     shortcut: bool = True, shortcut_bias: int = 1, always: bool = False) -> int:
    """The parameters of a bottleneck, and of its usual miscounts: three BatchNorms (`per_channel`
    each), three convolutions, and the 1×1 shortcut when cin ≠ cout (or `always`)."""
    mid = cout // 2 if mid is None else mid
    total = per_channel * (cin + 2 * mid) + cin * mid + 9 * mid * mid + mid * cout + bias * (2 * mid + cout)
    if shortcut and (cin != cout or always):
        total += cin * cout + shortcut_bias * cout
    return total


def bottleneck_parameters_reference(cin: int, cout: int) -> int:
    return count(Bottleneck(cin, cout))


BOTTLENECK_MISCOUNTS = [
    ("a bottleneck without the 1×1 shortcut convolution that cin ≠ cout needs",
     lambda a, b: bottleneck_count(a, b, shortcut=False)),
    ("a bottleneck whose 1×1 shortcut has no bias", lambda a, b: bottleneck_count(a, b, shortcut_bias=0)),
    ("a bottleneck with a 1×1 shortcut even when cin == cout, where the shortcut is the identity",
     lambda a, b: bottleneck_count(a, b, always=True)),
    ("a bottleneck without its BatchNorms (2 parameters per channel each)",
     lambda a, b: bottleneck_count(a, b, per_channel=0)),
    ("a bottleneck with 4 parameters per BatchNorm channel (the running mean and variance are buffers, not "
     "parameters)",
     lambda a, b: bottleneck_count(a, b, per_channel=4)),
    ("a bottleneck whose convolutions have no bias", lambda a, b: bottleneck_count(a, b, bias=0, shortcut_bias=0)),
    ("a bottleneck whose half width is rounded up (m = cout // 2 rounds down)",
     lambda a, b: bottleneck_count(a, b, mid=(b + 1) // 2)),
    ("a bottleneck whose half width comes from cin (m = cout // 2)", lambda a, b: bottleneck_count(a, b, mid=a // 2)),
]


def describe_bottleneck(built: nn.Module, reference: nn.Module, args: tuple) -> str:
    """A bottleneck's parameter-count mismatch: the usual mistake with that count, if exactly one
    has it, else the counts by kind of layer."""
    named = [cause for cause, formula in BOTTLENECK_MISCOUNTS if formula(*args) == count(built)]
    return f": that is the count of {named[0]}" if len(named) == 1 else count_difference(built, reference)


@reports_not_attempted
def check_bottleneck_parameters(student) -> Verdict:
    """The student's formula for the parameters of `Bottleneck(cin, cout)`, exactly, against a count
    of the built module: Newell's widths, a 1×1 shortcut (cin ≠ cout) both ways, and odd widths."""
    cases = [(256, 256), (128, 128), (64, 128), (128, 256), (256, 64), (16, 16), (7, 7), (6, 11), (9, 4)]
    return check_count(student, bottleneck_parameters_reference, cases, "bottleneck_parameters", BOTTLENECK_MISCOUNTS)


@reports_not_attempted
def check_mdlrb(student) -> Verdict:
    """The student's MDLRB class, `Block(cin, cout)`, against `hglearn.blocks.MDLRB` (dilations 2
    and 3, BatchNorm statistics as after training): equal and different widths, an odd output width,
    square and non-square inputs. Layers, and the two branches, may be created in any order."""
    cases = [((16, 16), [(2, 16, 9, 9)]), ((32, 32), [(1, 32, 12, 8)]), ((8, 16), [(2, 8, 7, 7)]),
             ((12, 7), [(2, 12, 7, 5)])]
    return compare_modules(student, lambda cin, cout: with_trained_batchnorm(MDLRB(cin, cout)), cases, "MDLRB")


@reports_not_attempted
def check_squeeze_excite(student) -> Verdict:
    """The student's SE class, `SE(channels, reduction=16)`, against `hglearn.layers.SqueezeExcite`:
    reductions 2, 4 and 16, the default, a width below the reduction (one hidden unit), batches of
    1 to 3. W1 and W2 may be created in either order (and be linear layers)."""
    cases = [((32, 4), [(2, 32, 5, 5)]), ((64, 16), [(2, 64, 3, 4)]), ((8, 16), [(2, 8, 4, 4)]),
             ((48,), [(2, 48, 6, 6)]), ((6, 2), [(3, 6, 3, 5)]), ((16, 4), [(1, 16, 2, 3)])]
    return compare_modules(student, SqueezeExcite, cases, "SqueezeExcite", describe=describe_squeeze_excite)


def describe_squeeze_excite(built: nn.Module, reference: nn.Module, args: tuple) -> str:
    """An SE block's parameter-count mismatch: the reduction left at its default, or no floor at one
    hidden unit, when the count says so; else the counts by kind of layer."""
    channels, reduction = (*args, 16)[:2]
    if reduction != 16 and count(built) == count(SqueezeExcite(channels)):
        return f": as many as with the default reduction 16, so `reduction` ({reduction} here) is not used"
    if channels // reduction == 0 and count(built) == channels:
        return (f": {channels} // {reduction} is 0 hidden units here; the hidden width is "
                "max(channels // reduction, 1)")
    return count_difference(built, reference)
