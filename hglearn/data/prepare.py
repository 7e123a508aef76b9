"""Convert a downloaded dataset's own annotation files into the prepared format.

    hglearn data prepare NAME --root DIR [--source FORMAT]    # writes DIR/annotations/<split>.json

This is the hub between the loaders (`mpii`, `lsp`, `flic`), which read each dataset's files, and
`records.save_prepared`, which writes the one format every training run reads. Which splits are
written and which annotation formats a dataset accepts come from `hglearn.data.catalog`; this file
knows only where each dataset's files lie and which loader reads them.

Taught in notebooks/09_training_on_mpii.ipynb.
"""
import warnings
from functools import partial
from pathlib import Path

from hglearn.data import mpii
from hglearn.data.catalog import DatasetSpec, dataset_spec
from hglearn.data.flic import load_flic
from hglearn.data.lsp import load_lsp
from hglearn.data.records import DatasetError, PoseRecord, save_prepared
from hglearn.errors import ConfigError

# Tompson et al.'s split, which every MPII conversion should reproduce: (people, images) per split.
TOMPSON_COUNTS = {"train": (mpii.TOMPSON_TRAIN_PEOPLE, mpii.TOMPSON_TRAIN_IMAGES),
                  "val": (mpii.TOMPSON_VAL_PEOPLE, mpii.TOMPSON_VAL_IMAGES)}


def _find(root: Path, name: str) -> Path:
    """The one file called name under root (outside root/downloads, which holds the archives)."""
    found = sorted(p for p in root.rglob(name) if p.is_file() and "downloads" not in p.relative_to(root).parts)
    if not found:
        raise FileNotFoundError(f"{name} not found under {root}: run `hglearn data download` or put it there")
    if len(found) > 1:
        raise DatasetError(f"{len(found)} files called {name} under {root}: {', '.join(map(str, found))}; keep one")
    return found[0]


def _relative_to(records: list[PoseRecord], base: Path, root: Path) -> list[PoseRecord]:
    """Make image paths relative to root when a loader read them relative to base, a folder under root."""
    prefix = base.resolve().relative_to(root.resolve()).as_posix()
    if prefix != ".":
        for record in records:
            record.image = f"{prefix}/{record.image}"
    return records


def _mpii_splits(root: Path, source: str, tompson: str | Path | None) -> dict[str, list[PoseRecord]]:
    """MPII's train and val records from one of its three sources (see `prepare`)."""
    if source == "mmpose":
        return {"train": mpii.load_mpii_json(_find(root, "mpii_train.json")),
                "val": mpii.load_mpii_json(_find(root, "mpii_val.json"), gt_val_mat=_find(root, "mpii_gt_val.mat"))}
    if source == "bearpaw":
        path = _find(root, "mpii_annotations.json")
        return {split: mpii.load_mpii_annotations_json(path, split) for split in ("train", "val")}
    if tompson is None:
        raise ConfigError("the official .mat has no validation split: give --tompson with bearpaw's "
                          "mpii_annotations.json or Tompson et al.'s detections.mat, which list the validation people")
    path = _find(root, "mpii_human_pose_v1_u12_1.mat")
    val_people = mpii.load_tompson_val_people(tompson)
    return {split: mpii.load_mpii_mat(path, split, val_people=val_people) for split in ("train", "val")}


def _joints_mat_splits(spec: DatasetSpec, root: Path) -> dict[str, list[PoseRecord]]:
    """The catalogue's splits of a dataset whose annotations are one .mat beside its images/ folder
    (LSP, LSP-extended and FLIC), with image paths made relative to root."""
    if spec.name == "lsp":
        annotation, load = "joints.mat", load_lsp
    elif spec.name == "lspet":
        annotation, load = "joints.mat", partial(load_lsp, extended=True)
    elif spec.name == "flic":
        annotation, load = "examples.mat", load_flic
    else:
        raise ConfigError(f"no converter for dataset {spec.name!r}: add one to hglearn/data/prepare.py")
    base = _find(root, annotation).parent
    return {split: _relative_to(load(base, split), base, root) for split in spec.splits}


def _warn_unless_tompson(split: str, people: int, images: int) -> None:
    """A conversion that loses or adds people is scored on another set than the papers'; say so."""
    expected = TOMPSON_COUNTS[split]
    if (people, images) != expected:
        warnings.warn(f"MPII {split}: {people:,} people in {images:,} images, but Tompson's split has "
                      f"{expected[0]:,} in {expected[1]:,}", stacklevel=3)


def prepare(name: str, root: str | Path, *, source: str | None = None,
            tompson: str | Path | None = None) -> dict[str, Path]:
    """Convert the annotations of a downloaded dataset to root/annotations/<split>.json, one file per
    split of its catalogue entry; return the paths by split.

    source is one of the entry's `sources`, the first by default. MPII's: "mmpose" (default;
    mpii_{train,val}.json with mpii_gt_val.mat's head boxes for val), "mat" (the official .mat,
    every head box and the real visibility, split with the list of validation people in `tompson`),
    "bearpaw" (mpii_annotations.json; no head boxes). The MPII counts are compared with Tompson's
    split and a warning names any difference. An unknown dataset, one with nothing to convert
    (SynthPose), one made of others (whose parts are prepared one by one), or a source it does not
    have is a ConfigError.
    """
    spec = dataset_spec(name)
    if spec.parts:
        raise ConfigError(f"dataset {name!r} is made of {' and '.join(spec.parts)} and has no files of its own: "
                          f"prepare each in its own folder, ROOT/{' and ROOT/'.join(spec.parts)}")
    if not spec.sources:
        raise ConfigError(f"dataset {name!r} has no annotation files to prepare (it is generated)")
    source = source or spec.sources[0]
    if source not in spec.sources:
        raise ConfigError(f"source for {name} must be one of {', '.join(spec.sources)}; got {source!r}")
    root = Path(root)
    annotations = root / "annotations"
    if annotations.exists() and not annotations.is_dir():  # found now, not after reading every annotation
        raise DatasetError("is not a folder: the prepared annotations are written into it; move it away",
                           file=annotations)
    splits = _mpii_splits(root, source, tompson) if name == "mpii" else _joints_mat_splits(spec, root)

    paths = {}
    for split, records in splits.items():
        if not records:
            raise DatasetError(f"no usable people for the {split} split", file=root)
        paths[split] = save_prepared(records, annotations / f"{split}.json")
        people, images = len(records), len({record.image for record in records})
        print(f"{name} {split}: {people:,} people in {images:,} images -> {paths[split]}")
        if name == "mpii":
            _warn_unless_tompson(split, people, images)
    return paths
