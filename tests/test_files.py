import pytest

from hglearn.files import atomic_path


def test_atomic_path_replaces_on_success_and_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "log.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old" and not list(tmp_path.glob("*.tmp"))
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and not list(tmp_path.glob("*.tmp"))
