"""The kill test: `hglearn train` killed with SIGKILL at many moments leaves every file of its
out_dir whole or absent, and `--resume=last` then ends with the uninterrupted run's weights, bit for bit.

One kill chain per test, on one out_dir: start, kill, check, resume, kill, check, resume ... then a
last resume to the end, compared with one uninterrupted reference run (shared by the tests). A kill
moment is a random delay after the start, the n-th temporary file of one output appearing (so the
process dies while that file is written: polled in a tight loop), or the n-th rename onto one
output (so it dies between two writes). Importing torch costs seconds, so the number of processes
is what the chain's length allows; children run with OMP_NUM_THREADS=1.
"""
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="SIGKILL and POSIX renames")]

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 6
ARGS = ["--synth_images=16", "--val_images=8", "--batch_size=8", "--channels=16", "--depth=2", "--input_res=32",
        f"--epochs={EPOCHS}", "--eval_every=1", "--progress=false", "--flip_test=false", "--device=cpu"]
OUTPUTS = {"best.pt", "last.pt", "log.csv", "metrics.json", "curves.png", "predictions.png"}
FINAL = {"metrics.json", "curves.png", "predictions.png"}  # written once training is over
CHECKPOINT_KEYS = {"model_config", "train_config", "model", "optimizer", "scheduler", "step", "epoch", "best",
                   "log", "rng"}


def start(out_dir: Path, log: Path, resume: bool) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "hglearn", "train", *ARGS, f"--out_dir={out_dir}"]
    with open(log, "w") as f:
        return subprocess.Popen(command + (["--resume=last"] if resume else []), cwd=ROOT, env=env,
                                stdout=f, stderr=subprocess.STDOUT)


def names(out_dir: Path) -> set[str]:
    try:
        return set(os.listdir(out_dir))
    except FileNotFoundError:
        return set()


def inode(path: Path):
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def temporary_of(name: str, target: str) -> bool:
    return name.startswith(f".{target}.") and name.endswith(".tmp")


def kill_at(process: subprocess.Popen, out_dir: Path, moment: tuple, rng: random.Random) -> dict:
    """Wait for `moment`, SIGKILL the process, and say what happened: {"killed", "seconds", "detail"}."""
    kind, started, before = moment[0], time.monotonic(), names(out_dir)
    deadline = started + rng.uniform(*moment[1:]) if kind == "delay" else None
    count, seen, last_inode, fired = 0, set(), None, None
    if kind == "renamed":
        last_inode = inode(out_dir / moment[1])
    while process.poll() is None:
        if kind == "delay":
            if time.monotonic() >= deadline:
                fired = "random"
        elif kind == "write":
            fresh = {n for n in names(out_dir) - before - seen if temporary_of(n, moment[1])}
            seen |= fresh
            if fresh and len(seen) >= moment[2]:
                fired = sorted(fresh)[0]
                if rng.random() < 0.5:  # anywhere in the write, not only at its start
                    wait = time.monotonic() + rng.uniform(0, 0.003)
                    while time.monotonic() < wait:
                        pass
        elif kind == "renamed":
            now = inode(out_dir / moment[1])
            if now != last_inode and now is not None:
                count, last_inode = count + 1, now
                fired = "renamed" if count >= moment[2] else None
        if fired:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005 if kind == "delay" else 0.0001)
    code = process.wait()
    seconds = time.monotonic() - started
    if code == 0:
        return {"killed": False, "seconds": seconds, "detail": "completed first"}
    assert code == -signal.SIGKILL, f"the run failed by itself (exit {code}) at {moment}"
    if kind == "write":
        fired = "mid-write" if (out_dir / fired).exists() else "just after the write"
    return {"killed": True, "seconds": seconds, "detail": fired}


def read_log(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows, 1):
        assert None not in row and None not in row.values(), f"{path}: row {i} is cut short: {row}"
        assert float(row["epoch"]) == i and int(row["step"]) == 2 * i, f"{path}: row {i} out of order: {row}"
        float(row["loss"])
    return rows


def check_outputs(out_dir: Path) -> dict[str, int]:
    """Every file in out_dir whole (or absent); {output name: epoch or 1}; raises on any broken file."""
    import cv2

    from hglearn.checkpoints import load_checkpoint
    from hglearn.files import is_temporary

    found = {}
    for name in sorted(names(out_dir)):
        path = out_dir / name
        if is_temporary(name) or name == ".lock":  # a killed writer's temporary file; the run lock
            continue
        assert name in OUTPUTS, f"unexpected file {path}"
        if name.endswith(".pt"):
            state = load_checkpoint(path)  # CheckpointError on a half-written file
            assert CHECKPOINT_KEYS <= set(state), f"{path} lacks {CHECKPOINT_KEYS - set(state)}"
            assert len(state["log"]) == state["step"] // 2, f"{path}: its log does not fit its step"
            found[name] = state["step"] // 2
        elif name == "log.csv":
            found[name] = len(read_log(path))
        elif name == "metrics.json":
            assert isinstance(json.loads(path.read_text()), dict), path  # JSONDecodeError if cut short
            found[name] = 1
        else:
            assert cv2.imread(str(path)) is not None, f"{path} is not a whole PNG ({path.stat().st_size} B)"
            found[name] = 1
    if "last.pt" in found and "log.csv" in found:  # written in this order: the log may be one epoch behind
        assert found["last.pt"] - 1 <= found["log.csv"] <= found["last.pt"], found
    return found


