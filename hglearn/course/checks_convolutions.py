"""Checks for notebooks/01_dilated_convolutions.ipynb and notebooks/02_depthwise_separable.ipynb.

The references are the library's (`hglearn.layers`) where it has one. Two have no library
function, so their small references live here and the notebooks' later cells import them:
`gridding_mask` (which input offsets a stack of dilated 3×3 convolutions reaches) and
`conv_flops` (fvcore's count for one convolution layer on a feature map, whereas
`hglearn.profiling.count_flops` takes a whole model fed an RGB image).
"""
import numpy as np
import torch
from torch import nn

from hglearn.course.checking import Verdict, call, check_function, check_module, failed, probe, reports_not_attempted
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


@reports_not_attempted
def check_conv_output_size(student) -> Verdict:
    """student(size, kernel, stride, padding, dilation) against `hglearn.layers.conv_output_size`."""
    cases = [
        (64, 3, 1, 1, 1), (64, 3, 1, 0, 1), (256, 7, 2, 3, 1), (64, 2, 2, 0, 1),  # Newell's stem and pooling
        (65, 3, 2, 1, 1), (64, 3, 2, 0, 1),  # strides that do not divide: the floor
        (32, 3, 1, 2, 2), (32, 3, 1, 3, 3), (32, 3, 1, 0, 2), (20, 5, 2, 1, 3), (9, 1, 1, 0, 4),
    ]
    verdict = check_function(student, conv_output_size, cases, "conv_output_size")
    if verdict:
        return verdict
    if probe(student, 64, 3, 1, 1, 1) == 63:
        return failed(verdict.message + " — the + 1: the kernel's first position comes before any stride step")
    if probe(student, 32, 3, 1, 0, 2) == 30:
        return failed(verdict.message + " — the dilation: a dilated kernel spans dilation·(kernel − 1) + 1 pixels")
    if probe(student, 64, 3, 2, 0, 1) in (31.5, 32):
        return failed(verdict.message + " — with a stride, divide, round down (//), then add 1")
    return verdict


@reports_not_attempted
def check_receptive_field(student) -> Verdict:
    """student(layers) on lists of (kernel, stride, dilation) against `hglearn.layers.receptive_field`."""
    cases = [
        ([],),
        ([(3, 1, 1)],),
        ([(3, 1, 1)] * 3,),  # 7
        ([(3, 1, 2)] * 3,),  # 13
        ([(3, 1, 1), (3, 1, 2), (3, 1, 3)],),  # 13, without the holes (see gridding)
        ([(3, 2, 1), (3, 1, 1)],),  # a stride widens every later layer: 7
        ([(7, 2, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1), (3, 1, 1)],),  # a stem like Newell's
        ([(3, 1, 1), (2, 2, 1), (3, 1, 2), (2, 2, 1), (3, 1, 3)],),
    ]
    verdict = check_function(student, receptive_field, cases, "receptive_field")
    if verdict:
        return verdict
    if probe(student, [(3, 1, 2)] * 3) == 7:
        return failed(verdict.message + " — the dilation: each layer adds dilation·(kernel − 1)·jump")
    if probe(student, [(3, 2, 1), (3, 1, 1)]) in (5, 9):
        return failed(verdict.message + " — the jump: a layer's taps lie jump input pixels apart, jump being "
                                        "the product of the strides of the layers before it")
    return verdict


@reports_not_attempted
def check_gridding_mask(student) -> Verdict:
    """student(dilations) against `gridding_mask`, the reachable input offsets of 3×3 convolutions."""
    cases = [((1,),), ((2,),), ((1, 1),), ((2, 2, 2),), ((1, 2, 3),), ((3, 3),), ((1, 2, 5),), ((2, 4),)]
    verdict = check_function(student, gridding_mask, cases, "gridding_mask")
    if not verdict and "entries differ" in verdict.message:
        got, _ = call(student, (2, 2))
        if got is not None and np.asarray(got).shape == (9, 9) and np.asarray(got).all():
            return failed(verdict.message + " — every pixel of the receptive field marked: a dilated "
                                            "kernel skips the pixels between its taps")
    return verdict


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


@reports_not_attempted
def check_conv_params(student) -> Verdict:
    """student(cin, cout, kernel, separable) against the parameters of the layers themselves."""
    cases = [(3, 16, 3, False), (3, 16, 3, True), (32, 64, 3, False), (32, 64, 3, True),
             (64, 64, 5, True), (128, 256, 1, False), (128, 256, 1, True), (7, 5, 7, True)]
    verdict = check_function(student, conv_params, cases, "conv_params")
    if not verdict:
        got = probe(student, 32, 64, 3, True)
        if got == 32 * 9 + 32 * 64:
            return failed(verdict.message + " — count the biases: the depthwise and the pointwise "
                                            "convolutions each have one per output channel")
        if got == 32 * 9 + 32 + 32 * 64 or got == 32 * 9 + 32 * 64 + 64:
            return failed(verdict.message + " — one bias is missing: the depthwise convolution has "
                                            "cin biases and the pointwise one cout")
    return verdict


@reports_not_attempted
def check_conv_flops(student) -> Verdict:
    """student(cin, cout, kernel, size, separable) against fvcore's count on the layer itself."""
    cases = [(3, 16, 3, 32, False), (3, 16, 3, 32, True), (32, 64, 3, 16, False), (32, 64, 3, 16, True),
             (64, 64, 5, 8, True), (16, 8, 1, 10, False), (16, 8, 1, 10, True)]
    verdict = check_function(student, conv_flops, cases, "conv_flops")
    if not verdict:
        got = probe(student, 32, 64, 3, 16, False)
        if got == 2 * conv_flops(32, 64, 3, 16, False):
            return failed(verdict.message + " — fvcore counts one multiply-add as ONE flop, not two")
    return verdict


@reports_not_attempted
def check_depthwise_separable(student) -> Verdict:
    """student(cin, cout, kernel_size=3, dilation=1), an nn.Module class, against
    `hglearn.layers.DepthwiseSeparableConv2d`: parameters, output shapes and values."""
    cases = [
        ((8, 16), (2, 8, 10, 10)),
        ((8, 8, 3, 2), (1, 8, 12, 12)),  # dilation: the padding must grow with it
        ((4, 12, 5, 3), (1, 4, 17, 17)),
        ((6, 4, 1), (1, 6, 7, 7)),
    ]
    verdict = check_module(student, DepthwiseSeparableConv2d, cases, "DepthwiseSeparableConv2d")
    if not verdict and "output shape" in verdict.message:
        return failed(verdict.message + " — keep the size: padding = dilation·(kernel_size − 1) // 2")
    if not verdict and "parameters, the reference" in verdict.message:
        return failed(verdict.message + " — expected cin·k² + cin (depthwise, groups=cin: one filter per "
                                        "channel) + cin·cout + cout (pointwise), both with bias, nothing else")
    return verdict
