"""The authors' published networks in hglearn: converting the PyTorch port's checkpoints.

The PyTorch port of Newell et al.'s code (princeton-vl/pytorch_stacked_hourglass, `models/posenet.py`
and `models/layers.py`) builds the network that hglearn's `newell-hg2` and `newell-hg8` build,
layer for layer: the same pre-activation residual (BN-ReLU-1×1, BN-ReLU-3×3, BN-ReLU-1×1, plus the
input), the same stem, hourglass branches and merges, every convolution with a bias. Only the names
differ, and `port_key` is the whole dictionary between the two. Its `train.py` saves
`{"state_dict", "optimizer", "epoch"}`, the state dict of a `DataParallel` inside a wrapper, so every
key starts with `model.module.`.

    converted = convert_princeton("checkpoint.pt")   # the model (eval mode) and what it needs
    save_converted("checkpoint.pt", "hg2.pt")         # an hglearn checkpoint, model card inside

`hglearn convert princeton CHECKPOINT OUT.pt` is `save_converted`. The two checkpoints the authors
published are fetched, checked and converted in one call, into a cache folder:

    path = get_pretrained("newell-hg2-princeton")     # hglearn pretrained get newell-hg2-princeton
"""
import dataclasses
import json
import os
import re
from pathlib import Path
from typing import NamedTuple

import torch

from hglearn.checkpoints import save_checkpoint, torch_reason
from hglearn.config import TrainConfig
from hglearn.data.download import download, file_sha256
from hglearn.errors import CheckpointError, ConfigError, DownloadError, UnreachableError
from hglearn.files import atomic_path
from hglearn.models import PRESETS, ModelConfig

REPOSITORY = "https://github.com/princeton-vl/pytorch_stacked_hourglass"
PREFIX = "model.module."  # the wrapper's `model`, then DataParallel's `module` (the port's task/pose.py)

# The port's README: the checkpoints the authors published, by number of stacks.
PUBLISHED = {
    2: {"address": "http://www-personal.umich.edu/~cnris/original_2hg/checkpoint.pt", "accuracy": 0.883},
    8: {"address": "http://www-personal.umich.edu/~cnris/original_8hg/checkpoint.pt", "accuracy": 0.902},
}
AUTHORS_TRAINING = "Adam, learning rate 1e-3, batch 16, about 200k iterations (the port's README)"

INPUT_CONVENTION = (
    "images (B, 3, 256, 256) float32 RGB in [0, 1], no mean subtraction, as every hglearn model takes them. "
    "The port's network took the same pixels as NHWC (B, 256, 256, 3) and permuted them inside; hglearn's never "
    "permutes, so pass images.permute(0, 3, 1, 2). Output (B, S, 16, 64, 64), MPII's joint order in both.")

# (hglearn pattern, port replacement, is the module a residual block). The port wraps each hourglass in
# a Sequential (hgs.i.0), puts a stack's residual and its 1×1 conv-BN-ReLU in one Sequential
# (features.i.0 and .1), calls the heads `outs` and the heatmap merge `merge_preds`, and wraps every
# convolution in a `Conv` module (.conv), the merges twice (Merge.conv.conv).
MODULES = [
    (r"stem\.0\.", "pre.0.conv.", False),
    (r"stem\.1\.", "pre.0.bn.", False),  # stem.2 is the ReLU, stem.4 the max-pool: no tensors
    (r"stem\.3\.", "pre.1.", True),
    (r"stem\.5\.", "pre.3.", True),
    (r"stem\.6\.", "pre.4.", True),
    (r"hgs\.(\d+)\.", r"hgs.\1.0.", True),
    (r"res\.(\d+)\.", r"features.\1.0.", True),
    (r"features\.(\d+)\.0\.", r"features.\1.1.conv.", False),
    (r"features\.(\d+)\.1\.", r"features.\1.1.bn.", False),
    (r"heads\.(\d+)\.", r"outs.\1.conv.", False),
    (r"merge_features\.(\d+)\.", r"merge_features.\1.conv.conv.", False),
    (r"merge_heatmaps\.(\d+)\.", r"merge_preds.\1.conv.conv.", False),
]
# Inside a residual: bn1..bn3 keep their names; conv1..conv3 are wrapped in `Conv`; `skip` is `skip_layer`.
BLOCK_LAYERS = [
    (r"(^|\.)(conv[123])\.(weight|bias)$", r"\1\2.conv.\3"),
    (r"(^|\.)skip\.(weight|bias)$", r"\1skip_layer.conv.\2"),
]
STACK_KEY = re.compile(r"(?:hgs|features|outs)\.(\d+)\.")  # a port key of stack N
# The port's Residual builds its 1×1 skip_layer even when cin == cout and then ignores it (need_skip
# is False): those tensors are the only ones without a place in hglearn, where the shortcut is an identity.
UNUSED_SKIP = re.compile(r"(.*\.)skip_layer\.conv\.(weight|bias)")


