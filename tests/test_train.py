import csv
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import hglearn.train as train_module
from hglearn.checkpoints import load_checkpoint, load_model
from hglearn.cli import main
from hglearn.config import TrainConfig, override
from hglearn.data.splits import make_dataset
from hglearn.errors import CheckpointError, TrainingError
from hglearn.losses import heatmap_mse, stacked_heatmap_loss
from hglearn.models import PRESETS, count_parameters
from hglearn.errors import ConfigError
from hglearn.train import (EpochSampler, build_run, cosine_factor, lr_at_step, lr_factor, make_optimizer, resolve_model,
                           train, training_loss)

ROOT = Path(__file__).resolve().parents[1]


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
    loss, per_stack = training_loss(stacks, target, weight)
    assert loss.item() == pytest.approx((1.0 + 0.25) / 2)
    last_only, logged = training_loss(stacks, target, weight, intermediate_supervision=False)
    assert last_only.item() == pytest.approx(0.25)
    assert logged.tolist() == pytest.approx([1.0, 0.25]) == per_stack.tolist()  # the log shows every stack


@pytest.mark.slow
def test_sadinet_trains_with_the_combined_loss_and_its_flow_learns_only_when_lambda_is_positive(tmp_path, tiny_config):
    flows = {}
    for weight in (0.0, 1.0):
        cfg = override(tiny_config, model="sadinet-hg2", num_stacks=1, depth=3, epochs=1, dlm_weight=weight,
                       out_dir=str(tmp_path / str(weight)))
        train(cfg)
        model, _ = load_model(tmp_path / str(weight) / "last.pt")
        flows[weight] = torch.cat([p.flatten() for p in model.dlm.flow.parameters()])
    torch.manual_seed(tiny_config.seed)  # as train() does before it builds the model
    fresh = torch.cat([p.flatten() for p in resolve_model(cfg).build().dlm.flow.parameters()])
    assert torch.equal(flows[0.0], fresh)  # λ = 0: the DLM is not trained
    assert not torch.equal(flows[1.0], fresh)  # λ > 0: L_dlm's gradient reaches the flow


def test_lr_schedule_and_epoch_sampler():
    sadinet = ((170, 200), 0.1)  # SADI-Net's drops
    assert [lr_factor(e, *sadinet) for e in (0, 169, 170, 199, 200, 209)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert lr_factor(5, (), 0.1) == 1 and lr_factor(0, (0,), 0.5) == 0.5
    full = EpochSampler(20, seed=1, epoch=3).indices
    assert sorted(full) == list(range(20)) and full == EpochSampler(20, seed=1, epoch=3).indices
    assert full != EpochSampler(20, seed=1, epoch=4).indices
    assert EpochSampler(20, seed=1, epoch=3, start=5).indices == full[5:]  # resuming mid-epoch
    ranks = [EpochSampler(20, 1, 3, rank=r, world_size=2).indices for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == list(range(20))


def test_a_tiny_model_overfits_a_fixed_batch(tiny_config):
    torch.manual_seed(0)
    model = resolve_model(override(tiny_config, channels=64)).build()
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


def test_warm_up_then_cosine_or_step_schedule():
    assert cosine_factor(0, 100) == 1 and cosine_factor(50, 100) == pytest.approx(0.5)
    assert cosine_factor(100, 100) == 0 and cosine_factor(150, 100) == 0  # stays at 0 past its length
    assert cosine_factor(25, 100) == pytest.approx((1 + 2 ** -0.5) / 2)
    cosine = TrainConfig(lr_schedule="cosine", epochs=4, warmup_epochs=1)  # 10 steps per epoch below: 10 warm-up
    factors = [lr_at_step(s, 10, cosine) for s in range(40)]
    assert factors[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])  # linear, reaching lr at its last step
    assert factors[10] == 1 and factors[25] == pytest.approx(0.5) and lr_at_step(40, 10, cosine) == 0
    assert all(a > b for a, b in zip(factors[10:], factors[11:]))  # then strictly decreasing
    step = TrainConfig(lr_schedule="step", epochs=4, lr_milestones=(2, 3), lr_gamma=0.1, warmup_epochs=0.5)
    assert [lr_at_step(s, 10, step) for s in (0, 4, 5, 19, 20, 29, 30, 39)] == pytest.approx(
        [0.2, 1, 1, 1, 0.1, 0.1, 0.01, 0.01])
    assert [lr_at_step(s, 10, TrainConfig(epochs=4, lr_milestones=(2,))) for s in (0, 19, 20)] == [1, 1, 0.1]
    with pytest.raises(ConfigError, match="lr_schedule"):
        TrainConfig(lr_schedule="linear")
    with pytest.raises(ConfigError, match="warmup_epochs"):
        TrainConfig(epochs=3, warmup_epochs=4)


def test_the_run_applies_the_schedule_step_by_step(tiny_config):
    cfg = override(tiny_config, lr_schedule="cosine", warmup_epochs=0.5, epochs=3)  # 8 steps per epoch
    *_, steps_per_epoch, max_steps, optimizer, scheduler = build_run(cfg, torch.device("cpu"), 1)
    seen = []
    for _ in range(max_steps):
        seen.append(optimizer.param_groups[0]["lr"])  # the rate the coming optimizer step uses
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([cfg.lr * lr_at_step(s, steps_per_epoch, cfg) for s in range(max_steps)])
    assert seen[3] == cfg.lr and seen[-1] < cfg.lr / 50


def test_fused_adam_makes_the_plain_adam_update():
    torch.manual_seed(0)
    weights = [torch.randn(64, 32, requires_grad=True), torch.randn(7, requires_grad=True)]
    copies = [w.detach().clone().requires_grad_() for w in weights]
    start = weights[0].detach().clone()
    fused = make_optimizer("adam", weights, lr=1e-2, weight_decay=1e-4)
    plain = torch.optim.Adam(copies, lr=1e-2, weight_decay=1e-4, foreach=False)
    assert fused.defaults["fused"]
    for _ in range(5):
        for params, optimizer in ((weights, fused), (copies, plain)):
            optimizer.zero_grad()
            (params[0].sin().sum() + params[1].square().sum()).backward()
            optimizer.step()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(weights, copies))
    assert (weights[0] - start).abs().median() > 0.04  # Adam moves a weight about lr per step: 5 × 1e-2
    assert make_optimizer("rmsprop", [torch.zeros(3, requires_grad=True)], lr=1e-3).defaults["foreach"]


