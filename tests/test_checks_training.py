"""The checks of notebooks/09_training_on_mpii.ipynb pass right answers written in other ways than
the solution's and fail typical mistakes, naming them where the cases tell them apart."""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import solution_cells
from hglearn import course
from hglearn.checkpoints import save_checkpoint


def solution(name: str):
    """`name` as notebook 09's solution defines it (the code of its exercise cell, run)."""
    return solution_cells.solution("09_training_on_mpii.ipynb", name, {"torch": torch, "F": F, "os": os, "np": np})


@pytest.mark.parametrize("check, name", [
    (course.check_to_scale_one, "to_scale_one"),
    (course.check_atomic_save, "save_atomically"),
])
def test_the_solution_notebooks_answers_pass(check, name):
    assert check(solution(name))


# --- a heatmap in the scale-1 frame ----------------------------------------------------------------


def to_scale_one_by_hand(heatmaps, s):
    """Right, another way: bilinear interpolation written out, from the pixel-centre formula c + (p − c)/s."""
    b, j, h, w = heatmaps.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=heatmaps.dtype), torch.arange(w, dtype=heatmaps.dtype), indexing="ij")
    x, y = (w - 1) / 2 + (xs - (w - 1) / 2) / s, (h - 1) / 2 + (ys - (h - 1) / 2) / s  # where each pixel looks
    x0, y0 = x.floor(), y.floor()
    out = torch.zeros_like(heatmaps)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - (x - xi).abs()) * (1 - (y - yi).abs())  # (h, w)
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            values = heatmaps[:, :, yi.clamp(0, h - 1).long(), xi.clamp(0, w - 1).long()]  # (B, J, h, w)
            out = out + values * (weight * inside)
    return out


def to_scale_one_normalised_grid(heatmaps, s):
    """Right, another way: the sampling grid built by hand in grid_sample's normalised coordinates."""
    b, j, h, w = heatmaps.shape
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    grid = (torch.stack([xs, ys], dim=-1) / s).expand(b, h, w, 2)
    return F.grid_sample(heatmaps, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def to_scale_one_in_place(heatmaps, s):
    result = to_scale_one_normalised_grid(heatmaps, s)
    heatmaps.zero_()  # the caller's maps used as scratch space
    return result


def test_check_to_scale_one_passes_right_answers_written_differently():
    assert course.check_to_scale_one(to_scale_one_by_hand)
    assert course.check_to_scale_one(to_scale_one_normalised_grid)


def _grid(heatmaps, theta, **kw):
    b, j, h, w = heatmaps.shape
    grid = F.affine_grid(torch.tensor(theta, dtype=heatmaps.dtype).expand(b, 2, 3), [b, j, h, w],
                         align_corners=kw.pop("grid_corners", True))
    return F.grid_sample(heatmaps, grid, **{"align_corners": True, **kw})


@pytest.mark.parametrize("wrong, words", [
    (lambda hm, s: _grid(hm, [[s, 0, 0], [0, s, 0]]), "the scale is inverted"),
    (lambda hm, s: _grid(hm, [[1 / s, 0, 0], [0, 1 / s, 0]], align_corners=False), "different align_corners"),
    (lambda hm, s: _grid(hm, [[1 / s, 0, 0], [0, 1 / s, 0]], padding_mode="border"), "padding_mode='zeros'"),
    (lambda hm, s: _grid(hm, [[1 / s, 0, 0], [0, 1 / s, 0]], mode="nearest"), "resample bilinearly"),
    (lambda hm, s: _grid(hm, [[1 / s, 0, 1 / s - 1], [0, 1 / s, 1 / s - 1]]), "about pixel (0, 0)"),
    (lambda hm, s: F.interpolate(hm, scale_factor=1 / s, mode="bilinear"), "shape"),  # resizes, not resamples
    (lambda hm, s: _grid(hm, [[1 / s, 0, 0], [0, 1, 0]]), "values differ"),  # x scaled only
    (to_scale_one_in_place, "changed its argument heatmaps in place"),
    (lambda hm, s: to_scale_one_normalised_grid(hm, s).numpy(), "expected a torch.Tensor"),
])
def test_check_to_scale_one_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_to_scale_one(wrong), words)


# --- an atomic save ------------------------------------------------------------------------------


