"""The checks of notebooks 00-02 pass right answers written in other ways than the solution's and fail
the wrong answers a student is likely to write, with a hint that names the mistake where the check
can tell it apart."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hglearn import course
from hglearn.course.checks_convolutions import conv_flops, gridding_mask
from hglearn.course.checks_primer import limb_lengths, mirror_pose
from hglearn.joints import MPII
from hglearn.layers import conv_output_size

# --- 00: pose primer ---------------------------------------------------------------------------


def mirror_pose_loop(joints, width, flip_index):
    out = np.empty((len(joints), 2))
    for j, source in enumerate(flip_index):
        x, y = joints[source]
        out[j] = width - 1 - x, y
    return out


def mirror_pose_affine(joints, width, flip_index):
    return np.array(joints, dtype=float)[list(flip_index)] * [-1, 1] + [width - 1, 0]


def mirror_no_swap(joints, width, flip_index):
    out = np.array(joints, dtype=float)
    out[:, 0] = width - 1 - out[:, 0]
    return out


def mirror_off_by_one(joints, width, flip_index):
    out = np.array(joints, dtype=float)[list(flip_index)]
    out[:, 0] = width - out[:, 0]
    return out


def mirror_in_place(joints, width, flip_index):  # np.asarray does not copy a float array
    joints = np.asarray(joints, dtype=float)
    joints[:, 0] = width - 1 - joints[:, 0]
    return joints[list(flip_index)]


def mirror_only_x_reordered(joints, width, flip_index):
    out = np.array(joints, dtype=float)
    out[:, 0] = (width - 1 - out[:, 0])[list(flip_index)]
    return out


def mirror_y(joints, width, flip_index):
    out = np.array(joints, dtype=float)[list(flip_index)]
    out[:, 1] = width - 1 - out[:, 1]
    return out


def mirror_as_list(joints, width, flip_index):
    return [(width - 1 - joints[j][0], joints[j][1]) for j in flip_index]


def mirror_keeps_dtype(joints, width, flip_index):  # ints in, ints out
    out = joints[list(flip_index)].copy()
    out[:, 0] = width - 1 - out[:, 0]
    return out


def mirror_mpii_only(joints, width, flip_index):
    return mirror_pose(joints, width, MPII.flip_index)


def test_mirror_pose_reference_swaps_sides_and_mirrors_twice_to_identity():
    joints = np.random.default_rng(0).uniform(0, 63, (16, 2))
    once = mirror_pose(joints, 64, MPII.flip_index)
    assert once[MPII.index("l_wrist"), 0] == pytest.approx(63 - joints[MPII.index("r_wrist"), 0])
    np.testing.assert_allclose(mirror_pose(once, 64, MPII.flip_index), joints)


@pytest.mark.parametrize("right", [mirror_pose_loop, mirror_pose_affine])
def test_check_mirror_pose_passes_right_answers(right):
    verdict = course.check_mirror_pose(right)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, hint", [
    (mirror_no_swap, "reorder the joints with flip_index"),
    (mirror_off_by_one, "width − 1 − x"),
    (mirror_in_place, "changed its argument joints in place"),
    (mirror_only_x_reordered, "only the x coordinates were reordered"),
    (mirror_y, "the y coordinates were mirrored"),
    (mirror_as_list, "got list"),
    (mirror_keeps_dtype, "returned an array of int64: expected a NumPy array of floats"),
    (mirror_mpii_only, "raised IndexError"),
])
def test_check_mirror_pose_fails_wrong_answers(wrong, hint, verdict_fails):
    verdict_fails(course.check_mirror_pose(wrong), hint)


def head_size_loop(boxes):
    return np.array([0.6 * math.hypot(x2 - x1, y2 - y1) for (x1, y1), (x2, y2) in boxes])


def head_size_sum_of_squares(boxes):
    return 0.6 * np.sqrt(((boxes[:, 1, :] - boxes[:, 0, :]) ** 2).sum(-1))


def head_size_in_place(boxes):
    boxes[:, 1] -= boxes[:, 0]
    return 0.6 * np.linalg.norm(boxes[:, 1], axis=1)


@pytest.mark.parametrize("right", [head_size_loop, head_size_sum_of_squares])
def test_check_head_size_passes_right_answers(right):
    verdict = course.check_head_size(right)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, hint", [
    (lambda boxes: np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1), "PCKh's head size is 0.6 × it"),
    (lambda boxes: 0.6 * np.abs(boxes[:, 1, 0] - boxes[:, 0, 0]), "values differ"),  # the width alone
    (lambda boxes: 0.6 * np.abs(boxes[:, 1] - boxes[:, 0]).sum(axis=1), "width + height is not the diagonal"),
    (lambda boxes: 0.6 * ((boxes[:, 1] - boxes[:, 0]) ** 2).sum(axis=1), "take the square root"),
    (head_size_in_place, "changed its argument head_boxes in place"),
    (lambda boxes: 0.6 * np.linalg.norm(boxes[:, 1] - boxes[:, 0]), "got float64"),  # no axis: one number
    (lambda boxes: [0.6 * math.hypot(*(box[1] - box[0])) for box in boxes], "got list"),
    (lambda boxes: 0.6 * np.linalg.norm(boxes[:, :, 1] - boxes[:, :, 0], axis=1), "values differ"),  # axes swapped
])
def test_check_head_size_fails_wrong_answers(wrong, hint, verdict_fails):
    verdict_fails(course.check_head_size(wrong), hint)


def limb_lengths_loop(joints, edges):
    return np.array([math.dist(joints[a], joints[b]) for a, b in edges])


def limb_lengths_hypot(joints, edges):
    a, b = (list(ends) for ends in zip(*edges))
    dx, dy = (joints[a] - joints[b]).T
    return np.hypot(dx, dy)


@pytest.mark.parametrize("right", [limb_lengths_loop, limb_lengths_hypot])
def test_check_limb_lengths_passes_right_answers(right):
    assert limb_lengths(np.array([[0.0, 0.0], [3.0, 4.0]]), [(0, 1)]) == pytest.approx([5.0])
    verdict = course.check_limb_lengths(right)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, hint", [
    (lambda joints, edges: limb_lengths_loop(joints, edges) ** 2, "take the square root"),
    (lambda joints, edges: np.array([np.abs(joints[a] - joints[b]).sum() for a, b in edges]), "|dx| + |dy|"),
    (lambda joints, edges: np.linalg.norm(joints[[a for a, _ in edges]] - joints[[b for _, b in edges]], axis=0),
     "shape"),
    (lambda joints, edges: [math.dist(joints[a], joints[b]) for a, b in edges], "got list"),
    (lambda joints, edges: limb_lengths_loop(joints.astype(int), edges), "values differ"),  # truncated joints
    (lambda joints, edges: np.linalg.norm(joints[edges[:, 0]] - joints[edges[:, 1]], axis=1), "raised TypeError"),
    (lambda joints, edges: limb_lengths_loop(joints, [(a - 1, b - 1) for a, b in edges]), "values differ"),
])
def test_check_limb_lengths_fails_wrong_answers(wrong, hint, verdict_fails):
    verdict_fails(course.check_limb_lengths(wrong), hint)


ALL_CHECKS = (course.check_mirror_pose, course.check_head_size, course.check_limb_lengths,
              course.check_conv_output_size, course.check_receptive_field, course.check_gridding_mask,
              course.check_conv_params, course.check_conv_flops, course.check_depthwise_separable)


def test_checks_report_not_implemented_as_not_attempted():
    def unsolved(*args):
        raise NotImplementedError("Exercise 1: your code here")

    for check in ALL_CHECKS:
        verdict = check(unsolved)
        assert not verdict and not verdict.attempted, check.__name__


# --- 01: dilated convolutions ------------------------------------------------------------------


def output_size_by_formula(size, kernel, stride=1, padding=0, dilation=1):
    return math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1


def output_size_by_sliding(size, kernel, stride=1, padding=0, dilation=1):
    span, positions, start = dilation * (kernel - 1) + 1, 0, 0
    while start + span <= size + 2 * padding:  # every position at which the dilated kernel fits
        positions += 1
        start += stride
    return positions


@pytest.mark.parametrize("right", [output_size_by_formula, output_size_by_sliding])
def test_check_conv_output_size_passes_right_answers(right):
    verdict = course.check_conv_output_size(right)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, hint", [
    (lambda n, k, s=1, p=0, d=1: (n + 2 * p - (k - 1) - 1) // s + 1, "the dilation"),
    (lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * k) // s + 1, "not dilation·kernel"),
    (lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) // s, "the + 1"),
    (lambda n, k, s=1, p=0, d=1: (n + p - d * (k - 1) - 1) // s + 1, "2p in all"),
    (lambda n, k, s=1, p=0, d=1: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1, "round down"),
    (lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1, "round down"),
    (lambda n, k, s=1, p=0, d=1: round((n + 2 * p - d * (k - 1) - 1) / s) + 1, "round down"),
    (lambda n, k, s=1, p=0, d=1: np.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1,
     "returned 64.0 (a float64): expected an int"),
])
def test_check_conv_output_size_fails_wrong_answers(wrong, hint, verdict_fails):
    verdict_fails(course.check_conv_output_size(wrong), hint)


def receptive_field_loop(layers):
    rf, jump = 1, 1
    for kernel, stride, dilation in layers:
        rf += dilation * (kernel - 1) * jump
        jump *= stride
    return rf


def receptive_field_by_strides_so_far(layers):
    strides = [stride for _, stride, _ in layers]
    return 1 + sum(dilation * (kernel - 1) * math.prod(strides[:i]) for i, (kernel, _, dilation) in enumerate(layers))


def receptive_field_jump_too_early(layers):
    rf, jump = 1, 1
    for kernel, stride, dilation in layers:
        jump *= stride
        rf += dilation * (kernel - 1) * jump
    return rf


def receptive_field_popping(layers):
    rf, jump = 1, 1
    while layers:
        kernel, stride, dilation = layers.pop(0)
        rf += dilation * (kernel - 1) * jump
        jump *= stride
    return rf


def receptive_field_doubling(layers):  # "each pooling doubles the jump"
    rf, jump = 1, 1
    for kernel, stride, dilation in layers:
        rf += dilation * (kernel - 1) * jump
        if stride > 1:
            jump *= 2
    return rf


@pytest.mark.parametrize("right", [receptive_field_loop, receptive_field_by_strides_so_far])
def test_check_receptive_field_passes_right_answers(right):
    verdict = course.check_receptive_field(right)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, hint", [
    (lambda layers: receptive_field_loop([(k, s, 1) for k, s, _ in layers]), "the dilation"),
    (lambda layers: 1 + sum(d * (k - 1) for k, _, d in layers), "the jump"),
    (receptive_field_jump_too_early, "strides of the layers before it"),
    (lambda layers: receptive_field_loop(layers) - 1, "r_0 = 1"),
    (lambda layers: receptive_field_loop([(k + 1, s, d) for k, s, d in layers]), "k − 1 gaps"),
    (receptive_field_doubling, "not by 2"),
    (receptive_field_popping, "changed its argument layers in place"),
    (lambda layers: 1 + sum(d * (k - 1) * np.prod([s for _, s, _ in layers[:i]]) for i, (k, _, d) in enumerate(layers)),
     "(a float64): expected an int"),  # np.prod([]) is the float 1.0
])
def test_check_receptive_field_fails_wrong_answers(wrong, hint, verdict_fails):
    verdict_fails(course.check_receptive_field(wrong), hint)


def test_gridding_mask_reference_agrees_with_gradients_of_a_conv_stack():
    for dilations in [(2, 2, 2), (1, 2, 3), (3,), (2, 3)]:
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
    assert not gridding_mask((2, 2, 2))[4, 3] and gridding_mask((1, 2, 3)).all() and not gridding_mask((2, 3)).all()


def gridding_by_convolution(dilations):
    line = np.ones(1)
    for d in dilations:
        taps = np.zeros(2 * d + 1)
        taps[[0, d, 2 * d]] = 1
        line = np.convolve(line, taps)
    return np.outer(line > 0, line > 0)


def gridding_by_sums(dilations):
    sums = {sum(choice) for choice in itertools.product(*[(-d, 0, d) for d in dilations])}
    half = sum(dilations)
    mask = np.zeros((2 * half + 1, 2 * half + 1), dtype=bool)
    for dy, dx in itertools.product(sums, sums):
        mask[half + dy, half + dx] = True
    return mask


def gridding_line(dilations):
    return gridding_by_sums(dilations)[sum(dilations)]


def gridding_common_factor(dilations):  # "rates that share no common factor fill the window"
    half = sum(dilations)
    factor = math.gcd(*dilations) if dilations else 1
    line = np.array([offset % factor == 0 for offset in range(-half, half + 1)])
    return np.outer(line, line)


def gridding_or(dilations):
    line = gridding_line(dilations)
    return line[:, None] | line[None, :]


def gridding_taps_alone(dilations):
    half = sum(dilations)
    line = np.zeros(2 * half + 1, dtype=bool)
    for offset in [0, *dilations, *(-d for d in dilations)]:
        line[half + offset] = True
    return np.outer(line, line)


def gridding_not_centred(dilations):
    offsets = {sum(choice) for choice in itertools.product(*[(-d, 0, d) for d in dilations])}
    line = np.zeros(2 * sum(dilations) + 1, dtype=bool)
    for offset in offsets:
        line[offset] = True  # a negative offset lands at the end
    return np.outer(line, line)


@pytest.mark.parametrize("right", [gridding_by_convolution, gridding_by_sums])
def test_check_gridding_mask_passes_right_answers(right):
    verdict = course.check_gridding_mask(right)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, hint", [
    (lambda dilations: np.ones((1 + 2 * sum(dilations),) * 2, dtype=bool), "skips the pixels"),
    (gridding_common_factor, "common factor"),
    (gridding_or, "the row OR the column"),
    (gridding_taps_alone, "only each layer's own taps"),
    (gridding_not_centred, "not centred"),
    (gridding_line, "shape"),
    (lambda dilations: gridding_by_sums(dilations).astype(float), "expected a NumPy array of bools"),
    (lambda dilations: gridding_by_sums(dilations)[: 1 + sum(dilations), : 1 + sum(dilations)], "shape"),
])
def test_check_gridding_mask_fails_wrong_answers(wrong, hint, verdict_fails):
    verdict_fails(course.check_gridding_mask(wrong), hint)


# --- 02: depthwise-separable convolutions ------------------------------------------------------


def params_per_half(cin, cout, kernel, separable=False):
    if separable:
        depthwise, pointwise = (kernel * kernel + 1) * cin, (cin + 1) * cout
        return depthwise + pointwise
    return (kernel * kernel * cin + 1) * cout


def params_counted_on_layers(cin, cout, kernel, separable=False):
    if separable:
        layers = [nn.Conv2d(cin, cin, kernel, groups=cin), nn.Conv2d(cin, cout, 1)]
    else:
        layers = [nn.Conv2d(cin, cout, kernel)]
    return sum(p.numel() for layer in layers for p in layer.parameters())


@pytest.mark.parametrize("right", [params_per_half, params_counted_on_layers])
def test_check_conv_params_passes_right_answers(right):
    verdict = course.check_conv_params(right)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, hint", [
    (lambda cin, cout, k, separable=False: k**2 * cin + cin * cout if separable else k**2 * cin * cout + cout,
     "count the biases"),
    (lambda cin, cout, k, separable=False: k**2 * cin + cin * cout if separable else k**2 * cin * cout,
     "count the biases"),
    (lambda cin, cout, k, separable=False: k**2 * cin + cin * cout + cout if separable else k**2 * cin * cout + cout,
     "one bias is missing"),
    (lambda cin, cout, k, separable=False: k**2 * cin * cout + cout, "separable=True is the depthwise-separable layer"),
    (lambda cin, cout, k, separable=False: (k**2 * cin * cin + cin + cin * cout + cout if separable
                                            else k**2 * cin * cout + cout), "groups=cin"),
    (lambda cin, cout, k, separable=False: (k**2 * cin + cin + k**2 * cin * cout + cout if separable
                                            else k**2 * cin * cout + cout), "the pointwise convolution is 1×1"),
    (lambda cin, cout, k, separable=False: (math.pow(k, 2) * cin + cin + cin * cout + cout if separable
                                            else math.pow(k, 2) * cin * cout + cout), "expected an int"),
])
def test_check_conv_params_fails_wrong_answers(wrong, hint, verdict_fails):
    verdict_fails(course.check_conv_params(wrong), hint)


def test_conv_flops_reference_is_the_multiply_add_formula():
    assert conv_flops(32, 64, 3, 16) == 9 * 32 * 64 * 16 * 16
    assert conv_flops(32, 64, 3, 16, separable=True) == (9 * 32 + 32 * 64) * 16 * 16


def flops_factored(cin, cout, kernel, size, separable=False):
    return (kernel**2 * cin + cin * cout if separable else kernel**2 * cin * cout) * size**2


def flops_per_output_pixel(cin, cout, kernel, size, separable=False):
    side = conv_output_size(size, kernel, 1, (kernel - 1) // 2)  # "same" padding, stride 1
    depthwise, pointwise = kernel * kernel * cin, cin * cout
    per_pixel = depthwise + pointwise if separable else kernel * kernel * cin * cout
    return per_pixel * side * side


@pytest.mark.parametrize("right", [flops_factored, flops_per_output_pixel])
def test_check_conv_flops_passes_right_answers(right):
    verdict = course.check_conv_flops(right)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, hint", [
    (lambda cin, cout, k, size, separable=False: 2 * flops_factored(cin, cout, k, size, separable), "ONE flop"),
    (lambda cin, cout, k, size, separable=False: (cin * cout * size**2 if separable
                                                  else flops_factored(cin, cout, k, size)), "the depthwise half"),
    (lambda cin, cout, k, size, separable=False: (k**2 * cin * size**2 if separable
                                                  else flops_factored(cin, cout, k, size)), "the pointwise half"),
    (lambda cin, cout, k, size, separable=False: flops_factored(cin, cout, k, size, separable)
     + ((cin + cout) if separable else cout) * size**2, "biases are not counted"),
    (lambda cin, cout, k, size, separable=False: ((k**2 * cin * cin + cin * cout) * size**2 if separable
                                                  else flops_factored(cin, cout, k, size)), "groups=cin"),
    (lambda cin, cout, k, size, separable=False: flops_factored(cin, cout, k, size, separable) // size, "size²"),
    (lambda cin, cout, k, size, separable=False: flops_factored(cin, cout, k, 1, separable), "per output pixel"),
    (lambda cin, cout, k, size, separable=False: flops_factored(cin, cout, k, 1, separable) * (size - k + 1)**2,
     "\"same\"-padded"),
    (lambda cin, cout, k, size, separable=False: flops_factored(cin, cout, k, size, separable) / 1,
     "expected an int"),
])
def test_check_conv_flops_fails_wrong_answers(wrong, hint, verdict_fails):
    verdict_fails(course.check_conv_flops(wrong), hint)


class SeparablePointwiseFirst(nn.Module):  # other names, the other order of creation
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__()
        self.mix = nn.Conv2d(cin, cout, 1)
        self.spatial = nn.Conv2d(cin, cin, kernel_size, padding="same", dilation=dilation, groups=cin)

    def forward(self, x):
        return self.mix(self.spatial(x))


class SeparableSequential(nn.Sequential):
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        padding = dilation * (kernel_size // 2)
        super().__init__(nn.Conv2d(cin, cin, kernel_size, padding=padding, dilation=dilation, groups=cin),
                         nn.Conv2d(cin, cout, 1))


class SeparableFunctional(nn.Module):  # raw parameters, biases first
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__()
        self.pointwise_bias = nn.Parameter(torch.zeros(cout))
        self.depthwise_bias = nn.Parameter(torch.zeros(cin))
        self.pointwise_weight = nn.Parameter(torch.randn(cout, cin, 1, 1))
        self.depthwise_weight = nn.Parameter(torch.randn(cin, 1, kernel_size, kernel_size))
        self.dilation, self.cin = dilation, cin

    def forward(self, x):
        x = F.conv2d(x, self.depthwise_weight, self.depthwise_bias, padding="same", dilation=self.dilation,
                     groups=self.cin)
        return F.conv2d(x, self.pointwise_weight, self.pointwise_bias)


class SeparableEinsum(nn.Module):  # the pointwise half as a (cout, cin) matrix
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__()
        self.mix = nn.Parameter(torch.randn(cout, cin) / cin**0.5)
        self.mix_bias = nn.Parameter(torch.zeros(cout))
        self.spatial = nn.Conv2d(cin, cin, kernel_size, padding=dilation * (kernel_size - 1) // 2,
                                 dilation=dilation, groups=cin)

    def forward(self, x):
        y = self.spatial(x)  # (B, cin, H, W)
        return torch.einsum("oc,bchw->bohw", self.mix, y) + self.mix_bias[:, None, None]


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


class SeparableWithoutDilation(SeparableRight):
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__(cin, cout, kernel_size, dilation)
        self.dw = nn.Conv2d(cin, cin, kernel_size, padding=(kernel_size - 1) // 2, groups=cin)


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


class SeparableWithDropout(SeparableRight):
    def forward(self, x):
        return self.pw(F.dropout(self.dw(x), 0.1, self.training))


class SeparablePointwiseThenDepthwise(nn.Module):
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__()
        self.pw = nn.Conv2d(cin, cout, 1)
        self.dw = nn.Conv2d(cout, cout, kernel_size, padding=dilation * (kernel_size - 1) // 2, dilation=dilation,
                            groups=cout)

    def forward(self, x):
        return self.dw(self.pw(x))


class SeparableWithoutPointwiseBias(SeparableRight):
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__(cin, cout, kernel_size, dilation)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)


class SeparableFixedKernel(SeparableRight):
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        super().__init__(cin, cout, 3, dilation)


class SeparableInAList(SeparableRight):
    def __init__(self, cin, cout, kernel_size=3, dilation=1):
        nn.Module.__init__(self)
        padding = dilation * (kernel_size - 1) // 2
        self.layers = [nn.Conv2d(cin, cin, kernel_size, padding=padding, dilation=dilation, groups=cin),
                       nn.Conv2d(cin, cout, 1)]

    def forward(self, x):
        return self.layers[1](self.layers[0](x))


class SeparableNoGrad(SeparableRight):  # "no_grad makes it faster"
    def forward(self, x):
        with torch.no_grad():
            return self.pw(self.dw(x))


class SeparableDetachedWeights(SeparableRight):
    def forward(self, x):
        x = F.conv2d(x, self.dw.weight.data, self.dw.bias, self.dw.stride, self.dw.padding, self.dw.dilation,
                     self.dw.groups)
        return self.pw(x)


class SeparableInPlace(SeparableRight):
    def forward(self, x):
        return self.pw(self.dw(x.sub_(x.mean())) + x.mean())  # centre the input, in place


@pytest.mark.parametrize("right", [SeparableRight, SeparablePointwiseFirst, SeparableSequential, SeparableFunctional,
                                   SeparableEinsum])
def test_check_depthwise_separable_passes_right_answers_in_any_order_of_creation(right):
    verdict = course.check_depthwise_separable(right)
    assert verdict, verdict


@pytest.mark.parametrize("wrong, hint", [
    (SeparablePaddingWithoutDilation, "padding = dilation"),
    (SeparableWithoutDilation, "the dilation is not used"),
    (SeparableWithoutGroups, "groups=cin"),
    (SeparableWithBatchNorm, "BatchNorm(cin) between the halves"),
    (SeparableWithReLU, "a ReLU between the halves"),
    (SeparableWithDropout, "in training mode"),
    (SeparablePointwiseThenDepthwise, "the halves in the other order"),
    (SeparableWithoutPointwiseBias, "a bias is missing"),
    (SeparableFixedKernel, "parameters, the reference"),
    (SeparableInAList, "has no parameters"),
    (SeparableNoGrad, "its output carries no gradient"),
    (SeparableDetachedWeights, "no gradient reaches its parameter dw.weight"),
    (SeparableInPlace, "changed its input tensor in place"),
])
def test_check_depthwise_separable_fails_wrong_answers(wrong, hint, verdict_fails):
    verdict_fails(course.check_depthwise_separable(wrong), hint)


def test_checks_leave_the_notebooks_random_numbers_alone():
    torch.manual_seed(3)
    before = torch.rand(3)
    torch.manual_seed(3)
    for check, answer in [(course.check_depthwise_separable, SeparableRight),
                          (course.check_conv_params, params_per_half), (course.check_conv_flops, flops_factored)]:
        assert check(answer)
    assert torch.equal(torch.rand(3), before)
