"""The course's long experiments, read back from their small CSV logs: per-seed scores, a table and
learning curves, for a notebook to show beside its own short live run.

    rows = load_runs("data/experiments/stacking.csv")        # made by benchmarks/course_experiments.py
    print(summary_table(rows))                               # mean, range over seeds, difference to "2 stacks"
    plot_runs(rows)                                          # validation PCKh against step, per design

A row is one design, one seed and one epoch (stacking.csv) or one run's final score
(stacking_final.csv). Nothing here trains or reads a model; these are plain functions of the rows.

Taught in notebooks/05_stacking.ipynb.
"""
import csv
import math
from pathlib import Path

INTEGERS = ("seed", "step", "steps")
REFERENCE = "2 stacks"


def _value(key: str, text: str):
    """A CSV cell as Python: the design's name as text, counts as int, every other number as float,
    an empty cell (an unscored epoch) as None."""
    if key == "design":
        return text
    if text == "":
        return None
    return int(text) if key in INTEGERS else float(text)


def load_runs(path: str | Path) -> list[dict]:
    """The rows of an experiment's CSV file, each a dict with typed values, in the file's order."""
    with open(path, newline="") as f:
        return [{k: _value(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


def final_scores(rows: list[dict], score: str | None = None) -> dict[str, list[float]]:
    """{design: [each seed's final score, by seed]}, designs in the order they first appear.

    From per-epoch rows the final score is `score` (default val_pckh) at each run's last step; from
    final rows (stacking_final.csv) it is their `final_pckh_flip` unless `score` names another column.
    """
    score = score or ("final_pckh_flip" if rows and "final_pckh_flip" in rows[0] else "val_pckh")
    last: dict[tuple[str, int], dict] = {}
    for row in rows:
        key, step = (row["design"], row["seed"]), row.get("step", row.get("steps", 0))
        if row[score] is not None and (key not in last or step >= last[key].get("step", last[key].get("steps", 0))):
            last[key] = row
    designs = dict.fromkeys(design for design, _ in last)  # in the file's order
    return {design: [last[key][score] for key in sorted((k for k in last if k[0] == design), key=lambda k: k[1])]
            for design in designs}


def beyond_spread(a: list[float], b: list[float]) -> bool:
    """Whether two designs' seeds do not overlap at all: every score of one above every score of the
    other. A difference of means smaller than that could come from the seed alone."""
    return min(a) > max(b) or min(b) > max(a)


def summary_table(rows: list[dict], score: str | None = None, reference: str = REFERENCE) -> str:
    """A plain-text table, one line per design: the number of seeds, the mean final score, its range
    over the seeds (min to max), the mean's difference to `reference` ("2 stacks") and whether that
    difference goes beyond the seed spread (the two designs' ranges do not overlap, `beyond_spread`)."""
    scores = final_scores(rows, score)
    ref = scores.get(reference)
    width = max([len("design")] + [len(d) for d in scores])
    header = f"{'design':<{width}}  seeds   mean  min-max      vs {reference}  beyond the seed spread?"
    lines = [header, "-" * len(header)]
    for design, values in scores.items():
        mean = sum(values) / len(values)
        line = f"{design:<{width}}  {len(values):5d}  {mean:5.1f}  {f'{min(values):.1f}-{max(values):.1f}':<11}"
        if design == reference:
            line += "  (reference)"
        elif ref is not None:
            if min(len(values), len(ref)) < 2:
                verdict = "cannot tell from one seed"
            elif beyond_spread(values, ref):
                verdict = "yes: the seeds' ranges do not overlap"
            else:
                verdict = "no: the ranges overlap"
            diff = round(mean - sum(ref) / len(ref), 1) + 0.0  # + 0.0: no "-0.0"
            line += f"  {diff:+{len(reference) + 3}.1f}  {verdict}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def mean_curve(rows: list[dict], design: str, score: str = "val_pckh") -> tuple[list[int], list[float]]:
    """(steps, mean score over the seeds at each step) of one design, over the scored steps."""
    by_step: dict[int, list[float]] = {}
    for row in rows:
        if row["design"] == design and row[score] is not None:
            by_step.setdefault(row["step"], []).append(row[score])
    steps = sorted(by_step)
    return steps, [sum(by_step[s]) / len(by_step[s]) for s in steps]


def plot_runs(rows: list[dict], ax=None, score: str = "val_pckh"):
    """Validation PCKh against training step: one colour per design, each seed a thin line, the mean
    over the seeds a thick one. Draws on `ax` (a new pyplot figure when None) and returns it."""
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.subplots(figsize=(7, 4))[1]
    designs = list(dict.fromkeys(r["design"] for r in rows))
    for i, design in enumerate(designs):
        colour = f"C{i}"
        for seed in sorted({r["seed"] for r in rows if r["design"] == design}):
            run = sorted((r for r in rows if r["design"] == design and r["seed"] == seed and r[score] is not None),
                         key=lambda r: r["step"])
            ax.plot([r["step"] for r in run], [r[score] for r in run], color=colour, linewidth=0.8, alpha=0.45)
        steps, means = mean_curve(rows, design, score)
        seeds = len({r["seed"] for r in rows if r["design"] == design})
        ax.plot(steps, means, color=colour, linewidth=2.5, marker="o", markersize=3,
                label=f"{design} (mean of {seeds} seed{'s' * (seeds != 1)})")
    ax.set(xlabel="training step", ylabel="validation PCKh@0.5 mean (%), no flip")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def save_plot(rows: list[dict], path: str | Path, title: str = "Notebook 05's designs, thin lines: single seeds") -> Path:
    """plot_runs drawn on a bare Figure (no pyplot state touched) and written as a PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    ax = plot_runs(rows, fig.subplots())
    ax.set_title(title, fontsize=10)
    top = max((r["val_pckh"] for r in rows if r.get("val_pckh") is not None), default=0.0)
    ax.set_ylim(0, max(10.0, math.ceil(top / 10 + 0.5) * 10))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)
