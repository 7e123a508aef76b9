"""Exercise notebooks made from the solution notebooks, and the solutions re-recorded.

`solutions/` is the source. Code a student should write is marked as in nbgrader:

    def receptive_field(layers):
        ### BEGIN SOLUTION
        ...reference code...
        ### END SOLUTION

`build` writes `notebooks/` from it: each marked region becomes one line that raises
`NotImplementedError` naming the exercise, and outputs, execution counts and widget state are
cleared. Prose, check cells and every other cell stay as they are. Every stub is inside a function,
so it raises only when called, by its check, which then says "not attempted yet"
(`hglearn.course.checking.reports_not_attempted`): Run All runs every cell of an exercise notebook.
`build` refuses to overwrite an exercise notebook whose cells were edited since it wrote them (a
student's work) unless forced.

`record` re-runs the solutions in a fresh kernel (restart and run all) and writes their outputs
back, timed, then builds the exercises. Both are `hglearn course build` and `hglearn course record`.

Every notebook carries the kernelspec that JupyterLab writes for ipykernel's kernel, so that opening
and saving one changes nothing.

The first two cells of every notebook are written here from one setting, `[tool.hglearn.course]`
in `pyproject.toml`: an "Open in Colab" badge for the exercise and the solution version, and a cell
that, in Colab only, clones the course repository and installs it.
"""
import copy
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from hglearn.config import read_toml
from hglearn.errors import ConfigError, CourseError
from hglearn.files import atomic_path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
ROOT = Path(__file__).resolve().parents[2]  # the repository (for an editable install)
CHECK_CALL = re.compile(r"\bcheck_\w+\(")
DEFINITION = re.compile(r"^(\s*)(?:async\s+)?(?:def|class)\s+(\w+)")
# ipykernel's own kernelspec ("python3"), as JupyterLab writes it into a notebook it opens: a
# notebook that carries another display name is marked modified as soon as it opens.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_PLACEHOLDER = "(run this cell to use the controls)"


@dataclass(frozen=True)
class CourseSettings:
    """Where the course lives online: read by the Colab badges and the Colab install cell."""

    repository: str  # "owner/name" on GitHub
    branch: str = "main"

    @property
    def clone_url(self) -> str:
        return f"https://github.com/{self.repository}.git"

    def colab_url(self, path: str) -> str:
        return f"https://colab.research.google.com/github/{self.repository}/blob/{self.branch}/{path}"


def load_settings(root: Path = ROOT) -> CourseSettings:
    """The `[tool.hglearn.course]` table of `root/pyproject.toml`."""
    path = root / "pyproject.toml"
    try:
        table = read_toml(path.read_text(), str(path))["tool"]["hglearn"]["course"]
        return CourseSettings(**table)
    except (OSError, KeyError, TypeError, ConfigError) as error:
        raise CourseError(f"{path}: [tool.hglearn.course] needs repository = 'owner/name' ({error})") from None


# --- exercises from solutions -----------------------------------------------------------------


def strip_solutions(source: str, exercise: str, where: str = "") -> str:
    """Replace every BEGIN/END SOLUTION region of a cell's source by a `NotImplementedError` stub.

    The stub keeps the indentation of the BEGIN line and names the exercise: the enclosing
    function or class when there is one above the region ("Exercise 2 (Block.forward)"), else
    `exercise`. The check reports that name when the stub raises. A marker without its partner is
    a `CourseError` naming `where` (notebook and cell).
    """
    lines, out, inside, name, scopes = source.splitlines(), [], False, exercise, []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise CourseError(f"{where}, line {number}: {BEGIN} inside another solution region")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            # checking.STUB_MESSAGE reads this message back.
            out.append(f'{indent}raise NotImplementedError("{name}: your code here")')
        elif stripped == END:
            if not inside:
                raise CourseError(f"{where}, line {number}: {END} without a {BEGIN} before it")
            inside = False
        elif not inside:
            out.append(line)
            if match := DEFINITION.match(line):  # a method is named with its class
                depth = len(match.group(1))
                scopes = [(d, scope) for d, scope in scopes if d < depth] + [(depth, match.group(2))]
                name = f"{exercise} ({'.'.join(scope for _, scope in scopes)})"
    if inside:
        raise CourseError(f"{where}: {BEGIN} without an {END}")
    return "\n".join(out)


