"""Training: the `TrainConfig` dataclass and one flat `train(cfg)` loop.

    hglearn train                                   # the course's SynthPose run on a CPU
    hglearn train configs/mpii-newell-hg8.toml      # a paper's recipe on a GPU
    torchrun --nproc_per_node 4 -m hglearn.cli train configs/mpii-newell-hg8.toml

The loop, in order: learning rate, forward, loss, backward, step, log; at the end of an epoch,
evaluate, write the CSV log and the checkpoints. Checkpoints are written atomically, hold both
configs, the model, optimizer and scheduler states, the step, the epoch and the RNG state, and load
with `weights_only=True`; `resume` continues a run so that on a CPU it ends with the same weights as
an uninterrupted one.

Taught in notebooks/05_stacking.ipynb and notebooks/09_training_on_mpii.ipynb.
"""
import csv
import dataclasses
import io
import json
import math
import os
import pickle
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from hglearn.data.splits import eval_split, joint_set_of, make_dataset
from hglearn.data.transforms import Augmentation
from hglearn.evaluate import choose_metric, evaluate
from hglearn.files import atomic_path
from hglearn.dlm import dlm_loss
from hglearn.losses import stacked_heatmap_loss
from hglearn.models import ModelConfig, model_config


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Saved in every checkpoint; `hglearn train --key=value` sets any field.

    The defaults are the course's CPU run on SynthPose (see the README for what it reaches).
    channels, num_stacks, block and depth override the preset `model` when not None; channels is
    64 by default, for the CPU run: `--channels=none` keeps the preset's width (256 for the papers').
    num_joints always follows the dataset.
    dlm_weight is λ of SADI-Net's L = L_rfm + λ·L_dlm (used only by models with a DLM). The paper's
    value is lost; 0.1 is the best of benchmarks/dlm_lambda.py's SynthPose sweep over 0, 0.1, 1, 10
    (level with the MSE-only baseline there; λ = 1 and 10 scored lower: benchmarks/RESULTS.md).
    Epochs: a pass over the training set (SynthPose: over its `synth_images`). The learning rate
    is multiplied by lr_gamma at each epoch in lr_milestones. Validation PCKh is computed every
    `eval_every` epochs and at the end (every 10 by default: on a CPU each pass costs seconds that
    the 10-minute default run would rather train with); set 1 for a score in every row of log.csv.
    """

    model: str = "newell-hg1"
    channels: int | None = 64
    num_stacks: int | None = None
    block: str | None = None
    depth: int | None = None
    dataset: str = "synth"
    data_root: str | None = None
    synth_difficulty: str = "cluttered"
    synth_images: int = 4096
    val_images: int = 500
    input_res: int = 64
    sigma: float = 1.0
    augment: bool = True
    out_dir: str = "runs/synth"
    epochs: int = 52
    max_steps: int | None = None
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 2.5e-3
    lr_milestones: tuple[int, ...] = (40, 48)
    lr_gamma: float = 0.1
    weight_decay: float = 0.0
    eval_every: int = 10
    flip_test: bool = True
    seed: int = 0
    device: str = "auto"
    resume: str | None = None
    num_workers: int = 0
    amp: bool = True
    compile: bool = False
    progress: bool = True
    intermediate_supervision: bool = True
    dlm_weight: float = 0.1

    def __post_init__(self):
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"TrainConfig.optimizer must be 'adam' or 'rmsprop', got {self.optimizer!r}")
        if self.eval_every < 1:
            raise ValueError(f"TrainConfig.eval_every must be at least 1, got {self.eval_every}")
        if self.dlm_weight < 0:
            raise ValueError(f"TrainConfig.dlm_weight (λ of L_rfm + λ·L_dlm) must be >= 0, got {self.dlm_weight}")
        depth = self.model_config().depth  # also checks model, dataset and the overrides
        if self.input_res % (4 * 2**depth):
            raise ValueError(f"TrainConfig.input_res must be a multiple of {4 * 2 ** depth} for an hourglass of "
                             f"depth {depth} (the stem divides by 4, each level by 2), got {self.input_res}")

    def model_config(self) -> ModelConfig:
        overrides = {k: getattr(self, k) for k in ("channels", "num_stacks", "block", "depth")
                     if getattr(self, k) is not None}
        return model_config(self.model, num_joints=joint_set_of(self.dataset).num_joints, **overrides)


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss); the message says which checkpoint is safe."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, named in the message."""


# --- small pure helpers --------------------------------------------------------------------------

def training_loss(heatmaps: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                  cfg: TrainConfig, dlm: torch.nn.Module | None = None) -> torch.Tensor:
    """The loss the optimizer minimises. heatmaps: (B, S, J, h, w), every stack's prediction.

    With intermediate supervision (Newell et al. 2016, Sec. 3.4) every stack is compared with the
    target; without it only the last one is, as in a network that happens to be stacked.
    A SADI-Net with a DLM adds its learnable heatmaps' loss (Gao et al. 2023, Sec. III-E):
    L = L_rfm + λ·L_dlm with λ = cfg.dlm_weight, the DLM reading the last stack's heatmaps.
    """
    supervised = heatmaps if cfg.intermediate_supervision else heatmaps[:, -1:]
    loss = stacked_heatmap_loss(supervised.float(), target, weight)[0]
    if dlm is not None and cfg.dlm_weight:
        loss = loss + cfg.dlm_weight * dlm_loss(dlm(heatmaps[:, -1]), target, weight)
    return loss


