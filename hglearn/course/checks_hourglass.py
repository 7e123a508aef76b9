"""Checks for notebooks/04_hourglass_module.ipynb (nearest upsampling, the recursive hourglass, its
block count) and notebooks/05_stacking.ipynb (the merge between stacks, the stacked loss, the
merges' parameter count), each compared with `hglearn.hourglass` and `hglearn.losses`.

The module checks use `checks_blocks.compare_modules`: the reference's weights go to the student's
layers by role, so the branches may be created in any order.
"""
import torch
import torch.nn.functional as F
from torch import nn

from hglearn.blocks import Bottleneck, BottleneckDS
from hglearn.course.checking import Verdict, call, difference, failed, passed, reports_not_attempted, short
from hglearn.course.checks_blocks import check_count, compare_modules, gradient_problem, with_trained_batchnorm
from hglearn.hourglass import Hourglass, StackedHourglass
from hglearn.losses import stacked_heatmap_loss

__all__ = ["check_upsample_nearest", "check_hourglass", "check_hourglass_blocks",
           "check_merge", "check_stacked_loss", "check_merge_parameters"]


# --- 04 the hourglass module ----------------------------------------------------------------------


def upsample_nearest_reference(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="nearest")


@reports_not_attempted
def check_upsample_nearest(student) -> Verdict:
    """The student's nearest-neighbour upsampling against `F.interpolate(mode="nearest")`: square,
    non-square and 1×1 maps, batches of 1 and 2, the default factor and factors 2 and 3, float32 and
    float64 (the output keeps the input's dtype), the input left unchanged, and the gradient."""
    generator = torch.Generator().manual_seed(0)
    specs = [((1, 1, 2, 2), None, torch.float32), ((2, 3, 4, 4), None, torch.float32),
             ((1, 2, 3, 5), None, torch.float32), ((2, 1, 1, 1), None, torch.float32),
             ((1, 2, 3, 4), 3, torch.float32), ((2, 2, 3, 5), 2, torch.float64), ((2, 3, 2, 3), 3, torch.float64)]
    for shape, factor, dtype in specs:
        x = torch.randn(shape, generator=generator, dtype=dtype)
        f = 2 if factor is None else factor
        args = (x,) if factor is None else (x, factor)
        what = f"upsample_nearest{short(args)}" + (f" on {dtype}".replace("torch.", "") if dtype != torch.float32 else "")
        given = x.clone()
        got, error = call(student, given, *args[1:])
        if error is not None:
            return error
        if not isinstance(got, torch.Tensor):
            return failed(f"{what} returned {type(got).__name__}, expected a tensor")
        if not torch.equal(given, x):
            return failed(f"{what} changes its input x in place; it must return a new tensor")
        want = upsample_nearest_reference(x, f)
        if got.shape != want.shape:
            h, w = shape[-2:]
            hint = (": the output is twice the input, as if `factor` were always 2"
                    if f != 2 and tuple(got.shape) == (*shape[:2], 2 * h, 2 * w) else "")
            return failed(f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}{hint}")
        if got.dtype != want.dtype:
            return failed(f"{what}: dtype {got.dtype} for a {x.dtype} input (F.interpolate keeps the input's dtype)")
        if (problem := difference(got, want)) is not None:
            tiled = torch.equal(got, x.repeat(1, 1, f, f))
            hint = (f": it tiles the whole map {f}×{f} times (as x.repeat does) instead of copying each value into "
                    f"a {f}×{f} block") if tiled else ""
            return failed(f"{what}: {problem}{hint}")
    x = torch.randn(2, 3, 3, 5, generator=generator)
    mine, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    upstream = torch.randn(2, 3, 9, 15, generator=generator)
    got, error = call(student, mine, 3)
    if error is not None:
        return error
    what = "upsample_nearest(tensor(2, 3, 3, 5), 3)"
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        return failed(f"{what}: the output carries no gradient back to x (it is cut from the graph)")
    (got * upstream).sum().backward()
    (upsample_nearest_reference(theirs, 3) * upstream).sum().backward()
    if problem := gradient_problem(mine.grad, theirs.grad):
        return failed(f"{what}: {problem} x")
    return passed(f"upsample_nearest agrees with F.interpolate(mode=\"nearest\") on {len(specs)} inputs "
                  "(values, shape, dtype) and in its gradient")


