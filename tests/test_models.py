import pytest
import torch

from hglearn.blocks import BLOCKS
from hglearn.hourglass import Hourglass, StackedHourglass
from hglearn.models import PRESETS, ModelConfig, count_parameters, create_model, model_config


@pytest.mark.parametrize(
    "name, expected",
    [("newell-hg1", 3_426_448), ("newell-hg2", 6_570_400), ("newell-hg4", 12_858_304), ("newell-hg8", 25_434_112)],
)
def test_newell_parameter_counts_are_exact(name, expected):
    """Counts of the original Torch layout (REFERENCE.md; Kim & Lee quote 3.6M / 6.7M / 25.1M)."""
    assert count_parameters(create_model(name)) == expected


@pytest.mark.parametrize(
    "name, paper, tolerance",
    [("lightweight-hg8", 14.8e6, 0.01), ("lightweight-hg2", 3.9e6, 0.02), ("lightweight-hg1", 2.0e6, 0.06)],
)
def test_lightweight_parameter_counts_match_kim_and_lee(name, paper, tolerance):
    assert count_parameters(create_model(name)) == pytest.approx(paper, rel=tolerance)


@pytest.mark.parametrize(
    "block, paper, ours",
    # Kim & Lee Table 3, one stack: Fig. 5b 1.4M and Fig. 5c 1.6M.
    [("bottleneck-ds", 1.4e6, 1_378_192), ("dilated-bottleneck-ds", 1.6e6, 1_609_360)],
)
def test_one_stack_ablation_blocks_land_near_the_paper(block, paper, ours):
    n = count_parameters(create_model("newell-hg1", block=block))
    assert n == ours
    assert n == pytest.approx(paper, rel=0.02)


def test_extra_skip_changes_the_output_but_not_the_parameters():
    torch.manual_seed(0)
    plain = create_model("lightweight-hg2", channels=32, extra_skip=False)
    skip = create_model("lightweight-hg2", channels=32, extra_skip=True)
    skip.load_state_dict(plain.state_dict())  # same weights, so only the wiring differs
    assert count_parameters(plain) == count_parameters(skip)
    plain.eval(), skip.eval()
    images = torch.randn(1, 3, 64, 64)
    out_plain, out_skip = plain(images), skip(images)
    assert torch.equal(out_plain[:, 0], out_skip[:, 0])  # the first stack has no previous encoder
    assert not torch.allclose(out_plain[:, 1], out_skip[:, 1])


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("num_stacks", [1, 2])
def test_every_block_trains_in_a_stacked_hourglass(block, num_stacks):
    torch.manual_seed(0)
    model = StackedHourglass(num_stacks=num_stacks, channels=32, num_joints=16, block=block, extra_skip=True)
    heatmaps = model(torch.randn(2, 3, 64, 64))
    assert heatmaps.shape == (2, num_stacks, 16, 16, 16)  # (B, S, J, H/4, W/4)
    assert torch.isfinite(heatmaps).all()
    heatmaps.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    # Nonzero almost everywhere: at 32 channels an SE gate has 2 hidden units, whose ReLU may be shut.
    nonzero = [bool(p.grad.abs().sum() > 0) for p in model.parameters()]
    assert sum(nonzero) >= 0.95 * len(nonzero)


def test_output_is_a_quarter_of_the_input_for_non_square_images():
    model = create_model("newell-hg1", channels=16, num_joints=14)
    assert model(torch.zeros(1, 3, 128, 192)).shape == (1, 1, 14, 32, 48)


def test_hourglass_of_depth_4_holds_13_blocks_named_as_the_original():
    hg = Hourglass(4, 16, "bottleneck")
    assert sum(isinstance(m, BLOCKS["bottleneck"]) for m in hg.modules()) == 13
    keys = StackedHourglass(num_stacks=1, channels=16).state_dict()
    assert "hgs.0.low2.low2.up1.conv1.weight" in keys
    assert "hgs.0.low2.low2.low2.low2.conv2.weight" in keys  # the 4x4 bottom block


def test_hourglass_returns_encoder_features_at_every_pooled_resolution():
    hg = Hourglass(4, 8, "bottleneck")
    out, encoder = hg(torch.randn(1, 8, 64, 64))
    assert out.shape == (1, 8, 64, 64)
    assert [f.shape[-1] for f in encoder] == [32, 16, 8, 4]


def test_presets_and_overrides():
    assert set(PRESETS) >= {"newell-hg1", "newell-hg2", "newell-hg4", "newell-hg8",
                            "lightweight-hg1", "lightweight-hg2", "lightweight-hg8"}
    assert all(PRESETS[f"lightweight-hg{s}"].block == "mdlrb" and PRESETS[f"lightweight-hg{s}"].extra_skip
               for s in (1, 2, 8))
    cfg = model_config("newell-hg2", block="mdlrb", extra_skip=True)
    assert cfg == ModelConfig(num_stacks=2, block="mdlrb", extra_skip=True)
    assert count_parameters(cfg.build()) == count_parameters(create_model("lightweight-hg2"))


def test_bad_overrides_and_configs_get_clear_errors():
    with pytest.raises(ValueError, match="no field 'stacks'.*num_stacks"):
        create_model("newell-hg1", stacks=2)
    with pytest.raises(TypeError, match="num_stacks must be int"):
        create_model("newell-hg1", num_stacks="2")
    with pytest.raises(TypeError, match="extra_skip must be bool"):
        create_model("newell-hg1", extra_skip=1)
    with pytest.raises(ValueError, match="unknown model 'newell-hg3'"):
        create_model("newell-hg3")
    with pytest.raises(ValueError, match="block 'resnet'"):
        ModelConfig(num_stacks=1, block="resnet")
    with pytest.raises(ValueError, match="channels must be a multiple of 8"):
        ModelConfig(num_stacks=1, channels=36)
    with pytest.raises(ValueError, match="num_stacks must be at least 1"):
        ModelConfig(num_stacks=0)
