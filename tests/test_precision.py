"""The precision policy (hglearn.precision), the step loop's host syncs, the run's one DataLoader,
and torch.compile: everything of the GPU path that a CPU can check."""
import shutil
from types import SimpleNamespace

import pytest
import torch

import hglearn.train as train_module
from hglearn.checkpoints import load_checkpoint
from hglearn.config import TrainConfig, override
from hglearn.errors import ConfigError
from hglearn.models import PRESETS
from hglearn.precision import AMP_CHOICES, autocast_and_scaler, choose_precision
from hglearn.train import EpochSampler, RunBatches, data_workers, train, train_step, training_loss


@pytest.mark.parametrize("capability, dtype, scaler", [
    ((7, 0), torch.float16, True),   # V100
    ((7, 5), torch.float16, True),   # T4 (Colab)
    ((8, 0), torch.bfloat16, False),  # A100
    ((8, 6), torch.bfloat16, False),  # RTX 30xx, A10
    ((9, 0), torch.bfloat16, False),  # H100, H200
])
def test_auto_picks_bfloat16_from_compute_capability_8_and_float16_with_a_scaler_before(capability, dtype, scaler):
    chosen = choose_precision("auto", "cuda", capability)
    assert (chosen.dtype, chosen.scaler) == (dtype, scaler)
    assert f"{capability[0]}.{capability[1]}" in chosen.reason  # the reason names the GPU's generation


def test_auto_stays_in_float32_on_a_cpu_and_an_explicit_choice_is_kept():
    assert choose_precision("auto", "cpu") == (None, False, choose_precision("auto", "cpu").reason)
    assert choose_precision("auto", "mps").dtype is None
    assert choose_precision("off", "cuda", (9, 0)).dtype is None
    assert choose_precision("bf16", "cpu")[:2] == (torch.bfloat16, False)
    assert choose_precision("fp16", "cpu")[:2] == (torch.float16, True)
    assert choose_precision("fp16", "cuda", (9, 0))[:2] == (torch.float16, True)  # asked: kept, with its scaler
    slow = choose_precision("bf16", "cuda", (7, 5))
    assert slow.dtype == torch.bfloat16 and "no bfloat16 tensor cores" in slow.reason
    with pytest.raises(ConfigError, match="amp must be one of auto, bf16, fp16, off"):
        choose_precision("fp32", "cpu")


def test_amp_is_a_checked_choice_and_old_checkpoints_booleans_still_load():
    assert TrainConfig().amp == "auto" and set(AMP_CHOICES) == {"auto", "bf16", "fp16", "off"}
    with pytest.raises(ConfigError, match="TrainConfig.amp must be auto, bf16, fp16 or off"):
        TrainConfig(amp="float16")
    assert TrainConfig(amp=True).amp == "auto" and TrainConfig(amp=False).amp == "off"  # as stored before


