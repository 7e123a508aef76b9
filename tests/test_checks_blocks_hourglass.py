"""The checks of notebooks 03-05 pass right answers written in other ways than the solutions (other
layer creation orders, other names, loops) and fail plausible wrong ones, with a hint that says
what differs or, where the check can tell, names the mistake."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hglearn import course
from hglearn.blocks import MDLRB, Bottleneck
from hglearn.layers import DepthwiseSeparableConv2d, SqueezeExcite
from hglearn.losses import stacked_heatmap_loss


def shortcut(cin, cout):
    return nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)


# --- 03: the bottleneck ------------------------------------------------------------------------------


class ReversedBottleneck(nn.Module):
    """Right: the layers created last to first, under other names."""

    def __init__(self, cin, cout):
        super().__init__()
        mid = cout // 2
        self.shortcut = shortcut(cin, cout)
        self.expand, self.norm_expand = nn.Conv2d(mid, cout, 1), nn.BatchNorm2d(mid)
        self.spatial, self.norm_spatial = nn.Conv2d(mid, mid, 3, padding=1), nn.BatchNorm2d(mid)
        self.reduce, self.norm_in = nn.Conv2d(cin, mid, 1), nn.BatchNorm2d(cin)

    def forward(self, x):
        y = self.reduce(F.relu(self.norm_in(x)))
        y = self.spatial(F.relu(self.norm_spatial(y)))
        return self.shortcut(x) + self.expand(F.relu(self.norm_expand(y)))


class SequentialBottleneck(nn.Module):
    """Right: the shortcut first, the residual branch one nn.Sequential, computed after the shortcut."""

    def __init__(self, cin, cout):
        super().__init__()
        mid = cout // 2
        self.skip = shortcut(cin, cout)
        self.branch = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, mid, 1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1),
        )

    def forward(self, x):
        identity = self.skip(x)
        return identity + self.branch(x)


class PostActivationBottleneck(Bottleneck):
    """conv-BN-ReLU for the 3×3 (the original ResNet order): same layers, other maths."""

    def forward(self, x):
        y = self.conv1(torch.relu(self.bn1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.conv3(torch.relu(self.bn3(y)))
        return y + self.skip(x)


class ReluBeforeNormBottleneck(Bottleneck):
    """ReLU-BN-conv instead of BN-ReLU-conv."""

    def forward(self, x):
        y = self.conv1(self.bn1(torch.relu(x)))
        y = self.conv2(self.bn2(torch.relu(y)))
        y = self.conv3(self.bn3(torch.relu(y)))
        return y + self.skip(x)


class NoSkipBottleneck(Bottleneck):
    def forward(self, x):
        return super().forward(x) - self.skip(x)


class NoLastReluBottleneck(Bottleneck):
    def forward(self, x):
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        return self.conv3(self.bn3(y)) + self.skip(x)


class AlwaysConvSkipBottleneck(Bottleneck):
    def __init__(self, cin, cout):
        super().__init__(cin, cout)
        self.skip = nn.Conv2d(cin, cout, 1)


class RoundedUpBottleneck(nn.Module):
    """Half width rounded up: shows only at an odd output width."""

    def __init__(self, cin, cout):
        super().__init__()
        mid = (cout + 1) // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, cout, 1)
        self.skip = shortcut(cin, cout)

    forward = Bottleneck.forward


class BiasFreeBottleneck(RoundedUpBottleneck):
    def __init__(self, cin, cout):
        super().__init__(cin, cout)
        mid = cout // 2
        self.bn2, self.bn3 = nn.BatchNorm2d(mid), nn.BatchNorm2d(mid)
        self.conv1, self.conv2 = nn.Conv2d(cin, mid, 1, bias=False), nn.Conv2d(mid, mid, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)


class InPlaceBottleneck(Bottleneck):
    """`out = skip(x); out += y`: with the identity shortcut, out *is* x, so the caller's x changes."""

    def forward(self, x):
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        out = self.skip(x)
        out += self.conv3(torch.relu(self.bn3(y)))
        return out


class NoGradSkipBottleneck(Bottleneck):
    def forward(self, x):
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        with torch.no_grad():
            identity = self.skip(x)
        return self.conv3(torch.relu(self.bn3(y))) + identity