@pytest.mark.slow
@pytest.mark.parametrize("schedule", [{"lr_schedule": "step"}, {"lr_schedule": "cosine", "warmup_epochs": 0.5}])
def test_resumed_training_equals_uninterrupted_training_bit_for_bit(tmp_path, tiny_config, schedule):
    tiny_config = override(tiny_config, **schedule)
    whole = override(tiny_config, out_dir=str(tmp_path / "whole"))
    train(whole)
    part = override(tiny_config, out_dir=str(tmp_path / "part"), max_steps=5)  # stops mid-epoch
    train(part)
    assert load_checkpoint(tmp_path / "part" / "last.pt")["step"] == 5
    train(override(tiny_config, out_dir=str(tmp_path / "part"), resume="last"))
    a, b = (load_checkpoint(tmp_path / name / "last.pt") for name in ("whole", "part"))
    assert a["step"] == b["step"] == 16
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    resumed = {r["step"]: r["lr"] for r in b["log"]}  # steps 5 (where the first part stopped), 8 and 16
    assert {r["step"]: r["lr"] for r in a["log"]} == {step: resumed[step] for step in (8, 16)}
    elapsed = [r["elapsed_s"] for r in b["log"]]  # the wall time goes on across the resume
    assert 0 < elapsed[0] < elapsed[1] < elapsed[2]


