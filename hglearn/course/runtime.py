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

T = TypeVar("T")


@dataclass(frozen=True)
class Setup:
    device: torch.device
    gpu: bool
    quick: bool

    def pick(self, cpu: T, gpu: T | None = None, quick: T | None = None) -> T:
        """`quick` under HGLEARN_QUICK=1, `gpu` on a GPU, else `cpu` (a missing value falls back to `cpu`)."""
        if self.quick and quick is not None:
            return quick
        if self.gpu and gpu is not None:
            return gpu
        return cpu


def setup(seed: int = 0) -> Setup:
    """Seed Python, NumPy and PyTorch, and say where this notebook runs."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    gpu = torch.cuda.is_available()
    return Setup(torch.device("cuda" if gpu else "cpu"), gpu, os.environ.get("HGLEARN_QUICK") == "1")


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
