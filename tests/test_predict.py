"""`hglearn predict`: reading any photo, the person box, joints mapped back exactly, atomic outputs.

The photos are written by the tests (colour, grey, alpha, 16-bit, EXIF-rotated, tiny, huge, corrupt,
truncated, not images); the five real MPII photos of ../shared/testdata/mpii_samples are used
where that folder exists, and the tests that need them skip elsewhere.
"""
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import hglearn.files
import hglearn.predict as predict
from hglearn.cli import main
from hglearn.data.mpii import BOX_PAD, person_box
from hglearn.data.transforms import apply_affine, crop_matrix, invert_affine
from hglearn.errors import ConfigError, DatasetError
from hglearn.joints import MPII
from hglearn.predict import (box_crop, output_stems, parse_box, predict_pose, read_photo, save_prediction,
                             whole_image_box)

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "data" / "checkpoints" / "synthpose-newell-hg1.pt"
MPII_IMAGES = ["004645041.jpg", "005808361.jpg", "051423444.jpg", "052475643.jpg", "060754485.jpg"]


def photo_like(width: int, height: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 RGB: smooth coloured blobs with some grain, like a blurry photo."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(20, 200, size=(max(2, height // 16), max(2, width // 16), 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB (or RGBA, or grey) array with cv2, which wants BGR(A)."""
    if rgb.ndim == 3:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR if rgb.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    assert cv2.imwrite(str(path), rgb)
    return path


# ---------------------------------------------------------------------------------------------
# read_photo: what it reads


def test_colour_png_and_jpeg_come_back_as_rgb(tmp_path):
    rgb = photo_like(40, 30)
    rgb[:5, :5] = (255, 0, 0)  # pure red: a BGR/RGB swap would show it as blue
    assert np.array_equal(read_photo(write_rgb(tmp_path / "a.png", rgb)), rgb)
    jpeg = read_photo(write_rgb(tmp_path / "a.jpg", rgb))
    assert jpeg.shape == (30, 40, 3) and jpeg.dtype == np.uint8
    assert jpeg[2, 2, 0] > 200 and jpeg[2, 2, 2] < 60


def test_grey_is_replicated_into_rgb(tmp_path):
    grey = photo_like(40, 30)[..., 1]
    image = read_photo(write_rgb(tmp_path / "grey.png", grey))
    assert image.shape == (30, 40, 3)
    assert all(np.array_equal(image[..., c], grey) for c in range(3))


def test_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., :3] = (0, 100, 200)
    rgba[:, :10, 3] = 0  # transparent: white, whatever colour is stored beneath
    rgba[:, 10:20, 3] = 255  # opaque: the colour
    rgba[:, 20:, 3] = 51  # a = 0.2: 0.2·c + 0.8·255
    image = read_photo(write_rgb(tmp_path / "rgba.png", rgba))
    assert (image[:, :10] == 255).all()
    assert (image[:, 10:20] == (0, 100, 200)).all()
    assert (image[:, 20:] == np.round(0.2 * np.array([0, 100, 200]) + 0.8 * 255)).all()


def test_grey_with_alpha(tmp_path):
    Image = pytest.importorskip("PIL.Image")  # Pillow comes with matplotlib
    la = np.zeros((30, 40, 2), np.uint8)
    la[..., 0] = 80
    la[:, :20, 1] = 255
    path = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(path)
    image = read_photo(path)
    assert (image[:, :20] == 80).all() and (image[:, 20:] == 255).all()


