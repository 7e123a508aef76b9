"""One annotated person, the error every loader raises, and safe paths under a dataset root.

Every dataset (SynthPose, MPII, LSP, FLIC) is read into a list of `PoseRecord`s; `PoseDataset`
turns records into training tensors. Coordinates are 0-based image pixels with pixel centres on
integers; the datasets' 1-based files are converted when they are read.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DatasetError(ValueError):
    """A problem with a dataset file, named by file, record index and field."""

    def __init__(self, message: str, *, file: str | Path | None = None, record: int | None = None,
                 field: str | None = None):
        where = [f"file {file}" if file is not None else None,
                 f"record {record}" if record is not None else None,
                 f"field {field!r}" if field is not None else None]
        where = ", ".join(w for w in where if w)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.record, self.field = file, record, field


@dataclass
class PoseRecord:
    """One person in one image.

    image: path of the image relative to the dataset root (SynthPose: "synth/<index>.png").
    joints: (J, 2) float, (x, y) in 0-based image pixels; missing joints hold any value.
    visible: (J,) bool, annotated and not occluded.
    annotated: (J,) bool, the joint has a position (MPII's missing joints are False). PCKh counts
        every annotated joint, occluded or not.
    center, scale: the person crop is a square of side 200·scale pixels around `center`. Loaders
        store the box used for cropping (MPII: objpos + (0, 15·scale), scale × 1.25).
    head_box: (2, 2) [[x1, y1], [x2, y2]] 0-based, for PCKh's head size; None where the dataset has none.
    """

    image: str
    joints: np.ndarray
    visible: np.ndarray
    annotated: np.ndarray
    center: np.ndarray
    scale: float
    head_box: np.ndarray | None = None


def resolve_under(root: str | Path, relative: str, *, file: str | Path | None = None,
                  record: int | None = None, field: str = "image") -> Path:
    """root / relative, refusing paths that leave the root (an absolute path, or "..")."""
    root = Path(root).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise DatasetError(f"path {relative!r} lies outside the dataset root {root}",
                           file=file, record=record, field=field)
    return path
