from types import SimpleNamespace

import pytest
import torch
from torch import nn

from hglearn import profiling
from hglearn.cli import main
from hglearn.models import count_parameters, create_model
from hglearn.profiling import count_flops, flops_by_operator, flops_table, layer_summary, measure_latency, model_stats


def conv_and_linear_multiply_adds(model, input_size):
    """Multiply-adds counted by hand with forward hooks: cin/groups · cout · k² · H_out · W_out per conv."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        total += module.in_channels // module.groups * module.out_channels * k * output.shape[-2] * output.shape[-1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, input_size, input_size))
    for h in handles:
        h.remove()
    return total


def test_fvcore_flops_equal_the_convolution_formula_for_the_whole_network():
    model = create_model("lightweight-hg2", channels=64)
    by_operator = flops_by_operator(model, 128)
    assert by_operator["conv"] == conv_and_linear_multiply_adds(model, 128)
    assert count_flops(model, 128) == sum(by_operator.values())
    assert by_operator["conv"] > 0.95 * count_flops(model, 128)  # BatchNorm and upsampling: a few percent


def test_flops_grow_with_the_square_of_the_input():
    model = create_model("newell-hg1", channels=32)
    assert count_flops(model, 128) == 4 * count_flops(model, 64)


def fake_clock(monkeypatch, *durations_ms):
    """Make profiling's timer read 0, d1, 1, 1 + d2, 2, 2 + d3, ... seconds: timed passes of
    d1, d2, ... ms. A timer read more often than the durations allow raises StopIteration."""
    readings = iter([t for i, d in enumerate(durations_ms) for t in (i, i + d / 1000)])
    monkeypatch.setattr(profiling, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    return readings


def test_measure_latency_is_the_median_in_ms_of_the_timed_passes_after_an_untimed_warm_up(monkeypatch):
    model = nn.Conv2d(3, 4, 3)
    calls = []
    model.register_forward_hook(lambda module, inputs, output: calls.append(module.training))
    readings = fake_clock(monkeypatch, 7.0, 2.0, 50.0, 3.0, 4.0)  # a 50 ms stall: the mean would be 13.2
    assert measure_latency(model, 16, repeats=5) == pytest.approx(4.0)
    assert next(readings, None) is None  # exactly two timer reads per pass
    assert calls == [False] * 6  # the warm-up and 5 timed passes, all in eval mode
    assert model.training  # back in the mode it was in


def test_model_stats_of_a_preset(monkeypatch):
    fake_clock(monkeypatch, 4.0, 6.0)  # repeats=2: the median of two passes is their mean
    stats = model_stats("newell-hg1", input_size=64, repeats=2, device="cpu")
    assert stats["params"] == 3_426_448
    assert stats["flops"] == count_flops(create_model("newell-hg1"), 64)
    assert stats["flops"] > conv_and_linear_multiply_adds(create_model("newell-hg1"), 64)
    assert stats["latency_ms"] == pytest.approx(5.0) and stats["device"] == "cpu" and stats["input_size"] == 64


def test_model_stats_of_a_model_without_latency():
    model = create_model("newell-hg1", channels=32, block="mdlrb")
    stats = model_stats(model, input_size=64, latency=False)
    assert stats["params"] == count_parameters(model) and stats["latency_ms"] is None
    assert model.training  # counting FLOPs put the model back in the mode it was in


def test_summaries_name_the_modules():
    model = create_model("newell-hg1", channels=32)
    assert "hgs.0.low2" in flops_table(model, 64, max_depth=3)
    summary = layer_summary(model, 64, depth=2)
    assert "Hourglass" in summary and f"{count_parameters(model):,}" in summary


def test_profile_command_prints_parameters_and_flops(capsys):
    assert main(["profile", "newell-hg2", "--input", "64", "--no-latency", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "6,570,400" in out and "one multiply-add = one FLOP" in out
    flops = count_flops(create_model("newell-hg2"), 64)
    assert f"{flops / 1e9:.2f} G" in out


def test_a_block_can_be_fed_a_feature_map():
    from hglearn.blocks import Bottleneck

    block = Bottleneck(32, 64)  # BN 2 FLOPs per element (scale and shift), convs cin/groups·cout·k²·H·W
    size, mid = 8, 32
    convs = (32 * mid + 9 * mid * mid + mid * 64 + 32 * 64) * size**2
    batch_norms = 2 * (32 + mid + mid) * size**2
    assert flops_by_operator(block, size, in_channels=32) == {"conv": convs, "batch_norm": batch_norms}
    assert count_flops(block, size, in_channels=32) == convs + batch_norms
    assert "conv1" in flops_table(block, size, max_depth=1, in_channels=32)
    assert f"{count_parameters(block):,}" in layer_summary(block, size, depth=1, in_channels=32)
    measure_latency(block, size, repeats=1, in_channels=32)  # runs: a 3-channel input would raise in the block
