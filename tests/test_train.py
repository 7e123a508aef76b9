import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import hglearn.train as train_module
from hglearn.cli import main
from hglearn.config import override
from hglearn.data.splits import make_dataset
from hglearn.losses import heatmap_mse, stacked_heatmap_loss
from hglearn.train import (CheckpointError, EpochSampler, TrainConfig, TrainingError, load_checkpoint, load_model,
                           lr_factor, train, training_loss)

ROOT = Path(__file__).resolve().parents[1]
# A run that takes seconds: 8 steps per epoch on 32-px figures, a 2-level hourglass.
TINY = TrainConfig(device="cpu", channels=16, depth=2, input_res=32, synth_images=128, val_images=16, batch_size=16,
                   epochs=2, lr_milestones=(1,), eval_every=1, flip_test=False, progress=False)


def test_losses_mask_joints_and_average_stacks():
    target = torch.rand(2, 3, 4, 4)
    pred = target.clone()
    pred[0, 1] += 1.0  # wrong only where the weight is 0
    weight = torch.ones(2, 3)
    weight[0, 1] = 0
    assert heatmap_mse(pred, target, weight) == 0
    stacks = torch.stack([target, target + 0.5], dim=1)  # (B, S, J, h, w): stack 0 right, stack 1 off by 0.5
    loss, per_stack = stacked_heatmap_loss(stacks, target, torch.ones(2, 3))
    assert per_stack.tolist() == [0.0, 0.25] and loss.item() == pytest.approx(0.125)


def test_without_intermediate_supervision_only_the_last_stack_is_compared():
    target = torch.rand(2, 3, 4, 4)
    stacks = torch.stack([target + 1.0, target + 0.5], dim=1)  # stack 0 off by 1, the last by 0.5
    weight = torch.ones(2, 3)
    assert training_loss(stacks, target, weight, TINY).item() == pytest.approx((1.0 + 0.25) / 2)
    assert training_loss(stacks, target, weight, override(TINY, intermediate_supervision=False)).item() == 0.25


def test_sadinet_trains_with_the_combined_loss_and_its_flow_learns_only_when_lambda_is_positive(tmp_path):
    flows = {}
    for weight in (0.0, 1.0):
        cfg = override(TINY, model="sadinet-hg2", num_stacks=1, depth=3, epochs=1, dlm_weight=weight,
                       out_dir=str(tmp_path / str(weight)))
        train(cfg)
        model, _ = load_model(tmp_path / str(weight) / "last.pt")
        flows[weight] = torch.cat([p.flatten() for p in model.dlm.flow.parameters()])
    torch.manual_seed(TINY.seed)  # as train() does before it builds the model
    fresh = torch.cat([p.flatten() for p in cfg.model_config().build().dlm.flow.parameters()])
    assert torch.equal(flows[0.0], fresh)  # λ = 0: the DLM is not trained
    assert not torch.equal(flows[1.0], fresh)  # λ > 0: L_dlm's gradient reaches the flow