class Converted(NamedTuple):
    """What `convert_princeton` returns: the network and everything needed to use and describe it."""

    model: torch.nn.Module  # eval mode, CPU
    config: ModelConfig
    preset: str  # the hglearn preset it is (newell-hg2, newell-hg8, ...)
    input_convention: str
    dropped: list[str]  # the port's unused skip_layer keys
    epoch: int | None  # as the port's checkpoint records it


def port_key(key: str) -> str:
    """The port's state-dict key (after `model.module.`) of an hglearn `StackedHourglass` key.

        stem.3.conv1.weight               → pre.1.conv1.conv.weight
        stem.6.skip.bias                  → pre.4.skip_layer.conv.bias
        hgs.0.low2.low2.up1.conv2.weight  → hgs.0.0.low2.low2.up1.conv2.conv.weight
        merge_heatmaps.0.weight           → merge_preds.0.conv.conv.weight
    """
    for pattern, replacement, is_block in MODULES:
        match = re.match(pattern, key)
        if match:
            rest = key[match.end():]
            if is_block:
                for layer, port_layer in BLOCK_LAYERS:
                    rest = re.sub(layer, port_layer, rest)
            return match.expand(replacement) + rest
    raise ValueError(f"hglearn key {key!r} has no counterpart in the port's network")  # a bug, not user input


