"""LSP and LSP-extended at full scale, and the usual LSP protocol ("lsp+lspet") trained end to end.

The real annotation files live in ../shared/testdata/lsp_annotations/ (outside the repository;
the tests that read them skip without it). Those tests compute what they expect from the raw .mat
with scipy, independently of `load_lsp`, and compare. The images are not there: where files must
exist, the tests write one small stand-in JPEG and link every image name to it. Run with `-s` to
see the figures printed for the record.
"""
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from hglearn.cli import main
from hglearn.data.catalog import dataset_spec, eval_split, split_parts
from hglearn.data.lsp import JOINT_BOX_PAD, load_lsp
from hglearn.data.prepare import prepare
from hglearn.data.splits import make_dataset
from hglearn.errors import ConfigError
from hglearn.evaluate import choose_metric
from hglearn.joints import LSP

ROOT = Path(__file__).resolve().parents[1]
LSP_FILE, LSPET_FILE = "lsp_annotations/lsp_original_joints.mat", "lsp_annotations/lspet_joints.mat"


def dataset_folder(folder: Path, mat: Path) -> Path:
    """folder/joints.mat as a link to mat (the loaders read that name; the real file is not copied)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "joints.mat").symlink_to(mat)
    return folder


def raw_lsp(mat: Path) -> tuple[np.ndarray, np.ndarray]:
    """LSP's joints.mat read directly: (N, 14, 2) 1-based x, y and (N, 14) flags."""
    joints = scipy.io.loadmat(mat)["joints"]  # (3, 14, N)
    return joints[:2].transpose(2, 1, 0), joints[2].T


def raw_lspet(mat: Path) -> tuple[np.ndarray, np.ndarray]:
    """LSP-extended's joints.mat read directly: (N, 14, 2) 1-based x, y and (N, 14) flags."""
    joints = scipy.io.loadmat(mat)["joints"]  # (14, 3, N)
    return joints[:, :2].transpose(2, 0, 1), joints[:, 2].T


@pytest.fixture(scope="module")
def real(shared_testdata, tmp_path_factory):
    """The two real files (or a skip): their raw arrays and the folders the loaders read them from."""
    lsp, lspet = shared_testdata(LSP_FILE), shared_testdata(LSPET_FILE)
    base = tmp_path_factory.mktemp("lsp_real")
    return {"lsp": raw_lsp(lsp), "lspet": raw_lspet(lspet),
            "lsp_root": dataset_folder(base / "lsp", lsp), "lspet_root": dataset_folder(base / "lspet", lspet)}


def counts(visible: np.ndarray, annotated: np.ndarray) -> dict[str, int]:
    return {"visible": int(visible.sum()), "occluded": int((annotated & ~visible).sum()),
            "not annotated": int((~annotated).sum())}


def stacked(records, field: str) -> np.ndarray:
    return np.stack([getattr(r, field) for r in records])


# ---------------------------------------------------------------------------------------------
# The real files

def test_record_counts_per_split(real):
    flags = real["lspet"][1]
    visible_per_record = (flags == 1).sum(axis=1)
    too_few = int((visible_per_record < 2).sum())  # no box (LSP places every joint: none there)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lsp = {split: load_lsp(real["lsp_root"], split) for split in ("train", "test", "all")}
        lspet = load_lsp(real["lspet_root"], "all", extended=True)
    left_out = [str(w.message) for w in caught if "records left out" in str(w.message)]
    print(f"\nLSP records: train {len(lsp['train'])}, test {len(lsp['test'])}, all {len(lsp['all'])}; "
          f"LSP-extended: {len(lspet)} of {len(flags)} ({too_few} left out for fewer than two visible joints; "
          f"the fewest visible joints of a record: {int(visible_per_record.min())})")
    assert len(left_out) == (1 if too_few else 0) and all(f"{too_few} records left out" in m for m in left_out)
    assert [len(lsp[split]) for split in ("train", "test", "all")] == [1000, 1000, 2000]
    assert len(real["lsp"][1]) == 2000 and len(flags) == 10000
    assert len(lspet) == 10000 - too_few
    assert lsp["train"][0].image == "images/im0001.jpg" and lsp["train"][-1].image == "images/im1000.jpg"
    assert lsp["test"][0].image == "images/im1001.jpg" and lsp["test"][-1].image == "images/im2000.jpg"
    assert lspet[0].image == "images/im00001.jpg" and lspet[-1].image == "images/im10000.jpg"
    assert [r.image for r in lsp["all"]] == [r.image for r in lsp["train"] + lsp["test"]]


