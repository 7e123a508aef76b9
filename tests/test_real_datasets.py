"""Loaders of the real datasets, on small files written in each dataset's own format.

The MATLAB fixtures are written with scipy.io.savemat from numpy record arrays, so that loadmat
returns the same nesting as the real files (struct arrays, a lone struct where squeeze_me removes
a 1x1 array, [] for an empty field). Two real files from ../shared/testdata are read when present.
"""
import argparse
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from hglearn.data.catalog import DATASETS
from hglearn.cli import add_data_commands
from hglearn.data.download import download, download_dataset, unpack
from hglearn.data.flic import load_flic
from hglearn.data.lsp import load_lsp
from hglearn.data.mpii import (TOMPSON_VAL_PEOPLE, load_mpii_annotations_json, load_mpii_gt_val, load_mpii_json,
                               load_mpii_mat, load_tompson_val_people)
from hglearn.data.prepare import prepare
from hglearn.data.records import DatasetError, PoseRecord, check_record, load_prepared, read_mat, save_prepared
from hglearn.errors import ConfigError, DownloadError, UnreachableError
from hglearn.joints import FLIC_COORD_ROWS

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
EMPTY = np.zeros((0, 0))  # MATLAB's [] in a struct field


def struct_array(items: list[dict]) -> np.ndarray:
    """A 1xN MATLAB struct array; fields an item lacks are [] (a struct array shares its fields)."""
    fields = list(dict.fromkeys(key for item in items for key in item))
    array = np.zeros((1, len(items)), dtype=[(name, object) for name in fields])
    for i, item in enumerate(items):
        for name in fields:
            array[0, i][name] = item.get(name, EMPTY)
    return array


# ---------------------------------------------------------------------------------------------
# MPII, official .mat

def point(joint, x, y, is_visible=1):
    return {"id": joint, "x": float(x), "y": float(y), "is_visible": is_visible}


def person(points, *, head=(1.0, 2.0, 31.0, 42.0), scale=2.0, objpos=(50.0, 60.0)):
    return {"x1": head[0], "y1": head[1], "x2": head[2], "y2": head[3],
            "annopoints": {"point": struct_array(points)}, "scale": scale,
            "objpos": {"x": objpos[0], "y": objpos[1]}}


def write_release(path: Path, images: list[tuple[str, list[dict] | None, int]]) -> Path:
    """RELEASE with annolist(i).image.name, annolist(i).annorect and img_train, like the official file."""
    annolist = struct_array([{"image": {"name": name}, "annorect": EMPTY if rects is None else struct_array(rects)}
                             for name, rects, _ in images])
    img_train = np.array([[train for *_, train in images]], dtype=np.uint8)
    scipy.io.savemat(path, {"RELEASE": {"annolist": annolist, "img_train": img_train}})
    return path


def standard_release(path: Path) -> Path:
    return write_release(path, [
        # One person (annorect squeezes to a struct); is_visible as int, string and [].
        ("a.jpg", [person([point(0, 10, 20, 1), point(3, 5, 6, "0"), point(9, 7, 8, EMPTY)])], 1),
        # A test image: scale and objpos only.
        ("b.jpg", [{"scale": 1.0, "objpos": {"x": 5.0, "y": 5.0}}], 0),
        # A single point (point squeezes to a struct), and a person without annotations.
        ("c.jpg", [person([point(15, 100, 200)]), {"scale": 1.5, "objpos": {"x": 1.0, "y": 2.0}}], 1),
        ("d.jpg", None, 1),  # no people at all
        ("e.jpg", [person([point(1, 3, 4)], objpos=(10.0, 10.0)), person([point(2, 5, 6)])], 1),
    ])


def test_mat_structure_squeezes_like_the_official_file(tmp_path):
    # The fixture must exercise what the loader has to handle in the real file.
    release = scipy.io.loadmat(standard_release(tmp_path / "r.mat"), struct_as_record=False, squeeze_me=True)["RELEASE"]
    assert hasattr(release.annolist[0].annorect, "_fieldnames")  # one person: a struct, not an array
    assert hasattr(release.annolist[2].annorect[0].annopoints.point, "_fieldnames")  # one point
    assert np.size(release.annolist[3].annorect) == 0
    assert np.size(release.annolist[2].annorect[1].annopoints) == 0
    assert isinstance(release.annolist[0].annorect.annopoints.point[1].is_visible, str)


