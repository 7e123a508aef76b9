"""Download the real datasets, convert their annotations to hglearn's format, and read that format.

    hglearn data download NAME --root DIR       # fetch and unpack into DIR (resumable)
    hglearn data prepare NAME --root DIR        # write DIR/annotations/<split>.json

One folder per dataset (NAME one of mpii, lsp, lspet, flic). `download` keeps the archives in
DIR/downloads/, resumes an interrupted transfer where it stopped (HTTP Range), checks the SHA-256
where one is recorded and prints it always, so that a first verified download can record it.

The prepared format: one JSON file per split, DIR/annotations/<split>.json, a list of records
{"image": path relative to DIR, "joints": [[x, y], ...] 0-based pixels, "visible": [bool, ...],
"annotated": [bool, ...], "center": [x, y], "scale": s (crop side 200·s px),
"head_box": [[x1, y1], [x2, y2]] or null}, the fields of `PoseRecord`. `load_prepared` checks every
record. SynthPose exports the same layout (`save_prepared`).

The MPII format is taught in notebooks/00_pose_primer.ipynb.
"""
import argparse
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hglearn.data.records import DatasetError, PoseRecord, check_record, resolve_under
from hglearn.files import atomic_path
from hglearn.joints import JOINT_SETS


class DownloadError(ValueError):
    """A download that failed: unreachable address, HTTP error, interrupted transfer, wrong checksum."""


@dataclass(frozen=True)
class Resource:
    """One file to download. size is the size the publisher states (None where not verified);
    sha256 None means no digest is recorded yet: `download` prints the one it computes."""

    url: str
    filename: str
    sha256: str | None
    size: str | None
    unpack_to: str = "."  # folder under the dataset root that the archive is unpacked into


# Addresses as published on each dataset's page (MPII: human-pose.mpi-inf.mpg.de, "Download";
# mmpose's conversion: mmpose's dataset documentation; LSP and LSP-extended: sam.johnson.io/research;
# FLIC: the address used by several projects for bensapp.github.io/flic-dataset.html's archive).
# No SHA-256 is recorded here: none could be verified yet. Fill each in after the first verified
# download, from the digest `download` prints.
DATASETS: dict[str, tuple[Resource, ...]] = {
    "mpii": (
        Resource("https://datasets.d2.mpi-inf.mpg.de/andriluka14cvpr/mpii_human_pose_v1.tar.gz",
                 "mpii_human_pose_v1.tar.gz", sha256=None, size="12.9 GB"),  # unpacks to images/
        Resource("https://datasets.d2.mpi-inf.mpg.de/andriluka14cvpr/mpii_human_pose_v1_u12_2.zip",
                 "mpii_human_pose_v1_u12_2.zip", sha256=None, size="12.5 MB"),  # the official .mat
        # mpii_{train,val,trainval,test}.json and mpii_gt_val.mat: the Tompson split and the val ground truth.
        Resource("https://download.openmmlab.com/mmpose/datasets/mpii_annotations.tar",
                 "mpii_annotations.tar", sha256=None, size=None, unpack_to="mmpose"),
    ),
    "lsp": (
        Resource("http://sam.johnson.io/research/lsp_dataset.zip", "lsp_dataset.zip", sha256=None, size=None),
    ),
    "lspet": (
        Resource("http://sam.johnson.io/research/lspet_dataset.zip", "lspet_dataset.zip", sha256=None, size=None),
    ),
    "flic": (
        # TensorFlow Datasets records, for the copy of FLIC.zip behind the Google Drive link of the FLIC
        # page, 300,257,553 bytes and SHA-256 778a4847f068592af40e959381c153838e4f68bb1d798e3824a9d88e5b881955
        # (tensorflow_datasets/url_checksums/flic.txt). Not recorded as this address's digest: that
        # the two files are the same is not verified.
        Resource("http://vision.grasp.upenn.edu/video/FLIC.zip", "FLIC.zip", sha256=None, size=None),
    ),
}

# The splits `prepare` writes, as each dataset names them; --source choices, the default first.
SPLITS = {"mpii": ("train", "val"), "lsp": ("train", "test"), "lspet": ("train",), "flic": ("train", "test")}
SOURCES = {"mpii": ("mmpose", "mat", "bearpaw"), "lsp": ("mat",), "lspet": ("mat",), "flic": ("mat",)}


# ---------------------------------------------------------------------------------------------
# Downloading

