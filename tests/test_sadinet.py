import pytest
import torch

from hglearn.models import create_model
from hglearn.sadinet import SFM, GlobalAttention, LocalAttention, SADINet


def pyramid(channels=32, size=16, batch=2, requires_grad=False):
    """Four scales of features, finest first, like an hourglass's decoder: 16, 8, 4, 2 px."""
    return [torch.randn(batch, channels, size >> k, size >> k, requires_grad=requires_grad) for k in range(4)]


@pytest.mark.parametrize("num_stacks", [1, 2])
@pytest.mark.parametrize("sfm, dlm", [(True, True), (True, False), (False, True)])
def test_sadinet_returns_every_stack_at_a_quarter_of_the_input(num_stacks, sfm, dlm):
    torch.manual_seed(0)
    model = SADINet(num_stacks=num_stacks, channels=32, num_joints=16, sfm=sfm, dlm=dlm)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, num_stacks, 16, 16, 16)  # (B, S, J, H/4, W/4)
    assert isinstance(model.heads[-1], SFM) == sfm
    assert (model.dlm is not None) == dlm


@pytest.mark.parametrize("name", ["sadinet-hg2", "sadinet-hg8", "sadinet-hg8-rfm", "sadinet-hg8-rfm-sfm"])
def test_presets_and_ablations_run_narrow_and_short(name):
    torch.manual_seed(0)
    model = create_model(name, num_stacks=2, channels=32, num_joints=14)
    assert model(torch.randn(2, 3, 64, 128)).shape == (2, 2, 14, 16, 32)


def test_global_weights_are_a_softmax_over_the_four_scales():
    torch.manual_seed(0)
    attention = GlobalAttention(32, width=24)
    fused, scaled, weights = attention(pyramid())
    assert weights.shape == (2, 4, 16, 16)  # (B, scales, H, W)
    assert torch.allclose(weights.sum(1), torch.ones(2, 16, 16))
    assert (weights > 0).all()
    assert fused.shape == (2, 24, 16, 16)
    assert [g.shape[-1] for g in scaled] == [16, 8, 4, 2]  # each scale back at its own resolution


def test_local_weights_mix_two_adjacent_scales():
    torch.manual_seed(0)
    high, low = torch.randn(2, 32, 16, 16), torch.randn(2, 32, 8, 8)
    out, weights = LocalAttention(32)(high, low)
    assert out.shape == (2, 32, 8, 8) and weights.shape == (2, 2, 8, 8)
    assert torch.allclose(weights.sum(1), torch.ones(2, 8, 8))


def test_sfm_output_depends_on_every_scale_and_keeps_its_weights():
    torch.manual_seed(0)
    sfm = SFM(32, num_joints=16)
    features = pyramid(requires_grad=True)
    heatmaps = sfm(features)
    assert heatmaps.shape == (2, 16, 16, 16)
    heatmaps.square().mean().backward()
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in features)
    assert sfm.global_weights.shape == (2, 4, 16, 16) and not sfm.global_weights.requires_grad
    assert [w.shape[-1] for w in sfm.local_weights] == [8, 4, 2]


def test_one_training_step_reaches_every_parameter_through_the_dlm_loss():
    torch.manual_seed(0)
    model = create_model("sadinet-hg2", channels=32)
    heatmaps = model(torch.randn(2, 3, 64, 64))  # (B, S, J, H/4, W/4)
    target = torch.rand_like(heatmaps[:, -1])
    learnable = model.dlm(heatmaps[:, -1])
    assert learnable.shape == heatmaps[:, -1].shape
    loss = (heatmaps - target[:, None]).square().mean() + (learnable - target).square().mean()
    loss.backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]


def test_runs_channels_last_under_bfloat16_autocast():
    torch.manual_seed(0)
    model = create_model("sadinet-hg2", channels=32).to(memory_format=torch.channels_last)
    images = torch.randn(2, 3, 64, 64).to(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        heatmaps = model(images)
    assert heatmaps.shape == (2, 2, 16, 16, 16)
    assert torch.isfinite(heatmaps.float()).all()
    heatmaps.float().square().mean().backward()
    # The forward pass does not run the DLM (the training loss calls model.dlm), so it alone has no gradient.
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing and all(n.startswith("dlm.") for n in missing)
    reached = [(n, p) for n, p in model.named_parameters() if not n.startswith("dlm.")]
    assert not [n for n, p in reached if not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0]
    assert all(p.grad.dtype == torch.float32 for _, p in reached)  # autocast keeps float32 weights


def test_state_dict_names_follow_the_paper():
    keys = create_model("sadinet-hg2", channels=32).state_dict()
    assert "hgs.1.low2.up1.conv_dilated.weight" in keys  # RFM blocks in the hourglass
    assert "heads.0.weight" in keys  # the first stack keeps its 1x1 head
    assert "heads.1.global_attention.score.3.weight" in keys  # the last head is the SFM
    assert "heads.1.local_attention.2.down.0.weight" in keys
    assert "heads.1.classifier.weight" in keys
    assert any(k.startswith("dlm.") for k in keys)


def test_sfm_needs_four_scales():
    with pytest.raises(ValueError, match="depth at least 3"):
        SADINet(num_stacks=1, channels=32, depth=2)
    assert SADINet(num_stacks=1, channels=32, depth=2, sfm=False, dlm=False)(torch.zeros(1, 3, 32, 32)).shape == (
        1, 1, 16, 8, 8)