def test_16_bit_images_are_scaled_to_8_bit(tmp_path):
    rgb = photo_like(40, 30)
    wide = rgb.astype(np.uint16) * 257  # the usual 8 → 16-bit widening
    wide[0, 0] = (65535, 0, 32896)  # 32896 = 128·257 + 0: rounds to 128
    assert np.array_equal(read_photo(write_rgb(tmp_path / "rgb16.png", wide))[1:], rgb[1:])
    assert read_photo(tmp_path / "rgb16.png")[0, 0].tolist() == [255, 0, 128]
    grey16 = read_photo(write_rgb(tmp_path / "grey16.png", wide[..., 0]))
    assert np.array_equal(grey16[1:, :, 2], rgb[1:, :, 0])
    rgba16 = np.dstack([wide, np.full((30, 40), 65535, np.uint16)])
    rgba16[:, :10, 3] = 0
    image = read_photo(write_rgb(tmp_path / "rgba16.png", rgba16))
    assert (image[:, :10] == 255).all() and np.array_equal(image[1:, 10:], rgb[1:, 10:])


def exif_orientation(value: int) -> bytes:
    """An EXIF block holding only Orientation (tag 0x0112) = value, as Pillow's Exif writes it."""
    Image = pytest.importorskip("PIL.Image")
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def test_exif_orientation_is_applied_as_a_viewer_shows_it(tmp_path):
    """Orientation 6: "rotate 90° clockwise to display". The red corner stored at the top left
    shows at the top right, and the picture turns from 60×40 (w×h) to 40×60."""
    Image = pytest.importorskip("PIL.Image")
    stored = np.full((40, 60, 3), 200, np.uint8)
    stored[:10, :15] = (255, 0, 0)
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif_orientation(6))
    image = read_photo(path)
    assert image.shape == (60, 40, 3)
    assert image[5, -5, 0] > 200 and image[5, -5, 2] < 60  # top right: red
    assert image[5, 5, 2] > 150  # top left: grey
    assert np.array_equal(image, cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))


def test_exif_orientation_turns_the_alpha_channel_too(tmp_path):
    """cv2 ignores the orientation when it keeps alpha: read_photo must turn alpha itself. Stored
    (40 rows, 60 columns): the bottom-right 10 × 20 block transparent; turned clockwise, row r and
    column c go to row c and column 39 − r, so the block shows at the bottom left, 20 × 10."""
    Image = pytest.importorskip("PIL.Image")
    stored = np.zeros((40, 60, 4), np.uint8)
    stored[..., :3] = photo_like(60, 40) // 2  # dark, so that white stands out
    stored[..., 3] = 255
    stored[30:, 40:, 3] = 0
    path = tmp_path / "rotated.png"
    Image.fromarray(stored, "RGBA").save(path, exif=exif_orientation(6))
    image = read_photo(path)
    assert image.shape == (60, 40, 3)
    transparent = np.zeros((60, 40), bool)
    transparent[40:, :10] = True
    assert (image[transparent] == 255).all()
    assert np.array_equal(image[~transparent], np.rot90(stored[..., :3], -1)[~transparent])


# ---------------------------------------------------------------------------------------------
# read_photo: what it refuses, each with one line naming the file


