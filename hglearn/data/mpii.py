"""MPII Human Pose (Andriluka et al., CVPR 2014): the official .mat, its two common JSON conversions,
and the validation ground truth of the PCKh evaluation.

Every loader returns `PoseRecord`s in hglearn's conventions: 0-based pixel coordinates (the files
are 1-based, MATLAB's), the 16 joints in annotation-id order (`hglearn.joints.MPII`), and MPII's
person box, used by all the common code: center = objpos + (0, 15·scale) and scale × 1.25, so the
crop is a square of side 200·scale pixels around a point a little below the annotated objpos.

What each source holds:

| source | file | visibility | head box | split |
|---|---|---|---|---|
| official | `mpii_human_pose_v1_u12_1.mat` | `is_visible` per point | yes | `img_train` only |
| mmpose | `mpii_{train,val}.json`, `mpii_gt_val.mat` | lost: `joints_vis` = annotated | val, from the .mat | Tompson |
| bearpaw | `mpii_annotations.json` | yes (0 for occluded) | no | Tompson (`isValidation`) |

The test set's annotations are withheld by the authors, so the common validation set is the one of
Tompson et al. (CVPR 2015): 2,958 people in 2,729 of the `img_train` images. The official .mat does
not say which people those are; the JSON conversions do, and `load_tompson_val_people` reads the list
from bearpaw's JSON or from Tompson's `detections.mat` so that the .mat can be split the same way.

Taught in notebooks/00_pose_primer.ipynb.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hglearn.errors import ConfigError
from hglearn.data.records import (CONVERSION_ERRORS, DatasetError, PoseRecord, check_record, mat_numbers,
                                  read_json, read_mat)
from hglearn.joints import MPII

# The Tompson split, as the JSON conversions hold it; `prepare` warns when a conversion differs.
TOMPSON_TRAIN_PEOPLE, TOMPSON_TRAIN_IMAGES = 22_246, 14_679
TOMPSON_VAL_PEOPLE, TOMPSON_VAL_IMAGES = 2_958, 2_729

# The person box of all common MPII code: objpos moved down by 15·scale, the box enlarged by 1.25
# "to avoid cropping limbs" (the annotated scale is the person's height / 200 px, head to feet).
BOX_SHIFT = 15.0
BOX_PAD = 1.25


def person_box(objpos_1based, scale: float) -> tuple[np.ndarray, float]:
    """(center, scale) of the crop from MPII's objpos (1-based) and scale: objpos − 1 + (0, 15·scale), 1.25·scale."""
    center = np.asarray(objpos_1based, dtype=np.float64) - 1.0 + (0.0, BOX_SHIFT * scale)
    return center, BOX_PAD * float(scale)


def _image_path(name, *, file, record, field) -> str:
    if not isinstance(name, str) or not name or name != name.strip():
        raise DatasetError(f"expected an image file name, got {name!r}", file=file, record=record, field=field)
    return f"images/{name}"


