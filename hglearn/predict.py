"""Single-person pose on any photo: read it, crop the person, predict, map the joints back, save.

    image = read_photo("me.jpg")                        # (H, W, 3) uint8 RGB, EXIF orientation applied
    pose = predict_pose(model, image, input_res=256, joint_set=MPII, box=(120, 40, 380, 610), flip=True)
    pose.joints                                          # (16, 2) in the photo's pixels

The person box (x0, y0, x1, y1) becomes the (center, scale) crop the datasets use: a square of side
200·scale px around the box's middle, `mpii.BOX_PAD` = 1.25 times the box's longer side. That is how
SynthPose frames the box around its drawn figure (`synth.make_record`) and what MPII's person box
amounts to (1.25 × the person's height); LSP's joint box pads by the same 1.25. MPII's downward shift
of the centre (`mpii.BOX_SHIFT`) is left out: it moves the annotated objpos, a point on the torso,
towards the body's middle, and the middle of a box is that already. Without a box the whole image is
the box, so a person who fills the photo fills the crop as a training person does.

Coordinates are hglearn's everywhere: 0-based pixels with pixel centres on integers, so an image W
pixels wide spans [−0.5, W − 0.5]; the box is given in the same coordinates as the joints come back.

`hglearn predict IMAGE... --checkpoint CKPT [--box x0,y0,x1,y1] [--flip] [--out DIR]` writes, per image,
the photo with its skeleton (`<stem>.png`) and the joints (`<stem>.json`), both through `atomic_path`.
"""
import json
import struct
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch

from hglearn.data.dataset import JPEG_END, JPEG_START
from hglearn.data.mpii import BOX_PAD
from hglearn.data.transforms import crop_matrix, heatmap_to_image, warp_image
from hglearn.errors import ConfigError, DatasetError
from hglearn.evaluate import predict_heatmaps
from hglearn.files import atomic_path
from hglearn.heatmaps import decode
from hglearn.joints import JointSet
from hglearn.models import eval_mode
from hglearn.viz import draw_pose

# 250 megapixels: well above a camera's photo; a larger file is a panorama or a scan to crop first,
# or a decompression bomb. Decoded, 250 MP is 750 MB of 8-bit RGB, 2 GB as 16-bit RGBA.
MAX_PIXELS = 250_000_000
# Below 16 px on the shorter side there is no person left to see: blown up to the 64- or 256-px crop,
# it is a blur.
MIN_SIDE = 16
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# Reading a photo


def bad_photo(path: Path, message: str) -> DatasetError:
    """The one error every bad photo gets: a DatasetError naming the file."""
    return DatasetError(message, file=path)


def stored_pixels(data: bytes) -> int | None:
    """The pixel count the file's header promises (at least), read without decoding the image, or None.

    PNG: width and height are the first fields of the IHDR chunk, bytes 16-24, big-endian (PNG spec
    §11.2.2). JPEG: libjpeg's 1/8 DCT scaling (IMREAD_REDUCED_GRAYSCALE_8) decodes 1/64 of the
    pixels; its ⌈w/8⌉ × ⌈h/8⌉ gives the lower bound (8(w' − 1) + 1)·(8(h' − 1) + 1). Other formats
    return None: for them OpenCV's own header check (CV_IO_MAX_IMAGE_PIXELS, 2^30 by default) is the
    only one before the decode, and MAX_PIXELS is checked on the decoded size.
    """
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width * height
    if data.startswith(JPEG_START):
        try:
            small = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
        except cv2.error:  # the full decode reports it, with OpenCV's reason
            return None
        if small is not None:
            h8, w8 = small.shape[:2]
            return (8 * (w8 - 1) + 1) * (8 * (h8 - 1) + 1)
    return None


def imdecode(data: bytes, flags: int, path: Path) -> np.ndarray:
    """cv2.imdecode, with None (not an image, corrupt, truncated) and cv2.error as a DatasetError."""
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as error:  # e.g. "pixels <= CV_IO_MAX_IMAGE_PIXELS" for a huge header
        detail = str(error).strip().splitlines()[-1].split(" error: ", 1)[-1]
        raise bad_photo(path, f"not an image OpenCV can read ({detail})") from None
    if image is None:
        raise bad_photo(path, "not an image OpenCV can read (another kind of file, or a corrupt or truncated image)")
    return image


