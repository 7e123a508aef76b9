"""Convolution arithmetic and the two small layers the residual blocks are built from.

Taught in notebooks/01_dilated_convolutions.ipynb and notebooks/02_depthwise_separable.ipynb.
"""
from collections.abc import Iterable

import torch
from torch import nn


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Spatial output size of a convolution or pooling layer along one axis.

        out = floor((size + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1

    A dilated kernel covers dilation·(kernel − 1) + 1 input pixels (Yu & Koltun 2016), which is
    why "same" padding for an odd kernel is dilation·(kernel − 1) / 2.
    """
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(f"input of size {size} (padding {padding}) is smaller than the kernel's span {span}")
    return (size + 2 * padding - span) // stride + 1


def receptive_field(layers: Iterable[tuple[int, int, int]]) -> int:
    """Theoretical receptive field, in input pixels, of a stack of (kernel, stride, dilation) layers.

        r_0 = 1,   j_0 = 1
        r_l = r_{l−1} + dilation_l·(kernel_l − 1)·j_{l−1},   j_l = j_{l−1}·stride_l

    j is the distance in input pixels between neighbouring outputs of layer l (the "jump").
    """
    rf, jump = 1, 1
    for kernel, stride, dilation in layers:
        rf += dilation * (kernel - 1) * jump
        jump *= stride
    return rf


class DepthwiseSeparableConv2d(nn.Module):
    """Depthwise k×k convolution (one filter per channel) then a pointwise 1×1 (Chollet 2017).

    Parameters with bias: cin·k² + cin (depthwise) + cin·cout + cout (pointwise), against
    cin·cout·k² + cout for a full k×k convolution. Padding keeps the spatial size at any dilation.
    """

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, dilation: int = 1):
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.depthwise = nn.Conv2d(cin, cin, kernel_size, padding=padding, dilation=dilation, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation channel attention (Hu et al., TPAMI 2020, Fig. 1).

    s = sigmoid(W2 · ReLU(W1 · mean_hw(x))),  out = s ⊙ x,  with W1: C → C/r and W2: C/r → C.
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)  # (B, C, 1, 1)
        s = torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))
        return x * s