def lr_factor(epoch: int, cfg: TrainConfig) -> float:
    """Step schedule: lr_gamma ** (milestones passed). SADI-Net: /10 at epochs 170 and 200."""
    return cfg.lr_gamma ** sum(epoch >= m for m in cfg.lr_milestones)


def make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    """RMSprop as Newell et al. (alpha 0.99, eps 1e-8, the Torch defaults) or Adam as SADI-Net."""
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.99, eps=1e-8, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


class EpochSampler(Sampler):
    """The indices of one epoch in an order fixed by (seed, epoch), from position `start` on.

    With several processes each takes every world_size-th index. Resuming mid-epoch therefore
    sees exactly the batches an uninterrupted run would have seen.
    """

    def __init__(self, size: int, seed: int, epoch: int, start: int = 0, rank: int = 0, world_size: int = 1):
        order = torch.randperm(size, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        self.indices = order[rank::world_size][start:].tolist()

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save through `atomic_path`: a crash never leaves a half-written checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with weights_only=True (no code runs); a bad file gets a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, pickle.UnpicklingError) as error:
        raise CheckpointError(f"{path} is not a readable hglearn checkpoint (truncated or corrupt?): {error}") from None
    missing = {"model_config", "train_config", "model"} - set(state) if isinstance(state, dict) else {"all"}
    if missing:
        raise CheckpointError(f"{path} is not an hglearn checkpoint: missing {sorted(missing)}")
    return state


def load_model(path: str | Path) -> tuple[torch.nn.Module, TrainConfig]:
    """The trained model (eval mode, CPU) and its TrainConfig, rebuilt from the checkpoint alone."""
    state = load_checkpoint(path)
    model = ModelConfig(**state["model_config"]).build()
    model.load_state_dict(state["model"])
    return model.eval(), TrainConfig(**state["train_config"])


def export_model(checkpoint: str | Path, out: str | Path) -> Path:
    """A checkpoint without its optimizer, scheduler and RNG state: the model, both configs and the
    training log, a third of the size, for sharing (the course ships one under data/checkpoints/).
    `load_model` reads it like any checkpoint; it cannot be resumed."""
    state = load_checkpoint(checkpoint)
    kept = {key: state[key] for key in ("model_config", "train_config", "model", "step", "best", "log") if key in state}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, kept)
    return out