def dihedral(image: np.ndarray) -> list[np.ndarray]:
    """The image under the 8 rotations and mirrors of a rectangle, the identity first (EXIF's 8 orientations)."""
    return [np.rot90(image[:, ::-1] if mirror else image, k) for mirror in (False, True) for k in range(4)]


def orient_like(stored: np.ndarray, shown: np.ndarray) -> np.ndarray | None:
    """`stored` (H, W, C) turned the way cv2 turned it into `shown` (H', W', 3), or None if no way fits.

    cv2 applies EXIF orientation only when it drops the alpha channel (IMREAD_UNCHANGED keeps alpha
    and ignores the orientation; TIFF's decoder orients by itself even then). So the alpha channel is
    oriented by finding the turn that maps the stored colour exactly onto cv2's oriented colour,
    whatever the format does. An image whose colour is symmetric (a flat colour) fits several turns;
    the first is taken, the identity when it fits, which is right unless the file also has an
    EXIF orientation.
    """
    colour = stored[..., :-1]
    colour = np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour  # grey + alpha
    for turned, turned_colour in zip(dihedral(stored), dihedral(colour)):
        if turned_colour.shape == shown.shape and np.array_equal(turned_colour, shown):
            return turned
    return None


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """uint8 as it is; uint16 as round(v / 257) = (v + 128) // 257, which is exact in integers and
    undoes the usual 8 → 16-bit widening v·257."""
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)


def over_white(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """colour (H, W, 3) composited over white with alpha (H, W), both uint8 or uint16: as 8-bit,

        out = 255 · (c·a + (1 − a)),   c = colour / max,  a = alpha / max  (max = 255 or 65535)
    """
    top = np.float32(np.iinfo(colour.dtype).max)
    a = alpha[..., None].astype(np.float32) / top  # (H, W, 1)
    mixed = colour.astype(np.float32) / top * a + (1 - a)  # (H, W, 3) in [0, 1]
    return np.round(mixed * 255).astype(np.uint8)


def read_photo(path: str | Path) -> np.ndarray:
    """A photo as (H, W, 3) uint8 RGB, the way an image viewer shows it.

    - EXIF orientation is applied, as cv2.imread applies it with IMREAD_COLOR (unlike the datasets'
      `decode_image`, whose annotations refer to the stored pixel grid);
    - grey is replicated into R, G and B; 16-bit channels become 8-bit (`to_8bit`);
    - alpha is composited over white (`over_white`): what a viewer shows behind a transparent photo.
      Dropping alpha instead would show whatever colour the transparent pixels happen to store,
      often black, where the user sees white.

    Refused with a DatasetError naming the file: a missing path, a folder, an empty file, anything
    OpenCV cannot decode (another kind of file, corrupt or truncated data), a JPEG without its
    end-of-image marker (OpenCV 5.0 refuses a truncated JPEG by itself, but some versions decode
    it with a grey tail, see `decode_image`), 32-bit or float
    pixels, an image with a side under MIN_SIDE, and one of more than MAX_PIXELS pixels: checked from
    the header before the decode for PNG and JPEG (`stored_pixels`), after it for other formats. Not
    detected: a JPEG damaged in its middle but ending properly, which libjpeg decodes with only a
    warning on the terminal.
    """
    path = Path(path)
    if not path.exists():
        raise bad_photo(path, "no such file")
    if path.is_dir():
        raise bad_photo(path, "is a folder, not an image")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise bad_photo(path, f"cannot read it: {error.strerror or error}") from None
    if not data:
        raise bad_photo(path, "the file is empty")
    pixels = stored_pixels(data)
    if pixels is not None and pixels > MAX_PIXELS:
        raise bad_photo(path, f"its header says at least {pixels:,} pixels, more than the limit of "
                              f"{MAX_PIXELS:,}; resize or crop it first")
    if data.startswith(JPEG_START) and not data.rstrip(b"\0").endswith(JPEG_END):
        raise bad_photo(path, "truncated or corrupt JPEG: it does not end with the end-of-image marker FF D9")

    # Colour, oriented as cv2 does it, grey replicated, alpha dropped, 8 or 16 bits kept.
    shown = imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH, path)  # (H, W, 3) BGR
    h, w = shown.shape[:2]
    if shown.dtype not in (np.uint8, np.uint16):
        raise bad_photo(path, f"{shown.dtype} pixels: only 8- and 16-bit images are read")
    if h * w > MAX_PIXELS:
        raise bad_photo(path, f"{w}×{h} = {h * w:,} pixels, more than the limit of {MAX_PIXELS:,}; "
                              f"resize or crop it first")
    if min(h, w) < MIN_SIDE:
        raise bad_photo(path, f"{w}×{h} pixels is too small: the shorter side must be at least {MIN_SIDE} px")

    bgr = to_8bit(shown)
    if not data.startswith(JPEG_START):  # JPEG has no alpha channel: spare the second decode
        stored = imdecode(data, cv2.IMREAD_UNCHANGED, path)
        if stored.ndim == 3 and stored.shape[2] in (2, 4) and stored.dtype == shown.dtype:
            turned = orient_like(stored, shown)
            if turned is not None:  # else keep cv2's colour, alpha dropped: never refuse a readable photo
                bgr = over_white(shown, turned[..., -1])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------------------------------------
