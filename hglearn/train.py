"""Training: one flat `train(cfg)` loop and the named pieces it is made of.

    hglearn train                                   # the course's SynthPose run on a CPU
    hglearn train configs/mpii-newell-hg8.toml      # a paper's recipe on a GPU
    torchrun --nproc_per_node 4 -m hglearn train configs/mpii-newell-hg8.toml

The loop, in order: learning rate, forward, loss, backward, step; every `log_every` steps the host
reads the loss (the only point where it waits for the device) and stops on a non-finite one; at the
end of an epoch, evaluate, write the CSV log and the checkpoints (hglearn/checkpoints.py). A resumed
run continues so that on a CPU it ends with the same weights as an uninterrupted one.

Taught in notebooks/05_stacking.ipynb and notebooks/09_training_on_mpii.ipynb.
"""
import csv
import dataclasses
import io
import json
import math
import os
import signal
import socket
import threading
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from hglearn.checkpoints import load_checkpoint, save_checkpoint, stored_configs
from hglearn.config import TrainConfig
from hglearn.data.catalog import dataset_spec
from hglearn.data.splits import draw_pool, make_datasets
from hglearn.dlm import dlm_loss
from hglearn.errors import CheckpointError, ConfigError, RunInterrupted, TrainingError
from hglearn.evaluate import Evaluation, choose_metric, evaluate
from hglearn.files import atomic_path, remove_temporaries
from hglearn.losses import heatmap_mse, stacked_heatmap_loss
from hglearn.models import ModelConfig, count_parameters, model_config
from hglearn.precision import Precision, autocast_and_scaler, device_precision


def resolve_model(cfg: TrainConfig) -> ModelConfig:
    """The network a run trains: the preset `cfg.model` with the run's overrides, and as many joints
    as the dataset has. Called once per run; checkpoints store its result, not the preset's name."""
    overrides = {k: getattr(cfg, k) for k in ("channels", "num_stacks", "block", "depth") if getattr(cfg, k) is not None}
    model_cfg = model_config(cfg.model, num_joints=dataset_spec(cfg.dataset).joint_set.num_joints, **overrides)
    if cfg.input_res % (4 * 2**model_cfg.depth):
        raise ConfigError(f"TrainConfig.input_res must be a multiple of {4 * 2 ** model_cfg.depth} for an hourglass "
                          f"of depth {model_cfg.depth} (the stem divides by 4, each level by 2), got {cfg.input_res}")
    return model_cfg


# --- small pure helpers --------------------------------------------------------------------------

