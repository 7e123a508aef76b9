"""One annotated person, the error every loader raises, and safe paths under a dataset root.

Every dataset (SynthPose, MPII, LSP, FLIC) is read into a list of `PoseRecord`s; `PoseDataset`
turns records into training tensors. Coordinates are 0-based image pixels with pixel centres on
integers; the datasets' 1-based files are converted when they are read.
"""
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

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

    image: path of the image relative to the dataset root (SynthPose: "images/000042.png").
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


def check_record(record: PoseRecord, index: int, *, file: str | Path | None, num_joints: int) -> None:
    """Raise DatasetError naming file, index and field unless the record is usable: a relative image
    path inside the root, num_joints joints, boolean masks with visible ⊆ annotated, finite annotated
    joints, a finite center, a positive scale, and a head box of non-zero size (or none)."""
    def fail(message: str, field: str):
        raise DatasetError(message, file=file, record=index, field=field)

    image = record.image
    if not isinstance(image, str) or not image:
        fail(f"expected a relative image path, got {image!r}", "image")
    posix, windows = PurePosixPath(image), PureWindowsPath(image)
    if posix.is_absolute() or windows.anchor or ".." in posix.parts or ".." in windows.parts:
        fail(f"image path {image!r} lies outside the dataset root", "image")
    joints = np.asarray(record.joints)
    if joints.ndim != 2 or joints.shape[1] != 2:
        fail(f"expected joints of shape ({num_joints}, 2), got {joints.shape}", "joints")
    if len(joints) != num_joints:
        fail(f"expected {num_joints} joints, got {len(joints)}", "joints")
    masks = {}
    for name in ("visible", "annotated"):
        masks[name] = np.asarray(getattr(record, name))
        if masks[name].shape != (num_joints,) or masks[name].dtype != bool:
            fail(f"expected {num_joints} booleans, got {masks[name].dtype} of shape {masks[name].shape}", name)
    visible, annotated = masks["visible"], masks["annotated"]
    if (visible & ~annotated).any():
        fail(f"joint {int(np.argmax(visible & ~annotated))} is visible but not annotated", "visible")
    finite = np.isfinite(joints).all(axis=1)
    if (annotated & ~finite).any():
        j = int(np.argmax(annotated & ~finite))
        fail(f"non-finite coordinate {joints[j].tolist()}", f"joints[{j}]")
    center = np.asarray(record.center, dtype=np.float64)
    if center.shape != (2,) or not np.isfinite(center).all():
        fail(f"expected two finite numbers, got {record.center!r}", "center")
    if not (isinstance(record.scale, (int, float, np.floating, np.integer)) and np.isfinite(record.scale)
            and record.scale > 0):
        fail(f"scale must be positive and finite, got {record.scale!r}", "scale")
    if record.head_box is not None:
        box = np.asarray(record.head_box, dtype=np.float64)
        if box.shape != (2, 2) or not np.isfinite(box).all():
            fail(f"expected [[x1, y1], [x2, y2]] of finite numbers, got {record.head_box!r}", "head_box")
        if np.linalg.norm(box[1] - box[0]) == 0:
            fail(f"zero-size head box {box.tolist()}", "head_box")
