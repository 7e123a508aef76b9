"""The checks of notebooks/09_training_on_mpii.ipynb pass right answers written in other ways than
the solution's and fail typical mistakes, naming them where the cases tell them apart."""
import bisect
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

import solution_cells
from hglearn import course
from hglearn.checkpoints import save_checkpoint
from hglearn.heatmaps import flip_heatmaps



def solution(name: str):
    """`name` as notebook 09's solution defines it (the code of its exercise cell, run)."""
    return solution_cells.solution("09_training_on_mpii.ipynb", name, {"torch": torch, "os": os, "np": np})


@pytest.mark.parametrize("check, name", [
    (course.check_atomic_save, "save_atomically"),  # 09's lr_at and flip_average are no longer exercises
])
def test_the_solution_notebooks_answers_pass(check, name):
    assert check(solution(name))


# --- the step schedule ---------------------------------------------------------------------------


def lr_at_loop(epoch, base_lr, milestones, gamma):
    """Right, another way: a loop that multiplies."""
    lr = base_lr
    for milestone in milestones:
        if epoch >= milestone:
            lr *= gamma
    return lr


def lr_at_bisect(epoch, base_lr, milestones, gamma):
    """Right, another way: bisect counts the milestones at or before the epoch (they are sorted)."""
    return base_lr * gamma ** bisect.bisect_right(list(milestones), epoch)


def lr_at_numpy(epoch, base_lr, milestones, gamma):
    """Right, another way: NumPy's count."""
    return base_lr * gamma ** np.count_nonzero(np.asarray(milestones) <= epoch)


def test_check_lr_at_passes_right_answers_written_differently():
    assert course.check_lr_at(lr_at_loop)
    assert course.check_lr_at(lr_at_bisect)
    assert course.check_lr_at(lr_at_numpy)


@pytest.mark.parametrize("wrong, words", [
    (lambda e, lr, ms, g: lr * g ** sum(e > m for m in ms), "count the milestones with epoch >= milestone"),
    (lambda e, lr, ms, g: lr * g ** sum(e + 1 >= m for m in ms), "one epoch early"),
    (lambda e, lr, ms, g: lr * (g if any(e >= m for m in ms) else 1.0), "gamma is applied once"),
    (lambda e, lr, ms, g: g ** sum(e >= m for m in ms), "base_lr is missing"),
    (lambda e, lr, ms, g: lr / g ** sum(e >= m for m in ms), "divided by gamma"),
    (lambda e, lr, ms, g: lr * g ** bisect.bisect_left(list(ms), e), "count the milestones with epoch >= milestone"),
    (lambda e, lr, ms, g: lr * g ** sum(e >= m for m in (170, 200)), "values differ", ),  # the milestones ignored
    (lambda e, lr, ms, g: lr * g ** (e >= max(ms)), "raised ValueError"),  # no milestone at all
])
def test_check_lr_at_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_lr_at(wrong), words, "instead of")


def test_check_lr_at_reports_not_implemented_as_not_attempted():
    unsolved = course.check_lr_at(lambda *args: (_ for _ in ()).throw(NotImplementedError()))
    assert not unsolved and not unsolved.attempted


# --- the flip test -------------------------------------------------------------------------------


def flip_average_by_joint(heatmaps, mirrored, flip_index):
    """Right, another way: one joint at a time, scattered to its mirror image's channel."""
    back = torch.empty_like(mirrored)
    for joint, mirror in enumerate(flip_index):
        back[:, mirror] = torch.flip(mirrored[:, joint], dims=[-1])
    return 0.5 * heatmaps + 0.5 * back


def flip_average_in_place(heatmaps, mirrored, flip_index):
    heatmaps += flip_heatmaps(mirrored, flip_index)  # the caller's heatmaps change
    return heatmaps / 2


def test_check_flip_average_passes_right_answers_written_differently():
    assert course.check_flip_average(flip_average_by_joint)
    assert course.check_flip_average(lambda h, m, fi: torch.stack([h, flip_heatmaps(m, fi)]).mean(0))
    assert course.check_flip_average(lambda h, m, fi: (h + m[:, list(fi)].flip(-1)) / 2)


@pytest.mark.parametrize("wrong, words", [
    (lambda h, m, fi: (h + m.flip(-1)) / 2, "not swapped"),
    (lambda h, m, fi: (h + m[:, list(fi)]) / 2, "not flipped back"),
    (lambda h, m, fi: flip_heatmaps((h + m) / 2, fi), "averaged before"),
    (lambda h, m, fi: (h + m[:, list(fi)].flip(-2)) / 2, "flipped along y"),
    (lambda h, m, fi: (h + torch.fliplr(m[:, list(fi)])) / 2, "torch.fliplr"),
    (lambda h, m, fi: (h[:, list(fi)] + m.flip(-1)) / 2, "applied to the unmirrored heatmaps"),
    (lambda h, m, fi: h + flip_heatmaps(m, fi), "divide by 2"),
    (flip_average_in_place, "changed its argument heatmaps in place"),
    (lambda h, m, fi: ((h + flip_heatmaps(m, fi)) / 2).numpy(), "expected a torch.Tensor"),
])
def test_check_flip_average_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_flip_average(wrong), words)


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
