"""One prepared GPU check: everything the GPU issue measures, in one call of at most 8 minutes.

    python benchmarks/gpu_suite.py --wheels DIR --out DIR     # on a GPU machine (an H100 or H200)
    python benchmarks/gpu_suite.py --dry-run --out DIR        # the same code at tiny sizes, on a CPU

The stages run in order, each within its own time budget (STAGES, at the end of this file):

1. environment: versions, the device, and the precision `amp=auto` chooses there, and why.
2. wheels: the pure-Python packages the machine lacks, installed from --wheels (never downloaded).
3. unit_tests: pytest on the training path's test files, on this machine's torch build.
4. cuda_checks: the GPU paths of the step that the tests (which pin device=cpu) cannot reach.
5. throughput: training images/s, peak memory and MFU of four presets, eager fp32 against the fast path.
6. loss_curves: the course's SynthPose run under bf16 and under fp32, the same seed, both curves.
7. recipe: a short real run (lightweight-hg2 at 256²) to a measured PCKh.
8. notebooks: every solution notebook executed as `hglearn course record` executes it.

A stage that fails is recorded (its traceback goes to log.txt) and the next one runs. A stage past
its budget is stopped: this process sends itself one SIGINT, upon which `train()` stops after its
step (saving it) and other code raises; a child process (pytest, a compile, a notebook) is given the
budget that is left and killed with its process group past it. --dry-run runs every stage at tiny
sizes (on a CPU unless a GPU is present), so that the GPU call meets no bug a CPU could have found.

Written under --out (default $OUT, else gpu_suite_out/ in the repository): results.md (a summary
and one table per stage), log.txt (progress, tracebacks, pytest's and train()'s output), losses.csv
and losses.png (the two loss curves) and notebooks.zip (the executed notebooks). Runs and
checkpoints go to a scratch folder (--work, by default a temporary one, removed at the end): the
GPU machine returns at most 8 files. Exit status 0 when every stage ran, 1 when one failed or ran
out of time, 2 when the suite cannot start.
"""
import argparse
import contextlib
import csv
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the GPU machine runs the working tree as copied, hglearn not installed
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from hglearn.checkpoints import load_checkpoint, load_model  # noqa: E402
from hglearn.config import TrainConfig, override  # noqa: E402
from hglearn.data.splits import make_val_set  # noqa: E402
from hglearn.errors import ConfigError, RunInterrupted  # noqa: E402
from hglearn.evaluate import evaluate  # noqa: E402
from hglearn.models import model_config  # noqa: E402
from hglearn.precision import autocast_and_scaler, device_precision  # noqa: E402
from hglearn.train import fast_network, make_optimizer, pick_device, train, train_step, training_loss  # noqa: E402

# --- the device's peak, and model FLOPs utilisation ----------------------------------------------

# Dense bfloat16 tensor-core peaks in TFLOP/s (a multiply-add counts as 2 FLOPs), float16 for GPUs
# without bfloat16 tensor cores; the first pattern that matches the device's name wins. The data
# sheets quote "with sparsity" figures for Ampere and later, twice the dense ones halved here. A
# part listed with None is one whose figure was not checked: its MFU stays n/a rather than be
# computed against a sibling's peak (an H100 NVL would otherwise match "H100").
DEVICE_PEAKS = (
    (r"GH200", None, "not checked"),
    (r"H200 NVL", None, "not checked"),
    (r"H200", 989.5, "NVIDIA H200 Tensor Core GPU data sheet: H200 SXM, BF16 Tensor Core 1,979 TFLOPS with sparsity"),
    (r"H100 NVL", None, "not checked"),
    (r"H100 PCIe", 756.5,
     "NVIDIA H100 Tensor Core GPU data sheet: H100 PCIe, BF16 Tensor Core 1,513 TFLOPS with sparsity"),
    (r"H100", 989.5, "NVIDIA H100 Tensor Core GPU data sheet: H100 SXM, BF16 Tensor Core 1,979 TFLOPS with sparsity"),
    (r"A100", 312.0, "NVIDIA A100 Tensor Core GPU data sheet: BF16 Tensor Core 312 TFLOPS (624 with sparsity)"),
    (r"L40", None, "not checked"),
    (r"\bL4\b", 121.0, "NVIDIA L4 Tensor Core GPU data sheet: BF16 Tensor Core 242 TFLOPS with sparsity"),
    (r"\bT4\b", 65.0, "NVIDIA T4 Tensor Core GPU data sheet: mixed precision (FP16/FP32) 65 TFLOPS; no bfloat16"),
    (r"V100S", 130.0, "NVIDIA V100 Tensor Core GPU data sheet: V100S PCIe, tensor performance 130 TFLOPS (fp16)"),
    (r"V100.*PCIE", 112.0, "NVIDIA V100 Tensor Core GPU data sheet: V100 PCIe, tensor performance 112 TFLOPS (fp16)"),
    (r"V100", 125.0, "NVIDIA V100 Tensor Core GPU data sheet: V100 SXM2, tensor performance 125 TFLOPS (fp16)"),
)


def device_peak(name: str, override_tflops: float | None = None) -> tuple[float | None, str]:
    """The dense 16-bit tensor-core peak (TFLOP/s) of the device called `name` and where the figure
    comes from; (None, why) for a device not in DEVICE_PEAKS. `override_tflops` (--peak-tflops) wins."""
    if override_tflops is not None:
        return override_tflops, "--peak-tflops"
    for pattern, tflops, source in DEVICE_PEAKS:
        if re.search(pattern, name, re.IGNORECASE):
            return tflops, source if tflops is not None else f"{name}: peak {source}; give --peak-tflops"
    return None, f"{name}: no peak known; give --peak-tflops"


def training_flops(forward_macs: float) -> float:
    """FLOPs of one training image: 3 · 2 · M.

    M is fvcore's count of one forward pass (multiply-adds, hglearn.profiling); ×2 counts them as the
    data sheets do (a multiply-add is two FLOPs); ×3 adds the backward pass, which computes the
    gradients of the activations and of the weights, each about one forward pass's work.
    """
    return 6 * forward_macs


def mfu(forward_macs: float, images_per_s: float, peak_tflops: float) -> float:
    """Model FLOPs utilisation: the FLOPs the training needs per second over the device's peak,

        MFU = training_flops(M) · images/s / (peak · 10¹²)

    (the measure PaLM named, Chowdhery et al. 2022) as a fraction: 0.25 is a quarter of the peak.
    """
    return training_flops(forward_macs) * images_per_s / (peak_tflops * 1e12)


