"""Checks for notebooks/08_sadinet_attention.ipynb: the SFM's softmax-across-scales fusion, its
global attention module and the RFM's parameter count, each compared with `hglearn.sadinet` and
`hglearn.blocks`.
"""
import torch
import torch.nn.functional as F
from torch import nn

from hglearn.blocks import RFM
from hglearn.course.checking import Verdict, check_function, check_module, reports_not_attempted
from hglearn.course.checks_blocks import with_trained_batchnorm
from hglearn.sadinet import GlobalAttention

__all__ = ["check_scale_softmax_fusion", "check_global_attention", "check_rfm_parameters"]


def scale_softmax_fusion_reference(features: list[torch.Tensor], logits: list[torch.Tensor]) -> torch.Tensor:
    """Σ_k softmax_k(logits)·features_k, as in `GlobalAttention.forward` (the softmax runs over the
    scale axis, separately at every pixel). features: K × (B, C, H, W); logits: K × (B, 1, H, W)."""
    weights = torch.softmax(torch.cat(logits, dim=1), dim=1)  # (B, K, H, W)
    return (weights.unsqueeze(2) * torch.stack(features, dim=1)).sum(1)  # (B, C, H, W)


def fusion_case(batch: int, channels: int, height: int, width: int, scales: int, spread: float, seed: int):
    generator = torch.Generator().manual_seed(seed)
    features = [torch.randn(batch, channels, height, width, generator=generator) for _ in range(scales)]
    logits = [spread * torch.randn(batch, 1, height, width, generator=generator) for _ in range(scales)]
    return features, logits


@reports_not_attempted
def check_scale_softmax_fusion(student) -> Verdict:
    """The student's `fusion(features, logits)` against the SFM's global fusion: four scales, other
    scale counts (one scale gives the feature itself), non-square maps, batches of one and two, and
    logits large enough (±300) to overflow a softmax computed as exp(l) / Σ exp(l)."""
    cases = [
        fusion_case(2, 8, 6, 6, 4, 1.0, 0),
        fusion_case(1, 3, 5, 7, 4, 2.0, 1),
        fusion_case(2, 4, 4, 4, 2, 1.0, 2),
        fusion_case(1, 5, 3, 4, 1, 1.0, 3),
        fusion_case(2, 4, 5, 5, 3, 300.0, 4),
    ]
    return check_function(student, scale_softmax_fusion_reference, cases, "scale_softmax_fusion")


class GlobalAttentionOnPyramid(nn.Module):
    """Feeds a module the pyramid [x, avgpool2(x), avgpool4(x), ...] of one input, and returns its
    fused features and weights: the first and last items it returns (so (fused, weights) and the
    library's (fused, scaled, weights) both fit). `check_module` gives a module one tensor."""

    def __init__(self, module: nn.Module, num_scales: int):
        super().__init__()
        self.module, self.num_scales = module, num_scales

    def forward(self, x: torch.Tensor):
        out = self.module([F.avg_pool2d(x, 2**k) if k else x for k in range(self.num_scales)])
        if not isinstance(out, (tuple, list)) or len(out) < 2:
            raise TypeError("forward should return (fused, weights)")
        return out[0], out[-1]


@reports_not_attempted
def check_global_attention(student) -> Verdict:
    """The student's class `GlobalAttention(channels, width, num_scales)`, whose forward takes a list of
    num_scales feature maps (finest first, each half the size of the one before) and returns
    (fused, weights), against `hglearn.sadinet.GlobalAttention` with trained-looking BatchNorm
    statistics: parameter count, shapes, and values with the reference's weights, for a width
    different from and equal to the input's, 2 to 4 scales and a non-square input."""

    def on_pyramid(make):
        def build(channels: int, width: int, num_scales: int) -> nn.Module:
            return GlobalAttentionOnPyramid(make(channels, width, num_scales), num_scales)

        build.__name__ = getattr(make, "__name__", "GlobalAttention")
        return build

    def reference(channels: int, width: int, num_scales: int) -> nn.Module:
        return with_trained_batchnorm(GlobalAttention(channels, width, num_scales))

    cases = [
        ((8, 12, 4), (2, 8, 16, 16)),
        ((8, 8, 4), (1, 8, 16, 24)),
        ((6, 4, 3), (2, 6, 12, 12)),
        ((4, 6, 2), (1, 4, 6, 10)),
    ]
    return check_module(on_pyramid(student), on_pyramid(reference), cases, "GlobalAttention")


def rfm_parameters_reference(cin: int, cout: int, reduction: int = 16) -> int:
    return sum(p.numel() for p in RFM(cin, cout, reduction=reduction).parameters())


@reports_not_attempted
def check_rfm_parameters(student) -> Verdict:
    """The student's formula for the parameters of `RFM(cin, cout, reduction=r)` against a count of the
    built block: the paper's 256 and the presets' 88 channels, a width change (1×1 shortcut),
    another reduction, and widths below the reduction (one hidden SE unit)."""
    cases = [(256, 256, 16), (88, 88, 16), (64, 128, 16), (128, 64, 8), (32, 32, 4), (8, 8, 16), (12, 4, 16)]
    return check_function(student, rfm_parameters_reference, cases, "rfm_parameters")
