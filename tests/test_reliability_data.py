"""Bad input to the data pipeline (review-reliability-2026-12, sections 2.7, 2.10 and 2.11): every
case must end as a DatasetError (or ConfigError) naming the file, and the record and field where
there is one, never a bare traceback, a message naming nothing, or silent acceptance."""
import argparse
import io
import json
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from hglearn.cli import add_data_commands
from hglearn.data.dataset import PoseDataset, file_image_reader
from hglearn.data.download import unpack
from hglearn.data.lsp import load_lsp
from hglearn.data.mpii import load_mpii_annotations_json, load_mpii_gt_val, load_mpii_json, load_tompson_val_people
from hglearn.data.prepare import prepare
from hglearn.data.records import DatasetError, PoseRecord, check_record, load_prepared, resolve_under, save_prepared
from hglearn.evaluate import choose_metric
from hglearn.joints import MPII


def record(image="images/a.png", **change) -> PoseRecord:
    fields = dict(image=image, joints=np.full((16, 2), 20.0) + np.arange(16)[:, None], visible=np.ones(16, bool),
                  annotated=np.ones(16, bool), center=np.array([20.0, 20.0]), scale=0.2,
                  head_box=np.array([[1.0, 2.0], [3.0, 5.0]]))
    fields.update(change)
    return PoseRecord(**fields)


def read(root: Path, image: str):
    return file_image_reader(root)(3, record(image))


def jpeg_bytes(size=64) -> bytes:
    image = np.random.default_rng(0).integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", image)[1].tobytes()


# ---------------------------------------------------------------------------------------------
# 2.7 Images

def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width × height (8-bit RGB), with one tiny IDAT and IEND, CRCs right."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A whole JPEG (it ends with FF D9) whose start-of-frame segment is rewritten to claim width × height."""
    data = bytearray(jpeg_bytes(16))
    sof = data.index(b"\xff\xc0")  # FF C0, length (2), precision (1), height (2), width (2)
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("name, data", [("huge.png", png_header(100_000, 100_000)),
                                        ("huge.jpg", jpeg_claiming(65_000, 65_000))])
def test_an_image_header_claiming_a_huge_size_is_a_dataset_error(tmp_path, name, data):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / name).write_bytes(data)
    with pytest.raises(DatasetError) as error:
        read(tmp_path, f"images/{name}")
    assert error.value.file == tmp_path.resolve() / "images" / name
    assert (error.value.record, error.value.field) == (3, "image")
    assert "could not be decoded" in str(error.value)


def test_a_truncated_jpeg_or_one_followed_by_garbage_is_refused(tmp_path):
    (tmp_path / "images").mkdir()
    whole = jpeg_bytes()
    header = whole[:whole.index(b"\xff\xda") + 14]  # up to the start of scan
    garbage = np.random.default_rng(1).integers(0, 256, size=len(whole), dtype=np.uint8).tobytes()
    cases = {"cut.jpg": whole[:int(0.3 * len(whole))], "garbage.jpg": header + garbage.rstrip(b"\xd9\0") + b"\x01"}
    for name, data in cases.items():
        (tmp_path / "images" / name).write_bytes(data)
        with pytest.raises(DatasetError, match="end-of-image marker FF D9") as error:
            read(tmp_path, f"images/{name}")
        assert error.value.file == tmp_path.resolve() / "images" / name and error.value.field == "image"


def test_a_whole_jpeg_is_read_trailing_nul_padding_included(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "images" / "padded.jpg").write_bytes(jpeg_bytes() + b"\0" * 7)
    assert read(tmp_path, "images/a.jpg").shape == read(tmp_path, "images/padded.jpg").shape == (64, 64, 3)


def test_a_symlinked_images_folder_is_read(tmp_path):
    elsewhere = tmp_path / "big_disk" / "mpii_images"
    elsewhere.mkdir(parents=True)
    cv2.imwrite(str(elsewhere / "a.png"), np.full((40, 40, 3), 200, np.uint8))
    root = tmp_path / "mpii"
    root.mkdir()
    (root / "images").symlink_to(elsewhere, target_is_directory=True)
    dataset = PoseDataset([record("images/a.png")], file_image_reader(root), MPII, input_res=32, out_res=8)
    assert dataset[0]["image"].shape == (3, 32, 32) and float(dataset[0]["image"].max()) > 0.7


