"""Checks for notebooks/10_efficiency.ipynb.

The references ask fvcore itself, through `hglearn.profiling.count_flops`, on the built layer or
block: `conv2d_flops` for one `nn.Conv2d` of any kernel, stride, padding, dilation and groups, and
`bottleneck_flops` for Newell's residual block. The notebook's later cells import them.

Both checks also fail a result that is not an int (a float from `/`) and code that changes the layer
it is given; a hint names a usual mistake only when the student's counts are that mistake's on every
case (`hglearn.course.checking.check_function_strictly`).
"""
import math

import torch
from torch import nn

from hglearn.blocks import Bottleneck
from hglearn.course.checking import AN_INT, Verdict, check_function_strictly, reports_not_attempted
from hglearn.profiling import count_flops

__all__ = ["check_conv2d_flops", "check_bottleneck_flops"]


def conv2d_flops(conv: nn.Conv2d, size: int) -> int:
    """fvcore's FLOPs (one multiply-add = one FLOP, biases not counted) of `conv` on a
    (1, conv.in_channels, size, size) input."""
    return count_flops(conv, size, in_channels=conv.in_channels)


def bottleneck_flops(cin: int, cout: int, size: int) -> int:
    """fvcore's FLOPs of `hglearn.blocks.Bottleneck(cin, cout)` in eval mode on a (1, cin, size, size)
    input: its convolutions and its BatchNorms (two per element: scale and shift)."""
    return count_flops(Bottleneck(cin, cout), size, in_channels=cin)


def _conv2d_flops_with(mistake: str):
    """`conv2d_flops` by formula, with one usual mistake, named by `mistake`."""
    def flops(conv, size):
        sides = []
        for axis in range(2):
            k, s, p, d = (conv.kernel_size[axis], conv.stride[axis], conv.padding[axis], conv.dilation[axis])
            if mistake == "first axis only":
                k, s, p, d = conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.dilation[0]
            d = 1 if mistake == "no dilation" else d
            span = size + (p if mistake == "padding once" else 2 * p) - d * (k - 1) - 1
            side = math.ceil(span / s) + 1 if mistake == "rounded up" else span // s + 1
            sides.append(size if mistake == "input size" else side)
        kh, kw = (conv.kernel_size[0],) * 2 if mistake == "square kernel" else conv.kernel_size
        inputs = conv.in_channels if mistake == "no groups" else conv.in_channels // conv.groups
        outputs = conv.out_channels // conv.groups if mistake == "groups twice" else conv.out_channels
        pixels = sides[0] * sides[1]
        count = kh * kw * inputs * outputs * pixels
        with_bias = mistake == "bias always" or (mistake == "bias" and conv.bias is not None)
        if mistake == "two per multiply-add":
            return 2 * count
        return count + (conv.out_channels * pixels if with_bias else 0)
    return flops


NO_BIAS = "biases are not counted: only the multiply-adds of the k·k·cin/groups products"
CONV2D_MISTAKES = [  # (the counts of a usual mistake, its hint)
    (_conv2d_flops_with("no groups"), "the groups: each output channel sees only cin / groups input channels"),
    (_conv2d_flops_with("groups twice"), "divide by the groups once: each of the cout output channels sees "
                                         "cin / groups input channels"),
    (_conv2d_flops_with("two per multiply-add"), "fvcore counts one multiply-add as ONE flop, not two"),
    (_conv2d_flops_with("bias"), NO_BIAS),
    (_conv2d_flops_with("bias always"), NO_BIAS),
    (_conv2d_flops_with("input size"), "count the OUTPUT pixels (H_out·W_out): a stride of 2 computes a quarter "
                                       "of them"),
    (_conv2d_flops_with("no dilation"), "the output size: a dilated kernel spans dilation·(k − 1) + 1 pixels "
                                        "(hglearn.layers.conv_output_size)"),
    (_conv2d_flops_with("padding once"), "the output size: the padding is added on both sides, 2·padding "
                                         "(hglearn.layers.conv_output_size)"),
    (_conv2d_flops_with("rounded up"), "the output size rounds down (//), as in hglearn.layers.conv_output_size"),
    (_conv2d_flops_with("square kernel"), "the kernel is kernel_size[0] × kernel_size[1]: a (1, 5) kernel has 5 taps"),
    (_conv2d_flops_with("first axis only"), "read kernel_size, stride, padding and dilation per axis: H_out from their "
                                            "first values, W_out from their second"),
]


