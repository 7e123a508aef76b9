"""Architecture diagrams, drawn by code from the library's own modules.

Each function returns a `matplotlib.figure.Figure` made with the object API, never through pyplot,
so it leaves a notebook's figures and backend alone: show it with `display(fig)` (or as a cell's last
value), save it with `fig.savefig(...)`. Where a diagram shows a module, it builds a small one from
`hglearn` and reads the structure off it (branch names, kernel sizes, dilations, channel ratios,
counts), so the picture cannot drift from the code. Channel counts are written relative to the
block's width C, as in C/2; a grey name beside a box is the module's attribute, as in `state_dict`.

`DIAGRAMS` maps a name to each function; all of them can be called without arguments.

Taught in notebooks 01 (receptive field), 03 (residual blocks), 04 (hourglass), 05 (stacking),
07 (coupling layer, DLM) and 08 (RFM, SFM).
"""
import dataclasses
import inspect
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch, Polygon, Rectangle
from matplotlib.transforms import Bbox
from torch import nn

from hglearn.blocks import MDLRB, RFM, Bottleneck, BottleneckDS, DilatedBottleneckDS
from hglearn.config import TrainConfig
from hglearn.dlm import DLM, TABLE_RANGE, TABLE_SIZE
from hglearn.flows import MASKS, AffineCoupling
from hglearn.hourglass import Hourglass, StackedHourglass
from hglearn.layers import DepthwiseSeparableConv2d, receptive_field
from hglearn.sadinet import SFM

COLORS = {
    "block": "#d6e6f5",  # residual blocks and convolutions
    "op": "#eeeeee",  # pooling, upsampling and other steps without weights
    "attention": "#fbe0c3",  # SE and the SFM's weights
    "head": "#e3d7ef",  # heads and heatmaps
    "flow": "#d9eed3",  # the flow and what it renders
    "data": "#ffffff",
}
WIDTH = 256  # the width C of the blocks built to be drawn: the papers', so C/r is exact for any r ≤ 256
GREY = "#666666"


# --- drawing helpers ------------------------------------------------------------------------------
# Coordinates are in units of `scale` inches on both axes. Text is in points, so sizes in units are
# measured on the figure, and `finish` sets the limits around whatever was drawn.

@dataclass(frozen=True)
class Node:
    """A drawn element: its centre and size in canvas units, and the middles of its four sides."""

    x: float
    y: float
    w: float = 0.0
    h: float = 0.0

    @property
    def left(self):
        return (self.x - self.w / 2, self.y)

    @property
    def right(self):
        return (self.x + self.w / 2, self.y)

    @property
    def top(self):
        return (self.x, self.y + self.h / 2)

    @property
    def bottom(self):
        return (self.x, self.y - self.h / 2)


def canvas(scale: float = 0.55):
    """A Figure (with an Agg canvas) and one frameless axes filling it, `scale` inches per unit."""
    fig = Figure(figsize=(10 * scale, 10 * scale), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.set_axis_off()
    ax.set_autoscale_on(False)  # the limits stay those of the scale until `finish` sets them
    return fig, ax


def size_of(ax, artist) -> tuple[float, float]:
    """Width and height of a drawn artist, in canvas units."""
    extent = artist.get_window_extent(ax.figure.canvas.get_renderer())
    extent = extent.transformed(ax.transData.inverted())
    return extent.width, extent.height


def text_size(ax, text: str, fontsize: float = 8) -> tuple[float, float]:
    """Width and height that `text` takes in canvas units, measured on a copy that is then removed.

    The width has 15% of room: font hinting makes the same text up to about 13% wider at some dpi.
    """
    probe = ax.text(0, 0, text, fontsize=fontsize)
    width, height = size_of(ax, probe)
    probe.remove()
    return 1.15 * width, height


def finish(fig, ax, title: str, pad: float = 0.3) -> Figure:
    """Put the title above everything drawn, then fit the limits and the figure size around it all."""
    scale, dpi = fig.get_size_inches()[0] / np.ptp(ax.get_xlim()), fig.dpi

    def bounds(artists):
        """In canvas units, at several dpi: hinting changes the width of text from one dpi to another."""
        extents = []
        for trial in (72, 90, 100, 150, dpi):
            fig.set_dpi(trial)
            renderer, to_data = fig.canvas.get_renderer(), ax.transData.inverted()
            extents += [a.get_window_extent(renderer).transformed(to_data) for a in artists]
        return Bbox.union(extents)

    drawn = bounds([*ax.patches, *ax.texts, *ax.lines, *ax.images])
    heading = ax.text(drawn.x0, drawn.y1 + 0.3, title, ha="left", va="bottom", fontsize=11, fontweight="bold")
    drawn = Bbox.union([drawn, bounds([heading])])
    ax.set_xlim(drawn.x0 - pad, drawn.x1 + pad)
    ax.set_ylim(drawn.y0 - pad, drawn.y1 + pad)
    fig.set_size_inches((drawn.width + 2 * pad) * scale, (drawn.height + 2 * pad) * scale)
    return fig


def box(ax, x: float, y: float, text: str, *, w: float | None = None, h: float | None = None,
        kind: str = "block", tag: str | None = None, tag_at: str = "left", fontsize: float = 8) -> Node:
    """A rounded box around centred text (sized to it unless w, h are given), and an optional grey
    tag, the module's name, on one side: left, right, above, below, or above-right or below-right of the
    centre (beside an arrow that meets the box's middle)."""
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3)
    tw, th = text_size(ax, text, fontsize)
    w, h = w or tw + 0.4, h or th + 0.3
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                                facecolor=COLORS[kind], edgecolor="#333333", linewidth=0.9, zorder=2))
    if tag:
        where = {"left": (x - w / 2 - 0.1, y, "right", "center"), "right": (x + w / 2 + 0.1, y, "left", "center"),
                 "above": (x, y + h / 2 + 0.06, "center", "bottom"), "below": (x, y - h / 2 - 0.06, "center", "top"),
                 "above-right": (x + 0.12, y + h / 2 + 0.06, "left", "bottom"),
                 "below-right": (x + 0.12, y - h / 2 - 0.06, "left", "top")}
        tx, ty, ha, va = where[tag_at]
        ax.text(tx, ty, tag, ha=ha, va=va, fontsize=6.5, color=GREY, family="monospace")
    return Node(x, y, w, h)


def op(ax, x: float, y: float, symbol: str = "+", r: float = 0.2) -> Node:
    """A small circle holding an operator: + an addition, × a product, L a loss."""
    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor="#333333", linewidth=0.9, zorder=2))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=9, zorder=3)
    return Node(x, y, 2 * r, 2 * r)


