"""Configuration as data: the training run's `TrainConfig`, and type-checked overrides of any
configuration dataclass (`TrainConfig`, `hglearn.models.ModelConfig`).

Config is a frozen dataclass that travels inside every checkpoint. Changing a field goes through
`override`, which rejects unknown keys (naming the valid ones) and values of the wrong type with a
`ConfigError`, so a typo on the command line is an error, not a silently ignored knob. This module
imports neither torch nor the data pipeline: `hglearn train --help` lists the fields from here.
"""
import ast
import dataclasses
import inspect
import math
import re
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from hglearn.data.catalog import DATASETS
from hglearn.errors import ConfigError

C = TypeVar("C")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Saved in every checkpoint; `hglearn train --key=value` sets any field.

    The defaults are the course's CPU run on SynthPose (see the README for what it reaches). The
    model is a preset of `hglearn.models.PRESETS`; the optional fields below it change that preset,
    and `hglearn.train.resolve_model` turns the pair into the network's `ModelConfig` once.
    Each field's docstring is its line in `hglearn train --help`.
    """

    model: str = "course-hg1"
    """preset name (hglearn.models.PRESETS); course-hg1 is newell-hg1 at 64 channels, for a CPU"""
    channels: int | None = None
    """feature width inside the hourglasses; none keeps the preset's (256 for the papers')"""
    num_stacks: int | None = None
    """number of hourglasses; none keeps the preset's"""
    block: str | None = None
    """residual block (hglearn.blocks.BLOCKS); none keeps the preset's"""
    depth: int | None = None
    """2x poolings inside one hourglass; none keeps the preset's (4)"""
    dataset: str = "synth"
    """synth (generated), mpii, lsp, lspet, flic, or lsp+lspet (the LSP protocol: trains on both, scores
    LSP's test split) (hglearn.data.catalog); sets the joint count"""
    data_root: str | None = None
    """a real dataset's folder, after `hglearn data prepare`; for lsp+lspet the folder holding lsp/ and lspet/"""
    synth_difficulty: str = "cluttered"
    """SynthPose background: plain, textured, cluttered or occluded"""
    synth_images: int = 4096
    """SynthPose training images, drawn once and kept in memory"""
    val_images: int = 500
    """SynthPose validation images (a fixed seed, the same for every run)"""
    input_res: int = 64
    """square input crop in pixels; heatmaps are input_res / 4"""
    sigma: float = 1.0
    """standard deviation of the target Gaussians, in heatmap pixels"""
    augment: bool = True
    """random scale, rotation, flip and colour (hglearn.data.transforms.Augmentation)"""
    out_dir: str = "runs/synth"
    """folder of the run's checkpoints, log, curves and metrics"""
    epochs: int = 52
    """passes over the training set (SynthPose: over its synth_images)"""
    max_steps: int | None = None
    """stop after this many optimizer steps; none runs every epoch"""
    batch_size: int = 32
    """images per step and process"""
    eval_batch_size: int = 64
    """images per forward pass when scoring the validation set"""
    optimizer: str = "adam"
    """adam (SADI-Net) or rmsprop (Newell et al.: alpha 0.99, eps 1e-8)"""
    lr: float = 2.5e-3
    """learning rate before the first milestone"""
    lr_schedule: str = "step"
    """step (×lr_gamma at each of lr_milestones, as the papers) or cosine (a half cosine from lr to 0 over the epochs)"""
    lr_milestones: tuple[int, ...] = (40, 48)
    """epochs at which the step schedule multiplies the learning rate by lr_gamma (comma-separated)"""
    lr_gamma: float = 0.1
    """factor applied to the learning rate at each milestone of the step schedule"""
    warmup_epochs: float = 0.0
    """the learning rate rises linearly from lr/steps to lr over this many epochs first (0: no warm-up)"""
    weight_decay: float = 0.0
    """L2 penalty of the optimizer"""
    eval_every: int = 10
    """score the validation set every this many epochs (and at the end); 1 scores every row of log.csv"""
    log_every: int = 50
    """steps between reads of the loss on the host (the progress bar and the non-finite check)"""
    flip_test: bool = True
    """the final score averages the mirrored image's heatmaps"""
    seed: int = 0
    """seeds the weights, the epoch order, the augmentation and SynthPose's training images"""
    device: str = "auto"
    """auto (CUDA when present), cpu, cuda, cuda:1, ..."""
    resume: str | None = None
    """continue from a checkpoint: last (out_dir/last.pt) or a path"""
    num_workers: int | None = None
    """DataLoader worker processes (0: the main process draws the images); none: 0 on a CPU, one per
    core (at most 8) on a GPU"""
    amp: str = "auto"
    """mixed precision (hglearn.precision): auto (bfloat16 from CUDA compute capability 8.0, float16 with
    a gradient scaler before it, float32 on a CPU), bf16, fp16 or off"""
    compile: bool = False
    """torch.compile the network"""
    progress: bool = True
    """show a progress bar"""
    intermediate_supervision: bool = True
    """every stack is compared with the target (Newell et al. Sec. 3.4), else only the last"""
    dlm_weight: float = 0.1
    """λ of SADI-Net's L = L_rfm + λ·L_dlm, for models with a DLM: a choice (0.1 keeps L_dlm a small correction
    to the MSE), neither the paper's value nor a measured optimum; see README and notebook 07"""

    def __post_init__(self):
        """Range checks of this dataclass's own fields, each error naming the field and what it accepts;
        the preset and its overrides are `resolve_model`'s."""
        def require(ok: bool, field: str, accepted: str) -> None:
            if not ok:
                raise ConfigError(f"TrainConfig.{field} must be {accepted}, got {getattr(self, field)!r}")

        require(self.dataset in DATASETS, "dataset", f"one of {', '.join(DATASETS)}")
        require(self.optimizer in ("adam", "rmsprop"), "optimizer", "'adam' or 'rmsprop'")
        require(self.lr_schedule in ("step", "cosine"), "lr_schedule", "'step' or 'cosine'")
        for name in ("epochs", "batch_size", "eval_batch_size", "eval_every", "log_every", "synth_images",
                     "val_images"):
            require(getattr(self, name) >= 1, name, "at least 1")
        require(self.max_steps is None or self.max_steps >= 1, "max_steps", "at least 1, or none")
        require(math.isfinite(self.warmup_epochs) and 0 <= self.warmup_epochs <= self.epochs, "warmup_epochs",
                f"between 0 and epochs ({self.epochs})")
        require(self.input_res >= 32, "input_res", "at least 32 (pixels)")
        require(self.dataset != "synth" or self.synth_images >= self.batch_size, "synth_images",
                f"at least batch_size ({self.batch_size}) for SynthPose")
        require(self.seed >= 0, "seed", "0 or more")
        require(self.num_workers is None or self.num_workers >= 0, "num_workers", "0 or more, or none")
        if isinstance(self.amp, bool):  # checkpoints written before amp was a choice stored True or False
            object.__setattr__(self, "amp", "auto" if self.amp else "off")
        require(self.amp in ("auto", "bf16", "fp16", "off"), "amp", "auto, bf16, fp16 or off")
        require(math.isfinite(self.sigma) and self.sigma > 0, "sigma", "a positive number (heatmap pixels)")
        require(math.isfinite(self.lr) and self.lr > 0, "lr", "a positive number")
        require(math.isfinite(self.lr_gamma) and self.lr_gamma > 0, "lr_gamma", "a positive number")
        require(all(m >= 0 for m in self.lr_milestones), "lr_milestones", "epochs, 0 or more")
        require(math.isfinite(self.weight_decay) and self.weight_decay >= 0, "weight_decay", "0 or more")
        require(math.isfinite(self.dlm_weight) and self.dlm_weight >= 0, "dlm_weight", "0 or more (λ of L_rfm + λ·L_dlm)")
        require(DEVICE.fullmatch(self.device) is not None, "device", "auto, cpu, cuda, cuda:N or mps")
        require(self.resume is None or self.resume != "", "resume", "last, a checkpoint's path, or none")


