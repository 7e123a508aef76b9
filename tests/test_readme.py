"""The README's model table must agree with the code (it is written by benchmarks/model_table.py)."""
import re
from pathlib import Path

from hglearn.models import count_parameters, model_config

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_model_table_matches_the_code():
    text = README.read_text()
    table = text.split("<!-- model-table:start -->")[1].split("<!-- model-table:end -->")[0]
    rows = re.findall(r"^\| `([^`]+)` \|[^|]+\|[^|]+\|[^|]+\| ([\d,]+) \|", table, flags=re.M)
    assert len(rows) >= 9, "run python benchmarks/model_table.py to write the table"
    for row, params in rows:
        preset, *override = row.split(", ")
        overrides = dict(o.split("=") for o in override)
        assert count_parameters(model_config(preset, **overrides).build()) == int(params.replace(",", "")), row