def arrow(ax, *points, text: str | None = None, at: int = -1, offset: tuple[float, float] = (0.0, 0.15),
          dashed: bool = False, color: str = "#333333", fontsize: float = 7.5, **text_kw) -> None:
    """A polyline through `points`, with an arrowhead at the last one and `text` by segment `at`."""
    style = "--" if dashed else "-"
    for start, end in zip(points[:-2], points[1:-1]):
        ax.plot([start[0], end[0]], [start[1], end[1]], style, color=color, linewidth=1.0, zorder=1)
    ax.annotate("", xy=points[-1], xytext=points[-2], annotation_clip=False, zorder=1,
                arrowprops=dict(arrowstyle="-|>", color=color, linewidth=1.0, linestyle=style, shrinkA=0,
                                shrinkB=0, mutation_scale=9))
    if text:
        segments = list(zip(points[:-1], points[1:]))
        (xa, ya), (xb, yb) = segments[at]
        label(ax, (xa + xb) / 2 + offset[0], (ya + yb) / 2 + offset[1], text, fontsize=fontsize, **text_kw)


def label(ax, x: float, y: float, text: str, *, fontsize: float = 8, ha: str = "center", va: str = "center",
          **kw):
    """Free text."""
    return ax.text(x, y, text, ha=ha, va=va, fontsize=fontsize, **kw)


def channels(n: int, c: int = WIDTH) -> str:
    """A channel count relative to the width c: of 256, 256 is "C", 128 "C/2", 16 "C/16", 512 "2C"."""
    ratio = Fraction(n, c)
    top = "C" if ratio.numerator == 1 else f"{ratio.numerator}C"
    return top if ratio.denominator == 1 else f"{top}/{ratio.denominator}"


def channels_of(conv: nn.Conv2d, c: int = WIDTH) -> str:
    """"C → C/2", or "C/2" when a convolution keeps its width."""
    cin, cout = channels(conv.in_channels, c), channels(conv.out_channels, c)
    return cin if cin == cout else f"{cin} → {cout}"


def describe_conv(conv: nn.Module) -> list[str]:
    """The lines that name an nn.Conv2d or a DepthwiseSeparableConv2d: kind, kernel, dilation, stride."""
    if isinstance(conv, DepthwiseSeparableConv2d):
        k = conv.pointwise.kernel_size[0]
        return [*describe_conv(conv.depthwise), f"→ pointwise {k}×{k}"]
    k, d, s = conv.kernel_size[0], conv.dilation[0], conv.stride[0]
    name = f"depthwise {k}×{k}" if conv.groups == conv.in_channels > 1 else f"{k}×{k} conv"
    return [name + (f", d={d}" if d > 1 else "") + (f", stride {s}" if s > 1 else "")]


def pre_activation(conv: nn.Module) -> str:
    """Box text of BN-ReLU-conv, the order of Newell's and Kim & Lee's blocks, with the channels."""
    last = conv.pointwise if isinstance(conv, DepthwiseSeparableConv2d) else conv
    lines = describe_conv(conv)
    if len(lines) == 1:
        return f"BN · ReLU · {lines[0]}\n{channels_of(last)}"
    return "BN · ReLU · " + "\n".join(lines) + f"\n{channels_of(last)}"


def default(cls: type, argument: str):
    """The default of a constructor argument: what the library builds when the argument is not given."""
    return inspect.signature(cls).parameters[argument].default


def chain(ax, x: float, y: float, steps: list[tuple[str, str]], *, w: float | None = None, gap: float = 0.45,
          kind: str = "block") -> list[Node]:
    """(text, tag) boxes one below the other, the first centred at y, joined by arrows; all as wide as
    the widest text unless w is given."""
    w = w or max(text_size(ax, text)[0] for text, _ in steps) + 0.4
    nodes = []
    for text, tag in steps:
        h = text_size(ax, text)[1] + 0.3
        y -= h / 2 if nodes else 0
        node = box(ax, x, y, text, w=w, h=h, kind=kind, tag=tag)
        if nodes:
            arrow(ax, nodes[-1].bottom, node.top)
        nodes.append(node)
        y -= h / 2 + gap
    return nodes


def shortcut(ax, start: tuple[float, float], add: Node, x: float) -> None:
    """The residual shortcut: from `start` right to column x, down, and into the addition."""
    arrow(ax, start, (x, start[1]), (x, add.y), add.right, text="identity\n(1×1 conv if cin ≠ cout)",
          at=1, offset=(0.12, 0.0), ha="left", fontsize=7)


def block_input(ax, x: float = 0.0, y: float = 0.0) -> tuple[float, float]:
    label(ax, x, y + 0.1, "x   C×H×W")
    return (x, y - 0.1)


def block_output(ax, add: Node) -> None:
    arrow(ax, add.bottom, (add.x, add.y - 0.55))
    label(ax, add.x, add.y - 0.75, "out   C×H×W")


# --- convolution arithmetic (notebook 01) ----------------------------------------------------------

