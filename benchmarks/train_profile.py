"""Where one epoch of a training run spends its time, phase by phase.

    python benchmarks/train_profile.py                       # the default run (TrainConfig())
    python benchmarks/train_profile.py --set batch_size=64   # any TrainConfig field changed
    python benchmarks/train_profile.py --label before        # the row's name in RESULTS.md

Builds the run exactly as `hglearn.train.train` does (`build_run`, `run_loader`, `fast_network`,
the loss), then times, with a wall clock around each phase: drawing the image pools; producing
the batches (crop, augmentation and target rendering, and collation), which the loop does in
the DataLoader, in worker processes when num_workers > 0; the copy to the model's device and
memory format; the forward pass; the loss; the backward pass; the optimizer and scheduler step;
one scoring of the validation set as the loop does it during training; and the final flip-test
evaluation. On a CPU every phase finishes before the clock stops, so the phases add up to the
epoch; on a GPU the script synchronises around each phase, which is slower than the real loop.
Prints the table and writes it into benchmarks/RESULTS.md under the given label.
"""
import argparse
import platform
import time
from collections import defaultdict
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import torch

from results_file import RESULTS, update_results

from hglearn.config import TrainConfig, override, parse_value
from hglearn.data.splits import draw_pool
from hglearn.evaluate import evaluate
from hglearn.precision import autocast_and_scaler, device_precision
from hglearn.train import build_run, data_workers, fast_network, pick_device, run_loader, training_loss

PHASES = ("drawing the image pools", "batches: crop, augmentation, targets, collation", "copy to the model",
          "forward", "loss", "backward", "optimizer step", "validation scoring (once)",
          "final flip-test evaluation")


class Clock:
    """Wall time per phase; on CUDA each phase waits for the device before the clock stops."""

    def __init__(self, device: torch.device):
        self.device, self.seconds = device, defaultdict(float)

    @contextmanager
    def phase(self, name: str):
        start = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.seconds[name] += time.perf_counter() - start


def profile_epoch(cfg: TrainConfig, steps: int | None = None) -> tuple[dict[str, float], int]:
    """Seconds per phase of the first epoch of `cfg` (or its first `steps` steps) and the steps timed."""
    device = pick_device(cfg.device)
    clock = Clock(device)
    model_cfg, model, train_set, val_set, steps_per_epoch, max_steps, optimizer, scheduler = build_run(cfg, device, 1)
    with clock.phase(PHASES[0]):
        draw_pool(train_set, progress=False)
        draw_pool(val_set, progress=False)
    net = fast_network(model, cfg, device, 1)
    autocast, scaler = autocast_and_scaler(device_precision(cfg.amp, device), device)
    loss_fn = partial(training_loss, intermediate_supervision=cfg.intermediate_supervision,
                      dlm_weight=cfg.dlm_weight, dlm=model.dlm if model_cfg.dlm else None)
    net.train()
    batches = iter(run_loader(train_set, cfg, data_workers(cfg.num_workers, device), 0, steps_per_epoch, max_steps,
                              0, 1, device))
    timed = min(steps or steps_per_epoch, steps_per_epoch)
    for _ in range(timed):
        with clock.phase(PHASES[1]):
            batch = next(batches)
        with clock.phase(PHASES[2]):
            images = batch["image"].to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            target = batch["heatmaps"].to(device, non_blocking=True)
            weight = batch["target_weight"].to(device, non_blocking=True)
        with clock.phase(PHASES[3]), autocast:
            heatmaps = net(images)
        with clock.phase(PHASES[4]):
            loss, _ = loss_fn(heatmaps, target, weight)
        with clock.phase(PHASES[5]):
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
        with clock.phase(PHASES[6]):
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
    with clock.phase(PHASES[7]):
        evaluate(model, val_set, batch_size=cfg.eval_batch_size, device=device)
    with clock.phase(PHASES[8]):
        evaluate(model, val_set, flip=cfg.flip_test, batch_size=cfg.eval_batch_size, device=device)
    return dict(clock.seconds), timed


def table(label: str, cfg: TrainConfig, seconds: dict[str, float], steps: int) -> list[str]:
    """The markdown rows of one profile: seconds, share of the epoch's steps, ms per step."""
    step_phases = PHASES[1:7]
    epoch = sum(seconds[p] for p in step_phases)
    rows = [f"**{label}**: {cfg.model}, {cfg.input_res}² input, batch {cfg.batch_size}, num_workers "
            f"{cfg.num_workers}, {steps} steps ({steps * cfg.batch_size / epoch:.0f} training images/s over the "
            "timed steps)", "", "| phase | seconds | share of the steps | ms per step |", "|---|---:|---:|---:|"]
    for phase in PHASES:
        share = f"{100 * seconds[phase] / epoch:.0f}%" if phase in step_phases else ""
        per_step = f"{1000 * seconds[phase] / steps:.1f}" if phase in step_phases else ""
        rows.append(f"| {phase} | {seconds[phase]:.2f} | {share} | {per_step} |")
    return rows + [f"| the timed steps, all phases | {epoch:.2f} | 100% | {1000 * epoch / steps:.1f} |", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change a TrainConfig field (repeatable)")
    parser.add_argument("--steps", type=int, default=None, help="time only this many steps (default: one epoch)")
    parser.add_argument("--label", default="default run", help="the profile's name in RESULTS.md")
    parser.add_argument("--no-save", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    changes = dict(item.split("=", 1) for item in args.set)
    cfg = override(TrainConfig(progress=False), **{k: parse_value(TrainConfig, k, v) for k, v in changes.items()})
    seconds, steps = profile_epoch(cfg, args.steps)
    rows = table(args.label, cfg, seconds, steps)
    print("\n".join(rows))
    if args.no_save:
        return
    name = "train-profile-" + "".join(c if c.isalnum() else "-" for c in args.label.lower())
    note = (f"Produced by `python benchmarks/train_profile.py --label \"{args.label}\""
            + "".join(f" --set {s}" for s in args.set) + f"` on {platform.machine()} with {torch.get_num_threads()} "
            f"CPU threads, torch {torch.__version__}, one epoch after the pools are drawn.\n")
    update_results(name, f"Where a training epoch's time goes: {args.label}", "\n".join(rows) + "\n" + note)
    print(f"updated {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
