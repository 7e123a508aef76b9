"""The course machinery: exercises built from solutions, the drift check, the notebooks as a front end
opens them, the check verdicts."""
import ast
import pkgutil
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

import hglearn.course
from hglearn.course import checking, notebooks
from hglearn.course.notebooks import CourseError, build, exercise_notebook, strip_solutions

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*(ROOT / "solutions").glob("*.ipynb"), *(ROOT / "notebooks").glob("*.ipynb")])

SOLVED = '''def receptive_field(layers):
    """Receptive field of a stack of convolutions."""
    ### BEGIN SOLUTION
    r = 1
    for k, d in layers:
        r += (k - 1) * d
    return r
    ### END SOLUTION

print(receptive_field([(3, 1)]))'''


def test_strip_solutions_replaces_the_region_by_a_named_stub_at_its_indentation():
    out = strip_solutions(SOLVED, "Exercise 2")
    assert "r += (k - 1) * d" not in out and "BEGIN" not in out and "END SOLUTION" not in out
    assert '    raise NotImplementedError("Exercise 2 (receptive_field): your code here")' in out.splitlines()
    assert out.splitlines()[1] == '    """Receptive field of a stack of convolutions."""'  # prose kept
    assert out.endswith("print(receptive_field([(3, 1)]))")


def test_strip_solutions_names_a_method_with_its_class():
    source = ("class Block(nn.Module):\n    def forward(self, x):\n        ### BEGIN SOLUTION\n"
              "        return x\n        ### END SOLUTION\n\ndef after():\n    ### BEGIN SOLUTION\n    pass\n"
              "    ### END SOLUTION")
    assert strip_solutions(source, "Exercise 3").splitlines() == [
        "class Block(nn.Module):", "    def forward(self, x):",
        '        raise NotImplementedError("Exercise 3 (Block.forward): your code here")', "",
        "def after():", '    raise NotImplementedError("Exercise 3 (after): your code here")']


def test_strip_solutions_at_top_level_uses_the_exercise_name():
    out = strip_solutions("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION", "Exercise 1")
    assert out == 'x = 1\nraise NotImplementedError("Exercise 1: your code here")'


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "without an"),
    ("x = 1\n### END SOLUTION", "without a"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_unbalanced_markers_name_the_notebook_and_cell(source, message):
    with pytest.raises(CourseError, match=f"01_demo.ipynb, cell 3.*{message}"):
        strip_solutions(source, "Exercise 1", "01_demo.ipynb, cell 3")


def demo_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["hglearn"] = {"summary": "a demo", "run_seconds": 3}
    nb.metadata["widgets"] = {"state": {}}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · Demo\n\nProse stays."),
        nbformat.v4.new_code_cell(SOLVED, execution_count=1,
                                  outputs=[nbformat.v4.new_output("stream", text="3\n")]),
        nbformat.v4.new_code_cell("course.check_receptive_field(receptive_field)", execution_count=2),
    ]
    return nb


def test_exercise_notebook_clears_outputs_counts_and_widget_state_and_keeps_the_rest():
    solution = demo_notebook()
    exercise = exercise_notebook(solution, "01_demo.ipynb")
    assert [c.source for c in exercise.cells][0] == "# 01 · Demo\n\nProse stays."
    assert "NotImplementedError" in exercise.cells[1].source
    assert exercise.cells[2].source == solution.cells[2].source  # the check cell stays
    assert all(c.outputs == [] and c.execution_count is None for c in exercise.cells if c.cell_type == "code")
    assert "widgets" not in exercise.metadata and "run_seconds" not in exercise.metadata["hglearn"]
    assert exercise.metadata["kernelspec"] == notebooks.KERNELSPEC
    assert exercise.metadata["hglearn"]["built"] == notebooks.cells_digest(exercise)
    assert solution.cells[1].outputs and "r += (k - 1) * d" in solution.cells[1].source  # untouched


def test_widget_outputs_are_recorded_as_a_line_saying_to_run_the_cell():
    nb = demo_notebook()
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
              "text/plain": "interactive(children=(IntSlider(value=64, description='channels'), ..."}
    nb.cells[1].outputs.append(nbformat.v4.new_output("display_data", data=widget))
    notebooks.with_widget_placeholders(nb)
    assert nb.cells[1].outputs[1].data["text/plain"] == "(run this cell to use the controls)"
    assert nb.cells[1].outputs[0].text == "3\n"  # other outputs unchanged