# The person box and the prediction

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) in image pixels


def parse_box(text: str) -> Box:
    """`--box x0,y0,x1,y1` as four floats with x1 > x0 and y1 > y0; a ConfigError naming --box otherwise."""
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not all(np.isfinite(box)):
        raise ConfigError(f"--box {text}: expected four numbers x0,y0,x1,y1 in image pixels, such as 120,40,380,610")
    x0, y0, x1, y1 = box
    if not (x1 > x0 and y1 > y0):
        raise ConfigError(f"--box {text}: expected x1 > x0 and y1 > y0 (the top-left corner first)")
    return box


def whole_image_box(width: int, height: int) -> Box:
    """The box of the whole image: its pixels span [−0.5, W − 0.5] × [−0.5, H − 0.5]."""
    return (-0.5, -0.5, width - 0.5, height - 0.5)


def check_box(box: Box, width: int, height: int) -> None:
    """A ConfigError naming --box when the box is empty or shares no area with the W × H image."""
    x0, y0, x1, y1 = box
    if not (x1 > x0 and y1 > y0):
        raise ConfigError(f"--box {format_box(box)}: expected x1 > x0 and y1 > y0 (the top-left corner first)")
    if x1 <= -0.5 or y1 <= -0.5 or x0 >= width - 0.5 or y0 >= height - 0.5:
        raise ConfigError(f"--box {format_box(box)}: lies outside the {width}×{height} image "
                          f"(x from -0.5 to {width - 0.5}, y from -0.5 to {height - 0.5})")


def format_box(box: Box) -> str:
    """x0,y0,x1,y1 as --box takes it, without needless decimals."""
    return ",".join(f"{v:g}" for v in box)


def box_crop(box: Box) -> tuple[np.ndarray, float]:
    """(center, scale) of the crop for a person box, in the datasets' convention (see the module docstring).

        center = ((x0 + x1)/2, (y0 + y1)/2),   scale = BOX_PAD · max(x1 − x0, y1 − y0) / 200
    """
    x0, y0, x1, y1 = box
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]), BOX_PAD * max(x1 - x0, y1 - y0) / 200.0


class Prediction(NamedTuple):
    """One person's pose in a photo."""

    joints: np.ndarray  # (J, 2) float64, (x, y) in image pixels
    confidence: np.ndarray  # (J,) the heatmap maximum of each joint, as `decode` gives it
    box: Box  # the person box used: the one given, or the whole image's
    center: np.ndarray  # (2,) the crop the network saw: a square of side 200·scale px around center
    scale: float


@torch.no_grad()
def predict_pose(model: torch.nn.Module, image: np.ndarray, *, input_res: int, joint_set: JointSet,
                 box: Box | None = None, flip: bool = False) -> Prediction:
    """The pose of the person in `box` of the (H, W, 3) uint8 RGB image (default: the whole image).

    The steps of `evaluate`, for one image: crop the box to input_res², scale the pixels to [0, 1],
    predict the last stack's heatmaps (averaged with the mirrored crop's when flip, left and right
    swapped by joint_set.flip_index), decode them, and map the heatmap coordinates back through the
    crop's inverse (`heatmap_to_image`). The model runs where its parameters are.
    """
    h, w = image.shape[:2]
    box = whole_image_box(w, h) if box is None else tuple(float(v) for v in box)
    check_box(box, w, h)
    center, scale = box_crop(box)
    matrix = crop_matrix(center, scale, input_res)  # (2, 3) image → input crop
    crop = warp_image(image, matrix, input_res)  # (input_res, input_res, 3), black outside the image
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    pixels = torch.from_numpy(crop.transpose(2, 0, 1).copy()).float().div(255).unsqueeze(0)  # (1, 3, R, R)
    with eval_mode(model):
        heatmaps = predict_heatmaps(model, pixels.to(device), list(joint_set.flip_index) if flip else None)
    coords_hm, peak = decode(heatmaps.cpu())  # (1, J, 2) heatmap pixels, (1, J)
    joints = heatmap_to_image(coords_hm.double(), torch.from_numpy(matrix)[None], input_res, heatmaps.shape[-1])
    return Prediction(joints[0].numpy(), peak[0].numpy().astype(np.float64), box, center, float(scale))


