"""Hostile input to training, resuming and the command line: every case of the reliability review
(categories cli/train, cli/eval, checkpoint, checkpoint/resume, nonfinite, concurrency) gets one line
naming the field, file or option, and no checkpoint is lost or holds NaN weights."""
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import hglearn.train as train_module
from hglearn.checkpoints import load_checkpoint, save_checkpoint
from hglearn.cli import main, user_message
from hglearn.config import TrainConfig, override
from hglearn.errors import CheckpointError, ConfigError, TrainingError
from hglearn.train import pick_device, train


@pytest.mark.parametrize("field, value, accepted", [
    ("epochs", 0, "at least 1"), ("epochs", -1, "at least 1"), ("max_steps", -5, "at least 1, or none"),
    ("batch_size", 0, "at least 1"), ("batch_size", -1, "at least 1"), ("val_images", 0, "at least 1"),
    ("synth_images", 0, "at least 1"), ("seed", -1, "0 or more"), ("input_res", 0, "at least 32"),
    ("input_res", -64, "at least 32"), ("sigma", 0.0, "positive"), ("sigma", -1.0, "positive"),
    ("sigma", float("nan"), "positive"), ("lr", 0.0, "positive"), ("lr_gamma", -0.1, "positive"),
    ("weight_decay", -1e-4, "0 or more"), ("num_workers", -1, "0 or more"), ("eval_every", 0, "at least 1"),
    ("log_every", 0, "at least 1"), ("eval_batch_size", 0, "at least 1"), ("lr_milestones", (-1,), "0 or more"),
    ("dlm_weight", -0.1, "0 or more"), ("device", "tpu", "auto, cpu, cuda"), ("dataset", "coco", "one of synth"),
    ("optimizer", "sgd", "'adam' or 'rmsprop'"), ("synth_images", 8, "at least batch_size"),
    ("lr_schedule", "onecycle", "'step' or 'cosine'"), ("warmup_epochs", -1.0, "between 0 and epochs"),
    ("warmup_epochs", float("nan"), "between 0 and epochs"), ("warmup_epochs", 60.0, "between 0 and epochs"),
])
def test_every_field_is_range_checked_and_named(field, value, accepted):
    with pytest.raises(ConfigError, match=f"TrainConfig.{field} must be .*{accepted}"):
        TrainConfig(**{field: value})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_a_missing_cuda_or_unknown_device_is_one_line_before_any_work(capsys, tmp_path):
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        pick_device("cuda:0")
    assert main(["train", "--device=cuda", f"--out_dir={tmp_path / 'run'}"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err and not (tmp_path / "run").exists()
    assert main(["train", "--device=tpu"]) == 2
    assert "TrainConfig.device must be" in capsys.readouterr().err


def test_an_unwritable_out_dir_and_a_non_utf8_config_are_one_line(tmp_path, capsys):
    assert main(["train", "--out_dir=/dev/null/run"]) == 2
    assert "/dev/null/run" in capsys.readouterr().err
    (tmp_path / "latin1.toml").write_bytes(b"lr = 1e-3 # caf\xe9\n")
    assert main(["train", str(tmp_path / "latin1.toml")]) == 2
    assert "latin1.toml is not a text file" in capsys.readouterr().err


def test_profile_refuses_zero_repeats():
    with pytest.raises(SystemExit):
        main(["profile", "newell-hg1", "--repeats=0"])


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_garbage_files_are_checkpoint_errors_naming_the_file(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for n in range(60):  # random bytes; some start like a zip or a pickle
        head = [b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x05"][n % 4]
        path = tmp_path / f"random{n}.pt"
        path.write_bytes(head + rng.bytes(int(rng.integers(1, 400))))
        paths.append(path)
    (tmp_path / "hello.pt").write_text("hello")
    paths.append(tmp_path / "hello.pt")
    for path in paths:
        with pytest.raises(CheckpointError, match=path.name):
            load_checkpoint(path)


def test_a_failed_checkpoint_write_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"step": 1})

    def full_disk(state, f, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:747] . open file failed")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointError, match="cannot write .*last.pt"):
        save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left


def test_a_worker_error_is_shown_as_the_original_one():
    wrapped = ValueError("Caught DatasetError in DataLoader worker process 0.\nOriginal Traceback (most recent call "
                         "last):\n  File \"x.py\", line 1\nDatasetError: file a.png, record 5, field 'image': image "
                         "file not found\n")
    assert user_message(wrapped) == "DatasetError: file a.png, record 5, field 'image': image file not found"
    assert user_message(ConfigError("plain")) == "plain"


@pytest.mark.slow
def test_resume_refuses_changed_training_fields_and_lists_the_allowed_ones(tmp_path, tiny_config, capsys):
    cfg = override(tiny_config, out_dir=str(tmp_path), epochs=1)
    train(cfg)
    for change, named in ((dict(lr=1e-5), "lr: 0.0025 → 1e-05"), (dict(batch_size=4), "batch_size"),
                          (dict(seed=5), "seed"), (dict(optimizer="rmsprop"), "optimizer"),
                          (dict(channels=32), "model")):
        with pytest.raises(ConfigError, match=f"other values of .*{named.split(':')[0]}") as caught:
            train(override(cfg, resume="last", **change))
        assert named in str(caught.value)
    capsys.readouterr()
    train(override(cfg, resume="last", epochs=2, eval_every=2))  # how long and how often may change
    assert "resuming at step 8 with epochs 1 → 2, eval_every 1 → 2" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 16
    state = load_checkpoint(tmp_path / "last.pt")
    del state["scheduler"]
    torch.save(state, tmp_path / "no-scheduler.pt")
    with pytest.raises(CheckpointError, match="no-scheduler.pt cannot be resumed: missing scheduler"):
        train(override(cfg, epochs=3, resume=str(tmp_path / "no-scheduler.pt")))


@pytest.mark.slow
def test_non_finite_weights_after_a_finite_loss_never_reach_a_checkpoint(tmp_path, tiny_config, monkeypatch):
    real, calls = train_module.train_step, {"n": 0}

    def poisoning_step(net, *args, **kwargs):  # the last step of epoch 2 leaves NaN weights, its loss finite
        out = real(net, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 16:
            with torch.no_grad():
                next(net.parameters()).fill_(float("nan"))
        return out

    monkeypatch.setattr(train_module, "train_step", poisoning_step)
    cfg = override(tiny_config, out_dir=str(tmp_path), epochs=3)
    with pytest.raises(TrainingError, match=r"the weights are not finite by step 16.*last.pt \(step 8\)"):
        train(cfg)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 8 and all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    monkeypatch.undo()
    train(override(cfg, resume="last"))  # the named checkpoint resumes to the end
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 24


@pytest.mark.slow
def test_a_huge_learning_rate_stops_with_a_finite_checkpoint(tmp_path, tiny_config):
    cfg = override(tiny_config, out_dir=str(tmp_path), epochs=4, lr_milestones=(1,), lr_gamma=1e9)  # epoch 2: lr 2.5e6
    with pytest.raises(TrainingError, match=r"last good checkpoint is .*last.pt \(step 8\)"):
        train(cfg)
    state = load_checkpoint(tmp_path / "last.pt")
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from hglearn.train import run_lock
    with run_lock(Path(sys.argv[1]), True):
        print("locked", flush=True)
        time.sleep(120)
""")


@pytest.mark.slow
def test_one_run_per_out_dir_and_a_crashed_run_leaves_no_stale_lock(tmp_path, tiny_config):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(TrainingError, match=f"{tmp_path} is in use by process {holder.pid}"):
            train(override(tiny_config, out_dir=str(tmp_path), max_steps=1))
        assert not (tmp_path / "last.pt").exists()
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: the lock file stays behind, its lock does not
        holder.wait()
    assert (tmp_path / ".lock").exists()
    train(override(tiny_config, out_dir=str(tmp_path), max_steps=1))
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 1


@pytest.mark.slow
def test_a_missing_image_read_by_a_dataloader_worker_is_one_line(tmp_path, capsys):
    from hglearn.data.records import save_prepared
    from hglearn.data.synth import SynthConfig, SynthPose, export

    root = tmp_path / "mpii"
    synth = SynthPose(SynthConfig(image_size=64, difficulty="plain"), length=16)
    export(synth, root, "train", progress=False)  # root/images/*.png
    for split in ("train", "val"):
        save_prepared(synth.records(), root / "annotations" / f"{split}.json")
    missing = root / synth.records()[5].image
    missing.unlink()
    assert main(["train", "--dataset=mpii", f"--data_root={root}", "--num_workers=1", "--batch_size=16",
                 "--channels=16", "--depth=2", "--input_res=32", "--epochs=1", "--progress=false", "--device=cpu",
                 f"--out_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{missing}" in err and "record 5" in err and "image file not found" in err


@pytest.mark.slow
def test_eval_refuses_a_dataset_of_other_joints_before_predicting(tmp_path, tiny_config, capsys):
    train(override(tiny_config, out_dir=str(tmp_path), max_steps=1))
    assert main(["eval", str(tmp_path / "last.pt"), "--dataset=lsp", "--data-root", str(tmp_path)]) == 2
    assert "predicts the 16 joints of synth, lsp has 14" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "last.pt"), "--split=nope"]) == 2
    assert "has no split 'nope'" in capsys.readouterr().err


def test_save_mat_to_a_folder_is_refused_before_anything_runs(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing.pt"), "--save-mat", str(tmp_path)]) == 2
    assert "--save-mat" in capsys.readouterr().err  # not "checkpoint not found": checked first


@pytest.mark.slow
def test_a_run_clears_the_temporary_files_of_killed_writers(tmp_path, tiny_config):
    (tmp_path / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    train(override(tiny_config, out_dir=str(tmp_path), max_steps=1))
    assert not list(tmp_path.glob("*.tmp"))