def test_build_writes_colab_cells_from_the_one_setting_and_is_idempotent(tmp_path):
    demo_course(tmp_path)
    (tmp_path / "README.md").write_text("x\n<!-- notebooks:start -->\n<!-- notebooks:end -->\n")
    [written] = build(tmp_path)
    exercise = nbformat.read(written, as_version=4)
    solution = nbformat.read(tmp_path / "solutions" / "01_demo.ipynb", as_version=4)
    for nb in (exercise, solution):
        badges, install = nb.cells[0].source, nb.cells[1].source
        assert "colab.research.google.com/github/someone/course/blob/main/notebooks/01_demo.ipynb" in badges
        assert "colab.research.google.com/github/someone/course/blob/main/solutions/01_demo.ipynb" in badges
        assert "https://github.com/someone/course.git" in install and '"google.colab" in sys.modules' in install
    exec(compile(install, "install", "exec"), {})  # outside Colab the install cell does nothing
    first = written.read_text()
    build(tmp_path)
    assert written.read_text() == first and len(nbformat.read(written, as_version=4).cells) == 5
    notebooks.update_readme(tmp_path)
    assert "| **01 · Demo** ([exercises](notebooks/01_demo.ipynb)" in (tmp_path / "README.md").read_text()
    assert "| a demo | 1 | 0 | 0 | 0 | 0 | 3 s |" in (tmp_path / "README.md").read_text()  # no reasoning line


def demo_course(root: Path) -> Path:
    """A course of one solution notebook under `root`; returns the solution's path."""
    (root / "solutions").mkdir()
    (root / "pyproject.toml").write_text('[tool.hglearn.course]\nrepository = "someone/course"\n')
    nbformat.write(demo_notebook(), root / "solutions" / "01_demo.ipynb")
    return root / "solutions" / "01_demo.ipynb"


def test_build_refuses_to_overwrite_an_edited_exercise_notebook_unless_forced(tmp_path):
    solution_path = demo_course(tmp_path)
    [written] = build(tmp_path)
    solution = nbformat.read(solution_path, as_version=4)
    solution.cells[4].source += "  # a clearer check"
    nbformat.write(solution, solution_path)
    [written] = build(tmp_path)  # solutions changed, exercises untouched: rebuilt without asking
    assert "a clearer check" in written.read_text()

    exercise = nbformat.read(written, as_version=4)
    exercise.cells[3].source = "def receptive_field(layers):\n    return 42  # the student's work"
    nbformat.write(exercise, written)
    edited = written.read_text()
    with pytest.raises(CourseError, match=r"01_demo.ipynb in .*notebooks: edited since .*build --force"):
        build(tmp_path)
    assert written.read_text() == edited  # nothing lost
    build(tmp_path, force=True)
    assert "the student's work" not in written.read_text()


def test_missing_setting_is_a_clear_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(CourseError, match=r"pyproject.toml: \[tool.hglearn.course\] needs repository"):
        notebooks.load_settings(tmp_path)


def test_committed_exercise_notebooks_are_exactly_what_build_writes(tmp_path):
    """Drift: solutions/ changed without rebuilding notebooks/. Only what build generates is
    compared, the cells' types and sources: not metadata, and not the outputs of a notebook run."""
    def cells(paths):
        return {p.name: notebooks.cells_digest(nbformat.read(p, as_version=4)) for p in paths}

    built, committed = cells(build(ROOT, out_dir=tmp_path)), cells((ROOT / "notebooks").glob("*.ipynb"))
    assert set(committed) == set(built), f"notebooks/ holds {sorted(committed)}, solutions/ {sorted(built)}"
    stale = [name for name in built if built[name] != committed[name]]
    assert not stale, (f"{stale}: their cells differ from what solutions/ generates. If you are working "
                       "through the course, that is your own work in notebooks/ and nothing to fix; in the "
                       "course's repository it means solutions/ changed without rebuilding the exercises.")


def test_every_notebook_carries_the_kernelspec_jupyterlab_writes_so_opening_it_changes_nothing():
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    installed = get_kernel_dict()
    assert notebooks.KERNELSPEC == {"display_name": installed["display_name"], "language": installed["language"],
                                    "name": KERNEL_NAME}
    wrong = [p.relative_to(ROOT) for p in NOTEBOOKS
             if nbformat.read(p, as_version=4).metadata.get("kernelspec") != notebooks.KERNELSPEC]
    assert not wrong, f"{wrong}: kernelspec is not {notebooks.KERNELSPEC}"


