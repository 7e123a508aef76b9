"""The exercises' answers as the solution notebooks define them, for the checks' tests: each test
runs a check on the notebook's own answer as well as on its right and wrong variants."""
import json
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def solution(notebook: str, name: str, namespace: dict):
    """The function or class `name` of `notebook`'s exercise cell (solutions/NOTEBOOK), run in a
    copy of `namespace` (the names the notebook imported before that cell)."""
    cells = json.loads((SOLUTIONS / notebook).read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    source = next(s for s in sources if f"def {name}(" in s or f"class {name}(" in s)
    scope = dict(namespace)
    exec(compile(source, f"<{notebook}: {name}>", "exec"), scope)
    return scope[name]