# ---------------------------------------------------------------------------------------------
# Saving: a drawn PNG and a JSON per photo


def output_stems(images: list[str | Path]) -> list[str]:
    """A distinct output name per input: its stem, then `<stem>-2`, `<stem>-3`, ... for repeats.

    a/photo.jpg, b/photo.jpg, photo.png → photo, photo-2, photo-3. Every input's own stem is reserved
    first, so an input called photo-2.jpg keeps its name; names are compared case-folded because
    macOS and Windows file systems do not tell Photo.png from photo.png.
    """
    stems = [Path(p).stem for p in images]
    taken = {s.casefold() for s in stems}  # every input's own stem
    used, names = set(), []
    for stem in stems:
        name, k = stem, 2
        while name.casefold() in used or (name != stem and name.casefold() in taken):
            name, k = f"{stem}-{k}", k + 1
        used.add(name.casefold())
        names.append(name)
    return names


def pose_record(pose: Prediction, *, image_path: str | Path, image_size: tuple[int, int], joint_set: JointSet,
                input_res: int, flip: bool, checkpoint: str | Path) -> dict:
    """What the JSON holds: where the pose came from and each joint's name, x, y and confidence."""
    width, height = image_size
    return {
        "image": str(image_path),
        "image_size": {"width": width, "height": height},
        "coordinates": "pixels, 0-based, (0, 0) the centre of the top-left pixel",
        "box": list(pose.box),
        "crop": {"center": pose.center.tolist(), "scale": pose.scale, "side": 200 * pose.scale},
        "input_res": input_res,
        "flip": flip,
        "checkpoint": str(checkpoint),
        "joint_set": joint_set.name,
        # Hundredths of a pixel: a quarter heatmap pixel, the decoding's step, is several image pixels.
        "joints": [{"name": name, "x": round(float(x), 2), "y": round(float(y), 2), "confidence": round(float(c), 4)}
                   for name, (x, y), c in zip(joint_set.names, pose.joints, pose.confidence)],
    }


def draw_prediction(image: np.ndarray, pose: Prediction, joint_set: JointSet) -> np.ndarray:
    """A copy of the (H, W, 3) uint8 RGB photo with the skeleton drawn (`viz.draw_pose`), every joint
    shown whatever its confidence (the JSON has it). Lines are 1 px wide per 400 px of the longer
    side, so that they show on a 4000-px photo too."""
    h, w = image.shape[:2]
    return draw_pose(image, pose.joints, joint_set, thickness=max(1, round(max(w, h) / 400)))


def save_prediction(png_path: str | Path, json_path: str | Path, drawn: np.ndarray, record: dict) -> None:
    """The drawn (H, W, 3) RGB photo as PNG and the record as JSON, both or neither.

    Both are encoded in memory, then written to temporaries (`atomic_path`): a failure while writing
    renames neither. The PNG is renamed first and the JSON last, so a JSON means its PNG is whole;
    should the JSON's rename itself fail, the PNG just renamed is removed again.
    """
    ok, png = cv2.imencode(".png", cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"could not encode {png_path} as PNG")
    text = json.dumps(record, indent=2) + "\n"
    png_renamed = False
    try:
        with atomic_path(json_path) as json_tmp:
            json_tmp.write_text(text, encoding="utf-8")
            with atomic_path(png_path) as png_tmp:
                png_tmp.write_bytes(png.tobytes())
            png_renamed = True
    except BaseException:
        if png_renamed:
            Path(png_path).unlink(missing_ok=True)
        raise
