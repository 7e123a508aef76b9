"""Every dataset hglearn knows, in one table: its joint set, splits, evaluation split, the
annotation formats `hglearn data prepare` reads, and the files `hglearn data download` fetches.

    DATASETS["mpii"].joint_set        # MPII: 16 joints
    DATASETS["lsp"].eval_split        # "test"
    dataset_spec("lspet").splits      # ("train",)

Adding a dataset is one entry here (plus its loader in data/). The loaders, `make_dataset`,
evaluation, training and the command line all take their lists from this table. It imports only
`hglearn.joints` and `hglearn.errors`, so a config can be resolved without the data pipeline (or torch).

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
    converts, the default first (none for SynthPose, which is generated); resources: its downloads."""

    name: str
    joint_set: JointSet
    splits: tuple[str, ...]
    eval_split: str | None
    sources: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()


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
)}


def dataset_spec(name: str) -> DatasetSpec:
    """The catalogue entry `name`; an unknown name is a ConfigError listing the known ones."""
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def eval_split(name: str) -> str:
    """The split a dataset is scored on (its entry's eval_split): MPII and SynthPose "val" (Tompson's
    split), LSP and FLIC "test". A training-only dataset (LSP-extended) is a ConfigError naming the
    datasets of the same joints that can score it."""
    spec = dataset_spec(name)
    if spec.eval_split is None:
        scorers = [other.name for other in DATASETS.values() if other.joint_set == spec.joint_set and other.eval_split]
        raise ConfigError(f"{name} has a training split only: evaluate on another dataset of the same joints "
                          f"({', '.join(scorers) or 'none yet'})")
    return spec.eval_split


def downloadable() -> list[str]:
    """The datasets `hglearn data download` fetches (those with files to download)."""
    return [spec.name for spec in DATASETS.values() if spec.resources]


def preparable() -> list[str]:
    """The datasets `hglearn data prepare` converts (those with annotation formats to read)."""
    return [spec.name for spec in DATASETS.values() if spec.sources]
