import pytest
import torch

from hglearn.blocks import BLOCKS
from hglearn.hourglass import Hourglass, StackedHourglass
from hglearn.models import PRESETS, ModelConfig, count_parameters, create_model, model_config
from hglearn.errors import ConfigError
from hglearn.sadinet import SFM


@pytest.mark.parametrize(
    "name, expected",
    [("newell-hg1", 3_426_448), ("newell-hg2", 6_570_400), ("newell-hg4", 12_858_304), ("newell-hg8", 25_434_112)],
)
def test_newell_parameter_counts_are_exact(name, expected):
    """Counts of the original Torch layout (REFERENCE.md; Kim & Lee quote 3.6M / 6.7M / 25.1M)."""
    assert count_parameters(create_model(name)) == expected


def test_the_course_model_is_newell_hg1_at_64_channels():
    """The course's CPU preset is Newell's one-stack network narrowed, nothing else changed."""
    assert PRESETS["course-hg1"] == model_config("newell-hg1", channels=64)
    assert count_parameters(create_model("course-hg1")) == 221_488


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


def rfm_parameters(c: int) -> int:
    """RFM(c, c): three bias-free 3x3 convs, three BatchNorms, an SE gate with c // 16 hidden units."""
    hidden = c // 16
    return 27 * c * c + 6 * c + (c * hidden + hidden) + (hidden * c + c)


@pytest.mark.parametrize(
    "name, expected",
    [("sadinet-hg2", 6_273_630), ("sadinet-hg8", 24_075_666), ("sadinet-hg8-rfm", 23_771_248),
     ("sadinet-hg8-rfm-sfm", 24_021_882)],
)
def test_sadinet_parameter_counts_are_exact(name, expected):
    """Regression guard for the presets at C = 88 (newell-hg8: 25,434,112); the DLM holds 53,784."""
    assert count_parameters(create_model(name)) == expected


def test_sadinet_counts_add_up_from_their_parts():
    c, j, s = 88, 16, 8
    rfm_only = create_model("sadinet-hg8-rfm")
    # Each stack: 13 hourglass blocks + 1 after it, the 1x1 conv-BN features, the 1x1 head.
    per_stack = 14 * rfm_parameters(c) + (c * c + c + 2 * c) + (c * j + j)
    merges = (c * c + c) + (j * c + c)  # between stacks: features and heatmaps back to C channels
    assert count_parameters(rfm_only) == count_parameters(rfm_only.stem) + s * per_stack + (s - 1) * merges
    # The SFM replaces the last 1x1 head, and the DLM is added whole.
    sfm = count_parameters(create_model("sadinet-hg8-rfm-sfm"))
    assert sfm - count_parameters(rfm_only) == count_parameters(SFM(c, j)) - (c * j + j)
    full = create_model("sadinet-hg8")
    assert count_parameters(full) - sfm == count_parameters(full.dlm)


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


def test_hourglass_returns_encoder_and_decoder_features_at_every_resolution():
    hg = Hourglass(4, 8, "bottleneck")
    out, encoder, decoder = hg(torch.randn(1, 8, 64, 64))
    assert out.shape == (1, 8, 64, 64)
    assert [f.shape[-1] for f in encoder] == [32, 16, 8, 4]  # low1 of each level
    assert [f.shape[-1] for f in decoder] == [64, 32, 16, 8, 4]  # out, then low2 of each level
    assert decoder[0] is out
    hg.eval()  # BatchNorm by running statistics, so a sub-hourglass gives the same result alone
    x = torch.randn(1, 8, 64, 64)
    inner = hg.low2(hg.low1(torch.nn.functional.max_pool2d(x, 2)))  # the depth-3 hourglass inside
    assert torch.allclose(hg(x).decoder[1], inner.out)


def test_presets_and_overrides():
    assert set(PRESETS) >= {"newell-hg1", "newell-hg2", "newell-hg4", "newell-hg8",
                            "lightweight-hg1", "lightweight-hg2", "lightweight-hg8"}
    assert all(PRESETS[f"lightweight-hg{s}"].block == "mdlrb" and PRESETS[f"lightweight-hg{s}"].extra_skip
               for s in (1, 2, 8))
    assert {n for n in PRESETS if n.startswith("sadinet")} == {"sadinet-hg2", "sadinet-hg8", "sadinet-hg8-rfm",
                                                              "sadinet-hg8-rfm-sfm"}
    assert all(PRESETS[n].block == "rfm" for n in PRESETS if n.startswith("sadinet"))
    assert model_config("sadinet-hg8", sfm=False, dlm=False) == PRESETS["sadinet-hg8-rfm"]
    cfg = model_config("newell-hg2", block="mdlrb", extra_skip=True)
    assert cfg == ModelConfig(num_stacks=2, block="mdlrb", extra_skip=True)
    assert count_parameters(cfg.build()) == count_parameters(create_model("lightweight-hg2"))


def test_bad_overrides_and_configs_get_clear_errors():
    with pytest.raises(ConfigError, match="no field 'stacks'.*num_stacks"):
        create_model("newell-hg1", stacks=2)
    with pytest.raises(ConfigError, match="num_stacks must be int"):
        create_model("newell-hg1", num_stacks="2")
    with pytest.raises(ConfigError, match="extra_skip must be bool"):
        create_model("newell-hg1", extra_skip=1)
    with pytest.raises(ConfigError, match="unknown model 'newell-hg3'"):
        create_model("newell-hg3")
    with pytest.raises(ConfigError, match="block 'resnet'"):
        ModelConfig(num_stacks=1, block="resnet")
    with pytest.raises(ConfigError, match="channels must be a multiple of 8"):
        ModelConfig(num_stacks=1, channels=36)
    with pytest.raises(ConfigError, match="num_stacks must be at least 1"):
        ModelConfig(num_stacks=0)
    with pytest.raises(ConfigError, match="SADI-Net, which needs block='rfm'"):
        ModelConfig(num_stacks=1, sfm=True)
    with pytest.raises(ValueError, match="SADI-Net, which needs block='rfm' and no extra_skip"):
        ModelConfig(num_stacks=1, block="rfm", dlm=True, extra_skip=True)
    with pytest.raises(ValueError, match="depth must be at least 3"):
        ModelConfig(num_stacks=1, block="rfm", sfm=True, depth=2)