def is_exercise(cell) -> bool:
    return cell.cell_type == "code" and BEGIN in cell.source


# A predict-then-check question is a function `my_...prediction()` whose body the student writes
# (hglearn.course.questions): a stub like an exercise's, but not numbered among the exercises.
PREDICTION_FUNCTION = re.compile(r"^\s*def (my_\w*prediction)\(", re.MULTILINE)


def is_prediction(cell) -> bool:
    return is_exercise(cell) and bool(PREDICTION_FUNCTION.search(cell.source))


def is_stub(cell) -> bool:
    """An exercise cell of an exercise notebook (its solution replaced by a stub)."""
    return cell.cell_type == "code" and 'your code here")' in cell.source


def is_check(cell) -> bool:
    return cell.cell_type == "code" and bool(CHECK_CALL.search(cell.source))


def cells_digest(notebook) -> str:
    """A digest of a notebook's cell types and sources: what `build` writes, and what a student edits."""
    cells = json.dumps([[cell.cell_type, cell.source] for cell in notebook.cells])
    return hashlib.sha256(cells.encode()).hexdigest()[:16]


def exercise_notebook(solution, name: str):
    """The exercise version of a solution notebook (a new notebook; `solution` is not changed).

    Exercises are numbered in order, so a stub reads "Exercise 2 (receptive_field): your code here";
    predict-then-check questions are not numbered ("Your prediction (my_prediction): your code here").
    The digest of the cells written goes into `metadata.hglearn.built`, so that a later build can
    tell a notebook a student edited from one it wrote itself.
    """
    notebook = copy.deepcopy(solution)
    notebook.metadata.pop("widgets", None)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    meta = notebook.metadata.setdefault("hglearn", {})
    meta.pop("run_seconds", None)
    count = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if is_prediction(cell):
                cell.source = strip_solutions(cell.source, "Your prediction", f"{name}, cell {index}")
            elif is_exercise(cell):
                count += 1
                cell.source = strip_solutions(cell.source, f"Exercise {count}", f"{name}, cell {index}")
        cell.metadata.pop("execution", None)
        if isinstance(cell.metadata.get("hglearn"), dict):  # an exercise's reasoning line would give its answer away
            cell.metadata["hglearn"].pop("reasoning", None)
            if not cell.metadata["hglearn"]:
                del cell.metadata["hglearn"]
    meta["built"] = cells_digest(notebook)
    return notebook


# --- the Colab cells --------------------------------------------------------------------------

BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_cells(name: str, settings: CourseSettings) -> list:
    """The badge cell and the install cell that open every notebook, written from the settings."""
    exercise, solution = (settings.colab_url(f"{folder}/{name}.ipynb") for folder in ("notebooks", "solutions"))
    badges = nbformat.v4.new_markdown_cell(
        f"[![Open in Colab]({BADGE})]({exercise}) exercises &nbsp; "
        f"[![Open in Colab]({BADGE})]({solution}) solutions"
    )
    install = nbformat.v4.new_code_cell(
        "# In Colab: fetch the course and install it (nothing happens elsewhere).\n"
        "import os, subprocess, sys\n"
        'if "google.colab" in sys.modules and not os.path.isdir("/content/hglearn"):\n'
        f'    subprocess.run(["git", "clone", "--depth", "1", "{settings.clone_url}", "/content/hglearn"], check=True)\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "/content/hglearn"], check=True)\n'
        'if "google.colab" in sys.modules:\n'
        '    os.chdir("/content/hglearn/notebooks")  # relative paths such as ../data/ then work as locally'
    )
    for cell, role in ((badges, "colab-badges"), (install, "colab-install")):
        cell.metadata["hglearn"] = cell["id"] = role  # fixed ids: rebuilding changes nothing
    return [badges, install]


def with_colab_cells(notebook, name: str, settings: CourseSettings) -> bool:
    """Put the current Colab cells first in `notebook` (in place); True if anything changed."""
    fresh = colab_cells(name, settings)
    kept = [cell for cell in notebook.cells if cell.metadata.get("hglearn") not in ("colab-badges", "colab-install")]
    old = notebook.cells[: len(notebook.cells) - len(kept)]
    same = len(old) == 2 and all(a.source == b.source for a, b in zip(old, fresh))
    if same:
        return False
    notebook.cells = fresh + kept
    return True