def test_mat_loads_joints_visibility_head_box_and_person_box(tmp_path):
    records = load_mpii_mat(standard_release(tmp_path / "r.mat"), "all")
    assert [r.image for r in records] == ["images/a.jpg", "images/c.jpg", "images/e.jpg", "images/e.jpg"]
    a = records[0]
    np.testing.assert_allclose(a.joints[[0, 3, 9]], [[9, 19], [4, 5], [6, 7]])  # 1-based -> 0-based
    assert a.annotated.tolist() == [j in (0, 3, 9) for j in range(16)]
    assert a.visible[[0, 3, 9]].tolist() == [True, False, True]  # 1, '0', [] (unknown: visible)
    np.testing.assert_allclose(a.head_box, [[0, 1], [30, 41]])
    assert 0.6 * np.linalg.norm(a.head_box[1] - a.head_box[0]) == pytest.approx(30.0)
    np.testing.assert_allclose(a.center, [49, 59 + 15 * 2])  # objpos - 1 + (0, 15 scale)
    assert a.scale == pytest.approx(2.5)
    np.testing.assert_allclose(records[1].joints[15], [99, 199])


def test_mat_splits(tmp_path):
    path = standard_release(tmp_path / "r.mat")
    assert len(load_mpii_mat(path, "train")) == 4  # every img_train person, Tompson's val included
    val_people = {(5, 2)}  # 1-based (image, person), as RELEASE indexes them
    train = load_mpii_mat(path, "train", val_people=val_people)
    val = load_mpii_mat(path, "val", val_people=val_people)
    assert [r.image for r in train] == ["images/a.jpg", "images/c.jpg"]  # e.jpg holds a val person
    assert len(val) == 1 and val[0].annotated[2] and not val[0].annotated[1]
    with pytest.raises(ValueError, match="no validation split"):
        load_mpii_mat(path, "val")
    with pytest.raises(DatasetError, match=r"\(2, 1\)"):
        load_mpii_mat(path, "val", val_people={(2, 1)})  # the test image's person has no annotations


@pytest.mark.parametrize("bad, field", [
    ({"points": [point(16, 1, 1)]}, "annorect[0].annopoints.point[0].id"),
    ({"points": [point(0, 1, 1), point(0, 2, 2)]}, "annorect[0].annopoints.point[1].id"),
    ({"points": [point(0, np.nan, 1)]}, "annorect[0].annopoints.point[0].x"),
    ({"points": [point(0, 1, 1, "yes")]}, "annorect[0].annopoints.point[0].is_visible"),
    ({"points": [point(0, 1, 1)], "head": (5.0, 5.0, 5.0, 5.0)}, "head_box"),
    ({"points": [point(0, 1, 1)], "scale": -1.0}, "annorect[0].scale"),
])
def test_mat_bad_person_names_file_record_and_field(tmp_path, bad, field):
    points = bad.pop("points")
    path = write_release(tmp_path / "r.mat", [("a.jpg", None, 1), ("b.jpg", [person(points, **bad)], 1)])
    with pytest.raises(DatasetError) as error:
        load_mpii_mat(path, "all")
    assert (error.value.file, error.value.record, error.value.field) == (path, 1, field)
    assert str(path) in str(error.value) and "record 1" in str(error.value)


def test_corrupt_mat_names_the_file(tmp_path):
    path = tmp_path / "broken.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    with pytest.raises(DatasetError, match="broken.mat"):
        load_mpii_mat(path, "all")
    with pytest.raises(FileNotFoundError):
        load_mpii_mat(tmp_path / "absent.mat", "all")


