"""The hourglass module and the stacked hourglass network (Newell et al., ECCV 2016, Figs. 3-4).

Branch names follow the original Torch code (`up1`, `low1`, `low2`, `low3`), so a state-dict key
reads like a path through the diagram: `hgs.0.low2.low2.up1.conv1.weight`.

Taught in notebooks/04_hourglass_module.ipynb and notebooks/05_stacking.ipynb.
"""
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from hglearn.blocks import Bottleneck, get_block


class HourglassOutput(NamedTuple):
    """What an hourglass returns; lists run from the highest resolution down."""

    out: torch.Tensor  # (B, C, H, W)
    encoder: list[torch.Tensor]  # low1 of each level: H/2, H/4, ..., H/2^depth
    decoder: list[torch.Tensor]  # out, then low2 of each level: H, H/2, ..., H/2^depth


class Hourglass(nn.Module):
    """One hourglass of the given depth (Newell et al. Fig. 3), built recursively.

        up1  = block(x)                              skip branch at this resolution
        low1 = block(maxpool(x))                     encoder, half resolution
        low2 = Hourglass(depth − 1)(low1)  or block  the rest of the hourglass
        low3 = block(low2)
        out  = up1 + nearest_upsample(low3)

    Depth 4 pools 64 → 32 → 16 → 8 → 4 and holds 3·4 + 1 = 13 blocks.

    `forward` also takes and returns the encoder features `low1` of every level (highest
    resolution first): Kim & Lee's extra skip adds those of stack i to the encoders of stack i+1.
    It returns the decoder features too: `out`, then `low2` of every level, which is the inner
    hourglass's output, so H, H/2, ..., H/2^depth. SADI-Net's SFM fuses the first four of them.
    """

    def __init__(self, depth: int, channels: int, block: str | type[nn.Module] = "bottleneck"):
        super().__init__()
        block = get_block(block)
        self.depth = depth
        self.up1 = block(channels, channels)
        self.low1 = block(channels, channels)
        self.low2 = Hourglass(depth - 1, channels, block) if depth > 1 else block(channels, channels)
        self.low3 = block(channels, channels)

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor] | None = None) -> HourglassOutput:
        up1 = self.up1(x)
        low1 = self.low1(F.max_pool2d(x, 2))  # (B, C, H/2, W/2)
        if skips is not None:
            low1 = low1 + skips[0]  # Kim & Lee's extra encoder skip from the previous stack
        if self.depth > 1:
            inner = self.low2(low1, skips[1:] if skips is not None else None)
            low2, encoder, decoder = inner.out, [low1, *inner.encoder], inner.decoder  # decoder[0] is low2
        else:
            low2 = self.low2(low1)
            encoder, decoder = [low1], [low2]
        low3 = self.low3(low2)
        up2 = F.interpolate(low3, scale_factor=2, mode="nearest")  # (B, C, H, W)
        out = up1 + up2
        return HourglassOutput(out, encoder, [out, *decoder])


class StackedHourglass(nn.Module):
    """Stacked hourglass network with intermediate supervision (Newell et al. Fig. 4).

    Stem: 7×7/2 conv-BN-ReLU (3 → C/4) → block(C/4, C/2) → maxpool → block(C/2, C/2) → block(C/2, C),
    so a 256×256 image becomes C×64×64 features. At the papers' C = 256 these are Newell's 64 and
    128 channels; narrower models scale the stem with C, so that a small CPU model does not spend
    most of its time in a full-width stem. The stem always uses Newell's Bottleneck: Kim & Lee
    change only the blocks of the stacks.
    Each stack: hourglass → block → 1×1 conv-BN-ReLU (features f) → 1×1 conv (J heatmaps).
    Between stacks: x ← x + 1×1(f) + 1×1(heatmaps), which feeds each prediction back in.
    With `extra_skip`, the encoder features of stack i are added to the encoder of stack i+1 at
    every pooled resolution (Kim & Lee 2020, Sec. 3.1); the full resolution already passes through
    the merge above. The skip adds no parameters.

    `block` is a name from `hglearn.blocks.BLOCKS` or a block class.
    Returns every stack's heatmaps, (B, S, J, H/4, W/4), so each can be supervised.
    """

    def __init__(
        self,
        *,
        num_stacks: int,
        channels: int = 256,
        num_joints: int = 16,
        depth: int = 4,
        block: str | type[nn.Module] = "bottleneck",
        extra_skip: bool = False,
    ):
        super().__init__()
        block = get_block(block)
        self.num_stacks, self.extra_skip = num_stacks, extra_skip
        quarter, half = channels // 4, channels // 2
        self.stem = nn.Sequential(
            nn.Conv2d(3, quarter, 7, stride=2, padding=3), nn.BatchNorm2d(quarter), nn.ReLU(),
            Bottleneck(quarter, half), nn.MaxPool2d(2), Bottleneck(half, half), Bottleneck(half, channels),
        )  # (B, C, H/4, W/4)
        self.hgs = nn.ModuleList(Hourglass(depth, channels, block) for _ in range(num_stacks))
        self.res = nn.ModuleList(block(channels, channels) for _ in range(num_stacks))
        self.features = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels), nn.ReLU())
            for _ in range(num_stacks)
        )
        self.heads = nn.ModuleList(nn.Conv2d(channels, num_joints, 1) for _ in range(num_stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(num_stacks - 1))
        self.merge_heatmaps = nn.ModuleList(nn.Conv2d(num_joints, channels, 1) for _ in range(num_stacks - 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stem(images)  # (B, C, H/4, W/4)
        skips, outputs = None, []
        for i in range(self.num_stacks):
            hg = self.hgs[i](x, skips)
            f = self.features[i](self.res[i](hg.out))  # (B, C, H/4, W/4)
            heatmaps = self.predict(i, f, hg.decoder)  # (B, J, H/4, W/4)
            outputs.append(heatmaps)
            if i < self.num_stacks - 1:
                x = x + self.merge_features[i](f) + self.merge_heatmaps[i](heatmaps)
                skips = hg.encoder if self.extra_skip else None
        return torch.stack(outputs, dim=1)  # (B, S, J, H/4, W/4)

    def predict(self, i: int, f: torch.Tensor, decoder: list[torch.Tensor]) -> torch.Tensor:
        """Stack i's heatmaps from its features f: the 1×1 head. SADI-Net's last stack also uses
        the hourglass's decoder features (hglearn/sadinet.py)."""
        return self.heads[i](f)  # (B, J, H/4, W/4)
