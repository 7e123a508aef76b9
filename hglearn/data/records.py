"""One annotated person, its prepared on-disk form, safe paths under a dataset root, and the
reading of MATLAB files that the real datasets ship.

Every dataset (SynthPose, MPII, LSP, FLIC) is read into a list of `PoseRecord`s; `PoseDataset`
turns records into training tensors. Coordinates are 0-based image pixels with pixel centres on
integers; the datasets' 1-based files are converted when they are read.

The prepared format is what `hglearn data prepare` writes and every training run on a real dataset
reads: one JSON file per split, ROOT/annotations/<split>.json, a list of records {"image": path
relative to ROOT, "joints": [[x, y], ...] 0-based pixels, "visible": [bool, ...], "annotated":
[bool, ...], "center": [x, y], "scale": s (crop side 200·s px), "head_box": [[x1, y1], [x2, y2]] or
null}, the fields of `PoseRecord`. It lives here, beside the record, so that reading annotations
does not need the downloader. `save_prepared` and `load_prepared` check every record.

Taught in notebooks/09_training_on_mpii.ipynb.
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from hglearn.errors import DatasetError
from hglearn.files import atomic_path
from hglearn.joints import JOINT_SETS


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


# What a conversion of file content can raise: a wrong type or text, a 400-digit integer made a float
# (OverflowError), structure nested past Python's recursion limit, a 4301-digit integer (ValueError).
CONVERSION_ERRORS = (TypeError, ValueError, OverflowError, RecursionError)


def leaves_root(relative: str) -> bool:
    """Whether a relative path, read lexically, could leave the folder it is relative to: an absolute
    path (POSIX or Windows, a drive such as "C:" included) or one with a ".." part (either separator)."""
    posix, windows = PurePosixPath(relative), PureWindowsPath(relative)
    return posix.is_absolute() or bool(windows.anchor) or ".." in posix.parts or ".." in windows.parts


def resolve_under(root: str | Path, relative: str, *, file: str | Path | None = None,
                  record: int | None = None, field: str = "image") -> Path:
    """root / relative, refusing a NUL byte and the paths that could leave the root: an absolute or
    drive path, or one with a ".." part. The check is lexical and only the root is resolved: symbolic
    links below it are followed, not judged, so ROOT/images may be a link to a folder on another disk
    (a usual set-up for MPII's 12.9 GB), while no path written in a file can name a place outside."""
    if not isinstance(relative, str) or "\0" in relative:
        raise DatasetError(f"expected a path without NUL bytes, got {relative!r}", file=file, record=record,
                           field=field)
    if leaves_root(relative):
        raise DatasetError(f"path {relative!r} lies outside the dataset root {root}",
                           file=file, record=record, field=field)
    return Path(root).resolve() / relative


def check_record(record: PoseRecord, index: int, *, file: str | Path | None, num_joints: int) -> None:
    """Raise DatasetError naming file, index and field unless the record is usable: a relative image
    path inside the root, num_joints joints, boolean masks with visible ⊆ annotated, finite annotated
    joints, a finite center, a positive scale, and a head box of non-zero size (or none)."""
    def fail(message: str, field: str):
        raise DatasetError(message, file=file, record=index, field=field)

    image = record.image
    if not isinstance(image, str) or not image:
        fail(f"expected a relative image path, got {image!r}", "image")
    if "\0" in image:
        fail(f"image path {image!r} holds a NUL byte", "image")
    if leaves_root(image):
        fail(f"image path {image!r} lies outside the dataset root", "image")
    try:
        joints = np.asarray(record.joints)
    except CONVERSION_ERRORS:  # a ragged list
        fail(f"expected joints of shape ({num_joints}, 2), got {record.joints!r:.200}", "joints")
    if joints.ndim != 2 or joints.shape[1] != 2:
        fail(f"expected joints of shape ({num_joints}, 2), got {joints.shape}", "joints")
    if len(joints) != num_joints:
        fail(f"expected {num_joints} joints, got {len(joints)}", "joints")
    if joints.dtype.kind not in "iuf":
        fail(f"expected numbers, got {joints.dtype}", "joints")
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
    try:
        center = np.asarray(record.center, dtype=np.float64)
    except CONVERSION_ERRORS:
        center = np.full(0, np.nan)
    if center.shape != (2,) or not np.isfinite(center).all():
        fail(f"expected two finite numbers, got {record.center!r}", "center")
    scale = record.scale
    try:
        usable = (isinstance(scale, (int, float, np.floating, np.integer)) and not isinstance(scale, (bool, np.bool_))
                  and math.isfinite(scale) and scale > 0)
    except OverflowError:  # an integer too large for a float
        usable = False
    if not usable:
        fail(f"scale must be positive and finite, got {record.scale!r:.100}", "scale")
    if record.head_box is not None:
        try:
            box = np.asarray(record.head_box, dtype=np.float64)
        except CONVERSION_ERRORS:
            box = np.full(0, np.nan)
        if box.shape != (2, 2) or not np.isfinite(box).all():
            fail(f"expected [[x1, y1], [x2, y2]] of finite numbers, got {record.head_box!r}", "head_box")
        if np.linalg.norm(box[1] - box[0]) == 0:
            fail(f"zero-size head box {box.tolist()}", "head_box")


def read_mat(path: str | Path, *, squeeze: bool = True, required: tuple[str, ...] = ()) -> dict:
    """The variables of a MATLAB file, with structs as attribute objects (`struct_as_record=False`).

    squeeze: drop MATLAB's 1×1 dimensions (a lone struct then is the struct, not an array); keep
    them where a one-person file would otherwise lose its person axis. A variable of `required`
    that the file lacks, or a file scipy cannot parse, is a DatasetError naming the file (and the
    variable); an absent file is a FileNotFoundError.
    """
    import scipy.io  # heavy: imported only when a .mat is read

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    try:
        mat = scipy.io.loadmat(path, struct_as_record=False, squeeze_me=squeeze)
    except Exception as error:  # scipy raises ValueError, TypeError, MatReadError... on a corrupt file
        raise DatasetError(f"cannot read the .mat file: {error}", file=path) from None
    for name in required:
        if name not in mat:
            raise DatasetError(f"no variable named {name!r}", file=path, field=name)
    return mat


def mat_numbers(value, *, file: str | Path, field: str, record: int | None = None) -> np.ndarray:
    """A MATLAB variable or field that must hold numbers, as float64. Text, a cell array or a struct
    where numbers are expected raises DatasetError naming the file and the field (numpy would read
    the text '1.5' as a number, or fail with a message that names neither)."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        found = {"U": "text", "S": "text", "O": "a cell array or struct"}.get(array.dtype.kind, str(array.dtype))
        raise DatasetError(f"expected a numeric array, got {found}", file=file, record=record, field=field)
    return array.astype(np.float64)


def read_json(path: str | Path, what: str = "JSON annotations"):
    """The content of a JSON file. An absent file is a FileNotFoundError; one that cannot be read or
    parsed (bad encoding or syntax, nesting past Python's recursion limit, an integer of over 4300
    digits) a DatasetError naming the file, `what` saying which file it should have been."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError) as error:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise DatasetError(f"cannot read the {what}: {error}", file=path) from None


# ---------------------------------------------------------------------------------------------
# The prepared format

def _to_json(record: PoseRecord) -> dict:
    return {"image": record.image, "joints": np.asarray(record.joints, dtype=float).tolist(),
            "visible": [bool(v) for v in record.visible], "annotated": [bool(a) for a in record.annotated],
            "center": np.asarray(record.center, dtype=float).tolist(), "scale": float(record.scale),
            "head_box": None if record.head_box is None else np.asarray(record.head_box, dtype=float).tolist()}


def _joint_count(record: PoseRecord) -> int:
    """The length of record.joints; 0 for a scalar or an object numpy cannot make an array of
    (`check_record` then names the field)."""
    try:
        return len(np.asarray(record.joints, dtype=np.float64))
    except CONVERSION_ERRORS:  # TypeError: len() of a scalar
        return 0


def save_prepared(records: list[PoseRecord], path: str | Path) -> Path:
    """Write records in the prepared format, atomically (a temporary file renamed over path), after
    checking each one: no records, or a bad one, raises DatasetError and nothing is written."""
    path = Path(path)
    if not records:
        raise DatasetError("no records to write", file=path)
    num_joints = _joint_count(records[0])
    for index, record in enumerate(records):
        check_record(record, index, file=path, num_joints=num_joints)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # FileExistsError: a file stands where the folder should be
        raise DatasetError(f"cannot make the folder {path.parent}: {error.strerror or error}", file=path) from None
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps([_to_json(record) for record in records]), encoding="utf-8")
    return path