def receptive_field_diagram(dilations: tuple[int, ...] = (1, 2, 4), kernel: int = 3) -> Figure:
    """Which input positions reach one output through a stack of dilated k×k convolutions (stride 1).

    Left, along one axis: the output at the top, the input at the bottom, and the k taps of every
    position the output depends on (Yu & Koltun 2016, Fig. 1, in one dimension). Right, the same in
    2-D on the full r×r window: a k×k kernel's offsets are a product set, so the pixels reached are
    the products of the positions reached along one axis. The size comes from
    `hglearn.layers.receptive_field`,

        r = 1 + Σ_l (k − 1)·d_l,

    and the figure counts how many positions of that window are reached: fewer than all is gridding
    (Wang et al. 2018), e.g. dilations (2, 2). dilations: first layer first; kernel: odd.
    Taught in notebooks/01_dilated_convolutions.ipynb (The receptive field of a stack; Gridding).
    """
    if kernel % 2 == 0 or not dilations:
        raise ValueError(f"need an odd kernel and at least one layer, got kernel={kernel}, dilations={dilations}")
    rf = receptive_field([(kernel, 1, d) for d in dilations])
    half, taps, layers = (rf - 1) // 2, np.arange(kernel) - kernel // 2, len(dilations)
    reached = [{0}]  # the positions that reach the output, from the output down to the input
    for d in reversed(dilations):
        reached.append({p + t * d for p in reached[-1] for t in taps})
    reached = reached[::-1]  # reached[0]: the input, reached[layers]: the output
    fig, ax = canvas(scale=min(0.3, 10 / (rf + 3)))
    step = 0.8 / (fig.get_size_inches()[0] / 10)  # rows 0.8 inches apart whatever the scale
    positions = np.arange(-half - 1, half + 2)
    for row in range(layers + 1):
        y = row * step
        ax.plot(positions, np.full(len(positions), y), "o", markersize=3, color="#c8c8c8", zorder=1)
        if row:
            d = dilations[row - 1]
            for p in reached[row]:
                for t in taps:
                    ax.plot([p, p + t * d], [y, y - step], color=f"C{(row - 1) % 10}", linewidth=0.7, zorder=2)
        on = sorted(reached[row])
        ax.plot(on, np.full(len(on), y), "o", markersize=4.5, color="#1f3b73", zorder=3)
        name = "input" if row == 0 else f"layer {row}: {kernel}×{kernel}, d={dilations[row - 1]}"
        label(ax, -half - 2, y, name + (", the output" if row == layers else ""), ha="right")
    ax.annotate("", xy=(half + 0.3, -0.35 * step), xytext=(-half - 0.3, -0.35 * step), annotation_clip=False,
                arrowprops=dict(arrowstyle="|-|", color="#aa3333", linewidth=1.0, mutation_scale=3))
    terms = " + ".join(str(d) for d in dilations)
    label(ax, 0, -0.6 * step, f"receptive field = 1 + Σ (k − 1)·d = 1 + {kernel - 1}·({terms}) = {rf}",
          color="#aa3333", fontsize=9)
    label(ax, 0, -0.9 * step, f"{len(reached[0])} of the {rf} positions of the window reach the output",
          fontsize=8)
    # 2-D: the window at the height of the 1-D drawing, one square per pixel
    side, x0 = min(layers, 3) * step, half + 3
    cell = side / rf
    line = np.isin(np.arange(-half, half + 1), sorted(reached[0]))
    ax.imshow(np.outer(line, line), cmap="Blues", vmin=0, vmax=1.25, interpolation="nearest",
              extent=(x0, x0 + side, 0, side), zorder=1)
    ax.add_patch(Rectangle((x0, 0), side, side, fill=False, edgecolor="#aa3333", linewidth=1.0, zorder=3))
    if rf <= 33:
        for i in range(1, rf):
            ax.plot([x0 + i * cell] * 2, [0, side], color="white", linewidth=0.5, zorder=2)
            ax.plot([x0, x0 + side], [i * cell] * 2, color="white", linewidth=0.5, zorder=2)
    label(ax, x0 + side / 2, -0.6 * step, f"in 2-D: {int(line.sum()) ** 2} of {rf}×{rf} = {rf * rf} pixels",
          fontsize=8)
    ax.set_aspect("auto")
    return finish(fig, ax, f"Receptive field of {layers} dilated {kernel}×{kernel} convolution"
                           f"{'s' * (layers > 1)}, stride 1")


# --- residual blocks (notebook 03, and 08 for the RFM) ---------------------------------------------

def _bottleneck_like(block: nn.Module, title: str, note: str = "") -> Figure:
    """A pre-activation bottleneck, drawn from the block's conv1, conv2 and conv3 in forward's order."""
    fig, ax = canvas()
    start = block_input(ax)
    convs = [block.conv1, block.conv2, block.conv3]
    nodes = chain(ax, 0, -1.0, [(pre_activation(conv), f"bn{i}, conv{i}") for i, conv in enumerate(convs, 1)])
    arrow(ax, start, nodes[0].top)
    add = op(ax, 0, nodes[-1].bottom[1] - 0.6)
    arrow(ax, nodes[-1].bottom, add.top)
    shortcut(ax, (0, -0.3), add, nodes[0].right[0] + 0.6)
    block_output(ax, add)
    if note:
        label(ax, nodes[0].left[0] - 1.0, add.y - 1.15, note, ha="left", va="top", fontsize=7, color=GREY)
    return finish(fig, ax, title)


def bottleneck_diagram() -> Figure:
    """Newell et al.'s residual module (2016, Fig. 4 left; Kim & Lee 2020, Fig. 5a), from `Bottleneck`.

    BN-ReLU-1×1 (C → C/2), BN-ReLU-3×3 (C/2), BN-ReLU-1×1 (C/2 → C), plus the input. Kernel sizes and
    widths are read off a `Bottleneck(C, C)`. Taught in notebooks/03_residual_blocks.ipynb.
    """
    return _bottleneck_like(Bottleneck(WIDTH, WIDTH), "Bottleneck (Newell et al. 2016; Kim & Lee Fig. 5a)")


def bottleneck_ds_diagram() -> Figure:
    """The bottleneck with a depthwise 3×3 (Kim & Lee 2020, Fig. 5b), from `BottleneckDS`.

    Kim & Lee's table names this block "Bottleneck (Original) + Depthwise Separable", 1.4M parameters
    for one stack. This draws hglearn's layer order, in which the bottleneck's own 1×1 expansion after
    the depthwise 3×3 is the pointwise half, chosen because it reproduces that count (1.38M).
    Taught in notebooks/03_residual_blocks.ipynb.
    """
    return _bottleneck_like(BottleneckDS(WIDTH, WIDTH), "BottleneckDS (Kim & Lee 2020, Fig. 5b)",
                            "conv3 is also the pointwise half of the depthwise-separable 3×3")


def dilated_bottleneck_ds_diagram(dilation: int | None = None) -> Figure:
    """The bottleneck with a dilated depthwise-separable 3×3 (Kim & Lee 2020, Fig. 5c).

    dilation: of the depthwise 3×3; None draws `DilatedBottleneckDS`'s default, 2. Kim & Lee's table
    lists Fig. 5c as a bottleneck with a depthwise-separable convolution at 1.6M parameters for one
    stack; this draws hglearn's layer order, with a pointwise 1×1 of its own, chosen because it
    reproduces that count (1.61M). The dilation is hglearn's choice; it leaves the count unchanged.
    Taught in notebooks/03_residual_blocks.ipynb.
    """
    dilation = default(DilatedBottleneckDS, "dilation") if dilation is None else dilation
    return _bottleneck_like(DilatedBottleneckDS(WIDTH, WIDTH, dilation=dilation),
                            "DilatedBottleneckDS (Kim & Lee 2020, Fig. 5c)")