def test_lr_schedule_and_epoch_sampler():
    cfg = override(TrainConfig(), lr_milestones=(170, 200), lr_gamma=0.1)  # SADI-Net's drops
    assert [lr_factor(e, cfg) for e in (0, 169, 170, 199, 200)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    full = EpochSampler(20, seed=1, epoch=3).indices
    assert sorted(full) == list(range(20)) and full == EpochSampler(20, seed=1, epoch=3).indices
    assert full != EpochSampler(20, seed=1, epoch=4).indices
    assert EpochSampler(20, seed=1, epoch=3, start=5).indices == full[5:]  # resuming mid-epoch
    ranks = [EpochSampler(20, 1, 3, rank=r, world_size=2).indices for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == list(range(20))


def test_a_tiny_model_overfits_a_fixed_batch():
    torch.manual_seed(0)
    model = override(TINY, channels=64).model_config().build()
    batch = next(iter(torch.utils.data.DataLoader(make_dataset("synth", "train", input_res=32, synth_images=8), 8)))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    blank = heatmap_mse(torch.zeros_like(batch["heatmaps"]), batch["heatmaps"], batch["target_weight"])
    losses = []
    for _ in range(60):
        loss, _ = stacked_heatmap_loss(model(batch["image"]), batch["heatmaps"], batch["target_weight"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 30
    assert losses[-1] < blank.item() / 5  # far below the "predict blank maps" plateau


def test_resumed_training_equals_uninterrupted_training_bit_for_bit(tmp_path):
    whole = override(TINY, out_dir=str(tmp_path / "whole"))
    train(whole)
    part = override(TINY, out_dir=str(tmp_path / "part"), max_steps=5)  # stops mid-epoch
    train(part)
    assert load_checkpoint(tmp_path / "part" / "last.pt")["step"] == 5
    train(override(TINY, out_dir=str(tmp_path / "part"), resume="last"))
    a, b = (load_checkpoint(tmp_path / name / "last.pt") for name in ("whole", "part"))
    assert a["step"] == b["step"] == 16
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_outputs_of_a_run(tmp_path):
    metrics = train(override(TINY, out_dir=str(tmp_path)))
    for name in ("last.pt", "best.pt", "log.csv", "metrics.json", "curves.png", "predictions.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert set(metrics["pckh"]) == {"Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean"}
    assert metrics["steps"] == 16 and 0 <= metrics["pckh_mean"] <= 100
    model, cfg = load_model(tmp_path / "last.pt")
    assert cfg == override(TINY, out_dir=str(tmp_path)) and not model.training
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 1 + 2  # header and two epochs


def test_an_exported_model_is_smaller_loads_alike_and_cannot_be_resumed(tmp_path, capsys):
    train(override(TINY, out_dir=str(tmp_path), epochs=1))
    assert main(["export", str(tmp_path / "last.pt"), str(tmp_path / "shared" / "model.pt")]) == 0
    assert "no optimizer state" in capsys.readouterr().out
    exported = tmp_path / "shared" / "model.pt"
    assert "optimizer" not in load_checkpoint(exported)
    assert exported.stat().st_size < (tmp_path / "last.pt").stat().st_size / 2
    (full, cfg_full), (light, cfg_light) = load_model(tmp_path / "last.pt"), load_model(exported)
    images = torch.randn(2, 3, 32, 32)
    assert cfg_full == cfg_light and torch.equal(full(images), light(images))
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        train(override(TINY, out_dir=str(tmp_path / "again"), resume=str(exported)))


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_loss = train_module.stacked_heatmap_loss
    calls = {"n": 0}

    def loss_that_explodes(*args):
        calls["n"] += 1
        loss, per_stack = real_loss(*args)
        return (loss * float("nan") if calls["n"] == 11 else loss), per_stack

    monkeypatch.setattr(train_module, "stacked_heatmap_loss", loss_that_explodes)
    with pytest.raises(TrainingError, match="nan at step 10.*the last good checkpoint is .*last.pt"):
        train(override(TINY, out_dir=str(tmp_path)))
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 8  # the end of epoch 1


def test_corrupt_and_truncated_checkpoints_get_a_clear_error(tmp_path):
    train(override(TINY, out_dir=str(tmp_path), max_steps=2))
    good = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(good[: len(good) // 2])
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    for name in ("truncated.pt", "garbage.pt"):
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(tmp_path / name)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "other.pt")
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary files


def test_command_line_overrides_are_type_checked(capsys):
    assert main(["train", "--lr=abc"]) == 2
    assert "--lr=abc: expected float" in capsys.readouterr().err
    assert main(["train", "--no_such_key=1"]) == 2
    err = capsys.readouterr().err
    assert "no field 'no_such_key'" in err and "batch_size" in err and "lr_milestones" in err
    assert main(["train", "--optimizer=sgd"]) == 2
    assert "optimizer" in capsys.readouterr().err
    assert main(["train", "--input_res=72"]) == 2  # the 4-level hourglass needs a multiple of 64
    assert "multiple of 64" in capsys.readouterr().err
    assert main(["train", "--synth_images=8"]) == 2
    assert "make no batch of 32" in capsys.readouterr().err


def test_model_follows_the_dataset_joint_set_and_the_preset_width_can_be_kept():
    assert TrainConfig(dataset="flic", input_res=64).model_config().num_joints == 11
    assert TrainConfig(dataset="lsp").model_config().num_joints == 14
    assert override(TrainConfig(), model="newell-hg8", channels=None).model_config().channels == 256


def test_config_files_hold_only_trainconfig_fields():
    from hglearn.cli import train_config_from_args

    for path in sorted((ROOT / "configs").glob("*.toml")):
        cfg = train_config_from_args([str(path), "--epochs=1"])
        assert cfg.epochs == 1
    assert train_config_from_args([str(ROOT / "configs" / "synth-cpu.toml")]) == TrainConfig()


def test_two_process_torchrun_on_cpu_writes_one_checkpoint(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
               "-m", "hglearn.cli", "train", f"--out_dir={tmp_path}", "--channels=16", "--depth=2", "--input_res=32",
               "--synth_images=128", "--val_images=16", "--batch_size=8", "--epochs=1", "--progress=false",
               "--flip_test=false", "--device=cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["best.pt", "last.pt"]
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 128 // (8 * 2)  # each process took half


def test_eval_command_scores_a_checkpoint_and_saves_mpii_predictions(tmp_path, capsys):
    train(override(TINY, out_dir=str(tmp_path), max_steps=2))
    capsys.readouterr()
    mat = tmp_path / "pred.mat"
    assert main(["eval", str(tmp_path / "last.pt"), "--flip", "--scales", "0.9,1", "--synth-difficulty", "plain",
                 "--save-mat", str(mat), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "PCKh@0.5" in out and "| Head | Shoulder |" in out
    import scipy.io

    assert scipy.io.loadmat(mat)["preds"].shape == (TINY.val_images, 16, 2)
    assert main(["eval", str(tmp_path / "missing.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "last.pt"), "--scales", "0.9,"]) == 2
    assert "--scales" in capsys.readouterr().err


def test_python_dash_m_hglearn_is_the_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "hglearn", "export", str(tmp_path / "missing.pt"), "out.pt"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "checkpoint not found" in done.stderr and not (tmp_path / "out.pt").exists()


def test_the_shipped_checkpoint_is_the_default_run_exported():
    """data/checkpoints/synthpose-newell-hg1.pt is what data/README.md says: `hglearn train` with
    every default, then `hglearn export` (no optimizer state)."""
    path = ROOT / "data" / "checkpoints" / "synthpose-newell-hg1.pt"
    state = load_checkpoint(path)
    assert "optimizer" not in state and state["step"] == 6656
    model, cfg = load_model(path)
    assert cfg == TrainConfig() and sum(p.numel() for p in model.parameters()) == 221_488
