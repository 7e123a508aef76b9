"""Converting the authors' PyTorch port's checkpoints (hglearn/pretrained.py).

The port's layout is written out here by hand from its models/posenet.py and models/layers.py
(princeton-vl/pytorch_stacked_hourglass), independently of `port_key`, so that the conversion is
tested in any clone; the checkpoint written by the port's own code, in ../shared/testdata, pins the
outputs where that folder exists.
"""
import numpy as np
import pytest
import torch

from hglearn.checkpoints import load_checkpoint, load_model
from hglearn.cli import main
from hglearn.errors import CheckpointError
from hglearn.models import PRESETS
from hglearn.pretrained import convert_princeton, port_key

# The port's network: PoseNet(nstack, inp_dim=256, oup_dim=16), hourglasses of depth 4.
CHANNELS, JOINTS, DEPTH = 256, 16, 4


def batchnorm(prefix: str, c: int) -> dict[str, tuple]:
    return {f"{prefix}weight": (c,), f"{prefix}bias": (c,), f"{prefix}running_mean": (c,),
            f"{prefix}running_var": (c,), f"{prefix}num_batches_tracked": ()}


def conv(prefix: str, cin: int, cout: int, k: int) -> dict[str, tuple]:
    return {f"{prefix}weight": (cout, cin, k, k), f"{prefix}bias": (cout,)}


def residual(prefix: str, cin: int, cout: int) -> dict[str, tuple]:
    """The port's Residual: bn1..3, Conv-wrapped conv1..3, and a skip_layer built whatever cin and cout."""
    mid = cout // 2
    shapes = {}
    for i, (a, b, k) in enumerate([(cin, mid, 1), (mid, mid, 3), (mid, cout, 1)], start=1):
        shapes |= batchnorm(f"{prefix}bn{i}.", a) | conv(f"{prefix}conv{i}.conv.", a, b, k)
    return shapes | conv(f"{prefix}skip_layer.conv.", cin, cout, 1)


def hourglass(prefix: str, n: int) -> dict[str, tuple]:
    low2 = hourglass(f"{prefix}low2.", n - 1) if n > 1 else residual(f"{prefix}low2.", CHANNELS, CHANNELS)
    return (residual(f"{prefix}up1.", CHANNELS, CHANNELS) | residual(f"{prefix}low1.", CHANNELS, CHANNELS)
            | low2 | residual(f"{prefix}low3.", CHANNELS, CHANNELS))


def port_shapes(num_stacks: int) -> dict[str, tuple]:
    """Every tensor of the port's PoseNet, by state-dict key (without model.module.)."""
    shapes = (conv("pre.0.conv.", 3, 64, 7) | batchnorm("pre.0.bn.", 64) | residual("pre.1.", 64, 128)
              | residual("pre.3.", 128, 128) | residual("pre.4.", 128, CHANNELS))
    for i in range(num_stacks):
        shapes |= hourglass(f"hgs.{i}.0.", DEPTH) | residual(f"features.{i}.0.", CHANNELS, CHANNELS)
        shapes |= conv(f"features.{i}.1.conv.", CHANNELS, CHANNELS, 1) | batchnorm(f"features.{i}.1.bn.", CHANNELS)
        shapes |= conv(f"outs.{i}.conv.", CHANNELS, JOINTS, 1)
    for i in range(num_stacks - 1):
        shapes |= conv(f"merge_features.{i}.conv.conv.", CHANNELS, CHANNELS, 1)
        shapes |= conv(f"merge_preds.{i}.conv.conv.", JOINTS, CHANNELS, 1)
    return shapes


