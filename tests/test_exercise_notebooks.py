"""Every exercise notebook, executed end to end, raises only NotImplementedError, and only where a
student has work to do: in an exercise cell or in the check cell that follows it.

The kernel runs with HGLEARN_QUICK=1 (the `quick_notebooks` fixture), which the notebooks read to
shrink their training runs. Marked slow: `pytest -m "not slow"` leaves it out.
"""
from pathlib import Path

import nbformat
import pytest

from hglearn.course.notebooks import execute, is_check, is_stub

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.usefixtures("quick_notebooks")
@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_exercise_notebook_raises_only_not_implemented_in_exercises_and_checks(path):
    notebook = execute(nbformat.read(path, as_version=4), path.parent, timeout=300, allow_errors=True)
    raised = set()
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type != "error":
                continue
            assert output.ename == "NotImplementedError", (
                f"{path.name}, cell {index} raised {output.ename}: {output.evalue}\n{cell.source[:300]}")
            assert is_stub(cell) or is_check(cell), f"{path.name}, cell {index}: NotImplementedError outside an exercise"
            raised.add(index)
    stubs = [i for i, cell in enumerate(notebook.cells) if is_stub(cell)]
    assert stubs, f"{path.name} has no exercises"
    for i in stubs:  # every unsolved exercise shows up: in its own cell or in its check
        check = next((j for j in range(i + 1, len(notebook.cells)) if is_check(notebook.cells[j])), None)
        assert i in raised or check in raised, f"{path.name}, cell {i}: the unsolved exercise raised nothing"