def _from_json(entry, index: int, path: Path) -> PoseRecord:
    """One record of a prepared file, its types checked field by field (`check_record` does the rest)."""
    if not isinstance(entry, dict):
        raise DatasetError(f"expected an object, got {type(entry).__name__}", file=path, record=index)
    fields = {}
    for name, dtype in (("joints", np.float64), ("visible", bool), ("annotated", bool), ("center", np.float64),
                        ("scale", np.float64), ("head_box", np.float64)):
        value = entry.get(name)
        if value is None:
            if name == "head_box":
                fields[name] = None
                continue
            raise DatasetError("field missing", file=path, record=index, field=name)
        if dtype is bool and not (isinstance(value, list) and all(v in (0, 1) for v in value)):
            raise DatasetError(f"expected a list of booleans, got {value!r}", file=path, record=index, field=name)
        if name == "scale" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise DatasetError(f"expected a number, got {value!r}", file=path, record=index, field=name)
        try:
            fields[name] = np.asarray(value, dtype=dtype)
        except CONVERSION_ERRORS:
            raise DatasetError(f"expected numbers, got {value!r:.200}", file=path, record=index, field=name) from None
    return PoseRecord(image=entry.get("image"), **{**fields, "scale": float(fields["scale"])})


def load_prepared(path: str | Path, num_joints: int | None = None) -> list[PoseRecord]:
    """Read a prepared annotation file, checking every record (`check_record`); a file of no records
    is a DatasetError. Without num_joints, every record must have the first one's joint count, which
    must be a known joint set's."""
    path = Path(path)
    try:
        entries = read_json(path, "prepared annotations")
    except FileNotFoundError:
        raise FileNotFoundError(f"prepared annotations not found: {path} (run `hglearn data prepare`)") from None
    if not isinstance(entries, list):
        raise DatasetError("expected a JSON list of records", file=path)
    if not entries:
        raise DatasetError("no records", file=path)
    records = [_from_json(entry, index, path) for index, entry in enumerate(entries)]
    if num_joints is None:
        num_joints = _joint_count(records[0])
        known = sorted({joint_set.num_joints for joint_set in JOINT_SETS.values()}, reverse=True)
        if num_joints not in known:
            raise DatasetError(f"{num_joints} joints matches no joint set ({', '.join(map(str, known))})",
                               file=path, record=0, field="joints")
    for index, record in enumerate(records):
        check_record(record, index, file=path, num_joints=num_joints)
    return records
