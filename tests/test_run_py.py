"""run.py, the two-command entry point: set-up steps and what `start` does over an existing run."""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_py(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "LOG", tmp_path / "setup.log")
    return module


def test_start_continues_an_existing_run_and_says_so(run_py, tmp_path, capsys):
    assert run_py.start_arguments([]) == []  # nothing there yet: a fresh run
    (tmp_path / "runs" / "synth").mkdir(parents=True)
    (tmp_path / "runs" / "synth" / "last.pt").write_bytes(b"")
    assert run_py.start_arguments(["--epochs=3"]) == ["--epochs=3", "--resume=last"]
    assert "continuing that run" in capsys.readouterr().out
    assert run_py.start_arguments(["--out_dir=runs/other"]) == ["--out_dir=runs/other"]  # another folder: fresh
    assert run_py.start_arguments(["--resume=none"]) == ["--resume=none"]  # the user decides
    assert run_py.start_arguments(["configs/x.toml"]) == ["configs/x.toml"]


def test_a_failed_step_is_one_summary_line_and_the_log_keeps_the_output(run_py, tmp_path, capsys):
    run_py.step("a step that works", [sys.executable, "-c", "print('quiet')"])
    assert capsys.readouterr().out.startswith("a step that works ... ")
    with pytest.raises(run_py.SetupFailed) as failure:
        run_py.step("a step that fails", [sys.executable, "-c", "import sys; print('the reason'); sys.exit(3)"])
    assert "the reason" in str(failure.value) and str(tmp_path / "setup.log") in str(failure.value)
    assert "quiet" in (tmp_path / "setup.log").read_text()  # pip's output goes to the log, not the screen


def test_without_a_command_it_prints_its_help_and_exits_2(run_py, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["run.py"])
    assert run_py.main() == 2 and "python3 run.py setup" in capsys.readouterr().out