def tiny_step_parts(amp: str):
    torch.manual_seed(0)
    model = override(PRESETS["course-hg1"], channels=8, depth=1).build()
    optimizer = train_module.make_optimizer("adam", model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    autocast, scaler = autocast_and_scaler(choose_precision(amp, "cpu"), torch.device("cpu"))
    batch = {"image": torch.rand(2, 3, 32, 32), "heatmaps": torch.rand(2, 16, 8, 8), "target_weight": torch.ones(2, 16)}
    return model, optimizer, scheduler, autocast, scaler, batch


@pytest.mark.parametrize("amp, dtype", [("off", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_the_step_runs_the_network_in_the_chosen_format_and_the_loss_in_float32(amp, dtype):
    model, optimizer, scheduler, autocast, scaler, batch = tiny_step_parts(amp)
    seen = []
    model.stem[0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    before = [p.detach().clone() for p in model.parameters()]
    loss, per_stack = train_step(model, batch, optimizer, scheduler, autocast, scaler, training_loss, torch.device("cpu"))
    assert seen == [dtype] and loss.dtype == per_stack.dtype == torch.float32 and torch.isfinite(loss)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()) if b.grad is not None)
    assert scaler.is_enabled() == (amp == "fp16")


def test_float16_with_a_scaler_skips_a_step_whose_gradients_overflow_and_halves_the_scale():
    model, optimizer, scheduler, autocast, scaler, batch = tiny_step_parts("fp16")
    train_step(model, batch, optimizer, scheduler, autocast, scaler, training_loss, torch.device("cpu"))
    scale = scaler.get_scale()
    before = {k: v.clone() for k, v in model.state_dict().items() if k.endswith("weight")}
    train_step(model, batch, optimizer, scheduler, autocast, scaler,
               lambda h, t, w: (training_loss(h, t, w)[0] * float("inf"), torch.zeros(1)), torch.device("cpu"))
    assert scaler.get_scale() == scale / 2  # the overflow halves S ...
    assert all(torch.equal(before[k], model.state_dict()[k]) for k in before)  # ... and the step is skipped


def test_data_workers_default_to_none_on_a_cpu_and_to_the_cores_beside_a_gpu(monkeypatch):
    assert data_workers(None, torch.device("cpu")) == 0
    assert data_workers(3, torch.device("cpu")) == 3
    monkeypatch.setattr(train_module.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert data_workers(None, torch.device("cuda")) == 8
    monkeypatch.setattr(train_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert data_workers(None, torch.device("cuda")) == 2 and data_workers(0, torch.device("cuda")) == 0


@pytest.mark.parametrize("step, max_steps, rank, world_size", [(0, 9, 0, 1), (4, 9, 0, 1), (3, 7, 1, 2), (6, 6, 0, 1)])
def test_the_runs_batches_are_each_epochs_batches_in_order_from_any_step(step, max_steps, rank, world_size):
    size, batch, per_epoch, seed = 23, 4, 23 // (4 * world_size), 5
    expected = []
    for s in range(step, max_steps):  # what one loader per epoch (drop_last) read before
        epoch, k = divmod(s, per_epoch)
        order = EpochSampler(size, seed, epoch, 0, rank, world_size).indices
        expected.append([(epoch, i) for i in order[k * batch:(k + 1) * batch]])
    batches = RunBatches(size, batch, per_epoch, seed, step, max_steps, rank, world_size)
    assert list(batches) == expected and len(batches) == max_steps - step
    assert all(len(b) == batch for b in expected)


def test_an_item_with_its_epoch_is_that_epochs_augmentation(tiny_config):
    from hglearn.data.splits import make_datasets

    dataset, _ = make_datasets(override(tiny_config, synth_images=16))
    dataset.set_epoch(3)
    third = dataset[5]["image"]
    dataset.set_epoch(0)
    assert torch.equal(dataset[(3, 5)]["image"], third) and not torch.equal(dataset[5]["image"], third)


HOST_READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


def test_the_loop_reads_the_device_only_every_log_every_steps_and_at_epoch_ends(tmp_path, monkeypatch, tiny_config):
    """Every way a tensor reaches the host, counted by step: between log steps, none."""
    cfg = override(tiny_config, out_dir=str(tmp_path), log_every=3, epochs=2)  # 8 steps per epoch
    step, reads, real_step = {"now": 0}, [], train_module.train_step

    def counting_step(*args, **kwargs):
        step["now"] += 1
        return real_step(*args, **kwargs)

    def counted(name, original):
        def read(self, *args, **kwargs):
            if step["now"] > 0:
                reads.append((step["now"], name))
            return original(self, *args, **kwargs)
        return read

    for name in HOST_READS:
        monkeypatch.setattr(torch.Tensor, name, counted(name, getattr(torch.Tensor, name)))
    monkeypatch.setattr(train_module, "train_step", counting_step)
    scored = SimpleNamespace(metric=SimpleNamespace(mean=0.0))  # scoring reads the host by design: not counted
    monkeypatch.setattr(train_module, "evaluate", lambda *a, **k: scored)
    monkeypatch.setattr(train_module, "write_outputs", lambda *a, **k: {})
    train(override(cfg, eval_every=100))
    assert step["now"] == 16 and reads  # the counting works: the log steps do read
    allowed = {s for s in range(1, 17) if s % 3 == 0 or s % 8 == 0}
    assert {s for s, _ in reads} <= allowed, sorted({s for s, _ in reads} - allowed)


@pytest.mark.slow
@pytest.mark.parametrize("changes", [{"num_workers": 2}, {"amp": "fp16"}, {"amp": "bf16"}])
def test_resume_is_bit_exact_with_workers_and_under_autocast(tmp_path, tiny_config, changes, capsys):
    """The run's one DataLoader with 2 worker processes, and the float16 scaler's state, resume exactly."""
    cfg = override(tiny_config, **changes)
    train(override(cfg, out_dir=str(tmp_path / "whole")))
    train(override(cfg, out_dir=str(tmp_path / "part"), max_steps=5))
    train(override(cfg, out_dir=str(tmp_path / "part"), resume="last"))
    a, b = (load_checkpoint(tmp_path / name / "last.pt") for name in ("whole", "part"))
    assert a["step"] == b["step"] == 16
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    chosen = choose_precision(cfg.amp, "cpu")
    assert b["precision"] == chosen.as_dict() and f"precision: {chosen.reason}" in capsys.readouterr().out
    if cfg.amp == "fp16":
        assert b["scaler"] == a["scaler"] and b["scaler"]["scale"] > 0
    else:
        assert b["scaler"] is None
    if "num_workers" not in changes:  # autocast really ran: not the float32 run's weights
        plain = tmp_path / "plain"
        train(override(tiny_config, out_dir=str(plain)))
        ref = load_checkpoint(plain / "last.pt")["model"]
        assert any(not torch.equal(ref[k], a["model"][k]) for k in ref)


def has_c_compiler() -> bool:
    return any(shutil.which(name) for name in ("cc", "gcc", "clang"))


@pytest.mark.slow
@pytest.mark.skipif(not has_c_compiler(), reason="torch.compile's CPU backend (Inductor) needs a C++ compiler")
def test_compile_builds_the_network_once_and_trains_like_eager(tmp_path, tiny_config, monkeypatch):
    cfg = override(tiny_config, depth=1, channels=8, max_steps=3, val_images=8)
    calls, real_compile = [], torch.compile
    monkeypatch.setattr(train_module.torch, "compile", lambda net, **kw: calls.append(net) or real_compile(net, **kw))
    train(override(cfg, out_dir=str(tmp_path / "compiled"), compile=True))
    monkeypatch.undo()
    train(override(cfg, out_dir=str(tmp_path / "eager")))
    runs = {name: load_checkpoint(tmp_path / name / "last.pt") for name in ("compiled", "eager")}
    compiled, eager = runs["compiled"]["model"], runs["eager"]["model"]
    assert len(calls) == 1  # once for the run, not per epoch or step
    torch.manual_seed(cfg.seed)
    fresh = train_module.resolve_model(cfg).build().state_dict()
    assert any(not torch.equal(fresh[k], compiled[k]) for k in fresh)  # it trained
    assert runs["compiled"]["log"][-1]["loss"] == pytest.approx(runs["eager"]["log"][-1]["loss"], rel=1e-4)
    # Weights alike, biases aside: a convolution's bias before a BatchNorm gets a gradient of rounding
    # noise only (the normalisation removes it), which Adam turns into steps of ±lr either way.
    weights = [k for k in compiled if k.endswith("weight")]
    assert all(torch.allclose(compiled[k], eager[k], atol=1e-3) for k in weights)