# --- small pure helpers --------------------------------------------------------------------------

# The packages some stage imports that a bare GPU machine may lack ({module: distribution}); pip
# finds their own dependencies in the same wheel folder. pytest runs without nbval (unit_tests
# clears the addopts that would load it).
NEEDED = {
    "fvcore": "fvcore",          # FLOPs (the MFU column), test_profiling.py, notebooks 02 and 10
    "torchinfo": "torchinfo",    # test_profiling.py, notebook 10
    "nbformat": "nbformat",      # reading and writing the notebooks
    "nbclient": "nbclient",      # executing them, as `hglearn course record` does
    "ipykernel": "ipykernel",    # their kernel
    "ipywidgets": "ipywidgets",  # notebooks 02, 06 and 10
}
TEST_NEEDS = {"tests/test_profiling.py": ("fvcore", "torchinfo")}


def missing_modules(modules) -> list[str]:
    """Those of `modules` that this Python cannot import."""
    importlib.invalidate_caches()  # packages pip has just installed
    return [name for name in modules if importlib.util.find_spec(name) is None]


def wheel_install_command(python: str, wheels: Path, distributions: list[str]) -> list[str]:
    """pip installing `distributions` from the folder `wheels` alone: no index, so no network. A
    source archive there (the fvcore and iopath releases are published as nothing else) is built with the
    setuptools already installed, without the isolated build environment that would ask an index."""
    return [python, "-m", "pip", "install", "--no-index", "--find-links", str(wheels), "--no-build-isolation",
            "--no-cache-dir", "--disable-pip-version-check", "-q", *distributions]


def pytest_counts(output: str) -> dict[str, float]:
    """The numbers of pytest's last summary line, e.g. "5 passed, 2 skipped in 3.21s" →
    {"passed": 5, "skipped": 2, "seconds": 3.21}; "error" and "errors" both count as "errors"."""
    lines = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|errors?|skipped|deselected)", line)]
    if not lines:
        return {}
    counts = {("errors" if word.startswith("error") else word): float(n)
              for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)", lines[-1])}
    if seconds := re.search(r"in ([\d.]+)s", lines[-1]):
        counts["seconds"] = float(seconds.group(1))
    return counts


def relative_difference(value: float, reference: float) -> float:
    """(value − reference) / |reference|."""
    return (value - reference) / abs(reference)


def markdown_table(columns, rows) -> list[str]:
    """A markdown table; None shows as n/a, and a cell's '|' and line breaks cannot break the table."""
    def cell(value) -> str:
        return "n/a" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    return lines + ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]


def fmt(value: float | None, spec: str) -> str | None:
    """format(value, spec), None (n/a in a table) for None."""
    return None if value is None else format(value, spec)


# --- how big each stage's work is ----------------------------------------------------------------

@dataclass(frozen=True)
class Sizes:
    """The sizes of every stage: REAL for the GPU call (each stage within its budget on an H100 or
    H200), DRY for a CPU in seconds."""

    tests: tuple[str, ...]            # pytest's selection (files, -k)
    presets: tuple[str, ...]          # the throughput rows
    model_overrides: dict             # ModelConfig fields changed in every throughput preset
    input_res: int
    batch: int
    warmup: int                       # untimed steps first: cuDNN's autotuning, the compilation
    timed: int
    compile_backend: str              # train()'s torch.compile uses Inductor, the default
    compile_presets: tuple[str, ...]
    compile_row_s: float              # at most this per compile row, within what the stage has left
    resume_amps: tuple[str, ...]      # cuda_checks' resume runs
    curves: dict                      # TrainConfig fields of the two loss-curve runs
    recipe: dict                      # TrainConfig fields of the real recipe
    notebooks: tuple[str, ...] | None  # solution notebooks to execute (None: all)
    parallel_notebooks: int
    quick_notebooks: bool             # HGLEARN_QUICK=1: the notebooks shrink their training runs


PRESETS = ("newell-hg2", "newell-hg8", "lightweight-hg8", "sadinet-hg8")

REAL = Sizes(
    tests=("tests/test_precision.py", "tests/test_train.py", "tests/test_evaluate.py", "tests/test_models.py",
           "tests/test_reliability_train.py", "tests/test_profiling.py"),
    presets=PRESETS, model_overrides={}, input_res=256, batch=32, warmup=3, timed=25,
    compile_backend="inductor", compile_presets=PRESETS, compile_row_s=90,
    resume_amps=("auto", "fp16"),
    # The course's run (course-hg1, 64², batch 32, seed 0) for 200 steps, in epochs of 10 steps so
    # that log.csv holds the mean loss of every 10; scored once, at the end.
    curves=dict(synth_images=320, epochs=20, max_steps=200, val_images=128, eval_every=100),
    # 10 epochs of 4,096 images (1,280 steps of 32), the rate /10 for the last two: about 40 s of
    # training at the 1,000-2,000 images/s expected of the data workers and an H100.
    recipe=dict(model="lightweight-hg2", input_res=256, synth_images=4096, epochs=10, lr_milestones=(8,),
                val_images=500),
    notebooks=None, parallel_notebooks=4, quick_notebooks=False,
)

DRY = Sizes(
    tests=("tests/test_precision.py", "-k", "auto_picks"),
    presets=PRESETS, model_overrides={"channels": 8, "num_stacks": 1, "depth": 3}, input_res=32, batch=2,
    warmup=1, timed=1,
    # aot_eager traces forward and backward as Inductor would, without compiling C++ (which fails
    # for the hourglass on some CPUs, benchmarks/RESULTS.md) or Triton.
    compile_backend="aot_eager", compile_presets=PRESETS[:1], compile_row_s=120,
    resume_amps=("fp16",),
    curves=dict(channels=16, depth=2, input_res=32, synth_images=16, batch_size=8, epochs=3, max_steps=6,
                val_images=8, eval_every=100),
    recipe=dict(model="lightweight-hg2", channels=16, depth=2, input_res=32, synth_images=16, batch_size=8,
                epochs=1, val_images=8),
    notebooks=("01_dilated_convolutions",), parallel_notebooks=1, quick_notebooks=True,
)


# --- the suite's state, its log, and the stages' budgets -----------------------------------------

class StageFailed(Exception):
    """A check of a stage that came out wrong: the message says which (no traceback needed)."""


class StageTimeout(BaseException):
    """The stage's budget ran out (BaseException, as KeyboardInterrupt: no `except Exception` swallows it)."""


