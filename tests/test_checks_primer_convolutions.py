"""The checks of notebooks 00-02 pass a right answer and fail a typical wrong one with a useful hint."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from hglearn import course
from hglearn.course.checks_convolutions import conv_flops, gridding_mask
from hglearn.course.checks_primer import limb_lengths, mirror_pose
from hglearn.joints import MPII

# --- 00: pose primer ---------------------------------------------------------------------------


def mirror_right(joints, width, flip_index):
    out = np.array(joints, dtype=float)[list(flip_index)]
    out[:, 0] = width - 1 - out[:, 0]
    return out


def mirror_no_swap(joints, width, flip_index):
    out = np.array(joints, dtype=float)
    out[:, 0] = width - 1 - out[:, 0]
    return out


def mirror_off_by_one(joints, width, flip_index):
    out = np.array(joints, dtype=float)[list(flip_index)]
    out[:, 0] = width - out[:, 0]
    return out


def mirror_in_place(joints, width, flip_index):  # right answer, but overwrites its input
    joints[:, 0] = width - 1 - joints[:, 0]
    return joints[list(flip_index)]


def test_mirror_pose_reference_swaps_sides_and_mirrors_twice_to_identity():
    joints = np.random.default_rng(0).uniform(0, 63, (16, 2))
    once = mirror_pose(joints, 64, MPII.flip_index)
    assert once[MPII.index("l_wrist"), 0] == pytest.approx(63 - joints[MPII.index("r_wrist"), 0])
    np.testing.assert_allclose(mirror_pose(once, 64, MPII.flip_index), joints)


@pytest.mark.parametrize("wrong, hint", [(mirror_no_swap, "flip_index"), (mirror_off_by_one, "width − 1 − x")])
def test_check_mirror_pose(wrong, hint, verdict_fails):
    assert course.check_mirror_pose(mirror_right)
    assert course.check_mirror_pose(mirror_in_place)
    verdict_fails(course.check_mirror_pose(wrong), hint)


def test_check_head_size(verdict_fails):
    assert course.check_head_size(lambda boxes: 0.6 * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1))
    verdict_fails(course.check_head_size(lambda boxes: np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)), "0.6")

    def one_side(boxes):  # the box's width instead of its diagonal
        return 0.6 * np.abs(boxes[:, 1, 0] - boxes[:, 0, 0])

    verdict_fails(course.check_head_size(one_side), "values differ")


def test_check_limb_lengths(verdict_fails):
    def right(joints, edges):
        return np.array([math.dist(joints[a], joints[b]) for a, b in edges])

    assert limb_lengths(np.array([[0.0, 0.0], [3.0, 4.0]]), [(0, 1)]) == pytest.approx([5.0])
    assert course.check_limb_lengths(right)
    verdict_fails(course.check_limb_lengths(lambda joints, edges: right(joints, edges) ** 2), "square root")


def test_checks_report_not_implemented_as_not_attempted():
    def unsolved(*args):
        raise NotImplementedError("Exercise 1: your code here")

    for check in (course.check_mirror_pose, course.check_head_size, course.check_limb_lengths,
                  course.check_conv_output_size, course.check_receptive_field, course.check_gridding_mask,
                  course.check_conv_params, course.check_conv_flops, course.check_depthwise_separable):
        verdict = check(unsolved)
        assert not verdict and not verdict.attempted, check.__name__


# --- 01: dilated convolutions ------------------------------------------------------------------


def output_size_right(size, kernel, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@pytest.mark.parametrize("wrong, hint", [
    (lambda n, k, s=1, p=0, d=1: (n + 2 * p - (k - 1) - 1) // s + 1, "dilation"),
    (lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) // s, "+ 1"),
    (lambda n, k, s=1, p=0, d=1: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1, "round down"),
    (lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1, "round down"),
])
def test_check_conv_output_size(wrong, hint, verdict_fails):
    assert course.check_conv_output_size(output_size_right)
    verdict_fails(course.check_conv_output_size(wrong), hint)


def receptive_field_right(layers):
    rf, jump = 1, 1
    for kernel, stride, dilation in layers:
        rf += dilation * (kernel - 1) * jump
        jump *= stride
    return rf


def receptive_field_no_dilation(layers):
    return receptive_field_right([(k, s, 1) for k, s, _ in layers])


def receptive_field_no_jump(layers):
    return 1 + sum(d * (k - 1) for k, _, d in layers)


def receptive_field_jump_too_early(layers):
    rf, jump = 1, 1
    for kernel, stride, dilation in layers:
        jump *= stride
        rf += dilation * (kernel - 1) * jump
    return rf


@pytest.mark.parametrize("wrong, hint", [
    (receptive_field_no_dilation, "dilation"), (receptive_field_no_jump, "jump"),
    (receptive_field_jump_too_early, "before it"),
])
def test_check_receptive_field(wrong, hint, verdict_fails):
    assert course.check_receptive_field(receptive_field_right)
    verdict_fails(course.check_receptive_field(wrong), hint)


def test_gridding_mask_reference_agrees_with_gradients_of_a_conv_stack():
    for dilations in [(2, 2, 2), (1, 2, 3), (3,)]:
        x = torch.zeros(1, 1, 31, 31, requires_grad=True)
        y = x
        for d in dilations:
            conv = nn.Conv2d(1, 1, 3, padding=d, dilation=d, bias=False)
            nn.init.ones_(conv.weight)
            y = conv(y)
        y[0, 0, 15, 15].backward()
        r = 1 + 2 * sum(dilations)
        window = x.grad[0, 0, 15 - r // 2: 15 + r // 2 + 1, 15 - r // 2: 15 + r // 2 + 1]
        np.testing.assert_array_equal(window.numpy() > 0, gridding_mask(dilations))
    assert not gridding_mask((2, 2, 2))[4, 3] and gridding_mask((1, 2, 3)).all()


def test_check_gridding_mask(verdict_fails):
    def right(dilations):
        offsets = {0}
        for d in dilations:
            offsets = {o + s for o in offsets for s in (-d, 0, d)}
        half = sum(dilations)
        line = np.array([o - half in offsets for o in range(2 * half + 1)])
        return line[:, None] & line[None, :]

    def full_square(dilations):
        return np.ones((1 + 2 * sum(dilations),) * 2, dtype=bool)

    def one_dimensional(dilations):
        return right(dilations)[sum(dilations)]

    assert course.check_gridding_mask(right)
    verdict_fails(course.check_gridding_mask(full_square), "skips the pixels")
    verdict_fails(course.check_gridding_mask(one_dimensional), "shape")


# --- 02: depthwise-separable convolutions ------------------------------------------------------


def params_right(cin, cout, kernel, separable=False):
    if separable:
        return kernel**2 * cin + cin + cin * cout + cout
    return kernel**2 * cin * cout + cout


@pytest.mark.parametrize("wrong, hint", [
    (lambda cin, cout, k, separable=False: k**2 * cin + cin * cout if separable else k**2 * cin * cout + cout,
     "count the biases"),
    (lambda cin, cout, k, separable=False: k**2 * cin + cin * cout + cout if separable else k**2 * cin * cout + cout,
     "one bias is missing"),
    (lambda cin, cout, k, separable=False: k**2 * cin * cout + cout, "instead of"),
])
def test_check_conv_params(wrong, hint, verdict_fails):
    assert course.check_conv_params(params_right)
    verdict_fails(course.check_conv_params(wrong), hint)


def test_conv_flops_reference_is_the_multiply_add_formula():
    assert conv_flops(32, 64, 3, 16) == 9 * 32 * 64 * 16 * 16
    assert conv_flops(32, 64, 3, 16, separable=True) == (9 * 32 + 32 * 64) * 16 * 16


def flops_right(cin, cout, kernel, size, separable=False):
    per_pixel = kernel**2 * cin + cin * cout if separable else kernel**2 * cin * cout
    return per_pixel * size * size


@pytest.mark.parametrize("wrong, hint", [
    (lambda cin, cout, k, size, separable=False: 2 * flops_right(cin, cout, k, size, separable), "ONE flop"),
    (lambda cin, cout, k, size, separable=False: cin * cout * size**2 if separable
     else flops_right(cin, cout, k, size), "instead of"),  # the depthwise term forgotten
])
def test_check_conv_flops(wrong, hint, verdict_fails):
    assert course.check_conv_flops(flops_right)
    verdict_fails(course.check_conv_flops(wrong), hint)


class SeparableRight(nn.Module):
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.dw = nn.Conv2d(cin, cin, kernel_size, padding=padding, dilation=dilation, groups=cin)
        self.pw = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.pw(self.dw(x))


class SeparablePaddingWithoutDilation(SeparableRight):
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__(cin, cout, kernel_size, dilation)
        self.dw.padding = ((kernel_size - 1) // 2,) * 2


class SeparableWithoutGroups(SeparableRight):
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__(cin, cout, kernel_size, dilation)
        self.dw = nn.Conv2d(cin, cin, kernel_size, padding=dilation * (kernel_size - 1) // 2, dilation=dilation)


class SeparableWithBatchNorm(SeparableRight):  # the MobileNet layer, not the library's
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__(cin, cout, kernel_size, dilation)
        self.bn = nn.BatchNorm2d(cin)

    def forward(self, x):
        return self.pw(torch.relu(self.bn(self.dw(x))))


class SeparableWithReLU(SeparableRight):
    def forward(self, x):
        return self.pw(torch.relu(self.dw(x)))


@pytest.mark.parametrize("wrong, hint", [
    (SeparablePaddingWithoutDilation, "padding = dilation"), (SeparableWithoutGroups, "groups=cin"),
    (SeparableWithBatchNorm, "parameters"), (SeparableWithReLU, "values differ"),
])
def test_check_depthwise_separable(wrong, hint, verdict_fails):
    assert course.check_depthwise_separable(SeparableRight)
    verdict_fails(course.check_depthwise_separable(wrong), hint)