def raises_when_run(source: str) -> list[int]:
    """The lines of a cell's `raise` statements that run when the cell itself runs: those outside
    any function (a class body runs when the class is defined)."""
    pending, lines = list(ast.parse(source).body), []
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Raise):
            lines.append(node.lineno)
        pending.extend(ast.iter_child_nodes(node))
    return sorted(lines)


def test_no_exercise_stub_raises_when_its_cell_runs():
    """Stubs are inside functions: only the check, by calling one, meets the NotImplementedError."""
    assert raises_when_run("def f():\n    raise NotImplementedError\nclass A:\n    raise ValueError") == [4]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if notebooks.is_stub(cell):
                assert not raises_when_run(cell.source), f"{path.name}, cell {index} raises when it runs"


def test_recorded_widgets_read_as_a_line_and_are_not_compared_by_nbval():
    widget_cells = 0
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            widgets = [o for o in cell.get("outputs", []) if notebooks.WIDGET_VIEW in o.get("data", {})]
            widget_cells += bool(widgets)
            for output in widgets:
                assert cell.source.startswith("# NBVAL_IGNORE_OUTPUT"), f"{path.name}, cell {index}"
                assert output.data["text/plain"] == notebooks.WIDGET_PLACEHOLDER, f"{path.name}, cell {index}"
    assert widget_cells >= 3  # notebooks 02, 06 and 10


# An address as GitHub and JupyterLab autolink it: "PCKh@0.5" would render as a mailto: link.
EMAIL = re.compile(r"[A-Za-z0-9._+-]+@[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+")
CODE = re.compile(r"^(```|~~~).*?^\1|``.+?``|`[^`\n]+`", re.M | re.S)  # fences, then code spans


def test_code_spans_keep_metric_names_from_rendering_as_email_links():
    assert not EMAIL.search(CODE.sub("", "`PCKh@0.5` and\n```\nPCK@0.2\n```\n"))
    texts = {"README.md": (ROOT / "README.md").read_text()}
    for path in NOTEBOOKS:
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "markdown":
                texts[f"{path.relative_to(ROOT)}, cell {index}"] = cell.source
    linked = {where: match.group() for where, text in texts.items() if (match := EMAIL.search(CODE.sub("", text)))}
    assert not linked, f"would render as e-mail links (write them as code spans): {linked}"


def test_readme_notebook_map_is_current():
    text = (ROOT / "README.md").read_text()
    start, end = text.index(notebooks.TABLE_START), text.index(notebooks.TABLE_END)
    assert text[start + len(notebooks.TABLE_START):end].strip() == notebooks.notebook_table(ROOT)


def test_every_solution_notebook_has_exercises_each_followed_by_a_check():
    for path in notebooks.solution_paths(ROOT):
        cells = nbformat.read(path, as_version=4).cells
        exercises = [i for i, c in enumerate(cells) if notebooks.is_exercise(c) and not notebooks.is_prediction(c)]
        assert 1 <= len(exercises) <= 4, f"{path.name}: {len(exercises)} exercises (1-4 wanted)"
        for i in exercises:
            following = [c for c in cells[i + 1:] if c.cell_type == "code"][:1]
            assert following and notebooks.is_check(following[0]), f"{path.name}, cell {i}: no check cell after it"
        for i in (i for i, c in enumerate(cells) if notebooks.is_prediction(c)):  # answered before it is measured
            name = notebooks.PREDICTION_FUNCTION.search(cells[i].source).group(1)
            later = [c.source for c in cells[i + 1:] if c.cell_type == "code"]
            checked = re.compile(rf"check_prediction\(\s*{name}\b")
            assert any(checked.search(s) for s in later), f"{path.name}, cell {i}: {name} is never checked"
            assert not checked.search(cells[i].source), f"{path.name}, cell {i}: measured in its own cell"


# --- the check machinery -----------------------------------------------------------------------


def test_difference_reports_shape_values_and_type():
    assert checking.difference(torch.ones(2, 3), torch.ones(2, 3)) is None
    assert checking.difference(torch.ones(3, 2), torch.ones(2, 3)) == "shape (3, 2), expected (2, 3)"
    assert "1 of 6 values differ" in checking.difference(torch.tensor([[1.0, 1, 1], [1, 1, 2]]), torch.ones(2, 3))
    assert checking.difference(3, 3.0) is None and "4 instead of 3" in checking.difference(4, 3)
    assert "expected a number" in checking.difference("3", 3)
    assert "item 1" in checking.difference((1, 2), (1, 3))
    nan = float("nan")  # e.g. PCKh of a joint nobody annotated: NaN is the right answer there
    assert checking.difference(np.array([50.0, nan]), np.array([50.0, nan])) is None
    assert "1 of 2 values differ" in checking.difference(np.array([50.0, 0.0]), np.array([50.0, nan]))


