"""Exercises that need thought: no exercise is preceded in its notebook by the printed source of
the object it asks for.

The rule, for every solution notebook. A *listing* is a code cell that prints source code or a
docstring: a call of `inspect.getsource`, `getsourcelines`, `getdoc` or `getcomments`, of `help`,
an access to `.__doc__`, IPython's `obj?`, `obj??`, `%psource`, `%pdoc`, `%pinfo`, `%pinfo2`,
`%pfile`, `%pycat` or `%load`, or the reading of a `.py` file. No listing may come before the check
cell of an exercise (the first code cell after it) whose answer it shows. A listing *shows the
answer* of an exercise when

1. what it lists is one of the exercise's **references**: the `hglearn` functions and classes that
   the exercise's check compares the student's code with, found by following the check's code
   through the helpers of `hglearn.course` it names (with the library objects they name), or a
   method of such a class, or the module that defines one; or
2. its text holds the exercise's **solution**: at least half of the lines between `### BEGIN
   SOLUTION` and `### END SOLUTION` (blank lines, comments and lines under 12 characters left out)
   appear in it, whatever object it lists.

What a listing lists is resolved with the notebook's own imports; an expression that cannot be
resolved (`type(model)`) is matched by the names in it against the references' names.
Predict-then-check questions (checked by `hglearn.course.questions`) have no source to hide and are
left out. A listing after the check is allowed: the student has written the exercise by then, and
comparing it with the library's version is worth showing.
"""
import ast
import importlib
import inspect
import re
import types
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

import hglearn
import hglearn.course
from hglearn.blocks import MDLRB, Bottleneck
from hglearn.course import notebooks
from hglearn.hourglass import StackedHourglass
from hglearn.layers import conv_output_size, receptive_field

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
SOURCE_CALLS = {"getsource", "getsourcelines", "getdoc", "getcomments", "help"}
MAGIC = re.compile(r"^\s*%(psource|pdoc|pinfo2?|pfile|pycat|load)\s+(\S+)")
QUESTION = re.compile(r"^\s*(?:\?{1,2}\s*([\w.]+)|([\w.]+)\s*\?{1,2})\s*$")
SHELL_OR_MAGIC = re.compile(r"^\s*[%!]|^\s*\?|\?\s*$")
MACHINERY = ("hglearn.course.checking", "hglearn.course.questions", "hglearn.course.notebooks",
             "hglearn.course.runtime")


@dataclass(frozen=True)
class Listing:
    cell: int
    expression: str  # what is listed, as written in the cell ("Bottleneck", "StackedHourglass.forward")
    path: str | None = None  # a .py file that is read


def python_of(source: str) -> str:
    """A cell's source without IPython's magics, shell escapes and help lines, so that it parses."""
    return "\n".join("" if SHELL_OR_MAGIC.search(line) else line for line in source.splitlines())


def parsed(source: str) -> ast.Module | None:
    try:
        return ast.parse(python_of(source))
    except SyntaxError:
        return None


def listings(index: int, source: str) -> list[Listing]:
    """Every listing in one code cell."""
    found = []
    for line in source.splitlines():
        if match := MAGIC.match(line):
            found.append(Listing(index, match.group(2)))
        elif match := QUESTION.match(line):
            found.append(Listing(index, match.group(1) or match.group(2)))
    tree = parsed(source)
    if tree is None:
        return found
    reads_files = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in SOURCE_CALLS and node.args:
                found.append(Listing(index, ast.unparse(node.args[0])))
            reads_files |= name in ("open", "read_text")
        elif isinstance(node, ast.Attribute) and node.attr == "__doc__":
            found.append(Listing(index, ast.unparse(node.value)))
    if reads_files:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".py"):
                found.append(Listing(index, node.value, path=node.value))
    return found


