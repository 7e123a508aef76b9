"""Every exercise notebook, its exercises unsolved, runs to its last cell the way a front end's Run
All runs it (JupyterLab, classic Notebook, Colab): cell by cell, stopping at the first error, which
`execute` reports with the cell's index. Every unsolved exercise's check prints one "not attempted
yet" line instead of raising.

The kernel runs with HGLEARN_QUICK=1 (the `quick_notebooks` fixture), which the notebooks read to
shrink their training runs. Marked slow: `pytest -m "not slow"` leaves it out.
"""
from pathlib import Path

import nbformat
import pytest

from hglearn.course.checking import NOT_ATTEMPTED
from hglearn.course.notebooks import execute, is_check, is_stub

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def shown(cell) -> str:
    """What a code cell printed and displayed, as text."""
    return "".join(output.get("text", "") or output.get("data", {}).get("text/plain", "") for output in cell.outputs)


@pytest.mark.slow
@pytest.mark.usefixtures("quick_notebooks")
@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_run_all_runs_every_cell_and_each_unsolved_check_says_not_attempted(path):
    cells = execute(nbformat.read(path, as_version=4), path, timeout=300).cells  # a CourseError names the cell
    assert all(cell.execution_count is not None for cell in cells if cell.cell_type == "code")
    stubs = [i for i, cell in enumerate(cells) if is_stub(cell)]
    assert stubs, f"{path.name} has no exercises"
    for i in stubs:
        check = next(j for j in range(i + 1, len(cells)) if is_check(cells[j]))
        assert NOT_ATTEMPTED in shown(cells[check]), (
            f"{path.name}, cell {check}, the check of the exercise in cell {i}, printed {shown(cells[check])!r}")
