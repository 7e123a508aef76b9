"""Which records and images a dataset name and split stand for, as a ready `PoseDataset`.

    make_dataset("synth", "train", input_res=64)                 # generated, no files
    make_dataset("mpii", "val", root="~/datasets/mpii")          # after `hglearn data prepare`

SynthPose's validation images come from a fixed seed, so every run is scored on the same images
whatever its training seed. Real datasets read `ROOT/annotations/<split>.json`.
"""
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from hglearn.config import TrainConfig
from hglearn.data.catalog import dataset_spec, eval_split
from hglearn.data.dataset import PoseDataset, file_image_reader
from hglearn.data.records import PoseRecord, load_prepared
from hglearn.data.synth import SynthConfig, SynthPose
from hglearn.data.transforms import Augmentation
from hglearn.errors import ConfigError

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


def make_dataset(name: str, split: str, *, input_res: int = 256, sigma: float = 1.0,
                 augment: Augmentation | None = None, seed: int = 0, root: str | None = None,
                 synth_difficulty: str = "cluttered", synth_images: int = 4096) -> PoseDataset:
    """A PoseDataset for the dataset `name` of `hglearn.data.catalog.DATASETS` and one of its splits.

    The catalogue says which splits exist and which joint set the records have, so a prepared file
    with the wrong joint count is refused here rather than deep inside training.
    SynthPose: `synth_images` images of input_res pixels at `synth_difficulty`, drawn once and kept
    in memory; the training split uses `seed`, the validation split SYNTH_VAL_SEED.
    """
    spec = dataset_spec(name)
    if split not in spec.splits:
        raise ConfigError(f"dataset {name!r} has no split {split!r}; choose one of {', '.join(spec.splits)}")
    if name == "synth":
        synth_seed = seed if split == "train" else SYNTH_VAL_SEED
        synth = SynthPose(SynthConfig(image_size=input_res, difficulty=synth_difficulty, seed=synth_seed),
                          length=synth_images)
        records, read_image = synth.records(), CachedReader(synth.read_image)
    else:
        if root is None:
            raise ConfigError(f"dataset {name!r} needs its folder: set data_root (see data/README.md)")
        root_path = Path(root).expanduser()
        records = load_prepared(root_path / "annotations" / f"{split}.json", spec.joint_set.num_joints)
        read_image = file_image_reader(root_path)
    return PoseDataset(records, read_image, spec.joint_set, input_res=input_res, out_res=input_res // 4,
                       sigma=sigma, augment=augment, seed=seed)


def make_val_set(cfg: TrainConfig, split: str | None = None) -> PoseDataset:
    """The set a run is scored on: `split` (default: the dataset's evaluation split) of cfg.dataset,
    at the run's input size and σ, without augmentation. SynthPose: cfg.val_images images."""
    return make_dataset(cfg.dataset, split or eval_split(cfg.dataset), input_res=cfg.input_res, sigma=cfg.sigma,
                        root=cfg.data_root, synth_difficulty=cfg.synth_difficulty, synth_images=cfg.val_images)


def make_datasets(cfg: TrainConfig) -> tuple[PoseDataset, PoseDataset]:
    """A run's training set (augmented when cfg.augment, seeded by cfg.seed) and validation set.
    Training, `hglearn eval` and the notebooks all map a TrainConfig onto datasets through here."""
    train_set = make_dataset(cfg.dataset, "train", input_res=cfg.input_res, sigma=cfg.sigma,
                             augment=Augmentation() if cfg.augment else None, seed=cfg.seed, root=cfg.data_root,
                             synth_difficulty=cfg.synth_difficulty, synth_images=cfg.synth_images)
    return train_set, make_val_set(cfg)


def draw_pool(dataset: PoseDataset, *, progress: bool = True, desc: str = "drawing images") -> None:
    """Read every image of a dataset whose reader keeps them (SynthPose's `CachedReader`) now, with
    a progress bar of its own: otherwise the first epoch also draws them and runs at a fraction of
    the others' speed, and a training bar's time estimate is hours too long. Other readers: nothing."""
    if isinstance(dataset.read_image, CachedReader):
        for index in tqdm(range(len(dataset)), desc=desc, unit="image", disable=not progress):
            dataset.image(index)