def test_check_function_passes_right_code_fails_wrong_code_and_raises_on_not_implemented():
    def square(x):
        return x * x

    def wrong(x):
        return x + x

    def broken(x):
        raise KeyError("oops")

    def unsolved(x):
        raise NotImplementedError

    cases = [(2,), (3,)]
    assert checking.check_function(square, square, cases, "square")
    verdict = checking.check_function(wrong, square, cases, "square")
    assert not verdict and "square(3): 6 instead of 9" in verdict.message  # 2 + 2 == 2 * 2
    assert "raised KeyError" in checking.check_function(broken, square, cases, "square").message
    with pytest.raises(NotImplementedError):  # for the public check's reports_not_attempted to report
        checking.check_function(unsolved, square, cases, "square")
    assert repr(verdict).startswith("❌") and repr(checking.passed("ok")) == "✅ ok"


CHECK_MODULES = [f"hglearn.course.{m.name}" for m in pkgutil.iter_modules(hglearn.course.__path__)
                 if m.name.startswith("checks_")]
PUBLIC_CHECKS = sorted(name for module in CHECK_MODULES for name in __import__(module, fromlist=["_"]).__all__)


@pytest.mark.parametrize("name", PUBLIC_CHECKS)
def test_every_check_reports_an_unsolved_exercise_as_not_attempted_in_one_line(name):
    def unsolved(*args, **kwargs):  # what an exercise's stub does
        raise NotImplementedError("Exercise 2 (Block.forward): your code here")

    verdict = getattr(hglearn.course, name)(unsolved)
    assert not verdict and not verdict.attempted
    assert repr(verdict) == ("✏️ Exercise 2 (Block.forward): not attempted yet. Write it in the cell above, "
                             "run that cell, then run this check again.")


def test_a_student_own_not_implemented_error_is_named_with_the_function():
    def to_scale_one(heatmaps, s):
        raise NotImplementedError("TODO the grid")

    verdict = hglearn.course.check_to_scale_one(to_scale_one)
    assert not verdict.attempted and verdict.message.startswith("to_scale_one (NotImplementedError: TODO the grid): ")


class Reference(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Renamed(nn.Module):  # same maths, other names and order of creation
    def __init__(self, c):
        super().__init__()
        self.norm, self.weights = nn.BatchNorm2d(c), nn.Conv2d(c, c, 3, padding=1, bias=False)

    def forward(self, x):
        return torch.relu(self.norm(self.weights(x)))


class NoRelu(Reference):
    def forward(self, x):
        return self.bn(self.conv(x))


def test_check_module_compares_counts_shapes_and_values_with_copied_weights():
    cases = [((4,), (2, 4, 8, 8)), ((8,), (1, 8, 5, 5))]
    assert checking.check_module(Renamed, Reference, cases, "Block")
    assert "values differ" in checking.check_module(NoRelu, Reference, cases, "Block").message
    assert "parameters, the reference" in checking.check_module(
        lambda c: nn.Conv2d(c, c, 3, padding=1), Reference, cases, "Block").message
    assert "output shape" in checking.check_module(
        lambda c: nn.Sequential(nn.Conv2d(c, c, 3, bias=False), nn.BatchNorm2d(c)), Reference, cases, "Block").message


def test_hints_show_arrays_by_shape_also_inside_lists():
    text = checking.short(([torch.zeros(2, 3), torch.zeros(4)], torch.zeros(5, 5), 7), limit=200)
    assert text == "([tensor(2, 3), tensor(4,)], tensor(5, 5), 7)"
    assert checking.short(([torch.zeros(2, 8, 6, 6)] * 4,)) == "([4 × tensor(2, 8, 6, 6)])"
    assert checking.short((nn.Sequential(nn.Linear(2, 64), nn.Tanh()), 3)) == "(Sequential(...), 3)"
    assert checking.short((np.zeros((3, 2)), [1, 2])) == "(array(3, 2), [1, 2])"


def test_the_readme_map_counts_exercises_predictions_reflections_and_diagrams():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 99 · A demo"),
        nbformat.v4.new_code_cell("course.check_receptive_field(receptive_field)"),
        nbformat.v4.new_code_cell("course.check_prediction(my_prediction, choices=('a', 'b'), measured='a', why='')"),
        nbformat.v4.new_code_cell("course.check_pck(pck)\nx = 1"),
        nbformat.v4.new_markdown_cell("<details><summary>Why?</summary>Because.</details>"),
        nbformat.v4.new_code_cell("display(diagrams.hourglass_diagram(depth=2), diagrams.mdlrb_diagram())"),
        nbformat.v4.new_code_cell("print('check_x is mentioned, not called')"),
    ])
    assert notebooks.notebook_counts(nb) == {"exercises": 2, "reasoning": 0, "predictions": 1, "reflections": 1,
                                             "diagrams": 2}


