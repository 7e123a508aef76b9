"""What a notebook needs to know about where it runs: the device, and how big its runs may be.

Every notebook starts with `nb = setup()`. Its settings are sized for a 2-core CPU (each notebook
runs in at most 90 s there) and grow when a GPU is present. `HGLEARN_QUICK=1` shrinks training
runs further: the test suite sets it when it executes the exercise notebooks, whose point is that
they run, not what they learn.
"""
import os
import random
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from hglearn.precision import Precision, device_precision

T = TypeVar("T")


@dataclass(frozen=True)
class Setup:
    device: torch.device
    gpu: bool
    quick: bool
    name: str = "the CPU"  # the GPU's name where there is one
    precision: Precision | None = None  # what train() uses here with amp=auto

    def pick(self, cpu: T, gpu: T | None = None, quick: T | None = None) -> T:
        """`quick` under HGLEARN_QUICK=1, `gpu` on a GPU, else `cpu` (a missing value falls back to `cpu`)."""
        if self.quick and quick is not None:
            return quick
        if self.gpu and gpu is not None:
            return gpu
        return cpu


def setup(seed: int = 0) -> Setup:
    """Seed Python, NumPy and PyTorch, and say in one line where this notebook runs: the device and
    the precision that `train` chooses there (hglearn.precision)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    gpu = torch.cuda.is_available()
    device = torch.device("cuda" if gpu else "cpu")
    precision = device_precision("auto", device)
    name = torch.cuda.get_device_name(device) if gpu else "the CPU"
    print(f"device: {name} · training precision, {precision.reason}")
    return Setup(device, gpu, os.environ.get("HGLEARN_QUICK") == "1", name, precision)


def yours_or_reference(student: T, reference: T, check) -> T:
    """The student's answer when `check` passes it, else the reference, saying so in one line: the
    notebook goes on with the student's own code where it is right, and still runs where it is not."""
    verdict = check(student)
    if verdict:
        print(f"the cells below use your {getattr(student, '__name__', 'answer')}")
        return student
    name = getattr(reference, "__name__", "the reference")
    print(f"the cells below use hglearn's {name}, as your answer is not right yet ({verdict.message.split('.')[0]})")
    return reference


# --- what the GPU settings cost ---------------------------------------------------------------
# The notebooks' GPU settings are sized for a T4, the GPU of Colab's free tier. Its float16
# tensor-core peak is 65 TFLOPS (NVIDIA T4 data sheet). What the course's small networks sustain
# on it has not been measured here (no GPU was available; benchmarks/gpu_suite.py measures it):
# the estimate assumes a tenth of the peak, and a fixed cost per optimizer step for launching the
# step's many small kernels. Both are assumptions, stated so that the estimate can be checked.
T4_PEAK_FLOPS = 65e12
T4_SUSTAINED_FLOPS = 0.1 * T4_PEAK_FLOPS  # assumed
T4_STEP_SECONDS = 0.010  # assumed launch cost per step


def training_flops(cfg) -> float:
    """Training FLOPs per image of a TrainConfig's network at its input_res, counted as GPU peaks are
    (a multiply-add is 2 FLOPs): 2 × 3 × fvcore's count of the forward pass (fvcore counts a
    multiply-add as one), the backward pass costing about twice the forward."""
    from hglearn.profiling import flops_by_operator
    from hglearn.train import resolve_model

    return 6.0 * sum(flops_by_operator(resolve_model(cfg).build(), cfg.input_res).values())


def t4_minutes(cfg, runs: int = 1) -> float:
    """Estimated minutes of `runs` SynthPose training runs of cfg on a T4-class GPU:
    steps × (batch × training_flops / T4_SUSTAINED_FLOPS + T4_STEP_SECONDS), evaluation left out."""
    steps = cfg.max_steps or cfg.epochs * (cfg.synth_images // cfg.batch_size)
    per_step = cfg.batch_size * training_flops(cfg) / T4_SUSTAINED_FLOPS + T4_STEP_SECONDS
    return runs * steps * per_step / 60
