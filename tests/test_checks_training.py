"""The checks of notebooks/09_training_on_mpii.ipynb pass the right code and fail typical mistakes."""
import os

import torch

from hglearn import course
from hglearn.heatmaps import flip_heatmaps
from hglearn.checkpoints import save_checkpoint


# --- the step schedule ---------------------------------------------------------------------------


def lr_at(epoch, base_lr, milestones, gamma):
    return base_lr * gamma ** sum(epoch >= m for m in milestones)


def lr_at_strict(epoch, base_lr, milestones, gamma):  # drops one epoch late
    return base_lr * gamma ** sum(epoch > m for m in milestones)


def lr_at_first_drop_only(epoch, base_lr, milestones, gamma):  # gamma once, whatever the number passed
    return base_lr * (gamma if any(epoch >= m for m in milestones) else 1.0)


def test_lr_at_check():
    assert course.check_lr_at(lr_at)
    late = course.check_lr_at(lr_at_strict)
    assert not late and "epoch >= milestone" in late.message
    once = course.check_lr_at(lr_at_first_drop_only)
    assert not once and "lr_at(200" in once.message
    unsolved = course.check_lr_at(lambda *args: (_ for _ in ()).throw(NotImplementedError()))
    assert not unsolved and not unsolved.attempted


# --- the flip test -------------------------------------------------------------------------------


def flip_average(heatmaps, mirrored, flip_index):
    return (heatmaps + mirrored[:, list(flip_index)].flip(-1)) / 2


def test_flip_average_check():
    assert course.check_flip_average(flip_average)
    assert course.check_flip_average(lambda h, m, fi: (h + flip_heatmaps(m, fi)) / 2)
    no_swap = course.check_flip_average(lambda h, m, fi: (h + m.flip(-1)) / 2)
    assert not no_swap and "not swapped" in no_swap.message
    no_mirror = course.check_flip_average(lambda h, m, fi: (h + m[:, list(fi)]) / 2)
    assert not no_mirror and "not flipped back" in no_mirror.message
    averaged_first = course.check_flip_average(lambda h, m, fi: flip_heatmaps((h + m) / 2, fi))
    assert not averaged_first and "averaged before" in averaged_first.message
    summed = course.check_flip_average(lambda h, m, fi: h + flip_heatmaps(m, fi))
    assert not summed and "values differ" in summed.message


# --- an atomic save ------------------------------------------------------------------------------


def save_atomically(state, path):
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


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


def test_atomic_save_check():
    assert course.check_atomic_save(save_atomically)
    assert course.check_atomic_save(lambda state, path: save_checkpoint(path, state))  # the library's
    broken = course.check_atomic_save(save_in_place)
    assert not broken and "broken" in broken.message
    leftover = course.check_atomic_save(save_without_cleanup)
    assert not leftover and "left ['last.pt.tmp'] behind" in leftover.message
    swallowed = course.check_atomic_save(save_swallowing_errors)
    assert not swallowed and "re-raise" in swallowed.message
    extra = course.check_atomic_save(save_and_keep_a_copy)
    assert not extra and "last.pt.bak" in extra.message


def test_atomic_save_check_reports_a_crash_and_not_implemented_as_not_attempted():
    def crash(state, path):
        raise KeyError("oops")

    verdict = course.check_atomic_save(crash)
    assert not verdict and "raised KeyError" in verdict.message

    def unsolved(state, path):
        raise NotImplementedError

    verdict = course.check_atomic_save(unsolved)
    assert not verdict and not verdict.attempted and "unsolved: not attempted yet" in verdict.message
