"""PoseDataset on tiny images written to a temporary folder, and on real MPII samples when present."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from hglearn.data.dataset import PoseDataset, file_image_reader
from hglearn.data.mpii import person_box
from hglearn.data.records import DatasetError, PoseRecord
from hglearn.data.transforms import Augmentation, apply_affine, crop_matrix, heatmap_to_image
from hglearn.heatmaps import decode
from hglearn.joints import MPII

WIDTH, HEIGHT = 160, 120
DOT_JOINT = 10  # r_wrist: image 0 shows one bright dot there
MPII_SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "mpii_samples"


def make_records() -> list[PoseRecord]:
    rng = np.random.default_rng(0)
    records = []
    for i in range(2):
        joints = rng.uniform([30, 25], [WIDTH - 30, HEIGHT - 25], size=(MPII.num_joints, 2))
        visible, annotated = np.ones(MPII.num_joints, bool), np.ones(MPII.num_joints, bool)
        records.append(PoseRecord(image=f"images/{i}.png", joints=joints, visible=visible,
                                  annotated=annotated, center=np.array([(WIDTH - 1) / 2, (HEIGHT - 1) / 2]),
                                  scale=0.8))
    records[0].visible[3] = False  # occluded: annotated, not supervised
    records[0].joints[4], records[0].visible[4], records[0].annotated[4] = (-1, -1), False, False  # missing
    records[0].head_box = np.array([[10.0, 20.0], [13.0, 24.0]])  # diagonal 5 px
    records[1].annotated[2] = records[1].visible[2] = False  # r_hip missing: no torso size
    return records


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    x, y = make_records()[0].joints[DOT_JOINT]
    dot = 255 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 2.0**2))
    dot = np.repeat(dot[:, :, None], 3, axis=2).round().astype(np.uint8)
    cv2.imwrite(str(tmp_path / "images" / "0.png"), dot)
    noise = np.random.default_rng(1).integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "images" / "1.png"), noise)
    return tmp_path


def make_dataset(root: Path, records=None, **kwargs) -> PoseDataset:
    records = records if records is not None else make_records()
    return PoseDataset(records, file_image_reader(root), MPII, **kwargs)


def test_item_shapes_dtypes_and_meta(root):
    item = make_dataset(root)[0]
    assert item["image"].shape == (3, 256, 256) and item["image"].dtype == torch.float32
    assert 0.0 <= item["image"].min() and item["image"].max() <= 1.0 and item["image"].max() > 0.9
    assert item["heatmaps"].shape == (16, 64, 64) and item["heatmaps"].dtype == torch.float32
    assert item["target_weight"].shape == (16,) and item["target_weight"].dtype == torch.float32
    meta = item["meta"]
    assert meta["index"] == 0 and meta["flip"] is False and meta["rotation"] == 0.0
    assert meta["scale"] == pytest.approx(0.8) and meta["center"].tolist() == pytest.approx([79.5, 59.5])
    assert meta["joints"].shape == (16, 2) and meta["matrix"].shape == (2, 3)
    assert meta["visible"].dtype == torch.bool and meta["annotated"][4].item() is False
    assert meta["head_size"] == pytest.approx(3.0)  # 0.6 × 5
    joints = make_records()[0].joints
    assert meta["torso_size"] == pytest.approx(np.linalg.norm(joints[13] - joints[2]))  # MPII.torso
    assert np.isnan(make_dataset(root)[1]["meta"]["torso_size"])


def test_target_weights_and_heatmap_peaks_at_the_crop_positions(root):
    record, item = make_records()[0], make_dataset(root)[0]
    expected_weight = np.ones(16)
    expected_weight[4] = 0  # missing; the occluded joint 3 is supervised like the visible ones
    assert item["target_weight"].tolist() == expected_weight.tolist()
    assert item["heatmaps"][4].abs().sum() == 0 and item["heatmaps"][3].max() > 0.9
    joints_hm = apply_affine(record.joints, crop_matrix(record.center, record.scale, 64))
    peaks = item["heatmaps"].flatten(1).argmax(dim=1)  # (J,)
    for j in np.flatnonzero(expected_weight):
        assert (peaks[j] % 64, peaks[j] // 64) == tuple(np.round(joints_hm[j]).astype(int))


def test_joints_outside_the_crop_get_weight_zero(root):
    records = make_records()[:1]
    records[0].scale = 0.3  # a 60 px box around the centre: most joints fall outside
    joints_hm = apply_affine(records[0].joints, crop_matrix(records[0].center, 0.3, 64))
    inside = ((joints_hm > -0.5) & (joints_hm < 63.5)).all(axis=1) & records[0].annotated
    assert 0 < inside.sum() < inside.size - 3
    item = make_dataset(root, records)[0]
    assert item["target_weight"].numpy().astype(bool).tolist() == inside.tolist()
    assert (item["heatmaps"][~torch.from_numpy(inside)] == 0).all()


@pytest.mark.parametrize("epoch", range(6))
def test_augmented_image_targets_and_meta_agree(root, epoch):
    dataset = make_dataset(root, augment=Augmentation(), seed=3)
    dataset.set_epoch(epoch)
    item = dataset[0]
    meta, weight = item["meta"], item["target_weight"] > 0

    # Decoded targets map back to the original joints: within 0.25 heatmap px (≤ 0.8 image px here).
    coords_img = heatmap_to_image(decode(item["heatmaps"][None])[0], meta["matrix"][None], 256, 64)[0]
    assert (coords_img - meta["joints"])[weight].abs().max() < 1.0

    # The dot drawn at the r_wrist is where channel r_wrist (l_wrist once mirrored) peaks.
    channel = MPII.flip_index[DOT_JOINT] if meta["flip"] else DOT_JOINT
    assert meta["joints"][channel].tolist() == pytest.approx(make_records()[0].joints[DOT_JOINT].tolist())
    crop = item["image"][0].double()  # (256, 256)
    ys, xs = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    dot_in = torch.stack([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()
    dot_hm = (dot_in + 0.5) * 64 / 256 - 0.5
    assert (decode(item["heatmaps"][None])[0][0, channel] - dot_hm).abs().max() < 0.35


def test_augmentation_is_deterministic_per_seed_epoch_and_index(root):
    def draw(seed, epoch, index):
        dataset = make_dataset(root, augment=Augmentation(), seed=seed)
        dataset.set_epoch(epoch)
        item = dataset[index]
        return item["image"], item["heatmaps"], item["meta"]["scale"], item["meta"]["rotation"]

    first = draw(0, 2, 1)
    again = draw(0, 2, 1)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]) and first[2:] == again[2:]
    for other in (draw(0, 3, 1), draw(1, 2, 1)):
        assert other[2] != first[2] and not torch.equal(other[0], first[0])


def test_color_jitter_scales_each_channel_and_clips(root):
    colour_only = Augmentation(scale_factor=0.0, rotation_prob=0.0, flip_prob=0.0, color_jitter=0.2)
    plain, jittered = make_dataset(root)[1]["image"], make_dataset(root, augment=colour_only)[1]["image"]
    assert jittered.max() <= 1.0
    unclipped = (jittered < 1.0) & (plain > 0.1)  # (3, 256, 256)
    ratios = [(jittered[c] / plain[c])[unclipped[c]] for c in range(3)]
    for ratio in ratios:  # one factor per channel, in [0.8, 1.2]
        assert 0.8 <= ratio.mean() <= 1.2 and ratio.std() < 1e-5
    assert len({round(float(r.mean()), 4) for r in ratios}) == 3


def test_without_augment_every_epoch_gives_the_same_item(root):
    dataset = make_dataset(root)
    before = dataset[1]["image"]
    dataset.set_epoch(5)
    assert torch.equal(dataset[1]["image"], before)


def test_dataloader_collates_a_batch(root):
    batch = next(iter(torch.utils.data.DataLoader(make_dataset(root, augment=Augmentation()), batch_size=2)))
    assert batch["image"].shape == (2, 3, 256, 256) and batch["heatmaps"].shape == (2, 16, 64, 64)
    meta = batch["meta"]
    assert meta["index"].tolist() == [0, 1] and meta["flip"].dtype == torch.bool
    assert meta["matrix"].shape == (2, 2, 3) and meta["joints"].shape == (2, 16, 2)
    assert meta["head_size"][0] == pytest.approx(3.0) and torch.isnan(meta["head_size"][1])


def test_missing_image_names_the_file_and_the_record(root):
    records = make_records()
    records[1].image = "images/missing.png"
    with pytest.raises(DatasetError, match=r"missing\.png.*record 1") as error:
        make_dataset(root, records)[1]
    assert error.value.record == 1 and error.value.field == "image"


def test_undecodable_image_is_a_dataset_error(root):
    (root / "images" / "0.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"0\.png.*record 0.*could not be decoded"):
        make_dataset(root)[0]


def test_path_outside_the_root_is_refused(root):
    (root.parent / "outside.png").write_bytes((root / "images" / "1.png").read_bytes())  # exists, but outside
    records = make_records()
    records[0].image = "../outside.png"
    with pytest.raises(DatasetError, match="outside the dataset root"):
        make_dataset(root, records)[0]


def test_wrong_joint_count_is_refused_when_the_dataset_is_built(root):
    records = make_records()
    records[1].joints = records[1].joints[:14]
    with pytest.raises(DatasetError, match=r"record 1.*'joints'.*expected 16 joints"):
        make_dataset(root, records)


def test_a_reader_returning_a_grey_image_is_refused(root):
    dataset = PoseDataset(make_records(), lambda i, r: np.zeros((HEIGHT, WIDTH), np.uint8), MPII)
    with pytest.raises(DatasetError, match=r"record 0.*\(H, W, 3\) uint8"):
        dataset[0]


def mpii_sample_records() -> list[PoseRecord]:
    """mmpose's MPII JSON read as loaders do: 1-based → 0-based and MPII's person box (`mpii.person_box`).
    The samples' images lie beside the JSON, not under images/, so `load_mpii_json`'s paths do not fit."""
    records = []
    for entry in json.loads((MPII_SAMPLES / "test_mpii.json").read_text()):
        center, scale = person_box(entry["center"], entry["scale"])
        annotated = np.array(entry["joints_vis"]) > 0
        records.append(PoseRecord(
            image=entry["image"], joints=np.array(entry["joints"], dtype=np.float64) - 1,
            visible=annotated, annotated=annotated, center=center, scale=scale))
    return records


@pytest.mark.skipif(not MPII_SAMPLES.is_dir(), reason="real MPII and LSP files are kept outside the repository, in ../shared/testdata, which this machine lacks; the test runs where that folder exists")
def test_real_mpii_crops_put_the_heatmap_peaks_on_the_joints():
    records = mpii_sample_records()
    dataset = PoseDataset(records, file_image_reader(MPII_SAMPLES), MPII)
    for index, record in enumerate(records):
        item = dataset[index]
        assert item["image"].mean() > 0.1  # the person box lies on the photograph
        # The enlarged box holds the whole person: every annotated joint is supervised.
        assert item["target_weight"].numpy().astype(bool).tolist() == record.annotated.tolist()
        joints_hm = apply_affine(record.joints, crop_matrix(record.center, record.scale, 64))
        coords_hm, maxvals = decode(item["heatmaps"][None])
        weight = record.annotated
        assert np.abs(coords_hm[0].numpy() - joints_hm)[weight].max() <= 0.25 + 1e-4
        coords_img = heatmap_to_image(coords_hm, item["meta"]["matrix"][None], 256, 64)[0].numpy()
        image_px_per_hm_px = 200 * record.scale / 64
        assert np.abs(coords_img - record.joints)[weight].max() <= 0.25 * image_px_per_hm_px + 0.01
