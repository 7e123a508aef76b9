"""Checks for notebooks/03_residual_blocks.ipynb: the bottleneck, its parameter count, the MDLRB
and the squeeze-and-excitation block, each compared with `hglearn.blocks` and `hglearn.layers`.
"""
import torch
from torch import nn

from hglearn.blocks import MDLRB, Bottleneck
from hglearn.course.checking import Verdict, check_function, check_module, reports_not_attempted
from hglearn.layers import SqueezeExcite

__all__ = ["check_bottleneck", "check_bottleneck_parameters", "check_mdlrb", "check_squeeze_excite"]


def with_trained_batchnorm(module: nn.Module) -> nn.Module:
    """`module` with every BatchNorm given random statistics and affine parameters, as after training.

    A freshly built BatchNorm in eval mode is the identity (mean 0, variance 1, weight 1, bias 0), so
    a check with it could not tell where a student put it; with these values it can. The values are
    drawn from a fixed generator, so the check is deterministic.
    """
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.BatchNorm2d):
                shape = layer.running_mean.shape
                layer.running_mean.copy_(torch.randn(shape, generator=generator) * 0.5)
                layer.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
                layer.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                layer.bias.copy_(torch.randn(shape, generator=generator) * 0.5)
    return module


@reports_not_attempted
def check_bottleneck(student) -> Verdict:
    """The student's bottleneck class, `Block(cin, cout)`, against `hglearn.blocks.Bottleneck`:
    parameter count, output shape, and output values with the reference's weights, BatchNorm
    statistics included, for equal and for different input and output widths."""
    cases = [((16, 16), (2, 16, 8, 8)), ((8, 16), (2, 8, 6, 6)), ((32, 16), (1, 32, 5, 7))]
    return check_module(student, lambda cin, cout: with_trained_batchnorm(Bottleneck(cin, cout)), cases,
                        "Bottleneck")


def bottleneck_parameters_reference(cin: int, cout: int) -> int:
    return sum(p.numel() for p in Bottleneck(cin, cout).parameters())


@reports_not_attempted
def check_bottleneck_parameters(student) -> Verdict:
    """The student's formula for the parameters of `Bottleneck(cin, cout)`, against a count of the
    built module, at Newell's widths and with a 1×1 shortcut (cin ≠ cout)."""
    cases = [(256, 256), (128, 128), (64, 128), (128, 256), (256, 64), (16, 16)]
    return check_function(student, bottleneck_parameters_reference, cases, "bottleneck_parameters")


@reports_not_attempted
def check_mdlrb(student) -> Verdict:
    """The student's MDLRB class, `Block(cin, cout)`, against `hglearn.blocks.MDLRB` (dilations 2
    and 3): parameter count, output shape and values with the reference's weights."""
    cases = [((16, 16), (2, 16, 9, 9)), ((32, 32), (1, 32, 12, 8)), ((8, 16), (2, 8, 7, 7))]
    return check_module(student, lambda cin, cout: with_trained_batchnorm(MDLRB(cin, cout)), cases, "MDLRB")


@reports_not_attempted
def check_squeeze_excite(student) -> Verdict:
    """The student's SE class, `SE(channels, reduction=16)`, against `hglearn.layers.SqueezeExcite`,
    including a width below the reduction (one hidden unit) and the default reduction."""
    cases = [((32, 4), (2, 32, 5, 5)), ((64, 16), (2, 64, 3, 4)), ((8, 16), (2, 8, 4, 4)), ((48,), (1, 48, 6, 6))]
    return check_module(student, SqueezeExcite, cases, "SqueezeExcite")