def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, part: Path, *, progress: bool, timeout: float) -> None:
    """Append the rest of url to part, asking for the bytes it lacks; start over if the server ignores Range."""
    import http.client
    import urllib.error
    import urllib.request

    from tqdm.auto import tqdm

    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "hglearn"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left to send: the .part already holds the whole file
            total = (error.headers.get("Content-Range") or "").rpartition("/")[2]
            if total.isdigit() and int(total) == offset:
                return
            part.unlink()  # the .part is longer than the file: start over
            return _fetch(url, part, progress=progress, timeout=timeout)
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(f"{url}: cannot connect ({getattr(error, 'reason', error)})") from None

    with response:
        if response.headers.get_content_type() == "text/html":
            raise DownloadError(f"{url}: the server sent a web page instead of the file; the address may have "
                                "moved: download the file by hand into the downloads folder and run again")
        resumed = bool(offset) and response.status == 206
        if resumed and not (response.headers.get("Content-Range") or "").startswith(f"bytes {offset}-"):
            raise DownloadError(f"{url}: the server sent another range than bytes {offset}-; "
                                f"delete {part} and run again")
        start = offset if resumed else 0  # a 200 answer is the whole file again
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        with (open(part, "ab" if resumed else "wb") as f,
              tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=part.name[:-5],
                   disable=not progress) as bar):
            try:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as error:
                raise DownloadError(f"{url}: interrupted after {f.tell():,} bytes ({error!r}); "
                                    "run the command again to resume") from None
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"{url}: received {size:,} of {total:,} bytes; run the command again to resume")


def download(url: str, dest: str | Path, sha256: str | None = None, *, progress: bool = True,
             timeout: float = 60.0) -> Path:
    """Fetch url to dest, resumably: bytes go to dest + ".part", which a later call continues with an
    HTTP Range request; dest appears only once the file is complete and, when sha256 is given, matches
    it. A mismatch deletes the .part and raises DownloadError. Prints the SHA-256 it computed."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    if dest.exists():
        digest = file_sha256(dest)
        if sha256 is not None and digest != sha256.lower():
            raise DownloadError(f"{dest} exists but its SHA-256 is {digest}, not {sha256}: delete it and run again")
        print(f"{dest.name}: already downloaded, sha256 {digest}")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    _fetch(url, part, progress=progress, timeout=timeout)
    digest = file_sha256(part)
    if sha256 is not None and digest != sha256.lower():
        part.unlink()
        raise DownloadError(f"{url}: SHA-256 mismatch, expected {sha256}, got {digest}; "
                            "the partial file was deleted, run again to retry")
    os.replace(part, dest)
    print(f"{dest.name}: sha256 {digest}" + ("" if sha256 else " (no digest recorded for this file yet)"))
    return dest


def unpack(archive: str | Path, dest: str | Path) -> None:
    """Unpack a .zip, .tar or .tar.gz into dest, refusing members that would land outside it."""
    import tarfile
    import zipfile

    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for name in z.namelist():
                    resolve_under(dest, name, file=archive, field="archive member")
                z.extractall(dest)
        else:
            with tarfile.open(archive) as tar:
                members = []
                for member in tar.getmembers():
                    resolve_under(dest, member.name, file=archive, field="archive member")
                    if not (member.isfile() or member.isdir()):
                        raise DatasetError(f"archive member {member.name!r} is a link or a device",
                                           file=archive, field="archive member")
                    members.append(member)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(dest, members=members, filter="data")
                else:
                    tar.extractall(dest, members=members)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise DatasetError(f"cannot unpack the archive: {error}; delete it and download again", file=archive) from None


def download_dataset(name: str, root: str | Path, *, progress: bool = True) -> list[Path]:
    """Download every file of DATASETS[name] into root/downloads/ and unpack it into root."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; one of {', '.join(DATASETS)}")
    root = Path(root)
    paths = []
    for resource in DATASETS[name]:
        size = f" ({resource.size})" if resource.size else ""
        print(f"{resource.filename}{size} from {resource.url}")
        path = download(resource.url, root / "downloads" / resource.filename, resource.sha256, progress=progress)
        marker = path.with_name(path.name + ".unpacked")
        if not marker.exists():
            unpack(path, root / resource.unpack_to)
            marker.touch()
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# The prepared format

def _to_json(record: PoseRecord) -> dict:
    return {"image": record.image, "joints": np.asarray(record.joints, dtype=float).tolist(),
            "visible": [bool(v) for v in record.visible], "annotated": [bool(a) for a in record.annotated],
            "center": np.asarray(record.center, dtype=float).tolist(), "scale": float(record.scale),
            "head_box": None if record.head_box is None else np.asarray(record.head_box, dtype=float).tolist()}


