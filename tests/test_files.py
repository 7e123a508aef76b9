import os
import threading
import time

import pytest

from hglearn.errors import FolderTargetError, HglearnError
from hglearn.files import atomic_path, is_temporary, remove_temporaries


def temporaries(folder):
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_atomic_path_replaces_on_success_and_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "log.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old" and not temporaries(tmp_path)
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and not temporaries(tmp_path)


def test_a_failing_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "last.pt"
    target.write_bytes(b"old checkpoint")
    for error in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with atomic_path(target) as tmp:
                with open(tmp, "wb") as f:
                    f.write(b"x" * 100_000)
                raise error
        assert target.read_bytes() == b"old checkpoint" and os.listdir(tmp_path) == ["last.pt"]


def test_the_temporary_file_is_unique_hidden_beside_the_target_and_the_new_file_is_not_private(tmp_path):
    target = tmp_path / "metrics.json"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second and first.parent == second.parent == tmp_path
        assert first.name.startswith(".metrics.json.") and is_temporary(first) and first.exists()
        first.write_text("1")
        second.write_text("2")
    assert target.read_text() == "1" and not temporaries(tmp_path)  # the outer block renamed last
    if os.name == "posix":
        assert target.stat().st_mode & 0o044  # readable by others as a plain new file, not mkstemp's 0o600
        target.chmod(0o640)
        with atomic_path(target) as tmp:
            tmp.write_text("3")
        assert target.stat().st_mode & 0o777 == 0o640  # an existing file keeps its permissions


def test_two_concurrent_writers_never_corrupt_the_file_and_never_raise(tmp_path):
    target = tmp_path / "last.pt"
    contents = {name: name.encode() * 20_000 for name in ("a", "b")}  # 20 kB each: several write calls
    errors, seen, done = [], set(), threading.Event()

    def write(name):
        try:
            for _ in range(100):
                with atomic_path(target) as tmp:
                    with open(tmp, "wb") as f:
                        for i in range(0, len(contents[name]), 4096):
                            f.write(contents[name][i:i + 4096])
                            f.flush()
                            time.sleep(0)  # let the other writer in mid-file
        except BaseException as error:  # FileNotFoundError in 2.2 of the review
            errors.append(error)

    def read():
        while not done.is_set():
            try:
                seen.add(target.read_bytes())
            except FileNotFoundError:  # before the first rename only
                pass

    writers = [threading.Thread(target=write, args=(name,)) for name in contents]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()
    assert errors == []
    assert target.read_bytes() in contents.values()
    assert seen <= set(contents.values()), "a reader saw a half-written or mixed file"
    assert not temporaries(tmp_path)


WRITER = """
import sys, time
from hglearn.files import atomic_path
path, letter = sys.argv[1], sys.argv[2]
end = time.monotonic() + 1.0  # long enough for both processes to overlap, whenever each starts
while time.monotonic() < end:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            for _ in range(10):
                f.write(letter.encode() * 4096)
                f.flush()
                time.sleep(0.0001)  # another writer's turn mid-file
"""


def test_two_concurrent_writer_processes_never_corrupt_the_file_and_never_raise(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "best.pt"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(target), letter], stderr=subprocess.PIPE)
               for letter in "ab"]
    seen = set()
    while any(w.poll() is None for w in writers):
        try:
            seen.add(target.read_bytes())
        except FileNotFoundError:  # before the first rename only
            pass
    errors = [w.stderr.read().decode() for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    whole = {letter.encode() * 40960 for letter in "ab"}
    assert target.read_bytes() in whole and seen <= whole and not temporaries(tmp_path)


def test_a_folder_as_target_is_a_clear_error_and_writes_nothing(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(FolderTargetError, match=f"cannot write {folder}: it is a folder") as caught:
        with atomic_path(folder) as tmp:
            tmp.write_text("never")
    assert isinstance(caught.value, HglearnError) and isinstance(caught.value, IsADirectoryError)
    assert len(str(caught.value).splitlines()) == 1
    assert os.listdir(tmp_path) == ["out"] and os.listdir(folder) == []


def test_a_missing_parent_folder_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_path(tmp_path / "missing" / "x.json") as tmp:
            tmp.write_text("never")


def test_remove_temporaries_clears_only_what_killed_writers_left(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"whole")
    (tmp_path / "notes.tmp").write_text("a user's file")
    left = tmp_path / ".last.pt.k3j_x9a2.tmp"  # what a writer killed mid-write leaves
    left.write_bytes(b"half")
    assert remove_temporaries(tmp_path) == [left]
    assert sorted(os.listdir(tmp_path)) == ["last.pt", "notes.tmp"]


def test_save_pose_grid_writes_a_whole_png_atomically(tmp_path):
    import cv2
    import numpy as np

    from hglearn.joints import MPII
    from hglearn.viz import save_pose_grid

    images = [np.full((40, 30, 3), 100, np.uint8)] * 3
    joints = [np.full((MPII.num_joints, 2), 10.0)] * 3
    path = save_pose_grid(tmp_path / "predictions.png", images, joints, MPII, columns=2, size=16)
    image = cv2.imread(str(path))
    assert image is not None and image.shape == (32, 32, 3) and not temporaries(tmp_path)
    with pytest.raises(FolderTargetError):
        save_pose_grid(tmp_path, images, joints, MPII)


def test_save_mpii_predictions_given_a_folder_is_a_one_line_error(tmp_path):
    import numpy as np

    from hglearn.evaluate import save_mpii_predictions

    with pytest.raises(FolderTargetError) as caught:
        save_mpii_predictions(tmp_path, np.zeros((2, 16, 2)))
    assert str(caught.value) == (f"cannot write {tmp_path}: it is a folder, not a file; give a file name, "
                                 f"such as {tmp_path / 'predictions.mat'}")
    assert os.listdir(tmp_path) == []
    path = save_mpii_predictions(tmp_path / "pred.mat", np.zeros((2, 16, 2)))
    assert path.stat().st_size > 0 and not temporaries(tmp_path)