# The device names TrainConfig accepts; whether that device is present is checked when training starts.
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of dataclass `cls` (the attribute-docstring convention),
    read from its source so that `hglearn train --help` cannot drift from the class."""
    docs, previous = {}, None
    for node in ast.parse(inspect.getsource(cls)).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            previous = node.target.id
        elif (previous and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
              and isinstance(node.value.value, str)):
            docs[previous], previous = " ".join(node.value.value.split()), None
        else:
            previous = None
    return docs


def fields_help(cls: type) -> str:
    """One line per field of dataclass `cls`: `--name=TYPE  (default)  its docstring`."""
    hints = typing.get_type_hints(cls)
    rows = [(f"--{f.name}={_type_name(hints[f.name])}", _shown_default(f.default), field_docs(cls).get(f.name, ""))
            for f in dataclasses.fields(cls)]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {flag:<{width}}  {doc} (default: {default})" for flag, default, doc in rows)


def _shown_default(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether `value` fits a field annotation: plain types, `X | None`, and `tuple[T, ...]`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(annotation))
    if origin is tuple:
        item_type = typing.get_args(annotation)[0]
        return isinstance(value, tuple) and all(_accepts(item_type, v) for v in value)
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def override(cfg: C, **changes: Any) -> C:
    """A copy of the dataclass `cfg` with `changes` applied, each checked against its field's type."""
    hints = typing.get_type_hints(type(cfg))
    fields = [f.name for f in dataclasses.fields(cfg)]
    for key, value in changes.items():
        if key not in fields:
            raise ConfigError(f"{type(cfg).__name__} has no field {key!r}; valid fields: {', '.join(fields)}")
        if not _accepts(hints[key], value):
            raise ConfigError(
                f"{type(cfg).__name__}.{key} must be {_type_name(hints[key])}, got {value!r} ({type(value).__name__})"
            )
    return dataclasses.replace(cfg, **changes)


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def parse_value(cls: type, key: str, text: str) -> Any:
    """Convert a command-line string to the type of field `key` of dataclass `cls`.

    int and float as Python reads them; bool from true/false/yes/no/1/0; "none" for optional fields;
    tuples as comma-separated items ("170,200"). A bad value names the field and the expected type.
    """
    hints = typing.get_type_hints(cls)
    if key not in hints:
        raise ConfigError(f"{cls.__name__} has no field {key!r}; valid fields: {', '.join(hints)}")
    annotation = hints[key]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    optional = typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) < len(
        typing.get_args(annotation))
    if optional and text.lower() in ("none", "null", ""):
        return None
    target = args[0] if optional else annotation
    try:
        if typing.get_origin(target) is tuple:
            item = typing.get_args(target)[0]
            return tuple(_convert(item, part.strip()) for part in text.split(",") if part.strip())
        return _convert(target, text)
    except ValueError:
        raise ConfigError(f"--{key}={text}: expected {_type_name(annotation)}") from None


def _convert(target: type, text: str) -> Any:
    if target is bool:
        lowered = text.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0"):
            raise ValueError(text)
        return lowered in ("true", "yes", "1")
    return target(text)  # int("abc") and float("abc") raise ValueError


def read_toml(text: str, source: str) -> dict[str, Any]:
    """Parse TOML text (tomllib, or tomli on Python 3.10); bad TOML is a ConfigError naming `source`."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}") from None


def load_toml(path: str) -> dict[str, Any]:
    """The fields set in a TOML config file, with arrays turned into tuples, ready for `override`."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a TOML config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text file, so not a TOML config") from None
    data = read_toml(text, path)
    return {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