def mdlrb_diagram(dilations: tuple[int, ...] | None = None) -> Figure:
    """The multidilated light residual block (Kim & Lee 2020, Sec. 3.2.3, Table 1, Fig. 5d), from `MDLRB`.

    BN-ReLU-1×1 (C → C/2), BN-ReLU-1×1 (C/2), then one branch per dilation, BN-ReLU-[depthwise 3×3 →
    pointwise 1×1], the branches added, then BN-ReLU-1×1 (C/2 → C), plus the input. dilations: None
    draws the block's default rates, (2, 3) as in Table 1. Table 1 lists the two dilated convolutions,
    each with its 1×1, one after the other and then an ADD of two 128-channel maps; the code, and so
    this drawing, reads them as parallel branches summed by that ADD, so that both rates see the same
    features (the "multi" of the name); either reading has the same parameters. Table 1 also
    writes every layer ReLU, BatchNorm, Conv; the code uses BN then ReLU, as in Newell's
    pre-activation block. Taught in notebooks/03_residual_blocks.ipynb.
    """
    block = MDLRB(WIDTH, WIDTH) if dilations is None else MDLRB(WIDTH, WIDTH, dilations=tuple(dilations))
    fig, ax = canvas()
    start = block_input(ax)
    top = chain(ax, 0, -1.0, [(pre_activation(block.conv1), "bn1, conv1"), (pre_activation(block.conv2), "bn2, conv2")],
                w=3.2)
    arrow(ax, start, top[0].top)
    texts = [pre_activation(branch[2]) for branch in block.branches]
    w = max(text_size(ax, text)[0] for text in texts) + 0.4
    n, spread = len(texts), w + 0.4
    xs = [(i - (n - 1) / 2) * spread for i in range(n)]
    fork, y_branch = top[-1].bottom[1] - 0.35, top[-1].bottom[1] - 1.55
    total = op(ax, 0, y_branch - 1.55)
    for i, (x, text) in enumerate(zip(xs, texts)):
        node = box(ax, x, y_branch, text, w=w, tag=f"branches.{i}", tag_at="above-right")
        if x == 0:
            arrow(ax, top[-1].bottom, node.top)
            arrow(ax, node.bottom, total.top)
        else:
            arrow(ax, top[-1].bottom, (0, fork), (x, fork), node.top)
            arrow(ax, node.bottom, (x, total.y), (total.x + np.sign(x) * total.w / 2, total.y))
    label(ax, total.x + 0.3, total.y - 0.3, "sum of the branches", ha="left", fontsize=7)
    last = chain(ax, 0, total.y - 1.05, [(pre_activation(block.conv3), "bn3, conv3")], w=3.2)[0]
    arrow(ax, total.bottom, last.top)
    add = op(ax, 0, last.bottom[1] - 0.6)
    arrow(ax, last.bottom, add.top)
    shortcut(ax, (0, -0.3), add, max(max(xs) + w / 2, top[0].right[0]) + 0.6)
    block_output(ax, add)
    return finish(fig, ax, "MDLRB (Kim & Lee 2020, Table 1, Fig. 5d)")


def rfm_diagram(dilation: int | None = None, reduction: int | None = None) -> Figure:
    """SADI-Net's receptive fortified module (Gao et al. 2023, Sec. III-B, Fig. 3), from `RFM`.

    A ResNet basic block (3×3 conv-BN-ReLU, 3×3 conv-BN) and a parallel dilated 3×3 conv-BN, added;
    the sum re-weighted per channel by squeeze-and-excitation (Hu et al. 2020: global average pool,
    1×1 to C/r, ReLU, 1×1 back to C, sigmoid, product); then the shortcut and a ReLU. dilation and
    reduction: None draws the library's defaults, 2 and 16. Sec. III-B gives neither value, and says
    only that the block's "output is then obtained from the SE block"; SE before the shortcut, as in
    SE-ResNet, is hglearn's choice.
    Taught in notebooks/03_residual_blocks.ipynb and notebooks/08_sadinet_attention.ipynb.
    """
    dilation = default(RFM, "dilation") if dilation is None else dilation
    reduction = default(RFM, "reduction") if reduction is None else reduction
    block = RFM(WIDTH, WIDTH, dilation=dilation, reduction=reduction)
    fig, ax = canvas()
    start = block_input(ax)

    def conv_bn(conv, relu=False):
        return f"{describe_conv(conv)[0]} · BN{' · ReLU' if relu else ''}\n{channels_of(conv)}"

    basic = chain(ax, -1.6, -1.1, [(conv_bn(block.conv1, relu=True), "conv1, bn1"),
                                   (conv_bn(block.conv2), "conv2, bn2")], w=2.8)
    side = box(ax, 1.7, (basic[0].y + basic[1].y) / 2, conv_bn(block.conv_dilated), w=2.6,
               tag="conv_dilated, bn_dilated", tag_at="below-right")
    arrow(ax, start, (0, -0.4), (-1.6, -0.4), basic[0].top)
    arrow(ax, (0, -0.4), (1.7, -0.4), side.top)
    total = op(ax, 0, basic[-1].bottom[1] - 0.6)
    arrow(ax, basic[-1].bottom, (-1.6, total.y), total.left)
    arrow(ax, side.bottom, (1.7, total.y), total.right)
    se = block.se
    gate = chain(ax, -3.4, total.y - 1.5, [
        ("global average pool\nC×1×1", "se.squeeze"),
        (f"1×1 conv · ReLU\n{channels_of(se.fc1)}", "se.fc1"),
        (f"1×1 conv · sigmoid\n{channels_of(se.fc2)}", "se.fc2")], w=2.6, kind="attention")
    scale = op(ax, 0, gate[-1].bottom[1] - 0.55, "×")
    arrow(ax, total.bottom, scale.top)
    ax.plot([0], [total.y - 0.65], "o", color="#333333", markersize=3)
    arrow(ax, (0, total.y - 0.65), (-3.4, total.y - 0.65), gate[0].top, text="y", at=0, offset=(-1.0, 0.15),
          style="italic")
    arrow(ax, gate[-1].bottom, (-3.4, scale.y), scale.left, text="s, one weight per channel", at=1,
          offset=(0.0, 0.15), fontsize=7)
    label(ax, 0.15, (total.y + scale.y) / 2, f"squeeze-and-excitation\nr = {reduction}: SE(y) = s ⊙ y", ha="left",
          fontsize=7, color="#8a4b08")
    add = op(ax, 0, scale.y - 0.85)
    arrow(ax, scale.bottom, add.top)
    shortcut(ax, (0, -0.25), add, side.right[0] + 0.6)
    relu = box(ax, 0, add.y - 0.85, "ReLU", kind="op")
    arrow(ax, add.bottom, relu.top)
    block_output(ax, Node(0, relu.bottom[1] - 0.01))
    return finish(fig, ax, "RFM (SADI-Net, Gao et al. 2023, Fig. 3)")