def test_coordinates_are_the_files_minus_one(real):
    xy, flags = real["lsp"]
    records = load_lsp(real["lsp_root"], "all")
    np.testing.assert_array_equal(stacked(records, "joints"), xy - 1)  # every LSP joint has a position
    # No LSP joint lies left of or above MATLAB's first pixel centre: consistent with 1-based files.
    assert xy.min() >= 1

    xy, flags = real["lspet"]
    records = load_lsp(real["lspet_root"], "all", extended=True)
    visible = flags == 1
    np.testing.assert_array_equal(stacked(records, "joints")[visible], xy[visible] - 1)
    assert (stacked(records, "joints")[~visible] == 0).all()  # not annotated: no position kept
    # 0-based, the image spans [-0.5, size - 0.5]: a handful of visible clicks lie just past its top or
    # left edge (annotators clicking on the border), none by more than two pixels.
    outside = int((xy[visible] - 1 < -0.5).any(axis=1).sum())
    print(f"\nLSP-extended visible joints left of or above the image edge: {outside} of {int(visible.sum())}, "
          f"the farthest at {float((xy[visible] - 1).min()):.2f} (0-based)")
    assert outside <= 0.001 * visible.sum() and (xy[visible] - 1).min() > -2.5


def test_visibility_conventions_and_counts(real):
    _, flags = real["lsp"]
    occluded = flags == 1
    # LSP's flag 1 is the minority and is rarest on the head top and neck, commonest on the arms:
    # occlusion, not visibility.
    head = occluded[:, [LSP.names.index("neck"), LSP.names.index("head_top")]].mean()
    wrists = occluded[:, [LSP.names.index("r_wrist"), LSP.names.index("l_wrist")]].mean()
    assert occluded.mean() < 0.1 and head < 0.01 < 0.1 < wrists
    figures = {}
    for split, rows in (("train", slice(0, 1000)), ("test", slice(1000, 2000)), ("all", slice(None))):
        records = load_lsp(real["lsp_root"], split)
        visible, annotated = stacked(records, "visible"), stacked(records, "annotated")
        np.testing.assert_array_equal(visible, ~occluded[rows])
        assert annotated.all()
        figures[f"LSP {split}"] = counts(visible, annotated)
        assert figures[f"LSP {split}"] == counts(flags[rows] == 0, np.ones_like(annotated))

    _, flags = real["lspet"]
    assert (flags == 1).mean() > 0.5  # LSP-extended's flag 1 is the majority: visible
    records = load_lsp(real["lspet_root"], "all", extended=True)
    visible, annotated = stacked(records, "visible"), stacked(records, "annotated")
    np.testing.assert_array_equal(visible, flags == 1)
    np.testing.assert_array_equal(annotated, flags == 1)  # the positions of the others are not kept
    figures["LSP-extended"] = counts(visible, annotated)
    assert figures["LSP-extended"] == counts(flags == 1, flags == 1)
    print("\n" + "\n".join(f"{name}: " + ", ".join(f"{n:,} {what}" for what, n in c.items())
                           for name, c in figures.items()))
    xy = real["lspet"][0]
    at_origin = int(((flags == 0) & (xy == 0).all(axis=2)).sum())
    print(f"LSP-extended flag 0: {int((flags == 0).sum()) - at_origin:,} with a position in the file, "
          f"{at_origin} at (0, 0)")
    print("LSP flag 1 (occluded) by joint: "
          + ", ".join(f"{name} {rate:.1%}" for name, rate in zip(LSP.names, occluded.mean(axis=0))))


def test_every_box_holds_its_annotated_joints(real):
    for records in (load_lsp(real["lsp_root"], "all"), load_lsp(real["lspet_root"], "all", extended=True)):
        for r in records:
            # The crop's half side is 100·scale = JOINT_BOX_PAD × half the joints' longer extent.
            reach = np.abs(r.joints[r.annotated] - r.center).max()
            assert 0 < reach <= 100 * r.scale / JOINT_BOX_PAD + 1e-9, r.image


def test_prepared_protocol_splits(real, tmp_path):
    data_root = tmp_path / "datasets"
    for name in ("lsp", "lspet"):
        prepare(name, dataset_folder(data_root / name, real[f"{name}_root"] / "joints.mat"))
    train = make_dataset("lsp+lspet", "train", root=str(data_root))
    test = make_dataset("lsp+lspet", eval_split("lsp+lspet"), root=str(data_root))
    print(f"\nlsp+lspet: {len(train)} training people, {len(test)} test people")
    assert len(train) == 1000 + len(load_lsp(real["lspet_root"], "all", extended=True)) and len(test) == 1000
    assert train.records[0].image == "lsp/images/im0001.jpg" and train.records[1000].image == "lspet/images/im00001.jpg"
    assert test.records[0].image == "lsp/images/im1001.jpg"
    assert choose_metric(test) == "pck"  # no head boxes: PCK@0.2 with the torso