def imported_names(sources: list[str]) -> dict[str, object]:
    """The names the import statements of these cells bind, resolved in this process."""
    names = {}
    for source in sources:
        tree = parsed(source)
        for node in ast.walk(tree) if tree is not None else ():
            try:
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        module = importlib.import_module(alias.name)
                        if alias.asname:
                            names[alias.asname] = module
                        else:
                            head = alias.name.split(".")[0]
                            names[head] = importlib.import_module(head)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    module = importlib.import_module(node.module)
                    for alias in node.names:
                        if alias.name == "*":
                            continue
                        value = getattr(module, alias.name, None)
                        if value is None:
                            value = importlib.import_module(f"{node.module}.{alias.name}")
                        names[alias.asname or alias.name] = value
            except Exception:  # an optional package missing here: its names stay unresolved
                continue
    return names


def resolve(expression: str, names: dict[str, object]):
    """The object a dotted expression names, or None when it is not a plain dotted name."""
    parts = expression.split(".")
    if not all(part.isidentifier() for part in parts) or parts[0] not in names:
        return None
    value = names[parts[0]]
    for part in parts[1:]:
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


# --- the references of a check -----------------------------------------------------------------


def code_objects(code: types.CodeType):
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from code_objects(constant)


def named_objects(function) -> list:
    """The objects a function's code names through its globals, and attributes of modules it names."""
    names = {name for code in code_objects(function.__code__) for name in code.co_names}
    space = function.__globals__
    found = [space[name] for name in names if name in space]
    modules = [value for value in found if isinstance(value, types.ModuleType)]
    found += [getattr(module, name) for module in modules for name in names if hasattr(module, name)]
    return found


def defined_in_hglearn(value) -> bool:
    module = getattr(value, "__module__", None) or ""
    return (inspect.isfunction(value) or inspect.isclass(value)) and module.split(".")[0] == "hglearn"


def references(check) -> set:
    """The hglearn objects an exercise's check compares the student's answer with: the check's own
    helpers in hglearn.course (followed, methods of their classes included) and the library objects
    they name (collected, not followed). The checking machinery itself is left out."""
    found, pending, seen = set(), [inspect.unwrap(check)], set()
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        functions = [value] if inspect.isfunction(value) else [
            member for member in vars(value).values() if inspect.isfunction(member)]
        for function in functions:
            for named in named_objects(function):
                if not defined_in_hglearn(named) or named.__module__ in MACHINERY:
                    continue
                found.add(named)
                if named.__module__.startswith("hglearn.course."):
                    pending.append(named)
    found.discard(inspect.unwrap(check))
    return found


def module_of_path(path: str) -> str | None:
    """hglearn.blocks for "../hglearn/blocks.py" and the like."""
    parts = Path(path).with_suffix("").parts
    if "hglearn" not in parts:
        return None
    return ".".join(parts[parts.index("hglearn"):])


def is_reference(listed, reference_set: set) -> bool:
    """Whether a listed object is a reference, a method of one, a class holding one, or the module
    defining one."""
    if listed in reference_set:
        return True
    if isinstance(listed, types.ModuleType):
        return any(ref.__module__ == listed.__name__ for ref in reference_set)
    if inspect.ismethod(listed):
        listed = listed.__func__
    if inspect.isfunction(listed):
        owner = getattr(importlib.import_module(listed.__module__), listed.__qualname__.split(".")[0], None)
        return owner in reference_set
    if inspect.isclass(listed):
        return any(getattr(ref, "__qualname__", "").startswith(listed.__qualname__ + ".")
                   and ref.__module__ == listed.__module__ for ref in reference_set)
    return False


# --- the solution's text -----------------------------------------------------------------------


def normalised(line: str) -> str:
    return " ".join(line.split("#", 1)[0].split())


def solution_lines(source: str) -> set[str]:
    """The lines of a cell's solution regions that say something: not blank, not comments, and at
    least 12 characters long once spaces are collapsed."""
    lines, inside = set(), False
    for line in source.splitlines():
        if line.strip() in (notebooks.BEGIN, notebooks.END):
            inside = line.strip() == notebooks.BEGIN
        elif inside and len(text := normalised(line)) >= 12:
            lines.add(text)
    return lines