# --- the hourglass and the stacked network (notebooks 04 and 05) -----------------------------------

def hourglass_diagram(depth: int = 4, block: str = "bottleneck") -> Figure:
    """One hourglass module (Newell et al. 2016, Sec. 3, Fig. 3), from `hglearn.hourglass.Hourglass`.

    Rows are resolutions, H×W at the top down to H/2^depth. At every level the input goes to a skip
    branch `up1` at its own resolution and, max-pooled, to `low1`; `low2` is the inner hourglass (a
    block at the innermost level), `low3` follows it, and its output, upsampled ×2 by nearest
    neighbour, is added to `up1`. The boxes are read from a live `Hourglass(depth, C, block)`, and the
    grey names are their module paths, those of the state dict. depth: the number of poolings (4 in
    Newell et al.); block: a name of `hglearn.blocks.BLOCKS`. Taught in notebooks/04_hourglass_module.ipynb.
    """
    hg = Hourglass(depth, 16, block)
    fig, ax = canvas(scale=0.6)
    mid = 2 * depth + 2  # the column of the innermost low2, with every up1 above it

    def y(row):
        return -1.3 * row

    for row in range(depth + 1):
        label(ax, -1.4, y(row), "C×H×W" if row == 0 else f"C×H/{2 ** row}×W/{2 ** row}", fontsize=7.5,
              color=GREY, ha="right")
    label(ax, 0, 0, "x", fontsize=10, style="italic")

    def draw(level: Hourglass, path: str, row: int, source: Node) -> Node:
        """Level `row`, whose input is `source`; returns its addition."""
        up1 = box(ax, mid, y(row), "up1", w=1.2, h=0.55, tag=path + "up1", tag_at="below")
        low1 = box(ax, 2 * row + 2, y(row + 1), "low1", w=1.2, h=0.55, tag=path + "low1", tag_at="below")
        fork = (source.right[0] + 0.3, y(row))
        arrow(ax, source.right, up1.left)
        ax.plot(*fork, "o", color="#333333", markersize=2.5)
        arrow(ax, fork, low1.left, text="maxpool", offset=(-0.5, -0.1), fontsize=6.5)
        if isinstance(level.low2, Hourglass):
            inner = draw(level.low2, path + "low2.", row + 1, low1)
        else:
            inner = box(ax, mid, y(row + 1), "low2", w=1.2, h=0.55, tag=path + "low2", tag_at="below")
            arrow(ax, low1.right, inner.left)
        low3 = box(ax, 4 * depth + 2 - 2 * row, y(row + 1), "low3", w=1.2, h=0.55, tag=path + "low3", tag_at="below")
        arrow(ax, inner.right, low3.left)
        add = op(ax, low3.x + 1, y(row))
        arrow(ax, up1.right, add.left)
        arrow(ax, low3.top, add.bottom, text="nearest ×2", offset=(0.6, -0.1), fontsize=6.5)
        return add

    out = draw(hg, "", 0, Node(0, 0, 0.4, 0.4))
    arrow(ax, out.right, (out.x + 0.9, 0))
    label(ax, out.x + 1.1, 0, "out", fontsize=10, style="italic", ha="left")
    blocks = [m for m in hg.modules() if isinstance(m, type(hg.up1))]
    label(ax, -2.8, y(depth) - 1.0,
          f"Every box is a {type(hg.up1).__name__} keeping the C channels: 3·{depth} + 1 = {len(blocks)} blocks. "
          f"Grey: the module paths, as in the state dict (hgs.0.{'low2.' * (depth - 1)}up1.conv1.weight).",
          ha="left", fontsize=7.5)
    return finish(fig, ax, f"Hourglass module, depth {depth} (Newell et al. 2016, Fig. 3)")


def _hourglass_icon(ax, x: float, y: float, tag: str, w: float = 1.5, h: float = 1.2) -> Node:
    """The hourglass as Newell's Fig. 4 draws it: wide, narrow in the middle, wide again."""
    ax.add_patch(Polygon([(x - w / 2, y - h / 2), (x - w / 2, y + h / 2), (x, y + h / 6), (x + w / 2, y + h / 2),
                          (x + w / 2, y - h / 2), (x, y - h / 6)], closed=True, facecolor=COLORS["block"],
                         edgecolor="#333333", linewidth=0.9, zorder=2))
    label(ax, x, y + h / 2 + 0.08, tag, va="bottom", fontsize=6.5, color=GREY, family="monospace")
    return Node(x, y, w, h)