@pytest.mark.parametrize("path", ["../outside.png", "images/../../outside.png", "/etc/passwd", "C:\\x.png",
                                  "C:x.png", "images\\..\\..\\outside.png", "//server/share/x.png"])
def test_paths_leaving_the_root_stay_refused_lexically(tmp_path, path):
    root = tmp_path / "root"
    (root / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match="outside the dataset root") as error:
        resolve_under(root, path, record=3)
    assert (error.value.record, error.value.field) == (3, "image")
    with pytest.raises(DatasetError, match="outside the dataset root"):
        read(root, path)  # the reader checks too, without check_record's help
    with pytest.raises(DatasetError, match="outside the dataset root"):
        check_record(record(path), 0, file="train.json", num_joints=16)


def test_unpack_still_refuses_members_that_escape(tmp_path):
    dest = tmp_path / "out"
    zipped = tmp_path / "evil.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("images/../../escaped.txt", b"no")
    with pytest.raises(DatasetError, match="outside"):
        unpack(zipped, dest)

    def tar_with(member: tarfile.TarInfo, data: bytes = b"") -> Path:
        path = tmp_path / f"evil{len(list(tmp_path.glob('*.tar')))}.tar"
        with tarfile.open(path, "w") as tar:
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        return path

    with pytest.raises(DatasetError, match="outside"):
        unpack(tar_with(tarfile.TarInfo("/tmp/escaped.txt"), b"no"), dest)
    link = tarfile.TarInfo("images")
    link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path)
    with pytest.raises(DatasetError, match="link"):
        unpack(tar_with(link), dest)
    assert not (tmp_path / "escaped.txt").exists() and not (dest / "images").exists()


def test_unpack_into_a_symlinked_images_folder_works(tmp_path):
    elsewhere = tmp_path / "big_disk"
    elsewhere.mkdir()
    dest = tmp_path / "mpii"
    dest.mkdir()
    (dest / "images").symlink_to(elsewhere, target_is_directory=True)
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("images/a.jpg", b"jpeg")
    unpack(archive, dest)
    assert (elsewhere / "a.jpg").read_bytes() == b"jpeg"
    import io
    import tarfile

    archive = tmp_path / "images.tar.gz"  # MPII's images come as a tar.gz
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("images/b.jpg")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"jpeg"))
    unpack(archive, dest)
    assert (elsewhere / "b.jpg").read_bytes() == b"jpeg"


# ---------------------------------------------------------------------------------------------
# 2.10 Empty sets

def test_load_prepared_of_no_records_names_the_file(tmp_path):
    path = tmp_path / "val.json"
    path.write_text("[]")
    with pytest.raises(DatasetError, match="no records") as error:
        load_prepared(path, num_joints=16)
    assert error.value.file == path
    with pytest.raises(DatasetError, match="no records"):
        save_prepared([], path)


def test_choose_metric_refuses_an_empty_evaluation_set():
    dataset = PoseDataset([], lambda i, r: np.zeros((8, 8, 3), np.uint8), MPII)
    with pytest.raises(DatasetError, match="no people to score"):
        choose_metric(dataset)


# ---------------------------------------------------------------------------------------------
# 2.11 Loaders: conversions, deep nesting, huge numbers, flags

HUGE = "1" * 400  # an integer float() cannot hold: OverflowError
TOO_LONG = "1" * 4301  # past Python's limit on integer string conversion: ValueError


def prepared_text(tmp_path: Path) -> tuple[Path, str]:
    path = save_prepared([record(), record()], tmp_path / "train.json")
    return path, path.read_text()


@pytest.mark.parametrize("edit, field", [
    (lambda r: r.update(scale="HUGE"), "scale"),
    (lambda r: r["joints"][2].__setitem__(0, "HUGE"), "joints"),
    (lambda r: r.update(center=["HUGE", 1.0]), "center"),
    (lambda r: r.update(head_box=[[1.0, "HUGE"], [3.0, 4.0]]), "head_box"),
    (lambda r: r.update(image="images/a\u0000.png"), "image"),
])
def test_load_prepared_huge_numbers_and_nul_bytes_name_record_and_field(tmp_path, edit, field):
    path, text = prepared_text(tmp_path)
    records = json.loads(text)
    edit(records[1])
    path.write_text(json.dumps(records).replace('"HUGE"', HUGE))
    with pytest.raises(DatasetError) as error:
        load_prepared(path)
    assert (error.value.file, error.value.record, error.value.field) == (path, 1, field)


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, f'[{{"scale": {TOO_LONG}}}]'])
def test_json_nested_too_deep_or_with_too_many_digits_names_the_file(tmp_path, content):
    for name, load in (("train.json", load_prepared), ("mpii_train.json", load_mpii_json),
                       ("mpii_annotations.json", load_mpii_annotations_json),
                       ("mpii_annotations.json", load_tompson_val_people)):
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(DatasetError, match="cannot read") as error:
            load(path)
        assert error.value.file == path


