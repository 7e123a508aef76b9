"""Atomic file writes: every checkpoint, log, annotation and prediction file goes through here."""
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; on success rename it over `path`, on error delete it.

        with atomic_path(out_dir / "last.pt") as tmp:
            torch.save(state, tmp)

    A crash or an exception mid-write never leaves a half-written file where a reader expects a
    whole one: the old file, if any, stays until the new one is complete.
    """
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
