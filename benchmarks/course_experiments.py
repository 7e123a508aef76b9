"""The long runs behind notebook 05's comparisons: 1 vs 2 stacks, with and without intermediate
supervision, and the extra skip, each design trained with seeds 0, 1 and 2 on SynthPose (CPU).

    nice -n 10 python benchmarks/course_experiments.py --workers 2           # 12 runs, 2 at a time (28 min)
    nice -n 10 python benchmarks/course_experiments.py --workers 2 --resume  # continue: finished runs are skipped
    python benchmarks/course_experiments.py --dry-run --out /tmp/x           # 1 step per run, tiny sizes (the test)

Every design is notebook 05's (its training cell's `runs`) on the same recipe, RECIPE below: the
course's 32-channel depth-3 network at 64 px on cluttered SynthPose with augmentation, Adam with
a ×0.1 drop for the last epoch, the same number of steps for every design and seed, validation
PCKh@0.5 (no flip) on the 500 fixed validation images after every epoch, and the final score with
the flip test. The notebook's own live run is far shorter (192 steps on plain backgrounds, one seed);
these runs are four times as long, on harder images, with three seeds, so that the notebook can show
how far apart the designs are against how far apart the seeds are. (At 768 steps, about 25% PCKh,
none of the designs' differences went beyond the seed spread: data/experiments/, 2026-12-01.)

Writes, in --out (data/experiments/):
  stacking.csv        one row per run and epoch: design, seed, epoch, step, loss, val_pckh, elapsed_s
  stacking_final.csv  one row per run: design, seed, steps, final_pckh_flip, seconds
and the plot benchmarks/course_experiments.png; prints the table of hglearn.course.experiments.

A run's rows are appended when it finishes (its epochs first, then its final row), so a killed
script loses at most the runs it was in (one per worker); --resume drops the epoch rows of a run
without a final row and runs only what is missing. Every run uses one CPU thread (--threads): on
a machine that other jobs kept busy (load about 10 on 2 cores), two threads of one run spent 156 ms
of CPU per training image against 4.7 ms for one thread, measured once (most likely the threads'
spin-waiting for each other whenever one of them is descheduled), so two single-thread runs side by
side (--workers 2) use the same two cores far better. With one thread the scores are deterministic per seed on one machine; the wall times
(elapsed_s, seconds) depend on the load and are kept only as a record.
"""
import argparse
import contextlib
import csv
import io
import multiprocessing
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from hglearn.config import TrainConfig, override
from hglearn.course import experiments
from hglearn.train import train

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "experiments"
PLOT = ROOT / "benchmarks" / "course_experiments.png"

# notebook 05's four designs, with the same changes to the recipe as its training cell
DESIGNS = {
    "1 stack": dict(num_stacks=1),
    "2 stacks": dict(num_stacks=2),
    "2 stacks, last supervised only": dict(num_stacks=2, intermediate_supervision=False),
    "2 stacks, extra skip": dict(num_stacks=2, model="lightweight-hg2", block="bottleneck"),
}
SEEDS = (0, 1, 2)
# 6 epochs × 128 steps of 16 images = 768 steps (12,288 images) per run; the last epoch at lr/10.
RECIPE = dict(channels=32, depth=3, input_res=64, synth_difficulty="cluttered", augment=True, synth_images=2048,
              val_images=500, batch_size=16, epochs=6, optimizer="adam", lr=4e-3, lr_schedule="step",
              lr_milestones=(5,), lr_gamma=0.1, eval_every=1, flip_test=True, progress=False)
DRY_RUN = dict(RECIPE, synth_images=16, val_images=16, epochs=1)  # one step per run

LOG_FIELDS = ("design", "seed", "epoch", "step", "loss", "val_pckh", "elapsed_s")
FINAL_FIELDS = ("design", "seed", "steps", "final_pckh_flip", "seconds")


def run_one(design: str, seed: int, recipe: dict, tmp: Path) -> tuple[list[dict], dict]:
    """Train one design with one seed; returns its per-epoch rows and its final row."""
    cfg = override(TrainConfig(), **{**recipe, **DESIGNS[design], "seed": seed, "out_dir": str(tmp)})
    with contextlib.redirect_stdout(io.StringIO()):  # train()'s own table; the summary is printed here
        metrics = train(cfg)
    with open(tmp / "log.csv", newline="") as f:
        rows = [{"design": design, "seed": seed, "epoch": float(r["epoch"]), "step": int(r["step"]),
                 "loss": float(f"{float(r['loss']):.6g}"), "val_pckh": round(float(r["val_pckh"]), 3),
                 "elapsed_s": float(r["elapsed_s"])} for r in csv.DictReader(f)]
    final = {"design": design, "seed": seed, "steps": metrics["steps"],
             "final_pckh_flip": round(metrics["mean"], 3), "seconds": round(metrics["seconds"], 1)}
    return rows, final


