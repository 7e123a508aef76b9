"""The checks of notebook 08 pass right answers written in other ways than the solution's (other
layer creation orders included) and fail plausible wrong ones, naming the mistake where the cases
tell it apart."""
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import solution_cells
from hglearn import course
from hglearn.blocks import RFM
from hglearn.course.checks_sadinet import scale_softmax_fusion_reference
from hglearn.sadinet import GlobalAttention, conv_bn_relu


def solution(name: str):
    """`name` as notebook 08's solution defines it (the code of its exercise cell, run)."""
    return solution_cells.solution("08_sadinet_attention.ipynb", name, {"torch": torch, "nn": nn, "F": F, "np": np, "conv_bn_relu": conv_bn_relu})


@pytest.mark.parametrize("check, name", [
    (course.check_rfm_parameters, "rfm_parameters"),
    (course.check_scale_softmax_fusion, "scale_softmax_fusion"),
    (course.check_global_attention, "GlobalAttention"),
])
def test_the_solution_notebooks_answers_pass(check, name):
    assert check(solution(name))


# --- exercise 2: softmax across scales --------------------------------------------------------------


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


def fusion_stacked(features, logits):
    """Right, another way: stacked on a new first axis, the softmax along it."""
    weights = torch.softmax(torch.stack(logits), dim=0)  # (K, B, 1, H, W): across the scales
    return (weights * torch.stack(features)).sum(0)


def fusion_by_hand(features, logits):
    """Right, another way: the stable softmax written out, a loop over the scales."""
    largest = torch.stack(logits).amax(0)  # (B, 1, H, W)
    exps = [torch.exp(l - largest) for l in logits]
    total = sum(exps)
    return sum(e / total * f for e, f in zip(exps, features))


def fusion_naive(features, logits):  # exp / sum exp without subtracting the maximum: overflows
    e = [l.exp() for l in logits]
    return sum(w / sum(e) * f for w, f in zip(e, features))


def fusion_shifting_in_place(features, logits):  # the stable softmax, but the caller's logits change
    largest = torch.stack(logits).amax(0)
    for l in logits:
        l -= largest
    return fusion_by_hand(features, logits)


def fusion_detached(features, logits):
    weights = torch.softmax(torch.cat(logits, dim=1), dim=1).detach()  # "the weights are only for display"
    return (weights.unsqueeze(2) * torch.stack(features, dim=1)).sum(1)


def fusion_softmax_over_channels(features, logits):
    weighted = [l * f for l, f in zip(logits, features)]
    return sum(torch.softmax(w, dim=1) for w in weighted)


def test_check_scale_softmax_fusion_passes_right_answers_written_differently():
    assert course.check_scale_softmax_fusion(fusion_stacked)
    assert course.check_scale_softmax_fusion(fusion_by_hand)
    assert course.check_scale_softmax_fusion(scale_softmax_fusion_reference)


@pytest.mark.parametrize("wrong, words", [
    (lambda f, l: sum(w * x for w, x in zip([torch.softmax(y.flatten(2), -1).view_as(y) for y in l], f)),
     "over the pixels of each scale"),
    (lambda f, l: sum(torch.sigmoid(y) * x for y, x in zip(l, f)), "gated by a sigmoid"),
    (fusion_naive, "overflows"),
    (lambda f, l: sum(w * x for w, x in zip(torch.softmax(torch.stack(l), dim=1).unbind(0), f)),
     "over the batch"),
    (lambda f, l: sum(y * x for y, x in zip(l, f)), "the logits are used as weights"),
    (lambda f, l: fusion_stacked(f, l) / len(f), "averaged"),
    (fusion_softmax_over_channels, "do not sum to 1 at each pixel"),
    (fusion_shifting_in_place, "changed its argument logits in place"),
    (fusion_detached, "no gradient reaches logits[0]"),
    (lambda f, l: fusion_stacked(f, l).numpy(), "expected a torch.Tensor"),
])
def test_check_scale_softmax_fusion_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_scale_softmax_fusion(wrong), words)


