"""Time to accuracy: the default training run and a faster candidate recipe, one after the other, on this machine.

    python benchmarks/time_to_accuracy.py                  # both recipes, about 16 minutes on 2 cores
    python benchmarks/time_to_accuracy.py --only candidate # one recipe only

Each recipe runs through `hglearn.train.train` exactly as `hglearn train` runs it, scoring the
validation set every `--eval-every` epochs (without the flip test, as during any run), so that
validation PCKh@0.5 can be drawn against the run's wall time (image drawing, training and scoring
included; `elapsed_s` in log.csv). The final score is the run's own: the flip test on the same 500
cluttered SynthPose images. The table states when each run first reached the default's final
score, and the plot shows both curves. Both run with today's code (the fused Adam kernel
included), so the gap between them is the recipe's alone.

The candidate is the best recipe of a search on this machine (benchmarks/RESULTS.md): batch 16,
no augmentation (SynthPose already varies pose, size, position and rotation, and its validation
images are not augmented), σ = 1.5 heatmap pixels, Adam 4e-3, /10 at epochs 13 and 15 of 16.

Writes benchmarks/time_to_accuracy.png and a section of benchmarks/RESULTS.md.
"""
import argparse
import csv
import json
import os
import platform
import tempfile
from pathlib import Path

import torch

from results_file import RESULTS, update_results

from hglearn.config import TrainConfig, override, parse_value
from hglearn.train import train

# default: TrainConfig()'s, 52 epochs of batch 32, augmented, σ 1, Adam 2.5e-3 /10 at epochs 40 and 48.
CANDIDATE = {"epochs": 16, "batch_size": 16, "augment": False, "sigma": 1.5, "lr": 4e-3, "lr_schedule": "step",
             "lr_milestones": (13, 15), "lr_gamma": 0.1}
RECIPES = {"default": {}, "candidate": CANDIDATE}
PLOT = Path(__file__).resolve().parent / "time_to_accuracy.png"


def run_recipe(name: str, changes: dict, out_dir: Path) -> dict:
    """Train one recipe; returns its config, its curve [(seconds, epoch, val PCKh)] and final metrics."""
    cfg = override(TrainConfig(progress=False), **{"out_dir": str(out_dir / name), **changes})
    print(f"--- {name}: " + ", ".join(f"{k}={getattr(cfg, k)}" for k in ("epochs", "lr", "lr_schedule", "lr_milestones",
                                                                      "warmup_epochs", "batch_size")), flush=True)
    metrics = train(cfg)
    with open(out_dir / name / "log.csv") as f:
        curve = [(float(r["elapsed_s"]), float(r["epoch"]), float(r["val_pckh"])) for r in csv.DictReader(f)
                 if r["val_pckh"]]
    return {"cfg": cfg, "curve": curve, "metrics": metrics}


def first_reaching(curve: list[tuple[float, float, float]], score: float) -> tuple[float, float] | None:
    """(seconds, epoch) of the first point of `curve` at or above `score`, or None."""
    return next(((seconds, epoch) for seconds, epoch, value in curve if value >= score), None)


def summary(runs: dict[str, dict]) -> list[str]:
    """The markdown table: per recipe, when it first reached the default run's final score, its
    final flip-test score and its total wall time."""
    target = runs["default"]["curve"][-1][2] if "default" in runs else None
    rows = ["| recipe | epochs | batch, augmentation, σ | schedule | time to the default's final validation PCKh "
            f"({target:.1f}%, no flip) | final PCKh@0.5, flip test | total wall time |" if target is not None else
            "| recipe | epochs | batch, augmentation, σ | schedule | — | final PCKh@0.5, flip test | total wall time |",
            "|---|---:|---|---|---:|---:|---:|"]
    for name, run in runs.items():
        cfg, metrics = run["cfg"], run["metrics"]
        reached = first_reaching(run["curve"], target) if target is not None else None
        when = f"{reached[0]:.0f} s (epoch {reached[1]:g})" if reached else "not reached"
        schedule = (f"step ×{cfg.lr_gamma:g} at {','.join(map(str, cfg.lr_milestones))}" if cfg.lr_schedule == "step"
                    else "cosine") + f", lr {cfg.lr:g}" + (f", warm-up {cfg.warmup_epochs:g} epoch" if cfg.warmup_epochs
                                                          else "")
        data = f"{cfg.batch_size}, {'augmented' if cfg.augment else 'none'}, {cfg.sigma:g}"
        rows.append(f"| {name} | {cfg.epochs} | {data} | {schedule} | {when} | {metrics['mean']:.1f} | "
                    f"{metrics['seconds']:.0f} s ({metrics['seconds'] / 60:.1f} min) |")
    return rows


def curve_table(runs: dict[str, dict]) -> list[str]:
    rows = ["| recipe | wall time (s) | epoch | validation PCKh@0.5 (no flip) |", "|---|---:|---:|---:|"]
    for name, run in runs.items():
        rows += [f"| {name} | {seconds:.0f} | {epoch:g} | {value:.1f} |" for seconds, epoch, value in run["curve"]]
    return rows


def plot(runs: dict[str, dict], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for name, run in runs.items():
        seconds, _, values = zip(*run["curve"])
        line, = ax.plot([s / 60 for s in seconds], values, marker="o", markersize=3, label=f"{name} (validation, no flip)")
        ax.plot([run["metrics"]["seconds"] / 60], [run["metrics"]["mean"]], marker="*", markersize=12,
                color=line.get_color(), linestyle="none", label=f"{name}: final, flip test")
    ax.axvline(10, color="grey", linestyle=":", label="the 10-minute budget")
    ax.set(xlabel="wall time (minutes)", ylabel="PCKh@0.5 mean (%)", ylim=(0, 100),
           title="Course model on cluttered SynthPose, 2 CPU threads")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(RECIPES), help="run one recipe only")
    parser.add_argument("--eval-every", type=int, default=2, help="epochs between validation scores (the curve)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change a TrainConfig field in both recipes (for a quick trial: synth_images=64)")
    parser.add_argument("--no-save", action="store_true", help="print only; leave RESULTS.md and the plot alone")
    args = parser.parse_args(argv)
    extra = {k: parse_value(TrainConfig, k, v) for k, v in (item.split("=", 1) for item in args.set)}
    names = [args.only] if args.only else list(RECIPES)
    with tempfile.TemporaryDirectory(prefix="time-to-accuracy-") as tmp:
        runs = {name: run_recipe(name, {"eval_every": args.eval_every, **RECIPES[name], **extra}, Path(tmp))
                for name in names}
    rows = summary(runs) + [""] + curve_table(runs)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, torch {torch.__version__}"
    note = (f"Produced by `python benchmarks/time_to_accuracy.py" + "".join(f" --set {s}" for s in args.set)
            + f"` ({machine}); validation every {next(iter(runs.values()))['cfg'].eval_every} epochs; the plot is "
            "benchmarks/time_to_accuracy.png.")
    print("\n".join(rows) + "\n\n" + note)
    if not args.no_save:
        plot(runs, PLOT)
        update_results("time-to-accuracy", "Time to accuracy of the default run (CPU)", "\n".join(rows) + "\n\n" + note + "\n")
        print(f"updated {RESULTS} and {PLOT}")
    print(json.dumps({name: {"final": run["metrics"]["mean"], "seconds": run["metrics"]["seconds"]}
                      for name, run in runs.items()}))
    return runs


if __name__ == "__main__":
    main()