def final_state(out_dir: Path) -> dict:
    import torch

    from hglearn.checkpoints import load_checkpoint

    last, best = load_checkpoint(out_dir / "last.pt"), load_checkpoint(out_dir / "best.pt")
    rows = [{k: v for k, v in row.items() if k not in ("images_per_s", "elapsed_s")} for row in read_log(out_dir / "log.csv")]
    metrics = {k: v for k, v in json.loads((out_dir / "metrics.json").read_text()).items() if k != "seconds"}
    assert last["step"] == 2 * EPOCHS
    return {"last": last["model"], "best": best["model"], "rows": rows, "metrics": metrics,
            "equal": lambda a, b: a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)}


def assert_same_run(out_dir: Path, reference: dict) -> None:
    got, equal = final_state(out_dir), reference["equal"]
    assert equal(got["last"], reference["last"]), "the resumed run's final weights differ from the uninterrupted run's"
    assert equal(got["best"], reference["best"]), "best.pt differs from the uninterrupted run's"
    assert got["rows"] == reference["rows"] and got["metrics"] == reference["metrics"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    out_dir = tmp_path_factory.mktemp("reference") / "run"
    log = out_dir.parent / "train.log"
    code = start(out_dir, log, resume=False).wait()
    assert code == 0, log.read_text()[-3000:]
    assert set(check_outputs(out_dir)) == OUTPUTS
    return final_state(out_dir)


def kill_chain(root: Path, moments: list[tuple], reference: dict, seed: int) -> list[dict]:
    """Kill one run at each moment in turn, checking out_dir and resuming after each; then resume to
    the end and compare with the reference. A run that completes before its moment is compared too;
    the moment is then tried once more (on a fresh out_dir if it is a moment of training)."""
    rng, out_dir, outcomes, processes, attempts = random.Random(seed), root / "run", [], 0, 0
    queue = list(moments)

    def run(moment):
        nonlocal processes
        resume = (out_dir / "last.pt").exists()  # else a fresh start: the kill came before the first last.pt
        log = root / f"train-{processes}.log"
        process, processes = start(out_dir, log, resume), processes + 1
        try:
            if moment is None:
                assert process.wait() == 0, f"the last resume failed (exit {process.returncode})"
                return None
            return {**kill_at(process, out_dir, moment, rng), "moment": moment, "resumed": resume}
        except AssertionError as error:  # e.g. refused by the run lock: show why
            raise AssertionError(f"{error}; resume={resume}; its output:\n{log.read_text()[-3000:]}") from None

    while queue:
        moment = queue[0]
        outcome = run(moment)
        outcome["files"] = check_outputs(out_dir)
        outcomes.append(outcome)
        attempts += 1
        if not outcome["killed"]:  # it completed before the moment came
            assert_same_run(out_dir, reference)
            if moment[0] != "delay" and moment[1] not in FINAL:
                shutil.rmtree(out_dir)  # a moment of training: only a fresh run can reach it again
        if outcome["killed"] or attempts == 2:
            queue.pop(0)
            attempts = 0
    run(None)
    assert set(check_outputs(out_dir)) == OUTPUTS
    assert_same_run(out_dir, reference)
    report(outcomes, processes)
    left = sorted(n for n in names(out_dir) if n.endswith(".tmp"))
    print(f"temporary files left by killed writers in the final out_dir: {len(left)}")
    return outcomes


def report(outcomes: list[dict], processes: int) -> None:
    for i, o in enumerate(outcomes, 1):
        files = ", ".join(f"{k}@{v}" if k.endswith((".pt", ".csv")) else k for k, v in o["files"].items()) or "none"
        print(f"kill {i:2d} {'resume' if o['resumed'] else 'fresh '} {str(o['moment']):34s} "
              f"{'killed' if o['killed'] else 'NOT killed'} after {o['seconds']:.2f} s ({o['detail']}); left: {files}")
    print(f"{sum(o['killed'] for o in outcomes)} kills in {processes} processes")


def test_a_few_kills_then_resume_end_with_the_uninterrupted_weights(tmp_path, reference):
    moments = [("write", "last.pt", 1),  # dies writing the first checkpoint: a fresh start follows
               ("renamed", "last.pt", 2),  # between last.pt and log.csv
               ("delay", 3.0, 4.5),
               ("write", "predictions.png", 1)]
    outcomes = kill_chain(tmp_path, moments, reference, seed=1)
    assert sum(o["killed"] for o in outcomes) >= 3


FULL = [("delay", 0.2, 1.5),  # starting up: nothing written yet
        ("write", "best.pt", 1), ("write", "last.pt", 1), ("renamed", "last.pt", 1), ("write", "log.csv", 1),
        ("write", "last.pt", 1), ("delay", 2.5, 4.5), ("write", "last.pt", 2), ("renamed", "last.pt", 1),
        ("write", "log.csv", 2), ("delay", 0.2, 4.5), ("write", "last.pt", 1), ("renamed", "log.csv", 1),
        ("delay", 2.5, 4.5), ("write", "last.pt", 2),
        ("write", "metrics.json", 1), ("renamed", "metrics.json", 1), ("write", "curves.png", 1),
        ("renamed", "curves.png", 1), ("write", "predictions.png", 1), ("delay", 3.0, 5.0),
        ("write", "log.csv", 1), ("write", "best.pt", 1), ("renamed", "last.pt", 2), ("delay", 2.0, 4.0),
        ("write", "predictions.png", 1)]


def test_many_kills_at_every_write_then_resume_end_with_the_uninterrupted_weights(tmp_path, reference):
    outcomes = kill_chain(tmp_path, FULL, reference, seed=2)
    killed = [o for o in outcomes if o["killed"]]
    assert len(killed) >= 20
    written = {o["moment"][1] for o in killed if o["detail"] == "mid-write"}
    print(f"killed mid-write of: {', '.join(sorted(written))}")