@reports_not_attempted
def check_conv2d_flops(student) -> Verdict:
    """student(conv, size) against fvcore on the layer, for layers with groups, strides, dilations,
    non-square kernels, with and without bias: an int, the layer left unchanged."""
    with torch.random.fork_rng(devices=[]):  # the layers' random weights leave the notebook's seed alone
        cases = [
            (nn.Conv2d(16, 32, 3, padding=1), 32),
            (nn.Conv2d(16, 32, 3, padding=1, bias=False), 32),
            (nn.Conv2d(3, 64, 7, stride=2, padding=3), 64),  # Newell's first layer at 64 px
            (nn.Conv2d(64, 32, 1), 16),
            (nn.Conv2d(32, 32, 3, padding=1, groups=32), 16),  # depthwise
            (nn.Conv2d(32, 64, 3, padding=1, groups=4), 16),  # grouped
            (nn.Conv2d(16, 16, 3, padding=2, dilation=2), 20),  # "same" at dilation 2
            (nn.Conv2d(16, 8, 3, padding=0, dilation=3), 20),  # shrinks by dilation·(k − 1)
            (nn.Conv2d(8, 8, 3, stride=2, padding=1), 15),  # an odd size: the floor
            # every pair uneven (kernel, stride, padding, dilation), grouped, and a width that rounds down
            (nn.Conv2d(8, 12, (1, 5), stride=(1, 2), padding=(0, 3), dilation=(1, 2), groups=2), 12),
        ]
        return check_function_strictly(student, conv2d_flops, cases, "conv2d_flops", returns=AN_INT, rtol=0, atol=0,
                                       mistakes=CONV2D_MISTAKES, shown=lambda case: f"({case[0]}, {case[1]})")


def _bottleneck_flops_with(mistake: str):
    """`bottleneck_flops` by formula, with one usual mistake, named by `mistake`."""
    def flops(cin, cout, size):
        mid = {"mid from cin": cin // 2, "mid not floored": cout / 2}.get(mistake, cout // 2)
        convs = cin * mid + (1 if mistake == "3x3 as 1x1" else 9) * mid * mid + mid * cout
        if (cin != cout and mistake != "no skip") or mistake == "skip always":
            convs += cin * cout
        widths = mid + mid + cout if mistake == "batch norms after" else cin + mid + mid
        per_element = {"no batch norms": 0, "one per element": 1}.get(mistake, 2)
        per_multiply_add = 2 if mistake in ("two per multiply-add", "two for all") else 1
        per_pixel = per_multiply_add * convs + per_element * widths * (2 if mistake == "two for all" else 1)
        return per_pixel * size * size
    return flops


ONE_FLOP = "fvcore counts one multiply-add as ONE flop, not two"
BOTTLENECK_MISTAKES = [  # (the counts of a usual mistake, its hint)
    (_bottleneck_flops_with("no skip"), "the skip: when cin ≠ cout the shortcut is a 1×1 convolution, which costs "
                                        "cin·cout·H·W"),
    (_bottleneck_flops_with("skip always"), "when cin = cout the shortcut is the identity: no convolution, no FLOPs"),
    (_bottleneck_flops_with("no batch norms"), "the BatchNorms: fvcore counts two FLOPs per element of their input "
                                               "(scale and shift)"),
    (_bottleneck_flops_with("one per element"), "a BatchNorm with its affine scale and shift is two FLOPs per element, "
                                                "not one"),
    (_bottleneck_flops_with("batch norms after"), "each BatchNorm acts on its convolution's INPUT (pre-activation): "
                                                  "cin, m and m channels"),
    (_bottleneck_flops_with("two per multiply-add"), ONE_FLOP),
    (_bottleneck_flops_with("two for all"), ONE_FLOP),
    (_bottleneck_flops_with("mid from cin"), "m = cout // 2, half the OUTPUT channels"),
    (_bottleneck_flops_with("mid not floored"), "m = cout // 2 is a whole number of channels: Bottleneck(24, 15) "
                                                "has m = 7"),
    (_bottleneck_flops_with("3x3 as 1x1"), "the 3×3 convolution: 9·m·m multiply-adds per pixel"),
]


@reports_not_attempted
def check_bottleneck_flops(student) -> Verdict:
    """student(cin, cout, size) against fvcore on `hglearn.blocks.Bottleneck(cin, cout)`: an int."""
    cases = [(64, 64, 32), (256, 256, 16), (32, 64, 8), (64, 128, 16), (16, 32, 5), (128, 64, 7),
             (24, 15, 6), (17, 17, 9)]  # odd widths: m = cout // 2
    with torch.random.fork_rng(devices=[]):  # the blocks' random weights leave the notebook's seed alone
        return check_function_strictly(student, bottleneck_flops, cases, "bottleneck_flops", returns=AN_INT,
                                       rtol=0, atol=0, mistakes=BOTTLENECK_MISTAKES)
