"""Checkpoints: atomic saving, safe loading, rebuilding a model from the file alone, and export.

A checkpoint is a dict saved with torch.save: "model_config" and "train_config" (both configs as
plain dicts), "model" (the state dict), and for a resumable run also "optimizer", "scheduler",
"step", "epoch", "best", "log" and "rng". It is written through `atomic_path`, so a crash never
leaves a half-written file, and read with weights_only=True, so loading one runs no code.

`load_model` builds the network strictly from the stored `ModelConfig`: a checkpoint stays
loadable when a preset is renamed or changed, because it never asks `PRESETS` what it holds.

Taught in notebooks/09_training_on_mpii.ipynb.
"""
import dataclasses
from pathlib import Path

import torch

from hglearn.config import TrainConfig
from hglearn.errors import CheckpointError
from hglearn.files import atomic_path
from hglearn.models import ModelConfig

REQUIRED = ("model_config", "train_config", "model")
EXPORTED = ("model_config", "train_config", "model", "step", "best", "log", "model_card")  # no optimizer, no RNG


def save_checkpoint(path: str | Path, state: dict) -> None:
    """torch.save through `atomic_path`: a crash never leaves a half-written checkpoint."""
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except RuntimeError as error:  # torch's writer reports a full disk or a read-only folder this way
        raise CheckpointError(f"cannot write {path}: {torch_reason(error)}") from None


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with weights_only=True (no code runs); a bad file gets a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch's unpickler raises many kinds on garbage (KeyError, IndexError, struct.error...)
        raise CheckpointError(f"{path} is not a readable hglearn checkpoint (truncated, corrupt, or another kind "
                              f"of file): {torch_reason(error)}") from None
    missing = set(REQUIRED) - set(state) if isinstance(state, dict) else {"all"}
    if missing:
        raise CheckpointError(f"{path} is not an hglearn checkpoint: missing {sorted(missing)}")
    return state


def torch_reason(error: Exception) -> str:
    """The informative line of torch.load's error. Its weights-only message begins with advice to
    load with weights_only=False, which would run whatever code the file holds: never for hglearn."""
    text = str(error)
    if "WeightsUnpickler error:" in text:
        lines = [line.strip() for line in text.split("WeightsUnpickler error:", 1)[1].splitlines() if line.strip()]
        return f"it holds something other than tensors and plain values ({lines[0] if lines else 'unknown'})"
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def stored_configs(state: dict, path: str | Path) -> tuple[ModelConfig, TrainConfig]:
    """The two configs a checkpoint holds, as dataclasses; a config this version cannot read is a
    CheckpointError naming the file and the field."""
    configs = []
    for cls, key in ((ModelConfig, "model_config"), (TrainConfig, "train_config")):
        stored = state[key]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(stored) - known) if isinstance(stored, dict) else ["(not a dict)"]
        if unknown:
            raise CheckpointError(f"{path}: {key} has fields this hglearn does not know: {', '.join(unknown)}")
        try:
            configs.append(cls(**stored))
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{path}: {key} cannot be read: {error}") from None
    return configs[0], configs[1]


def load_model(path: str | Path) -> tuple[torch.nn.Module, TrainConfig]:
    """The trained model (eval mode, CPU) and its TrainConfig, rebuilt from the checkpoint alone."""
    state = load_checkpoint(path)
    model_cfg, train_cfg = stored_configs(state, path)
    model = model_cfg.build()
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise CheckpointError(f"{path}: its weights do not fit its own model config {model_cfg} ({first})") from None
    return model.eval(), train_cfg


def export_model(checkpoint: str | Path, out: str | Path) -> Path:
    """A checkpoint without its optimizer, scheduler and RNG state: the model, both configs and the
    training log, a third of the size, for sharing (the course ships one under data/checkpoints/).
    `load_model` reads it like any checkpoint; it cannot be resumed."""
    state = load_checkpoint(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, {key: state[key] for key in EXPORTED if key in state})
    return out
