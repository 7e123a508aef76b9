"""Which records and images a dataset name and split stand for, as a ready `PoseDataset`.

    make_dataset("synth", "train", input_res=64)                 # generated, no files
    make_dataset("mpii", "val", root="~/datasets/mpii")          # after `hglearn data prepare`
    make_dataset("lsp+lspet", "train", root="~/datasets")        # ~/datasets/lsp and ~/datasets/lspet

SynthPose's validation images come from a fixed seed, so every run is scored on the same images
whatever its training seed. Real datasets read `ROOT/annotations/<split>.json`. A dataset made of
others (the catalogue's `parts`, such as the LSP protocol's "lsp+lspet") reads each part's split
from `ROOT/<part>/annotations/<split>.json`, its image paths then relative to ROOT.
"""
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from hglearn.config import TrainConfig
from hglearn.data.catalog import dataset_spec, eval_split, split_parts
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
    over-fitting within minutes. `hglearn.train.train` draws the whole pool in the main process
    before the first step (`draw_pool`), so that DataLoader workers, forked after it, share it: a
    worker that found the cache empty would draw every image it is asked for again, and over a run's
    epochs each of W workers would draw and hold nearly the whole pool (W times the memory).
    """

    def __init__(self, read_image):
        self.read_image, self.images = read_image, {}

    def __call__(self, index: int, record: PoseRecord) -> np.ndarray:
        if index not in self.images:
            self.images[index] = self.read_image(index, record)
        return self.images[index]


def load_split(name: str, split: str, root: Path) -> list[PoseRecord]:
    """The prepared records of one split of a real dataset under root: ROOT/annotations/<split>.json,
    or for a dataset made of others, that split of each part, read from ROOT/<part>, concatenated
    (image paths prefixed with the part's folder, so that they stay relative to root)."""
    spec = dataset_spec(name)
    if not spec.parts:
        return load_prepared(root / "annotations" / f"{split}.json", spec.joint_set.num_joints)
    records = []
    for part in split_parts(name, split):
        path = root / part / "annotations" / f"{split}.json"
        if not path.is_file():
            raise FileNotFoundError(f"dataset {name!r} reads {part} from data_root/{part}, data_root being the "
                                    f"folder holding {'/ and '.join(spec.parts)}/: {path} not found "
                                    f"(run `hglearn data prepare {part} --root {root / part}`)")
        for record in load_prepared(path, spec.joint_set.num_joints):
            record.image = f"{part}/{record.image}"
            records.append(record)
    return records


def make_dataset(name: str, split: str, *, input_res: int = 256, sigma: float = 1.0,
                 augment: Augmentation | None = None, seed: int = 0, root: str | None = None,
                 synth_difficulty: str = "cluttered", synth_images: int = 4096) -> PoseDataset:
    """A PoseDataset for the dataset `name` of `hglearn.data.catalog.DATASETS` and one of its splits.

    The catalogue says which splits exist and which joint set the records have, so a prepared file
    with the wrong joint count is refused here rather than deep inside training. root is the
    dataset's folder, or for a dataset made of others the folder of its parts' folders (`load_split`).
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
            folder = f"the folder holding {'/ and '.join(spec.parts)}/" if spec.parts else "its folder"
            raise ConfigError(f"dataset {name!r} needs {folder}: set data_root (see data/README.md)")
        root_path = Path(root).expanduser()
        records, read_image = load_split(name, split, root_path), file_image_reader(root_path)
    return PoseDataset(records, read_image, spec.joint_set, input_res=input_res, out_res=input_res // 4,
                       sigma=sigma, augment=augment, seed=seed)


def make_val_set(cfg: TrainConfig, split: str | None = None) -> PoseDataset:
    """The set a run is scored on: `split` (default: the dataset's evaluation split) of cfg.dataset,
    at the run's input size and σ, without augmentation. SynthPose: cfg.val_images images."""
    return make_dataset(cfg.dataset, split or eval_split(cfg.dataset), input_res=cfg.input_res, sigma=cfg.sigma,
                        root=cfg.data_root, synth_difficulty=cfg.synth_difficulty, synth_images=cfg.val_images)


def make_datasets(cfg: TrainConfig) -> tuple[PoseDataset, PoseDataset]:
    """A run's training set (augmented when cfg.augment, seeded by cfg.seed) and validation set.
    Training, `hglearn eval` and the notebooks all map a TrainConfig onto datasets through here.
    A dataset with nothing to validate on (LSP-extended) is refused before its annotations are read."""
    val_split = eval_split(cfg.dataset)
    train_set = make_dataset(cfg.dataset, "train", input_res=cfg.input_res, sigma=cfg.sigma,
                             augment=Augmentation() if cfg.augment else None, seed=cfg.seed, root=cfg.data_root,
                             synth_difficulty=cfg.synth_difficulty, synth_images=cfg.synth_images)
    return train_set, make_val_set(cfg, val_split)


def draw_pool(dataset: PoseDataset, *, progress: bool = True, desc: str = "drawing images") -> None:
    """Read every image of a dataset whose reader keeps them (SynthPose's `CachedReader`) now, with
    a progress bar of its own: otherwise the first epoch also draws them and runs at a fraction of
    the others' speed, and a training bar's time estimate is hours too long. Other readers: nothing."""
    if isinstance(dataset.read_image, CachedReader):
        for index in tqdm(range(len(dataset)), desc=desc, unit="image", disable=not progress):
            dataset.image(index)