def save_prepared(records: list[PoseRecord], path: str | Path) -> Path:
    """Write records in the prepared format, atomically (a temporary file renamed over path), after
    checking each one: a bad record raises DatasetError and nothing is written."""
    path = Path(path)
    num_joints = len(records[0].joints) if records else 0
    for index, record in enumerate(records):
        check_record(record, index, file=path, num_joints=num_joints)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps([_to_json(record) for record in records]), encoding="utf-8")
    return path


def _from_json(entry, index: int, path: Path) -> PoseRecord:
    if not isinstance(entry, dict):
        raise DatasetError(f"expected an object, got {type(entry).__name__}", file=path, record=index)
    fields = {}
    for name, dtype in (("joints", np.float64), ("visible", bool), ("annotated", bool), ("center", np.float64)):
        value = entry.get(name)
        if value is None:
            raise DatasetError("field missing", file=path, record=index, field=name)
        if dtype is bool and not (isinstance(value, list) and all(v in (0, 1) for v in value)):
            raise DatasetError(f"expected a list of booleans, got {value!r}", file=path, record=index, field=name)
        try:
            fields[name] = np.asarray(value, dtype=dtype)
        except (TypeError, ValueError):
            raise DatasetError(f"expected numbers, got {value!r}", file=path, record=index, field=name) from None
    scale, head_box = entry.get("scale"), entry.get("head_box")
    if not isinstance(scale, (int, float)) or isinstance(scale, bool):
        raise DatasetError(f"expected a number, got {scale!r}", file=path, record=index, field="scale")
    if head_box is not None:
        try:
            head_box = np.asarray(head_box, dtype=np.float64)
        except (TypeError, ValueError):
            raise DatasetError(f"expected numbers, got {head_box!r}", file=path, record=index,
                               field="head_box") from None
    return PoseRecord(image=entry.get("image"), scale=float(scale), head_box=head_box, **fields)


