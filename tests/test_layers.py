import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

from hglearn.layers import DepthwiseSeparableConv2d, SqueezeExcite, conv_output_size, receptive_field


@pytest.mark.parametrize(
    "size, kernel, stride, padding, dilation, expected",
    [
        (256, 7, 2, 3, 1, 128),  # Newell's stem convolution
        (64, 2, 2, 0, 1, 32),  # max-pool 2
        (64, 3, 1, 2, 2, 64),  # dilated 3x3 with "same" padding
        (10, 3, 1, 0, 3, 4),  # a dilation-3 kernel spans 7 pixels: 10 - 7 + 1
        (11, 3, 2, 1, 1, 6),  # odd size, stride 2: floor((11 + 2 - 3) / 2) + 1
        (7, 3, 3, 0, 2, 1),  # span 5, stride 3: floor(2 / 3) + 1
    ],
)
def test_conv_output_size_hand_cases(size, kernel, stride, padding, dilation, expected):
    assert conv_output_size(size, kernel, stride, padding, dilation) == expected
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == expected  # and PyTorch agrees


def test_conv_output_size_rejects_a_kernel_larger_than_the_input():
    with pytest.raises(ValueError, match="span 7"):
        conv_output_size(5, 3, dilation=3)


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([(3, 1, 1)], 3),
        ([(3, 1, 1)] * 2, 5),
        ([(3, 1, 1), (3, 1, 2), (3, 1, 4)], 15),  # Yu & Koltun: dilations 1, 2, 4 give 15x15
        ([(3, 1, 2)], 5),
        ([(7, 2, 1), (2, 2, 1)], 9),  # stem conv then pool: 7 + (2 - 1) * 2
        ([(7, 2, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)], 21),  # 7 + 2·2 + 1·2 + 2·4
    ],
)
def test_receptive_field_hand_cases(layers, expected):
    assert receptive_field(layers) == expected


def test_receptive_field_matches_the_gradient_footprint():
    """A stack's theoretical receptive field is the extent of input pixels that reach one output."""
    layers = [(3, 1, 1), (3, 2, 2), (3, 1, 3)]
    convs = nn.Sequential(*(nn.Conv2d(1, 1, k, s, bias=False, dilation=d) for k, s, d in layers))
    nn.init.constant_(convs[0].weight, 1.0), nn.init.constant_(convs[1].weight, 1.0), nn.init.constant_(convs[2].weight, 1.0)
    x = torch.zeros(1, 1, 41, 41, requires_grad=True)
    out = convs(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    cols = x.grad[0, 0].abs().sum(0).nonzero().flatten()
    assert int(cols.max() - cols.min() + 1) == receptive_field(layers)


@pytest.mark.parametrize("kernel, dilation", [(3, 1), (3, 2), (5, 3)])
def test_depthwise_separable_shape_and_parameters(kernel, dilation):
    cin, cout = 32, 48
    layer = DepthwiseSeparableConv2d(cin, cout, kernel, dilation)
    assert layer(torch.zeros(2, cin, 17, 17)).shape == (2, cout, 17, 17)
    expected = cin * kernel**2 + cin + cin * cout + cout  # depthwise + pointwise, with biases
    assert sum(p.numel() for p in layer.parameters()) == expected


@pytest.mark.parametrize("kernel, dilation", [(3, 1), (3, 2), (5, 1)])
def test_fvcore_flops_of_depthwise_separable_equal_the_formula(kernel, dilation):
    cin, cout, h, w = 32, 64, 20, 24
    layer = DepthwiseSeparableConv2d(cin, cout, kernel, dilation)
    flops = FlopCountAnalysis(layer, torch.zeros(1, cin, h, w)).total()
    # One multiply-add = one FLOP: cin·k²·H·W (depthwise) + cin·cout·H·W (pointwise).
    assert flops == cin * kernel**2 * h * w + cin * cout * h * w
    full = FlopCountAnalysis(nn.Conv2d(cin, cout, kernel, padding=kernel // 2), torch.zeros(1, cin, h, w)).total()
    assert full == cin * cout * kernel**2 * h * w
    assert flops / full == pytest.approx(1 / cout + 1 / kernel**2)  # Howard et al.'s reduction ratio


def test_squeeze_excite_rescales_channels_uniformly():
    torch.manual_seed(0)
    se = SqueezeExcite(32, reduction=8)
    assert sum(p.numel() for p in se.parameters()) == 32 * 4 + 4 + 4 * 32 + 32
    x = torch.rand(2, 32, 6, 6) + 0.1
    ratio = se(x) / x  # (B, C, H, W): one gate per channel, the same at every pixel
    assert torch.allclose(ratio, ratio[..., :1, :1].expand_as(ratio), atol=1e-6)
    assert ((ratio > 0) & (ratio < 1)).all()
    assert ratio[0].flatten(1)[:, 0].std() > 0  # the gates differ between channels
