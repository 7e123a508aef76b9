"""Checks for notebooks/01_dilated_convolutions.ipynb and notebooks/02_depthwise_separable.ipynb.

The references are the library's (`hglearn.layers`) where it has one. Two have no library
function, so their small references live here and the notebooks' later cells import them:
`gridding_mask` (which input offsets a stack of dilated 3×3 convolutions reaches) and
`conv_flops` (fvcore's count for one convolution layer on a feature map, whereas
`hglearn.profiling.count_flops` takes a whole model fed an RGB image).

The function checks also fail a result of another type than the docstring's (64.0 for an int) and
code that changes its input; a hint names a usual mistake only when the student's results are that
mistake's on every case (`hglearn.course.checking.check_function_strictly`). The layer check copies
the reference's weights into the student's module in any order its shapes allow, so the layers may
be created and named as the student likes.
"""
import itertools
import math
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from hglearn.course.checking import (A_BOOL_ARRAY, AN_INT, Verdict, call, check_function_strictly, described,
                                     difference, failed, passed, reports_not_attempted, short, unchanged)
from hglearn.layers import DepthwiseSeparableConv2d, conv_output_size, receptive_field
from hglearn.models import count_parameters

__all__ = [
    "check_conv_output_size", "check_receptive_field", "check_gridding_mask",
    "check_conv_params", "check_depthwise_separable", "check_conv_flops",
]


# --- 01: dilated convolutions ------------------------------------------------------------------


def gridding_mask(dilations) -> np.ndarray:
    """(R, R) bool, R = 1 + 2·Σ dilations: which input pixels can influence one output pixel of a
    stack of 3×3 convolutions (stride 1) with these dilations, the output pixel's own position at
    the centre, (R // 2, R // 2).

    A 3×3 convolution of dilation d reaches the offsets {−d, 0, d} along each axis; a stack reaches
    every sum of one offset per layer (the Minkowski sum), and the 2-D set is the product of the
    1-D sets, since rows and columns are chosen independently.
    """
    reach = np.zeros(1, dtype=bool)
    reach[0] = True  # offset 0 before any layer
    for d in dilations:
        wider = np.zeros(len(reach) + 2 * d, dtype=bool)
        for shift in (0, d, 2 * d):  # offsets −d, 0, +d
            wider[shift:shift + len(reach)] |= reach
        reach = wider
    return np.outer(reach, reach)


# The usual mistakes of notebook 01, as the results they give.

def _size_without_dilation(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - (kernel - 1) - 1) // stride + 1


def _size_spanning_dilation_times_kernel(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * kernel) // stride + 1


