"""Download the real datasets and unpack them, resumably.

    hglearn data download NAME --root DIR       # fetch and unpack into DIR (resumable)

One folder per dataset; NAME is any entry of `hglearn.data.catalog.DATASETS` with files to fetch
(its `resources`). `download` keeps the archives in DIR/downloads/, resumes an interrupted transfer
where it stopped (HTTP Range), checks the SHA-256 where one is recorded and prints it always, so
that a first verified download can record it. Converting the unpacked annotations is
`hglearn.data.prepare`'s job; the format it writes is `hglearn.data.records`'.

Taught in notebooks/09_training_on_mpii.ipynb.
"""
import hashlib
import os
from pathlib import Path

from hglearn.data.catalog import dataset_spec, downloadable
from hglearn.data.records import DatasetError, resolve_under
from hglearn.errors import ConfigError, DownloadError, UnreachableError


# ---------------------------------------------------------------------------------------------
# Downloading

def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks so that a 13 GB archive does not fill the memory."""
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
        raise UnreachableError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise UnreachableError(f"{url}: cannot connect ({getattr(error, 'reason', error)})") from None

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
                # Every member was checked above (a plain file or folder, its path inside dest as
                # written), so tarfile's own "data" filter adds nothing but would refuse to write
                # through a folder the user linked elsewhere (ROOT/images on another disk).
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(dest, members=members, filter="fully_trusted")
                else:
                    tar.extractall(dest, members=members)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise DatasetError(f"cannot unpack the archive: {error}; delete it and download again", file=archive) from None


def download_dataset(name: str, root: str | Path, *, progress: bool = True) -> list[Path]:
    """Download every file of the catalogue entry `name` (its resources) into root/downloads/ and
    unpack it into root, once: a marker file beside each archive says it is unpacked."""
    spec = dataset_spec(name)
    resources = spec.resources
    if spec.parts:
        raise ConfigError(f"dataset {name!r} is made of {' and '.join(spec.parts)}: download each into its own "
                          f"folder, ROOT/{' and ROOT/'.join(spec.parts)}")
    if not resources:
        raise ConfigError(f"dataset {name!r} needs no download: it has no files to fetch; "
                          f"datasets to download: {', '.join(downloadable())}")
    root = Path(root)
    paths = []
    for resource in resources:
        size = f" ({resource.stated_size})" if resource.stated_size else ""
        print(f"{resource.filename}{size} from {resource.url}")
        path = download(resource.url, root / "downloads" / resource.filename, resource.sha256, progress=progress)
        marker = path.with_name(path.name + ".unpacked")
        if not marker.exists():
            unpack(path, root / resource.unpack_to)
            marker.touch()
        paths.append(path)
    return paths
