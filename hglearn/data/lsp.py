"""Leeds Sports Pose (Johnson & Everingham, BMVC 2010) and its extended training set (CVPR 2011).

Both ship one `joints.mat` holding a matrix `joints` of x, y and a flag for the 14 joints of
`hglearn.joints.LSP`, 1-based, but not in the same layout nor with the same flag:

| dataset | joints.mat | images | flag | split |
|---|---|---|---|---|
| LSP | 3 × 14 × 2000 | images/im0001.jpg ... im2000.jpg | 1 = occluded, 0 = visible | 1000 train, then 1000 test |
| LSP-extended | 14 × 3 × 10000 | images/im00001.jpg ... im10000.jpg | 1 = visible | all train |

The flags: the READMEs only say "visibility"; LSP's is inverted (the convolutional pose machines'
and bearpaw's conversions both use 1 − flag for LSP and the flag as is for LSP-extended). LSP gives
every joint a position, occluded ones estimated; LSP-extended's crowd-sourced positions of joints
not marked visible are not documented as reliable, so they count as not annotated (no target is
better than a wrong one).

The real files bear the flags out (tests/test_lsp_real.py): 2,044 of LSP's 28,000 flags are 1, under
1% on the head top and neck and about 10-16% on the arms, as occlusion would be; 123,213 of
LSP-extended's 140,000 are 1. Every LSP-extended record keeps at least four visible joints, so none
is left out.

No head boxes: PCK@0.2 normalises by the torso (`hglearn.joints.LSP.torso`). No person box either:
`box_from_joints` derives one from the annotated joints.

The usual protocol (as in SADI-Net, Gao et al. 2023, Sec. IV-A) trains on LSP's 1,000 training
images and LSP-extended's 10,000 and scores PCK@0.2 on LSP's 1,000 test images: the catalogue's
dataset "lsp+lspet", whose data_root holds lsp/ and lspet/, run by configs/lsp-sadinet-hg8.toml.
LSP-extended alone has nothing to score on, so `--dataset=lspet` is refused with that advice.

Taught in notebooks/00_pose_primer.ipynb.
"""
import warnings
from pathlib import Path

import numpy as np

from hglearn.errors import ConfigError
from hglearn.data.records import DatasetError, PoseRecord, check_record, mat_numbers, read_mat
from hglearn.joints import LSP

LSP_TRAIN_IMAGES = 1000  # im0001-im1000 train, im1001-im2000 test
# The crop's side over the annotated joints' bounding box (its longer side): the joints stop at
# wrists, ankles and the head top, so the margin keeps hands, feet and hair in the crop. Not
# `mpii.BOX_PAD`, which enlarges MPII's stated person scale.
JOINT_BOX_PAD = 1.25


def box_from_joints(joints: np.ndarray, annotated: np.ndarray,
                    pad: float = JOINT_BOX_PAD) -> tuple[np.ndarray, float] | None:
    """(center, scale) of a person box from the annotated joints' bounding box, or None with fewer than
    two annotated joints or a box of zero size.

    center = the middle of the box; scale = pad × max(width, height) / 200, so the square crop of side
    200·scale holds the whole box with a margin of (pad − 1)/2 of its longer side on each side.
    """
    points = joints[annotated]
    if len(points) < 2:
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    side = float((high - low).max())
    if side <= 0:
        return None
    return (low + high) / 2, pad * side / 200.0


def records_from_joints(joints: np.ndarray, visible: np.ndarray, annotated: np.ndarray, images: list[str],
                        *, file: Path, indices: list[int], num_joints: int) -> list[PoseRecord]:
    """Records from 0-based (N, J, 2) joints, with the box of `box_from_joints`; people whose box is
    undefined are left out with a warning. Shared by LSP and FLIC."""

    records, skipped = [], []
    for n, index in enumerate(indices):
        box = box_from_joints(joints[n], annotated[n])
        if box is None:
            skipped.append(index)
            continue
        record = PoseRecord(image=images[n], joints=np.where(annotated[n][:, None], joints[n], 0.0),
                            visible=visible[n] & annotated[n], annotated=annotated[n].copy(),
                            center=box[0], scale=box[1])
        check_record(record, index, file=file, num_joints=num_joints)
        records.append(record)
    if skipped:
        warnings.warn(f"{file}: {len(skipped)} records left out, fewer than two annotated joints "
                      f"(record indices {skipped[:5]}{'...' if len(skipped) > 5 else ''})", stacklevel=3)
    return records


def load_lsp(root: str | Path, split: str = "train", extended: bool = False) -> list[PoseRecord]:
    """LSP (split "train", "test" or "all") or LSP-extended (extended=True: "train" or "all") under root,
    which holds joints.mat and images/. Record indices in errors are 0-based image numbers."""
    allowed = ("train", "all") if extended else ("train", "test", "all")
    if split not in allowed:
        raise ConfigError(f"split must be one of {', '.join(allowed)} for {'LSP-extended' if extended else 'LSP'}; "
                         f"got {split!r}" + (" (LSP-extended is a training set only)" if extended else ""))
    path = Path(root) / "joints.mat"
    # Not squeezed: a one-image file must keep its image axis.
    raw = mat_numbers(read_mat(path, squeeze=False, required=("joints",))["joints"], file=path, field="joints")
    layout, other = ((14, 3), (3, 14)) if extended else ((3, 14), (14, 3))
    if raw.ndim != 3 or raw.shape[:2] != layout:
        hint = ""
        if raw.ndim == 3 and raw.shape[:2] == other:
            hint = f": this is the {'LSP' if extended else 'LSP-extended'} layout, pass extended={not extended}"
        raise DatasetError(f"expected shape {layout[0]}x{layout[1]}xN, got {'x'.join(map(str, raw.shape))}{hint}",
                           file=path, field="joints")
    points = raw.transpose(2, 0, 1) if extended else raw.transpose(2, 1, 0)  # (N, 14, 3): x, y, flag
    flags = points[:, :, 2]
    if not np.isin(flags, (0, 1)).all():
        n, j = np.argwhere(~np.isin(flags, (0, 1)))[0]
        raise DatasetError(f"visibility flag must be 0 or 1, got {flags[n, j]}", file=path, record=int(n),
                           field=f"joints[{j}]")
    visible = flags == 1 if extended else flags == 0
    annotated = visible.copy() if extended else np.ones_like(visible)
    joints = points[:, :, :2] - 1.0

    count = len(points)
    if split == "all" or extended:
        indices = list(range(count))
    elif split == "train":
        indices = list(range(min(count, LSP_TRAIN_IMAGES)))
    else:
        indices = list(range(LSP_TRAIN_IMAGES, count))
    digits = 5 if extended else 4
    images = [f"images/im{i + 1:0{digits}d}.jpg" for i in indices]
    return records_from_joints(joints[indices], visible[indices], annotated[indices], images,
                               file=path, indices=indices, num_joints=LSP.num_joints)
