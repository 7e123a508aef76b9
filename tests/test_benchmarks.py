"""The benchmark scripts' own logic: what they compute from a run, on tiny runs or made-up curves."""
import importlib
import sys
from pathlib import Path

import pytest

from hglearn.config import TrainConfig, override

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("time_to_accuracy"), importlib.import_module("train_profile")
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_time_to_accuracy_finds_the_first_point_at_the_default_runs_final_score(scripts):
    tta, _ = scripts
    curve = [(10.0, 1, 20.0), (20.0, 2, 41.0), (30.0, 3, 39.0), (40.0, 4, 45.0)]
    assert tta.first_reaching(curve, 41.0) == (20.0, 2)  # at or above, the first one
    assert tta.first_reaching(curve, 44.0) == (40.0, 4)
    assert tta.first_reaching(curve, 46.0) is None
    runs = {"default": {"cfg": TrainConfig(), "curve": [(100.0, 26, 50.0), (200.0, 52, 60.0)],
                        "metrics": {"mean": 62.0, "seconds": 210.0}},
            "candidate": {"cfg": override(TrainConfig(), batch_size=16, augment=False, sigma=1.5, epochs=16),
                          "curve": [(50.0, 8, 55.0), (90.0, 16, 61.0)], "metrics": {"mean": 63.0, "seconds": 95.0}}}
    default, candidate = tta.summary(runs)[2:]
    assert "60.0%" in tta.summary(runs)[0]  # the target is the default's last validation score
    assert "| 200 s (epoch 52) |" in default and "| 90 s (epoch 16) |" in candidate
    assert "16, none, 1.5" in candidate and "32, augmented, 1" in default and "| 63.0 |" in candidate


def test_the_profile_table_shares_add_up_to_the_steps(scripts):
    _, profile = scripts
    seconds = dict.fromkeys(profile.PHASES, 1.0) | {"forward": 3.0, "drawing the image pools": 50.0}
    rows = profile.table("x", TrainConfig(), seconds, steps=10)
    shares = [int(r.split("|")[3].strip().rstrip("%")) for r in rows if r.count("|") == 5 and "%" in r]
    assert len(shares) == 7  # the six phases of a step and their total
    assert shares[-1] == 100 and abs(sum(shares[:-1]) - 100) <= 3  # rounded shares
    assert "| forward | 3.00 | 38% | 300.0 |" in rows  # 3 of the steps' 8 seconds, over 10 steps


@pytest.mark.slow
def test_the_profile_times_every_phase_of_a_real_run(scripts, tiny_config):
    _, profile = scripts
    seconds, steps = profile.profile_epoch(override(tiny_config, flip_test=True), steps=3)
    assert steps == 3 and set(seconds) == set(profile.PHASES)
    assert all(value > 0 for value in seconds.values())
