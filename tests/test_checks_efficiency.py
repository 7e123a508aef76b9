"""The checks of notebook 10 tell a right answer from the usual wrong ones, with a hint."""
import pytest

from hglearn.course import check_bottleneck_flops, check_conv2d_flops
from hglearn.layers import conv_output_size


def output_pixels(conv, size, dilation=True):
    sizes = [
        conv_output_size(size, k, s, p, d if dilation else 1)
        for k, s, p, d in zip(conv.kernel_size, conv.stride, conv.padding, conv.dilation)
    ]
    return sizes[0] * sizes[1]


def conv2d_flops(conv, size):
    k = conv.kernel_size[0] * conv.kernel_size[1]
    return k * conv.in_channels // conv.groups * conv.out_channels * output_pixels(conv, size)


def without_groups(conv, size):
    return conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels * conv.out_channels * output_pixels(conv, size)


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


def test_conv2d_flops_check_passes_the_formula():
    verdict = check_conv2d_flops(conv2d_flops)
    assert bool(verdict), verdict


@pytest.mark.parametrize("wrong, hint", [
    (without_groups, "groups"),
    (two_per_multiply_add, "ONE flop"),
    (with_bias, "biases are not counted"),
    (on_the_input_size, "OUTPUT pixels"),
    (without_dilation, "dilation"),
])
def test_conv2d_flops_check_names_the_mistake(wrong, hint, verdict_fails):
    verdict_fails(check_conv2d_flops(wrong), hint)


def bottleneck_flops(cin, cout, size, skip=True, batch_norm=2, per_multiply_add=1):
    mid, pixels = cout // 2, size * size
    convs = (cin * mid + 9 * mid * mid + mid * cout) * pixels
    if skip and cin != cout:
        convs += cin * cout * pixels
    return per_multiply_add * convs + batch_norm * (cin + mid + mid) * pixels


@pytest.mark.parametrize("wrong, hint", [
    (lambda cin, cout, size: bottleneck_flops(cin, cout, size, skip=False), "the skip"),
    (lambda cin, cout, size: bottleneck_flops(cin, cout, size, batch_norm=0), "BatchNorms"),
    (lambda cin, cout, size: bottleneck_flops(cin, cout, size, batch_norm=1), "two FLOPs per element, not one"),
    (lambda cin, cout, size: bottleneck_flops(cin, cout, size, per_multiply_add=2), "ONE flop"),
    (lambda cin, cout, size: 9 * cin * cout * size * size, "bottleneck_flops("),
])
def test_bottleneck_flops_check_names_the_mistake(wrong, hint, verdict_fails):
    verdict_fails(check_bottleneck_flops(wrong), hint)


def test_bottleneck_flops_check_passes_the_formula_and_reports_not_implemented_as_not_attempted():
    assert bool(check_bottleneck_flops(bottleneck_flops))

    def unsolved(cin, cout, size):
        raise NotImplementedError

    for verdict in (check_bottleneck_flops(unsolved), check_conv2d_flops(lambda conv, size: unsolved(0, 0, 0))):
        assert not verdict and not verdict.attempted