@pytest.mark.slow
def test_a_kill_between_last_pt_and_the_log_at_the_end_is_mended_by_the_resume(tmp_path, tiny_config):
    cfg = override(tiny_config, out_dir=str(tmp_path))
    train(cfg)
    log = tmp_path / "log.csv"
    whole = log.read_text()
    lines = whole.splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))  # as a kill after last.pt's rename, before log.csv's, leaves it
    (tmp_path / "metrics.json").unlink()
    train(override(cfg, resume="last"))  # step == max_steps: no epoch runs, yet the log is made whole
    assert log.read_text() == whole and (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_a_cosine_run_cannot_resume_with_other_epochs(tmp_path, tiny_config):
    cfg = override(tiny_config, out_dir=str(tmp_path), lr_schedule="cosine", max_steps=4)
    train(cfg)
    with pytest.raises(ConfigError, match="epochs: 2 → 3"):
        train(override(cfg, epochs=3, max_steps=None, resume="last"))


@pytest.mark.slow
def test_outputs_of_a_run(tmp_path, tiny_config):
    cfg = override(tiny_config, out_dir=str(tmp_path), num_stacks=2)
    metrics = train(cfg)
    for name in ("last.pt", "best.pt", "log.csv", "metrics.json", "curves.png", "predictions.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert set(metrics["table"]) == {"Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean"}
    assert metrics["steps"] == 16 and metrics["mean"] == metrics["table"]["Mean"] and metrics["name"] == "PCKh@0.5"
    model, stored = load_model(tmp_path / "last.pt")
    assert stored == cfg and not model.training
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert len(rows) == 2  # two epochs
    for row in rows:  # the loss is the mean over the stacks, each stack logged on its own
        stacks = float(row["loss_stack1"]), float(row["loss_stack2"])
        assert float(row["loss"]) == pytest.approx(sum(stacks) / 2, rel=1e-5) and stacks[0] != stacks[1]
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary files


@pytest.mark.slow
def test_the_host_reads_the_loss_every_log_every_steps_and_at_epoch_ends(tmp_path, tiny_config, monkeypatch):
    checked = []
    real = train_module.stop_if_not_finite
    monkeypatch.setattr(train_module, "stop_if_not_finite", lambda loss, step, *a: (checked.append(step), real(loss, step, *a)))
    train(override(tiny_config, out_dir=str(tmp_path), log_every=3))  # 8 steps per epoch, 2 epochs
    assert checked == [3, 6, 8, 9, 12, 15, 16]


@pytest.mark.slow
def test_an_exported_model_is_smaller_loads_alike_and_cannot_be_resumed(tmp_path, capsys, tiny_config):
    train(override(tiny_config, out_dir=str(tmp_path), epochs=1))
    (tmp_path / "shared").mkdir()
    assert main(["export", str(tmp_path / "last.pt"), str(tmp_path / "shared" / "model.pt")]) == 0
    assert "no optimizer state" in capsys.readouterr().out
    exported = tmp_path / "shared" / "model.pt"
    assert "optimizer" not in load_checkpoint(exported)
    assert exported.stat().st_size < (tmp_path / "last.pt").stat().st_size / 2
    (full, cfg_full), (light, cfg_light) = load_model(tmp_path / "last.pt"), load_model(exported)
    images = torch.randn(2, 3, 32, 32)
    assert cfg_full == cfg_light and torch.equal(full(images), light(images))
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        train(override(tiny_config, out_dir=str(tmp_path / "again"), resume=str(exported)))


@pytest.mark.slow
def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, tiny_config):
    real_loss = train_module.stacked_heatmap_loss
    calls = {"n": 0}

    def loss_that_explodes(*args):
        calls["n"] += 1
        loss, per_stack = real_loss(*args)
        return (loss * float("nan") if calls["n"] == 11 else loss), per_stack

    monkeypatch.setattr(train_module, "stacked_heatmap_loss", loss_that_explodes)
    # Step 11 goes wrong; with log_every 50 the host first looks at the end of epoch 2 (step 16).
    with pytest.raises(TrainingError, match="nan by step 16.*the last good checkpoint is .*last.pt"):
        train(override(tiny_config, out_dir=str(tmp_path)))
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 8  # the end of epoch 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


@pytest.mark.slow
def test_corrupt_and_truncated_checkpoints_get_a_clear_error(tmp_path, tiny_config):
    train(override(tiny_config, out_dir=str(tmp_path), max_steps=2))
    good = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(good[: len(good) // 2])
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    for name in ("truncated.pt", "garbage.pt"):
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(tmp_path / name)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "other.pt")
    state = load_checkpoint(tmp_path / "last.pt")
    state["model_config"] = {**state["model_config"], "channels": 32}  # weights of another width
    torch.save(state, tmp_path / "other_width.pt")
    with pytest.raises(CheckpointError, match="do not fit its own model config"):
        load_model(tmp_path / "other_width.pt")


@pytest.mark.slow
def test_a_checkpoint_loads_and_evaluates_after_its_preset_is_renamed(tmp_path, monkeypatch, capsys, tiny_config):
    """load_model builds from the stored ModelConfig, never from today's PRESETS."""
    cfg = override(tiny_config, model="newell-hg1", out_dir=str(tmp_path), max_steps=2)
    train(cfg)
    monkeypatch.setitem(PRESETS, "newell-hg1-renamed", PRESETS["newell-hg1"])
    monkeypatch.delitem(PRESETS, "newell-hg1")
    model, stored = load_model(tmp_path / "last.pt")
    assert stored.model == "newell-hg1" and count_parameters(model) > 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "last.pt"), "--device", "cpu"]) == 0
    assert "PCKh@0.5" in capsys.readouterr().out
    with pytest.raises(Exception, match="unknown model 'newell-hg1'"):  # training it again would need the preset
        resolve_model(stored)


