"""Fixtures and hooks shared by the tests.

- `verdict_fails(verdict, *words)`: a course check's verdict failed, with a hint naming the mistake.
- `quick_notebooks`: notebooks executed in the test read HGLEARN_QUICK=1 and shrink their training.
- `shared_testdata(relative)`: a file under ../shared/testdata (outside the repository), or a skip.
- The `slow` marker (registered in pyproject.toml) on every notebook that nbval collects, so that
  `pytest --nbval -m "not slow"` runs the unit tests alone.
"""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Large real-data files kept beside the repository, not in it: tests that read them skip without them.
TESTDATA = ROOT.parent / "shared" / "testdata"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the marker must be on the item by then
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.suffix == ".ipynb":  # nbval's cells of the solution notebooks
            item.add_marker(pytest.mark.slow)


def _verdict_fails(verdict, *words):
    """Assert that a check's verdict failed and that its message contains one of `words`."""
    assert not verdict, verdict
    assert any(word in verdict.message for word in words), verdict.message


@pytest.fixture(scope="session")
def verdict_fails():
    """`verdict_fails(course.check_x(wrong), "hint", "other hint")`: the check failed, naming the mistake."""
    return _verdict_fails


@pytest.fixture
def quick_notebooks(monkeypatch):
    """HGLEARN_QUICK=1 for the test: notebooks (and the kernels they start) shrink their training runs."""
    monkeypatch.setenv("HGLEARN_QUICK", "1")


SKIP_REASON = ("real MPII and LSP files are kept outside the repository, in ../shared/testdata, which this machine lacks; the test runs where that folder exists")


@pytest.fixture(scope="session")
def shared_testdata():
    """`shared_testdata("mpii_val_tompson/detections_our_format.mat")`: the path of that file under
    ../shared/testdata, or a skip of the test when it is absent (as in any fresh clone)."""
    def path(relative: str) -> Path:
        found = TESTDATA / relative
        if not found.exists():
            pytest.skip(f"{relative}: {SKIP_REASON}")
        return found

    return path


# --- training fixtures ----------------------------------------------------------------------------

@pytest.fixture
def tiny_config():
    """A training run that takes seconds on a CPU: 8 steps per epoch on 32-px figures, a 2-level
    hourglass of 16 channels, 2 epochs, scored after each. Tests change it with `override`."""
    from hglearn.config import TrainConfig

    return TrainConfig(device="cpu", channels=16, depth=2, input_res=32, synth_images=128, val_images=16,
                       batch_size=16, epochs=2, lr_milestones=(1,), eval_every=1, flip_test=False, progress=False)