def holds_solution(text: str, solution: set[str]) -> bool:
    """Whether at least half of the solution's lines appear in `text`."""
    present = {normalised(line) for line in text.splitlines()}
    return bool(solution) and 2 * len(solution & present) >= len(solution)


def listed_text(listed, listing: Listing) -> str:
    if listing.path:
        path = Path(listing.path)
        candidates = [path, ROOT / "solutions" / path, ROOT / path]
        return next((p.read_text() for p in candidates if p.is_file()), "")
    try:
        return inspect.getsource(listed)
    except (TypeError, OSError):
        return inspect.getdoc(listed) or ""


# --- the rule ----------------------------------------------------------------------------------


def checks_in(source: str, names: dict[str, object]) -> list:
    """The check functions a check cell calls (predict-then-check questions left out)."""
    found, tree = [], parsed(source)
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.split(".")[-1].startswith("check_"):
                check = resolve(name, names) or getattr(hglearn.course, name.split(".")[-1], None)
                if check is not None and inspect.unwrap(check).__module__ != "hglearn.course.questions":
                    found.append(check)
    return found


def answers_shown(notebook) -> list[str]:
    """Every listing that comes before the check of an exercise whose answer it shows, in words."""
    cells = notebook.cells
    code = [i for i, cell in enumerate(cells) if cell.cell_type == "code"]
    all_listings = [listing for i in code for listing in listings(i, cells[i].source)]
    problems = []
    for i in (i for i in code if notebooks.is_exercise(cells[i])):
        check_cell = next((j for j in code if j > i), None)
        if check_cell is None:
            continue
        names = imported_names([cells[j].source for j in code if j <= check_cell])
        for check in checks_in(cells[check_cell].source, names):
            refs, solution = references(check), solution_lines(cells[i].source)
            ref_names = {ref.__name__ for ref in refs}
            for listing in (lst for lst in all_listings if lst.cell < check_cell):
                listed = importlib.import_module(module) if listing.path and (
                    module := module_of_path(listing.path)) else resolve(listing.expression, names)
                if listed is not None:
                    why = ("lists a reference of its check" if is_reference(listed, refs)
                           else "holds its solution" if holds_solution(listed_text(listed, listing), solution)
                           else None)
                else:
                    named = set(re.findall(r"[A-Za-z_]\w*", listing.expression)) & ref_names
                    why = f"names {sorted(named)[0]}, a reference of its check" if named else None
                if why:
                    problems.append(f"cell {listing.cell} ({listing.expression}) {why}, "
                                    f"{check.__name__}, before it runs in cell {check_cell} (exercise in cell {i})")
    return problems


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_no_exercise_is_preceded_by_the_printed_source_of_its_answer(path):
    problems = answers_shown(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}: " + "; ".join(problems)


# --- the rule itself, on notebooks built here ------------------------------------------------------

BOTTLENECK_EXERCISE = '''class NewellBottleneck(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        ### BEGIN SOLUTION
        mid = cout // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, cout, 1)
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        y = self.conv3(torch.relu(self.bn3(y)))
        return y + self.skip(x)
        ### END SOLUTION'''
IMPORTS = ("import inspect\nimport torch\nfrom torch import nn\n\nfrom hglearn import course\n"
           "from hglearn.blocks import Bottleneck\nfrom hglearn.hourglass import Hourglass, StackedHourglass\n"
           "from hglearn.layers import receptive_field")