def test_every_loader_reads_mat_files_the_same_way(tmp_path):
    # records.read_mat serves MPII, LSP and FLIC: the same errors, naming the file and the variable.
    scipy.io.savemat(tmp_path / "joints.mat", {"other": np.zeros((3, 14, 1))})
    with pytest.raises(DatasetError) as error:
        load_lsp(tmp_path, "all")
    assert (error.value.file, error.value.field) == (tmp_path / "joints.mat", "joints")
    assert read_mat(tmp_path / "joints.mat", squeeze=False)["other"].shape == (3, 14, 1)  # one image kept
    scipy.io.savemat(tmp_path / "examples.mat", {"other": np.zeros(1)})
    with pytest.raises(DatasetError, match="no variable named 'examples'"):
        load_flic(tmp_path, "all")
    (tmp_path / "examples.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    with pytest.raises(DatasetError, match="cannot read the .mat file"):
        load_flic(tmp_path, "all")
    with pytest.raises(FileNotFoundError, match="annotation file not found"):
        load_lsp(tmp_path / "absent", "all")


def test_tompson_val_people_from_detections_mat(tmp_path):
    path = tmp_path / "detections.mat"
    scipy.io.savemat(path, {"RELEASE_img_index": np.array([[5, 7, 7]]), "RELEASE_person_index": np.array([[2, 1, 3]])})
    assert load_tompson_val_people(path) == {(5, 2), (7, 1), (7, 3)}


# ---------------------------------------------------------------------------------------------
# MPII, mmpose's JSON and mpii_gt_val.mat

def mmpose_entry(image="x.jpg", *, shift=0.0, missing=(0, 5), joints=16):
    points = [[100.0 + 10 * j + shift, 200.0 + 5 * j] for j in range(joints)]
    vis = [0 if j in missing else 1 for j in range(joints)]
    for j in missing:
        points[j] = [-1.0, -1.0]
    return {"image": image, "center": [150.0, 250.0], "scale": 2.0, "joints": points, "joints_vis": vis}


def write_gt_val(path: Path, entries: list[dict], *, boxes=None) -> Path:
    joints = np.array([e["joints"] for e in entries], dtype=float)  # (N, 16, 2), 1-based as in the JSON
    missing = np.array([[v == 0 for v in e["joints_vis"]] for e in entries])
    joints[missing] = 0.0  # the .mat holds 0 for missing joints
    if boxes is None:
        boxes = np.tile([[11.0, 21.0], [41.0, 61.0]], (len(entries), 1, 1))
    scipy.io.savemat(path, {"pos_gt_src": joints.transpose(1, 2, 0), "jnt_missing": missing.T.astype(np.uint8),
                            "headboxes_src": np.asarray(boxes).transpose(1, 2, 0)})
    return path


def test_mmpose_json_is_one_based_and_gets_head_boxes_from_the_mat(tmp_path):
    entries = [mmpose_entry("a.jpg"), mmpose_entry("b.jpg", missing=())]
    path = tmp_path / "mpii_val.json"
    path.write_text(json.dumps(entries))
    records = load_mpii_json(path, gt_val_mat=write_gt_val(tmp_path / "gt.mat", entries))
    a = records[0]
    np.testing.assert_allclose(a.joints[1], [109, 204])
    assert a.annotated.tolist() == [j not in (0, 5) for j in range(16)]
    assert (a.visible == a.annotated).all()  # this conversion lost the occlusion flags
    np.testing.assert_allclose(a.center, [149, 249 + 30])
    assert a.scale == pytest.approx(2.5)
    np.testing.assert_allclose(a.head_box, [[10, 20], [40, 60]])
    assert records[1].annotated.all()
    assert load_mpii_json(path)[0].head_box is None


def test_mmpose_json_disagreeing_with_the_mat_raises(tmp_path):
    entries = [mmpose_entry("a.jpg"), mmpose_entry("b.jpg")]
    path = tmp_path / "mpii_val.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(DatasetError, match="1 people in the ground truth but 2"):
        load_mpii_json(path, gt_val_mat=write_gt_val(tmp_path / "one.mat", entries[:1]))
    moved = write_gt_val(tmp_path / "moved.mat", [entries[0], mmpose_entry("b.jpg", shift=3.0)])
    with pytest.raises(DatasetError) as error:
        load_mpii_json(path, gt_val_mat=moved)
    assert (error.value.record, error.value.field) == (1, "pos_gt_src")
    other_missing = write_gt_val(tmp_path / "missing.mat", [entries[0], mmpose_entry("b.jpg", missing=(0,))])
    with pytest.raises(DatasetError, match="annotated joints differ"):
        load_mpii_json(path, gt_val_mat=other_missing)
    zero_box = write_gt_val(tmp_path / "box.mat", entries, boxes=[[[1, 1], [9, 9]], [[3, 3], [3, 3]]])
    with pytest.raises(DatasetError) as error:
        load_mpii_json(path, gt_val_mat=zero_box)
    assert (error.value.record, error.value.field) == (1, "headboxes_src")


@pytest.mark.parametrize("change, field", [
    (lambda e: e.update(joints=e["joints"][:15]), "joints"),
    (lambda e: e["joints"].__setitem__(3, [None, 5.0]), "joints[3]"),
    (lambda e: e.update(scale=0.0), "scale"),
    (lambda e: e.update(center=[-1.0, -1.0]), "center"),
    (lambda e: e["joints_vis"].__setitem__(0, 1), "joints_vis"),  # annotated but at [-1, -1]
    (lambda e: e.update(image="../../etc/passwd"), "image"),
])
def test_mmpose_bad_record_names_file_record_and_field(tmp_path, change, field):
    entries = [mmpose_entry("a.jpg"), mmpose_entry("b.jpg")]
    change(entries[1])
    path = tmp_path / "mpii_train.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(DatasetError) as error:
        load_mpii_json(path)
    assert (error.value.file, error.value.record, error.value.field) == (path, 1, field)


def test_unreadable_json_names_the_file(tmp_path):
    path = tmp_path / "mpii_train.json"
    path.write_text('[{"image": "a.jpg",')
    with pytest.raises(DatasetError, match="mpii_train.json"):
        load_mpii_json(path)


@pytest.mark.skipif(not TESTDATA.is_dir(), reason="real MPII and LSP files are kept outside the repository, in ../shared/testdata, which this machine lacks; the test runs where that folder exists")
def test_real_tompson_ground_truth():
    path = TESTDATA / "mpii_val_tompson" / "detections_our_format.mat"
    truth = load_mpii_gt_val(path)
    raw = scipy.io.loadmat(path)
    assert truth.joints.shape == (TOMPSON_VAL_PEOPLE, 16, 2) == truth.predictions.shape
    assert truth.missing.shape == (TOMPSON_VAL_PEOPLE, 16) and truth.head_boxes.shape == (TOMPSON_VAL_PEOPLE, 2, 2)
    np.testing.assert_allclose(truth.joints[7, 3], raw["pos_gt_src"][3, :, 7] - 1)
    np.testing.assert_allclose(truth.head_boxes[7], raw["headboxes_src"][:, :, 7] - 1)
    assert truth.missing.sum() == raw["jnt_missing"].sum() > 0
    assert (truth.head_boxes[:, 1] > truth.head_boxes[:, 0]).all()  # [[x1, y1], [x2, y2]]


@pytest.mark.skipif(not TESTDATA.is_dir(), reason="real MPII and LSP files are kept outside the repository, in ../shared/testdata, which this machine lacks; the test runs where that folder exists")
def test_real_mmpose_json_matches_the_real_ground_truth(tmp_path):
    # mmpose's test file holds the first five validation people: its joints equal pos_gt_src, so the
    # JSON is 1-based like the .mat. A .mat of those five people checks the matching end to end.
    raw = scipy.io.loadmat(TESTDATA / "mpii_val_tompson" / "detections_our_format.mat")
    first = tmp_path / "gt5.mat"
    scipy.io.savemat(first, {name: raw[name][..., :5] for name in ("pos_gt_src", "jnt_missing", "headboxes_src")})
    records = load_mpii_json(TESTDATA / "mpii_samples" / "test_mpii.json", gt_val_mat=first)
    assert [r.image for r in records][:2] == ["images/005808361.jpg", "images/052475643.jpg"]
    np.testing.assert_allclose(records[0].joints[0], [803, 710])  # 804, 711 in both files
    assert records[2].annotated.sum() == 14 and not records[2].annotated[[0, 5]].any()
    np.testing.assert_allclose(records[0].head_box, raw["headboxes_src"][:, :, 0] - 1)
    with pytest.raises(DatasetError, match="2958 people in the ground truth but 5"):
        load_mpii_json(TESTDATA / "mpii_samples" / "test_mpii.json",
                       gt_val_mat=TESTDATA / "mpii_val_tompson" / "detections_our_format.mat")


# ---------------------------------------------------------------------------------------------
# MPII, bearpaw's mpii_annotations.json

def bearpaw_entry(image, is_validation, annolist_index, people_index):
    joints = [[20.0 + j, 40.0 + 2 * j, 1.0] for j in range(16)]
    joints[4] = [0.0, 0.0, 0.0]  # missing
    joints[7][2] = 0.0  # annotated, occluded
    return {"dataset": "MPI", "isValidation": is_validation, "img_paths": image, "objpos": [60.0, 80.0],
            "joint_self": joints, "scale_provided": 3.0, "annolist_index": annolist_index,
            "people_index": people_index, "numOtherPeople": 0}


def test_bearpaw_json_split_visibility_and_no_head_box(tmp_path):
    path = tmp_path / "mpii_annotations.json"
    path.write_text(json.dumps([bearpaw_entry("a.jpg", 0, 4, 1), bearpaw_entry("b.jpg", 1, 9, 2),
                                bearpaw_entry("c.jpg", 1.0, 12, 1)]))
    train, val = load_mpii_annotations_json(path, "train"), load_mpii_annotations_json(path, "val")
    assert [r.image for r in train] == ["images/a.jpg"] and [r.image for r in val] == ["images/b.jpg", "images/c.jpg"]
    r = train[0]
    np.testing.assert_allclose(r.joints[2], [21, 43])
    assert not r.annotated[4] and r.annotated[7] and not r.visible[7] and r.visible[2]
    assert r.head_box is None
    np.testing.assert_allclose(r.center, [59, 79 + 45])
    assert load_tompson_val_people(path) == {(9, 2), (12, 1)}


def test_bearpaw_bad_flag_names_the_record(tmp_path):
    path = tmp_path / "mpii_annotations.json"
    path.write_text(json.dumps([bearpaw_entry("a.jpg", 0, 1, 1), bearpaw_entry("b.jpg", 2, 2, 1)]))
    with pytest.raises(DatasetError) as error:
        load_mpii_annotations_json(path, "train")
    assert (error.value.record, error.value.field) == (1, "isValidation")


# ---------------------------------------------------------------------------------------------
# LSP and LSP-extended

def lsp_joints(count: int) -> np.ndarray:
    """(count, 14, 3): x, y and flag, distinct per image and joint, 1-based."""
    n, j = np.meshgrid(np.arange(count), np.arange(14), indexing="ij")
    return np.stack([10.0 + 3 * j + n % 7, 20.0 + 5 * j, (j == 4) * 1.0], axis=2)


def write_lsp(root: Path, points: np.ndarray, *, extended: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    matrix = points.transpose(1, 2, 0) if extended else points.transpose(2, 1, 0)  # 14x3xN or 3x14xN
    scipy.io.savemat(root / "joints.mat", {"joints": matrix})
    return root / "joints.mat"


def test_lsp_layout_flags_split_and_box(tmp_path):
    points = lsp_joints(2000)
    write_lsp(tmp_path, points, extended=False)
    train, test = load_lsp(tmp_path, "train"), load_lsp(tmp_path, "test")
    assert len(train) == len(test) == 1000
    assert (train[0].image, test[0].image, test[-1].image) == ("images/im0001.jpg", "images/im1001.jpg",
                                                               "images/im2000.jpg")
    np.testing.assert_allclose(test[0].joints, points[1000, :, :2] - 1)
    assert train[0].annotated.all()
    assert train[0].visible.tolist() == [j != 4 for j in range(14)]  # LSP's flag 1 means occluded
    # Box of the joints: x 9..48, y 19..84 (0-based): centre (28.5, 51.5), side 65 x 1.25 / 200.
    np.testing.assert_allclose(train[0].center, [28.5, 51.5])
    assert train[0].scale == pytest.approx(65 * 1.25 / 200)
    assert train[0].head_box is None
    with pytest.raises(ValueError, match="split"):
        load_lsp(tmp_path, "val")


def test_lsp_extended_layout_and_flags(tmp_path):
    points = lsp_joints(3)
    points[:, :, 2] = 1 - points[:, :, 2]  # LSP-extended's flag 1 means visible: joint 4 is not
    write_lsp(tmp_path, points, extended=True)
    records = load_lsp(tmp_path, "train", extended=True)
    assert [r.image for r in records] == ["images/im00001.jpg", "images/im00002.jpg", "images/im00003.jpg"]
    np.testing.assert_allclose(records[2].joints[5], points[2, 5, :2] - 1)
    np.testing.assert_allclose(records[2].joints[4], [0, 0])  # not visible: its position is not kept
    assert records[0].visible.tolist() == records[0].annotated.tolist() == [j != 4 for j in range(14)]
    with pytest.raises(DatasetError, match="LSP-extended layout, pass extended=True"):
        load_lsp(tmp_path, "train")
    with pytest.raises(ValueError, match="training set only"):
        load_lsp(tmp_path, "test", extended=True)


def test_lsp_extended_person_without_joints_is_left_out_with_a_warning(tmp_path):
    points = lsp_joints(3)
    points[:, :, 2] = 1
    points[1, 1:, 2] = 0  # one visible joint: no box
    write_lsp(tmp_path, points, extended=True)
    with pytest.warns(UserWarning, match=r"1 records left out.*\[1\]"):
        records = load_lsp(tmp_path, "all", extended=True)
    assert [r.image for r in records] == ["images/im00001.jpg", "images/im00003.jpg"]


def test_lsp_non_finite_joint_names_record_and_field(tmp_path):
    points = lsp_joints(5)
    points[3, 6, 0] = np.inf
    path = write_lsp(tmp_path, points, extended=False)
    with pytest.raises(DatasetError) as error:
        load_lsp(tmp_path, "all")
    assert (error.value.file, error.value.record, error.value.field) == (path, 3, "joints[6]")


# ---------------------------------------------------------------------------------------------
# FLIC

def flic_example(name, *, train, shift=0.0):
    coords = np.full((2, 29), np.nan)
    for k, row in enumerate(FLIC_COORD_ROWS):
        coords[:, row] = (100.0 + 10 * k + shift, 50.0 + 7 * k)
    return {"poselet_hit_idx": np.array([[1, 2]]), "moviename": "movie", "coords": coords, "filepath": name,
            "imgdims": np.array([[480, 720, 3]]), "currframe": 10.0, "torsobox": np.array([[1.0, 2.0, 3.0, 4.0]]),
            "istrain": float(train), "istest": float(not train), "isbad": 0.0, "isunchecked": 0.0}


def write_flic(root: Path, examples: list[dict]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "examples.mat", {"examples": struct_array(examples)})
    return root / "examples.mat"


def test_flic_selects_the_eleven_joints_and_splits(tmp_path):
    write_flic(tmp_path, [flic_example("a.jpg", train=True), flic_example("b.jpg", train=False, shift=1.0),
                          flic_example("c.jpg", train=True)])
    train, test = load_flic(tmp_path, "train"), load_flic(tmp_path, "test")
    assert [r.image for r in train] == ["images/a.jpg", "images/c.jpg"] and [r.image for r in test] == ["images/b.jpg"]
    np.testing.assert_allclose(test[0].joints[[0, 7, 10]], [[100, 49], [170, 98], [200, 119]])  # 1-based -> 0-based
    assert test[0].annotated.all() and test[0].visible.all() and test[0].head_box is None


def test_flic_single_example_and_bad_coords(tmp_path):
    write_flic(tmp_path, [flic_example("a.jpg", train=True)])  # one example squeezes to a struct
    assert len(load_flic(tmp_path, "all")) == 1
    bad = flic_example("b.jpg", train=True)
    bad["coords"] = bad["coords"][:, :20]
    path = write_flic(tmp_path, [flic_example("a.jpg", train=True), bad])
    with pytest.raises(DatasetError) as error:
        load_flic(tmp_path, "train")
    assert (error.value.file, error.value.record, error.value.field) == (path, 1, "coords")


# ---------------------------------------------------------------------------------------------
# The prepared format

def make_record(**change):
    fields = dict(image="images/a.jpg", joints=np.arange(32.0).reshape(16, 2), visible=np.ones(16, bool),
                  annotated=np.ones(16, bool), center=np.array([5.0, 6.0]), scale=1.5,
                  head_box=np.array([[1.0, 2.0], [3.0, 5.0]]))
    fields.update(change)
    return PoseRecord(**fields)


def test_prepare_and_load_prepared_round_trip(tmp_path):
    write_lsp(tmp_path / "lsp" / "lsp_dataset", lsp_joints(1200), extended=False)  # one folder deeper
    paths = prepare("lsp", tmp_path / "lsp")
    assert sorted(paths) == ["test", "train"] and paths["train"] == tmp_path / "lsp" / "annotations" / "train.json"
    direct = load_lsp(tmp_path / "lsp" / "lsp_dataset", "test")
    prepared = load_prepared(paths["test"])
    assert len(prepared) == len(direct) == 200
    assert prepared[0].image == "lsp_dataset/images/im1001.jpg"  # relative to the dataset root
    for a, b in zip(prepared, direct):
        np.testing.assert_array_equal(a.joints, b.joints)
        np.testing.assert_array_equal(a.visible, b.visible)
        np.testing.assert_array_equal(a.center, b.center)
        assert a.scale == b.scale and a.head_box is None
    assert not list((tmp_path / "lsp" / "annotations").glob("*.tmp"))


def test_prepare_mpii_from_mmpose_files_warns_on_counts(tmp_path):
    entries = [mmpose_entry("a.jpg"), mmpose_entry("b.jpg", missing=())]
    folder = tmp_path / "mpii" / "mmpose"
    folder.mkdir(parents=True)
    (folder / "mpii_train.json").write_text(json.dumps(entries))
    (folder / "mpii_val.json").write_text(json.dumps(entries[:1]))
    write_gt_val(folder / "mpii_gt_val.mat", entries[:1])
    with pytest.warns(UserWarning) as warned:
        paths = prepare("mpii", tmp_path / "mpii")
    assert [str(w.message).split(":")[0] for w in warned] == ["MPII train", "MPII val"]
    assert "Tompson's split has 2,958 in 2,729" in str(warned[1].message)
    val = load_prepared(paths["val"])
    np.testing.assert_allclose(val[0].head_box, [[10, 20], [40, 60]])
    assert load_prepared(paths["train"])[1].annotated.all()
    with pytest.raises(ValueError, match="--tompson"):
        prepare("mpii", tmp_path / "mpii", source="mat")


def test_prepare_mpii_from_the_official_mat_with_tompson_list(tmp_path):
    standard_release(tmp_path / "mpii_human_pose_v1_u12_1.mat")
    tompson = tmp_path / "mpii_annotations.json"
    tompson.write_text(json.dumps([bearpaw_entry("e.jpg", 1, 5, 2), bearpaw_entry("a.jpg", 0, 1, 1)]))
    with pytest.warns(UserWarning):
        paths = prepare("mpii", tmp_path, source="mat", tompson=tompson)
    train, val = load_prepared(paths["train"]), load_prepared(paths["val"])
    assert [r.image for r in train] == ["images/a.jpg", "images/c.jpg"] and [r.image for r in val] == ["images/e.jpg"]
    assert val[0].head_box is not None and not train[0].visible[3] and train[0].annotated[3]


@pytest.mark.parametrize("edit, field", [
    (lambda r: r.update(joints=r["joints"][:15]), "joints"),
    (lambda r: r["joints"][2].__setitem__(0, float("nan")), "joints[2]"),
    (lambda r: r.update(head_box=[[4.0, 4.0], [4.0, 4.0]]), "head_box"),
    (lambda r: r.update(image="../outside.jpg"), "image"),
    (lambda r: r.update(image="/etc/passwd"), "image"),
    (lambda r: r.update(scale=0), "scale"),
    (lambda r: r.update(center=[1.0, float("inf")]), "center"),
    (lambda r: r.pop("visible"), "visible"),
    (lambda r: r["visible"].__setitem__(0, "yes"), "visible"),
])
def test_load_prepared_rejects_bad_records(tmp_path, edit, field):
    path = save_prepared([make_record(), make_record()], tmp_path / "train.json")
    records = json.loads(path.read_text())
    edit(records[1])
    path.write_text(json.dumps(records))  # json writes NaN and Infinity, as a hand-edited file might hold
    with pytest.raises(DatasetError) as error:
        load_prepared(path)
    assert (error.value.file, error.value.record, error.value.field) == (path, 1, field)
    assert f"file {path}, record 1, field {field!r}" in str(error.value)


def test_load_prepared_unknown_joint_count_and_corrupt_file(tmp_path):
    path = save_prepared([make_record(joints=np.zeros((15, 2)), visible=np.ones(15, bool),
                                      annotated=np.ones(15, bool))], tmp_path / "odd.json")
    with pytest.raises(DatasetError, match="15 joints matches no joint set"):
        load_prepared(path)
    assert len(load_prepared(path, num_joints=15)) == 1
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(DatasetError, match="broken.json"):
        load_prepared(broken)


def test_save_prepared_writes_nothing_for_a_bad_record(tmp_path):
    with pytest.raises(DatasetError) as error:
        save_prepared([make_record(), make_record(visible=np.ones(16, bool), annotated=np.zeros(16, bool))],
                      tmp_path / "train.json")
    assert (error.value.record, error.value.field) == (1, "visible")
    assert list(tmp_path.iterdir()) == []


def test_check_record_accepts_missing_joints_with_any_value():
    check_record(make_record(joints=np.full((16, 2), np.nan), visible=np.zeros(16, bool),
                             annotated=np.zeros(16, bool)), 0, file=None, num_joints=16)


# ---------------------------------------------------------------------------------------------
# Downloads, against a local server that honours Range

class RangeServer:
    """Serves one payload on 127.0.0.1; honours Range unless told not to; can cut the first answer short."""

    def __init__(self, payload: bytes, *, honour_range=True, cut_after=None, content_type="application/zip"):
        self.payload, self.honour_range, self.cut_after = payload, honour_range, cut_after
        self.content_type = content_type
        self.ranges = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                wanted = self.headers.get("Range")
                server.ranges.append(wanted)
                start = int(wanted[6:-1]) if wanted and server.honour_range else 0
                body = server.payload[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", server.content_type)
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}")
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[:server.cut_after], None  # then drop the connection
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/file.zip"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


PAYLOAD = bytes(range(256)) * 5000  # 1.28 MB: more than one read chunk


def sha256(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


def test_interrupted_download_resumes_with_range(tmp_path, capsys):
    dest = tmp_path / "file.zip"
    with RangeServer(PAYLOAD, cut_after=300_000) as server:
        with pytest.raises(DownloadError, match="run the command again to resume") as cut:
            download(server.url, dest, sha256(PAYLOAD), progress=False, timeout=5)
        assert not isinstance(cut.value, UnreachableError)  # the address works: running again resumes
        part = tmp_path / "file.zip.part"
        assert not dest.exists() and 0 < part.stat().st_size < len(PAYLOAD)
        download(server.url, dest, sha256(PAYLOAD), progress=False, timeout=5)
    assert server.ranges == [None, f"bytes={part_size(server)}-"]
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert sha256(PAYLOAD) in capsys.readouterr().out


def part_size(server: RangeServer) -> int:
    return int(server.ranges[1][6:-1])


def test_server_ignoring_range_restarts_from_scratch(tmp_path):
    dest = tmp_path / "file.zip"
    (tmp_path / "file.zip.part").write_bytes(b"stale bytes")
    with RangeServer(PAYLOAD, honour_range=False) as server:
        download(server.url, dest, progress=False, timeout=5)
    assert server.ranges == ["bytes=11-"] and dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_raises_and_leaves_no_file(tmp_path):
    dest = tmp_path / "file.zip"
    with RangeServer(PAYLOAD) as server:
        with pytest.raises(DownloadError, match="SHA-256 mismatch"):
            download(server.url, dest, "0" * 64, progress=False, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_web_page_instead_of_the_file_is_refused(tmp_path):
    with RangeServer(b"<html>please log in</html>", content_type="text/html") as server:
        with pytest.raises(DownloadError, match="web page"):
            download(server.url, tmp_path / "file.zip", progress=False, timeout=5)
    assert not (tmp_path / "file.zip").exists()


def test_download_dataset_fetches_unpacks_once_and_prepares(tmp_path, monkeypatch):
    import dataclasses
    import io
    import zipfile

    from hglearn.data.catalog import Resource

    source = tmp_path / "source"
    write_lsp(source, lsp_joints(1001), extended=False)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:  # lsp_dataset.zip's layout: joints.mat and images/ at the top
        z.write(source / "joints.mat", "joints.mat")
        z.writestr("images/im0001.jpg", b"jpeg")
    root = tmp_path / "lsp"
    with RangeServer(archive.getvalue()) as server:
        resource = Resource(server.url, "lsp_dataset.zip", sha256(archive.getvalue()), stated_size=None)
        monkeypatch.setitem(DATASETS, "lsp", dataclasses.replace(DATASETS["lsp"], resources=(resource,)))
        assert download_dataset("lsp", root, progress=False) == [root / "downloads" / "lsp_dataset.zip"]
        (root / "images" / "im0001.jpg").write_bytes(b"changed")
        download_dataset("lsp", root, progress=False)  # complete and unpacked: nothing to do
    assert len(server.ranges) == 1 and (root / "images" / "im0001.jpg").read_bytes() == b"changed"
    assert [len(load_prepared(path)) for path in prepare("lsp", root).values()] == [1000, 1]


def test_unreachable_address_is_a_clear_error(tmp_path):
    with RangeServer(PAYLOAD) as server:
        url = server.url
    with pytest.raises(UnreachableError, match="cannot connect"):
        download(url, tmp_path / "file.zip", progress=False, timeout=5)


def test_unpack_refuses_members_outside_the_folder(tmp_path):
    import zipfile

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("images/ok.jpg", b"fine")
        z.writestr("../escaped.txt", b"no")
    with pytest.raises(DatasetError, match="outside"):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_a_dataset_without_files_needs_no_download(tmp_path):
    with pytest.raises(ConfigError, match="'synth' needs no download.*mpii"):
        download_dataset("synth", tmp_path)
    with pytest.raises(ConfigError, match="unknown dataset 'coco'"):
        download_dataset("coco", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_data_commands_parse_and_run(tmp_path):
    parser = argparse.ArgumentParser(prog="hglearn")
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    points = lsp_joints(4)
    points[:, :, 2] = 1
    write_lsp(tmp_path / "lspet", points, extended=True)
    args = parser.parse_args(["data", "prepare", "lspet", "--root", str(tmp_path / "lspet")])
    args.run(args)
    assert len(load_prepared(tmp_path / "lspet" / "annotations" / "train.json")) == 4
    points[:, :, 2] = 0  # nothing visible: no usable person
    write_lsp(tmp_path / "lspet", points, extended=True)
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match="no usable people"):
        args.run(args)
    args = parser.parse_args(["data", "download", "mpii", "--root", str(tmp_path)])
    assert args.name == "mpii" and args.root == tmp_path and callable(args.run)
    with pytest.raises(SystemExit):
        parser.parse_args(["data", "download", "coco", "--root", str(tmp_path)])