def refresh_solution(solution, name: str, settings: CourseSettings) -> bool:
    """Bring a solution notebook's Colab cells and kernelspec up to date (in place); True if
    anything changed. Neither touches an output, so recorded outputs stay valid."""
    changed = with_colab_cells(solution, name, settings)
    if solution.metadata.get("kernelspec") != KERNELSPEC:
        solution.metadata["kernelspec"] = dict(KERNELSPEC)
        changed = True
    return changed


def with_widget_placeholders(notebook) -> None:
    """Replace the text of every recorded widget output (in place) by one line that says what to do.

    A front end that cannot draw a widget (an untrusted notebook, as in a fresh clone, or GitHub)
    shows its text/plain instead, which for a widget is its repr:
    `interactive(children=(IntSlider(value=64, ...`. The widget itself stays for front ends that can.
    """
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output.data["text/plain"] = WIDGET_PLACEHOLDER


# --- build and record -------------------------------------------------------------------------


def read_notebook(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError, json.JSONDecodeError) as error:
        raise CourseError(f"{path}: cannot read the notebook ({error})") from None


def write_notebook(notebook, path: Path) -> None:
    with atomic_path(path) as temporary:
        nbformat.write(notebook, temporary)


def solution_paths(root: Path = ROOT) -> list[Path]:
    paths = sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise CourseError(f"{root / 'solutions'}: no solution notebooks (NN_name.ipynb)")
    return paths


def edited(path: Path, fresh) -> bool:
    """Whether the exercise notebook at `path` holds edits of its own, a student's work: its cells
    are neither those the build that wrote it recorded (`metadata.hglearn.built`) nor `fresh`'s."""
    if not path.exists():
        return False
    current = read_notebook(path)
    digest = cells_digest(current)
    return digest not in (current.metadata.get("hglearn", {}).get("built"), cells_digest(fresh))


def refuse_to_overwrite(exercises: dict) -> None:
    """A `CourseError` naming the notebooks among `exercises` ({path: the notebook build would write
    there}) that were edited since they were built."""
    if paths := [path for path, exercise in exercises.items() if edited(path, exercise)]:
        raise CourseError(f"{', '.join(path.name for path in paths)} in {paths[0].parent}: edited since "
                          "`hglearn course build` wrote them, and a build would overwrite them. Copy your "
                          "work elsewhere first, or run `hglearn course build --force` to overwrite them.")


def build(root: Path = ROOT, out_dir: Path | None = None, force: bool = False) -> list[Path]:
    """Write the exercise notebooks from the solutions; returns the paths written.

    The solutions' Colab cells and kernelspec are brought up to date first (they carry no outputs,
    so recorded outputs stay valid). An exercise notebook edited since it was built is a
    `CourseError` (nothing is written) unless `force`. `out_dir` (default `root/notebooks`) lets a
    test build elsewhere.
    """
    settings, out_dir = load_settings(root), out_dir or root / "notebooks"
    solutions = {path: read_notebook(path) for path in solution_paths(root)}
    refreshed = [path for path, solution in solutions.items() if refresh_solution(solution, path.stem, settings)]
    exercises = {out_dir / path.name: exercise_notebook(solution, path.name) for path, solution in solutions.items()}
    if not force:
        refuse_to_overwrite(exercises)
    if out_dir == root / "notebooks":
        for path in refreshed:
            write_notebook(solutions[path], path)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, exercise in exercises.items():
        write_notebook(exercise, path)
    return list(exercises)