def save_atomically(state, path):
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_through_a_handle(state, path):
    """Right, another way: torch.save into an open file, flushed and fsynced, then os.rename."""
    temporary = Path(f"{path}.tmp")
    try:
        with open(temporary, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temporary, path)
    except BaseException:
        if temporary.exists():
            temporary.unlink()
        raise


def save_with_a_temporary_made_before_the_try(state, path):  # an interrupt after mkstemp leaves it
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".part", delete=False)
    done = False
    try:
        with handle:
            torch.save(state, handle)
        os.replace(handle.name, path)
        done = True
    finally:
        if not done:
            os.remove(handle.name)


def save_in_place(state, path):  # the plain torch.save an atomic save replaces
    torch.save(state, path)


def save_without_cleanup(state, path):
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def save_swallowing_errors(state, path):
    try:
        save_atomically(state, path)
    except Exception:
        pass


def save_and_keep_a_copy(state, path):
    torch.save(state, path.with_name(path.name + ".bak"))
    save_atomically(state, path)


def save_unlink_then_rename(state, path):  # as where a rename cannot replace a file: a moment without one
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, temporary)
        path.unlink(missing_ok=True)
        temporary.rename(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_behind_a_backup(state, path):  # the old file moved aside, the new one written in its place
    backup = path.with_name(path.name + ".bak")
    if path.exists():
        os.replace(path, backup)
    try:
        torch.save(state, path)
    except BaseException:
        if backup.exists():
            os.replace(backup, path)
        raise
    backup.unlink(missing_ok=True)


def save_by_copy(state, path):  # the temporary file copied onto path: the copy can be interrupted
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, temporary)
        shutil.copyfile(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def save_through_tmp_folder(state, path):  # the temporary file in /tmp or wherever tempfile likes
    descriptor, name = tempfile.mkstemp(suffix=".pt")
    os.close(descriptor)
    try:
        torch.save(state, name)
        shutil.move(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def save_cleaning_up_exceptions_only(state, path):  # an interrupt skips the cleanup
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    except Exception:
        temporary.unlink(missing_ok=True)
        raise


def save_cleaning_up_os_errors_only(state, path):  # a full disk raises RuntimeError from torch.save
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def save_unlinking_what_may_not_exist(state, path):  # the cleanup fails when no temporary file exists yet
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink()
        raise


def test_check_atomic_save_passes_right_answers_written_differently():
    assert course.check_atomic_save(save_atomically)
    assert course.check_atomic_save(save_through_a_handle)
    assert course.check_atomic_save(lambda state, path: save_checkpoint(path, state))  # the library's


@pytest.mark.parametrize("wrong, words", [
    (save_in_place, "a broken file"),
    (save_without_cleanup, "['last.pt.tmp'] was left behind"),
    (save_swallowing_errors, "re-raise"),
    (save_and_keep_a_copy, "last.pt.bak"),
    (save_unlink_then_rename, "killed just before `temporary.rename(path)`, 'last.pt' would be missing"),
    (save_behind_a_backup, "killed while `torch.save(state, path)` runs, 'last.pt' would be a broken file"),
    (save_with_a_temporary_made_before_the_try, "just before `done = False`, ['last.pt"),
    (save_by_copy, "killed while `shutil.copyfile(temporary, path)` runs, 'last.pt' would be a broken file"),
    (save_through_tmp_folder, "no temporary file beside it"),
    (save_cleaning_up_exceptions_only, "that error is a KeyboardInterrupt"),
    (save_cleaning_up_os_errors_only, "that error is a RuntimeError"),
    (save_unlinking_what_may_not_exist, "unlink(missing_ok=True)"),
])
def test_check_atomic_save_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_atomic_save(wrong), words)


def test_check_atomic_save_reports_a_crash_and_not_implemented_as_not_attempted():
    def crash(state, path):
        raise KeyError("oops")

    verdict = course.check_atomic_save(crash)
    assert not verdict and "raised KeyError" in verdict.message

    def unsolved(state, path):
        raise NotImplementedError

    verdict = course.check_atomic_save(unsolved)
    assert not verdict and not verdict.attempted and "unsolved: not attempted yet" in verdict.message


def test_a_real_interrupt_during_the_check_is_not_swallowed():
    def interrupted(state, path):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        course.check_atomic_save(interrupted)