def test_check_record_refuses_a_nul_byte_in_the_image_path():
    with pytest.raises(DatasetError, match="NUL") as error:
        check_record(record("images/a\0.png"), 4, file="train.json", num_joints=16)
    assert (error.value.file, error.value.record, error.value.field) == ("train.json", 4, "image")
    with pytest.raises(DatasetError, match="NUL"):
        resolve_under("/data", "images/a\0.png", record=4)


def mmpose_entry() -> dict:
    return {"image": "a.jpg", "center": [150.0, 250.0], "scale": 2.0,
            "joints": [[100.0 + 10 * j, 200.0 + 5 * j] for j in range(16)], "joints_vis": [1] * 16}


@pytest.mark.parametrize("change, field", [
    ({"scale": True}, "scale"),
    ({"scale": "HUGE"}, "scale"),
    ({"center": [1.0, "HUGE"]}, "center"),
    ({"joints_vis": [1] * 15 + [7]}, "joints_vis[15]"),
    ({"joints_vis": [-1] + [1] * 15}, "joints_vis[0]"),
    ({"is_visible": [2] * 16}, "is_visible[0]"),
    ({"joints": [[True, 5.0]] + [[100.0, 200.0]] * 15}, "joints"),
])
def test_mmpose_json_refuses_bools_huge_numbers_and_flags_other_than_0_1(tmp_path, change, field):
    entries = [mmpose_entry(), {**mmpose_entry(), **change}]
    path = tmp_path / "mpii_train.json"
    path.write_text(json.dumps(entries).replace('"HUGE"', HUGE))
    with pytest.raises(DatasetError) as error:
        load_mpii_json(path)
    assert (error.value.file, error.value.record, error.value.field) == (path, 1, field)


def test_mmpose_json_flags_may_be_json_booleans(tmp_path):
    path = tmp_path / "mpii_train.json"
    path.write_text(json.dumps([{**mmpose_entry(), "joints_vis": [True] * 15 + [False]}]))
    assert load_mpii_json(path)[0].annotated.tolist() == [True] * 15 + [False]


def bearpaw_entry(**change) -> dict:
    entry = {"isValidation": 1, "img_paths": "a.jpg", "objpos": [60.0, 80.0], "scale_provided": 3.0,
             "joint_self": [[20.0 + j, 40.0 + 2 * j, 1.0] for j in range(16)], "annolist_index": 4.0,
             "people_index": 1.0}
    entry.update(change)
    return entry


@pytest.mark.parametrize("entry, field", [
    (bearpaw_entry(scale_provided=True), "scale_provided"),
    (bearpaw_entry(joint_self=[[20.0, 40.0, 5.0]] * 16), "joint_self[0]"),
    (bearpaw_entry(joint_self=[[20.0, 40.0, 1.0]] * 3 + [[20.0, 40.0, -1.0]] * 13), "joint_self[3]"),
])
def test_bearpaw_refuses_a_bool_scale_and_visibility_other_than_0_1(tmp_path, entry, field):
    path = tmp_path / "mpii_annotations.json"
    path.write_text(json.dumps([bearpaw_entry(), entry]))
    with pytest.raises(DatasetError) as error:
        load_mpii_annotations_json(path, "all")
    assert (error.value.file, error.value.record, error.value.field) == (path, 1, field)


@pytest.mark.parametrize("text, field", [('"annolist_index": 1e400', "annolist_index"),
                                         ('"annolist_index": 2.5', "annolist_index"),
                                         ('"annolist_index": true', "annolist_index"),
                                         ('"people_index": "1"', "people_index"),
                                         ('"people_index": NaN', "people_index")])