class Log:
    """Progress lines (printed and written to log.txt) and blocks written to log.txt only."""

    def __init__(self, path: Path):
        self.file = open(path, "w", encoding="utf-8")

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.write(line + "\n")

    def write(self, text: str) -> None:
        self.file.write(text)
        self.file.flush()

    def block(self, title: str, text: str) -> None:
        self.write(f"----- {title} -----\n{text.rstrip()}\n----- end of {title} -----\n")


@dataclass
class Stage:
    """One stage's record: its table (columns and rows), notes, and how it went."""

    name: str
    title: str
    budget_s: float
    needs: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    rows: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: str = "not run"  # ok, failed, timed out, skipped
    seconds: float = 0.0


@dataclass
class Suite:
    sizes: Sizes
    device: torch.device
    dry_run: bool
    out: Path
    work: Path
    log: Log
    wheels: Path | None = None
    peak: tuple[float | None, str] = (None, "no peak known")
    missing: set[str] = field(default_factory=set)  # modules still missing after the wheels stage


class Budget:
    """A stage's deadline. Past it, one SIGINT to this process: train() then stops after its step and
    raises RunInterrupted; elsewhere the handler installed here raises StageTimeout. A real Ctrl-C
    (before the deadline) stays a KeyboardInterrupt."""

    def __init__(self, seconds: float):
        self.seconds, self.fired, self.active = seconds, False, False
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def _fire(self) -> None:
        if self.active:
            self.fired = True
            os.kill(os.getpid(), signal.SIGINT)

    def _handle(self, number, frame) -> None:
        if not self.active:  # a signal sent just as the stage ended
            return
        raise StageTimeout() if self.fired else KeyboardInterrupt()

    @contextlib.contextmanager
    def running(self):
        previous = signal.signal(signal.SIGINT, self._handle)
        timer = threading.Timer(self.seconds, self._fire)
        timer.daemon, self.active = True, True
        timer.start()
        try:
            yield self
        finally:
            self.active = False
            timer.cancel()
            signal.signal(signal.SIGINT, previous)


def run_stage(suite: Suite, stage: Stage, function) -> None:
    """Run one stage within its budget and record how it went; never raises, but for a real Ctrl-C."""
    if missing := [name for name in stage.needs if name in suite.missing]:
        stage.status = "skipped"
        stage.notes.append(f"needs {', '.join(missing)}, missing on this machine: bring it with --wheels")
        suite.log.say(f"{stage.name}: skipped (needs {', '.join(missing)})")
        return
    suite.log.say(f"== {stage.name}: {stage.title} (budget {stage.budget_s:.0f} s)")
    started, budget = time.perf_counter(), Budget(stage.budget_s)
    stage.status = "running"
    try:
        with budget.running():
            function(suite, stage, budget)
        if stage.status == "running":
            stage.status = "ok"
    except (StageTimeout, RunInterrupted) as error:
        if isinstance(error, RunInterrupted) and not budget.fired:
            raise
        stage.status = "timed out"
        stage.notes.append(f"stopped by its budget of {stage.budget_s:.0f} s")
        suite.log.block(f"{stage.name}: timed out", traceback.format_exc())
    except StageFailed as error:
        stage.status = "failed"
        stage.notes.append(str(error))
    except Exception as error:
        stage.status = "failed"
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        stage.notes.append(f"{type(error).__name__}: {first}")
        suite.log.block(f"{stage.name}: traceback", traceback.format_exc())
    finally:
        stage.seconds = time.perf_counter() - started
    suite.log.say(f"== {stage.name}: {stage.status} in {stage.seconds:.1f} s" +
                  (f" ({stage.notes[-1]})" if stage.status != "ok" and stage.notes else ""))


# --- child processes -----------------------------------------------------------------------------