def training_loss(heatmaps: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, *,
                  intermediate_supervision: bool = True, dlm_weight: float = 0.0,
                  dlm: torch.nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss the optimizer minimises, and every stack's heatmap loss (S,), detached, for the log.

    heatmaps: (B, S, J, h, w). With intermediate supervision (Newell et al. 2016, Sec. 3.4) every
    stack is compared with the target; without it only the last one is, as in a network that happens
    to be stacked. A SADI-Net's DLM adds its learnable heatmaps' loss (Gao et al. 2023, Sec. III-E):
    L = L_rfm + λ·L_dlm with λ = dlm_weight, the DLM reading the last stack's heatmaps.
    """
    loss, per_stack = stacked_heatmap_loss(heatmaps.float(), target, weight)  # losses in float32
    if not intermediate_supervision:
        loss = heatmap_mse(heatmaps[:, -1].float(), target, weight)
    if dlm is not None and dlm_weight:
        loss = loss + dlm_weight * dlm_loss(dlm(heatmaps[:, -1]), target, weight)
    return loss, per_stack


def lr_factor(epoch: int, milestones: tuple[int, ...], gamma: float) -> float:
    """Step schedule: gamma ** (milestones passed), a milestone epoch already at the lower rate.
    SADI-Net: /10 at epochs 170 and 200."""
    return gamma ** sum(epoch >= m for m in milestones)


def cosine_factor(step: int, total_steps: int) -> float:
    """Half-cosine decay (Loshchilov & Hutter 2017, SGDR, without restarts): 1 at step 0, 0 at total_steps.

        factor(t) = ½·(1 + cos(π·t / T))
    """
    return 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))


def lr_at_step(step: int, steps_per_epoch: int, cfg: TrainConfig) -> float:
    """The factor on cfg.lr during optimizer step `step` (0-based): a linear warm-up over
    cfg.warmup_epochs, then the step schedule (`lr_factor` of the epoch) or the cosine over what is
    left of cfg.epochs. The warm-up's first step runs at lr/warmup_steps, its last at lr."""
    warmup = round(cfg.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    if cfg.lr_schedule == "cosine":
        return cosine_factor(step - warmup, cfg.epochs * steps_per_epoch - warmup)
    return lr_factor(step // steps_per_epoch, cfg.lr_milestones, cfg.lr_gamma)


def make_optimizer(name: str, params, *, lr: float, weight_decay: float = 0.0,
                   device: torch.device = torch.device("cpu")) -> torch.optim.Optimizer:
    """RMSprop as Newell et al. (alpha 0.99, eps 1e-8, the Torch defaults) or Adam as SADI-Net.

    Adam runs as one fused kernel over all parameters on the CPU and on CUDA: the same update,
    without a loop of small tensor operations per parameter (for the course model on 2 CPU cores
    the optimizer step fell from 8.2 to 3.1 ms of a step of about 105 ms, benchmarks/train_profile.py).
    RMSprop uses the foreach kernels, which batch the per-parameter operations.
    """
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-8, weight_decay=weight_decay, foreach=True)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=device.type in ("cpu", "cuda"))


class EpochSampler(Sampler):
    """The indices of one epoch in an order fixed by (seed, epoch), from position `start` on.

    With several processes each takes every world_size-th index. Resuming mid-epoch therefore
    sees exactly the batches an uninterrupted run would have seen.
    """

    def __init__(self, size: int, seed: int, epoch: int, start: int = 0, rank: int = 0, world_size: int = 1):
        # One generator seed per (seed, epoch); the prime keeps (seed, epoch) pairs from colliding.
        order = torch.randperm(size, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        self.indices = order[rank::world_size][start:].tolist()

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def pick_device(name: str) -> torch.device:
    """auto: CUDA when present, else the CPU. A device that is not there is a ConfigError now,
    before any work, not a traceback from deep inside torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r}: expected auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device {name!r}: this machine has no CUDA GPU that torch {torch.__version__} can use "
                              "(use --device=cpu or auto)")
        if (device.index or 0) >= count:
            raise ConfigError(f"device {name!r}: there are {count} CUDA GPUs, numbered 0 to {count - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r}: Apple's MPS is not available on this machine")
    return device


# --- the pieces of the loop ----------------------------------------------------------------------

@contextmanager
def distributed(device: torch.device):
    """(device, rank, world_size) of this process. Under torchrun (WORLD_SIZE > 1) the process group
    is joined here (NCCL on GPUs, gloo on a CPU) and left on the way out, error or not."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        yield device, 0, 1
        return
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        yield device, dist.get_rank(), dist.get_world_size()
    finally:
        dist.destroy_process_group()


def train_step(net, batch: dict, optimizer, scheduler, autocast, scaler, loss_fn, device,
               memory_format=torch.channels_last) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on one batch; returns the loss and per-stack losses, left on the device
    (reading them would make the host wait for the device). Also timed by benchmarks/train_throughput.py.

    The forward pass runs under `autocast` (hglearn.precision), the loss in float32. With float16 the
    scaler multiplies the loss by S before the backward pass and the step divides the gradients by S
    (skipping the step when one overflowed); the fused Adam kernel does both on the device, without
    reading the overflow flag on the host. Disabled, the scaler passes everything through.
    """
    images = batch["image"].to(device, non_blocking=True).contiguous(memory_format=memory_format)
    target = batch["heatmaps"].to(device, non_blocking=True)
    weight = batch["target_weight"].to(device, non_blocking=True)
    with autocast:
        heatmaps = net(images)  # (B, S, J, h, w)
    loss, per_stack = loss_fn(heatmaps, target, weight)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return loss.detach(), per_stack


def weights_finite(model) -> torch.Tensor:
    """Whether every parameter and buffer of `model` is finite, as a 0-d bool tensor (no host sync)."""
    return torch.stack([torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()]).all()


def stop_if_not_finite(loss_sum: torch.Tensor, step: int, world_size: int, last_good: str | None,
                       model=None) -> None:
    """Raise TrainingError when the summed loss is NaN or infinite, or, given `model` (just before a
    checkpoint is written), when its weights are: a step can make them non-finite while its own loss
    was finite. Every process stops at once (the others would wait forever otherwise). Reads the
    device: called every log_every steps and at the end of an epoch only."""
    loss_bad = ~torch.isfinite(loss_sum)
    bad = (loss_bad | ~weights_finite(model) if model is not None else loss_bad).float()
    if world_size > 1:
        dist.all_reduce(bad)
    if bad.item():
        what = f"the loss is {loss_sum.item()}" if loss_bad.item() else "the weights are not finite"
        kept = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
        raise TrainingError(f"{what} by step {step}: stopping; {kept}. Try a lower lr.")


class StopRequest:
    """SIGINT (Ctrl-C, or a notebook's interrupt) and SIGTERM while training: the first asks the
    loop to stop after the step it is in, so that the checkpoint it saves is a whole step; a second
    SIGINT interrupts at once. Outside the main thread (where handlers cannot be set) it does nothing."""

    def __init__(self):
        self.signal_number, self.previous = None, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {n: signal.signal(n, self.handle) for n in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def handle(self, number, frame):
        if number == signal.SIGINT and self.signal_number is not None:
            raise KeyboardInterrupt
        self.signal_number = number

    def now(self, synced: bool, world_size: int) -> bool:
        """Whether to stop here. Several processes agree only where they sync anyway (`synced`)."""
        if world_size == 1:
            return self.signal_number is not None
        if not synced:
            return False
        flag = torch.tensor(float(self.signal_number is not None))
        dist.all_reduce(flag)
        return bool(flag.item())

    def interrupted(self, step: int, max_steps: int, checkpoint: Path) -> RunInterrupted:
        number = self.signal_number or signal.SIGINT
        return RunInterrupted(f"stopped at step {step} of {max_steps} by {signal.Signals(number).name}; the run is "
                              f"saved in {checkpoint}", signal_number=number, checkpoint=checkpoint)


# Fields a resumed run may change: they say how long to go on, how to report, where and how fast to
# run, not what is learnt. Any other difference would silently be overruled by the saved state (the
# optimizer's lr) or break exactness (batch_size, seed), so it is refused.
MAY_CHANGE = ("epochs", "max_steps", "eval_every", "log_every", "eval_batch_size", "flip_test", "progress",
              "out_dir", "resume", "num_workers", "device", "amp", "compile", "data_root")


def config_changes(saved: TrainConfig, cfg: TrainConfig) -> dict[str, tuple]:
    """{field: (saved value, new value)} for every field that differs."""
    return {f.name: (getattr(saved, f.name), getattr(cfg, f.name)) for f in dataclasses.fields(cfg)
            if getattr(saved, f.name) != getattr(cfg, f.name)}


def resume(path: Path, cfg: TrainConfig, model_cfg: ModelConfig, model, optimizer, scheduler, scaler=None):
    """Load a run's state into model, optimizer, scheduler, the gradient scaler (when both the saved
    run and this one scale: its factor S carries on) and the RNG; returns step, best, the log and the
    allowed config changes. A changed field outside MAY_CHANGE is a ConfigError naming it."""
    state = load_checkpoint(path)
    if "optimizer" not in state:
        raise CheckpointError(f"{path} holds no optimizer state (an exported model?): it cannot be resumed")
    missing = sorted({"scheduler", "rng", "step", "best", "log"} - set(state))
    if missing or not isinstance(state["step"], int) or not isinstance(state["log"], list):
        problem = f"missing {', '.join(missing)}" if missing else "a malformed step or log"
        raise CheckpointError(f"{path} cannot be resumed: {problem}")
    saved_model, saved = stored_configs(state, path)
    changes = config_changes(saved, cfg)
    refused = {k: v for k, v in changes.items() if k not in MAY_CHANGE}
    if cfg.lr_schedule == "cosine" and "epochs" in changes:  # the cosine's length is the run's: it would jump
        refused["epochs"] = changes["epochs"]
    if saved_model != model_cfg:
        refused["model"] = (saved_model, model_cfg)
    if refused:
        listed = "; ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in refused.items())
        raise ConfigError(f"--resume={cfg.resume}: {path} was trained with other values of {', '.join(refused)} "
                          f"({listed}); resume with the saved values, or start a fresh out_dir")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        if scaler is not None and scaler.is_enabled() and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        first = str(error).splitlines()[0]
        raise CheckpointError(f"{path} cannot be resumed: its saved state does not fit ({first})") from None
    return state["step"], state["best"], state["log"], {k: v for k, v in changes.items() if k != "resume"}


@contextmanager
def run_lock(out_dir: Path, owner: bool):
    """One run per out_dir. The owner (rank 0) creates the folder and holds an advisory lock on
    out_dir/.lock while the run lasts; a second run is refused at once, naming the holder. The
    operating system releases the lock when the process ends, however it ends, so a crash leaves no
    stale lock behind. Without fcntl (Windows) runs are not locked."""
    if not owner:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    with open(out_dir / ".lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise TrainingError(f"{out_dir} is in use by {holder}: one run per out_dir; wait for it to end "
                                "or choose another out_dir") from None
        remove_temporaries(out_dir)  # left by writers killed mid-write; no other run can be writing now
        lock.seek(0)
        lock.truncate()
        lock.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_state(cfg: TrainConfig, model_cfg: ModelConfig, model, optimizer, scheduler, *, step: int,
              epoch: int, best: float, rows: list[dict], scaler=None, precision: Precision | None = None) -> dict:
    """What a checkpoint holds: both configs, the weights, the optimizer's, scheduler's and gradient
    scaler's states, where the run stands, its log, the precision chosen and why, and the RNG state
    that resuming restores."""
    return {"model_config": dataclasses.asdict(model_cfg), "train_config": dataclasses.asdict(cfg),
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
            "precision": precision.as_dict() if precision is not None else None,
            "step": step, "epoch": epoch, "best": best, "log": rows, "rng": torch.get_rng_state()}


def write_log(path: Path, rows: list[dict]) -> None:
    """The per-epoch log as CSV, written atomically (an unscored epoch's val_pckh is empty)."""
    lines = io.StringIO()
    writer = csv.DictWriter(lines, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(lines.getvalue())


def write_curves(path: Path, rows: list[dict]) -> None:
    """Training loss and validation PCKh per epoch, as a PNG.

    Drawn on a bare Figure, not through pyplot, so a notebook's own figures and backend are untouched.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot([r["epoch"] for r in rows], [r["loss"] for r in rows])
    ax1.set(xlabel="epoch", ylabel="training loss", yscale="log")
    scored = [r for r in rows if r["val_pckh"] is not None]
    ax2.plot([r["epoch"] for r in scored], [r["val_pckh"] for r in scored], marker="o")
    ax2.set(xlabel="epoch", ylabel="validation PCKh@0.5 mean (%)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")


def write_outputs(out_dir: Path, result: Evaluation, rows: list[dict], val_set, extra: dict) -> dict:
    """metrics.json (the final score's table, per joint, plus `extra`), curves.png and predictions.png."""
    from hglearn.viz import save_pose_grid

    metrics = {**result.metric.as_dict(), **extra}
    with atomic_path(out_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    write_curves(out_dir / "curves.png", rows)
    shown = range(min(16, len(val_set)))
    save_pose_grid(out_dir / "predictions.png", [val_set.image(i) for i in shown], list(result.pred[:16]),
                   val_set.joint_set)
    return metrics


class RunBatches(Sampler):
    """The batches of a whole run from `step` to `max_steps`, each a list of (epoch, index).

    Epoch e's batches are EpochSampler's order for (seed, e), cut into batches of batch_size, its
    last incomplete batch dropped, steps_per_epoch of them. The items carry their epoch, so the
    dataset draws that epoch's augmentation (PoseDataset keys it by (seed, epoch, index)) in whichever
    process reads them: one DataLoader serves the whole run and its worker processes live across
    epochs, and a run resumed at step k reads exactly the batches an uninterrupted run read from k.
    """

    def __init__(self, size: int, batch_size: int, steps_per_epoch: int, seed: int, step: int, max_steps: int,
                 rank: int = 0, world_size: int = 1):
        self.size, self.batch_size, self.steps_per_epoch, self.seed = size, batch_size, steps_per_epoch, seed
        self.step, self.max_steps, self.rank, self.world_size = step, max_steps, rank, world_size

    def __iter__(self):
        step = self.step
        while step < self.max_steps:
            epoch, start = divmod(step, self.steps_per_epoch)
            order = EpochSampler(self.size, self.seed, epoch, start * self.batch_size, self.rank, self.world_size).indices
            for b in range(min(self.steps_per_epoch - start, self.max_steps - step)):
                yield [(epoch, i) for i in order[b * self.batch_size:(b + 1) * self.batch_size]]
                step += 1

    def __len__(self) -> int:
        return self.max_steps - self.step


def data_workers(num_workers: int | None, device: torch.device) -> int:
    """DataLoader worker processes: as asked, or (none) 0 on a CPU, where a worker takes a core from
    the convolutions (RESULTS.md: 283-295 against 298-345 images/s on 2 cores), and one per core
    this process may use, at most 8, beside a GPU, which waits for the data otherwise."""
    if num_workers is not None:
        return num_workers
    if device.type != "cuda":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(8, cores)


def run_loader(train_set, cfg: TrainConfig, workers: int, step: int, steps_per_epoch: int, max_steps: int,
               rank: int, world_size: int, device: torch.device) -> DataLoader:
    """The one DataLoader of a run (RunBatches): worker processes start once, each keeps
    `prefetch_factor` batches ready, and on a GPU the batches land in pinned memory, from which the
    step's non_blocking copies overlap the device's work."""
    batches = RunBatches(len(train_set), cfg.batch_size, steps_per_epoch, cfg.seed, step, max_steps, rank, world_size)
    return DataLoader(train_set, batch_sampler=batches, num_workers=workers, pin_memory=device.type == "cuda",
                      prefetch_factor=4 if workers else None)


def fast_network(model, cfg: TrainConfig, device: torch.device, world_size: int):
    """The network the step runs: channels_last, DDP across processes, and torch.compile when asked,
    compiled once here for the whole run (the evaluation uses the plain `model`)."""
    model = model.to(memory_format=torch.channels_last)  # suits cuDNN and oneDNN on a CPU (a third faster here)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    net = torch.nn.parallel.DistributedDataParallel(model) if world_size > 1 else model
    return torch.compile(net) if cfg.compile else net


def log_row(epoch: float, step: int, means: list[float], lr: float, val_pckh: float | None, images_per_s: float,
            elapsed_s: float) -> dict:
    """One row of log.csv: the epoch's mean loss, then each stack's (loss_stack1 ... loss_stackS), the
    learning rate, the validation score, the epoch's training images/s and the run's wall time so far
    (from the start of `train`, image drawing and scoring included, summed over resumed sessions)."""
    stacks = {f"loss_stack{s + 1}": value for s, value in enumerate(means[1:])}
    return {"epoch": round(epoch, 3), "step": step, "loss": means[0], **stacks, "lr": lr, "val_pckh": val_pckh,
            "images_per_s": images_per_s, "elapsed_s": round(elapsed_s, 2)}


def save_epoch(out_dir: Path, rows: list[dict], best: float, state) -> float:
    """last.pt, best.pt when this epoch's score beats `best`, and log.csv; returns the new best.
    `state(best=...)` builds the checkpoint's dict."""
    score = rows[-1]["val_pckh"]
    if score is not None and score > best:
        best = score
        save_checkpoint(out_dir / "best.pt", state(best=best))
    save_checkpoint(out_dir / "last.pt", state(best=best))
    write_log(out_dir / "log.csv", rows)
    return best


def build_run(cfg: TrainConfig, device: torch.device, world_size: int):
    """A run's pieces, built in the order that fixes what the seed means: the network (seeded), the
    data sets, the step count, the optimizer and its per-epoch schedule."""
    torch.manual_seed(cfg.seed)
    model_cfg = resolve_model(cfg)
    model = model_cfg.build().to(device)
    train_set, val_set = make_datasets(cfg)
    choose_metric(val_set)  # a validation set that cannot be scored fails now, not after the first epochs
    steps_per_epoch = len(train_set) // (cfg.batch_size * world_size)
    if steps_per_epoch == 0:
        raise ConfigError(f"{len(train_set)} training images make no batch of {cfg.batch_size} × {world_size} "
                          "processes: lower batch_size or use more images (synth_images)")
    max_steps = min(cfg.max_steps if cfg.max_steps is not None else math.inf, cfg.epochs * steps_per_epoch)
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                               device=device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(lr_at_step, steps_per_epoch=steps_per_epoch, cfg=cfg))
    return model_cfg, model, train_set, val_set, steps_per_epoch, max_steps, optimizer, scheduler


# --- the loop ------------------------------------------------------------------------------------

def train(cfg: TrainConfig) -> dict:
    """Train, evaluate and save; returns the final metrics (also in out_dir/metrics.json)."""
    started, out_dir = time.perf_counter(), Path(cfg.out_dir)
    with distributed(pick_device(cfg.device)) as (device, rank, world_size), run_lock(out_dir, rank == 0):
        model_cfg, model, train_set, val_set, steps_per_epoch, max_steps, optimizer, scheduler = build_run(
            cfg, device, world_size)
        precision, workers = device_precision(cfg.amp, device), data_workers(cfg.num_workers, device)
        autocast, scaler = autocast_and_scaler(precision, device)
        step, best, rows, changes, saved = 0, -math.inf, [], {}, None  # saved: the checkpoint a resume would use
        if cfg.resume:
            path = out_dir / "last.pt" if cfg.resume == "last" else Path(cfg.resume)
            step, best, rows, changes = resume(path, cfg, model_cfg, model, optimizer, scheduler, scaler)
            saved = f"{path} (step {step})"
            if rank == 0 and rows:  # a kill between last.pt and log.csv left the log one epoch behind
                write_log(out_dir / "log.csv", rows)
        earlier_s = rows[-1].get("elapsed_s", 0.0) if rows else 0.0  # a resumed run's wall time before this session
        if rank == 0:
            if changes:
                print(f"resuming at step {step} with " + ", ".join(f"{k} {a} → {b}" for k, (a, b) in changes.items()))
            print(f"training {model_cfg} ({count_parameters(model):,} parameters) on {cfg.dataset}: "
                  f"{len(train_set)} images, {max_steps} steps", flush=True)
            print(f"precision: {precision.reason}; {workers} data worker processes", flush=True)
        # Drawn here, before any worker starts: the training bar's estimate holds from the start, and
        # forked workers share the one pool instead of each drawing (and holding) all of it.
        for dataset, what in ((train_set, "training"), (val_set, "validation")):
            draw_pool(dataset, progress=cfg.progress and rank == 0, desc=f"drawing the {what} images")
        net = fast_network(model, cfg, device, world_size)
        state = partial(run_state, cfg, model_cfg, model, optimizer, scheduler, scaler=scaler, precision=precision)
        loss_fn = partial(training_loss, intermediate_supervision=cfg.intermediate_supervision,
                          dlm_weight=cfg.dlm_weight, dlm=model.dlm if model_cfg.dlm else None)
        bar = tqdm(total=max_steps, initial=step, disable=not cfg.progress or rank != 0, desc="training", unit="step")
        batches = iter(run_loader(train_set, cfg, workers, step, steps_per_epoch, max_steps, rank, world_size, device))
        with StopRequest() as stop:
            while step < max_steps:
                epoch = step // steps_per_epoch
                net.train()
                sums, steps, epoch_started = 0, 0, time.perf_counter()  # sums: (1 + S,) loss and per-stack losses
                for batch in batches:
                    loss, per_stack = train_step(net, batch, optimizer, scheduler, autocast, scaler, loss_fn, device)
                    sums, step, steps = sums + torch.cat([loss[None], per_stack]).double(), step + 1, steps + 1
                    bar.update()
                    epoch_done, synced = step >= max_steps or step % steps_per_epoch == 0, step % cfg.log_every == 0
                    if epoch_done or synced:  # the host waits for the device only here
                        stop_if_not_finite(sums[0], step, world_size, saved, model if epoch_done else None)
                        bar.set_postfix(loss=f"{sums[0].item() / steps:.2e}", epoch=epoch)
                    if epoch_done:
                        break
                    if stop.now(synced, world_size):  # a whole step, mid-epoch: save it, then stop
                        stop_if_not_finite(sums[0], step, world_size, saved, model)
                        if rank == 0:
                            save_checkpoint(out_dir / "last.pt", state(step=step, epoch=epoch, best=best, rows=rows))
                        raise stop.interrupted(step, max_steps, out_dir / "last.pt")
                if rank == 0:
                    seconds = time.perf_counter() - epoch_started
                    scored = step >= max_steps or (step % steps_per_epoch == 0 and (epoch + 1) % cfg.eval_every == 0)
                    val = evaluate(model, val_set, batch_size=cfg.eval_batch_size, device=device) if scored else None
                    rows.append(log_row(step / steps_per_epoch, step, (sums / steps).tolist(), optimizer.param_groups[0]["lr"],
                                        val.metric.mean if val else None, steps * cfg.batch_size * world_size / seconds,
                                        earlier_s + time.perf_counter() - started))
                    best = save_epoch(out_dir, rows, best, partial(state, step=step, epoch=step // steps_per_epoch, rows=rows))
                saved = f"{out_dir / 'last.pt'} (step {step})"
                if world_size > 1:
                    dist.barrier()
                if step < max_steps and stop.now(True, world_size):  # the epoch's checkpoint is saved
                    raise stop.interrupted(step, max_steps, out_dir / "last.pt")
        bar.close()

        if rank != 0:
            return {}
        result = evaluate(model, val_set, flip=cfg.flip_test, batch_size=cfg.eval_batch_size, device=device)
        seconds = time.perf_counter() - started
        metrics = write_outputs(out_dir, result, rows, val_set, {"flip_test": cfg.flip_test, "steps": step,
                                                                 "seconds": seconds})
        print(f"\n{result.metric}\n\n{step} steps in {seconds / 60:.1f} min; outputs in {out_dir}")
        return metrics
