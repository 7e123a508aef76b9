"""The course's long experiments: the functions that read their logs (hglearn/course/experiments.py)
on a small CSV written here, the script that makes them (benchmarks/course_experiments.py) on a
one-step dry run, and the shipped log, data/experiments/stacking.csv."""
import csv
import importlib
import sys
from pathlib import Path

import matplotlib
import pytest

from hglearn.course import experiments

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "experiments"

# Two designs × two seeds × two epochs; the last epoch's scores are 40, 44 ("2 stacks") and 30, 36.
ROWS = [
    ("2 stacks", 0, 1.0, 10, 0.5, 20.0, 1.5), ("2 stacks", 0, 2.0, 20, 0.4, 40.0, 3.0),
    ("2 stacks", 1, 1.0, 10, 0.5, 24.0, 1.4), ("2 stacks", 1, 2.0, 20, 0.4, 44.0, 2.9),
    ("1 stack", 0, 1.0, 10, 0.6, 10.0, 1.0), ("1 stack", 0, 2.0, 20, 0.5, 30.0, 2.0),
    ("1 stack", 1, 1.0, 10, 0.6, 14.0, 1.1), ("1 stack", 1, 2.0, 20, 0.5, 36.0, 2.1),
]
FIELDS = ("design", "seed", "epoch", "step", "loss", "val_pckh", "elapsed_s")


def write(path: Path, fields, rows) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(fields)
        writer.writerows(rows)
    return path


@pytest.fixture
def rows(tmp_path):
    return experiments.load_runs(write(tmp_path / "stacking.csv", FIELDS, ROWS))


def test_load_runs_types_every_column(rows):
    assert len(rows) == 8
    assert rows[0] == {"design": "2 stacks", "seed": 0, "epoch": 1.0, "step": 10, "loss": 0.5, "val_pckh": 20.0,
                       "elapsed_s": 1.5}
    assert isinstance(rows[0]["seed"], int) and isinstance(rows[0]["step"], int)


def test_an_unscored_epoch_reads_as_none_and_is_not_a_final_score(tmp_path):
    path = write(tmp_path / "log.csv", FIELDS, [("a", 0, 1.0, 10, 0.5, 12.0, 1.0), ("a", 0, 2.0, 20, 0.4, "", 2.0)])
    rows = experiments.load_runs(path)
    assert rows[1]["val_pckh"] is None
    assert experiments.final_scores(rows) == {"a": [12.0]}  # the last *scored* step


def test_final_scores_take_each_runs_last_step_by_seed_in_the_files_order(rows):
    assert experiments.final_scores(rows) == {"2 stacks": [40.0, 44.0], "1 stack": [30.0, 36.0]}
    shuffled = list(reversed(rows))  # the order of the rows inside a run does not matter
    assert experiments.final_scores(shuffled) == {"1 stack": [30.0, 36.0], "2 stacks": [40.0, 44.0]}
    assert experiments.final_scores(rows, score="loss") == {"2 stacks": [0.4, 0.4], "1 stack": [0.5, 0.5]}


def test_final_scores_read_the_final_file_s_flip_test_column(tmp_path):
    path = write(tmp_path / "final.csv", ("design", "seed", "steps", "final_pckh_flip", "seconds"),
                 [("2 stacks", 1, 20, 47.5, 3.0), ("2 stacks", 0, 20, 41.0, 3.1), ("1 stack", 0, 20, 33.0, 2.0)])
    assert experiments.final_scores(experiments.load_runs(path)) == {"2 stacks": [41.0, 47.5], "1 stack": [33.0]}


def test_beyond_spread_means_the_seed_ranges_do_not_overlap():
    assert experiments.beyond_spread([40, 44], [30, 36])
    assert experiments.beyond_spread([30, 36], [40, 44])  # either way round
    assert not experiments.beyond_spread([40, 44], [30, 41])  # one seed of the lower design reaches the other's
    assert not experiments.beyond_spread([40, 44], [40, 40])  # touching is not beyond


def test_summary_table_gives_mean_range_and_difference_to_two_stacks(rows):
    lines = experiments.summary_table(rows).splitlines()
    assert "mean" in lines[0] and "min-max" in lines[0] and "vs 2 stacks" in lines[0]
    two, one = lines[2], lines[3]
    assert two.split()[:4] == ["2", "stacks", "2", "42.0"] and "40.0-44.0" in two and "(reference)" in two
    assert one.split()[:4] == ["1", "stack", "2", "33.0"] and "30.0-36.0" in one
    assert "-9.0" in one and "yes" in one  # 33 − 42, and 36 < 40: beyond the spread