def read_port_state(path: str | Path) -> tuple[dict[str, torch.Tensor], int | None]:
    """The port's state dict with `model.module.` removed, and the epoch, read with weights_only=True."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as error:  # torch's unpickler raises many kinds on garbage
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {torch_reason(error)}") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise CheckpointError(f"{path} is not a checkpoint of {REPOSITORY}: it has no 'state_dict' "
                              f"(the port saves state_dict, optimizer, epoch)")
    state = {}
    for key, tensor in checkpoint["state_dict"].items():
        if not key.startswith(PREFIX):
            raise CheckpointError(f"{path}: key {key!r} does not start with {PREFIX!r}, as the port's keys do")
        state[key[len(PREFIX):]] = tensor
    return state, checkpoint.get("epoch")


def port_config(state: dict[str, torch.Tensor], path: str | Path) -> tuple[ModelConfig, str]:
    """The hglearn ModelConfig and preset name of a port state dict: the number of stacks from the
    highest stack index of its `hgs.N.`, `features.N.` and `outs.N.` keys (so a stack with some of
    its tensors gone is reported as missing keys), the width and joints from the first head `outs.0`
    (num_joints × channels × 1 × 1). A stack count without a preset of its own is newell-hg1's
    config with that many stacks."""
    stacks = {int(m.group(1)) for m in map(STACK_KEY.match, state) if m}
    if not stacks:
        raise CheckpointError(f"{path}: no hourglass keys ({PREFIX}hgs.N....): not a stacked hourglass of the port")
    head = state.get("outs.0.conv.weight")
    if head is None or head.dim() != 4:
        raise CheckpointError(f"{path}: missing key {PREFIX}outs.0.conv.weight, the first stack's heatmap head")
    num_joints, channels = head.shape[:2]
    # hglearn's stem scales with the width (C/4, C/2); the port's is always 64 and 128: they agree at 256.
    if channels != 256 or num_joints != 16:
        raise CheckpointError(f"{path}: the port's network has {channels} channels and {num_joints} joints; "
                              f"hglearn's newell presets map it only at 256 channels and MPII's 16 joints")
    config = ModelConfig(num_stacks=max(stacks) + 1)
    preset = f"newell-hg{config.num_stacks}"
    return config, preset if PRESETS.get(preset) == config else "newell-hg1"


def map_state(state: dict[str, torch.Tensor], model: torch.nn.Module,
              path: str | Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """hglearn's state dict from the port's, and the port keys dropped (the unused skip_layers).

    Every hglearn tensor must come from one port tensor of the same shape; every port tensor must
    have a place, except the skip_layer of a residual whose shortcut is an identity.
    """
    target = model.state_dict()
    source = {port_key(key): key for key in target}
    mapped, dropped = {}, []
    for key, tensor in state.items():
        if key in source:
            expected = target[source[key]].shape
            if tensor.shape != expected:
                raise CheckpointError(f"{path}: {PREFIX}{key} has shape {tuple(tensor.shape)}, hglearn's "
                                      f"{source[key]} needs {tuple(expected)}")
            mapped[source[key]] = tensor
            continue
        unused = UNUSED_SKIP.fullmatch(key)
        if unused and unused.group(1) + "bn1.weight" in source:  # a real residual whose shortcut is an identity
            dropped.append(key)
            continue
        raise CheckpointError(f"{path}: key {PREFIX}{key} has no place in hglearn's {type(model).__name__}")
    missing = [key for key in source if key not in state]
    if missing:
        raise CheckpointError(f"{path}: missing key {PREFIX}{missing[0]} (hglearn's {source[missing[0]]})"
                              + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
    return mapped, dropped


def convert_princeton(path: str | Path) -> Converted:
    """The hglearn network (eval mode, CPU) holding the weights of a port checkpoint."""
    state, epoch = read_port_state(path)
    config, preset = port_config(state, path)
    model = config.build()
    weights, dropped = map_state(state, model, path)
    model.load_state_dict(weights)  # strict: map_state has matched every key and shape
    return Converted(model.eval(), config, preset, INPUT_CONVENTION, dropped, epoch)


def model_card(converted: Converted, source: str | Path) -> dict[str, str | float]:
    """What the converted file is, where it came from, what the authors report for it, what it eats.

    The reported accuracy is the published file's: the card records the SHA-256 of the file that was
    converted, and only a match with the published file makes the accuracy this network's.
    """
    stacks = converted.config.num_stacks
    card = {
        "architecture": f"{converted.preset}: {stacks}-stack hourglass, 256 channels, 16 MPII joints "
                        f"(Newell, Yang, Deng, ECCV 2016)",
        "source_repository": REPOSITORY,
        "source_file": Path(source).name,
        "source_sha256": file_sha256(source),
        "source_epoch": "not recorded" if converted.epoch is None else str(converted.epoch),
        "input_convention": converted.input_convention,
        "authors_training": AUTHORS_TRAINING,
        "train_config": "a stand-in: hglearn did not train this network. It names the preset, MPII, 256-pixel crops, "
                        "the authors' optimizer, learning rate, batch and about 200k steps; its other fields are "
                        "hglearn's defaults, not the authors' settings",
        "dropped": f"{len(converted.dropped)} unused skip_layer tensors of the port's residuals with cin = cout",
    }
    if stacks in PUBLISHED:
        card["published_address"] = PUBLISHED[stacks]["address"]
        card["reported_accuracy"] = PUBLISHED[stacks]["accuracy"]
        card["reported_accuracy_source"] = (f"the port's README: the {stacks}-stack checkpoint 'should yield "
                                            f"validation accuracy of {PUBLISHED[stacks]['accuracy']}' on MPII; "
                                            "it is this network's only if source_sha256 is the published file's")
    return card


def save_converted(checkpoint: str | Path, out: str | Path) -> tuple[Path, Converted]:
    """Convert a port checkpoint and write it atomically as an hglearn checkpoint that `load_model`
    and `hglearn eval` read like any other, with its `model_card` (a dict of str and float) inside."""
    converted = convert_princeton(checkpoint)
    # A TrainConfig as honest as one can be for a network hglearn did not train (the card says so).
    stacks = converted.config.num_stacks
    train_cfg = TrainConfig(model=converted.preset,
                            num_stacks=None if PRESETS[converted.preset].num_stacks == stacks else stacks,
                            dataset="mpii", input_res=256, optimizer="adam", lr=1e-3, batch_size=16,
                            max_steps=200_000)
    state = {
        "model_config": dataclasses.asdict(converted.config),
        "train_config": dataclasses.asdict(train_cfg),
        "model": converted.model.state_dict(),
        "model_card": model_card(converted, checkpoint),
    }
    out = Path(out)
    save_checkpoint(out, state)
    return out, converted


# ---------------------------------------------------------------------------------------------
# The published checkpoints in one call: hglearn pretrained list, hglearn pretrained get NAME

# The authors publish no SHA-256. sha256=None: the first download that converts records its SHA-256
# in the cache (CachePaths.record), and every later use of that file is checked against the record.
PRETRAINED = {
    "newell-hg2-princeton": {**PUBLISHED[2], "num_stacks": 2, "sha256": None},
    "newell-hg8-princeton": {**PUBLISHED[8], "num_stacks": 8, "sha256": None},
}


class CachePaths(NamedTuple):
    """Where a published checkpoint lives in the cache."""

    source: Path  # the port's file as published: <cache>/<name>/checkpoint.pt
    record: Path  # the SHA-256 of source and converted, recorded when they were written: <cache>/<name>/sha256.json
    converted: Path  # the hglearn checkpoint: <cache>/<name>.pt


def cache_dir() -> Path:
    """$HGLEARN_CACHE/pretrained, by default ~/.cache/hglearn/pretrained."""
    return Path(os.environ.get("HGLEARN_CACHE") or Path.home() / ".cache" / "hglearn") / "pretrained"


def cache_paths(name: str) -> CachePaths:
    """The cache's files of a name of PRETRAINED; another name is a ConfigError listing them."""
    if name not in PRETRAINED:
        raise ConfigError(f"no published checkpoint {name!r}; the names are: {', '.join(PRETRAINED)}")
    cache = cache_dir()
    return CachePaths(cache / name / "checkpoint.pt", cache / name / "sha256.json", cache / f"{name}.pt")