def test_the_model_follows_the_dataset_and_a_paper_preset_trains_at_the_paper_width():
    assert resolve_model(TrainConfig(dataset="flic")).num_joints == 11
    assert resolve_model(TrainConfig(dataset="lsp")).num_joints == 14
    assert resolve_model(TrainConfig()) == PRESETS["course-hg1"]
    assert resolve_model(TrainConfig(model="newell-hg8")) == PRESETS["newell-hg8"]  # 256 channels, not 64
    assert resolve_model(TrainConfig(model="newell-hg8", channels=64)).channels == 64


@pytest.mark.slow
def test_training_newell_hg8_from_the_command_line_builds_the_papers_network(tmp_path, capsys):
    assert main(["train", "--model=newell-hg8", "--max_steps=1", "--batch_size=2", "--synth_images=2",
                 "--val_images=2", "--progress=false", "--flip_test=false", "--device=cpu",
                 f"--out_dir={tmp_path}"]) == 0
    assert "25,434,112 parameters" in capsys.readouterr().out  # Newell et al.'s 8 stacks at 256 channels
    model, _ = load_model(tmp_path / "last.pt")
    assert count_parameters(model) == 25_434_112


def test_config_files_hold_only_trainconfig_fields():
    from hglearn.cli import train_config_from_args

    for path in sorted((ROOT / "configs").glob("*.toml")):
        cfg = train_config_from_args([str(path), "--epochs=1"])
        assert cfg.epochs == 1 and cfg.channels is None  # every recipe trains its preset's own width
    assert train_config_from_args([str(ROOT / "configs" / "synth-cpu.toml")]) == TrainConfig()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_torchrun_on_cpu_writes_one_checkpoint(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
               "-m", "hglearn.cli", "train", f"--out_dir={tmp_path}", "--channels=16", "--depth=2", "--input_res=32",
               "--synth_images=128", "--val_images=16", "--batch_size=8", "--epochs=1", "--progress=false",
               "--flip_test=false", "--device=cpu"]
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["best.pt", "last.pt"]
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 128 // (8 * 2)  # each process took half


