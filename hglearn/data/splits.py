"""Which records and images a dataset name and split stand for, as a ready `PoseDataset`.

    make_dataset("synth", "train", input_res=64)                 # generated, no files
    make_dataset("mpii", "val", root="~/datasets/mpii")          # after `hglearn data prepare`

SynthPose's validation images come from a fixed seed, so every run is scored on the same images
whatever its training seed. Real datasets read `ROOT/annotations/<split>.json`.
"""
from pathlib import Path

import numpy as np

from hglearn.data.dataset import PoseDataset, file_image_reader
from hglearn.data.download import load_prepared
from hglearn.data.records import PoseRecord
from hglearn.data.synth import SynthConfig, SynthPose
from hglearn.data.transforms import Augmentation
from hglearn.joints import JOINT_SETS, MPII, JointSet

DATASET_NAMES = ("synth", "mpii", "lsp", "lspet", "flic")
SYNTH_VAL_SEED = 1_000_003


class CachedReader:
    """Remembers every image it has read: a SynthPose pool is drawn once, then only cropped.

    Drawing a 64-px figure costs about as much as one training step's share of the image, so a
    pool of a few thousand images drawn once trains faster than fresh images, with no sign of
    over-fitting within minutes. Each DataLoader worker keeps its own copy, and workers end with
    their epoch, so with num_workers > 0 the images are drawn again every epoch (by the workers, in
    parallel); the default CPU run uses the main process and draws each image once.
    """

    def __init__(self, read_image):
        self.read_image, self.images = read_image, {}

    def __call__(self, index: int, record: PoseRecord) -> np.ndarray:
        if index not in self.images:
            self.images[index] = self.read_image(index, record)
        return self.images[index]


def eval_split(name: str) -> str:
    """The split a dataset is scored on: MPII and SynthPose "val" (Tompson's split), LSP and FLIC "test"."""
    if name == "lspet":
        raise ValueError("LSP-extended has a training split only: evaluate on 'lsp'")
    return "val" if name in ("synth", "mpii") else "test"


def joint_set_of(name: str) -> JointSet:
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    return MPII if name == "synth" else JOINT_SETS["lsp" if name == "lspet" else name]


def make_dataset(name: str, split: str, *, input_res: int = 256, sigma: float = 1.0,
                 augment: Augmentation | None = None, seed: int = 0, root: str | None = None,
                 synth_difficulty: str = "cluttered", synth_images: int = 4096) -> PoseDataset:
    """A PoseDataset for `name` ("synth", "mpii", "lsp", "lspet", "flic") and `split`.

    SynthPose: `synth_images` images of input_res pixels at `synth_difficulty`, drawn once and kept
    in memory; the training split uses `seed`, the validation split SYNTH_VAL_SEED.
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    if name == "synth":
        synth_seed = seed if split == "train" else SYNTH_VAL_SEED
        synth = SynthPose(SynthConfig(image_size=input_res, difficulty=synth_difficulty, seed=synth_seed),
                          length=synth_images)
        records, read_image = synth.records(), CachedReader(synth.read_image)
    else:
        if root is None:
            raise ValueError(f"dataset {name!r} needs its folder: set data_root (see data/README.md)")
        root_path = Path(root).expanduser()
        records = load_prepared(root_path / "annotations" / f"{split}.json", joint_set_of(name).num_joints)
        read_image = file_image_reader(root_path)
    return PoseDataset(records, read_image, joint_set_of(name), input_res=input_res, out_res=input_res // 4,
                       sigma=sigma, augment=augment, seed=seed)