def load_prepared(path: str | Path, num_joints: int | None = None) -> list[PoseRecord]:
    """Read a prepared annotation file, checking every record (`check_record`). Without num_joints,
    every record must have the first one's joint count, which must be a known joint set's."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"prepared annotations not found: {path} (run `hglearn data prepare`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"cannot read the prepared annotations: {error}", file=path) from None
    if not isinstance(entries, list):
        raise DatasetError("expected a JSON list of records", file=path)
    records = [_from_json(entry, index, path) for index, entry in enumerate(entries)]
    if num_joints is None and records:
        num_joints = len(records[0].joints)
        known = sorted({joint_set.num_joints for joint_set in JOINT_SETS.values()}, reverse=True)
        if num_joints not in known:
            raise DatasetError(f"{num_joints} joints matches no joint set ({', '.join(map(str, known))})",
                               file=path, record=0, field="joints")
    for index, record in enumerate(records):
        check_record(record, index, file=path, num_joints=num_joints)
    return records


# ---------------------------------------------------------------------------------------------
# Preparing

def _find(root: Path, name: str) -> Path:
    """The one file called name under root (outside root/downloads)."""
    found = sorted(p for p in root.rglob(name) if p.is_file() and "downloads" not in p.relative_to(root).parts)
    if not found:
        raise FileNotFoundError(f"{name} not found under {root}: run `hglearn data download` or put it there")
    if len(found) > 1:
        raise DatasetError(f"{len(found)} files called {name} under {root}: {', '.join(map(str, found))}; keep one")
    return found[0]


def _relative_to(records: list[PoseRecord], base: Path, root: Path) -> list[PoseRecord]:
    """Make image paths relative to root when a loader read them relative to base, a folder under root."""
    prefix = base.resolve().relative_to(root.resolve()).as_posix()
    if prefix != ".":
        for record in records:
            record.image = f"{prefix}/{record.image}"
    return records


def _mpii_splits(root: Path, source: str, tompson: str | Path | None) -> dict[str, list[PoseRecord]]:
    from hglearn.data import mpii

    if source == "mmpose":
        return {"train": mpii.load_mpii_json(_find(root, "mpii_train.json")),
                "val": mpii.load_mpii_json(_find(root, "mpii_val.json"), gt_val_mat=_find(root, "mpii_gt_val.mat"))}
    if source == "bearpaw":
        path = _find(root, "mpii_annotations.json")
        return {split: mpii.load_mpii_annotations_json(path, split) for split in ("train", "val")}
    if tompson is None:
        raise ValueError("the official .mat has no validation split: give --tompson with bearpaw's "
                         "mpii_annotations.json or Tompson et al.'s detections.mat, which list the validation people")
    path = _find(root, "mpii_human_pose_v1_u12_1.mat")
    val_people = mpii.load_tompson_val_people(tompson)
    return {split: mpii.load_mpii_mat(path, split, val_people=val_people) for split in ("train", "val")}


def prepare(name: str, root: str | Path, *, source: str | None = None,
            tompson: str | Path | None = None) -> dict[str, Path]:
    """Convert the annotations of a downloaded dataset to root/annotations/<split>.json.

    MPII sources: "mmpose" (default; mpii_{train,val}.json with mpii_gt_val.mat's head boxes for val),
    "mat" (the official .mat, every head box and the real visibility, split with the list of
    validation people in `tompson`), "bearpaw" (mpii_annotations.json; no head boxes). The MPII
    counts are compared with Tompson's split and a warning names any difference.
    """
    import warnings

    if name not in SPLITS:
        raise ValueError(f"unknown dataset {name!r}; one of {', '.join(SPLITS)}")
    source = source or SOURCES[name][0]
    if source not in SOURCES[name]:
        raise ValueError(f"source for {name} must be one of {', '.join(SOURCES[name])}; got {source!r}")
    root = Path(root)
    if name == "mpii":
        splits = _mpii_splits(root, source, tompson)
    elif name in ("lsp", "lspet"):
        from hglearn.data.lsp import load_lsp

        base = _find(root, "joints.mat").parent
        splits = {split: _relative_to(load_lsp(base, split, extended=name == "lspet"), base, root)
                  for split in SPLITS[name]}
    else:
        from hglearn.data.flic import load_flic

        base = _find(root, "examples.mat").parent
        splits = {split: _relative_to(load_flic(base, split), base, root) for split in SPLITS[name]}

    paths = {}
    for split, records in splits.items():
        if not records:
            raise DatasetError(f"no usable people for the {split} split", file=root)
        paths[split] = save_prepared(records, root / "annotations" / f"{split}.json")
        people, images = len(records), len({record.image for record in records})
        print(f"{name} {split}: {people:,} people in {images:,} images -> {paths[split]}")
        if name == "mpii":
            from hglearn.data import mpii

            expected = {"train": (mpii.TOMPSON_TRAIN_PEOPLE, mpii.TOMPSON_TRAIN_IMAGES),
                        "val": (mpii.TOMPSON_VAL_PEOPLE, mpii.TOMPSON_VAL_IMAGES)}[split]
            if (people, images) != expected:
                warnings.warn(f"MPII {split}: {people:,} people in {images:,} images, but Tompson's split has "
                              f"{expected[0]:,} in {expected[1]:,}", stacklevel=2)
    return paths


# ---------------------------------------------------------------------------------------------
# Command line

def _run_download(args: argparse.Namespace) -> None:
    download_dataset(args.name, args.root)
    print(f"next: hglearn data prepare {args.name} --root {args.root}")


def _run_prepare(args: argparse.Namespace) -> None:
    prepare(args.name, args.root, source=args.source, tompson=args.tompson)


def add_data_commands(commands) -> None:
    """Register `data download NAME --root DIR` and `data prepare NAME --root DIR [--source FORMAT]`
    on an argparse subparsers object; each sets run= to its function of the parsed arguments."""
    data = commands.add_parser("data", help="download the real datasets and prepare their annotations")
    actions = data.add_subparsers(dest="action", required=True)

    fetch = actions.add_parser("download", help="download and unpack a dataset (resumable)")
    fetch.add_argument("name", choices=list(DATASETS), metavar="NAME", help=f"one of: {', '.join(DATASETS)}")
    fetch.add_argument("--root", type=Path, required=True, metavar="DIR", help="the dataset's folder")
    fetch.set_defaults(run=_run_download)

    convert = actions.add_parser("prepare", help="write ROOT/annotations/<split>.json from the downloaded files")
    convert.add_argument("name", choices=list(SPLITS), metavar="NAME", help=f"one of: {', '.join(SPLITS)}")
    convert.add_argument("--root", type=Path, required=True, metavar="DIR", help="the dataset's folder")
    convert.add_argument("--source", choices=sorted({s for sources in SOURCES.values() for s in sources}),
                         help="MPII annotations to convert: mmpose (default), mat (official) or bearpaw")
    convert.add_argument("--tompson", type=Path, metavar="FILE", help="with --source mat: mpii_annotations.json or Tompson's "
                         "detections.mat, the list of validation people")
    convert.set_defaults(run=_run_prepare)