def _check_split(split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise ConfigError(f"split must be one of {', '.join(allowed)}; got {split!r}")


# ---------------------------------------------------------------------------------------------
# The official .mat

def _structs(value) -> list:
    """A MATLAB struct array as a list. loadmat's squeeze_me turns a 1x1 struct into the struct itself
    and an empty field ([]) into an empty array, so one person or one point is not an array."""
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    return [value]


def _is_struct(value) -> bool:
    return hasattr(value, "_fieldnames")


def _number(value, *, file, record, field) -> float | None:
    """A MATLAB scalar as a float; None for an empty field ([])."""
    array = np.asarray(value)
    if array.size == 0:
        return None
    if array.size != 1 or array.dtype.kind not in "biuf":
        raise DatasetError(f"expected a number, got {value!r}", file=file, record=record, field=field)
    number = float(array.ravel()[0])
    if not np.isfinite(number):
        raise DatasetError(f"non-finite value {number}", file=file, record=record, field=field)
    return number


def _visibility(value, *, file, record, field) -> bool:
    """`is_visible` as found in the official file: 0/1, '0'/'1', or empty. Empty (unknown) counts as
    visible, as in the common conversions."""
    if isinstance(value, str):
        if value.strip() in ("0", "1"):
            return value.strip() == "1"
        if value.strip() == "":
            return True
        raise DatasetError(f"expected 0 or 1, got {value!r}", file=file, record=record, field=field)
    flag = _number(value, file=file, record=record, field=field)
    if flag is None:
        return True
    if flag not in (0.0, 1.0):
        raise DatasetError(f"expected 0 or 1, got {flag}", file=file, record=record, field=field)
    return flag == 1.0


def _mat_person(rect, *, file, record, where) -> PoseRecord | None:
    """One annorect as a record without its image; None when it has no points, scale or objpos."""
    points = getattr(rect, "annopoints", None)
    if not _is_struct(points) or np.size(getattr(points, "point", [])) == 0:
        return None  # not annotated (a test image, or a person left out)
    scale = _number(getattr(rect, "scale", []), file=file, record=record, field=f"{where}.scale")
    objpos = getattr(rect, "objpos", None)
    if scale is None or not _is_struct(objpos):
        return None
    x = _number(getattr(objpos, "x", []), file=file, record=record, field=f"{where}.objpos.x")
    y = _number(getattr(objpos, "y", []), file=file, record=record, field=f"{where}.objpos.y")
    if x is None or y is None:
        return None
    if scale <= 0:
        raise DatasetError(f"scale must be positive, got {scale}", file=file, record=record, field=f"{where}.scale")

    joints = np.zeros((MPII.num_joints, 2))
    visible = np.zeros(MPII.num_joints, dtype=bool)
    annotated = np.zeros(MPII.num_joints, dtype=bool)
    for k, point in enumerate(_structs(points.point)):
        here = f"{where}.annopoints.point[{k}]"
        if not _is_struct(point):
            raise DatasetError(f"expected a point struct, got {point!r}", file=file, record=record, field=here)
        joint = _number(getattr(point, "id", []), file=file, record=record, field=f"{here}.id")
        if joint is None or joint != int(joint) or not 0 <= joint < MPII.num_joints:
            raise DatasetError(f"joint id must be 0-{MPII.num_joints - 1}, got {getattr(point, 'id', None)!r}",
                               file=file, record=record, field=f"{here}.id")
        j = int(joint)
        if annotated[j]:
            raise DatasetError(f"joint id {j} appears twice", file=file, record=record, field=f"{here}.id")
        px = _number(getattr(point, "x", []), file=file, record=record, field=f"{here}.x")
        py = _number(getattr(point, "y", []), file=file, record=record, field=f"{here}.y")
        if px is None or py is None:
            raise DatasetError("point without a position", file=file, record=record, field=here)
        joints[j] = (px - 1.0, py - 1.0)
        annotated[j] = True
        visible[j] = _visibility(getattr(point, "is_visible", []), file=file, record=record,
                                 field=f"{here}.is_visible")

    corners = [_number(getattr(rect, name, []), file=file, record=record, field=f"{where}.{name}")
               for name in ("x1", "y1", "x2", "y2")]
    head_box = None if None in corners else np.array(corners).reshape(2, 2) - 1.0

    center, box_scale = person_box((x, y), scale)
    return PoseRecord(image="", joints=joints, visible=visible, annotated=annotated,
                      center=center, scale=box_scale, head_box=head_box)


def _read_release(path: Path):
    """Yield (image index, person index, is_train, record) for every annotated person; both indices 0-based."""

    release = read_mat(path).get("RELEASE")
    if not _is_struct(release) or not hasattr(release, "annolist") or not hasattr(release, "img_train"):
        raise DatasetError("expected a RELEASE struct with annolist and img_train", file=path, field="RELEASE")
    images = _structs(release.annolist)
    img_train = np.atleast_1d(np.asarray(release.img_train)).ravel()
    if len(img_train) != len(images):
        raise DatasetError(f"img_train has {len(img_train)} entries for {len(images)} images",
                           file=path, field="RELEASE.img_train")
    for i, image in enumerate(images):
        rects = getattr(image, "annorect", [])
        for p, rect in enumerate(_structs(rects)):
            if not _is_struct(rect):
                raise DatasetError(f"expected an annorect struct, got {rect!r}", file=path, record=i,
                                   field=f"annorect[{p}]")
            person = _mat_person(rect, file=path, record=i, where=f"annorect[{p}]")
            if person is None:
                continue
            name = getattr(getattr(image, "image", None), "name", None)
            person.image = _image_path(name, file=path, record=i, field="image.name")
            check_record(person, i, file=path, num_joints=MPII.num_joints)
            yield i, p, bool(img_train[i]), person


def load_mpii_mat(path: str | Path, split: str = "train", *,
                  val_people: set[tuple[int, int]] | None = None) -> list[PoseRecord]:
    """The people of the official `mpii_human_pose_v1_u12_1.mat` (`RELEASE`), in file order.

    Only people with annotated points, a scale and an objpos are returned (test images have none).
    Visibility comes from each point's `is_visible` (empty counts as visible); the head box from the
    annorect's x1, y1, x2, y2. Record indices in error messages are positions in RELEASE.annolist
    (0-based), fields name the annorect and point within it.

    The file itself only knows `img_train`; the validation set everyone reports on is Tompson's,
    which is a list of people. Hence:
    - split="all": every annotated person;
    - split="train" without val_people: every person of the img_train images (Tompson's validation
      people included: do not evaluate on them then);
    - split="train" / "val" with val_people, the set of (image, person) pairs from
      `load_tompson_val_people` (1-based, as RELEASE indexes them): Tompson's split. "val" is those
      people; "train" the img_train people of the images holding none of them.
    """
    _check_split(split, ("train", "val", "all"))
    path = Path(path)
    if split == "val" and val_people is None:
        raise ValueError("the official .mat has no validation split: pass val_people="
                         "load_tompson_val_people(<mpii_annotations.json or Tompson's detections.mat>)")
    people = list(_read_release(path))
    if split == "all":
        return [record for *_, record in people]
    if val_people is None:
        return [record for _, _, is_train, record in people if is_train]
    val_images = {i for i, _ in val_people}
    found = {(i + 1, p + 1) for i, p, _, _ in people}
    absent = sorted(val_people - found)
    if absent:
        raise DatasetError(f"{len(absent)} validation people are not annotated people of the .mat, "
                           f"e.g. (image, person) {absent[0]} (1-based)", file=path, field="RELEASE.annolist")
    if split == "val":
        return [record for i, p, _, record in people if (i + 1, p + 1) in val_people]
    return [record for i, p, is_train, record in people if is_train and (i + 1) not in val_images]


def _indices(value, *, file, field, record=None) -> np.ndarray:
    """RELEASE indices (1-based image or person numbers) as int64: whole numbers from 1 up; a boolean,
    text, NaN, an infinity (JSON's 1e400) or a fraction raises DatasetError naming file and field."""
    array = np.asarray(value) if not isinstance(value, (bool, list, dict)) else np.asarray(None)
    if array.dtype.kind not in "iuf":
        raise DatasetError(f"expected whole numbers from 1, got {value!r:.200}", file=file, record=record,
                           field=field)
    array = array.astype(np.float64)
    bad = ~(np.isfinite(array) & (array == np.round(array)) & (array >= 1) & (array < 2**53))
    if bad.any():
        raise DatasetError(f"expected whole numbers from 1, got {array[bad].ravel()[0]}", file=file,
                           record=record, field=field)
    return array.astype(np.int64)


def load_tompson_val_people(path: str | Path) -> set[tuple[int, int]]:
    """Tompson et al.'s validation people as (RELEASE image index, person index) pairs, 1-based.

    Reads either bearpaw's `mpii_annotations.json` (`annolist_index`, `people_index` of the entries
    with isValidation = 1) or Tompson's `detections.mat` (`RELEASE_img_index`, `RELEASE_person_index`).
    """
    path = Path(path)
    if path.suffix == ".json":
        entries = _bearpaw_entries(path)
        people = set()
        for n, entry in enumerate(entries):
            if _bearpaw_flag(entry, n, path):
                image, person = (_indices(entry.get(name), file=path, record=n, field=name)
                                 for name in ("annolist_index", "people_index"))
                people.add((int(image), int(person)))
        return people
    mat = read_mat(path, required=("RELEASE_img_index", "RELEASE_person_index"))
    images, persons = (np.atleast_1d(_indices(mat[name], file=path, field=name)).ravel()
                       for name in ("RELEASE_img_index", "RELEASE_person_index"))
    if images.shape != persons.shape:
        raise DatasetError("RELEASE_img_index and RELEASE_person_index differ in length", file=path,
                           field="RELEASE_person_index")
    return set(zip(images.tolist(), persons.tolist()))


# ---------------------------------------------------------------------------------------------
# mmpose's conversion: mpii_{train,val}.json, and mpii_gt_val.mat for the evaluation

@dataclass
class MPIIGroundTruth:
    """The validation ground truth of the PCKh evaluation (`mpii_gt_val.mat`, `detections_our_format.mat`).

    joints (N, 16, 2) 0-based; missing (N, 16) bool, True where the joint is not annotated;
    head_boxes (N, 2, 2) [[x1, y1], [x2, y2]] 0-based; predictions (N, 16, 2) 0-based where the
    file holds some (`pos_pred_src`, e.g. Tompson et al.'s), else None.
    """

    joints: np.ndarray
    missing: np.ndarray
    head_boxes: np.ndarray
    predictions: np.ndarray | None = None


def load_mpii_gt_val(path: str | Path) -> MPIIGroundTruth:
    """The ground truth arrays `pos_gt_src` (16×2×N), `jnt_missing` (16×N), `headboxes_src` (2×2×N), and
    `pos_pred_src` (16×2×N) when present, 1-based in the file, as an `MPIIGroundTruth` of 0-based arrays
    indexed by person first. A zero-size head box or a non-finite annotated joint raises DatasetError."""
    path = Path(path)
    mat = read_mat(path, squeeze=False)  # squeezing would drop the person axis of a one-person file

    def array(name: str, shape: tuple) -> np.ndarray:
        if name not in mat:
            raise DatasetError("field missing", file=path, field=name)
        value = mat_numbers(mat[name], file=path, field=name)
        if value.ndim != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
            wanted = "x".join("N" if s is None else str(s) for s in shape)
            raise DatasetError(f"expected shape {wanted}, got {'x'.join(map(str, value.shape))}",
                               file=path, field=name)
        return value

    joints = array("pos_gt_src", (MPII.num_joints, 2, None)).transpose(2, 0, 1) - 1.0  # (N, 16, 2)
    missing = array("jnt_missing", (MPII.num_joints, None)).T.astype(bool)  # (N, 16)
    head_boxes = array("headboxes_src", (2, 2, None)).transpose(2, 0, 1) - 1.0  # (N, 2, 2)
    predictions = None
    if "pos_pred_src" in mat:
        predictions = array("pos_pred_src", (MPII.num_joints, 2, None)).transpose(2, 0, 1) - 1.0
    n = len(joints)
    for name, value in (("jnt_missing", missing), ("headboxes_src", head_boxes), ("pos_pred_src", predictions)):
        if value is not None and len(value) != n:
            raise DatasetError(f"{len(value)} people but pos_gt_src has {n}", file=path, field=name)

    bad = ~np.isfinite(joints).all(axis=2) & ~missing
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DatasetError(f"non-finite annotated joint {j}", file=path, record=int(i), field="pos_gt_src")
    sizes = np.linalg.norm(head_boxes[:, 1] - head_boxes[:, 0], axis=1)
    bad = ~(np.isfinite(sizes) & (sizes > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DatasetError(f"zero-size or non-finite head box {head_boxes[i].tolist()}", file=path, record=i,
                           field="headboxes_src")
    return MPIIGroundTruth(joints=joints, missing=missing, head_boxes=head_boxes, predictions=predictions)


def _check_flags(values: np.ndarray, *, file, record, field) -> None:
    """Refuse a per-joint flag other than 0 or 1, naming the joint: field[j]."""
    bad = ~np.isin(values, (0, 1))
    if bad.any():
        j = int(np.argmax(bad))
        raise DatasetError(f"expected a flag of 0 or 1, got {values[j]}", file=file, record=record,
                           field=f"{field}[{j}]")


def _list_field(entry: dict, name: str, shape: tuple, *, file, record, flags: bool = False) -> np.ndarray:
    """entry[name] as a float64 array of the given shape. Numbers (JSON's true/false are refused, not
    read as 1/0), or with flags=True 0/1 flags (true/false allowed); else DatasetError naming the field."""
    if name not in entry:
        raise DatasetError("field missing", file=file, record=record, field=name)
    try:
        value = np.asarray(entry[name], dtype=np.float64)
        items = np.asarray(entry[name], dtype=object).ravel() if value.shape == shape else ()
    except CONVERSION_ERRORS:
        raise DatasetError(f"expected numbers, got {entry[name]!r:.200}", file=file, record=record,
                           field=name) from None
    if value.shape != shape:
        raise DatasetError(f"expected shape {shape}, got {value.shape}", file=file, record=record, field=name)
    if flags:
        _check_flags(value, file=file, record=record, field=name)
    elif any(isinstance(item, bool) for item in items):
        raise DatasetError(f"expected numbers, got a boolean in {entry[name]!r:.200}", file=file, record=record,
                           field=name)
    return value


def load_mpii_json(path: str | Path, gt_val_mat: str | Path | None = None) -> list[PoseRecord]:
    """mmpose's (and HRNet's) `mpii_train.json` / `mpii_val.json`: a list of
    {image, center, scale, joints (16×2), joints_vis (16)}, in the file's order.

    The JSON holds the .mat's values: joints and center are 1-based (mmpose's own loader subtracts 1;
    the joints equal `mpii_gt_val.mat`'s pos_gt_src to float precision), center is objpos and scale
    the raw MPII scale (the person box is applied here). Missing joints are [-1, -1] with
    joints_vis 0; joints_vis is 1 for every annotated joint, occluded or not, so this conversion has
    lost the visibility: `visible` equals `annotated`.

    Two optional fields per person, written by hglearn's SynthPose export: `is_visible` (16 flags,
    0 for occluded joints) and `head_box` (1-based [[x1, y1], [x2, y2]]).

    No head boxes otherwise, unless gt_val_mat (mmpose's `mpii_gt_val.mat`) is given with the validation JSON:
    its people are matched by order, the counts must agree, and each person's annotated joints must
    match the .mat's within a pixel (and the same joints be missing), else DatasetError.
    """

    path = Path(path)
    entries = read_json(path)
    if not isinstance(entries, list):
        raise DatasetError("expected a JSON list of people", file=path)
    records = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DatasetError(f"expected an object, got {type(entry).__name__}", file=path, record=n)
        joints = _list_field(entry, "joints", (MPII.num_joints, 2), file=path, record=n)
        flags = _list_field(entry, "joints_vis", (MPII.num_joints,), file=path, record=n, flags=True)
        center = _list_field(entry, "center", (2,), file=path, record=n)
        scale = _list_field(entry, "scale", (), file=path, record=n)
        annotated = flags > 0
        placeholder = annotated & (joints == -1).all(axis=1)
        if placeholder.any():
            raise DatasetError(f"joint {int(np.argmax(placeholder))} is marked annotated but holds the "
                               "missing-joint placeholder [-1, -1]", file=path, record=n, field="joints_vis")
        if center[0] == -1:
            raise DatasetError("no person position (center is [-1, -1])", file=path, record=n, field="center")
        if not (np.isfinite(scale) and scale > 0):
            raise DatasetError(f"scale must be positive, got {float(scale)}", file=path, record=n, field="scale")
        visible = annotated.copy()
        if "is_visible" in entry:  # hglearn's SynthPose export keeps the occlusion flags here
            visible &= _list_field(entry, "is_visible", (MPII.num_joints,), file=path, record=n, flags=True) > 0
        head_box = None
        if "head_box" in entry:  # also from the SynthPose export: 1-based [[x1, y1], [x2, y2]]
            head_box = _list_field(entry, "head_box", (2, 2), file=path, record=n) - 1.0
        box_center, box_scale = person_box(center, float(scale))
        record = PoseRecord(
            image=_image_path(entry.get("image"), file=path, record=n, field="image"),
            joints=np.where(annotated[:, None], joints - 1.0, 0.0), visible=visible,
            annotated=annotated, center=box_center, scale=box_scale, head_box=head_box)
        check_record(record, n, file=path, num_joints=MPII.num_joints)
        records.append(record)

    if gt_val_mat is not None:
        truth = load_mpii_gt_val(gt_val_mat)
        if len(truth.joints) != len(records):
            raise DatasetError(f"{len(truth.joints)} people in the ground truth but {len(records)} in {path.name}: "
                               "is it the validation JSON?", file=gt_val_mat, field="pos_gt_src")
        for n, record in enumerate(records):
            if not np.array_equal(record.annotated, ~truth.missing[n]):
                raise DatasetError(f"annotated joints differ from {path.name}'s (matched by order)",
                                   file=gt_val_mat, record=n, field="jnt_missing")
            gap = np.abs(record.joints - truth.joints[n])[record.annotated]
            if gap.size and gap.max() > 1.0:
                raise DatasetError(f"joints differ from {path.name}'s by {gap.max():.1f} px (matched by order)",
                                   file=gt_val_mat, record=n, field="pos_gt_src")
            record.head_box = truth.head_boxes[n].copy()
    return records


# ---------------------------------------------------------------------------------------------
# bearpaw's conversion (from the convolutional pose machines' genJSON.m): mpii_annotations.json

def _bearpaw_entries(path: Path) -> list:
    entries = read_json(path)
    if isinstance(entries, dict) and list(entries) == ["root"]:  # the CPM original wraps the list
        entries = entries["root"]
    if not isinstance(entries, list):
        raise DatasetError("expected a JSON list of people", file=path)
    return entries


def _bearpaw_flag(entry, n: int, path: Path) -> bool:
    if not isinstance(entry, dict) or "isValidation" not in entry:
        raise DatasetError("field missing", file=path, record=n, field="isValidation")
    flag = entry["isValidation"]
    if flag not in (0, 1):
        raise DatasetError(f"expected 0 or 1, got {flag!r}", file=path, record=n, field="isValidation")
    return flag == 1


def load_mpii_annotations_json(path: str | Path, split: str = "train") -> list[PoseRecord]:
    """bearpaw/pytorch-pose's `mpii_annotations.json`: a list of {img_paths, objpos, joint_self (16×3:
    x, y, visible), scale_provided, isValidation, ...}, 1-based, in the file's order.

    split "train" or "val" selects by isValidation, which is Tompson's split; "all" keeps both.
    Missing joints are (0, 0, 0); an annotated but occluded joint has visibility 0.
    This conversion has no head boxes: head_box is None, and PCKh needs the validation ground truth
    of the official .mat or `mpii_gt_val.mat` (`load_mpii_gt_val`).
    """

    _check_split(split, ("train", "val", "all"))
    path = Path(path)
    records = []
    for n, entry in enumerate(_bearpaw_entries(path)):
        is_val = _bearpaw_flag(entry, n, path)
        if split != "all" and is_val != (split == "val"):
            continue
        points = _list_field(entry, "joint_self", (MPII.num_joints, 3), file=path, record=n)
        objpos = _list_field(entry, "objpos", (2,), file=path, record=n)
        scale = _list_field(entry, "scale_provided", (), file=path, record=n)
        annotated = ~((points[:, 0] == 0) & (points[:, 1] == 0))
        _check_flags(points[:, 2], file=path, record=n, field="joint_self")
        flagged = points[:, 2] == 1
        if (flagged & ~annotated).any():
            raise DatasetError(f"joint {int(np.argmax(flagged & ~annotated))} is visible at the missing-joint "
                               "position (0, 0)", file=path, record=n, field="joint_self")
        if not (np.isfinite(scale) and scale > 0):
            raise DatasetError(f"scale must be positive, got {float(scale)}", file=path, record=n,
                               field="scale_provided")
        center, box_scale = person_box(objpos, float(scale))
        record = PoseRecord(
            image=_image_path(entry.get("img_paths"), file=path, record=n, field="img_paths"),
            joints=np.where(annotated[:, None], points[:, :2] - 1.0, 0.0), visible=flagged & annotated,
            annotated=annotated, center=center, scale=box_scale)
        check_record(record, n, file=path, num_joints=MPII.num_joints)
        records.append(record)
    return records
