"""Checks for notebooks/04_hourglass_module.ipynb (nearest upsampling, the recursive hourglass, its
block count) and notebooks/05_stacking.ipynb (the merge between stacks, the stacked loss, the
merges' parameter count), each compared with `hglearn.hourglass` and `hglearn.losses`.
"""
import torch
import torch.nn.functional as F
from torch import nn

from hglearn.blocks import Bottleneck
from hglearn.course.checking import Verdict, check_function, check_module, reports_not_attempted
from hglearn.hourglass import Hourglass, StackedHourglass
from hglearn.losses import stacked_heatmap_loss

__all__ = ["check_upsample_nearest", "check_hourglass", "check_hourglass_blocks",
           "check_merge", "check_stacked_loss", "check_merge_parameters"]


# --- 04 the hourglass module ----------------------------------------------------------------------


def upsample_nearest_reference(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="nearest")


@reports_not_attempted
def check_upsample_nearest(student) -> Verdict:
    """The student's nearest-neighbour upsampling against `F.interpolate(mode="nearest")`, on
    square and non-square maps, a 1×1 map, and factors 2 and 3."""
    generator = torch.Generator().manual_seed(0)
    shapes = [(1, 1, 2, 2), (2, 3, 4, 4), (1, 2, 3, 5), (2, 1, 1, 1)]
    cases = [(torch.randn(shape, generator=generator),) for shape in shapes]
    cases += [(torch.randn(1, 2, 3, 4, generator=generator), 3)]
    return check_function(student, upsample_nearest_reference, cases, "upsample_nearest")


class HourglassOut(nn.Module):
    """`hglearn.hourglass.Hourglass` with Newell's Bottleneck, returning only its output tensor:
    the library's forward also returns the encoder and decoder features, which the exercise leaves out."""

    def __init__(self, depth: int, channels: int):
        super().__init__()
        self.hourglass = Hourglass(depth, channels, Bottleneck)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hourglass(x)[0]  # the output; the features follow it


@reports_not_attempted
def check_hourglass(student) -> Verdict:
    """The student's recursive hourglass class, `Hourglass(depth, channels)` with Bottleneck blocks
    and a forward that returns the output tensor, against `hglearn.hourglass.Hourglass`: parameter
    count, output shape and values with the reference's weights, at depths 1 to 3."""
    cases = [((1, 8), (2, 8, 8, 8)), ((2, 8), (1, 8, 16, 16)), ((3, 16), (1, 16, 16, 24))]
    return check_module(student, HourglassOut, cases, "Hourglass")


def hourglass_blocks_reference(depth: int) -> int:
    return sum(isinstance(m, Bottleneck) for m in Hourglass(depth, 8, Bottleneck).modules())


@reports_not_attempted
def check_hourglass_blocks(student) -> Verdict:
    """The student's formula for the number of residual blocks in an hourglass of a given depth,
    against a count of the blocks in `hglearn.hourglass.Hourglass`."""
    return check_function(student, hourglass_blocks_reference, [(1,), (2,), (4,), (5,), (7,)], "hourglass_blocks")


# --- 05 stacking and intermediate supervision ----------------------------------------------------


class ReferenceMerge(nn.Module):
    """The merge between stack 1 and stack 2 of `hglearn.hourglass.StackedHourglass`, taken from a
    2-stack model: x + merge_features(f) + merge_heatmaps(heatmaps)."""

    def __init__(self, channels: int, num_joints: int):
        super().__init__()
        model = StackedHourglass(num_stacks=2, channels=channels, num_joints=num_joints, depth=1)
        self.merge_features, self.merge_heatmaps = model.merge_features[0], model.merge_heatmaps[0]

    def forward(self, x: torch.Tensor, f: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
        return x + self.merge_features(f) + self.merge_heatmaps(heatmaps)


class Packed(nn.Module):
    """A merge module fed one tensor, the concatenation of x (C), f (C) and heatmaps (J) along the
    channels, so that `check_module` can drive it like any one-input module."""

    def __init__(self, merge: nn.Module, channels: int):
        super().__init__()
        self.merge, self.channels = merge, channels

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        c = self.channels
        return self.merge(packed[:, :c], packed[:, c:2 * c], packed[:, 2 * c:])


@reports_not_attempted
def check_merge(student) -> Verdict:
    """The student's merge class, `Merge(channels, num_joints)` with forward(x, f, heatmaps), against
    the merge of `hglearn.hourglass.StackedHourglass`: parameter count, shape and values."""
    cases = [((16, 4), (2, 36, 8, 8)), ((32, 16), (1, 80, 6, 4)), ((8, 8), (2, 24, 5, 5))]
    return check_module(lambda c, j: Packed(student(c, j), c), lambda c, j: Packed(ReferenceMerge(c, j), c),
                        cases, "Merge")


@reports_not_attempted
def check_stacked_loss(student) -> Verdict:
    """The student's loss with intermediate supervision, returning (loss, per_stack), against
    `hglearn.losses.stacked_heatmap_loss` on random heatmaps with some target weights 0."""
    generator = torch.Generator().manual_seed(0)
    cases = []
    for b, s, j, h, w in [(2, 1, 3, 4, 4), (3, 2, 4, 5, 6), (2, 4, 16, 8, 8)]:
        heatmaps = torch.randn(b, s, j, h, w, generator=generator)
        target = torch.rand(b, j, h, w, generator=generator)
        weight = (torch.rand(b, j, generator=generator) > 0.3).float()
        weight[0, 0] = 0.0  # at least one joint without a target
        heatmaps[0, :, 0] += 10.0  # badly wrong where the weight is 0: it must not count
        cases.append((heatmaps, target, weight))
    return check_function(student, stacked_heatmap_loss, cases, "stacked_loss")


def merge_parameters_reference(num_stacks: int, channels: int, num_joints: int) -> int:
    model = StackedHourglass(num_stacks=num_stacks, channels=channels, num_joints=num_joints, depth=1)
    return sum(p.numel() for m in (model.merge_features, model.merge_heatmaps) for p in m.parameters())


@reports_not_attempted
def check_merge_parameters(student) -> Verdict:
    """The student's formula for the parameters of all merges of a stacked hourglass, against a
    count of `merge_features` and `merge_heatmaps` in `hglearn.hourglass.StackedHourglass`."""
    cases = [(2, 256, 16), (8, 256, 16), (1, 64, 16), (4, 64, 14), (3, 32, 11)]
    return check_function(student, merge_parameters_reference, cases, "merge_parameters")