def exercise_cell(name, reasoning=None):
    cell = nbformat.v4.new_code_cell(f"def {name}(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION")
    if reasoning is not None:
        cell.metadata["hglearn"] = {"reasoning": reasoning}
    return cell


def test_the_readme_map_counts_the_exercises_that_need_reasoning():
    """An exercise needs reasoning when the solution cell before its check carries a
    `metadata.hglearn.reasoning` line; a prediction's does not count, nor does an empty line."""
    prediction = exercise_cell("my_prediction", reasoning="a prediction is not an exercise")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 99 · A demo"),
        nbformat.v4.new_code_cell("x = 1"),
        exercise_cell("with_reasoning", reasoning="the recurrence, from the idea of the jump"),
        nbformat.v4.new_code_cell("course.check_with_reasoning(with_reasoning)"),
        exercise_cell("on_screen"),  # no metadata: the answer is on screen
        nbformat.v4.new_code_cell("course.check_on_screen(on_screen)"),
        exercise_cell("blank", reasoning="  "),
        nbformat.v4.new_code_cell("course.check_blank(blank)"),
        prediction,
        nbformat.v4.new_code_cell("course.check_prediction(my_prediction, choices=('a', 'b'), measured='a', why='')"),
        nbformat.v4.new_code_cell("course.check_without_a_solution_cell(f)"),
    ])
    nb.cells[1].metadata["hglearn"] = "colab-install"  # a string, as the Colab cells carry
    counts = notebooks.notebook_counts(nb)
    assert (counts["exercises"], counts["reasoning"], counts["predictions"]) == (4, 1, 1)
    nb.cells[4].metadata["hglearn"] = {"reasoning": "now it needs some", "other": "kept"}
    assert notebooks.notebook_counts(nb)["reasoning"] == 2


def test_every_exercise_says_what_it_asks_the_student_to_work_out():
    missing = []
    for path in notebooks.solution_paths(ROOT):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if notebooks.is_exercise(cell) and not notebooks.is_prediction(cell) and not notebooks.reasoning_of(cell):
                name = next(m.group(2) for line in cell.source.splitlines() if (m := notebooks.DEFINITION.match(line)))
                missing.append(f"{path.name}, cell {index} ({name})")
    assert not missing, f"no metadata.hglearn.reasoning line: {missing}"


def test_predictions_are_stubbed_but_not_numbered_among_the_exercises():
    solution = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell("def my_prediction():\n    ### BEGIN SOLUTION\n    return 'lower'\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell("def g(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
    ])
    stubs = [c.source for c in notebooks.exercise_notebook(solution, "demo.ipynb").cells]
    assert 'Exercise 1 (f): your code here' in stubs[0] and 'Exercise 2 (g): your code here' in stubs[2]
    assert 'Your prediction (my_prediction): your code here' in stubs[1]
    assert [notebooks.is_prediction(c) for c in solution.cells] == [False, True, False]


def test_the_exercise_notebook_drops_the_reasoning_lines_that_would_give_answers_away():
    solution = nbformat.v4.new_notebook(cells=[exercise_cell("f", reasoning="the answer, nearly"),
                                               exercise_cell("g", reasoning="another")])
    solution.cells[1].metadata["hglearn"]["other"] = "kept"
    exercise = exercise_notebook(solution, "demo.ipynb")
    assert "hglearn" not in exercise.cells[0].metadata
    assert exercise.cells[1].metadata["hglearn"] == {"other": "kept"}
    assert solution.cells[0].metadata["hglearn"] == {"reasoning": "the answer, nearly"}  # the solution is untouched
