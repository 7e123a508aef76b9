"""Residual blocks of the three papers. Each is `Block(cin, cout)` and keeps the spatial size.

Kim & Lee (2020) compare four blocks in their Figure 5 and Table 3 on a 1-stack hourglass:
(a) Newell's bottleneck, (b) the bottleneck with a depthwise-separable 3×3, (c) a bottleneck with a
depthwise-separable 3×3, which hglearn makes dilated, (d) their multidilated light residual block.
Their Table 1 lists the MDLRB's layers; for (b) and (c) the table gives a name and a parameter
count for one stack (1.4M, 1.6M), and hglearn uses the layer order whose count reproduces it, as
each docstring says. SADI-Net (Gao et al. 2023) adds the RFM.

Taught in notebooks/03_residual_blocks.ipynb.
"""
import torch
from torch import nn

from hglearn.layers import DepthwiseSeparableConv2d, SqueezeExcite


def skip_connection(cin: int, cout: int) -> nn.Module:
    """The residual shortcut: identity, or a 1×1 convolution when the channel count changes."""
    return nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)


class Bottleneck(nn.Module):
    """Newell et al. (2016) residual module, pre-activation (Kim & Lee Fig. 5a).

    BN-ReLU-1×1 (cin → cout/2) → BN-ReLU-3×3 (cout/2) → BN-ReLU-1×1 (cout/2 → cout), plus the input.
    Convolutions keep their bias as in the Torch original: 214,528 parameters at 256 channels.
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = cout // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, cout, 1)
        self.skip = skip_connection(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        y = self.conv3(torch.relu(self.bn3(y)))
        return y + self.skip(x)


class BottleneckDS(Bottleneck):
    """Bottleneck with a depthwise-separable middle (Kim & Lee Fig. 5b).

    The 3×3 becomes a depthwise 3×3, and the bottleneck's own 1×1 expansion that follows it acts as
    the pointwise half of the depthwise-separable pair. Kim & Lee's table names this block
    "Bottleneck (Original) + Depthwise Separable" at 1.4M parameters for one stack; this layer order
    is chosen because it reproduces that count, 1.38M (a separate pointwise layer would give 1.61M).
    """

    def __init__(self, cin: int, cout: int):
        super().__init__(cin, cout)
        mid = cout // 2
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1, groups=mid)


class DilatedBottleneckDS(Bottleneck):
    """Bottleneck whose 3×3 is a dilated depthwise-separable convolution (Kim & Lee Fig. 5c).

    BN-ReLU-1×1 reduce → BN-ReLU-[depthwise 3×3, dilation 2 → pointwise 1×1] → BN-ReLU-1×1 expand.
    Kim & Lee's table lists this block as a bottleneck with a depthwise-separable convolution at
    1.6M parameters for one stack; with its own pointwise layer it gives 1.61M, which is why hglearn
    builds it this way. The dilation is hglearn's choice and leaves the count unchanged: 2, the first
    of the MDLRB's two rates.
    """

    def __init__(self, cin: int, cout: int, dilation: int = 2):
        super().__init__(cin, cout)
        mid = cout // 2
        self.conv2 = DepthwiseSeparableConv2d(mid, mid, 3, dilation=dilation)


class MDLRB(nn.Module):
    """Multidilated light residual block (Kim & Lee 2020, Sec. 3.2.3, Table 1, Fig. 5d).

    BN-ReLU-1×1 (cin → cout/2) → BN-ReLU-1×1 → two parallel branches BN-ReLU-[depthwise 3×3 with
    dilation 2 or 3 → pointwise 1×1], added → BN-ReLU-1×1 (cout/2 → cout), plus the input.
    Table 1 lists the layers; we read the two dilated branches as parallel (the "multi" of the
    name: the same features seen through 3×3 kernels spread over 5×5 and 7×7 windows, each reaching
    9 of its window's positions, 17 of the 7×7 window's 49 together; notebook 01 draws them). The parameter count, 119,552 at 256
    channels, is the same for either reading. With Newell's stem, merges and heads it gives
    2,096,784 / 3,911,072 / 14,796,800 parameters for 1 / 2 / 8 stacks: the paper's 3.9M and
    14.8M to its rounding, and 2.1M where it states 2.0M (its text does not say what it counted;
    tests/test_models.py holds each count to the paper's within 6%, 2% and 1%).
    """

    def __init__(self, cin: int, cout: int, dilations: tuple[int, ...] = (2, 3)):
        super().__init__()
        mid = cout // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 1)
        self.branches = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(mid), nn.ReLU(), DepthwiseSeparableConv2d(mid, mid, 3, dilation=d))
            for d in dilations
        )
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, cout, 1)
        self.skip = skip_connection(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        y = sum(branch(y) for branch in self.branches)
        y = self.conv3(torch.relu(self.bn3(y)))
        return y + self.skip(x)


class RFM(nn.Module):
    """Receptive fortified module (Gao et al. 2023, SADI-Net, Sec. III-B, Fig. 3).

    A ResNet basic block (3×3-BN-ReLU-3×3-BN) with a parallel dilated 3×3-BN branch added to it,
    the sum passed through squeeze-and-excitation, then the shortcut and a ReLU. The text does not
    give the dilation or the SE reduction: we use dilation 2 and reduction 16 (Hu et al.'s default).
    Convolutions followed by BatchNorm carry no bias, as in the ResNet basic block.
    """

    def __init__(self, cin: int, cout: int, dilation: int = 2, reduction: int = 16):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout)
        self.conv_dilated = nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn_dilated = nn.BatchNorm2d(cout)
        self.se = SqueezeExcite(cout, reduction)
        self.skip = skip_connection(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        y = y + self.bn_dilated(self.conv_dilated(x))
        return torch.relu(self.se(y) + self.skip(x))


BLOCKS: dict[str, type[nn.Module]] = {
    "bottleneck": Bottleneck,
    "bottleneck-ds": BottleneckDS,
    "dilated-bottleneck-ds": DilatedBottleneckDS,
    "mdlrb": MDLRB,
    "rfm": RFM,
}


def get_block(block: str | type[nn.Module]) -> type[nn.Module]:
    """A block class from its `BLOCKS` name; a class is returned as it is."""
    if isinstance(block, str):
        if block not in BLOCKS:
            raise ValueError(f"unknown block {block!r}; choose one of {sorted(BLOCKS)}")
        return BLOCKS[block]
    return block