def run_alone(job: tuple[str, int, dict, int]) -> tuple[list[dict], dict]:
    """run_one in a temporary folder with `threads` CPU threads (a worker process's task)."""
    design, seed, recipe, threads = job
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="course-experiments-") as tmp:
        return run_one(design, seed, recipe, Path(tmp))


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, fields: tuple[str, ...], rows: list[dict], append: bool) -> None:
    """Append rows (the header first when the file is new), or write the file anew."""
    new = not append or not path.exists()
    with open(path, "w" if not append else "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerows(rows)
        f.flush()
        os.fsync(f.fileno())


def finished_runs(out: Path) -> set[tuple[str, int]]:
    """The (design, seed) pairs with a final row. Rewrites both files in DESIGNS' order, seed by
    seed (workers finish in any order), without the epoch rows of a run that has no final row."""
    def order(row: dict) -> tuple:
        design = list(DESIGNS).index(row["design"]) if row["design"] in DESIGNS else len(DESIGNS)
        return design, row["design"], int(row["seed"]), int(row.get("step", 0))

    finals = sorted(read_csv(out / "stacking_final.csv"), key=order)
    done = {(r["design"], int(r["seed"])) for r in finals}
    kept = sorted((r for r in read_csv(out / "stacking.csv") if (r["design"], int(r["seed"])) in done), key=order)
    write_csv(out / "stacking.csv", LOG_FIELDS, kept, append=False)
    write_csv(out / "stacking_final.csv", FINAL_FIELDS, finals, append=False)
    return done


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resume", action="store_true", help="keep the finished runs in --out and run the rest")
    parser.add_argument("--dry-run", action="store_true", help="one step per run on 16 images (a test of the script)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="training seeds (default 0 1 2)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the two CSV files (default data/experiments)")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at the same time, each in its own process")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per run (default 1, see above)")
    args = parser.parse_args(argv)
    recipe = DRY_RUN if args.dry_run else RECIPE
    plot_path = args.out / "course_experiments.png" if args.dry_run else PLOT
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.resume and any((args.out / name).exists() for name in ("stacking.csv", "stacking_final.csv")):
        parser.error(f"{args.out} already holds results: pass --resume to continue them, or delete them first")
    done = finished_runs(args.out) if args.resume else set()
    print(f"{platform.machine()}, {os.cpu_count()} cores, {args.workers} worker(s) of {args.threads} thread(s), "
          f"torch {torch.__version__}; recipe: " + ", ".join(f"{k}={v}" for k, v in recipe.items()), flush=True)
    # seed by seed, so that a stopped script leaves whole seeds of every design
    jobs = [(design, seed, recipe, args.threads) for seed in args.seeds for design in DESIGNS if (design, seed) not in done]
    for design, seed in sorted(done, key=lambda run: run[1]):
        print(f"{design!r} seed {seed}: already done, skipped", flush=True)
    started, threads = time.perf_counter(), torch.get_num_threads()
    with contextlib.ExitStack() as stack:
        if args.workers > 1:
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=1))
            results = pool.imap_unordered(run_alone, jobs)
        else:
            stack.callback(torch.set_num_threads, threads)  # this process's own count back afterwards
            results = map(run_alone, jobs)
        for rows, final in results:  # written here only, as each run ends
            write_csv(args.out / "stacking.csv", LOG_FIELDS, rows, append=True)
            write_csv(args.out / "stacking_final.csv", FINAL_FIELDS, [final], append=True)
            print(f"{final['design']!r} seed {final['seed']}: {final['steps']} steps in {final['seconds']:.0f} s, "
                  "validation PCKh " + " ".join(f"{r['val_pckh']:.1f}" for r in rows)
                  + f", final (flip) {final['final_pckh_flip']:.1f}; {(time.perf_counter() - started) / 60:.1f} min so far",
                  flush=True)
    finished_runs(args.out)
    runs = experiments.load_runs(args.out / "stacking.csv")
    finals = experiments.load_runs(args.out / "stacking_final.csv")
    print("\nvalidation PCKh@0.5 after the last epoch (no flip):\n" + experiments.summary_table(runs))
    print("\nfinal PCKh@0.5 with the flip test:\n" + experiments.summary_table(finals, score="final_pckh_flip"))
    steps = max(r["step"] for r in runs)
    experiments.save_plot(runs, plot_path, title=f"Notebook 05's designs, {recipe['channels']} channels, "
                          f"{recipe['synth_difficulty']} SynthPose, {steps} steps; thin lines: single seeds")
    print(f"\n{(time.perf_counter() - started) / 60:.1f} min in this session; the plot is {plot_path}")
    return runs


if __name__ == "__main__":
    main()