def test_summary_table_says_no_when_the_ranges_overlap(rows):
    for row in rows:
        if row["design"] == "1 stack" and row["seed"] == 1 and row["step"] == 20:
            row["val_pckh"] = 41.0  # now 30-41 against 40-44
    one = experiments.summary_table(rows).splitlines()[3]
    assert "-6.5" in one and "no" in one and "yes" not in one


def test_summary_table_makes_no_claim_from_one_seed(rows):
    one_seed = [r for r in rows if r["seed"] == 0]
    line = experiments.summary_table(one_seed).splitlines()[3]
    assert "-10.0" in line and "one seed" in line and "yes" not in line


def test_mean_curve_averages_the_seeds_step_by_step(rows):
    assert experiments.mean_curve(rows, "2 stacks") == ([10, 20], [22.0, 42.0])
    assert experiments.mean_curve(rows, "1 stack") == ([10, 20], [12.0, 33.0])


def test_plot_runs_draws_each_seed_thin_and_the_mean_thick(rows):
    from matplotlib.figure import Figure

    ax = experiments.plot_runs(rows, Figure().subplots())
    lines = ax.get_lines()
    assert len(lines) == 6  # per design: two seeds and the mean
    thick = [line for line in lines if line.get_linewidth() > 2]
    assert [list(line.get_ydata()) for line in thick] == [[22.0, 42.0], [12.0, 33.0]]
    assert [line.get_label() for line in thick] == ["2 stacks (mean of 2 seeds)", "1 stack (mean of 2 seeds)"]
    colours = {line.get_color() for line in lines if line.get_linewidth() < 1 and list(line.get_ydata()) == [20.0, 40.0]}
    assert colours == {thick[0].get_color()}  # a seed's thin line has its design's colour
    assert thick[0].get_color() != thick[1].get_color()


def test_save_plot_writes_a_png(rows, tmp_path):
    path = experiments.save_plot(rows, tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def script():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("course_experiments")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.mark.slow
def test_the_script_dry_run_writes_both_files_and_resumes(script, tmp_path, capsys):
    out = tmp_path / "experiments"
    script.main(["--dry-run", "--seeds", "0", "--out", str(out)])
    log = experiments.load_runs(out / "stacking.csv")
    final = experiments.load_runs(out / "stacking_final.csv")
    assert [r["design"] for r in log] == list(script.DESIGNS) and [r["design"] for r in final] == list(script.DESIGNS)
    assert list(log[0]) == list(script.LOG_FIELDS) and list(final[0]) == list(script.FINAL_FIELDS)
    assert {r["step"] for r in log} == {1} and {r["steps"] for r in final} == {1}  # one step per run
    assert all(0 <= r["val_pckh"] <= 100 and r["loss"] > 0 for r in log)
    assert (out / "course_experiments.png").exists()
    with pytest.raises(SystemExit):  # results already there: only --resume continues them
        script.main(["--dry-run", "--seeds", "0", "--out", str(out)])
    # a run killed between its two writes: its epoch rows are there, its final row is not
    write(out / "stacking_final.csv", script.FINAL_FIELDS, [[r[k] for k in script.FINAL_FIELDS] for r in final[:3]])
    capsys.readouterr()
    script.main(["--dry-run", "--seeds", "0", "--resume", "--out", str(out)])
    printed = capsys.readouterr().out
    assert printed.count("already done, skipped") == 3 and "'2 stacks, extra skip' seed 0: 1 steps" in printed
    again = experiments.load_runs(out / "stacking.csv")
    assert [r["design"] for r in again] == list(script.DESIGNS)  # the lost run's old row was dropped, not doubled
    assert again[:3] == log[:3]  # the finished runs' rows are kept as they were
    assert len(experiments.load_runs(out / "stacking_final.csv")) == 4


@pytest.mark.skipif(not (SHIPPED / "stacking.csv").exists(), reason="data/experiments/stacking.csv not made yet")
def test_the_shipped_log_has_four_designs_by_three_seeds_with_the_same_steps(script):
    rows = experiments.load_runs(SHIPPED / "stacking.csv")
    runs = {(r["design"], r["seed"]) for r in rows}
    assert runs == {(d, s) for d in script.DESIGNS for s in (0, 1, 2)}
    steps = {key: [r["step"] for r in rows if (r["design"], r["seed"]) == key] for key in runs}
    assert len({tuple(s) for s in steps.values()}) == 1  # every run scored at the same steps
    assert all(r["val_pckh"] is not None for r in rows)  # scored after every epoch
    final = experiments.load_runs(SHIPPED / "stacking_final.csv")
    assert sorted((r["design"], r["seed"]) for r in final) == sorted(runs)
    assert {r["steps"] for r in final} == {max(next(iter(steps.values())))}
    assert {len(v) for v in experiments.final_scores(final).values()} == {3}
