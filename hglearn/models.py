"""Model configurations, the papers' presets, and `create_model`.

    create_model("course-hg1")                              # the course's CPU model
    create_model("newell-hg2")                              # Newell et al. 2016, 2 stacks
    create_model("lightweight-hg8")                         # Kim & Lee 2020, 8 stacks
    create_model("newell-hg1", block="bottleneck-ds")       # Kim & Lee's Table 3 ablation
    create_model("sadinet-hg8")                             # Gao et al. 2023: RFM + SFM + DLM

Parameter counts (asserted in tests/test_models.py): newell-hg1/2/4/8 3,426,448 / 6,570,400 /
12,858,304 / 25,434,112; lightweight-hg1/2/8 2,096,784 / 3,911,072 / 14,796,800, against Kim & Lee's
2.0M / 3.9M / 14.8M (equal to their rounding for 2 and 8 stacks; 2.1M for 1).
SADI-Net at C = 88: sadinet-hg2/hg8 6,273,630 / 24,075,666, the ablations sadinet-hg8-rfm
23,771,248 and sadinet-hg8-rfm-sfm 24,021,882 (the SFM adds 250,634, the DLM 53,784).

Taught in notebooks/05_stacking.ipynb and notebooks/10_efficiency.ipynb.
"""
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from torch import nn

from hglearn.blocks import BLOCKS
from hglearn.config import override
from hglearn.errors import ConfigError
from hglearn.hourglass import StackedHourglass
from hglearn.sadinet import SADINet


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network; saved inside every checkpoint.

    `sfm` and `dlm` turn the network into SADI-Net (hglearn/sadinet.py): the SFM replaces the last
    stack's 1×1 head, `dlm` adds the distribution learning module that the training loop uses.
    Both need block="rfm", SADI-Net's block; the SFM also needs depth ≥ 3 for its four scales.
    """

    num_stacks: int
    channels: int = 256
    num_joints: int = 16
    depth: int = 4
    block: str = "bottleneck"
    extra_skip: bool = False
    sfm: bool = False
    dlm: bool = False

    def __post_init__(self):
        if self.block not in BLOCKS:
            raise ConfigError(f"ModelConfig.block {self.block!r} is not one of {sorted(BLOCKS)}")
        if (self.sfm or self.dlm) and (self.block != "rfm" or self.extra_skip):
            raise ConfigError(f"ModelConfig.sfm and dlm make a SADI-Net, which needs block='rfm' and no extra_skip; "
                             f"got block={self.block!r}, extra_skip={self.extra_skip}")
        if self.sfm and self.depth < 3:
            raise ConfigError(f"ModelConfig.sfm fuses 4 scales of the hourglass: depth must be at least 3, got {self.depth}")
        for name in ("num_stacks", "num_joints", "depth"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ModelConfig.{name} must be at least 1, got {getattr(self, name)}")
        # The stem starts at channels / 4, and the blocks halve their width inside.
        if self.channels < 8 or self.channels % 8:
            raise ConfigError(f"ModelConfig.channels must be a multiple of 8, got {self.channels}")

    def build(self) -> nn.Module:
        if self.sfm or self.dlm:
            return SADINet(
                num_stacks=self.num_stacks, channels=self.channels, num_joints=self.num_joints,
                depth=self.depth, sfm=self.sfm, dlm=self.dlm,
            )
        return StackedHourglass(
            num_stacks=self.num_stacks, channels=self.channels, num_joints=self.num_joints,
            depth=self.depth, block=self.block, extra_skip=self.extra_skip,
        )


PRESETS: dict[str, ModelConfig] = {
    # The course's CPU model, `hglearn train`'s default: newell-hg1 narrowed to 64 channels, so that
    # a laptop trains it on SynthPose in minutes (221,488 parameters with 16 joints).
    "course-hg1": ModelConfig(num_stacks=1, channels=64),
    # Newell et al. 2016: Bottleneck blocks, no extra skip.
    "newell-hg1": ModelConfig(num_stacks=1),
    "newell-hg2": ModelConfig(num_stacks=2),
    "newell-hg4": ModelConfig(num_stacks=4),
    "newell-hg8": ModelConfig(num_stacks=8),
    # Kim & Lee 2020: MDLRB blocks and the extra encoder skip between stacks.
    "lightweight-hg1": ModelConfig(num_stacks=1, block="mdlrb", extra_skip=True),
    "lightweight-hg2": ModelConfig(num_stacks=2, block="mdlrb", extra_skip=True),
    "lightweight-hg8": ModelConfig(num_stacks=8, block="mdlrb", extra_skip=True),
    # Gao et al. 2023 (SADI-Net): RFM blocks, the SFM head, the DLM. An RFM at 256 channels holds
    # 1.78M parameters, so the paper's width gives about 200M at 8 stacks; C = 88 (our choice) keeps
    # sadinet-hg8 near newell-hg8's 25.4M (C = 96 would give 28.6M). Ablations at the same width:
    # -rfm is Table III's RFM-only network; -rfm-sfm is ours (Table IV adds SFM and DLM together).
    "sadinet-hg2": ModelConfig(num_stacks=2, channels=88, block="rfm", sfm=True, dlm=True),
    "sadinet-hg8": ModelConfig(num_stacks=8, channels=88, block="rfm", sfm=True, dlm=True),
    "sadinet-hg8-rfm": ModelConfig(num_stacks=8, channels=88, block="rfm"),
    "sadinet-hg8-rfm-sfm": ModelConfig(num_stacks=8, channels=88, block="rfm", sfm=True),
}


def model_config(name: str, **overrides: Any) -> ModelConfig:
    """The preset `name` with type-checked field overrides."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model {name!r}; presets: {', '.join(PRESETS)}")
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
