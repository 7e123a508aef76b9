import pytest
import torch

from hglearn.blocks import BLOCKS, MDLRB, RFM, Bottleneck, BottleneckDS, DilatedBottleneckDS, get_block


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", BLOCKS)
@pytest.mark.parametrize("cin, cout", [(32, 32), (16, 32)])
def test_block_keeps_spatial_size_and_sets_channels(name, cin, cout):
    torch.manual_seed(0)  # at 32 channels an SE gate has 2 hidden units: a fixed draw keeps them alive
    block = BLOCKS[name](cin, cout)
    x = torch.randn(2, cin, 9, 12)
    y = block(x)
    assert y.shape == (2, cout, 9, 12)
    y.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_parameter_counts_at_256_channels():
    # Bottleneck: BN 512 + 1x1 32,896 + BN 256 + 3x3 147,584 + BN 256 + 1x1 33,024.
    assert n_params(Bottleneck(256, 256)) == 214_528
    # MDLRB: the layer list of Kim & Lee's Table 1 with biases (their text states no per-block count).
    assert n_params(MDLRB(256, 256)) == 119_552
    assert n_params(BottleneckDS(256, 256)) == 214_528 - 147_584 + 128 * 9 + 128
    assert n_params(DilatedBottleneckDS(256, 256)) == n_params(BottleneckDS(256, 256)) + 128 * 128 + 128
    # RFM: three 3x3 convs without bias (3 * 589,824) + three BNs (1,536) + SE 256 → 16 → 256 (8,464).
    assert n_params(RFM(256, 256)) == 1_779_472  # why SADI-Net's presets are narrower than 256


def impulse_response_width(block, channels=8, size=25):
    """Width in pixels of the input region that reaches the centre output pixel."""
    block.eval()
    # Several random inputs, so that a ReLU closing one path at one pixel cannot hide it.
    x = torch.randn(8, channels, size, size, requires_grad=True)
    block(x)[:, :, size // 2, size // 2].sum().backward()
    cols = x.grad.abs().sum((0, 1, 2)).nonzero().flatten()
    return int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize(
    "block, width",
    [
        (Bottleneck, 3),  # one 3x3
        (BottleneckDS, 3),  # depthwise 3x3
        (DilatedBottleneckDS, 5),  # 3x3 with dilation 2 spans 5 pixels
        (MDLRB, 7),  # parallel dilations 2 and 3: the wider one spans 7
    ],
)
def test_receptive_field_of_each_block(block, width):
    torch.manual_seed(0)
    assert impulse_response_width(block(8, 8)) == width


def test_get_block_names_the_choices_on_a_typo():
    assert get_block("mdlrb") is MDLRB and get_block(MDLRB) is MDLRB
    with pytest.raises(ValueError, match="bottleneck-ds"):
        get_block("mdlbr")