def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with the repository first on PYTHONPATH (for pytest, compile rows
    and notebook kernels: hglearn is not installed on the GPU machine)."""
    paths = [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}


def kill_group(process: subprocess.Popen) -> None:
    """Kill a child started in its own session and whatever it started (Inductor's compile workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_child(command: list[str], timeout: float, log_path: Path, env: dict | None = None) -> tuple[int | None, str]:
    """(exit status, output) of a child process, its output going through a file (a kernel it starts
    could hold a pipe open); past `timeout` seconds its process group is killed and the status is None."""
    with open(log_path, "w", encoding="utf-8") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env or child_env(), stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = process.wait(timeout=max(timeout, 1.0))
        except subprocess.TimeoutExpired:
            kill_group(process)
            code = None
        except BaseException:
            kill_group(process)
            raise
    return code, log_path.read_text(encoding="utf-8", errors="replace")


def quietly(log: Log, title: str, function, *args, **kwargs):
    """Call function with its printed output going to the log instead of the screen."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            return function(*args, **kwargs)
    finally:
        log.block(title, printed.getvalue())


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def name_of(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


# --- 1. environment ------------------------------------------------------------------------------

def environment(suite: Suite, stage: Stage, budget: Budget) -> None:
    device = suite.device
    precision = device_precision("auto", device)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rows = [("python", f"{platform.python_version()} ({sys.executable})"), ("torch", torch.__version__),
            ("CUDA (torch built with)", torch.version.cuda), ("cuDNN", torch.backends.cudnn.version()),
            ("device", name_of(device)), ("CPU cores (usable)", cores)]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        rows += [("compute capability", f"{props.major}.{props.minor}"),
                 ("GPU memory", f"{props.total_memory / 2**30:.1f} GiB"),
                 ("multiprocessors", props.multi_processor_count),
                 ("TF32 in fp32 convolutions / matmuls (PyTorch defaults)",
                  f"{torch.backends.cudnn.allow_tf32} / {torch.backends.cuda.matmul.allow_tf32}")]
        if shutil.which("nvidia-smi"):
            code, output = run_child(["nvidia-smi", "--query-gpu=driver_version,clocks.max.sm,power.limit",
                                      "--format=csv,noheader"], budget.left() - 1, suite.work / "nvidia-smi.log")
            rows.append(("driver, max SM clock, power limit (nvidia-smi)", output.strip() if code == 0 else None))
    else:
        rows.append(("memory", f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB"))
    peak, source = suite.peak
    rows += [("amp=auto chooses", precision.name), ("because", precision.reason),
             ("16-bit peak for MFU", f"{peak} TFLOP/s ({source})" if peak else source)]
    stage.columns, stage.rows = ("what", "value"), rows
    for what, value in rows:
        suite.log.say(f"  {what}: {value}")


# --- 2. wheels -----------------------------------------------------------------------------------

def wheels(suite: Suite, stage: Stage, budget: Budget) -> None:
    """Install what is missing from --wheels: first all at once, then, if pip refused (a wheel not
    in the folder stops the whole install), one by one, so that one missing wheel costs only its stages."""
    before = missing_modules(NEEDED)
    stage.columns = ("module", "before", "after", "version")
    if before and suite.wheels is not None and not suite.wheels.is_dir():
        raise StageFailed(f"--wheels {suite.wheels} is not a folder")
    if before and suite.wheels is not None:
        distributions = sorted({NEEDED[name] for name in before})
        command = wheel_install_command(sys.executable, suite.wheels, distributions)
        suite.log.say("  " + " ".join(command))
        code, output = run_child(command, budget.left() - 2, suite.work / "pip.log")
        suite.log.block("pip install", output)
        if code != 0:
            for distribution in distributions:
                one = wheel_install_command(sys.executable, suite.wheels, [distribution])
                code, output = run_child(one, budget.left() - 2, suite.work / "pip.log")
                suite.log.block(f"pip install {distribution}", output)
    after = missing_modules(NEEDED)
    suite.missing = set(after)
    stage.rows = [(name, "missing" if name in before else "present", "missing" if name in after else "importable",
                   None if name in after else importlib.metadata.version(NEEDED[name])) for name in NEEDED]
    if not before:
        stage.notes.append("every package the stages need imports already: nothing to install")
    elif suite.wheels is None:
        stage.status = "skipped"
        stage.notes.append(f"no --wheels given: {', '.join(after)} stay missing, and the stages or tests that "
                           "need them are skipped")
    elif after:
        raise StageFailed(f"{', '.join(after)} still missing after pip (its output is in log.txt): the stages "
                          "or tests that need them are skipped")


# --- 3. unit tests -------------------------------------------------------------------------------

def unit_tests(suite: Suite, stage: Stage, budget: Budget) -> None:
    """pytest on the training path's test files. They pin device=cpu (none reads a device setting),
    so on a GPU machine they check that machine's torch build, not the GPU: cuda_checks does that."""
    selection = [arg for arg in suite.sizes.tests if not set(TEST_NEEDS.get(arg, ())) & suite.missing]
    if left_out := [arg for arg in suite.sizes.tests if arg not in selection]:
        stage.notes.append(f"left out for missing packages: {', '.join(left_out)}")
    # The ini's addopts load nbval (for the notebooks, deselected here anyway): cleared, so pytest
    # needs no nbval; -n spreads the tests over the GPU machine's cores when pytest-xdist is there.
    parallel = importlib.util.find_spec("xdist") is not None and not suite.dry_run
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-m", "not slow", "-o", "addopts=", "-ra",
               "--strict-markers", "-p", "no:cacheprovider", *(["-n", "4"] if parallel else []), *selection]
    suite.log.say("  " + " ".join(command[1:]))
    env = child_env(OMP_NUM_THREADS="4") if parallel else child_env()  # 4 processes of 4 threads on 16 cores
    code, output = run_child(command, budget.left() - 2, suite.work / "pytest.log", env)
    suite.log.block("pytest", output)
    counts = pytest_counts(output)
    stage.columns = ("selection", "passed", "failed", "errors", "skipped", "seconds")
    stage.rows.append((" ".join(selection), *(int(counts.get(k, 0)) for k in ("passed", "failed", "errors", "skipped")),
                       fmt(counts.get("seconds"), ".1f")))
    stage.notes.append("the tests pin device=cpu (none reads a device setting): on a GPU machine they check its "
                       "torch build; the GPU's own paths are cuda_checks'")
    if code is None:
        raise StageFailed("pytest ran past the budget (its output is in log.txt)")
    if code != 0 or not counts.get("passed"):
        failed = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
        raise StageFailed(f"pytest exit status {code}: {failed[0] if failed else 'see log.txt'}")


# --- 4. the step on the device -------------------------------------------------------------------