def refused(path: Path) -> str:
    """read_photo's error message for `path`, checked to be one line naming the file."""
    with pytest.raises(DatasetError) as caught:
        read_photo(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message, message
    return message


def bad_files(folder: Path) -> dict[str, Path]:
    """A dozen files that are not usable photos, by what is wrong with them."""
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(photo_like(64, 48), cv2.COLOR_RGB2BGR))
    ok, png = cv2.imencode(".png", photo_like(64, 48))
    jpeg, png = jpeg.tobytes(), png.tobytes()
    corrupt_png = bytearray(png)
    corrupt_png[len(png) // 2: len(png) // 2 + 40] = bytes(40)  # zeroed inside the IDAT: CRC and zlib fail
    files = {
        "missing": folder / "missing.jpg",
        "folder": folder / "a_folder.jpg",
        "empty": folder / "empty.png",
        "text": folder / "notes.jpg",
        "garbage": folder / "noise.png",
        "corrupt png": folder / "corrupt.png",
        "truncated png": folder / "truncated.png",
        "truncated jpeg": folder / "truncated.jpg",
        "jpeg without its end marker": folder / "no_end.jpg",
        "tiny": folder / "tiny.png",
        "float pixels": folder / "float.tiff",
    }
    files["folder"].mkdir()
    files["empty"].write_bytes(b"")
    files["text"].write_text("not a photo\n" * 20)
    files["garbage"].write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    files["corrupt png"].write_bytes(bytes(corrupt_png))
    files["truncated png"].write_bytes(png[: len(png) // 2])
    files["truncated jpeg"].write_bytes(jpeg[: len(jpeg) // 2])
    files["jpeg without its end marker"].write_bytes(jpeg[:-2])
    write_rgb(files["tiny"], photo_like(15, 40))
    assert cv2.imwrite(str(files["float pixels"]), np.zeros((20, 20, 3), np.float32))
    return files


BAD = ["missing", "folder", "empty", "text", "garbage", "corrupt png", "truncated png", "truncated jpeg",
       "jpeg without its end marker", "tiny", "float pixels"]
REASON = {"missing": "no such file", "folder": "folder", "empty": "empty", "text": "not an image",
          "garbage": "not an image", "corrupt png": "not an image", "truncated png": "not an image",
          "truncated jpeg": "truncated", "jpeg without its end marker": "FF D9", "tiny": "at least 16 px",
          "float pixels": "float32"}


@pytest.mark.parametrize("kind", BAD)
def test_bad_files_are_refused_naming_the_file(kind, tmp_path):
    path = bad_files(tmp_path)[kind]
    assert REASON[kind] in refused(path)


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG of 20×20 pixels whose IHDR says width × height, with a valid CRC."""
    ok, png = cv2.imencode(".png", np.zeros((20, 20, 3), np.uint8))
    png = bytearray(png.tobytes())
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def test_a_png_header_claiming_a_huge_image_is_refused_without_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_claiming(100_000, 100_000))
    decoded = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a: decoded.append(a[1]) or real(*a))
    assert "10,000,000,000 pixels" in refused(path)
    assert decoded == []


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp"])
def test_more_pixels_than_the_limit_are_refused(suffix, tmp_path, monkeypatch):
    """The limit is lowered rather than gigabytes allocated. PNG and JPEG are refused from the
    header, before the full decode (JPEG after a 1/8-scale decode); other formats after it."""
    path = write_rgb(tmp_path / f"big{suffix}", photo_like(80, 64))  # 5,120 pixels
    decoded = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a: decoded.append(a[1]) or real(*a))
    # Far over: the 1/8-scale JPEG's bound, at least 73 × 57 = 4,161 pixels, is enough to refuse it.
    monkeypatch.setattr(predict, "MAX_PIXELS", 4000)
    assert "more than the limit of 4,000" in refused(path)
    full = [flags for flags in decoded if flags != cv2.IMREAD_REDUCED_GRAYSCALE_8]
    assert full == ([] if suffix in (".png", ".jpg") else [cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH])
    monkeypatch.setattr(predict, "MAX_PIXELS", 80 * 64 - 1)  # one pixel over: refused, after the decode at worst
    assert "more than the limit of 5,119" in refused(path)
    monkeypatch.setattr(predict, "MAX_PIXELS", 80 * 64)  # exactly at the limit: read
    assert read_photo(path).shape == (64, 80, 3)


def test_opencvs_own_limit_is_reported_naming_the_file(tmp_path):
    """A BMP header claiming 100000 × 100000: no header check of ours, OpenCV refuses it unallocated."""
    ok, bmp = cv2.imencode(".bmp", np.zeros((20, 30, 3), np.uint8))
    bmp = bytearray(bmp.tobytes())
    bmp[18:26] = struct.pack("<ii", 100_000, 100_000)
    path = tmp_path / "bomb.bmp"
    path.write_bytes(bytes(bmp))
    assert "CV_IO_MAX_IMAGE_PIXELS" in refused(path)


# ---------------------------------------------------------------------------------------------
# The box


def test_box_crop_is_the_middle_and_1_25_times_the_longer_side():
    center, scale = box_crop((10, 20, 110, 60))  # 100 wide, 40 high
    assert center.tolist() == [60, 40] and scale == pytest.approx(1.25 * 100 / 200)
    center, scale = box_crop(whole_image_box(80, 120))
    assert center.tolist() == [39.5, 59.5] and scale == pytest.approx(1.25 * 120 / 200)


def test_parse_box():
    assert parse_box("1,2.5,30,40") == (1, 2.5, 30, 40)
    assert parse_box("-5,-3,10,10") == (-5, -3, 10, 10)
    for text in ["1,2,3", "1,2,3,4,5", "a,b,c,d", "1,2,nan,4", "", "10,0,5,20", "0,20,10,20"]:
        with pytest.raises(ConfigError, match="--box"):
            parse_box(text)


@pytest.mark.parametrize("box", [(100, 0, 150, 50), (-60, 0, -0.5, 50), (0, 60, 10, 90), (0, -40, 10, -1)])
def test_a_box_outside_the_image_is_refused_naming_the_option(box):
    with pytest.raises(ConfigError, match=r"--box .*outside the 80×60 image"):
        predict_pose(PeakModel([(1, 1)]), np.zeros((60, 80, 3), np.uint8), input_res=16, joint_set=MPII, box=box)


# ---------------------------------------------------------------------------------------------
# predict_pose: the joints map back exactly


class PeakModel(torch.nn.Module):
    """A stand-in network: whatever the input, joint j's heatmap is 0 but at peaks[j] = (x, y), 0.5 + j/100."""

    def __init__(self, peaks, out_res: int = 16, num_joints: int = 16):
        super().__init__()
        self.peaks, self.out_res, self.num_joints = peaks, out_res, num_joints

    def forward(self, images):
        b = images.shape[0]
        heatmaps = torch.zeros(b, 1, self.num_joints, self.out_res, self.out_res)  # (B, S, J, h, w)
        for j in range(self.num_joints):
            x, y = self.peaks[j % len(self.peaks)]
            heatmaps[:, 0, j, y, x] = 0.5 + j / 100
        return heatmaps


@pytest.mark.parametrize("size", [(120, 80), (70, 130)], ids=["landscape", "portrait"])
@pytest.mark.parametrize("box", [None, (15.0, 5.5, 60.0, 75.0)], ids=["whole image", "box"])
def test_heatmap_peaks_map_back_through_the_inverse_crop(size, box):
    width, height = size
    image = photo_like(width, height)
    peaks = [(j % 16, (5 * j + 3) % 16) for j in range(16)]  # corners and edges among them
    pose = predict_pose(PeakModel(peaks), image, input_res=64, joint_set=MPII, box=box)

    # Hand-made expectation: the box's middle and 1.25 × its longer side; heatmap → input crop → image.
    x0, y0, x1, y1 = (-0.5, -0.5, width - 0.5, height - 0.5) if box is None else box
    center, scale = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), 1.25 * max(x1 - x0, y1 - y0) / 200
    p_input = (np.array(peaks, float) + 0.5) * 64 / 16 - 0.5  # (J, 2) in the 64-px crop
    expected = apply_affine(p_input, invert_affine(crop_matrix(center, scale, 64)))
    assert pose.joints.shape == (16, 2) and pose.confidence.shape == (16,)
    assert np.allclose(pose.joints, expected, atol=1e-9)
    assert np.allclose(pose.confidence, 0.5 + np.arange(16) / 100, atol=1e-6)
    assert pose.box == (x0, y0, x1, y1)
    assert np.allclose(pose.center, center) and pose.scale == pytest.approx(scale)


def test_flip_averages_with_the_mirrored_crops_heatmaps_left_and_right_swapped():
    """Joint j's map becomes (H_j + mirror(H_flip[j]))/2: two half peaks, whose larger is the confidence."""
    pose = predict_pose(PeakModel([(3, 5)]), photo_like(80, 60), input_res=64, joint_set=MPII, flip=True)
    peak = 0.5 + np.arange(16) / 100
    assert np.allclose(pose.confidence, np.maximum(peak, peak[list(MPII.flip_index)]) / 2, atol=1e-6)


class BrightestPixelModel(torch.nn.Module):
    """A stand-in network that finds a bright dot: every heatmap is the crop's brightness, 4×4 averaged."""

    def forward(self, images):
        heatmaps = torch.nn.functional.avg_pool2d(images.mean(dim=1, keepdim=True), 4)  # (B, 1, h, w)
        return heatmaps.expand(-1, 16, -1, -1).unsqueeze(1)  # (B, 1, 16, h, w)


@pytest.mark.parametrize("size", [(200, 120), (90, 160)], ids=["landscape", "portrait"])
@pytest.mark.parametrize("box", [None, (30.0, 10.0, 85.0, 110.0)], ids=["whole image", "box"])
def test_a_dot_in_the_photo_is_found_where_it_is_with_and_without_flip(size, box):
    """The whole way, image → crop → heatmap → image: the dot comes back within a heatmap pixel,
    and the flip test (mirror, predict, mirror back) puts it in the same place."""
    width, height = size
    image = photo_like(width, height) // 10  # dark, so that the dot is the brightest thing at any crop size
    dot = (61, 47)
    cv2.circle(image, dot, 4, (255, 255, 255), -1)
    plain = predict_pose(BrightestPixelModel(), image, input_res=64, joint_set=MPII, box=box)
    flipped = predict_pose(BrightestPixelModel(), image, input_res=64, joint_set=MPII, box=box, flip=True)
    image_px_per_heatmap_px = 200 * plain.scale / 16
    assert np.abs(plain.joints - dot).max() <= image_px_per_heatmap_px
    assert np.allclose(flipped.joints, plain.joints)


def test_the_model_is_used_in_eval_mode_and_left_as_it_was():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 1), torch.nn.BatchNorm2d(16), torch.nn.Unflatten(1, (1, 16)))
    model.train()
    before = model[1].running_mean.clone()
    predict_pose(model, photo_like(64, 64), input_res=64, joint_set=MPII)
    assert model.training and torch.equal(model[1].running_mean, before)  # eval mode: statistics untouched


# ---------------------------------------------------------------------------------------------
# Outputs


def test_output_stems_are_distinct():
    assert output_stems(["a/photo.jpg", "b/photo.jpg", "photo.png"]) == ["photo", "photo-2", "photo-3"]
    # An input's own stem is kept for it: photo-2.jpg is not renamed by an earlier repeat.
    assert output_stems(["photo.jpg", "photo.png", "photo-2.jpg"]) == ["photo", "photo-3", "photo-2"]
    assert output_stems(["Photo.jpg", "photo.png"]) == ["Photo", "photo-2"]  # case-insensitive file systems
    assert output_stems(["x.jpg", "y.jpg"]) == ["x", "y"]


def test_a_failed_write_leaves_neither_file(tmp_path, monkeypatch):
    real = Path.write_bytes

    def fail_half_way(self, data):  # the PNG, written after the JSON's temporary
        real(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", fail_half_way)
    with pytest.raises(OSError, match="No space"):
        save_prediction(tmp_path / "a.png", tmp_path / "a.json", photo_like(40, 30), {"joints": []})
    assert list(tmp_path.iterdir()) == []  # no a.png, no a.json, no temporaries


def test_a_failed_json_rename_takes_the_png_back(tmp_path, monkeypatch):
    real = hglearn.files.os.replace

    def replace(source, target):
        if str(target).endswith(".json"):
            raise OSError(5, "Input/output error")
        real(source, target)

    monkeypatch.setattr(hglearn.files.os, "replace", replace)
    with pytest.raises(OSError, match="Input/output"):
        save_prediction(tmp_path / "a.png", tmp_path / "a.json", photo_like(40, 30), {"joints": []})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# The command line


def run(argv: list[str], capsys) -> tuple[int, list[str], list[str]]:
    """`hglearn predict` through cli.main: exit status, stdout lines, stderr lines."""
    status = main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_predict_help_does_not_import_torch():
    code = ("import sys\nfrom hglearn.cli import main\ntry:\n    main(['predict', '--help'])\nexcept SystemExit:\n"
            "    pass\nprint('torch imported' if 'torch' in sys.modules else 'torch not imported')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "--checkpoint CKPT" in done.stdout and done.stdout.strip().endswith("torch not imported")


def check_outputs(out: Path, stem: str, photo: Path) -> dict:
    """The PNG and JSON of one photo: both whole, the PNG the photo's size with a skeleton on it."""
    record = json.loads((out / f"{stem}.json").read_text())
    original = read_photo(photo)
    drawn = cv2.imread(str(out / f"{stem}.png"), cv2.IMREAD_COLOR)
    assert drawn.shape == original.shape
    assert (cv2.cvtColor(drawn, cv2.COLOR_BGR2RGB) != original).any(axis=2).sum() > 50  # the skeleton
    assert record["image"] == str(photo)
    assert record["image_size"] == {"width": original.shape[1], "height": original.shape[0]}
    assert [j["name"] for j in record["joints"]] == list(MPII.names)
    assert record["checkpoint"] == str(CHECKPOINT) and record["input_res"] == 64
    return record


def test_mpii_photos_without_a_box(shared_testdata, tmp_path, capsys):
    folder = shared_testdata("mpii_samples")
    photos = [folder / name for name in MPII_IMAGES]
    status, out, err = run([*photos, "--checkpoint", CHECKPOINT, "--out", tmp_path / "out", "--flip"], capsys)
    assert status == 0 and err == [] and len(out) == 5
    for photo in photos:
        record = check_outputs(tmp_path / "out", photo.stem, photo)
        w, h = record["image_size"]["width"], record["image_size"]["height"]
        assert record["flip"] is True and record["box"] == [-0.5, -0.5, w - 0.5, h - 0.5]
        # Every joint lies in the crop square: the whole image, padded to 1.25 times its longer side.
        xy = np.array([[j["x"], j["y"]] for j in record["joints"]])
        half = 1.25 * max(w, h) / 2
        assert (np.abs(xy - [(w - 1) / 2, (h - 1) / 2]) <= half).all()
        assert all(np.isfinite(j["confidence"]) for j in record["joints"])


def test_mpii_photos_with_their_people_boxes(shared_testdata, tmp_path, capsys):
    """Each person's MPII box as --box: the crop is MPII's own (person_box), and the course's SynthPose
    network, which has never seen a photograph, puts the median joint within a quarter of the crop
    of the annotation (measured 0.07-0.15; a crop misplaced or mirrored would be far off)."""
    folder = shared_testdata("mpii_samples")
    people = json.loads((folder / "test_mpii.json").read_text())
    errors = []
    for person in people:
        center, scale = person_box(person["center"], person["scale"])
        half = 200 * scale / BOX_PAD / 2  # the box whose padded crop is MPII's
        box = [center[0] - half, center[1] - half, center[0] + half, center[1] + half]
        photo = folder / person["image"]
        status, out, err = run([photo, "--checkpoint", CHECKPOINT, "--out", tmp_path,
                                "--box=" + ",".join(f"{v:.6f}" for v in box)], capsys)
        assert status == 0 and err == [] and len(out) == 1
        record = check_outputs(tmp_path, photo.stem, photo)
        assert np.allclose(record["box"], box, atol=1e-5)
        assert np.allclose(record["crop"]["center"], center, atol=1e-5)
        assert record["crop"]["scale"] == pytest.approx(scale, abs=1e-6)
        xy = np.array([[j["x"], j["y"]] for j in record["joints"]])
        truth, annotated = np.array(person["joints"]) - 1, np.array(person["joints_vis"]) > 0
        errors.append(np.median(np.linalg.norm(xy - truth, axis=1)[annotated]) / (200 * scale))
    assert max(errors) < 0.25 and np.mean(errors) < 0.15, errors



@pytest.mark.parametrize("kind", BAD)
def test_each_bad_image_is_one_line_naming_it_and_writes_nothing(kind, tmp_path, capsys):
    path = bad_files(tmp_path)[kind]
    status, out, err = run([path, "--checkpoint", CHECKPOINT, "--out", tmp_path / "out"], capsys)
    assert status == 2 and out == []
    assert len(err) == 1 and err[0].startswith("hglearn predict: error: ") and str(path) in err[0], err
    assert list((tmp_path / "out").iterdir()) == []


def test_images_after_a_bad_one_are_still_predicted(tmp_path, capsys):
    """Every image is tried; the bad one writes nothing, the good ones write whole files, then status 2.
    Two photos called photo.png in two folders get photo and photo-2."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_rgb(tmp_path / "a" / "photo.png", photo_like(90, 120, seed=1))
    second = write_rgb(tmp_path / "b" / "photo.png", photo_like(120, 90, seed=2))
    bad = bad_files(tmp_path)["text"]
    status, out, err = run([first, bad, second, "--checkpoint", CHECKPOINT, "--out", tmp_path / "out"], capsys)
    assert status == 2
    assert len(out) == 2 and out[0].startswith(f"{first}: wrote") and out[1].startswith(f"{second}: wrote")
    assert len(err) == 2 and str(bad) in err[0] and "1 of 3 images failed" in err[1] and str(bad) in err[1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["photo-2.json", "photo-2.png", "photo.json",
                                                                     "photo.png"]
    check_outputs(tmp_path / "out", "photo", first)
    check_outputs(tmp_path / "out", "photo-2", second)


def test_a_crash_while_writing_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    """The second image's PNG write dies half-way: the first image's files stay whole, the second
    leaves no file and no temporary, and the command fails naming it."""
    photos = [write_rgb(tmp_path / f"{name}.png", photo_like(64, 80, seed=i)) for i, name in enumerate("xy")]
    real = Path.write_bytes
    calls = []

    def write_bytes(self, data):
        calls.append(self)
        if len(calls) == 2:
            real(self, data[: len(data) // 2])
            raise OSError(28, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    status, out, err = run([*photos, "--checkpoint", CHECKPOINT, "--out", tmp_path / "out"], capsys)
    assert status == 2 and len(out) == 1 and "No space left" in err[0] and str(photos[1]) in err[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.json", "x.png"]  # no y.*, no .tmp
    check_outputs(tmp_path / "out", "x", photos[0])


def test_box_errors_name_the_option(tmp_path, capsys):
    photo = write_rgb(tmp_path / "p.png", photo_like(80, 60))
    # A malformed box is refused before the checkpoint is even read.
    status, out, err = run([photo, "--checkpoint", tmp_path / "none.pt", "--box", "1,2,3"], capsys)
    assert status == 2 and len(err) == 1 and "--box 1,2,3" in err[0]
    status, out, err = run([photo, "--checkpoint", CHECKPOINT, "--box", "100,0,150,50", "--out", tmp_path / "o"],
                           capsys)
    assert status == 2 and len(err) == 1 and "--box 100,0,150,50" in err[0] and str(photo) in err[0]
    assert list((tmp_path / "o").iterdir()) == []


def test_out_must_be_a_folder(tmp_path, capsys):
    photo = write_rgb(tmp_path / "p.png", photo_like(80, 60))
    (tmp_path / "taken").write_text("a file")
    status, out, err = run([photo, "--checkpoint", CHECKPOINT, "--out", tmp_path / "taken"], capsys)
    assert status == 2 and len(err) == 1 and "--out" in err[0]