def test_tompson_people_from_bearpaw_need_whole_indices(tmp_path, text, field):
    path = tmp_path / "mpii_annotations.json"
    name = text.split(":")[0]
    good = json.dumps(bearpaw_entry())
    bad = good.replace(f'{name}: {json.dumps(bearpaw_entry()[json.loads(name)])}', text)
    assert bad != good
    path.write_text(f"[{good}, {bad}]")
    with pytest.raises(DatasetError) as error:
        load_tompson_val_people(path)
    assert (error.value.file, error.value.record, error.value.field) == (path, 1, field)
    path.write_text(f"[{good}]")
    assert load_tompson_val_people(path) == {(4, 1)}


@pytest.mark.parametrize("images", [np.array([[5.0, np.nan]]), np.array([[5.0, np.inf]]), np.array([[5.0, 1.5]]),
                                    np.array([[5.0, 0.0]])])
def test_tompson_people_from_detections_mat_need_whole_indices(tmp_path, images):
    path = tmp_path / "detections.mat"
    scipy.io.savemat(path, {"RELEASE_img_index": images, "RELEASE_person_index": np.array([[1, 2]])})
    with pytest.raises(DatasetError) as error:
        load_tompson_val_people(path)
    assert (error.value.file, error.value.field) == (path, "RELEASE_img_index")


def cell(*arrays) -> np.ndarray:
    value = np.empty(len(arrays), dtype=object)
    value[:] = arrays
    return value


def gt_val(**change) -> dict:
    n = 2
    fields = {"pos_gt_src": np.full((16, 2, n), 10.0), "jnt_missing": np.zeros((16, n), np.uint8),
              "headboxes_src": np.tile(np.array([[1.0, 2.0], [30.0, 40.0]])[:, :, None], (1, 1, n))}
    fields.update(change)
    return fields


@pytest.mark.parametrize("change, field", [
    ({"pos_gt_src": "abc"}, "pos_gt_src"),
    ({"pos_gt_src": "1.5"}, "pos_gt_src"),  # text that numpy would read as a number
    ({"headboxes_src": cell(np.zeros(2), np.zeros(3))}, "headboxes_src"),
    ({"jnt_missing": cell(np.zeros(2), np.zeros(2))}, "jnt_missing"),
])
def test_mpii_gt_val_with_text_or_cells_names_file_and_field(tmp_path, change, field):
    path = tmp_path / "mpii_gt_val.mat"
    scipy.io.savemat(path, gt_val(**change))
    with pytest.raises(DatasetError, match="expected a numeric array") as error:
        load_mpii_gt_val(path)
    assert (error.value.file, error.value.field) == (path, field)
    scipy.io.savemat(path, gt_val())
    assert load_mpii_gt_val(path).joints.shape == (2, 16, 2)


@pytest.mark.parametrize("joints", ["not numbers", cell(np.zeros((3, 14)), np.zeros((3, 13)))])
def test_lsp_with_text_or_cells_names_file_and_field_also_through_data_prepare(tmp_path, joints):
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": joints})
    with pytest.raises(DatasetError, match="expected a numeric array") as error:
        load_lsp(tmp_path, "all")
    assert (error.value.file, error.value.field) == (tmp_path / "joints.mat", "joints")
    parser = argparse.ArgumentParser(prog="hglearn")
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", "prepare", "lsp", "--root", str(tmp_path)])
    with pytest.raises(DatasetError, match="joints.mat.*'joints'"):
        args.run(args)


# ---------------------------------------------------------------------------------------------
# hglearn data prepare with ROOT/annotations a file

def test_data_prepare_when_annotations_is_a_file_names_the_path(tmp_path):
    joints = np.zeros((14, 3, 4))  # LSP-extended's layout: 14 joints × (x, y, visible) × 4 images
    joints[:, 0, :] = 10.0 + 3 * np.arange(14)[:, None]
    joints[:, 1, :] = 20.0 + 5 * np.arange(14)[:, None]
    joints[:, 2, :] = 1.0
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": joints})
    (tmp_path / "annotations").write_text("not a folder")
    parser = argparse.ArgumentParser(prog="hglearn")
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", "prepare", "lspet", "--root", str(tmp_path)])
    with pytest.raises(DatasetError, match="not a folder") as error:
        args.run(args)
    assert error.value.file == tmp_path / "annotations"
    with pytest.raises(DatasetError, match="annotations") as error:  # save_prepared alone says so too
        save_prepared([record()], tmp_path / "annotations" / "train.json")
    assert (tmp_path / "annotations").read_text() == "not a folder"
    (tmp_path / "annotations").unlink()
    assert len(load_prepared(prepare("lspet", tmp_path)["train"])) == 4
