"""Writes one benchmark's table into benchmarks/RESULTS.md, between markers named after it.

Each script owns its section; running it again replaces that section and leaves the others alone.
"""
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def update_results(name: str, title: str, section: str) -> Path:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if start in text:
        head, rest = text.split(start, 1)
        text = head + start + "\n" + section + end + rest.split(end, 1)[1]
    else:
        text += f"\n## {title}\n\n{start}\n{section}{end}\n"
    RESULTS.write_text(text)
    return RESULTS