def test_check_scale_softmax_fusion_reports_not_implemented_as_not_attempted():
    verdict = course.check_scale_softmax_fusion(lambda features, logits: (_ for _ in ()).throw(NotImplementedError))
    assert not verdict and not verdict.attempted


# --- exercise 3: the global attention module --------------------------------------------------------


class Global(nn.Module):
    """A correct student version: other names, (fused, weights) only, mistakes as switches."""

    def __init__(self, channels, width, num_scales=4, *, mode="nearest", softmax_dim=1, batchnorm=True,
                 fuse=True, upsample=True, detach=False, return_logits=False, shared_score=False, fuse_relu=True):
        super().__init__()
        self.mode, self.softmax_dim, self.upsample = mode, softmax_dim, upsample
        self.detach, self.return_logits = detach, return_logits
        if batchnorm:
            self.project = nn.ModuleList(conv_bn_relu(channels, width) for _ in range(num_scales))
        else:
            self.project = nn.ModuleList(
                nn.Sequential(nn.Conv2d(channels, width, 1, bias=False), nn.ReLU()) for _ in range(num_scales))
        if shared_score:  # one score layer for every scale
            self.logit = nn.ModuleList([nn.Conv2d(width, 1, 1)] * num_scales)
        else:
            self.logit = nn.ModuleList(nn.Conv2d(width, 1, 1) for _ in range(num_scales))
        if not fuse:
            self.out = nn.Identity()
        elif fuse_relu:
            self.out = conv_bn_relu(width, width)
        else:
            self.out = nn.Sequential(nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width))

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
        weights = weights.detach() if self.detach else weights
        fused = self.out(sum(w.unsqueeze(1) * u for w, u in zip(weights.unbind(1), ups)))
        return fused, logits if self.return_logits else weights


class FuseFirst(Global):
    """Right, another creation order: the output layer first, then score and projection per scale."""

    def __init__(self, channels, width, num_scales=4):
        nn.Module.__init__(self)
        self.mode, self.softmax_dim, self.upsample, self.detach, self.return_logits = "nearest", 1, True, False, False
        self.out = conv_bn_relu(width, width)
        self.logit, self.project = nn.ModuleList(), nn.ModuleList()
        for _ in range(num_scales):
            self.logit.append(nn.Conv2d(width, 1, 1))
            self.project.append(conv_bn_relu(channels, width))


class ScoreThenUpsample(nn.Module):
    """Right, another way: each scale scored at its own size, features and logits upsampled by
    scale_factor (a 1×1 convolution commutes with nearest upsampling), layers in a dict per scale."""

    def __init__(self, channels, width, num_scales=4):
        super().__init__()
        self.scales = nn.ModuleList(
            nn.ModuleDict({"score": nn.Conv2d(width, 1, 1), "proj": conv_bn_relu(channels, width)})
            for _ in range(num_scales))
        self.head = conv_bn_relu(width, width)

    def forward(self, features):
        ups, logits = [], []
        for k, (scale, x) in enumerate(zip(self.scales, features)):
            r = scale["proj"](x)
            logits.append(F.interpolate(scale["score"](r), scale_factor=2**k, mode="nearest"))
            ups.append(F.interpolate(r, scale_factor=2**k, mode="nearest"))
        weights = torch.softmax(torch.cat(logits, 1), 1)
        return self.head((weights.unsqueeze(2) * torch.stack(ups, 1)).sum(1)), weights


class ReplacesFeatures(Global):
    def forward(self, features):
        for k, x in enumerate(features):  # the caller's list now holds the projections
            features[k] = self.project[k](x)
        self.project = nn.ModuleList(nn.Identity() for _ in features)
        out = super().forward(features)
        return out


def variant(**changes):
    return lambda channels, width, num_scales=4: Global(channels, width, num_scales, **changes)


def test_check_global_attention_passes_right_answers_in_any_layer_order():
    threads = torch.get_num_threads()
    assert course.check_global_attention(Global)
    assert torch.get_num_threads() == threads  # the check runs on one thread, then puts the setting back
    assert course.check_global_attention(FuseFirst)
    assert course.check_global_attention(ScoreThenUpsample)
    assert course.check_global_attention(GlobalAttention)  # the library's 3-tuple fits too


