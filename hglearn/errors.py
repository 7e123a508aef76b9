"""The errors a user can cause, one family: every one derives from `HglearnError`.

The command line prints an `HglearnError` as one line and exits with status 2; any other exception
is a bug and keeps its traceback. Each error also derives from the built-in exception it refines
(a bad value is a `ValueError`, a run that cannot go on a `RuntimeError`), so `except ValueError`
still catches a bad configuration. This module imports nothing heavy: the command line reads it
before it knows whether torch is needed.
"""
from pathlib import Path


class HglearnError(Exception):
    """A problem the user can fix: the message says what, where, and what to do."""


class ConfigError(HglearnError, ValueError):
    """A configuration value or key that does not fit its dataclass field (or a command-line option)."""


class DatasetError(HglearnError, ValueError):
    """A problem with a dataset file, named by file, record index and field."""

    def __init__(self, message: str, *, file: str | Path | None = None, record: int | None = None,
                 field: str | None = None):
        where = [f"file {file}" if file is not None else None,
                 f"record {record}" if record is not None else None,
                 f"field {field!r}" if field is not None else None]
        where = ", ".join(w for w in where if w)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.record, self.field = file, record, field


class DownloadError(HglearnError, ValueError):
    """A download that failed: unreachable address, HTTP error, interrupted transfer, wrong checksum."""


class UnreachableError(DownloadError):
    """A download that got no file at all: no connection to the address, or an HTTP error. Fetching the
    file another way may help, unlike for an interrupted transfer (run again) or a wrong checksum."""


class CheckpointError(HglearnError, ValueError):
    """A checkpoint file that cannot be read or used, named in the message."""


class CourseError(HglearnError, ValueError):
    """A solution notebook that cannot be turned into an exercise; the message names it and the cell."""


class TrainingError(HglearnError, RuntimeError):
    """Training cannot go on (a non-finite loss); the message says which checkpoint is safe."""


class FolderTargetError(HglearnError, IsADirectoryError):
    """A file was to be written where a folder stands. Also an `IsADirectoryError`, so `except
    OSError` still catches it."""

    def __init__(self, path: str | Path, hint: str = ""):
        super().__init__(f"cannot write {path}: it is a folder, not a file{hint}")
        self.filename = str(path)

    def __str__(self) -> str:  # OSError's own would read "[Errno None] None: 'path'" once filename is set
        return self.args[0]


class RunInterrupted(HglearnError):
    """Training stopped by SIGINT (Ctrl-C) or SIGTERM after saving the current step; the command
    line exits with the conventional status 128 + the signal's number."""

    def __init__(self, message: str, *, signal_number: int, checkpoint):
        super().__init__(message)
        self.exit_code, self.checkpoint = 128 + signal_number, checkpoint
