"""Which number format a training run computes in: the precision policy behind `--amp`.

Mixed precision runs the network's convolutions in a 16-bit format and keeps the weights, the
optimizer's state and the loss in float32 (Micikevicius et al., "Mixed Precision Training",
ICLR 2018). Two 16-bit formats exist, and which one pays depends on the GPU:

| format | exponent, mantissa bits | range | needs loss scaling | fast on |
|---|---|---|---|---|
| float16 | 5, 10 | ±65504, gradients below ~6e-8 become 0 | yes | tensor cores from compute capability 7.0 (V100, T4) |
| bfloat16 | 8, 7 | as float32 | no | tensor cores from compute capability 8.0 (A100, RTX 30xx, H100) |

float16's small range lets small gradients underflow to zero, so its runs multiply the loss by a
large factor S before the backward pass and divide the gradients by S before the step, halving S
whenever a gradient overflows and skipping that step (`torch.amp.GradScaler`). bfloat16 has
float32's range and needs none of that, but a GPU older than compute capability 8.0 has no
bfloat16 tensor cores and computes it slowly.

    choose_precision("auto", "cuda", (7, 5))   # float16 with a scaler: a T4
    choose_precision("auto", "cuda", (9, 0))   # bfloat16: an H100
    choose_precision("auto", "cpu", None)      # float32

On a CPU `auto` stays in float32: CPU autocast exists for both formats (`--amp=bf16` or `fp16`
runs there, slowly on most CPUs, which is how the course tests these paths without a GPU), but
only CPUs with AVX-512 BF16 or AMX compute bfloat16 natively, and the course's CPU runs are
measured in float32.
"""
from typing import NamedTuple

import torch

from hglearn.errors import ConfigError

AMP_CHOICES = ("auto", "bf16", "fp16", "off")
BF16_NATIVE = (8, 0)  # the first compute capability with bfloat16 tensor cores (Ampere)


class Precision(NamedTuple):
    """The decision: the autocast format (None: float32 throughout), whether a gradient scaler runs,
    and why, in words printed once at the start of a run and saved in its checkpoints."""

    dtype: torch.dtype | None
    scaler: bool
    reason: str

    @property
    def name(self) -> str:
        return {None: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}[self.dtype]

    def as_dict(self) -> dict[str, str | bool]:
        """The checkpoint's record of it (plain values: checkpoints load with weights_only)."""
        return {"dtype": self.name, "scaler": self.scaler, "reason": self.reason}


def choose_precision(amp: str, device_type: str, capability: tuple[int, int] | None = None) -> Precision:
    """The precision of a run from `amp` (auto, bf16, fp16 or off), the device type ("cuda", "cpu",
    "mps") and, on CUDA, the GPU's compute capability (major, minor). A pure function of its
    arguments, so the decision is tested for any GPU on a machine without one."""
    if amp not in AMP_CHOICES:
        raise ConfigError(f"amp must be one of {', '.join(AMP_CHOICES)}, got {amp!r}")
    gpu = f"compute capability {capability[0]}.{capability[1]}" if device_type == "cuda" and capability else device_type
    if amp == "off":
        return Precision(None, False, "amp=off: float32 throughout")
    if amp == "bf16":
        slow = device_type == "cuda" and capability is not None and tuple(capability) < BF16_NATIVE
        note = f" (asked; {gpu} has no bfloat16 tensor cores, so this is slower than fp16)" if slow else " (asked)"
        return Precision(torch.bfloat16, False, f"amp=bf16: bfloat16 autocast on {gpu}{note}")
    if amp == "fp16":
        scaled = device_type in ("cuda", "cpu")  # torch.amp.GradScaler exists for these two
        return Precision(torch.float16, scaled, f"amp=fp16: float16 autocast on {gpu}"
                         + (" with a gradient scaler" if scaled else " without a gradient scaler (none for this device)"))
    if device_type != "cuda":
        return Precision(None, False, f"amp=auto on {gpu}: float32 (ask --amp=bf16 or fp16 to use autocast here)")
    if capability is None:
        raise ConfigError("amp=auto on CUDA needs the GPU's compute capability")
    if tuple(capability) >= BF16_NATIVE:
        return Precision(torch.bfloat16, False, f"amp=auto on {gpu}: bfloat16, computed natively from 8.0 on; "
                                                "no loss scaling needed (float32's range)")
    return Precision(torch.float16, True, f"amp=auto on {gpu}: float16 with a gradient scaler (no bfloat16 tensor "
                                          "cores before 8.0)")


def device_precision(amp: str, device: torch.device) -> Precision:
    """`choose_precision` for a device of this machine."""
    capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
    return choose_precision(amp, device.type, capability)


def autocast_and_scaler(precision: Precision, device: torch.device):
    """The autocast context of the forward pass and the gradient scaler (a pass-through when
    disabled: `scale` returns the loss, `step` calls the optimizer, `update` does nothing)."""
    autocast = torch.autocast(device.type, dtype=precision.dtype or torch.float32,
                              enabled=precision.dtype is not None)
    scaler = torch.amp.GradScaler(device.type if device.type in ("cuda", "cpu") else "cpu", enabled=precision.scaler)
    return autocast, scaler