def stacked_hourglass_diagram(num_stacks: int = 2, extra_skip: bool = False) -> Figure:
    """The stacked hourglass network with intermediate supervision (Newell et al. 2016, Sec. 3, Fig. 4
    right), from `hglearn.hourglass.StackedHourglass`.

    The stem, then for each stack i: hourglass → block (`res`) → 1×1 conv-BN-ReLU (`features`, f) →
    1×1 conv (`heads`) → J heatmaps ŷᵢ, each compared with the same target (the circles mark where a
    loss is applied, as in Newell's Fig. 8). Between stacks the merge x ← x + 1×1(f) + 1×1(ŷᵢ)
    (`merge_features`, `merge_heatmaps`) feeds the prediction back. extra_skip adds Kim & Lee's
    (2020, Sec. 3.1) skip from each hourglass's encoder to the next one's (dashed). The stem's layers
    and the numbers of hourglasses, heads and merges are read from a live model. num_stacks above 4
    draws the first two stacks and the last. Taught in notebooks/05_stacking.ipynb.
    """
    model = StackedHourglass(num_stacks=num_stacks, channels=16, num_joints=2, depth=1, extra_skip=extra_skip)
    c = 16
    fig, ax = canvas(scale=0.5)
    stem = []
    for layer in model.stem:
        if isinstance(layer, nn.Conv2d):
            k = layer.kernel_size[0]
            stem.append(f"{k}×{k}/{layer.stride[0]} conv-BN-ReLU, 3 → {channels(layer.out_channels, c)}")
        elif isinstance(layer, Bottleneck):
            cin, cout = channels(layer.conv1.in_channels, c), channels(layer.conv3.out_channels, c)
            stem.append(f"Bottleneck {cin} → {cout}")
        elif isinstance(layer, nn.MaxPool2d):
            stem.append("maxpool 2×2")
    stem_box = box(ax, 0, 0, "\n".join(stem), kind="block", fontsize=7.5)
    label(ax, 0, stem_box.top[1] + 0.25, "stem, on the 3×H×W image", fontsize=7.5)
    shown = list(range(num_stacks)) if num_stacks <= 4 else [0, 1, num_stacks - 1]
    s = stem_box.right[0] + 1.6
    arrow(ax, stem_box.right, (s, 0), text="C×H/4×W/4", offset=(-0.1, 0.2), fontsize=7)
    previous = None
    for n, i in enumerate(shown):
        hg = _hourglass_icon(ax, s + 1.2, 0, f"hgs.{i}")
        arrow(ax, (s, 0), hg.left)
        res = box(ax, s + 3.2, 0, type(model.res[i]).__name__, w=1.8, h=0.6, tag=f"res.{i}", tag_at="below")
        arrow(ax, hg.right, res.left)
        feat = box(ax, s + 5.2, 0, "1×1 conv\nBN-ReLU", w=1.6, tag=f"features.{i}", tag_at="below")
        arrow(ax, res.right, feat.left)
        head = box(ax, s + 5.2, 1.7, "1×1 conv", w=1.6, kind="head", tag=f"heads.{i}")
        arrow(ax, feat.top, head.bottom, text="f", offset=(0.15, 0.0), style="italic")
        heat = box(ax, s + 5.2, 3.0, f"$\\hat y_{{{i + 1}}}$: J×H/4×W/4", w=2.3, kind="head")
        arrow(ax, head.top, heat.bottom)
        loss = op(ax, s + 5.2, 4.2, "L", r=0.25)
        arrow(ax, heat.top, loss.bottom)
        label(ax, loss.x + 0.4, loss.y, f"MSE($\\hat y_{{{i + 1}}}$, y)", ha="left", fontsize=7)
        if previous is not None and extra_skip:  # leaves right of the middle, arrives left of it
            x_from, x_to, y_skip = previous.x + 0.3, hg.x - 0.3, -2.3
            arrow(ax, (x_from, -0.3), (x_from, y_skip), (x_to, y_skip), (x_to, -0.3), dashed=True, color="#2a7a2a")
            if n == 1:
                label(ax, (x_from + x_to) / 2, y_skip - 0.25, "extra skip: each hourglass's low1 outputs, at every "
                      "pooled level, added to the next one's", fontsize=7, color="#2a7a2a")
        previous = hg
        if i == num_stacks - 1:
            break
        merge_f = box(ax, s + 7.1, 0, "1×1 conv", w=1.3, tag=f"merge_features.{i}", tag_at="below")
        arrow(ax, feat.right, merge_f.left)
        merge_h = box(ax, s + 8.5, 1.7, "1×1 conv", w=1.3, tag=f"merge_heatmaps.{i}", tag_at="right")
        arrow(ax, heat.right, (merge_h.x, heat.y), merge_h.top)
        add = op(ax, s + 8.5, 0)
        arrow(ax, merge_f.right, add.left)
        arrow(ax, merge_h.bottom, add.top)
        arrow(ax, (s, 0), (s, -1.4), (add.x, -1.4), add.bottom, text=f"$x_{{{i + 1}}}$", at=1, offset=(0, 0.17))
        s += 9.7
        if shown[n + 1] != i + 1:  # stacks left out of the drawing
            arrow(ax, add.right, (s + 1.2, 0), dashed=True, text=f"stacks {i + 2} to {shown[n + 1]}",
                  offset=(0.0, 0.2), fontsize=7)
            s += 1.2
        else:
            arrow(ax, add.right, (s, 0), text=f"$x_{{{i + 2}}}$", offset=(0.0, 0.17))
    heads, merges = len(model.heads), len(model.merge_features)
    label(ax, stem_box.left[0], -3.0 if extra_skip else -2.1,
          f"{heads} heatmap heads and {merges} merge{'s' * (merges != 1)}. The loss is the mean over the {heads} "
          f"stacks of MSE($\\hat y_i$, y), the same target y for every stack;\nthe network returns every stack's "
          f"heatmaps, (B, S, J, H/4, W/4) with S = {heads}.", ha="left", va="top", fontsize=7.5)
    plural = "s" * (num_stacks > 1)
    return finish(fig, ax, f"Stacked hourglass network, {num_stacks} stack{plural} (Newell et al. 2016, Fig. 4)")


# --- flows and the DLM (notebook 07) ---------------------------------------------------------------

def coupling_layer_diagram(mask: tuple[float, float] | None = None) -> Figure:
    """One affine coupling layer (Dinh, Sohl-Dickstein & Bengio 2017, RealNVP: the masked affine coupling
    of Sec. 3, drawn like their Fig. 2), from `hglearn.flows.AffineCoupling`.

    The kept coordinate (mask 1) passes unchanged and, as m ⊙ x, feeds the scale network s (ending in
    a tanh) and the translation network t; the other coordinate becomes x·exp(s) + t, so
    log|det ∂z/∂x| = Σ (1 − m)·s. Drawn in the data → latent direction, as the library and Dinh et
    al. write it (mmpose writes the other one). The networks' layers are read off a live layer.
    mask: None draws the first of `hglearn.flows.MASKS`. Taught in notebooks/07_flows_rle.ipynb.
    """
    mask = tuple(float(m) for m in (MASKS[0] if mask is None else mask))
    layer = AffineCoupling(list(mask))
    kept, free = mask.index(1.0) + 1, mask.index(0.0) + 1
    fig, ax = canvas()
    x_kept = box(ax, 1.2, 0, f"$x_{kept}$   (m = 1)", w=2.0, kind="data")
    x_free = box(ax, 1.2, -3.3, f"$x_{free}$   (m = 0)", w=2.0, kind="data")
    z_kept = box(ax, 13.8, 0, f"$z_{kept} = x_{kept}$", w=2.2, kind="data")
    arrow(ax, x_kept.right, z_kept.left, text="passes unchanged", offset=(2.5, 0.17))

    def layers_of(net: nn.Sequential) -> str:
        names = [f"Linear {m.in_features}→{m.out_features}" if isinstance(m, nn.Linear) else type(m).__name__
                 for m in net]
        return ", ".join(names[:3]) + ",\n" + ", ".join(names[3:])

    s_net = box(ax, 6.0, -1.2, "s:  " + layers_of(layer.scale), w=5.8, kind="flow", tag="scale", tag_at="below-right")
    t_net = box(ax, 6.0, -2.3, "t:  " + layers_of(layer.translation), w=5.8, kind="flow", tag="translation",
                tag_at="below-right")
    arrow(ax, (2.55, 0), (2.55, -1.2), s_net.left, text="m ⊙ x", at=0, offset=(-0.45, -0.1), fontsize=7.5)
    arrow(ax, (2.55, -1.2), (2.55, -2.3), t_net.left)
    times, plus = op(ax, 10.2, -3.3, "×"), op(ax, 11.6, -3.3, "+")
    arrow(ax, x_free.right, times.left)
    arrow(ax, s_net.right, (times.x, -1.2), times.top, text="exp(s)", at=1, offset=(0.45, 0.5), fontsize=7.5)
    arrow(ax, t_net.right, (plus.x, -2.3), plus.top, text="t", at=1, offset=(0.2, 0.25), fontsize=7.5)
    arrow(ax, times.right, plus.left)
    z_free = box(ax, 13.8, -3.3, f"$z_{free} = x_{free}\\,e^{{s}} + t$", w=2.2, kind="data")
    arrow(ax, plus.right, z_free.left)
    label(ax, 9.5, -0.55, "s and t are multiplied by (1 − m);   log|det ∂z/∂x| = Σ (1 − m) ⊙ s",
          fontsize=7.5, color="#2a6a2a")
    label(ax, 0.2, -4.3, f"Inverse: $x_{free} = (z_{free} - t)\\,e^{{-s}}$, with s and t recomputed from "
          f"$z_{kept} = x_{kept}$: they are never inverted.\nRealNVP chains {len(MASKS)} such layers, the masks "
          "alternating, so that every coordinate is transformed.", ha="left", va="top", fontsize=7.5)
    return finish(fig, ax, f"Affine coupling layer, mask m = {[int(m) for m in mask]} (RealNVP, Dinh et al. 2017)")