def execute(notebook, path: Path, timeout: int = 900):
    """Run every cell of `notebook`, read from `path`, in a fresh kernel started in its folder (in
    place) and return it. Like a front end's Run All, it stops at the first cell that raises: a
    `CourseError` naming the cell.

    The kernel is this Python's own (`sys.executable`), so it sees the same installed packages.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as error:
        index = next(i for i, cell in enumerate(notebook.cells)
                     if any(output.output_type == "error" for output in cell.get("outputs", [])))
        raise CourseError(f"{path.name}, cell {index} raised {error.ename}: {error.evalue}\n"
                          f"{notebook.cells[index].source[:300]}") from None
    return notebook


def record(root: Path = ROOT, names: list[str] | None = None, timeout: int = 900) -> dict[str, float]:
    """Restart-and-run-all the solution notebooks (all, or those whose file name starts with one of
    `names`), save them with their outputs and run time, rebuild the exercises and the README's
    notebook table. Returns seconds per notebook.
    """
    build(root)  # first: Colab cells and kernelspec refreshed, and an edited exercise stops it now
    seconds = {}
    for path in solution_paths(root):
        if names and not any(path.stem.startswith(name) for name in names):
            continue
        notebook = read_notebook(path)
        started = time.perf_counter()
        execute(notebook, path, timeout)
        seconds[path.stem] = time.perf_counter() - started
        with_widget_placeholders(notebook)
        notebook.metadata.setdefault("hglearn", {})["run_seconds"] = round(seconds[path.stem])
        write_notebook(notebook, path)
        print(f"{path.name}: {seconds[path.stem]:.0f} s", flush=True)
    build(root)
    update_readme(root)
    return seconds


# --- the README's notebook map ----------------------------------------------------------------

TABLE_START, TABLE_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"


def notebook_title(notebook, path: Path) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    raise CourseError(f"{path}: no markdown title ('# ...') cell")


PREDICTION_CALL = re.compile(r"\bcheck_prediction\(")
DIAGRAM_CALL = re.compile(r"\bdiagrams\.\w+_diagram\(")


def reasoning_of(cell) -> str:
    """The one line saying what an exercise asks the student to work out that the notebook does not
    show (`metadata.hglearn.reasoning` of its solution cell), or "" when it has none."""
    meta = cell.metadata.get("hglearn")
    reasoning = meta.get("reasoning", "") if isinstance(meta, dict) else ""
    return reasoning.strip() if isinstance(reasoning, str) else ""


def notebook_counts(notebook) -> dict[str, int]:
    """What a solution notebook asks of the student and shows: exercises (check cells of code the
    student writes), those of them that need reasoning (the answer is not on screen: the solution cell
    before the check carries a `metadata.hglearn.reasoning` line), predict-then-check questions
    (`check_prediction` cells), written reflection questions (a markdown `<details>` with a model
    answer) and diagrams drawn (`diagrams.*_diagram` calls)."""
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    exercises = reasoning = 0
    solution = None  # the latest exercise cell not yet followed by its check
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if is_exercise(cell) and not is_prediction(cell):
            solution = cell
        if CHECK_CALL.search(cell.source) and not PREDICTION_CALL.search(cell.source):
            exercises += 1
            reasoning += solution is not None and bool(reasoning_of(solution))
            solution = None
    return {
        "exercises": exercises,
        "reasoning": reasoning,
        "predictions": sum(bool(PREDICTION_CALL.search(s)) for s in code),
        "reflections": sum(cell.source.count("<details>") for cell in notebook.cells if cell.cell_type == "markdown"),
        "diagrams": sum(len(DIAGRAM_CALL.findall(s)) for s in code),
    }


def notebook_table(root: Path = ROOT) -> str:
    """The README's map of the notebooks: title, one line from `metadata.hglearn.summary`, what it
    asks and shows (`notebook_counts`: exercises, and how many of them need reasoning), run time."""
    rows = ["| notebook | what you build | exercises | need reasoning | predict, then check | reflection questions "
            "| diagrams | solution run time, 2-core CPU |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for path in solution_paths(root):
        notebook = read_notebook(path)
        meta = notebook.metadata.get("hglearn", {})
        if "summary" not in meta:
            raise CourseError(f"{path}: metadata.hglearn.summary (one line for the README) is missing")
        run = f"{meta['run_seconds']} s" if "run_seconds" in meta else "not recorded"
        links = f"[exercises](notebooks/{path.name}) · [solutions](solutions/{path.name})"
        counts = notebook_counts(notebook)
        rows.append(f"| **{notebook_title(notebook, path)}** ({links}) | {meta['summary']} | {counts['exercises']} | "
                    f"{counts['reasoning']} | {counts['predictions']} | {counts['reflections']} | "
                    f"{counts['diagrams']} | {run} |")
    return "\n".join(rows)


def update_readme(root: Path = ROOT) -> None:
    path = root / "README.md"
    text = path.read_text()
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise CourseError(f"{path}: the markers {TABLE_START} and {TABLE_END} are missing")
    text = text[: start + len(TABLE_START)] + "\n" + notebook_table(root) + "\n" + text[end:]
    with atomic_path(path) as temporary:
        temporary.write_text(text)