class ListBottleneck(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        mid = cout // 2
        self.layers = [nn.BatchNorm2d(cin), nn.Conv2d(cin, mid, 1), nn.BatchNorm2d(mid),
                       nn.Conv2d(mid, mid, 3, padding=1), nn.BatchNorm2d(mid), nn.Conv2d(mid, cout, 1)]
        self.skip = shortcut(cin, cout)

    def forward(self, x):
        y = x
        for norm, conv in zip(self.layers[::2], self.layers[1::2]):
            y = conv(torch.relu(norm(y)))
        return y + self.skip(x)


class DropoutBottleneck(Bottleneck):
    """Dropout before the last 1×1: the same as the reference in eval mode, not in training mode."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        return self.conv3(self.drop(torch.relu(self.bn3(y)))) + self.skip(x)


class InstanceNormBottleneck(Bottleneck):
    """InstanceNorm with running statistics: in eval mode it is a BatchNorm, in training mode it
    normalises each image on its own."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout)
        mid = cout // 2
        self.bn1 = nn.InstanceNorm2d(cin, affine=True, track_running_stats=True)
        self.bn2 = nn.InstanceNorm2d(mid, affine=True, track_running_stats=True)
        self.bn3 = nn.InstanceNorm2d(mid, affine=True, track_running_stats=True)


class SlowStatisticsBottleneck(Bottleneck):
    def __init__(self, cin, cout):
        super().__init__(cin, cout)
        self.bn2 = nn.BatchNorm2d(cout // 2, momentum=0.01)


class BatchStatisticsBottleneck(Bottleneck):
    """BatchNorms without running statistics: they normalise by the batch even in eval mode."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout)
        mid = cout // 2
        self.bn1 = nn.BatchNorm2d(cin, track_running_stats=False)
        self.bn2 = nn.BatchNorm2d(mid, track_running_stats=False)
        self.bn3 = nn.BatchNorm2d(mid, track_running_stats=False)


def test_check_bottleneck_accepts_other_orders_and_names():
    for right in (Bottleneck, ReversedBottleneck, SequentialBottleneck):
        verdict = course.check_bottleneck(right)
        assert verdict, (right.__name__, verdict)


def test_check_bottleneck_rejects_wrong_blocks(verdict_fails):
    verdict_fails(course.check_bottleneck(PostActivationBottleneck), "values differ")
    verdict_fails(course.check_bottleneck(ReluBeforeNormBottleneck), "values differ")
    verdict_fails(course.check_bottleneck(NoSkipBottleneck), "values differ")
    verdict_fails(course.check_bottleneck(NoLastReluBottleneck), "values differ")
    verdict_fails(course.check_bottleneck(AlwaysConvSkipBottleneck), "with a 1×1 shortcut even when cin == cout")
    verdict_fails(course.check_bottleneck(RoundedUpBottleneck), "Bottleneck(5, 7) has 275 parameters, the reference 194: "
                  "that is the count of a bottleneck whose half width is rounded up")  # at an odd width only
    verdict_fails(course.check_bottleneck(BiasFreeBottleneck), "whose convolutions have no bias")
    verdict_fails(course.check_bottleneck(InPlaceBottleneck), "changes its input `x` in place")
    verdict_fails(course.check_bottleneck(NoGradSkipBottleneck), "gradient")
    verdict_fails(course.check_bottleneck(ListBottleneck), "plain Python list (`layers`)")
    verdict_fails(course.check_bottleneck(DropoutBottleneck), "in training mode")
    verdict_fails(course.check_bottleneck(InstanceNormBottleneck), "in training mode")
    verdict_fails(course.check_bottleneck(SlowStatisticsBottleneck), "the buffer `bn2.running_mean` differs")
    verdict_fails(course.check_bottleneck(BatchStatisticsBottleneck), "it holds 0 buffers")
    full_width = lambda cin, cout: nn.Sequential(nn.Conv2d(cin, cout, 1), nn.Conv2d(cout, cout, 3, padding=1))
    verdict_fails(course.check_bottleneck(full_width), "parameters, the reference")


def test_check_bottleneck_parameters(verdict_fails):
    def right(cin, cout):
        mid = cout // 2
        skip = 0 if cin == cout else cin * cout + cout
        return 2 * cin + 4 * mid + (cin * mid + mid) + (9 * mid * mid + mid) + (mid * cout + cout) + skip

    def right_by_layers(cin, cout):  # layer by layer, (in, out, kernel) and BatchNorm widths
        mid = cout // 2
        convs = [(cin, mid, 1), (mid, mid, 3), (mid, cout, 1)] + ([(cin, cout, 1)] if cin != cout else [])
        total = 0
        for a, b, k in convs:
            total += a * b * k * k + b
        for width in (cin, mid, mid):
            total += 2 * width
        return total

    def no_skip(cin, cout):
        mid = cout // 2
        return 2 * cin + 4 * mid + (cin * mid + mid) + (9 * mid * mid + mid) + (mid * cout + cout)

    def no_batchnorm(cin, cout):
        return right(cin, cout) - 2 * cin - 4 * (cout // 2)

    def skip_without_bias(cin, cout):
        return right(cin, cout) - (cout if cin != cout else 0)

    def running_statistics(cin, cout):  # 4 numbers per BatchNorm channel
        return right(cin, cout) + 2 * cin + 4 * (cout // 2)

    def half_width_rounded_up(cin, cout):
        mid = (cout + 1) // 2
        skip = 0 if cin == cout else cin * cout + cout
        return 2 * cin + 4 * mid + (cin * mid + mid) + (9 * mid * mid + mid) + (mid * cout + cout) + skip

    def true_division(cin, cout):  # m = cout / 2: a float, and wrong at odd widths
        mid = cout / 2
        skip = 0 if cin == cout else cin * cout + cout
        return 2 * cin + 4 * mid + (cin * mid + mid) + (9 * mid * mid + mid) + (mid * cout + cout) + skip

    assert course.check_bottleneck_parameters(right)
    assert course.check_bottleneck_parameters(right_by_layers)
    assert right(256, 256) == 214_528
    verdict_fails(course.check_bottleneck_parameters(no_skip), "without the 1×1 shortcut convolution")
    verdict_fails(course.check_bottleneck_parameters(no_batchnorm), "without its BatchNorms")
    verdict_fails(course.check_bottleneck_parameters(skip_without_bias), "whose 1×1 shortcut has no bias")
    verdict_fails(course.check_bottleneck_parameters(running_statistics), "buffers, not parameters")
    verdict_fails(course.check_bottleneck_parameters(half_width_rounded_up), "bottleneck_parameters(7, 7) = 245 instead of 162: that is the count of a bottleneck whose half width is rounded up")
    verdict_fails(course.check_bottleneck_parameters(true_division), "returned float")


# --- 03: the MDLRB -----------------------------------------------------------------------------------


class BranchesBackwards(nn.Module):
    """Right: the dilation-3 branch created (and added) first, plain depthwise and pointwise convolutions."""

    def __init__(self, cin, cout):
        super().__init__()
        m = cout // 2
        self.expand_norm, self.expand = nn.BatchNorm2d(m), nn.Conv2d(m, cout, 1)
        self.norm3, self.dw3, self.pw3 = nn.BatchNorm2d(m), nn.Conv2d(m, m, 3, padding=3, dilation=3, groups=m), nn.Conv2d(m, m, 1)
        self.norm2, self.dw2, self.pw2 = nn.BatchNorm2d(m), nn.Conv2d(m, m, 3, padding=2, dilation=2, groups=m), nn.Conv2d(m, m, 1)
        self.mix_norm, self.mix = nn.BatchNorm2d(m), nn.Conv2d(m, m, 1)
        self.in_norm, self.reduce = nn.BatchNorm2d(cin), nn.Conv2d(cin, m, 1)
        self.skip = shortcut(cin, cout)

    def forward(self, x):
        y = self.mix(F.relu(self.mix_norm(self.reduce(F.relu(self.in_norm(x))))))
        y = self.pw3(self.dw3(F.relu(self.norm3(y)))) + self.pw2(self.dw2(F.relu(self.norm2(y))))
        return self.skip(x) + self.expand(F.relu(self.expand_norm(y)))


class DictMDLRB(nn.Module):
    """Right: the shortcut first, the branches in an nn.ModuleDict keyed by dilation, added in a loop."""

    def __init__(self, cin, cout):
        super().__init__()
        m = cout // 2
        self.skip = shortcut(cin, cout)
        self.head = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, m, 1),
                                  nn.BatchNorm2d(m), nn.ReLU(), nn.Conv2d(m, m, 1))
        self.branches = nn.ModuleDict({str(d): nn.Sequential(nn.BatchNorm2d(m), nn.ReLU(),
                                                             DepthwiseSeparableConv2d(m, m, 3, dilation=d))
                                       for d in (3, 2)})
        self.tail = nn.Sequential(nn.BatchNorm2d(m), nn.ReLU(), nn.Conv2d(m, cout, 1))

    def forward(self, x):
        y = self.head(x)
        total = 0
        for branch in self.branches.values():
            total = total + branch(y)
        return self.tail(total) + self.skip(x)


class SerialMDLRB(MDLRB):
    """The two dilated branches one after the other instead of side by side: same parameters."""

    def forward(self, x):
        y = self.conv2(torch.relu(self.bn2(self.conv1(torch.relu(self.bn1(x))))))
        for branch in self.branches:
            y = branch(y)
        return self.conv3(torch.relu(self.bn3(y))) + self.skip(x)


class PointwiseFirstMDLRB(MDLRB):
    """The pointwise 1×1 of each branch before its depthwise 3×3."""

    def forward(self, x):
        y = self.conv2(torch.relu(self.bn2(self.conv1(torch.relu(self.bn1(x))))))
        total = 0
        for norm, _, ds in self.branches:
            total = total + ds.depthwise(ds.pointwise(torch.relu(norm(y))))
        return self.conv3(torch.relu(self.bn3(total))) + self.skip(x)


class BranchesFromFirstConv(MDLRB):
    """The branches fed from the first 1×1, skipping the second one."""

    def forward(self, x):
        y1 = self.conv1(torch.relu(self.bn1(x)))
        self.conv2(torch.relu(self.bn2(y1)))
        y = sum(branch(y1) for branch in self.branches)
        return self.conv3(torch.relu(self.bn3(y))) + self.skip(x)


class SharedNormMDLRB(nn.Module):
    """One BatchNorm-ReLU before the split instead of one per branch."""

    def __init__(self, cin, cout):
        super().__init__()
        m = cout // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, m, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(m), nn.Conv2d(m, m, 1)
        self.bn_split = nn.BatchNorm2d(m)
        self.ds2, self.ds3 = DepthwiseSeparableConv2d(m, m, 3, dilation=2), DepthwiseSeparableConv2d(m, m, 3, dilation=3)
        self.bn3, self.conv3 = nn.BatchNorm2d(m), nn.Conv2d(m, cout, 1)
        self.skip = shortcut(cin, cout)

    def forward(self, x):
        y = self.conv2(torch.relu(self.bn2(self.conv1(torch.relu(self.bn1(x))))))
        y = torch.relu(self.bn_split(y))
        return self.conv3(torch.relu(self.bn3(self.ds2(y) + self.ds3(y)))) + self.skip(x)


class ListBranchesMDLRB(MDLRB):
    def __init__(self, cin, cout):
        super().__init__(cin, cout)
        branches = list(self.branches)
        del self.branches
        self.branches = branches  # a plain list: PyTorch does not see the layers in it


def test_check_mdlrb_accepts_other_orders_and_names():
    for right in (MDLRB, BranchesBackwards, DictMDLRB):
        verdict = course.check_mdlrb(right)
        assert verdict, (right.__name__, verdict)


def test_check_mdlrb_rejects_wrong_blocks(verdict_fails):
    verdict_fails(course.check_mdlrb(SerialMDLRB), "values differ")
    verdict_fails(course.check_mdlrb(lambda cin, cout: MDLRB(cin, cout, dilations=(1, 2))), "values differ")
    verdict_fails(course.check_mdlrb(lambda cin, cout: MDLRB(cin, cout, dilations=(2, 2))), "values differ")
    verdict_fails(course.check_mdlrb(lambda cin, cout: MDLRB(cin, cout, dilations=(2,))), "parameters")
    verdict_fails(course.check_mdlrb(PointwiseFirstMDLRB), "values differ")
    verdict_fails(course.check_mdlrb(BranchesFromFirstConv), "values differ")
    verdict_fails(course.check_mdlrb(SharedNormMDLRB), "BatchNorm2d 80 vs 96")
    verdict_fails(course.check_mdlrb(ListBranchesMDLRB), "plain Python list (`branches`)")


# --- 03: squeeze-and-excitation ----------------------------------------------------------------------


class LinearSE(nn.Module):
    """Right: linear layers on the flattened means, W2 created before W1."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.excite = nn.Linear(hidden, channels)
        self.squeeze = nn.Linear(channels, hidden)

    def forward(self, x):
        z = x.flatten(2).mean(-1)  # (B, C)
        s = torch.sigmoid(self.excite(F.relu(self.squeeze(z))))
        return x * s[:, :, None, None]


class SequentialSE(nn.Module):
    """Right: the whole gate one nn.Sequential, the pooling a layer."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(),
                                  nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, x):
        return self.gate(x) * x


class MaxPoolSE(SqueezeExcite):
    def forward(self, x):
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(F.adaptive_max_pool2d(x, 1)))))


class BatchMeanSE(SqueezeExcite):
    """The mean over the batch as well: shows only with more than one image."""

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(0, 2, 3), keepdim=True)))))


class SoftmaxSE(SqueezeExcite):
    def forward(self, x):
        return x * torch.softmax(self.fc2(torch.relu(self.fc1(self.squeeze(x)))), dim=1)


class GateOnlySE(SqueezeExcite):
    def forward(self, x):
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(self.squeeze(x)))))


class InPlaceSE(SqueezeExcite):
    def forward(self, x):
        x *= torch.sigmoid(self.fc2(torch.relu(self.fc1(self.squeeze(x)))))
        return x


class RoundedSE(SqueezeExcite):  # hidden = channels // reduction without the floor at 1
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        self.fc1, self.fc2 = nn.Conv2d(channels, channels // reduction, 1), nn.Conv2d(channels // reduction, channels, 1)


def test_check_squeeze_excite_accepts_other_orders_and_layers():
    for right in (SqueezeExcite, LinearSE, SequentialSE):
        verdict = course.check_squeeze_excite(right)
        assert verdict, (right.__name__, verdict)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_check_squeeze_excite_rejects_wrong_gates(verdict_fails):
    verdict_fails(course.check_squeeze_excite(MaxPoolSE), "values differ")
    verdict_fails(course.check_squeeze_excite(BatchMeanSE), "values differ")
    verdict_fails(course.check_squeeze_excite(SoftmaxSE), "values differ")
    verdict_fails(course.check_squeeze_excite(GateOnlySE), "output shape (2, 32, 1, 1), expected (2, 32, 5, 5)")
    verdict_fails(course.check_squeeze_excite(InPlaceSE), "changes its input `x` in place")
    verdict_fails(course.check_squeeze_excite(lambda c, r=16: nn.Identity()), "has 0 parameters")
    verdict_fails(course.check_squeeze_excite(RoundedSE), "8 // 16 is 0 hidden units here")
    verdict_fails(course.check_squeeze_excite(lambda c, r=16: SqueezeExcite(c)), "`reduction` (4 here) is not used")
    verdict_fails(course.check_squeeze_excite(
        lambda c, r=16: SequentialSE(c, r).requires_grad_(False)), "no gradient")


def test_checks_report_not_implemented_as_not_attempted():
    def unsolved(*args):
        raise NotImplementedError("Exercise 1: your code here")

    def forward_unwritten(self, *inputs):
        raise NotImplementedError("Exercise 2 (Unwritten.forward): your code here")

    checks = (course.check_bottleneck, course.check_bottleneck_parameters, course.check_mdlrb,
              course.check_squeeze_excite, course.check_upsample_nearest, course.check_hourglass,
              course.check_hourglass_blocks, course.check_merge, course.check_stacked_loss,
              course.check_merge_parameters)
    for check in checks:
        verdict = check(unsolved)
        assert not verdict and not verdict.attempted, check.__name__
    for check, written in [(course.check_bottleneck, Bottleneck), (course.check_mdlrb, MDLRB),
                           (course.check_squeeze_excite, SqueezeExcite), (course.check_hourglass, Hourglass),
                           (course.check_merge, Merge)]:
        verdict = check(type("Unwritten", (written,), {"forward": forward_unwritten}))
        assert not verdict and not verdict.attempted and "Exercise 2 (Unwritten.forward)" in verdict.message, verdict


# --- 04: upsampling ----------------------------------------------------------------------------------


def upsample_by_index(x, factor=2):
    """Right: gather rows and columns by index."""
    rows = torch.arange(x.shape[-2] * factor) // factor
    cols = torch.arange(x.shape[-1] * factor) // factor
    return x[..., rows, :][..., cols]


def upsample_by_slices(x, factor=2):
    """Right: a loop over the factor² offsets, each writing a strided slice of the output."""
    b, c, h, w = x.shape
    out = x.new_empty(b, c, h * factor, w * factor)
    for i in range(factor):
        for j in range(factor):
            out[:, :, i::factor, j::factor] = x
    return out


def upsample_zeros_float32(x, factor=2):
    b, c, h, w = x.shape
    out = torch.zeros(b, c, h * factor, w * factor)  # float32, whatever x is
    for i in range(factor):
        for j in range(factor):
            out[:, :, i::factor, j::factor] = x
    return out


def upsample_numpy(x, factor=2):
    """np.kron with a block of ones is nearest upsampling, but returns an array."""
    return np.kron(x.numpy(), np.ones((1, 1, factor, factor), dtype=x.numpy().dtype))


def upsample_through_numpy(x, factor=2):
    """Back to a tensor, but through NumPy: the values are right, the graph is cut."""
    array = x.detach().numpy()
    return torch.from_numpy(np.kron(array, np.ones((1, 1, factor, factor), dtype=array.dtype)))


def test_check_upsample_nearest(verdict_fails):
    for right in (upsample_by_index, upsample_by_slices,
                  lambda x, factor=2: x.repeat_interleave(factor, -2).repeat_interleave(factor, -1)):
        assert course.check_upsample_nearest(right)
    verdict_fails(course.check_upsample_nearest(lambda x, factor=2: x.repeat(1, 1, factor, factor)), "tiles the whole map")
    verdict_fails(course.check_upsample_nearest(
        lambda x, factor=2: F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)), "values differ")
    verdict_fails(course.check_upsample_nearest(lambda x, factor=2: x.repeat_interleave(2, -2).repeat_interleave(2, -1)),
                  "as if `factor` were always 2")
    verdict_fails(course.check_upsample_nearest(lambda x, factor=2: x.repeat_interleave(factor, -1)), "shape")
    verdict_fails(course.check_upsample_nearest(upsample_numpy), "returned ndarray")
    verdict_fails(course.check_upsample_nearest(upsample_through_numpy), "no gradient back to x")
    verdict_fails(course.check_upsample_nearest(upsample_zeros_float32), "dtype torch.float32 for a torch.float64 input")


# --- 04: the hourglass -------------------------------------------------------------------------------


class Hourglass(nn.Module):
    """Right, as the solution would be, with switches for the usual mistakes."""

    def __init__(self, depth, channels, block=Bottleneck, upsample_first=False, pool=F.max_pool2d,
                 pass_block=True, mode="nearest", returns_features=False):
        super().__init__()
        self.depth, self.upsample_first, self.pool, self.mode = depth, upsample_first, pool, mode
        self.returns_features = returns_features
        self.up1 = block(channels, channels)
        self.low1 = block(channels, channels)
        inner = block if pass_block else Bottleneck
        self.low2 = (Hourglass(depth - 1, channels, inner, upsample_first, pool, pass_block, mode) if depth > 1
                     else block(channels, channels))
        self.low3 = block(channels, channels)

    def forward(self, x):
        low2 = self.low2(self.low1(self.pool(x, 2)))
        if self.upsample_first:  # low3 at full resolution: same weights, other maths
            out = self.up1(x) + self.low3(F.interpolate(low2, scale_factor=2, mode=self.mode))
        else:
            out = self.up1(x) + F.interpolate(self.low3(low2), scale_factor=2, mode=self.mode)
        return (out, [low2]) if self.returns_features else out


class BottomUpHourglass(nn.Module):
    """Right: the branches created deepest first, the skip branch computed last, other names."""

    def __init__(self, depth, channels, block=Bottleneck):
        super().__init__()
        self.after = block(channels, channels)
        self.inner = BottomUpHourglass(depth - 1, channels, block) if depth > 1 else block(channels, channels)
        self.before = block(channels, channels)
        self.skip = block(channels, channels)

    def forward(self, x):
        low = self.after(self.inner(self.before(F.max_pool2d(x, kernel_size=2, stride=2))))
        return low.repeat_interleave(2, -2).repeat_interleave(2, -1) + self.skip(x)


class LoopHourglass(nn.Module):
    """Right: no recursion; one nn.ModuleList per branch, a loop down and a loop back up."""

    def __init__(self, depth, channels, block=Bottleneck):
        super().__init__()
        self.ups = nn.ModuleList(block(channels, channels) for _ in range(depth))
        self.downs = nn.ModuleList(block(channels, channels) for _ in range(depth))
        self.bottom = block(channels, channels)
        self.backs = nn.ModuleList(block(channels, channels) for _ in range(depth))

    def forward(self, x):
        skips = []
        for up, down in zip(self.ups, self.downs):
            skips.append(up(x))
            x = down(F.max_pool2d(x, 2))
        x = self.bottom(x)
        for skip, back in zip(reversed(skips), reversed(self.backs)):
            x = skip + F.interpolate(back(x), scale_factor=2, mode="nearest")
        return x


class NoSkipHourglass(nn.Module):
    """Forgets the up1 branch: out = upsample(low3)."""

    def __init__(self, depth, channels, block=Bottleneck):
        super().__init__()
        self.low1 = block(channels, channels)
        self.low2 = NoSkipHourglass(depth - 1, channels, block) if depth > 1 else block(channels, channels)
        self.low3 = block(channels, channels)

    def forward(self, x):
        return F.interpolate(self.low3(self.low2(self.low1(F.max_pool2d(x, 2)))), scale_factor=2)


class SharedBlockHourglass(nn.Module):
    """One block object for both up1 and low3: one set of weights where there should be two."""

    def __init__(self, depth, channels, block=Bottleneck):
        super().__init__()
        self.up1 = self.low3 = block(channels, channels)
        self.low1 = block(channels, channels)
        self.low2 = SharedBlockHourglass(depth - 1, channels, block) if depth > 1 else block(channels, channels)

    def forward(self, x):
        low3 = self.low3(self.low2(self.low1(F.max_pool2d(x, 2))))
        return self.up1(x) + F.interpolate(low3, scale_factor=2)


class ListHourglass(LoopHourglass):
    def __init__(self, depth, channels, block=Bottleneck):
        nn.Module.__init__(self)
        self.ups = [block(channels, channels) for _ in range(depth)]  # a plain list: not registered
        self.downs = nn.ModuleList(block(channels, channels) for _ in range(depth))
        self.bottom = block(channels, channels)
        self.backs = nn.ModuleList(block(channels, channels) for _ in range(depth))


def test_check_hourglass_accepts_other_orders_and_loops():
    for right in (Hourglass, BottomUpHourglass, LoopHourglass):
        verdict = course.check_hourglass(right)
        assert verdict, (right.__name__, verdict)


def test_check_hourglass_rejects_wrong_hourglasses(verdict_fails):
    check = course.check_hourglass
    verdict_fails(check(lambda d, c, b=Bottleneck: Hourglass(d, c, b, upsample_first=True)), "values differ")
    verdict_fails(check(lambda d, c, b=Bottleneck: Hourglass(d, c, b, pool=F.avg_pool2d)), "values differ")
    verdict_fails(check(lambda d, c, b=Bottleneck: Hourglass(d, c, b, pool=lambda x, k: F.max_pool2d(x, 3, 2, 1))),
                  "values differ")
    verdict_fails(check(lambda d, c, b=Bottleneck: Hourglass(d, c, b, mode="bilinear")), "values differ")
    verdict_fails(check(lambda d, c, b=Bottleneck: Hourglass(d + 1, c, b)), "(7 Bottleneck blocks, the reference 4)")
    verdict_fails(check(lambda d, c, b=Bottleneck: Hourglass(d, c, b, pass_block=False)),
                  "the inner levels do not get `block`")
    verdict_fails(check(lambda d, c, b=Bottleneck: Hourglass(d, c)), "whatever `block` it is given")
    verdict_fails(check(lambda d, c, b=Bottleneck: Hourglass(d, c, b, returns_features=True)),
                  "forward returned tuple")
    verdict_fails(check(NoSkipHourglass), "(3 Bottleneck blocks, the reference 4)")
    verdict_fails(check(ListHourglass), "plain Python list (`ups`)")
    verdict_fails(check(SharedBlockHourglass), "one layer under two names (`up1` and `low3`)")


def test_check_hourglass_blocks(verdict_fails):
    def recursive(depth):
        return 4 if depth == 1 else 3 + recursive(depth - 1)

    def by_levels(depth):
        return sum(3 for _ in range(depth)) + 1

    assert course.check_hourglass_blocks(recursive)
    assert course.check_hourglass_blocks(by_levels)
    verdict_fails(course.check_hourglass_blocks(lambda depth: 3 * depth), "without the block at the bottom")
    verdict_fails(course.check_hourglass_blocks(lambda depth: 4 * depth), "4 blocks at every level")
    verdict_fails(course.check_hourglass_blocks(lambda depth: 3 * (depth + 1) + 1), "one level deeper")
    verdict_fails(course.check_hourglass_blocks(lambda depth: 2 * depth + 2), "hourglass_blocks(2) = 6 instead of 7")
    verdict_fails(course.check_hourglass_blocks(lambda depth: 3.0 * depth + 1), "returned float")
    verdict_fails(course.check_hourglass_blocks(lambda depth: 2 ** (depth + 1)), "instead of")


# --- 05: the merge -----------------------------------------------------------------------------------


class Merge(nn.Module):
    """Right, with switches for the usual mistakes."""

    def __init__(self, channels, num_joints, residual=True, detach=False, relu=False):
        super().__init__()
        self.features, self.heatmaps = nn.Conv2d(channels, channels, 1), nn.Conv2d(num_joints, channels, 1)
        self.residual, self.detach, self.relu = residual, detach, relu

    def forward(self, x, f, heatmaps):
        out = (x if self.residual else 0) + self.features(f) + self.heatmaps(heatmaps.detach() if self.detach else heatmaps)
        return torch.relu(out) if self.relu else out


class HeatmapsFirstMerge(nn.Module):
    """Right: W^h created (and applied) before W^f, under other names."""

    def __init__(self, channels, num_joints):
        super().__init__()
        self.from_heatmaps = nn.Conv2d(num_joints, channels, kernel_size=1)
        self.from_features = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x, f, heatmaps):
        return self.from_heatmaps(heatmaps) + self.from_features(f) + x


class DictMerge(nn.Module):
    """Right: the two convolutions in an nn.ModuleDict, summed with torch.stack."""

    def __init__(self, channels, num_joints):
        super().__init__()
        self.maps = nn.ModuleDict({"heatmaps": nn.Conv2d(num_joints, channels, 1), "f": nn.Conv2d(channels, channels, 1)})

    def forward(self, x, f, heatmaps):
        return torch.stack([x, self.maps["f"](f), self.maps["heatmaps"](heatmaps)]).sum(0)


class BiasFreeMerge(Merge):
    def __init__(self, channels, num_joints):
        super().__init__(channels, num_joints)
        self.heatmaps = nn.Conv2d(num_joints, channels, 1, bias=False)


class InPlaceMerge(Merge):
    def forward(self, x, f, heatmaps):
        x += self.features(f) + self.heatmaps(heatmaps)
        return x


class ConcatMerge(nn.Module):
    """One 1×1 convolution on the concatenated features and heatmaps: one bias instead of two."""

    def __init__(self, channels, num_joints):
        super().__init__()
        self.conv = nn.Conv2d(channels + num_joints, channels, 1)

    def forward(self, x, f, heatmaps):
        return x + self.conv(torch.cat([f, heatmaps], dim=1))


class ThreeByThreeMerge(Merge):
    def __init__(self, channels, num_joints):
        super().__init__(channels, num_joints)
        self.features = nn.Conv2d(channels, channels, 3, padding=1)


def test_check_merge_accepts_other_orders_and_names():
    for right in (Merge, HeatmapsFirstMerge, DictMerge):
        verdict = course.check_merge(right)
        assert verdict, (right.__name__, verdict)


def test_check_merge_rejects_wrong_merges(verdict_fails):
    verdict_fails(course.check_merge(lambda c, j: Merge(c, j, residual=False)), "values differ")
    verdict_fails(course.check_merge(lambda c, j: Merge(c, j, relu=True)), "values differ")
    verdict_fails(course.check_merge(lambda c, j: Merge(c, j, detach=True)), "no gradient reaches the input `heatmaps`")
    verdict_fails(course.check_merge(BiasFreeMerge), "Conv2d 336 vs 352")
    verdict_fails(course.check_merge(InPlaceMerge), "changes its input `x` in place")
    verdict_fails(course.check_merge(ConcatMerge), "parameters, the reference")
    verdict_fails(course.check_merge(ThreeByThreeMerge), "parameters, the reference")


def test_check_merge_parameters(verdict_fails):
    def factored(s, c, j):
        return (s - 1) * c * (c + j + 2)

    def by_layers(s, c, j):
        total = 0
        for _ in range(s - 1):
            for cin in (c, j):  # the features' and the heatmaps' 1×1 convolutions to C channels
                total += cin * c + c
        return total

    assert course.check_merge_parameters(factored)
    assert course.check_merge_parameters(by_layers)
    check = course.check_merge_parameters
    verdict_fails(check(lambda s, c, j: s * ((c * c + c) + (j * c + c))), "the count of S merges")
    verdict_fails(check(lambda s, c, j: (s - 1) * (c * c + j * c)), "merges without biases")
    verdict_fails(check(lambda s, c, j: (s - 1) * (c * c + c + j * c + j)), "whose bias has J values")
    verdict_fails(check(lambda s, c, j: (s - 1) * (c * c + c)), "the features' 1×1 convolution alone")
    verdict_fails(check(lambda s, c, j: (s - 1) * (c * c + c + j * j + j)), "from J to J channels")
    verdict_fails(check(lambda s, c, j: (s - 1) * (c * c + c + j * c + c) / 1), "returned float")


# --- 05: the stacked loss ----------------------------------------------------------------------------


def loss_by_stack_loop(heatmaps, target, target_weight):
    """Right: one stack at a time, the weight broadcast over the pixels."""
    per_stack = []
    for s in range(heatmaps.shape[1]):
        error = (heatmaps[:, s] - target).square() * target_weight[:, :, None, None]
        per_stack.append(error.mean())
    per_stack = torch.stack(per_stack)
    return per_stack.mean(), per_stack


def loss_with_mse(heatmaps, target, target_weight):
    """Right: F.mse_loss on masked predictions and masked targets (the weights are 0 or 1)."""
    w = target_weight[:, None, :, None, None]
    per_stack = torch.stack([F.mse_loss(heatmaps[:, s:s + 1] * w, target[:, None] * w)
                             for s in range(heatmaps.shape[1])])
    return per_stack.mean(), per_stack


def test_check_stacked_loss(verdict_fails):
    assert course.check_stacked_loss(stacked_heatmap_loss)
    assert course.check_stacked_loss(loss_by_stack_loop)
    assert course.check_stacked_loss(loss_with_mse)

    def unweighted(heatmaps, target, weight):
        per_stack = (heatmaps - target.unsqueeze(1)).square().mean(dim=(0, 2, 3, 4))
        return per_stack.mean(), per_stack

    def last_only(heatmaps, target, weight):
        loss, per_stack = loss_by_stack_loop(heatmaps, target, weight)
        return per_stack[-1], per_stack

    def summed_over_stacks(heatmaps, target, weight):
        loss, per_stack = loss_by_stack_loop(heatmaps, target, weight)
        return per_stack.sum(), per_stack

    def mean_over_weighted_joints(heatmaps, target, weight):  # divides by Σw, not by B·J
        squared = (heatmaps - target.unsqueeze(1)).square().mean(dim=(3, 4))  # (B, S, J)
        per_stack = (squared * weight.unsqueeze(1)).sum(dim=(0, 2)) / weight.sum()
        return per_stack.mean(), per_stack

    def prediction_masked(heatmaps, target, weight):
        masked = heatmaps * weight[:, None, :, None, None]
        per_stack = (masked - target.unsqueeze(1)).square().mean(dim=(0, 2, 3, 4))
        return per_stack.mean(), per_stack

    def as_number(heatmaps, target, weight):
        loss, per_stack = stacked_heatmap_loss(heatmaps, target, weight)
        return loss.item(), per_stack

    def detached(heatmaps, target, weight):
        loss, per_stack = stacked_heatmap_loss(heatmaps, target, weight)
        return per_stack.mean(), per_stack  # per_stack comes back detached

    def in_place(heatmaps, target, weight):
        heatmaps -= target.unsqueeze(1)
        per_stack = (heatmaps.square().mean(dim=(3, 4)) * weight.unsqueeze(1)).mean(dim=(0, 2))
        return per_stack.mean(), per_stack

    def no_unsqueeze(heatmaps, target, weight):  # target broadcast against the stacks axis
        per_stack = ((heatmaps - target).square().mean(dim=(3, 4)) * weight.unsqueeze(1)).mean(dim=(0, 2))
        return per_stack.mean(), per_stack

    def per_image(heatmaps, target, weight):  # (B, S) instead of (S,)
        per = ((heatmaps - target.unsqueeze(1)).square().mean(dim=(3, 4)) * weight.unsqueeze(1)).mean(dim=2)
        return per.mean(), per

    check = course.check_stacked_loss
    verdict_fails(check(unweighted), "target_weight is not applied")
    verdict_fails(check(last_only), "the loss is the last stack's alone")
    verdict_fails(check(summed_over_stacks), "the loss sums the stacks")
    verdict_fails(check(mean_over_weighted_joints), "divides by the number of joints of weight 1")
    verdict_fails(check(prediction_masked), "masks the prediction only")
    verdict_fails(check(as_number), "loss is a float")
    verdict_fails(check(detached), "the loss carries no gradient back to the heatmaps")
    verdict_fails(check(in_place), "changes its input `heatmaps` in place")
    verdict_fails(check(no_unsqueeze), "shape", "raised")
    verdict_fails(check(per_image), "per_stack: shape (2, 1), expected (1,)")


def test_module_checks_are_quick():
    """Each check well under two seconds of one core (threads only slow such small tensors down)."""
    import time

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for check, right in [(course.check_bottleneck, ReversedBottleneck), (course.check_mdlrb, BranchesBackwards),
                             (course.check_squeeze_excite, LinearSE), (course.check_hourglass, BottomUpHourglass),
                             (course.check_merge, HeatmapsFirstMerge), (course.check_upsample_nearest, upsample_by_slices),
                             (course.check_stacked_loss, loss_by_stack_loop)]:
            started = time.process_time()
            assert check(right)
            assert time.process_time() - started < 1.5, check.__name__
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("notebook", ["03_residual_blocks", "04_hourglass_module", "05_stacking"])
def test_the_solution_notebooks_answers_pass(notebook):
    """Each exercise cell of the solution notebook, run as it is, passes the check cell after it."""
    import json
    from pathlib import Path

    cells = json.loads((Path(__file__).parents[1] / "solutions" / f"{notebook}.ipynb").read_text())["cells"]
    namespace = {"torch": torch, "nn": nn, "F": F, "Bottleneck": Bottleneck, "course": course,
                 "DepthwiseSeparableConv2d": DepthwiseSeparableConv2d}
    checked = 0
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in source:
            exec(source, namespace)
        elif cell["cell_type"] == "code" and source.startswith("course.check_"):
            verdict = eval(source, namespace)
            assert verdict, (notebook, source, verdict)
            checked += 1
    assert checked >= 3