@pytest.fixture(scope="module")
def port_state() -> dict[str, torch.Tensor]:
    """A 2-stack port state dict with random values, keyed as the port's train.py saves it."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in port_shapes(2).items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator)
    return {f"model.module.{key}": tensor for key, tensor in state.items()}


def write_port(path, state, epoch=3):
    torch.save({"state_dict": state, "optimizer": {"state": {}, "param_groups": []}, "epoch": epoch}, path)
    return path


def test_port_key_reads_like_the_docstring():
    assert port_key("stem.3.conv1.weight") == "pre.1.conv1.conv.weight"
    assert port_key("stem.1.running_var") == "pre.0.bn.running_var"
    assert port_key("stem.6.skip.bias") == "pre.4.skip_layer.conv.bias"
    assert port_key("hgs.0.low2.low2.up1.conv2.weight") == "hgs.0.0.low2.low2.up1.conv2.conv.weight"
    assert port_key("res.1.bn2.weight") == "features.1.0.bn2.weight"
    assert port_key("features.1.0.weight") == "features.1.1.conv.weight"
    assert port_key("merge_heatmaps.0.weight") == "merge_preds.0.conv.conv.weight"


def test_the_ports_layout_converts_to_newell_hg2_tensor_for_tensor(tmp_path, port_state):
    converted = convert_princeton(write_port(tmp_path / "checkpoint.pt", port_state))
    assert converted.preset == "newell-hg2" and converted.config == PRESETS["newell-hg2"]
    assert converted.epoch == 3 and not converted.model.training
    # 31 residuals, of which only pre.1 (64 → 128) and pre.4 (128 → 256) use their skip_layer.
    assert len(converted.dropped) == 2 * 29 and all("skip_layer" in key for key in converted.dropped)
    assert not any(key.startswith(("pre.1.", "pre.4.")) for key in converted.dropped)
    ours = converted.model.state_dict()
    kept = sum(t.numel() for k, t in port_state.items() if k[len("model.module."):] not in converted.dropped)
    assert sum(t.numel() for t in ours.values()) == kept
    for hglearn_key, port in [
        ("stem.0.weight", "pre.0.conv.weight"),
        ("stem.1.running_mean", "pre.0.bn.running_mean"),
        ("stem.6.skip.weight", "pre.4.skip_layer.conv.weight"),
        ("hgs.1.low2.low2.low2.low3.conv2.weight", "hgs.1.0.low2.low2.low2.low3.conv2.conv.weight"),
        ("hgs.0.low2.low2.low2.low2.bn3.running_var", "hgs.0.0.low2.low2.low2.low2.bn3.running_var"),
        ("res.0.conv3.bias", "features.0.0.conv3.conv.bias"),
        ("features.1.0.weight", "features.1.1.conv.weight"),
        ("features.1.1.running_var", "features.1.1.bn.running_var"),
        ("heads.1.weight", "outs.1.conv.weight"),
        ("merge_features.0.bias", "merge_features.0.conv.conv.bias"),
        ("merge_heatmaps.0.weight", "merge_preds.0.conv.conv.weight"),
    ]:
        assert torch.equal(ours[hglearn_key], port_state[f"model.module.{port}"]), hglearn_key


def changed(state, *, drop=(), add=None, reshape=None):
    state = {k: v for k, v in state.items() if not any(k.startswith(f"model.module.{d}") for d in drop)}
    state |= {f"model.module.{k}": v for k, v in (add or {}).items()}
    state |= {f"model.module.{k}": torch.zeros(shape) for k, shape in (reshape or {}).items()}
    return state


REFUSALS = {
    "unknown key": (dict(add={"hgs.0.0.extra.weight": torch.zeros(3)}), "hgs.0.0.extra.weight"),
    "skip_layer outside a residual": (dict(add={"outs.0.skip_layer.conv.weight": torch.zeros(3)}),
                                      "outs.0.skip_layer.conv.weight"),
    "missing key": (dict(drop=["hgs.1.0.low2.low3.bn1.running_var"]), "hgs.1.0.low2.low3.bn1.running_var"),
    "missing used skip_layer": (dict(drop=["pre.4.skip_layer.conv.bias"]), "pre.4.skip_layer.conv.bias"),
    "missing stack": (dict(drop=["hgs.1."]), "hgs.1.0."),
    "wrong shape": (dict(reshape={"features.0.1.conv.weight": (256, 128, 1, 1)}), "features.0.1.conv.weight"),
    "other width": (dict(reshape={"outs.0.conv.weight": (16, 128, 1, 1)}), "128 channels"),
}


@pytest.mark.parametrize("change,named", REFUSALS.values(), ids=REFUSALS.keys())
def test_every_mismatch_is_refused_naming_the_file_and_the_key(tmp_path, port_state, change, named):
    path = write_port(tmp_path / "theirs.pt", changed(port_state, **change))
    with pytest.raises(CheckpointError) as caught:
        convert_princeton(path)
    message = str(caught.value)
    assert "theirs.pt" in message and named in message and "\n" not in message


def test_keys_without_the_wrapper_prefix_are_refused(tmp_path, port_state):
    bare = {key[len("model.module."):]: tensor for key, tensor in port_state.items()}
    with pytest.raises(CheckpointError, match=r"bare\.pt: key 'pre\.0\.conv\.weight' does not start with"):
        convert_princeton(write_port(tmp_path / "bare.pt", bare))


@pytest.mark.parametrize("content", [b"not a checkpoint at all", None], ids=["garbage", "hglearn checkpoint"])
def test_a_file_that_is_not_a_port_checkpoint_is_refused(tmp_path, content):
    path = tmp_path / "other.pt"
    if content is None:
        torch.save({"model_config": {}, "train_config": {}, "model": {}}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match="other.pt") as caught:
        convert_princeton(path)
    assert "\n" not in str(caught.value) and "weights_only" not in str(caught.value)
    with pytest.raises(CheckpointError, match="missing.pt"):
        convert_princeton(tmp_path / "missing.pt")


def test_convert_writes_a_checkpoint_that_load_model_reads_with_its_card(tmp_path, port_state, capsys):
    source = write_port(tmp_path / "checkpoint.pt", port_state)
    out = tmp_path / "hg2.pt"
    assert main(["convert", "princeton", str(source), str(out)]) == 0
    assert "newell-hg2" in capsys.readouterr().out
    model, train_cfg = load_model(out)
    assert train_cfg.model == "newell-hg2" and train_cfg.dataset == "mpii" and train_cfg.input_res == 256
    assert torch.equal(model.state_dict()["heads.1.weight"], port_state["model.module.outs.1.conv.weight"])
    card = load_checkpoint(out)["model_card"]
    assert all(isinstance(v, (str, float)) for v in card.values())
    assert card["reported_accuracy"] == 0.883 and card["published_address"].endswith("original_2hg/checkpoint.pt")
    assert "princeton-vl/pytorch_stacked_hourglass" in card["source_repository"]
    assert "NHWC" in card["input_convention"] and "[0, 1]" in card["input_convention"]
    assert card["source_epoch"] == "3" and len(card["source_sha256"]) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "hg2.pt"]  # no temporaries left


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, port_state, monkeypatch, capsys):
    source = write_port(tmp_path / "checkpoint.pt", port_state)
    out = tmp_path / "hg2.pt"
    out.write_bytes(b"the previous file")

    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as half:
            half.write(b"half a checkpoint")
        raise RuntimeError("No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    assert main(["convert", "princeton", str(source), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hg2.pt" in err and "No space left" in err
    assert out.read_bytes() == b"the previous file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "hg2.pt"]


def test_convert_errors_are_one_line(tmp_path, capsys):
    assert main(["convert", "princeton", str(tmp_path / "absent.pt"), str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "absent.pt" in err
    assert main(["convert", "princeton", str(tmp_path / "absent.pt"), str(tmp_path / "no" / "out.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_ports_own_checkpoint_gives_the_ports_heatmaps(tmp_path, shared_testdata, capsys):
    """The 2-stack checkpoint written by the port's code (random weights and BatchNorm statistics),
    converted by the command line, read back by load_model, against the port's eval-mode output."""
    source = shared_testdata("princeton_hg2/checkpoint.pt")
    expected = np.load(shared_testdata("princeton_hg2/outputs.npz"))
    out = tmp_path / "hg2.pt"
    assert main(["convert", "princeton", str(source), str(out)]) == 0
    model, _ = load_model(out)
    images = torch.from_numpy(expected["images_nhwc"]).permute(0, 3, 1, 2)  # (B, 3, 256, 256): hglearn's layout
    with torch.no_grad():
        heatmaps = model(images).numpy()  # (B, S, J, 64, 64)
    # Both stacks, to 1e-4 absolute; the heatmaps reach about 0.6 (float32 sums in another order differ by ~1e-7).
    assert heatmaps.shape == expected["heatmaps"].shape == (2, 2, 16, 64, 64)
    np.testing.assert_allclose(heatmaps, expected["heatmaps"], rtol=0, atol=1e-4)
