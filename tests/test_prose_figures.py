"""The notebooks' prose quotes no figure that their recorded outputs can contradict.

Every figure in a solution notebook's markdown (a number with a decimal point or with thousands
separators, outside formulas, code spans and links) must be backed: by a recorded output of that
notebook, to the precision the prose gives (2.10 backs nothing but values that round to 2.10, with
"k", "M" and "%" scalings allowed: 2,096,784 parameters back "2.10M"); by a setting written in one of
its code cells (1,024 images from `synth_images=1024`); by a library constant or a shipped file
(ELSEWHERE, each checked here); or by the papers' tables (PAPER_FIGURES, listed per notebook, and
found in the papers' texts in ../shared/seeds where that folder exists). A figure that is none of
these, such as a run-dependent number typed into the prose, fails the test.
"""
import re
from pathlib import Path

import nbformat
import pytest

from hglearn.course import notebooks

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"

FIGURE = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+\.\d+)(?![\w.]*\d)")
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
ARXIV = re.compile(r"\d{4}\.\d{4,5}")
SCALINGS = (1, 1e-3, 1e-6, 100)  # as printed, in thousands ("k"), in millions ("M"), as a percentage

# Figures of the papers the prose cites (Newell et al. 2016, Kim & Lee 2020, Gao et al. 2023; MPII's
# size as SADI-Net's Sec. IV-A gives it).
PAPER_FIGURES = {
    "00": "7.7",
    "01": "6.6",
    "03": "4.5",
    "05": "87.72 88.68",
    "08": "88.9 89.6 89.7 89.3 90.1 90.9 92.1",
    "09": "25,000 40,000 6.7 87.72 90.9 90.8 92.1 98.2 96.3 91.2 87.1 90.1 87.4 83.6 98.1 96.2 87.2 87.3 83.5 98.3 97.0 92.6 "
          "89.1 90.2 88.9 86.2 88.68 87.60 3.9 89.6",
    "10": "4.3 4.4 4.6 92.1",
    "11": "25,000",
}


def _tompson_people():
    from hglearn.data.mpii import TOMPSON_VAL_PEOPLE
    return TOMPSON_VAL_PEOPLE


def _princeton_2_stack_accuracy():
    from hglearn.pretrained import PUBLISHED
    return PUBLISHED[2]["accuracy"]


def _shipped_sadinet_images():
    from hglearn.checkpoints import load_checkpoint
    return load_checkpoint(ROOT / "data" / "checkpoints" / "synthpose-sadinet-small.pt")["train_config"]["synth_images"]


# Figures the prose takes from the library or a shipped file: (notebook, figure) → what holds it.
ELSEWHERE = {
    ("00", "2,958"): _tompson_people,  # the Tompson validation split's people
    ("11", "0.883"): _princeton_2_stack_accuracy,  # the port's README's reported accuracy
    ("08", "2,048"): _shipped_sadinet_images,  # the shipped SADI-Net checkpoint's training images
}


def prose(notebook) -> str:
    """The notebook's markdown without display and inline formulas, code spans, link targets and
    section numbers (Sec. 3.1)."""
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    text = re.sub(r"\b(?:Sec\.|Section|Sections)\s*\d+(?:\.\d+)*", " ", text)
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def numbers(text: str) -> set[float]:
    return {float(m.group(0).replace(",", "")) for m in NUMBER.finditer(text)}


def outputs_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            parts.append(output.get("text", ""))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def backed_by(figure: str, values: set[float]) -> bool:
    """Whether some value, as printed or scaled (SCALINGS), rounds to `figure` at its precision."""
    target = float(figure.replace(",", ""))
    places = len(figure.split(".")[1]) if "." in figure else 0
    return any(round(value * scale, places) == round(target, places) for value in values for scale in SCALINGS)


def unbacked_figures(notebook, number: str) -> list[str]:
    """The figures of the prose that neither an output nor a code cell of the notebook backs, and
    that are not an arXiv identifier, a listed paper figure or an ELSEWHERE figure."""
    outputs = numbers(outputs_text(notebook))
    code = numbers("\n".join(c.source for c in notebook.cells if c.cell_type == "code"))
    papers = set(PAPER_FIGURES.get(number, "").split())
    return [figure for figure in (m.group(1) for m in FIGURE.finditer(prose(notebook)))
            if not backed_by(figure, outputs) and float(figure.replace(",", "")) not in code
            and not ARXIV.fullmatch(figure) and figure not in papers and (number, figure) not in ELSEWHERE]


@pytest.mark.parametrize("path", notebooks.solution_paths(ROOT), ids=lambda p: p.name)
def test_every_figure_in_the_prose_is_backed_by_an_output_a_setting_or_a_source(path):
    assert unbacked_figures(nbformat.read(path, as_version=4), path.name[:2]) == []


def test_the_figures_taken_from_the_library_are_its_values():
    for (number, figure), source in ELSEWHERE.items():
        assert backed_by(figure, {float(source())}), (number, figure, source())


def test_the_listed_paper_figures_are_in_the_papers_texts():
    if not SEEDS.is_dir():
        pytest.skip("the papers' texts are kept outside the repository, in ../shared/seeds")
    texts = "\n".join(p.read_text() for p in SEEDS.glob("*.txt"))
    missing = [(n, f) for n, figures in PAPER_FIGURES.items() for f in figures.split() if f not in texts]
    assert missing == []


def _notebook(markdown: str, output: str, code: str = "x = 1"):
    cell = nbformat.v4.new_code_cell(code)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown), cell])


def test_a_figure_that_its_output_contradicts_is_caught_and_rounding_scalings_and_settings_pass():
    assert unbacked_figures(_notebook("the mean rose to 24.2", "mean 24.9"), "99") == ["24.2"]
    assert unbacked_figures(_notebook("the mean rose to 24.9", "mean 24.93"), "99") == []
    assert unbacked_figures(_notebook("about 2.10M parameters", "2,096,784 parameters"), "99") == []
    assert unbacked_figures(_notebook("a share of 12.5%", "share 0.125"), "99") == []
    assert unbacked_figures(_notebook("on 1,024 images", "done", code="synth_images=1024"), "99") == []
    assert unbacked_figures(_notebook("formulas aside: $0.123$ and `0.456`", "none"), "99") == []
    assert unbacked_figures(_notebook("cited as arXiv 1603.07285", "none"), "99") == []