@pytest.mark.slow
def test_eval_command_scores_a_checkpoint_and_saves_mpii_predictions(tmp_path, capsys, tiny_config):
    train(override(tiny_config, out_dir=str(tmp_path), max_steps=2))
    capsys.readouterr()
    mat = tmp_path / "pred.mat"
    assert main(["eval", str(tmp_path / "last.pt"), "--flip", "--scales", "0.9,1", "--synth-difficulty", "plain",
                 "--save-mat", str(mat), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.count("PCKh@0.5") == 1 and "Shoulder" in out  # the table, printed once
    assert f"on {tiny_config.val_images} people of plain SynthPose" in out and "flip test on, scales 0.9, 1.0" in out
    import scipy.io

    assert scipy.io.loadmat(mat)["preds"].shape == (tiny_config.val_images, 16, 2)
    assert main(["eval", str(tmp_path / "missing.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path / "last.pt"), "--scales", "0.9,"])
    assert "--scales" in capsys.readouterr().err


def test_the_shipped_checkpoint_is_the_default_run_exported():
    """data/checkpoints/synthpose-newell-hg1.pt is what data/README.md says: `hglearn train` with
    every default, then `hglearn export` (no optimizer state). Only what shaped the weights is
    compared: fields that do not (out_dir, progress, eval_every, ...) may change their defaults."""
    path = ROOT / "data" / "checkpoints" / "synthpose-newell-hg1.pt"
    state = load_checkpoint(path)
    assert "optimizer" not in state and state["step"] == 6656
    model, stored = load_model(path)
    default = TrainConfig()
    assert state["model_config"] == resolve_model(default).__dict__ and count_parameters(model) == 221_488
    shaping = ("dataset", "synth_difficulty", "synth_images", "input_res", "sigma", "augment", "epochs", "max_steps",
               "batch_size", "optimizer", "lr", "lr_milestones", "lr_gamma", "weight_decay", "seed",
               "intermediate_supervision")
    assert {k: getattr(stored, k) for k in shaping} == {k: getattr(default, k) for k in shaping}


def signal_at_step(monkeypatch, number: int, at: int) -> None:
    """Make the process send itself `number` during training step `at` (1-based), as Ctrl-C would."""
    import os

    real, calls = train_module.train_step, {"n": 0}

    def step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == at:
            os.kill(os.getpid(), number)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", step)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_after_the_step_saves_it_and_the_run_resumes_bit_for_bit(tmp_path, monkeypatch, capsys,
                                                                                  tiny_config, name):
    import signal as signals

    number = getattr(signals, name)
    whole = override(tiny_config, out_dir=str(tmp_path / "whole"))
    train(whole)
    signal_at_step(monkeypatch, number, at=5)  # mid-epoch: an epoch has 8 steps
    words = ["--channels=16", "--depth=2", "--input_res=32", "--synth_images=128", "--val_images=16",
             "--batch_size=16", "--epochs=2", "--lr_milestones=1", "--eval_every=1", "--flip_test=false",
             "--progress=false", "--device=cpu", f"--out_dir={tmp_path / 'part'}"]
    before = signals.getsignal(number)
    assert main(["train", *words]) == 128 + number  # the shell's convention for a signal
    err = capsys.readouterr().err
    assert f"stopped at step 5 of 16 by {name}" in err and err.count("\n") == 1  # one line, no traceback
    assert f"continue it with: hglearn train {' '.join(words)} --resume=last" in err
    assert signals.getsignal(number) == before  # the run put the handlers back
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "part" / "last.pt")["step"] == 5
    train(override(whole, out_dir=str(tmp_path / "part"), resume="last"))
    a, b = (load_checkpoint(tmp_path / run / "last.pt") for run in ("whole", "part"))
    assert a["step"] == b["step"] == 16 and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


@pytest.mark.slow
def test_drawing_the_image_pool_first_changes_nothing_that_is_trained(tmp_path, monkeypatch, tiny_config):
    train(override(tiny_config, out_dir=str(tmp_path / "drawn"), epochs=1))
    monkeypatch.setattr(train_module, "draw_pool", lambda *args, **kwargs: None)
    train(override(tiny_config, out_dir=str(tmp_path / "lazy"), epochs=1))
    a, b = (load_checkpoint(tmp_path / run / "last.pt")["model"] for run in ("drawn", "lazy"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def _no_drawing(index, record):
    raise AssertionError(f"image {index} drawn again in a worker")


@pytest.mark.skipif(sys.platform == "win32", reason="fork start method")
def test_workers_forked_after_the_pool_is_drawn_share_it_and_draw_nothing():
    from hglearn.data.splits import draw_pool

    dataset = make_dataset("synth", "train", input_res=32, synth_images=8)
    draw_pool(dataset, progress=False)
    dataset.read_image.read_image = _no_drawing  # a worker that missed the cache would fail
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2, multiprocessing_context="fork")
    assert [batch["image"].shape[0] for batch in loader] == [4, 4]


@pytest.mark.slow
def test_a_run_with_workers_draws_its_pools_first(tmp_path, monkeypatch, tiny_config):
    drawn, real = [], train_module.draw_pool
    monkeypatch.setattr(train_module, "draw_pool", lambda dataset, **kw: (drawn.append(len(dataset)), real(dataset, **kw)))
    train(override(tiny_config, out_dir=str(tmp_path), epochs=1, num_workers=2))
    assert drawn == [tiny_config.synth_images, tiny_config.val_images]


def test_draw_pool_reads_every_synthpose_image_once():
    from hglearn.data.splits import draw_pool

    dataset = make_dataset("synth", "val", input_res=32, synth_images=5)
    draw_pool(dataset, progress=False)
    assert sorted(dataset.read_image.images) == list(range(5))
