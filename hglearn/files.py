"""Atomic file writes: every checkpoint, log, annotation and prediction file goes through here."""
import os
import re
import tempfile
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from hglearn.errors import FolderTargetError


@cache
def _new_file_mode() -> int:
    """The permissions a new file gets here: 0o666 less the umask. Reading the umask means setting
    it and putting it back (the only portable way), so it is done once, on the first new file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; on success rename it over `path`, on error delete it.

        with atomic_path(out_dir / "last.pt") as tmp:
            torch.save(state, tmp)

    The temporary file (created empty, so the writer may reopen it by name) is unique to this call,
    `.<name>.<random>.tmp` in the target's folder: two writers, threads or processes, never share one;
    the last rename wins and the target is always one writer's whole file.

    What is guaranteed: a reader never sees a half-written `path`, only the old file (if any) or the
    whole new one; an exception in the block, or a process killed at any moment (SIGKILL included),
    leaves the old file as it was. The file is fsynced before the rename, and on POSIX the folder
    after it, so the new file also survives a power cut or a kernel crash once this returns, on a
    file system that honours fsync. Not guaranteed: a killed process cannot delete its temporary
    file, which stays beside the target (`remove_temporaries` clears them); a folder that cannot be
    fsynced (some network file systems) is skipped silently, and there a power cut may lose the
    rename, leaving the old file.

    The new file gets the old file's permissions, or the usual ones for a new file (0o666 less the
    umask), not tempfile's private 0o600. A folder at `path` raises `FolderTargetError` before
    anything is written; a missing parent folder raises FileNotFoundError.
    """
    path = Path(path)
    if path.is_dir():
        raise FolderTargetError(path)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:  # from here on, any exception (a Ctrl-C included) deletes the temporary file
        os.close(descriptor)
        yield temporary
        _fsync(temporary, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            mode = _new_file_mode()
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if os.name == "posix":
        try:
            _fsync(path.parent, os.O_RDONLY)
        except OSError:  # a folder that cannot be opened or fsynced: the rename is done all the same
            pass


def _fsync(path: Path, flags: int) -> None:
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{6,}\.tmp")  # what atomic_path's mkstemp names look like


def is_temporary(path: str | Path) -> bool:
    """Whether `path` is named like one of atomic_path's temporary files."""
    return TEMPORARY.fullmatch(Path(path).name) is not None


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files that killed writers left in `folder`; return them.

    Only safe when no other process writes there: call it while holding the folder's lock.
    """
    removed = []
    for entry in Path(folder).iterdir():
        if is_temporary(entry) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