def dlm_diagram() -> Figure:
    """SADI-Net's distribution learning module and its loss (Gao et al. 2023, Sec. III-D and III-E,
    Fig. 2), from `hglearn.dlm.DLM`.

    The last stack's heatmaps H give each joint's μ and σ (moments of H^β); every pixel p becomes the
    normalised error u = (μ − p)/σ; the flow's density there, D(p) = 2π·G_φ(u), is the learnable
    heatmap, compared with the target by MSE: L = L_rfm + λ·L_dlm. Sec. III-D describes μ and σ as
    "the mean and standard deviation of the distribution" and the learnable heatmaps as the flow's
    distribution shifted and rescaled to the size of the predicted heatmaps; the moments, the 2π and
    the lookup table are hglearn's construction of that (`hglearn.dlm.DLM` says why), and λ is
    hglearn's default (`TrainConfig.dlm_weight`), a choice, not the paper's value. β, the number of
    coupling layers and the table's size are read from a live DLM. Taught in notebooks/07_flows_rle.ipynb.
    """
    dlm = DLM()
    lam = next(f.default for f in dataclasses.fields(TrainConfig) if f.name == "dlm_weight")
    fig, ax = canvas(scale=0.5)
    heat = box(ax, 1.7, 0, "last stack's heatmaps H\n(B, J, h, w)", w=3.2, h=1.15, kind="head")
    moments = box(ax, 5.8, 0, f"μ, σ per joint: moments\nof $H^\\beta$, β = {dlm.beta:g}\n(B, J, 2) each",
                  w=3.4, h=1.15, kind="op")
    error = box(ax, 9.9, 0, "at every pixel p:\nu = (μ − p) / σ\n(B, J, h, w, 2)", w=3.2, h=1.15, kind="op")
    flow = box(ax, 14.4, 0, f"flow $G_\\phi$: RealNVP, {len(dlm.flow.layers)} coupling\nlayers, read on a "
               f"{TABLE_SIZE}×{TABLE_SIZE} table\nof u ∈ [−{TABLE_RANGE:g}, {TABLE_RANGE:g}]²", w=4.2, h=1.15,
               kind="flow", tag="dlm.flow", tag_at="above")
    learn = box(ax, 19.1, 0, "D(p) = 2π·$G_\\phi$(u)\nlearnable heatmaps\n(B, J, h, w)", w=3.4, h=1.15,
                kind="flow")
    for a, b in zip((heat, moments, error, flow), (moments, error, flow, learn)):
        arrow(ax, a.right, b.left)
    target = box(ax, 10.4, -2.3, "target heatmaps y", kind="data")
    l_rfm, l_dlm = op(ax, heat.x, -2.3, "L", r=0.25), op(ax, learn.x, -2.3, "L", r=0.25)
    arrow(ax, heat.bottom, l_rfm.top)
    arrow(ax, learn.bottom, l_dlm.top)
    arrow(ax, target.left, l_rfm.right, text="$L_{rfm}$: MSE of every stack's heatmaps", offset=(0, 0.2))
    arrow(ax, target.right, l_dlm.left, text="$L_{dlm}$: MSE", offset=(0, 0.2))
    label(ax, 0.1, -3.2, f"L = $L_{{rfm}}$ + λ·$L_{{dlm}}$ with λ = {lam:g}, hglearn's TrainConfig.dlm_weight "
          "(a choice, not the paper's value).   Evaluation reads H; D is used only in the loss.", ha="left", va="top",
          fontsize=7.5)
    return finish(fig, ax, "Distribution learning module (SADI-Net, Gao et al. 2023, Sec. III-D)")


# --- SADI-Net's SFM (notebook 08) ------------------------------------------------------------------