def notebook_of(*sources: str):
    """A notebook of code cells (a string starting with '#md ' is a markdown cell)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(s[4:]) if s.startswith("#md ") else nbformat.v4.new_code_cell(s)
                      for s in sources]
    return notebook


@pytest.mark.parametrize("listing", [
    "print(inspect.getsource(Bottleneck))",
    "print(inspect.getsource(hglearn.blocks.Bottleneck))",
    "help(Bottleneck)",
    "print(Bottleneck.__doc__)",
    "print(inspect.getsource(Bottleneck.forward))",  # a method of the reference
    "Bottleneck??",
    "%psource Bottleneck",
    "print(inspect.getsource(hglearn.blocks))",  # the module that defines it
    "print(open('../hglearn/blocks.py').read())",
    "print(inspect.getsource(type(block)))",  # unresolvable here, named by its argument: not flagged
])
def test_a_listing_of_the_reference_before_the_check_is_flagged(listing):
    notebook = notebook_of(IMPORTS + "\nimport hglearn.blocks", listing, BOTTLENECK_EXERCISE,
                           "course.check_bottleneck(NewellBottleneck)")
    problems = answers_shown(notebook)
    if "type(block)" in listing:
        assert not problems
    else:
        assert len(problems) == 1 and problems[0].startswith("cell 1 ") and "check_bottleneck" in problems[0], problems


def test_the_same_listing_after_the_check_and_listings_of_other_objects_pass():
    after = notebook_of(IMPORTS, BOTTLENECK_EXERCISE, "course.check_bottleneck(NewellBottleneck)",
                        "print(inspect.getsource(Bottleneck))")
    unrelated = notebook_of(IMPORTS, "print(inspect.getsource(receptive_field))", BOTTLENECK_EXERCISE,
                            "course.check_bottleneck(NewellBottleneck)")
    assert answers_shown(after) == [] and answers_shown(unrelated) == []


def test_a_docstring_that_holds_an_answer_counts_and_so_does_a_method_of_the_reference():
    # Hourglass's docstring gives "3·4 + 1 = 13 blocks": hourglass_blocks's check counts Hourglass's blocks.
    blocks = notebook_of(IMPORTS, "help(Hourglass)",
                         "def hourglass_blocks(depth):\n    ### BEGIN SOLUTION\n    return 3 * depth + 1\n"
                         "    ### END SOLUTION", "course.check_hourglass_blocks(hourglass_blocks)")
    # The merge's check takes its reference from StackedHourglass, whose forward holds the merge.
    merge = notebook_of(IMPORTS, "print(inspect.getsource(StackedHourglass.forward))",
                        "class StackMerge(nn.Module):\n    def forward(self, x, f, heatmaps):\n"
                        "        ### BEGIN SOLUTION\n        return x + self.a(f) + self.b(heatmaps)\n"
                        "        ### END SOLUTION", "course.check_merge(StackMerge)")
    assert len(answers_shown(blocks)) == 1 and "check_hourglass_blocks" in answers_shown(blocks)[0]
    assert len(answers_shown(merge)) == 1 and "check_merge" in answers_shown(merge)[0]


def test_a_listing_of_any_object_whose_source_holds_the_solution_is_flagged():
    solution = solution_lines(BOTTLENECK_EXERCISE)
    assert len(solution) == 9  # "return y + self.skip(x)" and the like; "mid = cout // 2" too
    assert holds_solution(inspect.getsource(Bottleneck), solution)  # 8 of the 9 lines are the library's
    assert not holds_solution(inspect.getsource(receptive_field), solution)
    assert not holds_solution("return y + self.skip(x)", solution)  # one line of nine is no answer


def test_prediction_questions_are_left_out_and_the_references_are_the_library_objects_checked():
    question = notebook_of(IMPORTS, "print(inspect.getsource(Bottleneck))",
                           'def my_prediction():\n    ### BEGIN SOLUTION\n    return "lower"\n    ### END SOLUTION',
                           'course.check_prediction(my_prediction, choices=("lower", "higher"), measured="lower", why="")')
    assert answers_shown(question) == []
    assert Bottleneck in references(hglearn.course.check_bottleneck)
    assert MDLRB in references(hglearn.course.check_mdlrb) and Bottleneck not in references(hglearn.course.check_mdlrb)
    assert conv_output_size in references(hglearn.course.check_conv_output_size)
    assert StackedHourglass in references(hglearn.course.check_merge)
