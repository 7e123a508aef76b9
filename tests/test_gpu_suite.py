"""benchmarks/gpu_suite.py: its dry run end to end on the CPU, and the small pieces it is made of."""
import csv
import importlib
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_suite.py"


@pytest.fixture(scope="module")
def suite():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        yield importlib.import_module("gpu_suite")
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_mfu_is_six_times_the_forward_multiply_adds_per_image_over_the_peak(suite):
    # 10 G multiply-adds forward: 60 GFLOP per trained image; 1,000 images/s on 600 TFLOP/s is 10%.
    assert suite.training_flops(10e9) == 60e9
    assert suite.mfu(10e9, 1000.0, 600.0) == pytest.approx(0.10)
    assert suite.mfu(27.6e9, 500.0, 989.5) == pytest.approx(6 * 27.6e9 * 500 / 989.5e12)


@pytest.mark.parametrize("name, tflops", [
    ("NVIDIA H100 80GB HBM3", 989.5),   # the SXM part
    ("NVIDIA H100 PCIe", 756.5),
    ("NVIDIA H200", 989.5),
    ("NVIDIA A100-SXM4-80GB", 312.0),
    ("NVIDIA A100 80GB PCIe", 312.0),
    ("NVIDIA L4", 121.0),
    ("Tesla T4", 65.0),
    ("Tesla V100-SXM2-16GB", 125.0),
    ("Tesla V100-PCIE-32GB", 112.0),
    ("NVIDIA H100 NVL", None),          # not checked: not the SXM part's figure
    ("NVIDIA L40S", None),              # not the L4's
    ("NVIDIA GH200 480GB", None),
    ("NVIDIA GeForce RTX 4090", None),
])
def test_the_device_peak_is_looked_up_by_name_and_an_unknown_device_has_none(suite, name, tflops):
    peak, source = suite.device_peak(name)
    assert peak == tflops
    assert ("data sheet" in source) if tflops else ("--peak-tflops" in source)


def test_peak_tflops_overrides_the_table_and_every_known_peak_names_its_data_sheet(suite):
    assert suite.device_peak("NVIDIA H200", override_tflops=500.0) == (500.0, "--peak-tflops")
    assert suite.device_peak("anything", override_tflops=1.0)[0] == 1.0
    assert all("data sheet" in source for _, peak, source in suite.DEVICE_PEAKS if peak is not None)


def test_the_wheel_install_reads_the_folder_alone_and_never_an_index(suite):
    command = suite.wheel_install_command("python3", Path("/w/wheels"), ["fvcore", "nbclient"])
    assert command[:4] == ["python3", "-m", "pip", "install"]
    assert "--no-index" in command and command[command.index("--find-links") + 1] == "/w/wheels"
    assert not {"-i", "--index-url", "--extra-index-url", "--trusted-host", "--pre"} & set(command)
    assert "--no-build-isolation" in command  # building a source archive asks no index for setuptools
    assert command[-2:] == ["fvcore", "nbclient"]


def test_pytest_summary_lines_are_counted(suite):
    assert suite.pytest_counts("....\n5 passed, 2 skipped, 190 deselected in 3.21s\n") == {
        "passed": 5, "skipped": 2, "deselected": 190, "seconds": 3.21}
    assert suite.pytest_counts("===== 1 failed, 3 passed, 1 error in 0.50s =====") == {
        "failed": 1, "passed": 3, "errors": 1, "seconds": 0.5}
    assert suite.pytest_counts("no tests ran") == {}


def test_markdown_tables_show_none_as_na_and_cannot_be_broken_by_a_cell(suite):
    assert suite.markdown_table(("a", "b"), [(1, None), ("x | y", "two\nlines")]) == [
        "| a | b |", "|---|---|", "| 1 | n/a |", "| x \\| y | two lines |"]
    assert suite.relative_difference(1.1, 1.0) == pytest.approx(0.1)


