"""SADI-Net: RFM hourglasses, a spatial fusion module (SFM) head, and a distribution learning module.

Gao et al. 2023, "Spatial Attention-based Distribution Integration Network for Human Pose
Estimation", Sec. III. The RFM block is in hglearn/blocks.py and the DLM in hglearn/dlm.py; this
file holds the SFM (Sec. III-C) and the network that puts the three together.

Sec. III-C describes the SFM in prose; the SFM below follows that description, kept small, and
each docstring says where the paper's description ends and hglearn's choices begin.
"""
import torch
import torch.nn.functional as F
from torch import nn

from hglearn.dlm import DLM
from hglearn.hourglass import StackedHourglass


def conv_bn_relu(cin: int, cout: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


class GlobalAttention(nn.Module):
    """SFM global attention (Gao et al. 2023, Sec. III-C, "Global attention mechanism", Fig. 5).

    For the features x_k of scale k (k = 0 the finest; 64, 32, 16, 8 px at a 256 input):
        r_k = 1×1 conv-BN-ReLU(x_k)                  to a common width (the paper: 256)
        u_k = nearest_upsample(r_k)                  to the finest size H×W, as the hourglass upsamples
        a   = softmax_k([1×1 conv_k(u_k)]_k)         (B, 4, H, W): global weights, Σ_k a_k = 1 per pixel
        out = 1×1 conv-BN-ReLU(Σ_k a_k ⊙ u_k)        "resized by a convolution layer"
    The paper's backbone has 64/128/256/512 channels at these scales; ours has C at every scale.
    The paper's head then takes "the feature maps produced by the global attention mechanism, with
    four different resolutions". hglearn's choice for these, returned as well, is
    g_k = avgpool(a_k ⊙ u_k) = r_k ⊙ avgpool(a_k) (exact, since u_k is a nearest upsampling): each
    scale weighted by its global attention, back at its own resolution, where the local stage fuses
    it, with no parameters.
    """

    def __init__(self, channels: int, width: int, num_scales: int = 4):
        super().__init__()
        self.reduce = nn.ModuleList(conv_bn_relu(channels, width) for _ in range(num_scales))
        self.score = nn.ModuleList(nn.Conv2d(width, 1, 1) for _ in range(num_scales))
        self.fuse = conv_bn_relu(width, width)

    def forward(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        size = features[0].shape[-2:]
        reduced = [reduce(x) for reduce, x in zip(self.reduce, features)]  # (B, D, H/2^k, W/2^k), D = width
        up = torch.stack([F.interpolate(r, size=size, mode="nearest") for r in reduced], dim=1)  # (B, 4, D, H, W)
        scores = torch.cat([score(u) for score, u in zip(self.score, up.unbind(1))], dim=1)  # (B, 4, H, W)
        weights = torch.softmax(scores, dim=1)  # over the scale axis
        weighted = weights.unsqueeze(2) * up  # (B, 4, D, H, W)
        scaled = [F.adaptive_avg_pool2d(w, r.shape[-2:]) for w, r in zip(weighted.unbind(1), reduced)]
        return self.fuse(weighted.sum(1)), scaled, weights  # (B, D, H, W), g_k, (B, 4, H, W)


class LocalAttention(nn.Module):
    """SFM local attention between two adjacent scales (Gao et al. 2023, Sec. III-C, Fig. 5).

    The paper: the higher resolution is downsampled (in the HRNet-style head, a 3×3 stride-2
    convolution) and merged with the next scale; a softmax "along the columns of the fused
    features" gives a local weighting map that multiplies the fused features. hglearn's choice for
    that softmax: one map per input, softmaxed across the two at every pixel (as the global
    attention's softmax runs across the scales), so the output is a convex mix of the two inputs:
        d   = 3×3/2 conv-BN-ReLU(high)              (B, D, h, w)
        b   = softmax(1×1 conv([d, low]))           (B, 2, h, w), b_0 + b_1 = 1 per pixel
        out = b_0 ⊙ d + b_1 ⊙ low
    """

    def __init__(self, width: int):
        super().__init__()
        self.down = conv_bn_relu(width, width, kernel=3, stride=2)
        self.score = nn.Conv2d(2 * width, 2, 1)

    def forward(self, high: torch.Tensor, low: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        down = self.down(high)  # (B, D, h, w), the size of low
        weights = torch.softmax(self.score(torch.cat([down, low], dim=1)), dim=1)  # (B, 2, h, w)
        return weights[:, :1] * down + weights[:, 1:] * low, weights


class SFM(nn.Module):
    """Spatial fusion module (Gao et al. 2023, Sec. III-C, Fig. 2): SADI-Net's last head.

    Takes 4 scales of features (finest first), and returns heatmaps at the finest one:
        global, g = GlobalAttention(features)              (B, D, H, W) and g_k at each scale
        local = LocalAttention(... LocalAttention(g_0, g_1) ..., g_3)   finest → coarsest, (B, D, H/8, W/8)
        heatmaps = 1×1 conv(global + nearest_upsample(local))           (B, J, H, W)
    The paper's head follows HRNet's classification head, widening the four scales to 128, 256,
    512 and 1024 channels; for heatmaps on top of a C-channel hourglass that would dwarf the
    network, so every stage here keeps `width` (default C) channels. HRNet's head ends in a
    vector; a pose head needs H×W maps, so hglearn adds the coarse local result, upsampled, back to
    the global output, which keeps both stages in the heatmaps for one 1×1 convolution. The last
    forward's weights stay in `global_weights` (B, 4, H, W) and `local_weights` (three
    (B, 2, h, w)), detached, for plotting.
    """

    def __init__(self, channels: int, num_joints: int, width: int | None = None, num_scales: int = 4):
        super().__init__()
        width = width or channels
        self.global_attention = GlobalAttention(channels, width, num_scales)
        self.local_attention = nn.ModuleList(LocalAttention(width) for _ in range(num_scales - 1))
        self.classifier = nn.Conv2d(width, num_joints, 1)
        self.global_weights, self.local_weights = None, []

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        fused, scaled, global_weights = self.global_attention(features)  # (B, D, H, W), [g_k], (B, 4, H, W)
        local, local_weights = scaled[0], []
        for attend, low in zip(self.local_attention, scaled[1:]):
            local, weights = attend(local, low)  # half the resolution at each step
            local_weights.append(weights.detach())
        self.global_weights, self.local_weights = global_weights.detach(), local_weights
        up = F.interpolate(local, size=fused.shape[-2:], mode="nearest")  # (B, D, H, W)
        return self.classifier(fused + up)  # (B, J, H, W)


class SADINet(StackedHourglass):
    """SADI-Net (Gao et al. 2023, Fig. 2): a stacked hourglass of RFM blocks whose last head is the SFM.

    Stacks 1..S−1 keep their 1×1 heads for intermediate supervision. The last stack's SFM sees
    its features f (H/4) and the hourglass's decoder features at H/8, H/16 and H/32, so it needs
    depth ≥ 3. With `dlm`, `self.dlm` holds the distribution learning module (Sec. III-D): the
    training loop applies it to the last stack's heatmaps for the extra loss; forward and
    evaluation use the network's own heatmaps, as the paper evaluates. `dlm` is None without it.
    Returns (B, S, J, H/4, W/4), like StackedHourglass.
    """

    def __init__(
        self, *, num_stacks: int, channels: int = 256, num_joints: int = 16, depth: int = 4,
        sfm: bool = True, dlm: bool = True,
    ):
        if sfm and depth < 3:
            raise ValueError(f"the SFM fuses 4 scales, which needs an hourglass of depth at least 3, got {depth}")
        super().__init__(num_stacks=num_stacks, channels=channels, num_joints=num_joints, depth=depth, block="rfm")
        if sfm:
            self.heads[-1] = SFM(channels, num_joints)
        self.dlm = DLM() if dlm else None

    def predict(self, i: int, f: torch.Tensor, decoder: list[torch.Tensor]) -> torch.Tensor:
        if isinstance(self.heads[i], SFM):
            return self.heads[i]([f, *decoder[1:4]])  # 64, 32, 16, 8 px at a 256 input
        return self.heads[i](f)  # (B, J, H/4, W/4)
