"""Parameters, FLOPs, layer summaries and forward latency of a model.

FLOPs follow fvcore's convention: one fused multiply-add counts as ONE flop, so a k×k convolution
from cin to cout channels on an H×W output costs cin·cout·k²·H·W flops (biases are not counted).
fvcore also counts BatchNorm (in eval mode one per input element, two with the affine scale and
shift that every BatchNorm here has) and nearest upsampling (one per output element), a few percent
of an hourglass's total; ReLU, pooling and additions are not counted. Papers
that count a multiply and an add separately report twice these numbers.

Taught in notebooks/02_depthwise_separable.ipynb and notebooks/10_efficiency.ipynb.
"""
import statistics
import time

import torch
from fvcore.nn import FlopCountAnalysis, flop_count_table
from torch import nn

from hglearn.models import count_parameters, create_model, eval_mode


def _flop_analysis(model: nn.Module, input_size: int, in_channels: int = 3) -> FlopCountAnalysis:
    images = torch.zeros(1, in_channels, input_size, input_size, device=next(model.parameters()).device)
    analysis = FlopCountAnalysis(model, images)
    # fvcore has no count for add, relu or max-pool: cheap element-wise work, left out (module docstring).
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis


def flops_by_operator(model: nn.Module, input_size: int = 256, in_channels: int = 3) -> dict[str, int]:
    """FLOPs split by operator type, e.g. {"conv": ..., "batch_norm": ..., "upsample_nearest2d": ...}.

    `in_channels` (3, an RGB image, by default) lets a single layer or block be fed a feature map.
    """
    with eval_mode(model):
        return dict(_flop_analysis(model, input_size, in_channels).by_operator())


def count_flops(model: nn.Module, input_size: int = 256, in_channels: int = 3) -> int:
    """Multiply-adds of one forward pass of a (1, in_channels, input_size, input_size) input."""
    return sum(flops_by_operator(model, input_size, in_channels).values())


def flops_table(model: nn.Module, input_size: int = 256, max_depth: int = 2, in_channels: int = 3) -> str:
    """fvcore's per-module table of parameters and FLOPs, down to `max_depth` levels of modules."""
    with eval_mode(model):
        return flop_count_table(_flop_analysis(model, input_size, in_channels), max_depth=max_depth)


def layer_summary(model: nn.Module, input_size: int = 256, depth: int = 3, in_channels: int = 3) -> str:
    """torchinfo's layer-by-layer summary (output shapes, parameters) as text."""
    from torchinfo import summary  # imported here: only this function needs it

    stats = summary(
        model, input_size=(1, in_channels, input_size, input_size), depth=depth, verbose=0,
        col_names=("output_size", "num_params"), device=next(model.parameters()).device,
    )
    return str(stats)


@torch.inference_mode()
def measure_latency(
    model: nn.Module, input_size: int = 256, batch_size: int = 1, repeats: int = 5, in_channels: int = 3,
) -> float:
    """Median wall time in milliseconds of a forward pass in eval mode, after one warm-up pass.

    The median, because a shared or busy CPU has occasional stalls that would drag a mean.
    """
    device = next(model.parameters()).device
    images = torch.randn(batch_size, in_channels, input_size, input_size, device=device)
    times = []
    with eval_mode(model):
        model(images)  # warm-up: allocations, cuDNN autotuning, lazy initialisation
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(images)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def model_stats(
    name_or_model: str | nn.Module, input_size: int = 256, latency: bool = True, repeats: int = 5,
    device: str | None = None,
) -> dict:
    """Parameters, FLOPs (multiply-adds) and forward latency of a preset name or a model.

    Returns {"params", "flops", "latency_ms", "device", "input_size"}; latency_ms is None when
    `latency` is False. The device defaults to CUDA when present, else the CPU.
    """
    model = create_model(name_or_model) if isinstance(name_or_model, str) else name_or_model
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    home = next(model.parameters()).device  # the caller's model goes back where it was
    model.to(device)
    try:
        return {
            "params": count_parameters(model),
            "flops": count_flops(model, input_size),
            "latency_ms": measure_latency(model, input_size, repeats=repeats) if latency else None,
            "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
            "input_size": input_size,
        }
    finally:
        model.to(home)
