"""`PoseDataset`: one interface that turns the `PoseRecord`s of any dataset into training tensors.

Taught in notebooks/06_heatmaps_pckh.ipynb.
"""
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from hglearn.data.records import DatasetError, PoseRecord, check_record, resolve_under
from hglearn.data.transforms import Augmentation, apply_affine, crop_matrix, sample_augmentation, warp_image
from hglearn.heatmaps import render
from hglearn.joints import JointSet
from hglearn.metrics import head_size, torso_size

ImageReader = Callable[[int, PoseRecord], np.ndarray]


JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"


def decode_image(data: bytes, *, file: str | Path, record: int | None = None) -> np.ndarray:
    """The bytes of an image file as (H, W, 3) uint8 RGB; anything that is not a whole image raises
    DatasetError naming the file (and the record).

    The rules: OpenCV must decode it, within its pixel limit (a header claiming 100000 × 100000 is
    refused, not allocated). JPEG data (starting with the start-of-image marker FF D8) must end
    with the end-of-image marker FF D9, trailing NUL padding aside: libjpeg decodes a truncated file
    or one whose header is followed by garbage with only a warning on stderr, and training would
    then see a grey image. EXIF orientation is ignored: the annotations refer to the stored pixel grid.
    """
    def fail(message: str):
        raise DatasetError(message, file=file, record=record, field="image")

    if data.startswith(JPEG_START) and not data.rstrip(b"\0").endswith(JPEG_END):
        fail("truncated or corrupt JPEG: the file does not end with the end-of-image marker FF D9 "
             "(download it again; re-save it if it carries extra data after the image)")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error as error:  # e.g. "pixels <= CV_IO_MAX_IMAGE_PIXELS" for a huge header
        detail = str(error).strip().splitlines()[-1].split(" error: ", 1)[-1]
        fail(f"image could not be decoded (OpenCV refused it: {detail})")
    if image is None:
        fail("image could not be decoded")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def file_image_reader(root: str | Path) -> ImageReader:
    """A `read_image` for datasets stored as files: record.image under root, as (H, W, 3) uint8 RGB.

    A path leaving root (read lexically: root/images may be a symbolic link), a missing file, or
    one that `decode_image` refuses raises DatasetError naming the file and the record.
    """
    def read_image(index: int, record: PoseRecord) -> np.ndarray:
        path = resolve_under(root, record.image, record=index, field="image")
        if not path.is_file():
            raise DatasetError("image file not found", file=path, record=index, field="image")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise DatasetError(f"cannot read the image: {error.strerror or error}", file=path, record=index,
                               field="image") from None
        return decode_image(data, file=path, record=index)

    return read_image


