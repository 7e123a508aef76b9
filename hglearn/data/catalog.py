"""Every dataset hglearn knows, in one table: its joint set, splits, evaluation split, the
annotation formats `hglearn data prepare` reads, and the files `hglearn data download` fetches.

    DATASETS["mpii"].joint_set        # MPII: 16 joints
    DATASETS["lsp"].eval_split        # "test"
    dataset_spec("lspet").splits      # ("train",)
    split_parts("lsp+lspet", "train")  # ("lsp", "lspet"): the usual LSP protocol's training images

Adding a dataset is one entry here (plus its loader in data/). The loaders, `make_dataset`,
evaluation, training and the command line all take their lists from this table. It imports only
`hglearn.joints` and `hglearn.errors`, so a config can be resolved without the data pipeline (or torch).

A dataset may be made of others (`parts`): it has no files of its own, and each of its splits is
the same split of its parts, concatenated. "lsp+lspet" is the usual LSP protocol: LSP's 1,000
training images and LSP-extended's 10,000, scored with PCK@0.2 on LSP's 1,000 test images.

The datasets are described in data/README.md (sizes, licences, layout on disk).
"""
from dataclasses import dataclass

from hglearn.errors import ConfigError
from hglearn.joints import FLIC, LSP, MPII, JointSet


@dataclass(frozen=True)
class Resource:
    """One file to download. stated_size is the size the publisher states (None where not verified);
    sha256 None means no digest is recorded yet: `download` prints the one it computes."""

    url: str
    filename: str
    sha256: str | None
    stated_size: str | None
    unpack_to: str = "."  # folder under the dataset root that the archive is unpacked into


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset. splits: the splits it has on disk (after `hglearn data prepare`); eval_split:
    the one it is scored on (None: it has no test split); sources: the annotation formats `prepare`
    converts, the default first (none for SynthPose, which is generated); resources: its downloads.
    parts: for a dataset made of others, their names: its split S is split S of every part that has
    one, concatenated, and its data_root is the folder that holds one folder per part, named after it."""

    name: str
    joint_set: JointSet
    splits: tuple[str, ...]
    eval_split: str | None
    sources: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()
    parts: tuple[str, ...] = ()


# Addresses as published on each dataset's page (MPII: human-pose.mpi-inf.mpg.de, "Download";
# mmpose's conversion: mmpose's dataset documentation; LSP and LSP-extended: sam.johnson.io/research;
# FLIC: the address used by several projects for bensapp.github.io/flic-dataset.html's archive).
# No SHA-256 is recorded here: none could be verified yet. Fill each in after the first verified
# download, from the digest `download` prints.
_MPII_FILES = (
    Resource("https://datasets.d2.mpi-inf.mpg.de/andriluka14cvpr/mpii_human_pose_v1.tar.gz",
             "mpii_human_pose_v1.tar.gz", sha256=None, stated_size="12.9 GB"),  # unpacks to images/
    Resource("https://datasets.d2.mpi-inf.mpg.de/andriluka14cvpr/mpii_human_pose_v1_u12_2.zip",
             "mpii_human_pose_v1_u12_2.zip", sha256=None, stated_size="12.5 MB"),  # the official .mat
    # mpii_{train,val,trainval,test}.json and mpii_gt_val.mat: the Tompson split and the val ground truth.
    Resource("https://download.openmmlab.com/mmpose/datasets/mpii_annotations.tar",
             "mpii_annotations.tar", sha256=None, stated_size=None, unpack_to="mmpose"),
)
# TensorFlow Datasets records, for the copy of FLIC.zip behind the Google Drive link of the FLIC
# page, 300,257,553 bytes and SHA-256 778a4847f068592af40e959381c153838e4f68bb1d798e3824a9d88e5b881955
# (tensorflow_datasets/url_checksums/flic.txt). Not recorded as this address's digest: that the two
# files are the same is not verified.
_FLIC_FILES = (Resource("http://vision.grasp.upenn.edu/video/FLIC.zip", "FLIC.zip", sha256=None, stated_size=None),)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    # SynthPose: generated per (seed, index); scored on a validation set drawn from a fixed seed.
    DatasetSpec("synth", MPII, splits=("train", "val"), eval_split="val"),
    # MPII: Tompson et al.'s train/val split of the annotated training images (the test labels are private).
    DatasetSpec("mpii", MPII, splits=("train", "val"), eval_split="val", sources=("mmpose", "mat", "bearpaw"),
                resources=_MPII_FILES),
    DatasetSpec("lsp", LSP, splits=("train", "test"), eval_split="test", sources=("mat",), resources=(
        Resource("http://sam.johnson.io/research/lsp_dataset.zip", "lsp_dataset.zip", sha256=None, stated_size=None),)),
    # LSP-extended: 10,000 training images only; models trained on it are scored on LSP's test split.
    DatasetSpec("lspet", LSP, splits=("train",), eval_split=None, sources=("mat",), resources=(
        Resource("http://sam.johnson.io/research/lspet_dataset.zip", "lspet_dataset.zip", sha256=None,
                 stated_size=None),)),
    DatasetSpec("flic", FLIC, splits=("train", "test"), eval_split="test", sources=("mat",), resources=_FLIC_FILES),
    # The usual LSP protocol: train on LSP's train split and all of LSP-extended (11,000 images),
    # score on LSP's test split (LSP-extended has no test split). data_root holds lsp/ and lspet/.
    DatasetSpec("lsp+lspet", LSP, splits=("train", "test"), eval_split="test", parts=("lsp", "lspet")),
)}


def dataset_spec(name: str) -> DatasetSpec:
    """The catalogue entry `name`; an unknown name is a ConfigError listing the known ones."""
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def split_parts(name: str, split: str) -> tuple[str, ...]:
    """The datasets whose split `split` makes up that split of dataset `name`: (name,) for a dataset
    of its own files, else those of its parts that have the split, in the entry's order."""
    spec = dataset_spec(name)
    if not spec.parts:
        return (name,)
    return tuple(part for part in spec.parts if split in dataset_spec(part).splits)


def eval_split(name: str) -> str:
    """The split a dataset is scored on (its entry's eval_split): MPII and SynthPose "val" (Tompson's
    split), LSP and FLIC "test". A training-only dataset (LSP-extended) is a ConfigError naming the
    datasets of the same joints that can score it, and a combined dataset that trains on it."""
    spec = dataset_spec(name)
    if spec.eval_split is None:
        scorers = [other.name for other in DATASETS.values()
                   if other.joint_set == spec.joint_set and other.eval_split and not other.parts]
        message = (f"{name} has a training split only: evaluate on another dataset of the same joints "
                   f"({', '.join(scorers) or 'none yet'})")
        combined = next((c for c in DATASETS.values() if name in c.parts and c.eval_split), None)
        if combined is not None:
            message += (f"; to train on it, use --dataset={combined.name}, which trains on "
                        f"{' and '.join(split_parts(combined.name, 'train'))} and scores on "
                        f"{' and '.join(split_parts(combined.name, combined.eval_split))}'s {combined.eval_split} "
                        f"split, with data_root the folder holding {'/ and '.join(combined.parts)}/")
        raise ConfigError(message)
    return spec.eval_split


def downloadable() -> list[str]:
    """The datasets `hglearn data download` fetches (those with files to download)."""
    return [spec.name for spec in DATASETS.values() if spec.resources]


def preparable() -> list[str]:
    """The datasets `hglearn data prepare` converts (those with annotation formats to read)."""
    return [spec.name for spec in DATASETS.values() if spec.sources]