# ---------------------------------------------------------------------------------------------
# The protocol in the catalogue

def test_the_protocol_is_lsp_train_plus_lspet_scored_on_lsp_test():
    spec = dataset_spec("lsp+lspet")
    assert spec.joint_set is LSP and spec.eval_split == "test" and not spec.sources and not spec.resources
    assert split_parts("lsp+lspet", "train") == ("lsp", "lspet") and split_parts("lsp+lspet", "test") == ("lsp",)
    assert all(dataset_spec(part).joint_set is LSP for part in spec.parts)


def test_lspet_alone_names_the_protocol(tmp_path, capsys):
    # `hglearn train --dataset=lspet` stops before reading anything, with one line naming the fix.
    assert main(["train", "--dataset=lspet", f"--data_root={tmp_path}", "--device=cpu", "--progress=false",
                 f"--out_dir={tmp_path / 'run'}"]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and message.startswith("hglearn train: error: lspet has a training split only")
    assert ("use --dataset=lsp+lspet, which trains on lsp and lspet and scores on lsp's test split, "
            "with data_root the folder holding lsp/ and lspet/") in message
    with pytest.raises(ConfigError, match=r"'lsp\+lspet' is made of lsp and lspet.*ROOT/lsp and ROOT/lspet"):
        prepare("lsp+lspet", tmp_path)


def test_a_missing_part_names_its_folder_and_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"reads lsp from data_root/lsp.*hglearn data prepare lsp --root"):
        make_dataset("lsp+lspet", "test", root=str(tmp_path))
    with pytest.raises(ConfigError, match="needs the folder holding lsp/ and lspet/: set data_root"):
        make_dataset("lsp+lspet", "train")


# ---------------------------------------------------------------------------------------------
# Training the protocol end to end

def fixture_files(folder: Path) -> dict[str, Path]:
    """Small joints.mat files in the real layouts: LSP 3 x 14 x 1002 (flag 1 = occluded; 1,000 train,
    2 test), LSP-extended 14 x 3 x 6 (flag 1 = visible), people inside a 48-pixel image, 1-based."""
    rng = np.random.default_rng(0)
    folder.mkdir()

    def people(count: int) -> np.ndarray:
        xy = rng.uniform(8, 40, size=(count, 14, 2))
        return np.concatenate([xy, (rng.random((count, 14, 1)) < 0.1)], axis=2)  # (N, 14, 3), a few flags 1

    lsp, lspet = people(1002), people(6)
    lspet[:, :, 2] = 1 - lspet[:, :, 2]
    scipy.io.savemat(folder / "lsp.mat", {"joints": lsp.transpose(2, 1, 0)})
    scipy.io.savemat(folder / "lspet.mat", {"joints": lspet.transpose(1, 2, 0)})
    return {"lsp": folder / "lsp.mat", "lspet": folder / "lspet.mat"}


def stand_in_images(root: Path, count: int, digits: int, image: Path) -> None:
    """root/images/im0001.jpg ...: links to one stand-in image (LSP's images are not at hand)."""
    (root / "images").mkdir(parents=True)
    for i in range(1, count + 1):
        os.link(image, root / "images" / f"im{i:0{digits}d}.jpg")


@pytest.mark.parametrize("files", ["fixture", "real"])
def test_the_lsp_config_trains_the_protocol_end_to_end(files, tmp_path, request, capsys):
    if files == "real":
        mats = {name: request.getfixturevalue("real")[f"{name}_root"] / "joints.mat" for name in ("lsp", "lspet")}
    else:
        mats = fixture_files(tmp_path / "fixtures")
    image = tmp_path / "stand_in.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(image)
    data_root = tmp_path / "datasets"
    for name, read, digits in (("lsp", raw_lsp, 4), ("lspet", raw_lspet, 5)):
        stand_in_images(dataset_folder(data_root / name, mats[name]), len(read(mats[name])[1]), digits, image)
        prepare(name, data_root / name)

    out_dir = tmp_path / "run"
    code = main(["train", str(ROOT / "configs" / "lsp-sadinet-hg8.toml"), f"--data_root={data_root}",
                 f"--out_dir={out_dir}", "--device=cpu", "--num_stacks=1", "--channels=16", "--depth=3",
                 "--input_res=32", "--batch_size=2", "--max_steps=2", "--eval_batch_size=128", "--num_workers=0",
                 "--flip_test=false", "--progress=false"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    lsp_test = len(load_lsp(data_root / "lsp", "test"))
    training = len(load_lsp(data_root / "lsp", "train")) + len(load_lsp(data_root / "lspet", "all", extended=True))
    assert f"on lsp+lspet: {training} images" in printed.out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["name"] == "PCK@0.2" and set(metrics["counts"].values()) == {lsp_test}  # LSP's test split