class PoseDataset(torch.utils.data.Dataset):
    """Records → image crop, target heatmaps, target weights and the meta evaluation needs.

    Item i, in order (the pipeline of Newell et al. 2016's code):
    1. draw the augmentation from np.random.default_rng([seed, epoch, i]), or none when augment is None;
    2. one matrix maps the person box, scaled, rotated and mirrored, onto the input_res² crop;
    3. when mirrored, left and right joints swap (joint_set.flip_index), so channel j stays joint j;
    4. the joints go through the same box onto the out_res² heatmap, drawn as Gaussians of width
       sigma; joints not annotated or outside the crop get target weight 0;
    5. each colour channel is multiplied by its jitter factor and clipped to [0, 1].

    Returns a dict:
    - image (3, input_res, input_res) float32 RGB in [0, 1], as Newell et al.'s Torch code fed it. No
      ImageNet mean/std normalisation: the network is trained from scratch, not from ImageNet weights.
    - heatmaps (J, out_res, out_res) float32 and target_weight (J,) float32.
    - meta: index; center (2,), scale (the crop's, augmentation included), rotation, flip;
      joints (J, 2) in original-image pixels, visible (J,), annotated (J,), all permuted like the
      channels when flipped; head_size and torso_size (NaN when missing); matrix (2, 3), image → input
      crop, for `heatmap_to_image`.

    Every annotated joint is supervised, occluded ones included, as in Newell et al.'s code: PCKh
    scores occluded joints, so the network must learn to place a hidden wrist too.
    With DataLoader workers, call set_epoch before each epoch's iteration (the workers copy the
    dataset when the iteration starts, unless persistent_workers is set).

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """

    def __init__(self, records: list[PoseRecord], read_image: ImageReader, joint_set: JointSet,
                 input_res: int = 256, out_res: int = 64, sigma: float = 1.0,
                 augment: Augmentation | None = None, seed: int = 0):
        for index, record in enumerate(records):  # a bad record must never become a wrong target
            check_record(record, index, file=record.image, num_joints=joint_set.num_joints)
        self.records, self.read_image, self.joint_set = records, read_image, joint_set
        self.input_res, self.out_res, self.sigma = input_res, out_res, sigma
        self.augment, self.seed, self.epoch = augment, seed, 0
        # The PCKh and PCK normalisers of every person, once: they do not change with the augmentation.
        self.head_sizes = [float("nan") if r.head_box is None else float(head_size(r.head_box[None])[0]) for r in records]
        self.torso_sizes = [float(torso_size(r.joints[None], r.annotated[None], joint_set)[0]) for r in records]

    def set_epoch(self, epoch: int) -> None:
        """Draw a new augmentation per item: the random stream is keyed by (seed, epoch, index)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def image(self, index: int) -> np.ndarray:
        """The whole original image of person `index`, (H, W, 3) uint8 RGB, before any crop."""
        return self.read_image(index, self.records[index])

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        """Person `item` with the augmentation of the epoch set by `set_epoch`, or, for an
        `(epoch, index)` pair, with that epoch's: how the training loader asks, so that its worker
        processes, which hold their own copies of the dataset, need no word when an epoch begins."""
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        record = self.records[index]
        image = self.read_image(index, record)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise DatasetError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}",
                               file=record.image, record=index, field="image")

        # 1. Augmentation.
        scale_mult, rotation, flip, color = 1.0, 0.0, False, np.ones(3)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, epoch, index])
            scale_mult, rotation, flip, color = sample_augmentation(self.augment, rng)
        scale = record.scale * scale_mult

        # 2. Crop.
        matrix = crop_matrix(record.center, scale, self.input_res, rotation, flip)  # image → input crop
        crop = warp_image(image, matrix, self.input_res)  # (input_res, input_res, 3)

        # 3. Swap left and right: a mirrored left wrist looks like a right wrist.
        order = list(self.joint_set.flip_index) if flip else list(range(self.joint_set.num_joints))
        joints_img = np.asarray(record.joints, dtype=np.float64)[order]  # (J, 2)
        visible = np.asarray(record.visible, dtype=bool)[order]
        annotated = np.asarray(record.annotated, dtype=bool)[order]

        # 4. Targets: the heatmap covers the same box as the input crop, at out_res.
        joints_hm = apply_affine(joints_img, crop_matrix(record.center, scale, self.out_res, rotation, flip))
        inside = ((joints_hm > -0.5) & (joints_hm < self.out_res - 0.5)).all(axis=1)  # (J,)
        heatmaps, target_weight = render(joints_hm, annotated & inside, self.out_res, self.sigma)

        # 5. Colour: one multiply from uint8 to float32 in [0, 1.2], then clipped at 1 in place.
        pixels = crop * (color / 255.0).astype(np.float32)  # (input_res, input_res, 3)
        np.minimum(pixels, 1.0, out=pixels)

        meta = {
            "index": index,
            "center": torch.as_tensor(record.center, dtype=torch.float32),
            "scale": float(scale),
            "rotation": rotation,
            "flip": flip,
            "joints": torch.as_tensor(joints_img, dtype=torch.float32),
            "visible": torch.from_numpy(visible),
            "annotated": torch.from_numpy(annotated),
            "head_size": self.head_sizes[index],
            "torso_size": self.torso_sizes[index],
            "matrix": torch.as_tensor(matrix, dtype=torch.float32),
        }
        return {
            "image": torch.from_numpy(pixels.transpose(2, 0, 1).copy()),  # (3, input_res, input_res)
            "heatmaps": torch.from_numpy(heatmaps),
            "target_weight": torch.from_numpy(target_weight),
            "meta": meta,
        }