@pytest.mark.parametrize("wrong, words", [
    (variant(softmax_dim="space"), "do not sum to 1 across the scales"),
    (variant(softmax_dim=0), "do not sum to 1 across the scales"),  # over the batch
    (variant(return_logits=True), "do not sum to 1 across the scales"),
    (variant(mode="bilinear"), "the weights differ"),
    (variant(fuse_relu=False), "the fused output differs"),
    (variant(batchnorm=False), "parameters"),
    (variant(fuse=False), "parameters"),
    (variant(shared_score=True), "parameters"),
    (lambda channels, width, num_scales=4: Global(channels, width, 4), "parameters"),  # num_scales ignored
    (lambda channels, width, num_scales=3: Global(channels, width, num_scales), "parameters"),  # another default
    (variant(upsample=False), "raised"),
    (variant(detach=True), "no gradient reaches your logit.0.weight"),
    (ReplacesFeatures, "changed the list of features"),
])
def test_check_global_attention_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_global_attention(wrong), words)


# --- exercise 1: the RFM's parameters -----------------------------------------------------------------


def rfm_count(cin, cout, reduction=16, *, se_bias=True, skip=True, bn=2, conv_bias=False, floor=True,
              hidden_from_cin=False):
    hidden = (cin if hidden_from_cin else cout) // reduction
    hidden = max(hidden, 1) if floor else hidden
    convs = 9 * cin * cout + 9 * cout * cout + 9 * cin * cout + (3 * cout if conv_bias else 0)
    norms = 3 * bn * cout
    se = 2 * cout * hidden + ((hidden + cout) if se_bias else 0)
    shortcut = cin * cout + cout if skip and cin != cout else 0
    return convs + norms + se + shortcut


def rfm_by_layers(cin, cout, reduction=16):
    """Right, another way: the layer list of the exercise, (weights, biases) per layer."""
    hidden = max(cout // reduction, 1)
    layers = [(3 * 3 * cin * cout, 0), (cout, cout),  # conv1, bn1
              (3 * 3 * cout * cout, 0), (cout, cout),  # conv2, bn2
              (3 * 3 * cin * cout, 0), (cout, cout),  # conv_dilated, bn_dilated
              (cout * hidden, hidden), (hidden * cout, cout)]  # se.fc1, se.fc2
    if cin != cout:
        layers.append((cin * cout, cout))
    return sum(w + b for w, b in layers)


def test_check_rfm_parameters_passes_right_answers_written_differently():
    assert course.check_rfm_parameters(rfm_count)
    assert course.check_rfm_parameters(rfm_by_layers)
    assert course.check_rfm_parameters(lambda cin, cout, reduction=16: sum(
        p.numel() for p in RFM(cin, cout, reduction=reduction).parameters()))


@pytest.mark.parametrize("wrong, words", [
    (partial(rfm_count, skip=False), "the 1×1 shortcut convolution"),
    (lambda cin, cout, r=16: rfm_count(cin, cout, r) - (cout if cin != cout else 0), "the 1×1 shortcut's bias"),
    (partial(rfm_count, se_bias=False), "the SE block's two biases"),
    (partial(rfm_count, conv_bias=True), "counted with biases"),
    (partial(rfm_count, bn=0), "the three BatchNorms"),
    (partial(rfm_count, bn=4), "they are buffers"),
    (partial(rfm_count, floor=False), "without the floor of one unit"),
    (partial(rfm_count, hidden_from_cin=True), "computed from cin"),
    (lambda cin, cout, reduction=16: rfm_count(cin, cout), "the reduction argument is not used"),
    (lambda cin, cout, reduction=16: rfm_count(cin, cout, reduction) - 9 * cin * cout + 9 * cout * cout,
     "counted cout → cout"),
    (lambda cin, cout, reduction=16: float(rfm_count(cin, cout, reduction)), "expected an int"),
])
def test_check_rfm_parameters_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_rfm_parameters(wrong), words)