def test_the_real_sizes_are_valid_runs_and_their_budgets_fit_eight_minutes(suite):
    from hglearn.config import TrainConfig
    from hglearn.models import model_config
    from hglearn.train import resolve_model

    real = suite.REAL
    curves = TrainConfig(**real.curves)
    assert curves.synth_images // curves.batch_size == 10  # an epoch, one point of log.csv, is 10 steps
    assert curves.max_steps == 200 <= curves.epochs * 10 and curves.eval_every > curves.epochs  # scored once
    recipe = TrainConfig(**real.recipe)
    assert resolve_model(recipe).num_stacks == 2 and recipe.input_res == 256
    assert all(model_config(preset, **real.model_overrides) for preset in real.presets)
    assert set(real.compile_presets) <= set(real.presets) and real.input_res == 256
    assert sum(real_s for _, _, _, real_s, _ in suite.STAGES) <= 8 * 60


def make_suite(suite, tmp_path):
    import torch

    return suite.Suite(suite.DRY, torch.device("cpu"), True, tmp_path, tmp_path, suite.Log(tmp_path / "log.txt"))


def test_a_stage_past_its_budget_is_stopped_and_a_failing_one_is_recorded_with_its_traceback(suite, tmp_path):
    run = make_suite(suite, tmp_path)

    def sleeps(suite_, stage, budget):
        stage.rows.append(("before the sleep",))
        time.sleep(10)

    def breaks(suite_, stage, budget):
        raise ValueError("a bug\nsecond line")

    def checks(suite_, stage, budget):
        raise suite.StageFailed("3 steps (float16) wrong")

    slow, broken, wrong = (suite.Stage(name, name, 0.3) for name in ("slow", "broken", "wrong"))
    started = time.monotonic()
    suite.run_stage(run, slow, sleeps)
    assert time.monotonic() - started < 5 and slow.status == "timed out" and slow.rows  # rows kept
    suite.run_stage(run, broken, breaks)
    suite.run_stage(run, wrong, checks)
    assert (broken.status, broken.notes[-1]) == ("failed", "ValueError: a bug")
    assert (wrong.status, wrong.notes[-1]) == ("failed", "3 steps (float16) wrong")
    log = (tmp_path / "log.txt").read_text()
    assert "Traceback" in log and "ValueError: a bug" in log
    time.sleep(0.5)  # a timer left behind would interrupt this sleep


def test_a_stage_whose_packages_are_missing_is_skipped(suite, tmp_path):
    run = make_suite(suite, tmp_path)
    run.missing = {"nbclient"}
    stage = suite.Stage("notebooks", "notebooks", 10, needs=("nbformat", "nbclient"))
    suite.run_stage(run, stage, lambda *args: pytest.fail("ran"))
    assert stage.status == "skipped" and "nbclient" in stage.notes[-1] and "--wheels" in stage.notes[-1]


def sections(results: str) -> dict[str, str]:
    """results.md's stage sections by stage name: '## N. Title (name: status)' up to the next."""
    parts = re.split(r"^## \d+\. .*\((\w+): [\w ]+\)$", results, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.slow
def test_the_dry_run_runs_every_stage_on_the_cpu(tmp_path, suite):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--device", "cpu", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = (out / "results.md").read_text()
    found = sections(results)
    assert list(found) == [function.__name__ for function, *_ in suite.STAGES]
    for name, text in found.items():
        rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]
        assert rows and any(re.search(r"\d", row) for row in rows), f"{name}: no numbers in\n{text}"
    assert "| ok |" in results and "failed" not in results.split("## 1.")[0]
    with open(out / "losses.csv", newline="") as file:
        curve = list(csv.DictReader(file))
    assert list(curve[0]) == ["step", "loss_bf16", "loss_fp32"] and len(curve) == 3  # 6 steps, a point per 2
    assert all(float(row["loss_bf16"]) > 0 and float(row["loss_fp32"]) > 0 for row in curve)
    assert (out / "losses.png").stat().st_size > 0 and "unit_tests" in (out / "log.txt").read_text()
    assert zipfile.ZipFile(out / "notebooks.zip").namelist() == ["01_dilated_convolutions.ipynb"]
    assert sorted(p.name for p in out.iterdir()) == ["log.txt", "losses.csv", "losses.png", "notebooks.zip",
                                                     "results.md"]  # at most 8 files come back from $OUT