class HourglassOut(nn.Module):
    """`hglearn.hourglass.Hourglass` returning only its output tensor: the library's forward also
    returns the encoder and decoder features, which the exercise leaves out."""

    def __init__(self, depth: int, channels: int, block: type[nn.Module] = Bottleneck):
        super().__init__()
        self.hourglass = Hourglass(depth, channels, block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hourglass(x).out  # the features are left out


def hourglass_reference(depth: int, channels: int, block: type[nn.Module] = Bottleneck) -> nn.Module:
    return with_trained_batchnorm(HourglassOut(depth, channels, block))


def describe_blocks(built: nn.Module, reference: nn.Module, args: tuple) -> str:
    """A parameter-count mismatch of an hourglass, in blocks: how many of the block it was given
    it holds, and whether its inner levels fell back to Bottleneck."""
    block = args[2] if len(args) > 2 else Bottleneck
    mine = sum(type(m) is block for m in built.modules())
    theirs = sum(type(m) is block for m in reference.modules())
    if block is not Bottleneck and (plain := sum(type(m) is Bottleneck for m in built.modules())):
        if not mine:
            return f": it builds Bottleneck blocks whatever `block` it is given ({block.__name__} here)"
        return (f": {mine} {block.__name__} blocks and {plain} Bottleneck blocks, the reference {theirs} "
                f"{block.__name__} blocks: the inner levels do not get `block` (pass it on to the inner hourglass)")
    return f" ({mine} {block.__name__} blocks, the reference {theirs})"


@reports_not_attempted
def check_hourglass(student) -> Verdict:
    """The student's recursive hourglass class, `Hourglass(depth, channels, block=Bottleneck)`, whose
    forward returns the output tensor, against `hglearn.hourglass.Hourglass` (BatchNorm statistics as
    after training): depths 1 to 3, an odd width, square and non-square inputs, batches of 1 and 2,
    and another block (`BottleneckDS`), which must reach every level. Branches may be created in any order."""
    cases = [((1, 9), [(2, 9, 6, 10)]), ((2, 8), [(1, 8, 16, 16)]), ((3, 16), [(1, 16, 16, 24)]),
             ((2, 8, BottleneckDS), [(2, 8, 8, 12)])]
    return compare_modules(student, hourglass_reference, cases, "Hourglass", describe=describe_blocks)


def hourglass_blocks_reference(depth: int) -> int:
    return sum(isinstance(m, Bottleneck) for m in Hourglass(depth, 8, Bottleneck).modules())


@reports_not_attempted
def check_hourglass_blocks(student) -> Verdict:
    """The student's formula for the number of residual blocks in an hourglass of a given depth,
    exactly and as an int, against a count of the blocks in `hglearn.hourglass.Hourglass`."""
    causes = [
        ("an hourglass without the block at the bottom that stands in for low2", lambda d: 3 * d),
        ("an hourglass with 4 blocks at every level, where only the bottom level has a block for low2 (the others hold an inner "
         "hourglass)", lambda d: 4 * d),
        ("an hourglass one level deeper", lambda d: 3 * d + 4),
        ("an hourglass one level shallower", lambda d: 3 * d - 2),
    ]
    return check_count(student, hourglass_blocks_reference, [(1,), (2,), (3,), (4,), (5,), (7,)], "hourglass_blocks",
                       causes)


# --- 05 stacking and intermediate supervision ----------------------------------------------------


class ReferenceMerge(nn.Module):
    """The merge between stack 1 and stack 2 of `hglearn.hourglass.StackedHourglass`, taken from a
    2-stack model: x + merge_features(f) + merge_heatmaps(heatmaps)."""

    def __init__(self, channels: int, num_joints: int):
        super().__init__()
        model = StackedHourglass(num_stacks=2, channels=channels, num_joints=num_joints, depth=1)
        self.merge_features, self.merge_heatmaps = model.merge_features[0], model.merge_heatmaps[0]

    def forward(self, x: torch.Tensor, f: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
        return x + self.merge_features(f) + self.merge_heatmaps(heatmaps)


@reports_not_attempted
def check_merge(student) -> Verdict:
    """The student's merge class, `Merge(channels, num_joints)` with forward(x, f, heatmaps), against
    the merge of `hglearn.hourglass.StackedHourglass`: widths above, equal to and below the number
    of joints, odd sizes, batches of 1 and 2, gradients to x, f and the heatmaps, the inputs left
    unchanged. The two convolutions may be created in either order."""
    cases = [((c, j), [(b, c, h, w), (b, c, h, w), (b, j, h, w)])
             for c, j, b, h, w in [(16, 4, 2, 8, 8), (32, 16, 1, 6, 4), (8, 8, 2, 5, 5), (5, 3, 2, 7, 5)]]
    return compare_modules(student, ReferenceMerge, cases, "Merge", input_names=("x", "f", "heatmaps"))


def stacked_loss_mistakes(heatmaps: torch.Tensor, target: torch.Tensor, weight: torch.Tensor):
    """Per-stack losses and losses of the usual mistakes, each with what it does."""
    squared = (heatmaps - target.unsqueeze(1)).square()  # (B, S, J, h, w)
    w = weight.unsqueeze(1)  # (B, 1, J)
    per_stack = (squared.mean(dim=(3, 4)) * w).mean(dim=(0, 2))  # (S,)
    per_stack_mistakes = [
        (squared.mean(dim=(0, 2, 3, 4)), "target_weight is not applied: joints of weight 0 count too"),
        ((squared.mean(dim=(3, 4)) * w).sum(dim=(0, 2)) / weight.sum(),
         "it divides by the number of joints of weight 1; the formula divides by all B·J·h·w values, masked or not"),
        ((heatmaps * w[..., None, None] - target.unsqueeze(1)).square().mean(dim=(0, 2, 3, 4)),
         "the weight masks the prediction only, so a joint of weight 0 still counts (0 − target)²"),
        ((squared.sum(dim=(3, 4)) * w).mean(dim=(0, 2)), "it sums over the h·w pixels instead of averaging"),
    ]
    loss_mistakes = [(per_stack[-1], "the loss is the last stack's alone; average over all stacks"),
                     (per_stack.sum(), "the loss sums the stacks; average them")]
    return per_stack_mistakes, loss_mistakes


def stacked_loss_hint(got, heatmaps: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> str:
    """The one usual mistake the student's (loss, per_stack) reproduces exactly, or ""."""
    per_stack_mistakes, loss_mistakes = stacked_loss_mistakes(heatmaps, target, weight)
    loss, per_stack = got
    want_per_stack = stacked_heatmap_loss(heatmaps, target, weight)[1]
    if difference(per_stack, want_per_stack) is not None:
        named = [why for wrong, why in per_stack_mistakes if difference(per_stack, wrong) is None]
    else:
        named = [why for wrong, why in loss_mistakes if difference(loss, wrong) is None]
    return f": {named[0]}" if len(named) == 1 else ""


@reports_not_attempted
def check_stacked_loss(student) -> Verdict:
    """The student's loss with intermediate supervision, returning (loss, per_stack), against
    `hglearn.losses.stacked_heatmap_loss` on random heatmaps with some target weights 0 (where the
    prediction is badly wrong and must not count): 1 to 4 stacks, as many stacks as images, odd and
    non-square heatmaps. The loss must be a 0-d tensor whose gradient reaches the heatmaps, per_stack
    an (S,) tensor, and the inputs must be left unchanged."""
    generator = torch.Generator().manual_seed(0)
    cases = []
    for b, s, j, h, w in [(2, 1, 3, 4, 4), (3, 2, 4, 5, 6), (2, 2, 3, 5, 3), (2, 4, 16, 8, 8)]:
        heatmaps = torch.randn(b, s, j, h, w, generator=generator)
        target = torch.rand(b, j, h, w, generator=generator)
        weight = (torch.rand(b, j, generator=generator) > 0.3).float()
        weight[0, 0], weight[-1, -1] = 0.0, 1.0  # at least one joint without a target, one with
        heatmaps[0, :, 0] += 10.0  # badly wrong where the weight is 0: it must not count
        heatmaps[:, -1] *= 0.5  # the stacks differ in their error
        cases.append((heatmaps, target, weight))
    for heatmaps, target, weight in cases:
        what = f"stacked_loss{short((heatmaps, target, weight))}"
        given = [t.clone() for t in (heatmaps, target, weight)]
        got, error = call(student, *given)
        if error is not None:
            return error
        for name, before, after in zip(("heatmaps", "target", "target_weight"), (heatmaps, target, weight), given):
            if not torch.equal(before, after):
                return failed(f"{what} changes its input `{name}` in place; it must leave its inputs as they are")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return failed(f"{what} returned {type(got).__name__} {short((got,), 50)}, expected (loss, per_stack)")
        loss, per_stack = got
        for name, value in (("loss", loss), ("per_stack", per_stack)):
            if not isinstance(value, torch.Tensor):
                return failed(f"{what}: {name} is a {type(value).__name__}, expected a tensor "
                              + ("(0-d: a Python number cannot be back-propagated)" if name == "loss" else "of shape (S,)"))
        want = stacked_heatmap_loss(heatmaps, target, weight)
        for name, value, expected in (("loss", loss, want[0]), ("per_stack", per_stack, want[1])):
            if value.shape != expected.shape:
                return failed(f"{what}: {name}: shape {tuple(value.shape)}, expected {tuple(expected.shape)}")
        for name, value, expected in (("loss", loss, want[0]), ("per_stack", per_stack, want[1])):
            if (problem := difference(value, expected)) is not None:
                return failed(f"{what}: {name}: {problem}{stacked_loss_hint(got, heatmaps, target, weight)}")
        mine, theirs = heatmaps.clone().requires_grad_(), heatmaps.clone().requires_grad_()
        got, error = call(student, mine, target, weight)
        if error is not None:
            return error
        if not isinstance(got[0], torch.Tensor) or not got[0].requires_grad:
            return failed(f"{what}: the loss carries no gradient back to the heatmaps (it is cut from the "
                          "graph), so backward() could not train the network")
        got[0].backward()
        stacked_heatmap_loss(theirs, target, weight)[0].backward()
        if problem := gradient_problem(mine.grad, theirs.grad):
            return failed(f"{what}: {problem} the heatmaps")
    return passed(f"stacked_loss agrees with hglearn.losses.stacked_heatmap_loss on {len(cases)} inputs "
                  "(loss, per-stack losses, gradient)")


def merge_parameters_reference(num_stacks: int, channels: int, num_joints: int) -> int:
    with torch.device("meta"):  # shapes only: nothing allocated or initialised
        model = StackedHourglass(num_stacks=num_stacks, channels=channels, num_joints=num_joints, depth=1)
    return sum(p.numel() for m in (model.merge_features, model.merge_heatmaps) for p in m.parameters())


MERGE_MISCOUNTS = [
    ("S merges; a network of S stacks has S − 1", lambda s, c, j: s * (c * c + c + j * c + c)),
    ("merges without biases", lambda s, c, j: (s - 1) * (c * c + j * c)),
    ("a heatmap convolution whose bias has J values; a bias has one value per output channel, C",
     lambda s, c, j: (s - 1) * (c * c + c + j * c + j)),
    ("the features' 1×1 convolution alone", lambda s, c, j: (s - 1) * (c * c + c)),
    ("the heatmaps' 1×1 convolution alone", lambda s, c, j: (s - 1) * (j * c + c)),
    ("a heatmap convolution from J to J channels; the merge maps the heatmaps to C",
     lambda s, c, j: (s - 1) * (c * c + c + j * j + j)),
]


@reports_not_attempted
def check_merge_parameters(student) -> Verdict:
    """The student's formula for the parameters of all merges of a stacked hourglass, exactly and as
    an int, against a count of `merge_features` and `merge_heatmaps` in `StackedHourglass`."""
    cases = [(2, 256, 16), (8, 256, 16), (1, 64, 16), (4, 64, 14), (3, 32, 11), (5, 7, 3)]
    return check_count(student, merge_parameters_reference, cases, "merge_parameters", MERGE_MISCOUNTS)