def _size_without_plus_one(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride


def _size_padded_once(size, kernel, stride, padding, dilation):
    return (size + padding - dilation * (kernel - 1) - 1) // stride + 1


def _size_not_rounded_down(rounding):
    return lambda size, kernel, stride, padding, dilation: rounding(
        (size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1


ROUND_DOWN = "with a stride, divide, round down (//), then add 1"
OUTPUT_SIZE_MISTAKES = [  # (the results of a usual mistake, its hint)
    (_size_without_dilation, "the dilation: a dilated kernel spans dilation·(kernel − 1) + 1 pixels"),
    (_size_spanning_dilation_times_kernel, "a dilated kernel spans dilation·(kernel − 1) + 1 pixels, not "
                                           "dilation·kernel"),
    (_size_without_plus_one, "the + 1: the kernel's first position comes before any stride step"),
    (_size_padded_once, "the padding: p pixels are added on each side, 2p in all"),
    (_size_not_rounded_down(math.ceil), ROUND_DOWN),
    (_size_not_rounded_down(round), ROUND_DOWN),
    (_size_not_rounded_down(float), ROUND_DOWN),  # / alone: not rounded at all
]


@reports_not_attempted
def check_conv_output_size(student) -> Verdict:
    """student(size, kernel, stride, padding, dilation) against `hglearn.layers.conv_output_size`: an int."""
    cases = [
        (64, 3, 1, 1, 1), (64, 3, 1, 0, 1), (256, 7, 2, 3, 1), (64, 2, 2, 0, 1),  # Newell's stem and pooling
        (65, 3, 2, 1, 1), (64, 3, 2, 0, 1), (10, 3, 2, 0, 1), (41, 3, 3, 0, 1),  # strides that do not divide: the floor
        (32, 3, 1, 2, 2), (32, 3, 1, 3, 3), (32, 3, 1, 0, 2), (20, 5, 2, 1, 3), (9, 1, 1, 0, 4),
    ]
    return check_function_strictly(student, conv_output_size, cases, "conv_output_size", returns=AN_INT,
                                   rtol=0, atol=0, mistakes=OUTPUT_SIZE_MISTAKES)


def _field_without_dilation(layers):
    return receptive_field([(kernel, stride, 1) for kernel, stride, _ in layers])


def _field_without_jump(layers):
    return 1 + sum(dilation * (kernel - 1) for kernel, _, dilation in layers)


def _field_with_jump_too_early(layers):
    rf, jump = 1, 1
    for kernel, stride, dilation in layers:
        jump *= stride
        rf += dilation * (kernel - 1) * jump
    return rf


def _field_from_zero(layers):
    return receptive_field(layers) - 1


def _field_with_whole_kernels(layers):
    rf, jump = 1, 1
    for kernel, stride, dilation in layers:
        rf += dilation * kernel * jump
        jump *= stride
    return rf


def _field_doubling_jump(layers):
    return receptive_field([(kernel, 2 if stride > 1 else 1, dilation) for kernel, stride, dilation in layers])


JUMP = ("the jump: a layer's taps lie jump input pixels apart, jump being the product of the strides of the "
        "layers before it")
RECEPTIVE_FIELD_MISTAKES = [  # (the results of a usual mistake, its hint)
    (_field_without_dilation, "the dilation: each layer adds dilation·(kernel − 1)·jump"),
    (_field_without_jump, JUMP),
    (_field_with_jump_too_early, "the jump: a layer's own stride spaces the layers after it, not its own taps; jump "
                                 "is the product of the strides of the layers before it"),
    (_field_from_zero, "r_0 = 1: with no layer at all, an output pixel sees the one input pixel under it"),
    (_field_with_whole_kernels, "a kernel of k taps spans k − 1 gaps: each layer adds "
                                "dilation·(kernel − 1)·jump"),
    (_field_doubling_jump, "the jump multiplies by each layer's stride, whatever it is, not by 2"),
]


@reports_not_attempted
def check_receptive_field(student) -> Verdict:
    """student(layers) on lists of (kernel, stride, dilation) against `hglearn.layers.receptive_field`:
    an int, the list left unchanged."""
    cases = [
        ([],),
        ([(3, 1, 1)],),
        ([(3, 1, 1)] * 3,),  # 7
        ([(3, 1, 2)] * 3,),  # 13
        ([(3, 1, 1), (3, 1, 2), (3, 1, 3)],),  # 13, without the holes (see gridding)
        ([(3, 2, 1), (3, 1, 1)],),  # a stride widens every later layer: 7
        ([(7, 2, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1), (3, 1, 1)],),  # a stem like Newell's
        ([(3, 1, 1), (2, 2, 1), (3, 1, 2), (2, 2, 1), (3, 1, 3)],),
        ([(5, 3, 1), (3, 1, 2), (3, 2, 1), (3, 1, 1)],),  # a stride of 3: 35
    ]
    return check_function_strictly(student, receptive_field, cases, "receptive_field", returns=AN_INT,
                                   rtol=0, atol=0, mistakes=RECEPTIVE_FIELD_MISTAKES)


def _gridding_line(dilations) -> np.ndarray:
    return gridding_mask(dilations)[sum(dilations)]


def _full_window(dilations):
    return np.ones((1 + 2 * sum(dilations),) * 2, dtype=bool)


def _common_factor_lattice(dilations):
    half, factor = sum(dilations), math.gcd(*dilations) if dilations else 1
    line = np.arange(-half, half + 1) % factor == 0
    return np.outer(line, line)


def _row_or_column(dilations):
    line = _gridding_line(dilations)
    return line[:, None] | line[None, :]


def _taps_alone(dilations):
    half = sum(dilations)
    line = np.zeros(2 * half + 1, dtype=bool)
    line[half] = True
    for d in dilations:
        line[[half - d, half + d]] = True
    return np.outer(line, line)


def _not_centred(dilations):
    line = np.roll(_gridding_line(dilations), -sum(dilations))  # offset o at index o, negative ones wrapped
    return np.outer(line, line)


GRIDDING_MISTAKES = [  # (the results of a usual mistake, its hint)
    (_full_window, "every pixel of the receptive field marked: a dilated kernel skips the pixels between its taps"),
    (_common_factor_lattice, "every multiple of the rates' common factor marked: the stack reaches only the "
                             "sums o_1 + … + o_L, o_l ∈ {−d_l, 0, d_l}, which leave holes even for rates "
                             "that share no factor, such as 2 and 3"),
    (_row_or_column, "marked where the row OR the column is reached: offset (dy, dx) needs both (np.outer of the "
                     "1-D mask with itself)"),
    (_taps_alone, "only each layer's own taps marked: a stack reaches every sum of one offset per layer"),
    (_not_centred, "not centred: offset 0 is at index R // 2, so offset o is at o + R // 2 (a negative index counts "
                   "from the end)"),
]


@reports_not_attempted
def check_gridding_mask(student) -> Verdict:
    """student(dilations) against `gridding_mask`, the reachable input offsets of 3×3 convolutions:
    a bool array."""
    cases = [((),), ((1,),), ((2,),), ((1, 1),), ((2, 2, 2),), ((1, 2, 3),), ((3, 3),), ((1, 2, 5),), ((2, 4),),
             ((2, 3),), ([1, 4],)]  # 2 and 3, 1 and 4 share no factor, yet leave holes; a list works too
    return check_function_strictly(student, gridding_mask, cases, "gridding_mask", returns=A_BOOL_ARRAY,
                                   mistakes=GRIDDING_MISTAKES)


# --- 02: depthwise-separable convolutions ------------------------------------------------------


def build_conv(cin: int, cout: int, kernel: int, separable: bool) -> nn.Module:
    """A k×k convolution that keeps the size, with bias: standard, or `DepthwiseSeparableConv2d`."""
    if separable:
        return DepthwiseSeparableConv2d(cin, cout, kernel)
    return nn.Conv2d(cin, cout, kernel, padding=(kernel - 1) // 2)


def conv_params(cin: int, cout: int, kernel: int, separable: bool = False) -> int:
    """Parameters (biases included) of `build_conv(cin, cout, kernel, separable)`, counted on the layer."""
    return count_parameters(build_conv(cin, cout, kernel, separable))


def conv_flops(cin: int, cout: int, kernel: int, size: int, separable: bool = False) -> int:
    """fvcore's FLOPs (one multiply-add = one FLOP; biases not counted) of `build_conv(...)` on a
    (1, cin, size, size) feature map, whose output is (1, cout, size, size)."""
    from fvcore.nn import FlopCountAnalysis  # imported here, as in hglearn.profiling

    analysis = FlopCountAnalysis(build_conv(cin, cout, kernel, separable).eval(), torch.zeros(1, cin, size, size))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


def _params(biases: str = "both", separable_as: str = "separable", depthwise_groups: bool = True,
            pointwise_kernel: bool = False):
    """`conv_params` with one usual mistake: `biases` "both", "none", "no standard", "no separable",
    "no depthwise" or "no pointwise"; the separable layer counted as a standard one; the depthwise
    convolution without groups; the pointwise one with the k×k kernel."""
    def params(cin, cout, kernel, separable=False):
        if not separable or separable_as == "standard":
            return kernel**2 * cin * cout + (cout if biases in ("both", "no separable", "no depthwise",
                                                                 "no pointwise") else 0)
        depthwise = kernel**2 * cin * (cin if not depthwise_groups else 1)
        pointwise = cin * cout * (kernel**2 if pointwise_kernel else 1)
        depthwise_bias = cin if biases in ("both", "no standard", "no pointwise") else 0
        pointwise_bias = cout if biases in ("both", "no standard", "no depthwise") else 0
        return depthwise + depthwise_bias + pointwise + pointwise_bias
    return params


BIASES = ("count the biases: every convolution has one per output channel, cout for a standard one, cin for the "
          "depthwise and cout for the pointwise half")
ONE_BIAS = "one bias is missing: the depthwise convolution has cin biases and the pointwise one cout"
PARAMS_MISTAKES = [  # (the results of a usual mistake, its hint)
    (_params(biases="none"), BIASES),
    (_params(biases="no separable"), BIASES),
    (_params(biases="no standard"), BIASES),
    (_params(biases="no depthwise"), ONE_BIAS),
    (_params(biases="no pointwise"), ONE_BIAS),
    (_params(separable_as="standard"), "separable=True is the depthwise-separable layer: k²·cin + cin (depthwise) "
                                       "+ cin·cout + cout (pointwise)"),
    (_params(depthwise_groups=False), "the depthwise convolution has one k×k filter per channel (groups=cin): "
                                      "k²·cin weights, not k²·cin²"),
    (_params(pointwise_kernel=True), "the pointwise convolution is 1×1: cin·cout weights, with no k²"),
]


@reports_not_attempted
def check_conv_params(student) -> Verdict:
    """student(cin, cout, kernel, separable) against the parameters of the layers themselves: an int."""
    cases = [(3, 16, 3, False), (3, 16, 3, True), (32, 64, 3, False), (32, 64, 3, True),
             (64, 64, 5, True), (128, 256, 1, False), (128, 256, 1, True), (7, 5, 7, True)]
    with torch.random.fork_rng(devices=[]):  # the layers' random weights leave the notebook's seed alone
        return check_function_strictly(student, conv_params, cases, "conv_params", returns=AN_INT, rtol=0, atol=0,
                                       mistakes=PARAMS_MISTAKES)


def _flops(mistake: str):
    """`conv_flops` with one usual mistake, named by `mistake`."""
    def flops(cin, cout, kernel, size, separable=False):
        pixels = size - kernel + 1 if mistake == "no padding" else size
        pixels = {"one axis": pixels, "no pixels": 1}.get(mistake, pixels * pixels)
        if separable:
            depthwise = 0 if mistake == "no depthwise" else kernel**2 * cin * (cin if mistake == "no groups" else 1)
            pointwise = 0 if mistake == "no pointwise" else cin * cout
            count, biases = (depthwise + pointwise) * pixels, (cin + cout) * pixels
        else:
            count, biases = kernel**2 * cin * cout * pixels, cout * pixels
        return {"two per multiply-add": 2 * count, "biases": count + biases}.get(mistake, count)
    return flops


FLOPS_MISTAKES = [  # (the results of a usual mistake, its hint)
    (_flops("two per multiply-add"), "fvcore counts one multiply-add as ONE flop, not two"),
    (_flops("biases"), "biases are not counted: only the multiply-adds"),
    (_flops("no depthwise"), "the depthwise half: k²·cin·H·W multiply-adds, then the pointwise cin·cout·H·W"),
    (_flops("no pointwise"), "the pointwise half: cin·cout·H·W multiply-adds after the depthwise k²·cin·H·W"),
    (_flops("no groups"), "the depthwise convolution has one k×k filter per channel (groups=cin): k²·cin "
                          "multiply-adds per pixel, not k²·cin²"),
    (_flops("one axis"), "a size × size output has size² pixels: multiply by H·W"),
    (_flops("no pixels"), "that is per output pixel: multiply by the H·W = size² pixels"),
    (_flops("no padding"), "the layer is \"same\"-padded: its output is size × size, like its input"),
]


@reports_not_attempted
def check_conv_flops(student) -> Verdict:
    """student(cin, cout, kernel, size, separable) against fvcore's count on the layer itself: an int."""
    cases = [(3, 16, 3, 32, False), (3, 16, 3, 32, True), (32, 64, 3, 16, False), (32, 64, 3, 16, True),
             (64, 64, 5, 8, True), (16, 8, 1, 10, False), (16, 8, 1, 10, True),
             (5, 7, 5, 9, False), (5, 7, 5, 9, True)]  # odd widths and size
    with torch.random.fork_rng(devices=[]):  # the layers' random weights leave the notebook's seed alone
        return check_function_strictly(student, conv_flops, cases, "conv_flops", returns=AN_INT, rtol=0, atol=0,
                                       mistakes=FLOPS_MISTAKES)


def weight_orders(source: nn.Module, target: nn.Module, limit: int = 24) -> Iterator[None]:
    """Give `target` the parameter and buffer values of `source`, matched by shape, in each of the
    orders that tensors of one shape allow (at most `limit`), yielding after each: a student's
    module may create and name its layers as it likes. Shapes are compared without their sizes of 1,
    so a 1×1 convolution's (cout, cin, 1, 1) weight also fills a (cout, cin) matrix. Nothing is
    yielded when the shapes cannot be matched one to one."""
    groups: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    for side, module in enumerate((source, target)):
        for tensor in [*module.parameters(), *module.buffers()]:
            groups[tuple(n for n in tensor.shape if n != 1)][side].append(tensor)
    if any(len(sources) != len(targets) for sources, targets in groups.values()):
        return
    orders = itertools.product(*[itertools.permutations(sources) for sources, _ in groups.values()])
    for order in itertools.islice(orders, limit):  # the first: creation order
        with torch.no_grad():
            for (_, targets), sources in zip(groups.values(), order):
                for target_tensor, source_tensor in zip(targets, sources):
                    target_tensor.copy_(source_tensor.reshape(target_tensor.shape))
        yield


def with_defaults(args: tuple) -> tuple[int, int, int, int]:
    """(cin, cout, kernel_size, dilation) of a `DepthwiseSeparableConv2d(*args)`."""
    return args + (3, 1)[len(args) - 2:]


def _parameter_hint(got: int, args: tuple) -> str:
    cin, cout, kernel, _ = with_defaults(args)
    want = kernel**2 * cin + cin + cin * cout + cout
    if got == kernel**2 * cin * cin + cin + cin * cout + cout:
        return "the depthwise convolution has one filter per channel: groups=cin"
    if want - got in (cin, cout):
        return "a bias is missing: both convolutions have one (bias=True, nn.Conv2d's default)"
    if got - want == 2 * cin:
        return "2·cin too many, what a BatchNorm(cin) between the halves adds: the layer has nothing between them"
    return ("expected cin·k² + cin (depthwise, groups=cin: one filter per channel) + cin·cout + cout "
            "(pointwise), both with bias, nothing else")


def _separable_variants(reference: DepthwiseSeparableConv2d, args: tuple, x: torch.Tensor) -> list[tuple]:
    """(output, hint) of the usual wrong layers, with the reference's weights: the dilation left out,
    a ReLU between the halves, the halves in the other order (when cin = cout)."""
    cin, cout, kernel, dilation = with_defaults(args)
    variants = []
    with torch.no_grad():
        if dilation != 1:
            undilated = DepthwiseSeparableConv2d(cin, cout, kernel).eval()
            undilated.load_state_dict(reference.state_dict())
            variants.append((undilated(x), "the dilation is not used: pass dilation=dilation to the depthwise "
                                           "convolution, with padding dilation·(kernel_size − 1) // 2"))
        variants.append((reference.pointwise(torch.relu(reference.depthwise(x))),
                         "a ReLU between the halves: the layer has nothing between them"))
        if cin == cout:
            variants.append((reference.depthwise(reference.pointwise(x)), "the halves in the other order: "
                             "the depthwise convolution comes first, then the pointwise"))
    return variants


def _separable_in_any_order(student: nn.Module, reference: DepthwiseSeparableConv2d, args: tuple,
                            x: torch.Tensor, want: torch.Tensor, name: str) -> Verdict | None:
    """None once some order of the reference's weights gives `student` the reference's output
    (leaving those weights in it), else the failed verdict, with a hint when a usual wrong layer
    explains the output."""
    problem, hint, variants = None, None, None
    for _ in weight_orders(reference, student):
        with torch.no_grad():
            got, error = call(student, x)
        if error is not None:
            return error
        if (found := difference(got, want, atol=1e-4)) is None:
            return None
        problem = problem or found
        variants = variants or _separable_variants(reference, args, x)
        hint = hint or next((text for output, text in variants if difference(got, output, atol=1e-4) is None), None)
    if problem is None:
        return failed(f"{name}{short(args)}: the parameter shapes differ from the reference's")
    return failed(f"{name}{short(args)} with the reference's weights: {problem}" + (f" — {hint}" if hint else ""))


def _separable_gradients(student: nn.Module, reference: DepthwiseSeparableConv2d, args: tuple,
                         x: torch.Tensor, name: str) -> Verdict | None:
    """None if, in training mode, `student` (holding the reference's weights) gives the reference's
    output and input gradient, and a gradient reaches each of its parameters; else the verdict."""
    student.train()
    inputs = [x.clone().requires_grad_(True) for _ in range(2)]
    got, error = call(student, inputs[0])
    if error is not None:
        return error
    want = reference.train()(inputs[1])
    if (problem := difference(got, want, atol=1e-4)) is not None:
        return failed(f"{name}{short(args)} in training mode (model.train()): {problem}")
    if not got.requires_grad:
        return failed(f"{name}{short(args)}: its output carries no gradient, so the layer cannot learn: "
                      "forward ran under torch.no_grad() or detached its result")
    upstream = torch.randn(want.shape, generator=torch.Generator().manual_seed(1))
    (got * upstream).sum().backward()
    (want * upstream).sum().backward()
    for parameter_name, parameter in student.named_parameters():
        if parameter.grad is None or not parameter.grad.abs().sum() > 0:
            return failed(f"{name}{short(args)}: no gradient reaches its parameter {parameter_name}, so it "
                          "cannot learn: forward uses it detached (.data, .detach()) or frozen (requires_grad=False)")
    if (problem := difference(inputs[0].grad, inputs[1].grad, atol=1e-4)) is not None:
        return failed(f"{name}{short(args)}: the gradient with respect to the input differs: {problem}")
    return None


SEPARABLE_CASES = [  # (constructor arguments, input shape): batches above 1, maps neither square nor even
    ((8, 8, 3, 2), (3, 8, 12, 9)),  # dilation: the padding must grow with it; cin = cout
    ((8, 16), (2, 8, 10, 13)),
    ((4, 12, 5, 3), (2, 4, 17, 14)),  # both keyword arguments away from their defaults
    ((6, 4, 1), (2, 6, 7, 5)),  # a 1×1 kernel, fewer output channels than input ones
    ((5, 5, 5, 2), (2, 5, 11, 8)),  # odd widths
]


@reports_not_attempted
def check_depthwise_separable(student) -> Verdict:
    """student(cin, cout, kernel_size=3, dilation=1), an nn.Module class, against
    `hglearn.layers.DepthwiseSeparableConv2d`: parameter count, output shapes, values with the
    reference's weights (matched by shape, in any order), input left unchanged, gradients."""
    name = "DepthwiseSeparableConv2d"
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):  # the layers' random weights leave the notebook's seed alone
        for args, input_shape in SEPARABLE_CASES:
            built, error = call(student, *args)
            if error is not None:
                return error
            if not isinstance(built, nn.Module):
                return failed(f"{name}{short(args)} built {described(built)}, not an nn.Module")
            torch.manual_seed(0)
            reference = DepthwiseSeparableConv2d(*args).eval()
            got_count, want_count = count_parameters(built), count_parameters(reference)
            if got_count == 0:
                return failed(f"{name}{short(args)} has no parameters: assign the two convolutions to attributes in "
                              "__init__ (self.depthwise = nn.Conv2d(...)); layers kept in a plain list, or made in "
                              "forward, are not registered")
            if got_count != want_count:
                return failed(f"{name}{short(args)} has {got_count:,} parameters, the reference {want_count:,} — "
                              + _parameter_hint(got_count, args))
            x = torch.randn(input_shape, generator=generator)
            x_before = x.clone()
            with torch.no_grad():
                want = reference(x)
                got, error = call(built.eval(), x)
            if error is not None:
                return error
            if not unchanged(x_before, x):
                return failed(f"{name}{short(args)} changed its input tensor in place: leave x as it is")
            if not isinstance(got, torch.Tensor):
                return failed(f"{name}{short(args)} returned {described(got)}, not a tensor")
            if (problem := difference(got, want, atol=1e-4)) is not None and problem.startswith("shape"):
                size_only = got.shape[:2] == want.shape[:2]  # right batch and channels
                hint = " — keep the size: padding = dilation·(kernel_size − 1) // 2" if size_only else ""
                return failed(f"{name}{short(args)} on input {tuple(input_shape)}: output {problem}{hint}")
            if (verdict := _separable_in_any_order(built, reference, args, x, want, name)) is not None:
                return verdict
            if (verdict := _separable_gradients(built, reference, args, x, name)) is not None:
                return verdict
    return passed(f"{name} matches the reference (parameters, shapes, values and gradients) in "
                  f"{len(SEPARABLE_CASES)} configurations")
