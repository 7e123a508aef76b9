"""The checks of notebook 10 pass right answers written in other ways than the solution's and fail the
usual wrong ones, with a hint that names the mistake where the check can tell it apart."""
import math

import pytest
import torch

from hglearn.course import check_bottleneck_flops, check_conv2d_flops
from hglearn.layers import conv_output_size

# --- conv2d_flops ------------------------------------------------------------------------------


def output_pixels(conv, size, dilation=True, padding_sides=2, rounding=None):
    sides = []
    for k, s, p, d in zip(conv.kernel_size, conv.stride, conv.padding, conv.dilation):
        d = d if dilation else 1
        span = size + padding_sides * p - d * (k - 1) - 1
        sides.append((rounding(span / s) if rounding else span // s) + 1)
    return sides[0] * sides[1]


def conv2d_flops(conv, size):
    k = conv.kernel_size[0] * conv.kernel_size[1]
    return k * conv.in_channels // conv.groups * conv.out_channels * output_pixels(conv, size)


def conv2d_flops_by_running_it(conv, size):
    out = conv(torch.zeros(1, conv.in_channels, size, size))  # (1, cout, H_out, W_out)
    return conv.weight[0].numel() * out.numel()  # each output value: k_h·k_w·cin/groups products


def conv2d_flops_per_axis(conv, size):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    height, width = conv_output_size(size, kh, sh, ph, dh), conv_output_size(size, kw, sw, pw, dw)
    per_output = kh * kw * (conv.in_channels // conv.groups)
    return per_output * conv.out_channels * height * width


@pytest.mark.parametrize("right", [conv2d_flops, conv2d_flops_by_running_it, conv2d_flops_per_axis])
def test_conv2d_flops_check_passes_right_answers(right):
    verdict = check_conv2d_flops(right)
    assert bool(verdict), verdict


def without_groups(conv, size):
    return conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels * conv.out_channels * output_pixels(conv, size)


def groups_twice(conv, size):
    k = conv.kernel_size[0] * conv.kernel_size[1]
    return k * (conv.in_channels // conv.groups) * (conv.out_channels // conv.groups) * output_pixels(conv, size)


def two_per_multiply_add(conv, size):
    return 2 * conv2d_flops(conv, size)


def with_bias(conv, size):
    return conv2d_flops(conv, size) + (conv.out_channels * output_pixels(conv, size) if conv.bias is not None else 0)


def on_the_input_size(conv, size):
    k = conv.kernel_size[0] * conv.kernel_size[1]
    return k * conv.in_channels // conv.groups * conv.out_channels * size * size


def without_dilation(conv, size):
    k = conv.kernel_size[0] * conv.kernel_size[1]
    return k * conv.in_channels // conv.groups * conv.out_channels * output_pixels(conv, size, dilation=False)


def padded_once(conv, size):
    k = conv.kernel_size[0] * conv.kernel_size[1]
    return k * conv.in_channels // conv.groups * conv.out_channels * output_pixels(conv, size, padding_sides=1)


def rounded_up(conv, size):
    k = conv.kernel_size[0] * conv.kernel_size[1]
    return k * conv.in_channels // conv.groups * conv.out_channels * output_pixels(conv, size, rounding=math.ceil)


def square_kernel(conv, size):
    k = conv.kernel_size[0] ** 2
    return k * conv.in_channels // conv.groups * conv.out_channels * output_pixels(conv, size)


def first_axis_only(conv, size):
    k, s, p, d = conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.dilation[0]
    side = conv_output_size(size, k, s, p, d)
    return conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels // conv.groups * conv.out_channels * side**2


def divided_with_a_slash(conv, size):  # the docstring's cin / groups, typed as is
    k = conv.kernel_size[0] * conv.kernel_size[1]
    return k * (conv.in_channels / conv.groups) * conv.out_channels * output_pixels(conv, size)


@pytest.mark.parametrize("wrong, hint", [
    (without_groups, "the groups: each output channel sees only cin / groups"),
    (groups_twice, "divide by the groups once"),
    (two_per_multiply_add, "ONE flop"),
    (with_bias, "biases are not counted"),
    (on_the_input_size, "OUTPUT pixels"),
    (without_dilation, "a dilated kernel spans"),
    (padded_once, "the padding is added on both sides"),
    (rounded_up, "rounds down"),
    (square_kernel, "a (1, 5) kernel has 5 taps"),
    (first_axis_only, "per axis"),
    (divided_with_a_slash, "(a float): expected an int"),
])
def test_conv2d_flops_check_names_the_mistake(wrong, hint, verdict_fails):
    verdict_fails(check_conv2d_flops(wrong), hint)


def test_conv2d_flops_check_fails_code_that_changes_the_layer(verdict_fails):
    def made_same(conv, size):  # pads the layer itself to "same" before counting
        conv.padding = tuple(d * (k - 1) // 2 for k, d in zip(conv.kernel_size, conv.dilation))
        return conv2d_flops(conv, size)

    verdict_fails(check_conv2d_flops(made_same), "changed its argument conv in place")


# --- bottleneck_flops --------------------------------------------------------------------------


def bottleneck_flops(cin, cout, size, skip=True, batch_norm=2, per_multiply_add=1):
    mid, pixels = cout // 2, size * size
    convs = (cin * mid + 9 * mid * mid + mid * cout) * pixels
    if skip and cin != cout:
        convs += cin * cout * pixels
    return per_multiply_add * convs + batch_norm * (cin + mid + mid) * pixels


def bottleneck_flops_layer_by_layer(cin, cout, size):
    mid = cout // 2
    layers = [(cin, 1, mid), (mid, 3, mid), (mid, 1, cout)]  # (input channels, kernel, output channels)
    if cin != cout:
        layers.append((cin, 1, cout))  # the 1×1 shortcut
    convs = sum(a * k * k * b for a, k, b in layers)
    batch_norms = sum(2 * a for a, _, _ in layers[:3])  # each BatchNorm normalises a convolution's input
    return (convs + batch_norms) * size * size


@pytest.mark.parametrize("right", [bottleneck_flops, bottleneck_flops_layer_by_layer])
def test_bottleneck_flops_check_passes_right_answers(right):
    verdict = check_bottleneck_flops(right)
    assert bool(verdict), verdict


def bottleneck_flops_mid(cin, cout, size, mid, middle_kernel=3):
    convs = cin * mid + middle_kernel**2 * mid * mid + mid * cout + (cin * cout if cin != cout else 0)
    return (convs + 2 * (cin + 2 * mid)) * size * size


def with_batch_norms_after_the_convolutions(cin, cout, size):  # BN on each convolution's output
    mid = cout // 2
    return bottleneck_flops(cin, cout, size, batch_norm=0) + 2 * (mid + mid + cout) * size * size


def with_float_mid(cin, cout, size):  # m = cout / 2
    mid = cout / 2
    convs = cin * mid + 9 * mid * mid + mid * cout + (cin * cout if cin != cout else 0)
    return (convs + 2 * (cin + 2 * mid)) * size * size


def with_mid_rounded_up(cin, cout, size):  # an int, but not the floor
    mid = math.ceil(cout / 2)
    convs = cin * mid + 9 * mid * mid + mid * cout + (cin * cout if cin != cout else 0)
    return (convs + 2 * (cin + 2 * mid)) * size * size


@pytest.mark.parametrize("wrong, hint", [
    (lambda cin, cout, size: bottleneck_flops(cin, cout, size, skip=False), "the skip"),
    (lambda cin, cout, size: bottleneck_flops(cin, cout, size) + (cin * cout * size**2 if cin == cout else 0),
     "the shortcut is the identity"),
    (lambda cin, cout, size: bottleneck_flops(cin, cout, size, batch_norm=0), "BatchNorms"),
    (lambda cin, cout, size: bottleneck_flops(cin, cout, size, batch_norm=1), "two FLOPs per element, not one"),
    (with_batch_norms_after_the_convolutions, "acts on its convolution's INPUT"),
    (lambda cin, cout, size: bottleneck_flops(cin, cout, size, per_multiply_add=2), "ONE flop"),
    (lambda cin, cout, size: 2 * bottleneck_flops(cin, cout, size), "ONE flop"),
    (lambda cin, cout, size: bottleneck_flops_mid(cin, cout, size, cin // 2), "half the OUTPUT channels"),
    (with_float_mid, "m = cout // 2 is a whole number"),
    (with_mid_rounded_up, "bottleneck_flops(24, 15, 6)"),
    (lambda cin, cout, size: bottleneck_flops_mid(cin, cout, size, cout // 2, middle_kernel=1), "9·m·m"),
    (lambda cin, cout, size: 9 * cin * cout * size * size, "bottleneck_flops("),
])
def test_bottleneck_flops_check_names_the_mistake(wrong, hint, verdict_fails):
    verdict_fails(check_bottleneck_flops(wrong), hint)


def test_bottleneck_flops_check_fails_a_float_count_and_reports_not_implemented_as_not_attempted(verdict_fails):
    verdict_fails(check_bottleneck_flops(lambda cin, cout, size: float(bottleneck_flops(cin, cout, size))),
                  "(a float): expected an int")

    def unsolved(cin, cout, size):
        raise NotImplementedError

    for verdict in (check_bottleneck_flops(unsolved), check_conv2d_flops(lambda conv, size: unsolved(0, 0, 0))):
        assert not verdict and not verdict.attempted


def test_checks_leave_the_notebooks_random_numbers_alone():
    torch.manual_seed(3)
    before = torch.rand(3)
    torch.manual_seed(3)
    assert check_conv2d_flops(conv2d_flops) and check_bottleneck_flops(bottleneck_flops)
    assert torch.equal(torch.rand(3), before)
