"""The checks of notebook 08 pass right answers and fail plausible wrong ones with a hint."""
import torch
import torch.nn.functional as F
from torch import nn

from hglearn import course
from hglearn.course.checks_sadinet import scale_softmax_fusion_reference
from hglearn.sadinet import GlobalAttention, conv_bn_relu


# --- exercise 1: softmax across scales --------------------------------------------------------------


def test_fusion_reference_is_the_global_attentions_code_path():
    torch.manual_seed(0)
    attention = GlobalAttention(8, 8).eval()
    attention.reduce = nn.ModuleList(nn.Identity() for _ in range(4))  # keep the features as they are
    attention.fuse = nn.Identity()
    features = [torch.randn(2, 8, 6, 6) for _ in range(4)]  # already at one size: upsampling does nothing
    fused, _, weights = attention(features)
    logits = [score(x) for score, x in zip(attention.score, features)]
    assert torch.allclose(fused, scale_softmax_fusion_reference(features, logits), atol=1e-6)
    assert torch.allclose(weights, torch.softmax(torch.cat(logits, 1), 1))


def test_check_scale_softmax_fusion(verdict_fails):
    def right(features, logits):
        weights = torch.softmax(torch.stack(logits), dim=0)  # (K, B, 1, H, W): across the scales
        return (weights * torch.stack(features)).sum(0)

    def over_space(features, logits):  # a spatial attention map per scale: softmax over the pixels
        weights = [torch.softmax(l.flatten(2), -1).view_as(l) for l in logits]
        return sum(w * f for w, f in zip(weights, features))

    def sigmoid_gate(features, logits):  # each scale gated on its own, not normalised across scales
        return sum(torch.sigmoid(l) * f for l, f in zip(logits, features))

    def naive_exp(features, logits):  # exp / sum exp without subtracting the maximum: overflows
        e = [l.exp() for l in logits]
        total = sum(e)
        return sum(w / total * f for w, f in zip(e, features))

    assert course.check_scale_softmax_fusion(right)
    assert course.check_scale_softmax_fusion(scale_softmax_fusion_reference)
    verdict_fails(course.check_scale_softmax_fusion(over_space), "values differ")
    verdict_fails(course.check_scale_softmax_fusion(sigmoid_gate), "values differ")
    verdict_fails(course.check_scale_softmax_fusion(naive_exp), "nan")
    unsolved = course.check_scale_softmax_fusion(lambda features, logits: (_ for _ in ()).throw(NotImplementedError))
    assert not unsolved and not unsolved.attempted


# --- exercise 2: the global attention module --------------------------------------------------------


class Global(nn.Module):
    """A correct student version: other names, (fused, weights) only, variations as switches."""

    def __init__(self, channels, width, num_scales=4, *, mode="nearest", softmax_dim=1, batchnorm=True,
                 fuse=True, upsample=True):
        super().__init__()
        self.mode, self.softmax_dim, self.upsample = mode, softmax_dim, upsample
        if batchnorm:
            self.project = nn.ModuleList(conv_bn_relu(channels, width) for _ in range(num_scales))
        else:
            self.project = nn.ModuleList(
                nn.Sequential(nn.Conv2d(channels, width, 1, bias=False), nn.ReLU()) for _ in range(num_scales))
        self.logit = nn.ModuleList(nn.Conv2d(width, 1, 1) for _ in range(num_scales))
        self.out = conv_bn_relu(width, width) if fuse else nn.Identity()

    def forward(self, features):
        size = features[0].shape[-2:]
        ups = []
        for project, x in zip(self.project, features):
            r = project(x)
            if self.upsample:
                r = F.interpolate(r, size=size, mode=self.mode, **({} if self.mode == "nearest" else
                                                                    {"align_corners": False}))
            ups.append(r)
        logits = torch.cat([logit(u) for logit, u in zip(self.logit, ups)], 1)  # (B, K, H, W)
        if self.softmax_dim == "space":
            weights = torch.softmax(logits.flatten(2), -1).view_as(logits)
        else:
            weights = torch.softmax(logits, self.softmax_dim)
        return self.out(sum(w.unsqueeze(1) * u for w, u in zip(weights.unbind(1), ups))), weights


def variant(**changes):
    return lambda channels, width, num_scales: Global(channels, width, num_scales, **changes)


def test_check_global_attention(verdict_fails):
    assert course.check_global_attention(Global)
    assert course.check_global_attention(GlobalAttention)  # the library's 3-tuple fits too
    verdict_fails(course.check_global_attention(variant(softmax_dim="space")), "values differ")
    verdict_fails(course.check_global_attention(variant(mode="bilinear")), "values differ")
    verdict_fails(course.check_global_attention(variant(batchnorm=False)), "parameters")
    verdict_fails(course.check_global_attention(variant(fuse=False)), "parameters")
    verdict_fails(course.check_global_attention(variant(upsample=False)), "raised", "shape")


def test_check_global_attention_needs_the_documented_creation_order(verdict_fails):
    class FuseFirst(Global):  # creates the output layer before the projections
        def __init__(self, channels, width, num_scales=4):
            nn.Module.__init__(self)
            self.mode, self.softmax_dim, self.upsample = "nearest", 1, True
            self.out = conv_bn_relu(width, width)
            self.project = nn.ModuleList(conv_bn_relu(channels, width) for _ in range(num_scales))
            self.logit = nn.ModuleList(nn.Conv2d(width, 1, 1) for _ in range(num_scales))

    verdict_fails(course.check_global_attention(FuseFirst), "values differ")


# --- exercise 3: the RFM's parameters -----------------------------------------------------------------


def rfm_count(cin, cout, reduction=16, *, se_bias=True, skip=True, bn=True, conv_bias=False):
    hidden = max(cout // reduction, 1)
    convs = 9 * cin * cout + 9 * cout * cout + 9 * cin * cout + (3 * cout if conv_bias else 0)
    norms = 3 * 2 * cout if bn else 0
    se = 2 * cout * hidden + ((hidden + cout) if se_bias else 0)
    shortcut = cin * cout + cout if skip and cin != cout else 0
    return convs + norms + se + shortcut


def test_check_rfm_parameters(verdict_fails):
    assert course.check_rfm_parameters(rfm_count)
    verdict_fails(course.check_rfm_parameters(lambda cin, cout, r=16: rfm_count(cin, cout, r, skip=False)),
                  "instead of")
    verdict_fails(course.check_rfm_parameters(lambda cin, cout, r=16: rfm_count(cin, cout, r, se_bias=False)),
                  "instead of")
    verdict_fails(course.check_rfm_parameters(lambda cin, cout, r=16: rfm_count(cin, cout, r, conv_bias=True)),
                  "instead of")
    verdict_fails(course.check_rfm_parameters(lambda cin, cout, r=16: rfm_count(cin, cout, r, bn=False)),
                  "instead of")
    # hidden = cout // r without the floor of one unit: wrong for narrow blocks only
    no_floor = lambda cin, cout, r=16: rfm_count(cin, cout, r) - (2 * cout + 1 if cout < r else 0)
    verdict_fails(course.check_rfm_parameters(no_floor), "rfm_parameters(8, 8, 16)")
