"""Checks for notebooks/10_efficiency.ipynb.

The references ask fvcore itself, through `hglearn.profiling.count_flops`, on the built layer or
block: `conv2d_flops` for one `nn.Conv2d` of any kernel, stride, padding, dilation and groups, and
`bottleneck_flops` for Newell's residual block. The notebook's later cells import them.
"""
from torch import nn

from hglearn.blocks import Bottleneck
from hglearn.course.checking import Verdict, check_function, failed, probe, reports_not_attempted
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


@reports_not_attempted
def check_conv2d_flops(student) -> Verdict:
    """student(conv, size) against fvcore on the layer, for layers with groups, strides, dilations,
    non-square kernels, with and without bias."""
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
        (nn.Conv2d(8, 12, (1, 5), padding=(0, 2), stride=(1, 2)), 12),  # non-square kernel and stride
    ]
    verdict = check_function(student, conv2d_flops, cases, "conv2d_flops")
    if verdict:
        return verdict
    probes = {  # one layer per usual mistake, and what that mistake gives on it
        "groups": (nn.Conv2d(32, 64, 3, padding=1, groups=4), 16, lambda f: 4 * f,
                   "the groups: each output channel sees only cin / groups input channels"),
        "two": (nn.Conv2d(16, 32, 3, padding=1), 32, lambda f: 2 * f,
                "fvcore counts one multiply-add as ONE flop, not two"),
        "bias": (nn.Conv2d(16, 32, 3, padding=1), 32, lambda f: f + 32 * 32 * 32,
                 "biases are not counted: only the multiply-adds of the k·k·cin/groups products"),
        "input": (nn.Conv2d(8, 8, 3, stride=2, padding=1), 16, lambda f: 4 * f,
                  "count the OUTPUT pixels (H_out·W_out): a stride of 2 computes a quarter of them"),
        "dilation": (nn.Conv2d(16, 8, 3, padding=0, dilation=3), 20, lambda f: f * 18 * 18 // 14**2,
                     "the output size: a dilated kernel spans dilation·(k − 1) + 1 pixels "
                     "(hglearn.layers.conv_output_size)"),
    }
    for conv, size, mistake, hint in probes.values():
        got = probe(student, conv, size)
        if got is not None and got != conv2d_flops(conv, size) and got == mistake(conv2d_flops(conv, size)):
            return failed(f"{verdict.message} — {hint}")
    return verdict


@reports_not_attempted
def check_bottleneck_flops(student) -> Verdict:
    """student(cin, cout, size) against fvcore on `hglearn.blocks.Bottleneck(cin, cout)`."""
    cases = [(64, 64, 32), (256, 256, 16), (32, 64, 8), (64, 128, 16), (16, 32, 5), (128, 64, 7)]
    verdict = check_function(student, bottleneck_flops, cases, "bottleneck_flops")
    if verdict:
        return verdict
    cin, cout, size = 32, 64, 8
    mid, pixels = cout // 2, size * size
    convs = (cin * mid + 9 * mid * mid + mid * cout + cin * cout) * pixels
    batch_norms = 2 * (cin + mid + mid) * pixels
    got = probe(student, cin, cout, size)
    hints = {
        convs + batch_norms - cin * cout * pixels:
            "the skip: when cin ≠ cout the shortcut is a 1×1 convolution, which costs cin·cout·H·W",
        convs: "the BatchNorms: fvcore counts two FLOPs per element of their input (scale and shift)",
        convs + batch_norms // 2: "a BatchNorm with its affine scale and shift is two FLOPs per element, not one",
        2 * convs + batch_norms: "fvcore counts one multiply-add as ONE flop, not two",
        2 * (convs + batch_norms): "fvcore counts one multiply-add as ONE flop, not two",
    }
    if got is not None and got in hints:
        return failed(f"{verdict.message} — {hints[got]}")
    return verdict