def tiny_step_parts(amp: str, device: torch.device):
    """A small network (course-hg1 at 16 channels, depth 2) made ready as train() makes it, its
    optimizer, and one batch of 4 in pinned memory, as the run's DataLoader hands them over."""
    torch.manual_seed(0)
    model = model_config("course-hg1", channels=16, depth=2).build().to(device)
    net = fast_network(model, TrainConfig(), device, world_size=1)
    precision = device_precision(amp, device)
    autocast, scaler = autocast_and_scaler(precision, device)
    optimizer = make_optimizer("adam", model.parameters(), lr=1e-3, device=device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    batch = {"image": torch.rand(4, 3, 32, 32), "heatmaps": torch.rand(4, 16, 8, 8), "target_weight": torch.ones(4, 16)}
    if device.type == "cuda":
        batch = {key: value.pin_memory() for key, value in batch.items()}
    return model, net, precision, optimizer, scheduler, autocast, scaler, batch


@contextlib.contextmanager
def deterministic_algorithms():
    """torch.use_deterministic_algorithms for the block, warning rather than failing on an operation
    without a deterministic version; yields the list of warnings caught."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield caught
        finally:
            torch.use_deterministic_algorithms(False)


def resume_check(amp: str, device: torch.device, work: Path, log: Log) -> dict:
    """An uninterrupted tiny run (2 epochs of 4 steps, scored after each) against the same run stopped
    at step 3 and resumed, under deterministic algorithms: the final weights and the scaler's state."""
    cfg = TrainConfig(device=str(device), channels=16, depth=2, input_res=32, synth_images=32, val_images=8,
                      batch_size=8, epochs=2, lr_milestones=(1,), eval_every=1, flip_test=False, progress=False,
                      num_workers=0, amp=amp)
    whole, part = work / f"resume-{amp}-whole", work / f"resume-{amp}-part"
    with deterministic_algorithms() as caught:
        quietly(log, f"train, {amp}, whole", train, override(cfg, out_dir=str(whole)))
        quietly(log, f"train, {amp}, to step 3", train, override(cfg, out_dir=str(part), max_steps=3))
        quietly(log, f"train, {amp}, resumed", train, override(cfg, out_dir=str(part), resume="last"))
    a, b = (load_checkpoint(folder / "last.pt") for folder in (whole, part))
    diff = max((a["model"][k].double() - b["model"][k].double()).abs().max().item()
               for k in a["model"] if a["model"][k].is_floating_point())
    exact = all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    return {"steps": (a["step"], b["step"]), "exact": exact, "max_diff": diff, "scaler": a["scaler"],
            "scaler_same": a["scaler"] == b["scaler"],
            "warnings": sorted({str(w.message).splitlines()[0] for w in caught if "determinis" in str(w.message)})}


def cuda_checks(suite: Suite, stage: Stage, budget: Budget) -> None:
    """train_step under every precision on the device (the forward's format, finite float32 losses,
    the scaler), float16's skipped step on an overflow, and resuming bit for bit on the device."""
    device = suite.device
    stage.columns = ("check", "precision", "result", "ok")
    failures = []

    def record(check: str, precision: str, result: str, ok: bool) -> None:
        stage.rows.append((check, precision, result, "yes" if ok else "NO"))
        suite.log.say(f"  {check}, {precision}: {result} ({'ok' if ok else 'WRONG'})")
        if not ok:
            failures.append(f"{check} ({precision})")

    for amp in ("off", "bf16", "fp16", "auto"):
        model, net, precision, optimizer, scheduler, autocast, scaler, batch = tiny_step_parts(amp, device)
        seen = []
        model.stem[0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
        losses = [train_step(net, batch, optimizer, scheduler, autocast, scaler, training_loss, device)[0]
                  for _ in range(3)]
        values = torch.stack(losses).tolist()
        expected = precision.dtype or torch.float32
        ok = (all(t == expected for t in seen) and all(loss.dtype == torch.float32 for loss in losses)
              and all(map(torch.isfinite, losses)) and scaler.is_enabled() == precision.scaler)
        scale = f", scale {scaler.get_scale():g}" if scaler.is_enabled() else ""
        shown = ", ".join(f"{v:.4g}" for v in values)
        record(f"3 steps, amp={amp}", precision.name,
               f"forward in {str(seen[0]).removeprefix('torch.')}, losses {shown}{scale}", ok)

    model, net, precision, optimizer, scheduler, autocast, scaler, batch = tiny_step_parts("fp16", device)
    train_step(net, batch, optimizer, scheduler, autocast, scaler, training_loss, device)
    scale = scaler.get_scale()
    before = {k: v.clone() for k, v in model.state_dict().items() if k.endswith("weight")}

    def overflowing(heatmaps, target, weight):
        return training_loss(heatmaps, target, weight)[0] * float("inf"), torch.zeros(1, device=device)

    train_step(net, batch, optimizer, scheduler, autocast, scaler, overflowing, device)
    kept = all(torch.equal(before[k], model.state_dict()[k]) for k in before)
    record("an overflowing step", precision.name, f"scale {scale:g} → {scaler.get_scale():g}, "
           f"weights {'kept' if kept else 'CHANGED'}", scaler.get_scale() == scale / 2 and kept)

    for amp in suite.sizes.resume_amps:
        found = resume_check(amp, device, suite.work, suite.log)
        result = (f"steps {found['steps'][0]} and {found['steps'][1]}, weights "
                  + ("bit-exact" if found["exact"] else f"differ by up to {found['max_diff']:.3g}")
                  + (f", scale {found['scaler']['scale']:g} in both" if found["scaler"] and found["scaler_same"]
                     else "")
                  + ("" if found["scaler_same"] else ", scaler states DIFFER"))
        record("resumed at step 3, deterministic", device_precision(amp, device).name, result,
               found["exact"] and found["scaler_same"] and found["steps"][0] == found["steps"][1])
        stage.notes += [f"amp={amp}: {w}" for w in found["warnings"]]
    if failures:
        raise StageFailed("wrong: " + "; ".join(failures))


# --- 5. throughput -------------------------------------------------------------------------------

MODES = {  # what each throughput row runs
    "baseline": "fp32, NCHW, eager (PyTorch's defaults)",
    "fast": "the fast path: channels_last, cudnn.benchmark, amp=auto (train()'s defaults)",
    "compile": "the fast path + torch.compile",
}


def time_training(preset: str, mode: str, sizes: Sizes, device: torch.device) -> dict:
    """One throughput row: training images/s of hglearn.train.train_step, the loop's own step, on
    random data already on the device (data loading is benchmarks/data_pipeline.py's), the median
    of sizes.timed steps after sizes.warmup, each step synchronised; and the peak of allocated memory.

    The fast path is built as train() builds it (fast_network, the precision amp=auto picks, fused
    Adam, the SADI-Net's DLM in the loss); "compile" adds torch.compile with sizes.compile_backend.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    model_cfg = model_config(preset, **sizes.model_overrides)
    model = model_cfg.build().to(device)
    if mode == "baseline":
        torch.backends.cudnn.benchmark = False  # PyTorch's default; fast_network turns it on
        net, memory_format, amp = model, torch.contiguous_format, "off"
    else:
        net, memory_format, amp = fast_network(model, TrainConfig(), device, world_size=1), torch.channels_last, "auto"
        if mode == "compile":
            net = torch.compile(net, backend=sizes.compile_backend)  # as train() with compile=true (Inductor)
    precision = device_precision(amp, device)
    autocast, scaler = autocast_and_scaler(precision, device)
    optimizer = make_optimizer("adam", model.parameters(), lr=1e-4, device=device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    loss_fn = partial(training_loss, dlm_weight=TrainConfig().dlm_weight, dlm=model.dlm if model_cfg.dlm else None)
    b, res, joints = sizes.batch, sizes.input_res, model_cfg.num_joints
    data = {"image": torch.randn(b, 3, res, res, device=device),
            "heatmaps": torch.rand(b, joints, res // 4, res // 4, device=device),
            "target_weight": torch.ones(b, joints, device=device)}
    times = []
    for _ in range(sizes.warmup + sizes.timed):
        synchronize(device)
        start = time.perf_counter()
        loss, _ = train_step(net, data, optimizer, scheduler, autocast, scaler, loss_fn, device, memory_format)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {"images_per_s": b / statistics.median(times[sizes.warmup:]), "first_step_s": times[0],
            "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
            "precision": precision.name, "loss": loss.item()}


def forward_macs(preset: str, sizes: Sizes, device: torch.device) -> int:
    from hglearn.profiling import count_flops  # fvcore: imported once the wheels stage has run

    model = model_config(preset, **sizes.model_overrides).build().to(device)
    return count_flops(model, sizes.input_res)


def compile_row_main(args) -> int:
    """A compile row in a process of its own (`--compile-row PRESET`), so that the throughput stage can
    stop a compilation that runs past its time; prints its result as one JSON line."""
    sizes = DRY if args.dry_run else REAL
    if args.batch:
        sizes = dataclasses.replace(sizes, batch=args.batch)
    result = time_training(args.compile_row, "compile", sizes, pick_device(args.device))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def throughput(suite: Suite, stage: Stage, budget: Budget) -> None:
    sizes, device, (peak, _) = suite.sizes, suite.device, suite.peak
    stage.columns = ("model", "mode", "precision", "batch", "images/s", "× baseline", "peak memory (GiB)",
                     "first step (s)", "training GFLOP per image", "MFU")
    macs, baseline, failed = {}, {}, []
    if "fvcore" in suite.missing:
        stage.notes.append("fvcore missing: no FLOPs, so no MFU")

    def add(preset: str, mode: str, result: dict | None, failure: str = "") -> None:
        if result is None:  # a row that did not finish: why, in the images/s column
            stage.rows.append((preset, mode, None, sizes.batch, failure, None, None, None, None, None))
            suite.log.say(f"  {preset:<16} {mode:<9} {failure}")
            return
        ips, flops = result["images_per_s"], training_flops(macs[preset]) if preset in macs else None
        util = mfu(macs[preset], ips, peak) if peak and preset in macs else None
        stage.rows.append((preset, mode, result["precision"], sizes.batch, f"{ips:.1f}",
                           fmt(baseline.get(preset) and ips / baseline[preset], ".2f"), fmt(result["peak_gib"], ".2f"),
                           f"{result['first_step_s']:.1f}", fmt(flops and flops / 1e9, ".3g"),
                           f"{100 * util:.1f}%" if util is not None else None))
        suite.log.say(f"  {preset:<16} {mode:<9} {ips:8.1f} images/s")

    for preset in sizes.presets:
        if "fvcore" not in suite.missing:
            macs[preset] = forward_macs(preset, sizes, device)
            free_memory(device)
        for mode in ("baseline", "fast"):
            try:
                result = time_training(preset, mode, sizes, device)
            except Exception as error:  # out of memory, say: the row says so, the next one runs
                suite.log.block(f"{preset} {mode}: traceback", traceback.format_exc())
                failed.append(f"{preset} {mode}")
                add(preset, mode, None, f"failed: {type(error).__name__}: {str(error).strip()[:120]}")
            else:
                baseline.setdefault(preset, result["images_per_s"] if mode == "baseline" else None)
                add(preset, mode, result)
            free_memory(device)

    for preset in sizes.compile_presets:
        seconds = min(sizes.compile_row_s, budget.left() - 3)
        if seconds < 15:
            add(preset, "compile", None, "not run: the stage's budget is spent")
            continue
        command = [sys.executable, str(Path(__file__).resolve()), "--compile-row", preset, "--device", str(device),
                   "--batch", str(sizes.batch), *(["--dry-run"] if suite.dry_run else [])]
        code, output = run_child(command, seconds, suite.work / f"compile-{preset}.log")
        suite.log.block(f"compile row {preset}", output)
        results = [line.removeprefix("RESULT ") for line in output.splitlines() if line.startswith("RESULT ")]
        if code == 0 and results:
            add(preset, "compile", json.loads(results[-1]))
        elif code is None:
            add(preset, "compile", None, f"timed out after {seconds:.0f} s (compiling)")
        else:
            failed.append(f"{preset} compile")
            add(preset, "compile", None, f"failed (exit status {code}; log.txt)")
    order = {preset: i for i, preset in enumerate(sizes.presets)}
    stage.rows.sort(key=lambda row: (order[row[0]], list(MODES).index(row[1])))
    stage.notes += [f"{mode}: {what}" for mode, what in MODES.items()]
    stage.notes += [f"input {sizes.input_res}², random images already on the device; images/s: median of "
                    f"{sizes.timed} synchronised steps after {sizes.warmup} warm-up steps (the first includes "
                    "cuDNN's autotuning or the compilation); peak memory: torch.cuda.max_memory_allocated, reset "
                    "per row; compile rows run in a process of their own, "
                    f"at most {sizes.compile_row_s:.0f} s each, backend {sizes.compile_backend}",
                    "training FLOP per image = 3 × 2 × fvcore's forward multiply-adds (the backward pass about "
                    "twice the forward); MFU = that × images/s over the device's 16-bit peak (environment)"]
    if failed:
        raise StageFailed(f"rows failed: {', '.join(failed)} (tracebacks in log.txt)")


# --- 6. loss curves ------------------------------------------------------------------------------

def read_log(out_dir: Path) -> list[dict]:
    with open(out_dir / "log.csv", newline="") as file:
        return list(csv.DictReader(file))


def write_curves(out: Path, curves: dict[str, list[tuple[int, float]]]) -> None:
    """losses.csv (step, one column per run) and losses.png (both curves, log scale)."""
    from matplotlib.figure import Figure

    names = list(curves)
    steps = sorted({step for curve in curves.values() for step, _ in curve})
    by_step = {name: dict(curve) for name, curve in curves.items()}
    with open(out / "losses.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["step", *(f"loss_{name}" for name in names)])
        writer.writerows([step, *(by_step[name].get(step, "") for name in names)] for step in steps)
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    for name, curve in curves.items():
        ax.plot(*zip(*curve), marker=".", label=name)
    ax.set(xlabel="step", ylabel="training loss", yscale="log", title="mean loss of the steps since the last point")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "losses.png", dpi=100)


def loss_curves(suite: Suite, stage: Stage, budget: Budget) -> None:
    """The course's run under bf16, then fp32, from the same seed. A run that the budget stops keeps the
    points it logged (the next is not started), and the stage is "timed out"."""
    curves, rows = {}, {}
    for amp, name in (("bf16", "bf16"), ("off", "fp32")):
        cfg = TrainConfig(**suite.sizes.curves, amp=amp, device=str(suite.device), progress=False,
                          out_dir=str(suite.work / f"curve-{name}"))
        started, metrics = time.perf_counter(), {}
        try:
            metrics = quietly(suite.log, f"train, amp={amp}", train, cfg)
        except RunInterrupted:
            if not budget.fired:
                raise
            stage.status = "timed out"
        seconds = time.perf_counter() - started
        logged = read_log(Path(cfg.out_dir)) if (Path(cfg.out_dir) / "log.csv").exists() else []
        curves[name] = [(int(row["step"]), float(row["loss"])) for row in logged]
        if curves[name]:
            rows[name] = [name, curves[name][-1][0], f"{curves[name][0][1]:.4g}", f"{curves[name][-1][1]:.4g}",
                          fmt(metrics.get("mean"), ".1f"), f"{seconds:.1f}"]
            suite.log.say(f"  {name}: loss {curves[name][0][1]:.4g} → {curves[name][-1][1]:.4g} in {seconds:.1f} s")
        if stage.status == "timed out":
            stage.notes.append(f"{name}: stopped by the budget after {len(curves[name])} points")
            break
    if drawn := {name: curve for name, curve in curves.items() if curve}:
        write_curves(suite.out, drawn)
    both = "bf16" in rows and "fp32" in rows and curves["bf16"][-1][0] == curves["fp32"][-1][0]
    change = relative_difference(curves["bf16"][-1][1], curves["fp32"][-1][1]) if both else None
    stage.columns = ("precision", "steps", "first point", "last point", "PCKh@0.5 mean (flip)", "seconds",
                     "last point vs fp32")
    stage.rows = [rows[name] + [vs] for name, vs in (("bf16", None if change is None else f"{100 * change:+.1f}%"),
                                                     ("fp32", "(the reference)")) if name in rows]
    stage.notes.insert(0, f"the course's SynthPose run ({TrainConfig().model}, seed 0) with {suite.sizes.curves}: a "
                          "point is the mean loss of the steps since the previous one (log.csv's per-epoch loss); "
                          "losses.csv and losses.png hold both curves")


# --- 7. a real recipe ----------------------------------------------------------------------------

def recipe(suite: Suite, stage: Stage, budget: Budget) -> None:
    """A short real run through train() to its final flip-test PCKh; stopped by the budget, the step it
    saved is scored instead."""
    cfg = TrainConfig(**suite.sizes.recipe, device=str(suite.device), progress=False,
                      out_dir=str(suite.work / "recipe"))
    started = time.perf_counter()
    try:
        metrics = quietly(suite.log, "train, recipe", train, cfg)
        steps, pckh = metrics["steps"], metrics.get("mean")
    except RunInterrupted as stopped:
        if not budget.fired:
            raise
        # The budget stopped it after a whole step, saved: score what it reached, and say so.
        stage.status = "timed out"
        model, saved = load_model(stopped.checkpoint)
        result = evaluate(model.to(suite.device), make_val_set(saved), flip=True, batch_size=saved.eval_batch_size,
                          device=suite.device)
        steps, pckh = load_checkpoint(stopped.checkpoint)["step"], result.metric.mean
        stage.notes.append(f"stopped by its budget at step {steps}: the PCKh is that step's")
    seconds = time.perf_counter() - started
    epochs = read_log(Path(cfg.out_dir)) if (Path(cfg.out_dir) / "log.csv").exists() else []  # none before epoch 1
    stage.columns = ("model", "input", "steps", "images seen", "PCKh@0.5 mean (flip)", "training images/s (last epoch)",
                     "seconds (all of train())")
    stage.rows = [(cfg.model, f"{cfg.input_res}²", steps, steps * cfg.batch_size, fmt(pckh, ".1f"),
                   fmt(float(epochs[-1]["images_per_s"]), ".0f") if epochs else None, f"{seconds:.0f}")]
    stage.notes.insert(0, f"SynthPose ({cfg.synth_difficulty}) with {suite.sizes.recipe}, batch {cfg.batch_size}, "
                       f"Adam {cfg.lr:g}, seed {cfg.seed}; scored on {cfg.val_images} validation images. The PCKh is "
                       "as measured, for this short run; no target is implied")
    suite.log.say(f"  {cfg.model}: {steps} steps, PCKh@0.5 {fmt(pckh, '.1f')} in {seconds:.0f} s")


# --- 8. notebooks --------------------------------------------------------------------------------

def run_notebook(source: Path, target: Path, cell_timeout: int) -> int:
    """Execute one solution notebook (`--run-notebook SRC DST`) as `hglearn course record` does, its
    kernel started in solutions/ (the notebooks read ../data and ../configs), and write the executed
    copy to `target`, even when a cell failed; solutions/ is never written."""
    from hglearn.course.notebooks import execute, read_notebook, write_notebook
    from hglearn.errors import CourseError

    notebook = read_notebook(source)
    try:
        execute(notebook, source, timeout=cell_timeout)
        return 0
    except CourseError as error:  # the cell that raised, and what
        print(f"FAILED: {str(error).splitlines()[0]}\n{error}", flush=True)
        return 1
    finally:
        write_notebook(notebook, target)


def recorded_seconds(path: Path) -> float:
    return json.loads(path.read_text())["metadata"].get("hglearn", {}).get("run_seconds", 0)


def notebooks(suite: Suite, stage: Stage, budget: Budget) -> None:
    """Every solution notebook in a process of its own, a few at a time (the longest first, so that the
    slots end together), each stopped when the stage's budget runs out; the copies go to notebooks.zip."""
    from hglearn.course.notebooks import solution_paths

    sizes, into = suite.sizes, suite.work / "notebooks"
    into.mkdir(parents=True, exist_ok=True)
    paths = [p for p in solution_paths(ROOT) if sizes.notebooks is None or p.stem in sizes.notebooks]
    waiting, running, done = sorted(paths, key=recorded_seconds, reverse=True), {}, {}
    env = child_env(**({"HGLEARN_QUICK": "1"} if sizes.quick_notebooks else {}))
    try:
        while waiting or running:
            while waiting and len(running) < sizes.parallel_notebooks:
                path = waiting.pop(0)
                command = [sys.executable, str(Path(__file__).resolve()), "--run-notebook", str(path),
                           str(into / path.name), "--cell-timeout", str(int(max(budget.left() - 5, 10)))]
                output = open(suite.work / f"{path.stem}.log", "w")
                running[path] = (subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                                  stdin=subprocess.DEVNULL, start_new_session=True),
                                 time.perf_counter(), output)
            for path, (process, started, output) in list(running.items()):
                finished = process.poll() is not None
                if not finished and budget.left() > 3:
                    continue
                if not finished:  # killed here, before the budget's SIGINT would reach this loop
                    kill_group(process)
                output.close()
                text = (suite.work / f"{path.stem}.log").read_text(errors="replace")
                suite.log.block(f"notebook {path.name}", text)
                result = ("passed" if process.returncode == 0 else "failed") if finished else "timed out"
                lines = text.strip().splitlines() if result == "failed" else []
                why = next((line.removeprefix("FAILED: ") for line in lines if line.startswith("FAILED: ")),
                           lines[-1] if lines else "")  # else a traceback's last line: a cell's timeout, say
                done[path] = (result, time.perf_counter() - started, why)
                suite.log.say(f"  {path.name}: {result} in {done[path][1]:.0f} s")
                del running[path]
            time.sleep(0.2)
    finally:
        for process, _, output in running.values():
            kill_group(process)
            output.close()
    stage.columns = ("notebook", "result", "seconds", "note")
    stage.rows = [(path.stem, *done[path][:1], f"{done[path][1]:.0f}", done[path][2][:200])
                  for path in paths if path in done]
    executed = sorted(into.glob("*.ipynb"))
    small = sum(p.stat().st_size for p in executed) < 15 * 2**20  # the GPU machine returns files of up to 16 MiB
    if executed and small:
        with zipfile.ZipFile(suite.out / "notebooks.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for path in executed:
                archive.write(path, path.name)
    kept = "notebooks.zip" if small else "the scratch folder only (over 15 MiB)"
    stage.notes.insert(0, f"executed with nbclient in solutions/ ({sizes.parallel_notebooks} at a time"
                          + (", HGLEARN_QUICK=1" if sizes.quick_notebooks else "") + "); "
                          + (f"the executed copies are in {kept}" if executed else "no executed copy was written"))
    if bad := [path.stem for path in paths if done.get(path, ("not run",))[0] != "passed"]:
        raise StageFailed(f"not passed: {', '.join(bad)}")


# --- the report, and the command line ------------------------------------------------------------

STAGES = (  # function, title, modules it needs, budget in seconds for the GPU call and for a dry run
    (environment, "Environment and device", (), 15, 60),
    (wheels, "Packages from the wheel folder", (), 40, 60),
    (unit_tests, "Unit tests", (), 50, 120),
    (cuda_checks, "The training step on the device", (), 30, 120),
    (throughput, "Training throughput", (), 120, 240),
    (loss_curves, "Loss curves, bf16 and fp32", (), 30, 120),
    (recipe, "A real recipe", (), 70, 120),
    (notebooks, "Solution notebooks", ("nbformat", "nbclient", "ipykernel", "fvcore", "torchinfo", "ipywidgets"),
     110, 180),
)


def summary_table(stages: list[Stage]) -> list[str]:
    return markdown_table(("stage", "status", "seconds", "budget (s)", "note"),
                          [(s.name, s.status, f"{s.seconds:.1f}", f"{s.budget_s:.0f}",
                            s.notes[-1] if s.status not in ("ok", "not run") and s.notes else "") for s in stages])


def write_results(suite: Suite, stages: list[Stage], command: str, started: float) -> None:
    """results.md: what ran where, a summary table, then each stage's table and notes."""
    lines = ["# GPU suite results", "",
             f"{name_of(suite.device)}, {'dry run' if suite.dry_run else 'real sizes'}, torch {torch.__version__}, "
             f"{time.strftime('%Y-%m-%d %H:%M %Z')}; `{command}`; {time.perf_counter() - started:.0f} s in all.", "",
             "## Summary", ""]
    lines += summary_table(stages)
    for index, stage in enumerate(stages, 1):
        lines += ["", f"## {index}. {stage.title} ({stage.name}: {stage.status})", ""]
        if stage.rows:
            lines += markdown_table(stage.columns, stage.rows)
        else:
            lines.append("(no rows)")
        if stage.notes:
            lines += [""] + [f"- {note}" for note in stage.notes]
    (suite.out / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="every stage at tiny sizes (a CPU in a minute)")
    parser.add_argument("--out", help="output folder (default: $OUT, else gpu_suite_out/ in the repository)")
    parser.add_argument("--wheels", type=Path, help="folder of wheels for the packages this machine lacks")
    parser.add_argument("--work", type=Path, help="scratch folder for runs (default: a temporary one, removed)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--batch", type=int, help="batch size of the throughput rows (default 32; 2 on a dry run)")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, for MFU")
    parser.add_argument("--stages", help=f"comma-separated subset of {','.join(s[0].__name__ for s in STAGES)}")
    parser.add_argument("--compile-row", help=argparse.SUPPRESS)  # a child process: one compile row
    parser.add_argument("--run-notebook", nargs=2, type=Path, help=argparse.SUPPRESS)  # a child: one notebook
    parser.add_argument("--cell-timeout", type=int, default=600, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.compile_row:
        return compile_row_main(args)
    if args.run_notebook:
        return run_notebook(*args.run_notebook, args.cell_timeout)
    try:
        device = pick_device(args.device)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if device.type != "cuda" and not args.dry_run:
        print(f"no CUDA GPU here ({device}): the real sizes take hours on a CPU; use --dry-run", file=sys.stderr)
        return 2
    chosen = args.stages.split(",") if args.stages else [s[0].__name__ for s in STAGES]
    if unknown := set(chosen) - {s[0].__name__ for s in STAGES}:
        print(f"unknown stages {', '.join(sorted(unknown))}; the stages are "
              f"{', '.join(s[0].__name__ for s in STAGES)}", file=sys.stderr)
        return 2
    sizes = dataclasses.replace(DRY if args.dry_run else REAL, **({"batch": args.batch} if args.batch else {}))
    out = Path(args.out or os.environ.get("OUT") or ROOT / "gpu_suite_out")
    out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_suite_"))
    work.mkdir(parents=True, exist_ok=True)
    suite = Suite(sizes, device, args.dry_run, out, work, Log(out / "log.txt"), args.wheels and args.wheels.resolve(),
                  device_peak(name_of(device), args.peak_tflops) if device.type == "cuda" or args.peak_tflops
                  else (None, "a CPU: no tensor-core peak (give --peak-tflops for an MFU)"))
    stages = [Stage(f.__name__, title, dry if args.dry_run else real, needs)
              for f, title, needs, real, dry in STAGES if f.__name__ in chosen]
    functions = {f.__name__: f for f, *_ in STAGES}
    command = "python benchmarks/gpu_suite.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    suite.log.say(f"gpu suite: {name_of(device)}, {'dry run' if args.dry_run else 'real sizes'}, stages' budgets "
                  f"{sum(s.budget_s for s in stages):.0f} s in all; out {out}, scratch {work}")
    suite.missing = set(missing_modules(NEEDED))  # the wheels stage installs what it can
    try:
        for stage in stages:
            run_stage(suite, stage, functions[stage.name])
            write_results(suite, stages, command, started)  # after every stage: a killed call keeps what ran
    finally:
        write_results(suite, stages, command, started)
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    failed = [s.name for s in stages if s.status in ("failed", "timed out")]
    print("\n".join(summary_table(stages)))  # the device's reply shows the end of the output
    suite.log.say(f"gpu suite: {len(stages) - len(failed)} of {len(stages)} stages ran without failing"
                  + (f"; failed: {', '.join(failed)}" if failed else "") + f"; {time.perf_counter() - started:.0f} s; "
                  f"results in {out / 'results.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
