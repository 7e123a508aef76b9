"""Model configurations, the papers' presets, and `create_model`.

    create_model("newell-hg2")                              # Newell et al. 2016, 2 stacks
    create_model("lightweight-hg8")                         # Kim & Lee 2020, 8 stacks
    create_model("newell-hg1", block="bottleneck-ds")       # Kim & Lee's Table 3 ablation

Parameter counts (asserted in tests/test_models.py): newell-hg1/2/4/8 3,426,448 / 6,570,400 /
12,858,304 / 25,434,112; lightweight-hg1/2/8 2,096,784 / 3,911,072 / 14,796,800, the papers'
2.0M / 3.9M / 14.8M.

Taught in notebooks/05_stacking.ipynb and notebooks/10_efficiency.ipynb.
"""
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from torch import nn

from hglearn.blocks import BLOCKS
from hglearn.config import override
from hglearn.hourglass import StackedHourglass


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network; saved inside every checkpoint."""

    num_stacks: int
    channels: int = 256
    num_joints: int = 16
    depth: int = 4
    block: str = "bottleneck"
    extra_skip: bool = False

    def __post_init__(self):
        if self.block not in BLOCKS:
            raise ValueError(f"ModelConfig.block {self.block!r} is not one of {sorted(BLOCKS)}")
        for name in ("num_stacks", "num_joints", "depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"ModelConfig.{name} must be at least 1, got {getattr(self, name)}")
        # The stem starts at channels / 4, and the blocks halve their width inside.
        if self.channels < 8 or self.channels % 8:
            raise ValueError(f"ModelConfig.channels must be a multiple of 8, got {self.channels}")

    def build(self) -> nn.Module:
        return StackedHourglass(
            num_stacks=self.num_stacks, channels=self.channels, num_joints=self.num_joints,
            depth=self.depth, block=self.block, extra_skip=self.extra_skip,
        )


PRESETS: dict[str, ModelConfig] = {
    # Newell et al. 2016: Bottleneck blocks, no extra skip.
    "newell-hg1": ModelConfig(num_stacks=1),
    "newell-hg2": ModelConfig(num_stacks=2),
    "newell-hg4": ModelConfig(num_stacks=4),
    "newell-hg8": ModelConfig(num_stacks=8),
    # Kim & Lee 2020: MDLRB blocks and the extra encoder skip between stacks.
    "lightweight-hg1": ModelConfig(num_stacks=1, block="mdlrb", extra_skip=True),
    "lightweight-hg2": ModelConfig(num_stacks=2, block="mdlrb", extra_skip=True),
    "lightweight-hg8": ModelConfig(num_stacks=8, block="mdlrb", extra_skip=True),
}


def model_config(name: str, **overrides: Any) -> ModelConfig:
    """The preset `name` with type-checked field overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; presets: {', '.join(PRESETS)}")
    return override(PRESETS[name], **overrides)


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build the preset `name`, optionally with some `ModelConfig` fields changed."""
    return model_config(name, **overrides).build()


@contextmanager
def eval_mode(model: nn.Module):
    """Run a block with the model in eval mode (BatchNorm uses running statistics), then restore it."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters (BatchNorm's running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
