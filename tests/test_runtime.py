"""What a notebook learns about where it runs (hglearn.course.runtime): the device line, the
settings it picks, and the estimated cost of its GPU settings."""
import pytest
import torch

from hglearn.config import TrainConfig, override
from hglearn.course import runtime


def test_setup_says_where_it_runs_and_with_which_precision(capsys, monkeypatch):
    monkeypatch.delenv("HGLEARN_QUICK", raising=False)
    nb = runtime.setup()
    line = capsys.readouterr().out.strip()
    assert line == "device: the CPU · training precision, " + nb.precision.reason and "\n" not in line
    assert nb.device == torch.device("cpu") and not nb.gpu and nb.precision.dtype is None
    assert nb.pick(cpu=1, gpu=2, quick=3) == 1
    monkeypatch.setenv("HGLEARN_QUICK", "1")
    assert runtime.setup().pick(cpu=1, gpu=2, quick=3) == 3


def test_pick_chooses_the_gpu_value_only_on_a_gpu_and_falls_back_to_the_cpu_value():
    gpu = runtime.Setup(torch.device("cuda"), gpu=True, quick=False)
    assert gpu.pick(cpu=1, gpu=2) == 2 and gpu.pick(cpu=1) == 1 and gpu.pick(cpu=True, gpu=False) is False


def test_training_flops_grow_with_the_input_area_and_the_stacks():
    small = TrainConfig(channels=16, depth=2, input_res=32)
    one = runtime.training_flops(small)
    assert runtime.training_flops(override(small, input_res=64)) == pytest.approx(4 * one, rel=0.02)
    assert 1.3 * one < runtime.training_flops(override(small, num_stacks=2)) < 2 * one  # the stem is shared


def test_the_t4_estimate_is_steps_times_compute_plus_launch_cost(monkeypatch):
    monkeypatch.setattr(runtime, "training_flops", lambda cfg: 1e9)  # 1 GFLOP per image
    cfg = TrainConfig(synth_images=1024, batch_size=32, epochs=5)  # 160 steps of 32 images
    per_step = 32 * 1e9 / runtime.T4_SUSTAINED_FLOPS + runtime.T4_STEP_SECONDS
    assert runtime.t4_minutes(cfg) == pytest.approx(160 * per_step / 60)
    assert runtime.t4_minutes(cfg, runs=3) == pytest.approx(3 * runtime.t4_minutes(cfg))
    assert runtime.t4_minutes(override(cfg, max_steps=16)) == pytest.approx(16 * per_step / 60)
    assert runtime.T4_SUSTAINED_FLOPS < runtime.T4_PEAK_FLOPS  # an assumed share of the data sheet's peak