def write_log(path: Path, rows: list[dict]) -> None:
    """The per-epoch log as CSV, written atomically."""
    lines = io.StringIO()
    writer = csv.DictWriter(lines, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(lines.getvalue())


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def write_curves(out_dir: Path, rows: list[dict]) -> None:
    """loss and validation PCKh per epoch, as out_dir/curves.png.

    Drawn on a bare Figure, not through pyplot, so a notebook's own figures and backend are untouched.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot([r["epoch"] for r in rows], [r["loss"] for r in rows])
    ax1.set(xlabel="epoch", ylabel="training loss", yscale="log")
    scored = [r for r in rows if r["val_pckh"] != ""]
    ax2.plot([r["epoch"] for r in scored], [r["val_pckh"] for r in scored], marker="o")
    ax2.set(xlabel="epoch", ylabel="validation PCKh@0.5 mean (%)")
    fig.tight_layout()
    fig.savefig(out_dir / "curves.png", dpi=100)


# --- the loop ------------------------------------------------------------------------------------

def train(cfg: TrainConfig) -> dict:
    """Train, evaluate and save; returns the final metrics (also in out_dir/metrics.json)."""
    started = time.perf_counter()
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = pick_device(cfg.device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank, world_size = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    out_dir = Path(cfg.out_dir)
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    model_cfg = cfg.model_config()
    model = model_cfg.build().to(device)
    data_args = dict(input_res=cfg.input_res, sigma=cfg.sigma, root=cfg.data_root, synth_difficulty=cfg.synth_difficulty)
    train_set = make_dataset(cfg.dataset, "train", augment=Augmentation() if cfg.augment else None, seed=cfg.seed,
                             synth_images=cfg.synth_images, **data_args)
    val_set = make_dataset(cfg.dataset, eval_split(cfg.dataset), synth_images=cfg.val_images, **data_args)
    choose_metric(val_set)  # a validation set that cannot be scored fails now, not after the first epochs
    steps_per_epoch = len(train_set) // (cfg.batch_size * world_size)
    if steps_per_epoch == 0:
        raise ValueError(f"{len(train_set)} training images make no batch of {cfg.batch_size} × {world_size} "
                         "processes: lower batch_size or use more images (synth_images)")
    max_steps = min(math.inf if cfg.max_steps is None else cfg.max_steps, cfg.epochs * steps_per_epoch)
    optimizer = make_optimizer(cfg, model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step // steps_per_epoch, cfg))
    step, best, rows = 0, -math.inf, []

    if cfg.resume:
        path = out_dir / "last.pt" if cfg.resume == "last" else Path(cfg.resume)
        state = load_checkpoint(path)
        if "optimizer" not in state:
            raise CheckpointError(f"{path} holds no optimizer state (an exported model?): it cannot be resumed")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, best, rows = state["step"], state["best"], state["log"]
        torch.set_rng_state(state["rng"])

    # channels_last suits both cuDNN's tensor cores and oneDNN on a CPU (a third faster here).
    model = model.to(memory_format=torch.channels_last)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    net = torch.compile(net) if cfg.compile else net
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda")

    def checkpoint(name: str) -> None:
        save_checkpoint(out_dir / name, {
            "model_config": dataclasses.asdict(model_cfg), "train_config": dataclasses.asdict(cfg),
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "step": step, "epoch": step // steps_per_epoch, "best": best, "log": rows, "rng": torch.get_rng_state(),
        })

    if rank == 0:
        print(f"training {model_cfg} on {cfg.dataset}: {len(train_set)} images, {max_steps} steps", flush=True)
    bar = tqdm(total=max_steps, initial=step, disable=not cfg.progress or rank != 0, desc="training", unit="step")
    while step < max_steps:
        epoch, start = divmod(step, steps_per_epoch)
        train_set.set_epoch(epoch)
        sampler = EpochSampler(len(train_set), cfg.seed, epoch, start * cfg.batch_size, rank, world_size)
        loader = DataLoader(train_set, cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
                            drop_last=True, pin_memory=device.type == "cuda")
        net.train()
        losses, epoch_started, seen = [], time.perf_counter(), 0
        for batch in loader:
            images = batch["image"].to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            target = batch["heatmaps"].to(device, non_blocking=True)
            weight = batch["target_weight"].to(device, non_blocking=True)
            with autocast:
                heatmaps = net(images)  # (B, S, J, h, w)
            loss = training_loss(heatmaps, target, weight, cfg, getattr(model, "dlm", None))
            bad = (~torch.isfinite(loss)).float()
            if distributed:  # every process must stop together, or the others wait forever
                dist.all_reduce(bad)
            if bad.item():
                kept = f"the last good checkpoint is {out_dir / 'last.pt'}" if rows else "no checkpoint was written yet"
                raise TrainingError(f"the loss is {loss.item()} at step {step}: stopping; {kept}. Try a lower lr.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step, seen = step + 1, seen + len(images) * world_size
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.2e}", epoch=epoch)
            if step >= max_steps or step % steps_per_epoch == 0:
                break

        epoch_done = step % steps_per_epoch == 0
        throughput = seen / (time.perf_counter() - epoch_started)
        val_pckh = ""
        if rank == 0 and (step >= max_steps or (epoch_done and (epoch + 1) % cfg.eval_every == 0)):
            val_pckh = evaluate(model, val_set, batch_size=64, device=device).metric.mean
        if rank == 0:
            rows.append({"epoch": round(step / steps_per_epoch, 3), "step": step,
                         "loss": float(np.mean(losses)), "lr": optimizer.param_groups[0]["lr"],
                         "images_per_s": throughput, "val_pckh": val_pckh})
            if val_pckh != "" and val_pckh > best:
                best = val_pckh
                checkpoint("best.pt")
            checkpoint("last.pt")
            write_log(out_dir / "log.csv", rows)
        if distributed:
            dist.barrier()
    bar.close()

    metrics = {}
    if rank == 0:
        result = evaluate(model, val_set, flip=cfg.flip_test, batch_size=64, device=device)
        metrics = {"pckh": result.metric.table, "pckh_mean": result.metric.mean,
                   "pckh_mean_weighted": result.metric.mean_weighted, "metric": result.metric.name,
                   "flip_test": cfg.flip_test, "steps": step, "seconds": time.perf_counter() - started}
        with atomic_path(out_dir / "metrics.json") as tmp:
            tmp.write_text(json.dumps(metrics, indent=2))
        write_curves(out_dir, rows)
        save_predictions(out_dir / "predictions.png", val_set, result.pred)
        print(f"\n{result.metric}\n\n{step} steps in {metrics['seconds'] / 60:.1f} min; outputs in {out_dir}")
    if distributed:
        dist.destroy_process_group()
    return metrics


def save_predictions(path: Path, dataset, pred: np.ndarray, count: int = 16) -> None:
    """The first `count` validation images with their predicted skeletons."""
    from hglearn.viz import save_pose_grid

    images = [dataset.read_image(i, dataset.records[i]) for i in range(min(count, len(dataset)))]
    save_pose_grid(path, images, list(pred[:count]), dataset.joint_set)
