"""The checks of notebooks 03-05 pass right answers and fail plausible wrong ones with a hint."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hglearn import course
from hglearn.blocks import MDLRB, Bottleneck
from hglearn.layers import SqueezeExcite
from hglearn.losses import stacked_heatmap_loss


# --- 03: residual blocks ---------------------------------------------------------------------------


class PostActivationBottleneck(Bottleneck):
    """conv-BN-ReLU instead of BN-ReLU-conv (the original ResNet order): same layers, other maths."""

    def forward(self, x):
        y = self.conv1(torch.relu(self.bn1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))  # BN and ReLU after the 3×3
        y = self.conv3(torch.relu(self.bn3(y)))
        return y + self.skip(x)


class NoSkipBottleneck(Bottleneck):
    def forward(self, x):
        return super().forward(x) - self.skip(x)


def test_check_bottleneck(verdict_fails):
    assert course.check_bottleneck(Bottleneck)
    verdict_fails(course.check_bottleneck(PostActivationBottleneck), "values differ")
    verdict_fails(course.check_bottleneck(NoSkipBottleneck), "values differ")
    full_width = lambda cin, cout: nn.Sequential(nn.Conv2d(cin, cout, 1), nn.Conv2d(cout, cout, 3, padding=1))
    verdict_fails(course.check_bottleneck(full_width), "parameters")


def test_check_bottleneck_parameters(verdict_fails):
    def right(cin, cout):
        mid = cout // 2
        skip = 0 if cin == cout else cin * cout + cout
        return 2 * cin + 4 * mid + (cin * mid + mid) + (9 * mid * mid + mid) + (mid * cout + cout) + skip

    def no_skip(cin, cout):  # forgets the 1×1 shortcut when the widths differ
        mid = cout // 2
        return 2 * cin + 4 * mid + (cin * mid + mid) + (9 * mid * mid + mid) + (mid * cout + cout)

    def no_batchnorm(cin, cout):
        return right(cin, cout) - 2 * cin - 4 * (cout // 2)

    assert course.check_bottleneck_parameters(right)
    assert right(256, 256) == 214_528
    verdict_fails(course.check_bottleneck_parameters(no_skip), "bottleneck_parameters(64, 128)")
    verdict_fails(course.check_bottleneck_parameters(no_batchnorm), "instead of 214528")


class SerialMDLRB(nn.Module):
    """The two dilated branches one after the other instead of side by side: same parameters."""

    def __init__(self, cin, cout):
        super().__init__()
        self.block = MDLRB(cin, cout)

    def forward(self, x):
        b = self.block
        y = b.conv1(torch.relu(b.bn1(x)))
        y = b.conv2(torch.relu(b.bn2(y)))
        for branch in b.branches:
            y = branch(y)
        return b.conv3(torch.relu(b.bn3(y))) + b.skip(x)


def test_check_mdlrb(verdict_fails):
    assert course.check_mdlrb(MDLRB)
    verdict_fails(course.check_mdlrb(SerialMDLRB), "values differ")
    verdict_fails(course.check_mdlrb(lambda cin, cout: MDLRB(cin, cout, dilations=(1, 2))), "values differ")
    verdict_fails(course.check_mdlrb(lambda cin, cout: MDLRB(cin, cout, dilations=(2,))), "parameters")


class MaxPoolSE(SqueezeExcite):
    def forward(self, x):
        s = F.adaptive_max_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class RoundedSE(SqueezeExcite):  # hidden = channels // reduction without the floor at 1
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        self.fc1, self.fc2 = nn.Conv2d(channels, channels // reduction, 1), nn.Conv2d(channels // reduction, channels, 1)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_check_squeeze_excite(verdict_fails):
    assert course.check_squeeze_excite(SqueezeExcite)
    verdict_fails(course.check_squeeze_excite(MaxPoolSE), "values differ")
    verdict_fails(course.check_squeeze_excite(lambda c, r=16: nn.Identity()), "parameters")
    verdict_fails(course.check_squeeze_excite(RoundedSE), "parameters", "raised")


def test_checks_report_not_implemented_as_not_attempted():
    def unsolved(*args):
        raise NotImplementedError("Exercise 1: your code here")

    for check in (course.check_bottleneck, course.check_mdlrb, course.check_bottleneck_parameters,
                  course.check_hourglass, course.check_upsample_nearest, course.check_stacked_loss,
                  course.check_merge):
        verdict = check(unsolved)
        assert not verdict and not verdict.attempted, check.__name__


# --- 04: the hourglass -----------------------------------------------------------------------------


def test_check_upsample_nearest(verdict_fails):
    assert course.check_upsample_nearest(lambda x, factor=2: x.repeat_interleave(factor, -2).repeat_interleave(factor, -1))
    verdict_fails(course.check_upsample_nearest(lambda x, factor=2: x.repeat(1, 1, factor, factor)), "values differ")
    verdict_fails(course.check_upsample_nearest(
        lambda x, factor=2: F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)), "values differ")


class Hourglass(nn.Module):
    """A correct recursive hourglass, written as a student would (no features returned)."""

    def __init__(self, depth, channels, block=Bottleneck, upsample_first=False, pool=F.max_pool2d):
        super().__init__()
        self.depth, self.upsample_first, self.pool = depth, upsample_first, pool
        self.up1 = block(channels, channels)
        self.low1 = block(channels, channels)
        self.low2 = (Hourglass(depth - 1, channels, block, upsample_first, pool) if depth > 1
                     else block(channels, channels))
        self.low3 = block(channels, channels)

    def forward(self, x):
        low2 = self.low2(self.low1(self.pool(x, 2)))
        if self.upsample_first:  # low3 at full resolution: same weights, other maths
            return self.up1(x) + self.low3(F.interpolate(low2, scale_factor=2, mode="nearest"))
        return self.up1(x) + F.interpolate(self.low3(low2), scale_factor=2, mode="nearest")


def test_check_hourglass(verdict_fails):
    assert course.check_hourglass(Hourglass)
    verdict_fails(course.check_hourglass(lambda d, c: Hourglass(d, c, upsample_first=True)), "values differ")
    verdict_fails(course.check_hourglass(lambda d, c: Hourglass(d, c, pool=F.avg_pool2d)), "values differ")
    verdict_fails(course.check_hourglass(lambda d, c: Hourglass(d + 1, c)), "parameters", "raised")


def test_check_hourglass_blocks(verdict_fails):
    assert course.check_hourglass_blocks(lambda depth: 3 * depth + 1)
    verdict_fails(course.check_hourglass_blocks(lambda depth: 3 * depth), "hourglass_blocks(1)")
    verdict_fails(course.check_hourglass_blocks(lambda depth: 4 * depth), "instead of")


# --- 05: stacking ----------------------------------------------------------------------------------


class Merge(nn.Module):
    def __init__(self, channels, num_joints, residual=True):
        super().__init__()
        self.features, self.heatmaps = nn.Conv2d(channels, channels, 1), nn.Conv2d(num_joints, channels, 1)
        self.residual = residual

    def forward(self, x, f, heatmaps):
        return (x if self.residual else 0) + self.features(f) + self.heatmaps(heatmaps)


class BiasFreeMerge(Merge):
    def __init__(self, channels, num_joints):
        super().__init__(channels, num_joints)
        self.heatmaps = nn.Conv2d(num_joints, channels, 1, bias=False)


def test_check_merge(verdict_fails):
    assert course.check_merge(Merge)
    verdict_fails(course.check_merge(lambda c, j: Merge(c, j, residual=False)), "values differ")
    verdict_fails(course.check_merge(BiasFreeMerge), "parameters")


def test_check_stacked_loss(verdict_fails):
    assert course.check_stacked_loss(stacked_heatmap_loss)

    def unweighted(heatmaps, target, weight):
        per_stack = (heatmaps - target.unsqueeze(1)).square().mean(dim=(0, 2, 3, 4))
        return per_stack.mean(), per_stack

    def last_only(heatmaps, target, weight):
        loss, per_stack = stacked_heatmap_loss(heatmaps, target, weight)
        return per_stack[-1], per_stack

    def summed_over_stacks(heatmaps, target, weight):
        loss, per_stack = stacked_heatmap_loss(heatmaps, target, weight)
        return per_stack.sum(), per_stack

    def mean_over_weighted_joints(heatmaps, target, weight):  # divides by Σw, not by B·J
        squared = (heatmaps - target.unsqueeze(1)).square().mean(dim=(3, 4))  # (B, S, J)
        per_stack = (squared * weight.unsqueeze(1)).sum(dim=(0, 2)) / weight.sum()
        return per_stack.mean(), per_stack

    verdict_fails(course.check_stacked_loss(unweighted), "values differ", "instead of")
    verdict_fails(course.check_stacked_loss(last_only), "instead of")
    verdict_fails(course.check_stacked_loss(summed_over_stacks), "instead of")
    verdict_fails(course.check_stacked_loss(mean_over_weighted_joints), "instead of", "values differ")


def test_check_merge_parameters(verdict_fails):
    assert course.check_merge_parameters(lambda s, c, j: (s - 1) * ((c * c + c) + (j * c + c)))
    verdict_fails(course.check_merge_parameters(lambda s, c, j: s * ((c * c + c) + (j * c + c))), "instead of")
    verdict_fails(course.check_merge_parameters(lambda s, c, j: (s - 1) * (c * c + j * c)), "instead of")