def sfm_diagram() -> Figure:
    """SADI-Net's spatial fusion module (Gao et al. 2023, Sec. III-C, Figs. 2 and 5), from `SFM`.

    Global stage: per scale k a 1×1 conv-BN-ReLU to a common width D, nearest upsampling to the finest
    size, a 1×1 conv to one logit map; a softmax across the scales at every pixel gives the weights
    a_k, and z = 1×1 conv-BN-ReLU(Σ_k a_k ⊙ u_k). Local stage: g_k = avgpool(a_k ⊙ u_k), back at
    scale k, fused finest to coarsest by local attention (a 3×3 stride-2 conv-BN-ReLU of the higher
    resolution, a softmax over the two inputs at every pixel, their weighted sum). Heatmaps: a 1×1
    conv of z plus the upsampled local result. Where the paper's description leaves a detail open or
    would not fit a heatmap head on a C-channel hourglass (the axis of the local softmax, the constant
    width D, how the local result becomes heatmaps), this draws hglearn's choices, which
    `hglearn.sadinet` explains. The scales, the local stages and the kernels are read from a
    live SFM. Taught in notebooks/08_sadinet_attention.ipynb.
    """
    sfm = SFM(WIDTH, num_joints=16)
    scales = len(sfm.global_attention.reduce)
    fig, ax = canvas(scale=0.5)
    rows = [-1.3 * k for k in range(scales)]
    mid, lane = (rows[0] + rows[-1]) / 2, rows[-1] - 2.5
    # SADINet.predict hands over f and the hourglass's decoder[1:]: the outputs of low2, low2.low2, ...
    sources = ["f, the last stack's features"] + [f"output of {'.'.join(['low2'] * k)}" for k in range(1, scales)]
    bus = 9.0  # the column where every u_k also goes down to the weighting
    for k, y in enumerate(rows):
        size = "h×w" if k == 0 else f"h/{2 ** k}×w/{2 ** k}"
        x_k = box(ax, 1.5, y, f"$x_{k}$: {sources[k]}\nC×{size}", w=3.2, kind="data", fontsize=7.5)
        reduce = box(ax, 4.9, y, f"1×1 conv-BN-ReLU\n{channels_of(sfm.global_attention.reduce[k][0])} → D", w=2.6,
                     tag=f"reduce.{k}", tag_at="below", fontsize=7.5)
        up = box(ax, 7.6, y, "nearest to h×w" if k else "already h×w", w=2.1, h=0.5, kind="op", fontsize=7.5)
        score = box(ax, 10.9, y, "1×1 conv, D → 1", w=2.0, h=0.5, tag=f"score.{k}", tag_at="below", fontsize=7.5)
        arrow(ax, x_k.right, reduce.left)
        arrow(ax, reduce.right, up.left)
        arrow(ax, up.right, score.left, text=f"$u_{k}$", offset=(0.3, 0.17))
        ax.plot([bus], [y], "o", color="#333333", markersize=3)
    label(ax, 1.5, rows[-1] - 0.75, "64, 32, 16 and 8 px at a 256-px input", fontsize=7, color=GREY)
    softmax = box(ax, 13.5, mid, f"softmax\nacross the\n{scales} scales,\nat every\npixel", w=1.7,
                  h=rows[0] - rows[-1] + 0.9, kind="attention", fontsize=7.5)
    for y in rows:
        arrow(ax, (11.9, y), (softmax.left[0], y))
    weigh = box(ax, 16.2, mid, r"$a_k \odot u_k$", w=1.6, h=0.6, kind="attention")
    arrow(ax, softmax.right, weigh.left, text=f"$a$: {scales}×h×w", offset=(0.1, 0.22), fontsize=7)
    arrow(ax, (bus, rows[0]), (bus, rows[-1] - 1.2), (15.8, rows[-1] - 1.2), (15.8, weigh.bottom[1]))
    label(ax, 12.0, rows[-1] - 1.4, f"$u_0 \\ldots u_{scales - 1}$", fontsize=7.5)
    fuse = box(ax, 19.0, mid, r"$\sum_k$, then" + "\n1×1 conv-BN-ReLU", w=2.4, tag="fuse", tag_at="below",
               fontsize=7.5)
    arrow(ax, weigh.right, fuse.left)
    pooled = box(ax, 16.6, lane, f"avg-pool each back to\nits scale: $g_0 \\ldots g_{scales - 1}$", w=2.9,
                 kind="op", fontsize=7.5)
    arrow(ax, (16.6, weigh.bottom[1]), pooled.top)
    previous = pooled
    for i in range(len(sfm.local_attention)):
        local = box(ax, 20.2 + 2.5 * i, lane, f"local\nattention {i + 1}", w=1.9, kind="attention",
                    tag=f"local_attention.{i}", tag_at="above", fontsize=7.5)
        arrow(ax, previous.right, local.left, text="$g_0, g_1$" if i == 0 else None, offset=(0.0, 0.2))
        if i:  # g_{i+1} joins here, along the bottom
            y_g = lane - 0.95 - 0.3 * i
            arrow(ax, (16.6 + 0.35 * i, pooled.bottom[1]), (16.6 + 0.35 * i, y_g), (local.x, y_g), local.bottom)
            label(ax, local.x + 0.2, y_g + 0.2, f"$g_{i + 1}$", fontsize=7.5, ha="left")
        previous = local
    up = box(ax, previous.x, (mid + lane) / 2 + 0.3, "nearest to h×w", w=2.0, h=0.5, kind="op", fontsize=7.5)
    coarse = 2 ** (scales - 1)
    arrow(ax, previous.top, up.bottom, text=f"h/{coarse}×w/{coarse}", offset=(0.6, 0.0), fontsize=7, ha="left")
    add = op(ax, previous.x, mid)
    arrow(ax, up.top, add.bottom)
    arrow(ax, fuse.right, add.left, text="$z$", offset=(0.0, 0.17))
    k = sfm.classifier.kernel_size[0]
    head = box(ax, add.x + 2.0, mid, f"{k}×{k} conv\nD → J", w=1.6, kind="head", tag="classifier", tag_at="below",
               fontsize=7.5)
    arrow(ax, add.right, head.left)
    arrow(ax, head.right, (head.right[0] + 0.7, mid))
    label(ax, head.right[0] + 0.8, mid, "heatmaps\nJ×h×w", ha="left", fontsize=7.5)
    down = sfm.local_attention[0].down[0]
    kd = down.kernel_size[0]
    label(ax, 0.0, lane - 2.0,
          f"local attention(high, low):  d = {kd}×{kd} stride-{down.stride[0]} conv-BN-ReLU(high);   "
          "(b₀, b₁) = softmax over the two inputs of 1×1 conv([d; low]);   out = b₀ ⊙ d + b₁ ⊙ low.\n"
          "D = C here; the paper maps 64, 128, 256 and 512 channels to 256.", ha="left", va="top", fontsize=7.5)
    return finish(fig, ax, "Spatial fusion module (SADI-Net, Gao et al. 2023, Sec. III-C)")


DIAGRAMS = {
    "receptive_field": receptive_field_diagram,
    "bottleneck": bottleneck_diagram,
    "bottleneck_ds": bottleneck_ds_diagram,
    "dilated_bottleneck_ds": dilated_bottleneck_ds_diagram,
    "mdlrb": mdlrb_diagram,
    "rfm": rfm_diagram,
    "hourglass": hourglass_diagram,
    "stacked_hourglass": stacked_hourglass_diagram,
    "coupling_layer": coupling_layer_diagram,
    "dlm": dlm_diagram,
    "sfm": sfm_diagram,
}
