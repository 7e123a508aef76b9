"""The architecture diagrams of hglearn.course.diagrams: they render, and they say what the code does."""
import inspect
import io
import re
import warnings
from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text
from torch import nn

from hglearn.blocks import MDLRB, Bottleneck
from hglearn.config import TrainConfig
from hglearn.course import diagrams
from hglearn.course.diagrams import DIAGRAMS, channels
from hglearn.dlm import DLM, TABLE_SIZE
from hglearn.hourglass import Hourglass
from hglearn.sadinet import SFM

ROOT = Path(__file__).resolve().parents[1]


def render(make, *args, **kwargs) -> tuple[Figure, list[str]]:
    """Build a diagram and save it as PNG with every warning an error; return it and its texts."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = make(*args, **kwargs)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=72)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    return fig, [t.get_text() for t in fig.findobj(Text)]


def tags(fig: Figure) -> list[str]:
    """The grey module names beside the boxes (set in monospace)."""
    return [t.get_text() for t in fig.findobj(Text) if "monospace" in t.get_fontfamily()]


def one_text(texts: list[str], pattern: str) -> re.Match:
    found = [m for m in (re.search(pattern, t) for t in texts) if m]
    assert len(found) == 1, (pattern, texts)
    return found[0]


@pytest.mark.parametrize("name", sorted(DIAGRAMS))
def test_every_diagram_renders_without_warnings_or_pyplot(name):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig, texts = render(DIAGRAMS[name])
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before  # drawn on a bare Figure: nothing left open in pyplot
    assert len(texts) > 5
    width, height = fig.get_size_inches()
    assert 3 < width < 20 and 2 < height < 10  # fits a notebook cell


def test_the_dict_lists_every_diagram_and_each_names_its_notebook():
    defined = {name for name, f in inspect.getmembers(diagrams, inspect.isfunction) if name.endswith("_diagram")}
    assert {f.__name__ for f in DIAGRAMS.values()} == defined
    for make in DIAGRAMS.values():
        notebooks = re.findall(r"notebooks/(\d\d_\w+\.ipynb)", make.__doc__)
        assert notebooks, make.__name__
        assert all((ROOT / "solutions" / nb).exists() for nb in notebooks), (make.__name__, notebooks)


def test_channels_are_written_relative_to_the_width():
    assert [channels(n, 256) for n in (256, 128, 16, 512, 192)] == ["C", "C/2", "C/16", "2C", "3C/4"]


# --- the hourglass and the stacked network ---------------------------------------------------------

@pytest.mark.parametrize("depth", [1, 2, 4])
def test_hourglass_draws_every_block_of_the_module_under_its_state_dict_name(depth):
    fig, texts = render(diagrams.hourglass_diagram, depth)
    for name in ("up1", "low1", "low2", "low3"):
        assert name in texts
    assert texts.count("low2") >= 1 and texts.count("low1") >= depth and texts.count("up1") >= depth
    blocks = {name for name, m in Hourglass(depth, 16).named_modules() if isinstance(m, Bottleneck)}
    assert sorted(tags(fig)) == sorted(blocks)  # one box per block, none invented
    assert one_text(texts, r"3·(\d+) \+ 1 = (\d+) blocks").groups() == (str(depth), str(3 * depth + 1))
    assert sum("maxpool" == t for t in texts) == depth and sum("nearest ×2" == t for t in texts) == depth


def test_hourglass_names_the_block_it_is_built_with():
    _, texts = render(diagrams.hourglass_diagram, 2, "mdlrb")
    assert one_text(texts, r"Every box is a (\w+)").group(1) == "MDLRB"


@pytest.mark.parametrize("num_stacks", [1, 2, 3])
def test_stacked_network_has_a_head_and_a_loss_per_stack_and_a_merge_between_stacks(num_stacks):
    fig, texts = render(diagrams.stacked_hourglass_diagram, num_stacks)
    names = tags(fig)
    assert sorted(t for t in names if t.startswith("heads.")) == [f"heads.{i}" for i in range(num_stacks)]
    assert sorted(t for t in names if t.startswith("hgs.")) == [f"hgs.{i}" for i in range(num_stacks)]
    assert len([t for t in names if t.startswith("merge_features.")]) == num_stacks - 1
    assert len([t for t in names if t.startswith("merge_heatmaps.")]) == num_stacks - 1
    assert texts.count("L") == num_stacks  # intermediate supervision: a loss on every stack
    assert f"$\\hat y_{{{num_stacks}}}$: J×H/4×W/4" in texts
    assert f"$\\hat y_{{{num_stacks + 1}}}$: J×H/4×W/4" not in texts
    assert one_text(texts, r"(\d+) heatmap heads").group(1) == str(num_stacks)
    assert not any("extra skip" in t for t in texts)


def test_stacked_network_reads_its_stem_and_draws_the_extra_skip_on_request():
    _, texts = render(diagrams.stacked_hourglass_diagram, 3, extra_skip=True)
    stem = one_text(texts, r"7×7/2 conv-BN-ReLU, 3 → C/4\nBottleneck C/4 → C/2\nmaxpool 2×2\n").string
    assert stem.endswith("Bottleneck C/2 → C")
    assert any("extra skip" in t for t in texts)


def test_many_stacks_are_drawn_shortened_but_counted_in_full():
    fig, texts = render(diagrams.stacked_hourglass_diagram, 8)
    assert sorted(t for t in tags(fig) if t.startswith("heads.")) == ["heads.0", "heads.1", "heads.7"]
    assert one_text(texts, r"(\d+) heatmap heads").group(1) == "8"
    assert "stacks 3 to 7" in texts


# --- the receptive field ---------------------------------------------------------------------------

def measured_receptive_field(dilations, kernel):
    """Back-propagate from one output pixel of a real stack of dilated convolutions (all weights 1, so
    no path cancels): the input pixels with a gradient are those that reach it."""
    convs = nn.Sequential(*(nn.Conv2d(1, 1, kernel, padding=d * (kernel // 2), dilation=d, bias=False)
                            for d in dilations))
    for conv in convs:
        nn.init.constant_(conv.weight, 1.0)
    size = 1 + sum((kernel - 1) * d for d in dilations) + 8
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    convs(x)[0, 0, size // 2, size // 2].backward()
    reached = x.grad[0, 0] != 0
    cols = reached.any(0).nonzero().flatten()
    return int(cols.max() - cols.min() + 1), int(reached[size // 2].sum()), int(reached.sum())


@pytest.mark.parametrize("dilations, kernel", [((1, 2, 4), 3), ((2, 2), 3), ((1, 2, 5), 3), ((3,), 3),
                                               ((1, 1, 1), 3), ((2, 4), 3), ((1, 3), 5)])
def test_receptive_field_is_the_formula_and_the_gradient_footprint(dilations, kernel):
    _, texts = render(diagrams.receptive_field_diagram, dilations, kernel)
    drawn = int(one_text(texts, r"^receptive field = 1 \+ Σ \(k − 1\)·d = .* = (\d+)$").group(1))
    size, along_axis, in_2d = measured_receptive_field(dilations, kernel)
    assert drawn == 1 + sum((kernel - 1) * d for d in dilations) == size
    assert int(one_text(texts, r"^(\d+) of the \d+ positions of the window").group(1)) == along_axis
    assert int(one_text(texts, r"^in 2-D: (\d+) of").group(1)) == in_2d
    for row, d in enumerate(dilations, 1):
        assert one_text(texts, rf"^layer {row}: {kernel}×{kernel}, d={d}\b")


def test_gridding_is_visible_in_the_counts():
    _, texts = render(diagrams.receptive_field_diagram, (2, 2))
    assert "5 of the 9 positions of the window reach the output" in texts  # every other pixel
    with pytest.raises(ValueError, match="odd kernel"):
        diagrams.receptive_field_diagram((1, 2), kernel=2)


# --- residual blocks -------------------------------------------------------------------------------

def test_bottleneck_halves_the_width_around_its_3x3():
    _, texts = render(diagrams.bottleneck_diagram)
    assert "BN · ReLU · 1×1 conv\nC → C/2" in texts
    assert "BN · ReLU · 3×3 conv\nC/2" in texts
    assert "BN · ReLU · 1×1 conv\nC/2 → C" in texts


def test_the_lightweight_bottlenecks_show_their_depthwise_3x3():
    _, texts = render(diagrams.bottleneck_ds_diagram)
    assert "BN · ReLU · depthwise 3×3\nC/2" in texts and not any("pointwise 1×1\n" in t for t in texts)
    _, texts = render(diagrams.dilated_bottleneck_ds_diagram)
    assert "BN · ReLU · depthwise 3×3, d=2\n→ pointwise 1×1\nC/2" in texts
    _, texts = render(diagrams.dilated_bottleneck_ds_diagram, 4)
    assert "BN · ReLU · depthwise 3×3, d=4\n→ pointwise 1×1\nC/2" in texts


def drawn_dilations(texts):
    return [int(d) for t in texts for d in re.findall(r"depthwise 3×3, d=(\d+)", t)]


def test_mdlrb_draws_the_dilations_of_the_code():
    fig, texts = render(diagrams.mdlrb_diagram)
    assert drawn_dilations(texts) == [b[2].depthwise.dilation[0] for b in MDLRB(16, 16).branches] == [2, 3]
    assert sorted(t for t in tags(fig) if t.startswith("branches.")) == ["branches.0", "branches.1"]
    fig, texts = render(diagrams.mdlrb_diagram, (2, 4, 8))
    assert drawn_dilations(texts) == [2, 4, 8]
    assert len([t for t in tags(fig) if t.startswith("branches.")]) == 3


def test_rfm_draws_its_dilated_branch_and_the_se_reduction():
    _, texts = render(diagrams.rfm_diagram)
    assert "3×3 conv, d=2 · BN\nC" in texts and "1×1 conv · ReLU\nC → C/16" in texts
    assert "1×1 conv · sigmoid\nC/16 → C" in texts
    _, texts = render(diagrams.rfm_diagram, dilation=3, reduction=8)
    assert "3×3 conv, d=3 · BN\nC" in texts and "1×1 conv · ReLU\nC → C/8" in texts


# --- SADI-Net and the flow -------------------------------------------------------------------------

def test_sfm_draws_one_lane_per_scale_and_the_local_stages_of_the_module():
    fig, texts = render(diagrams.sfm_diagram)
    sfm = SFM(32, num_joints=4)
    names = tags(fig)
    scales = len(sfm.global_attention.reduce)
    assert sorted(t for t in names if t.startswith("reduce.")) == [f"reduce.{k}" for k in range(scales)]
    assert sorted(t for t in names if t.startswith("local_attention.")) == [
        f"local_attention.{i}" for i in range(len(sfm.local_attention))]
    assert any(t.startswith("softmax\nacross the\n4 scales") for t in texts)
    assert "1×1 conv\nD → J" in texts


def test_dlm_shows_the_library_constants():
    _, texts = render(diagrams.dlm_diagram)
    dlm = DLM()
    assert any(f"β = {dlm.beta:g}" in t for t in texts)
    assert any(f"{len(dlm.flow.layers)} coupling" in t and f"{TABLE_SIZE}×{TABLE_SIZE}" in t for t in texts)
    assert any(f"λ = {TrainConfig.__dataclass_fields__['dlm_weight'].default:g}" in t for t in texts)


@pytest.mark.parametrize("mask, kept, free", [(None, 2, 1), ((1.0, 0.0), 1, 2)])
def test_coupling_layer_keeps_the_masked_coordinate(mask, kept, free):
    _, texts = render(diagrams.coupling_layer_diagram, mask)
    assert f"$z_{kept} = x_{kept}$" in texts
    assert f"$z_{free} = x_{free}\\,e^{{s}} + t$" in texts
    assert any(t.startswith("s:  Linear 2→64") and t.endswith("Tanh") for t in texts)
    assert any(t.startswith("t:  Linear 2→64") and not t.endswith("Tanh") for t in texts)


def test_every_diagram_is_shown_in_a_solution_notebook():
    text = "".join(p.read_text() for p in (Path(__file__).resolve().parents[1] / "solutions").glob("*.ipynb"))
    assert [name for name, function in DIAGRAMS.items() if f"diagrams.{function.__name__}(" not in text] == []
