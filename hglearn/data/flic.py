"""FLIC, Frames Labeled In Cinema (Sapp & Taskar, CVPR 2013): 5003 movie frames, upper bodies.

`examples.mat` holds a struct array `examples`, one per image, with `filepath` (the image's name
in images/), `coords` (2 × 29, x and y of 29 points, 1-based, NaN where not annotated: 11 are
annotated, picked by `hglearn.joints.FLIC_COORD_ROWS`), `istrain` / `istest` (3987 / 1016 images),
`torsobox` and `imgdims`. There is no visibility flag (the authors rejected images whose person
was occluded), so every annotated joint is visible, and no head box (PCK@0.2 uses the torso).
The person box comes from the joints, with the rule of `hglearn.data.lsp.box_from_joints`.

Taught in notebooks/00_pose_primer.ipynb.
"""
from pathlib import Path

import numpy as np

from hglearn.errors import ConfigError
from hglearn.data.lsp import records_from_joints
from hglearn.data.records import DatasetError, PoseRecord, read_mat
from hglearn.joints import FLIC, FLIC_COORD_ROWS


def load_flic(root: str | Path, split: str = "train") -> list[PoseRecord]:
    """The FLIC people of split "train" (istrain), "test" (istest) or "all" under root, which holds
    examples.mat and images/. Record indices in errors are 0-based positions in `examples`."""
    if split not in ("train", "test", "all"):
        raise ConfigError(f"split must be one of train, test, all; got {split!r}")
    path = Path(root) / "examples.mat"
    examples = read_mat(path, required=("examples",))["examples"]
    examples = list(examples.ravel()) if isinstance(examples, np.ndarray) else [examples]

    joints, annotated, images, indices = [], [], [], []
    for n, example in enumerate(examples):
        try:
            is_train, is_test = bool(example.istrain), bool(example.istest)
            coords = np.asarray(example.coords, dtype=np.float64)
            name = example.filepath
        except AttributeError as error:
            raise DatasetError(f"field missing ({error})", file=path, record=n) from None
        except (TypeError, ValueError) as error:
            raise DatasetError(f"unreadable example ({error})", file=path, record=n) from None
        if split == "train" and not is_train or split == "test" and not is_test:
            continue
        if coords.shape != (2, 29):
            raise DatasetError(f"expected shape 2x29, got {'x'.join(map(str, coords.shape))}", file=path,
                               record=n, field="coords")
        if not isinstance(name, str) or not name:
            raise DatasetError(f"expected an image file name, got {name!r}", file=path, record=n, field="filepath")
        points = coords[:, FLIC_COORD_ROWS].T  # (11, 2)
        joints.append(points - 1.0)
        annotated.append(~np.isnan(points).any(axis=1))
        images.append(name if name.startswith("images/") else f"images/{name}")
        indices.append(n)

    joints = np.array(joints).reshape(-1, FLIC.num_joints, 2)
    annotated = np.array(annotated, dtype=bool).reshape(-1, FLIC.num_joints)
    return records_from_joints(joints, annotated.copy(), annotated, images, file=path, indices=indices,
                               num_joints=FLIC.num_joints)
