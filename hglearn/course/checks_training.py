"""Checks for notebooks/09_training_on_mpii.ipynb: the step learning-rate schedule (against
`hglearn.train.lr_factor`), the flip test's averaging (against `hglearn.heatmaps.flip_heatmaps`, as
`hglearn.evaluate.predict_heatmaps` uses it) and an atomic checkpoint save (against what
`hglearn.checkpoints.save_checkpoint` guarantees: the file is the old one or the whole new one, never a
broken one, and no temporary file is left behind).
"""
import tempfile
from pathlib import Path

import torch

from hglearn.course.checking import Verdict, call, check_function, difference, failed, passed, reports_not_attempted
from hglearn.heatmaps import flip_heatmaps
from hglearn.joints import FLIC, LSP, MPII
from hglearn.train import lr_factor

__all__ = ["check_lr_at", "check_flip_average", "check_atomic_save"]


# --- the step schedule ---------------------------------------------------------------------------


def lr_at_reference(epoch: int, base_lr: float, milestones: tuple, gamma: float) -> float:
    """The learning rate `hglearn.train.train` uses during `epoch`."""
    return base_lr * lr_factor(epoch, tuple(milestones), gamma)


@reports_not_attempted
def check_lr_at(student) -> Verdict:
    """The student's `lr_at(epoch, base_lr, milestones, gamma)` against `base_lr ×
    lr_factor(epoch, milestones, gamma)`: SADI-Net's drops at 170 and 200, the MPII configs' at 60 and 90, on and
    around each milestone, no milestone at all, and a milestone at epoch 0."""
    cases = [(epoch, 1e-3, (170, 200), 0.1) for epoch in (0, 169, 170, 171, 199, 200, 209)]
    cases += [(epoch, 2.5e-4, (60, 90), 0.1) for epoch in (59, 60, 90, 99)]
    cases += [(5, 2.5e-3, (), 0.1), (0, 1.0, (0, 2), 0.5), (3, 1.0, (0, 2), 0.5)]
    for case in cases:
        verdict = check_function(student, lr_at_reference, [case], "lr_at", rtol=1e-9, atol=1e-15)
        if not verdict:
            epoch, _, milestones, _ = case
            if epoch in milestones:
                return failed(f"{verdict.message} (a milestone epoch already runs at the lowered rate: count "
                              "the milestones with epoch >= milestone)")
            return verdict
    return passed(f"lr_at agrees with hglearn.train.lr_factor on {len(cases)} epochs and schedules")


# --- the flip test -------------------------------------------------------------------------------


def flip_average_reference(heatmaps: torch.Tensor, mirrored: torch.Tensor, flip_index) -> torch.Tensor:
    """(heatmaps + flip_heatmaps(mirrored, flip_index)) / 2, as `predict_heatmaps` computes it."""
    return (heatmaps + flip_heatmaps(mirrored, flip_index)) / 2


@reports_not_attempted
def check_flip_average(student) -> Verdict:
    """The student's `flip_average(heatmaps, mirrored, flip_index)` against the mirrored heatmaps
    mapped back with `hglearn.heatmaps.flip_heatmaps` and averaged: random heatmaps for the MPII,
    LSP and FLIC joint sets, square and non-square, batch 1 and more."""
    generator = torch.Generator().manual_seed(0)
    cases = []
    for joint_set, shape in [(MPII, (2, 8, 8)), (MPII, (1, 6, 5)), (LSP, (3, 4, 7)), (FLIC, (2, 5, 5))]:
        b, h, w = shape
        heatmaps = torch.rand(b, joint_set.num_joints, h, w, generator=generator)
        mirrored = torch.rand(b, joint_set.num_joints, h, w, generator=generator)
        cases.append((heatmaps, mirrored, list(joint_set.flip_index)))
    verdict = check_function(student, flip_average_reference, cases, "flip_average")
    if verdict:
        return verdict
    heatmaps, mirrored, flip_index = cases[0]
    got, error = call(student, heatmaps, mirrored, flip_index)
    if error is None:  # name the usual mistakes
        index = torch.tensor(flip_index)
        for wrong, hint in [
            ((heatmaps + mirrored.flip(-1)) / 2, "the mirrored heatmaps were flipped back along x but left and "
                                                 "right joints were not swapped (use flip_index on the joint axis)"),
            ((heatmaps + mirrored[:, index]) / 2, "left and right were swapped but the maps were not flipped back along x"),
            (flip_heatmaps((heatmaps + mirrored) / 2, flip_index), "the two were averaged before the mirrored "
                                                                   "heatmaps were mapped back"),
        ]:
            if difference(got, wrong) is None:
                return failed(f"flip_average on MPII heatmaps {tuple(heatmaps.shape)}: {hint}")
    return verdict


# --- an atomic save ------------------------------------------------------------------------------


class FailsToSave:
    """An object torch.save cannot write: saving it fails halfway, like a full disk or a crash."""

    def __reduce__(self):
        raise OSError("simulated failure in the middle of writing")


def _state(seed: int) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return {"model": {"weight": torch.randn(4, 3, generator=generator)}, "step": seed}


def _read(path: Path):
    """What torch.load finds at path (weights_only), or None when the file is not a whole checkpoint."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a truncated or empty file: what an atomic save must never leave
        return None


@reports_not_attempted
def check_atomic_save(student) -> Verdict:
    """The student's `save_atomically(state, path)` in an empty folder: a new file, then an
    overwrite, each read back with torch.load and compared; then a save that fails halfway, after
    which the exception must reach the caller, the previous checkpoint must still load unchanged,
    and no temporary file may be left in the folder."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last.pt"
        for seed in (1, 2):  # a new file, then an overwrite
            state = _state(seed)
            _, error = call(student, state, path)
            if error is not None:
                return error
            if (problem := difference(_read(path), state)) is not None:
                return failed(f"save_atomically(state, 'last.pt'): reading the file back gives {problem}")
            if others := sorted(p.name for p in Path(folder).iterdir() if p != path):
                return failed(f"after a successful save the folder also holds {others}: rename the temporary file onto path")
        broken = {**_state(3), "extra": FailsToSave()}
        try:
            student(broken, path)
        except NotImplementedError:
            raise
        except Exception:
            pass  # expected: the failure must reach the caller
        else:
            return failed("save_atomically returned normally although torch.save failed: re-raise the error, "
                          "or the caller believes a checkpoint was written")
        kept = _read(path)
        if kept is None:
            return failed("a save that failed halfway left 'last.pt' broken (it no longer loads): write to a "
                          "temporary file first and rename it onto path only when torch.save has finished")
        if (problem := difference(kept, _state(2))) is not None:
            return failed(f"a save that failed halfway changed 'last.pt': {problem}")
        if others := sorted(p.name for p in Path(folder).iterdir() if p != path):
            return failed(f"a save that failed halfway left {others} behind: delete the temporary file on error")
    return passed("save_atomically writes, overwrites, and keeps the old checkpoint whole when a save fails")