def read_record(path: Path) -> dict[str, str]:
    """The SHA-256s recorded in path ({} when there is none yet)."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError) as error:
        raise DownloadError(f"{path} is not the JSON hglearn writes ({error}); delete it to record the "
                            "SHA-256s afresh") from None
    if not isinstance(record, dict):
        raise DownloadError(f"{path} is not the JSON hglearn writes; delete it to record the SHA-256s afresh")
    return record


def check_recorded(path: Path, expected: str, record: Path) -> None:
    """Refuse a cached file whose SHA-256 is not the one recorded when it was written."""
    digest = file_sha256(path)
    if digest != expected:
        raise DownloadError(f"{path} has SHA-256 {digest}, but {expected} was recorded in {record} when it was "
                            "written: the file has changed since; delete it and run hglearn pretrained get again")


def get_pretrained(name: str, *, progress: bool = True) -> Path:
    """The hglearn checkpoint of the published network `name` (a key of PRETRAINED), from the cache.

    The first call downloads the port's file to <cache>/<name>/checkpoint.pt with a progress bar
    (resumably: a transfer cut short is continued where it stopped by the next call), converts it
    with `save_converted` to <cache>/<name>.pt and records both files' SHA-256 in
    <cache>/<name>/sha256.json (written atomically). A later call checks the converted file against
    its record and returns it, downloading nothing; with the converted file deleted, it converts the
    downloaded one again after checking that against its record. A file that no longer matches its
    record is refused, naming the file and both hashes, never replaced silently. When the address
    cannot be reached, the DownloadError says what to fetch and where to save it: the next call
    converts that file without downloading.
    """
    paths = cache_paths(name)  # an unknown name is a ConfigError listing the names
    entry, record = PRETRAINED[name], read_record(paths.record)
    if paths.converted.exists() and "converted_sha256" in record:
        check_recorded(paths.converted, record["converted_sha256"], paths.record)
        print(f"{paths.converted.name}: in the cache, sha256 as recorded")
        return paths.converted
    expected = entry["sha256"] or record.get("sha256")
    try:
        download(entry["address"], paths.source, expected, progress=progress)
    except UnreachableError as error:  # a transfer cut short resumes on the next call; a wrong SHA-256 stays an error
        raise DownloadError(f"{error}. Fetch {entry['address']} another way (a browser, another machine) and save "
                            f"it as {paths.source}; then hglearn pretrained get {name} converts it") from None
    source_sha256 = file_sha256(paths.source)
    save_converted(paths.source, paths.converted)
    with atomic_path(paths.record) as tmp:
        tmp.write_text(json.dumps({"address": entry["address"], "sha256": source_sha256,
                                   "converted_sha256": file_sha256(paths.converted)}, indent=1) + "\n")
    if expected is None:
        print(f"{paths.source.name}: sha256 recorded in {paths.record}; later calls check it")
    return paths.converted

