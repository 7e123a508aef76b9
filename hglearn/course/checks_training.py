"""Checks for notebooks/09_training_on_mpii.ipynb: the step learning-rate schedule (against
`hglearn.train.lr_factor`), the flip test's averaging (against `hglearn.heatmaps.flip_heatmaps`, as
`hglearn.evaluate.predict_heatmaps` uses it) and an atomic checkpoint save (against what
`hglearn.checkpoints.save_checkpoint` guarantees: the file is the old one or the whole new one, never a
broken one, whenever the process dies, and no temporary file is left behind by an error).

The save is watched at every line the interpreter runs (`sys.settrace`): what `path` holds at each of
those moments is what a process killed there would leave. Errors are then raised inside it, in the
middle of `torch.save` and at each line of the student's own code, as a full disk or the notebook's
stop button would.
"""
import inspect
import io
import linecache
import sys
import sysconfig
import tempfile
from pathlib import Path

import torch

from hglearn.course.checking import (Returns, Verdict, check_function_strictly, difference, failed, passed,
                                     reports_not_attempted)
from hglearn.course.checks_blocks import one_thread  # tiny tensors: faster on one thread
from hglearn.heatmaps import flip_heatmaps
from hglearn.joints import FLIC, LSP, MPII
from hglearn.train import lr_factor

__all__ = ["check_lr_at", "check_flip_average", "check_atomic_save"]


# --- the step schedule ---------------------------------------------------------------------------


def lr_at_reference(epoch: int, base_lr: float, milestones: tuple, gamma: float) -> float:
    """The learning rate `hglearn.train.train` uses during `epoch`."""
    return base_lr * lr_factor(epoch, tuple(milestones), gamma)


def passed_milestones(epoch, milestones, early=0):
    return sum(epoch + early >= m for m in milestones)


LR_MISTAKES = [
    (lambda epoch, base_lr, milestones, gamma: base_lr * gamma ** sum(epoch > m for m in milestones),
     "a milestone epoch already runs at the lowered rate: count the milestones with epoch >= milestone"),
    (lambda epoch, base_lr, milestones, gamma: base_lr * gamma ** passed_milestones(epoch, milestones, early=1),
     "the rate drops one epoch early: epochs count from 0, and epoch m is the first at the lower rate"),
    (lambda epoch, base_lr, milestones, gamma: base_lr * (gamma if passed_milestones(epoch, milestones) else 1.0),
     "gamma is applied once however many milestones have passed: the factor is gamma ** (milestones passed)"),
    (lambda epoch, base_lr, milestones, gamma: gamma ** passed_milestones(epoch, milestones),
     "base_lr is missing: the rate is base_lr × gamma ** (milestones passed)"),
    (lambda epoch, base_lr, milestones, gamma: base_lr / gamma ** passed_milestones(epoch, milestones),
     "the rate is divided by gamma: multiply by it (gamma < 1 lowers the rate)"),
]


@reports_not_attempted
def check_lr_at(student) -> Verdict:
    """The student's `lr_at(epoch, base_lr, milestones, gamma)` against `base_lr ×
    lr_factor(epoch, milestones, gamma)`: SADI-Net's drops at 170 and 200, the MPII configs' at 60 and 90,
    three milestones, on and around each milestone, no milestone at all, and a milestone at epoch 0."""
    cases = [(epoch, 1e-3, (170, 200), 0.1) for epoch in (0, 169, 170, 171, 199, 200, 209)]
    cases += [(epoch, 2.5e-4, (60, 90), 0.1) for epoch in (59, 60, 90, 99)]
    cases += [(5, 2.5e-3, (), 0.1), (0, 1.0, (0, 2), 0.5), (3, 1.0, (0, 2), 0.5), (95, 0.02, (30, 60, 90), 0.5)]
    verdict = check_function_strictly(student, lr_at_reference, cases, "lr_at", mistakes=LR_MISTAKES,
                                      rtol=1e-9, atol=1e-15)
    if not verdict:
        return verdict
    return passed(f"lr_at agrees with hglearn.train.lr_factor on {len(cases)} epochs and schedules")


# --- the flip test -------------------------------------------------------------------------------


def flip_average_reference(heatmaps: torch.Tensor, mirrored: torch.Tensor, flip_index) -> torch.Tensor:
    """(heatmaps + flip_heatmaps(mirrored, flip_index)) / 2, as `predict_heatmaps` computes it."""
    return (heatmaps + flip_heatmaps(mirrored, flip_index)) / 2


FLIP_MISTAKES = [
    (lambda h, m, fi: (h + m.flip(-1)) / 2, "the mirrored heatmaps were flipped back along x but left and right "
                                            "joints were not swapped (use flip_index on the joint axis)"),
    (lambda h, m, fi: (h + m[:, list(fi)]) / 2,
     "left and right were swapped but the maps were not flipped back along x"),
    (lambda h, m, fi: flip_heatmaps((h + m) / 2, fi), "the two were averaged before the mirrored heatmaps were "
                                                      "mapped back"),
    (lambda h, m, fi: (h + m[:, list(fi)].flip(-2)) / 2, "the maps were flipped along y (axis -2): a mirror flips x, "
                                                         "the last axis"),
    (lambda h, m, fi: (h + m[:, list(fi)].flip(1)) / 2, "the maps were flipped along the joint axis (torch.fliplr "
                                                        "flips axis 1): flip the last axis, x"),
    (lambda h, m, fi: (h[:, list(fi)] + m.flip(-1)) / 2, "flip_index was applied to the unmirrored heatmaps: it maps "
                                                         "the mirrored ones back"),
    (lambda h, m, fi: h + flip_heatmaps(m, fi), "the two are added, not averaged: divide by 2"),
]

A_TENSOR = Returns("a torch.Tensor", lambda v: isinstance(v, torch.Tensor))


@reports_not_attempted
@one_thread()
def check_flip_average(student) -> Verdict:
    """The student's `flip_average(heatmaps, mirrored, flip_index)` against the mirrored heatmaps
    mapped back with `hglearn.heatmaps.flip_heatmaps` and averaged: random heatmaps for the MPII,
    LSP and FLIC joint sets, square and non-square, odd-sized, batch 1 and more; both inputs left
    unchanged, a tensor returned."""
    generator = torch.Generator().manual_seed(0)
    cases = []
    for joint_set, shape in [(MPII, (2, 8, 8)), (MPII, (1, 6, 5)), (LSP, (3, 4, 7)), (FLIC, (2, 5, 5))]:
        b, h, w = shape
        heatmaps = torch.rand(b, joint_set.num_joints, h, w, generator=generator)
        mirrored = torch.rand(b, joint_set.num_joints, h, w, generator=generator)
        cases.append((heatmaps, mirrored, list(joint_set.flip_index)))
    return check_function_strictly(student, flip_average_reference, cases, "flip_average", returns=A_TENSOR,
                                   mistakes=FLIP_MISTAKES)


# --- an atomic save ------------------------------------------------------------------------------


class SimulatedFailure(OSError):
    """A write error, raised in the middle of torch.save."""


class SimulatedDiskFull(RuntimeError):
    """What torch.save raises on a full disk (its C++ writer reports a RuntimeError)."""


class SimulatedInterrupt(KeyboardInterrupt):
    """What the notebook's stop button (or Ctrl-C) raises, at whatever line the code is."""


SIMULATED = (SimulatedFailure, SimulatedDiskFull, SimulatedInterrupt)


class FailsToSave:
    """An object torch.save cannot write: saving it raises `error` halfway through the file."""

    def __init__(self, error: BaseException):
        self.error = error

    def __reduce__(self):
        raise self.error


def _state(seed: int) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return {"model": {"weight": torch.randn(4, 3, generator=generator)}, "step": seed}


def _read(path: Path):
    """What torch.load finds at path (weights_only), or None when the file is not a whole checkpoint."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a truncated or empty file: what an atomic save must never leave
        return None


def contents(path: Path, states: dict[str, dict], cache: dict) -> str:
    """What `path` holds: "missing", the name of the state in `states` it loads as, or "broken"."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "broken"
    if data not in cache:
        try:
            loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception:  # a truncated or empty file
            loaded = None
        cache[data] = next((name for name, state in states.items() if difference(loaded, state) is None), "broken")
    return cache[data]


def others(path: Path) -> list[str]:
    """The names of the files beside `path` in its folder."""
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


LIBRARY = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})
CHECKS = (__file__, sys.modules[Verdict.__module__].__file__)


def students_file(student) -> str | None:
    """The file (a notebook cell's, in a notebook) that holds the student's function, if it has one."""
    function = inspect.unwrap(getattr(student, "func", student))  # functools.partial: its function
    code = getattr(function, "__code__", None) or getattr(getattr(type(function), "__call__", None), "__code__", None)
    return code.co_filename if code is not None else None


def students_code(filename: str, student_file: str | None) -> bool:
    """Whether a frame of `filename` is the student's own code: the student's file when it is known,
    else any file but Python's, an installed package's and the check's own."""
    if student_file is not None:
        return filename == student_file
    return not filename.startswith(LIBRARY) and filename not in CHECKS and not filename.startswith("<frozen")


def moment(frame, caller) -> str:
    """Where the student's code is at `frame`: "just before `line`" when `frame` is the student's
    function itself, else "while `line` runs" with the line of the student's function that is running."""
    outer = frame
    while outer.f_back is not None and outer.f_back is not caller:
        outer = outer.f_back
    line = linecache.getline(outer.f_code.co_filename, outer.f_lineno).strip() or f"line {outer.f_lineno}"
    line = line if len(line) <= 60 else line[:57] + "..."
    return f"just before `{line}`" if outer is frame else f"while `{line}` runs"


def run_traced(student, state, path, tracer_for):
    """student(state, path) under the trace function `tracer_for(caller)`; the exception that reached
    the caller, or None. A real interrupt and NotImplementedError go on up."""
    previous = sys.gettrace()
    sys.settrace(tracer_for(sys._getframe()))
    try:
        student(state, path)
    except NotImplementedError:
        raise
    except SIMULATED as error:
        return error
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # the student's code may raise anything: the check reports it
        return error
    finally:
        sys.settrace(previous)
    return None


def watched_save(student, state: dict, path: Path, old: dict | None) -> tuple[BaseException | None, str | None]:
    """Run a save with every line watched (in the student's code and in everything it calls): the
    exception it raised, and the first moment at which a process killed there would leave `path`
    missing (when there was an old checkpoint) or broken, or would have written the new file without
    a temporary one beside it, in words."""
    states = {"the new checkpoint": state} | ({"the old checkpoint": old} if old is not None else {})
    cache: dict = {}
    found: list[str] = []
    beside = [False]  # a file other than path was seen in the folder

    def tracer_for(caller):
        def tracer(frame, event, arg):
            if event == "line" and not found:
                now = contents(path, states, cache)
                beside[0] = beside[0] or bool(others(path))
                if now == "broken" or (now == "missing" and old is not None):
                    what = "missing" if now == "missing" else "a broken file that does not load"
                    found.append(f"if the run were killed {moment(frame, caller)}, 'last.pt' would be {what}")
                elif now == "the new checkpoint" and not beside[0]:
                    found.append("the new 'last.pt' appeared with no temporary file beside it in its folder: write "
                                 "the temporary file in the same folder as path, then os.replace it (a rename from "
                                 "another file system is a copy, which a crash can interrupt)")
            return tracer
        return tracer

    return run_traced(student, state, path, tracer_for), (found[0] if found else None)


def interrupted_save(student, state: dict, path: Path, at: int) -> tuple[BaseException | None, int, str]:
    """Run a save raising `SimulatedInterrupt` at the `at`-th line run of the student's own code (the
    file that defines the student's function; never when `at` is 0). Returns the exception that
    reached the caller, the number of such lines run, and where the interrupt came, in words."""
    count, where = [0], [""]
    student_file = students_file(student)

    def tracer_for(caller):
        def tracer(frame, event, arg):
            if not students_code(frame.f_code.co_filename, student_file):
                return None

            def local(frame, event, arg):
                if event == "line":
                    count[0] += 1
                    if count[0] == at:
                        where[0] = moment(frame, caller)
                        raise SimulatedInterrupt("simulated interrupt")
                return local
            return local(frame, event, arg)
        return tracer

    return run_traced(student, state, path, tracer_for), count[0], where[0]


def after_failure(raised: BaseException | None, path: Path, old: dict, new: dict, when: str,
                  at_a_line: bool = False) -> str | None:
    """What is wrong after a save that failed `when`: the error must reach the caller, `path` must
    hold a whole checkpoint (the old one, or the new one if the failure came after the rename), and
    no other file may be left in the folder. `at_a_line`: the failure was an interrupt between two
    lines of the student's code, after the interrupts halfway through torch.save were cleaned up."""
    if raised is None:
        return (f"save_atomically returned normally although {when}: re-raise the error, or the caller believes a "
                "checkpoint was written")
    if not (isinstance(raised, SIMULATED) or isinstance(raised.__cause__, SIMULATED)
            or (isinstance(raised.__context__, SIMULATED) and raised.__suppress_context__)):
        hint = (": the temporary file may not exist yet (unlink(missing_ok=True))"
                if isinstance(raised, FileNotFoundError) else "")
        return (f"{when}, your code raised {type(raised).__name__}: {raised} while cleaning up, which hides the "
                f"original error{hint}")
    now = contents(path, {"old": old, "new": new}, {})
    if now in ("missing", "broken"):
        return (f"{when}, 'last.pt' is {'missing' if now == 'missing' else 'broken (it no longer loads)'}: write to a "
                "temporary file first and rename it onto path only when torch.save has finished")
    if left := others(path):
        if at_a_line:
            return (f"{when}, {left} was left behind: at that moment no cleanup covers the temporary file (create "
                    "it inside the `try:` whose `except` or `finally` deletes it)")
        if isinstance(raised, (SimulatedInterrupt, SimulatedDiskFull)):
            kind = "KeyboardInterrupt" if isinstance(raised, SimulatedInterrupt) else "RuntimeError"
            return (f"{when}, {left} was left behind: that error is a {kind}, which your cleanup does not catch; "
                    "delete the temporary file in `except BaseException:` (or `finally:`), then re-raise")
        return f"{when}, {left} was left behind: delete the temporary file when the save fails"
    return None


def reset(path: Path, old: dict) -> None:
    """The folder as before a save: only `path`, holding `old`."""
    for name in others(path):
        (path.parent / name).unlink()
    torch.save(old, path)


FAILURES = [  # (the error, its message, when it happens in words)
    (SimulatedFailure, "simulated write error", "torch.save failed halfway with an OSError"),
    (SimulatedDiskFull, "simulated full disk", "torch.save failed halfway with a RuntimeError, as on a full disk"),
    (SimulatedInterrupt, "simulated interrupt", "an interrupt (KeyboardInterrupt, as from the notebook's stop button) "
                                                "stopped torch.save halfway"),
]


@reports_not_attempted
def check_atomic_save(student) -> Verdict:
    """The student's `save_atomically(state, path)` in an empty folder:

    - a new file, then an overwrite, each read back with torch.load and compared, with nothing else
      left in the folder; while each runs, at every line, 'last.pt' must be missing (before the first
      save), the old checkpoint or the whole new one, never a broken file, as a process killed there
      would leave it, and the new file must come from a temporary file beside it;
    - saves that fail halfway through torch.save (an OSError, a RuntimeError as on a full disk, a
      KeyboardInterrupt), and saves interrupted at each line of the student's own code: the error
      must reach the caller, 'last.pt' must still load (the old checkpoint, or the new one after the
      rename), and no temporary file may be left in the folder."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last.pt"
        old = None
        for seed in (1, 2):  # a new file, then an overwrite
            state = _state(seed)
            raised, problem = watched_save(student, state, path, old)
            if raised is not None:
                name = getattr(student, "__name__", type(student).__name__)
                return failed(f"{name}(state, 'last.pt') raised {type(raised).__name__}: {raised}")
            if problem:
                return failed(problem)
            if (problem := difference(_read(path), state)) is not None:
                return failed(f"save_atomically(state, 'last.pt'): reading the file back gives {problem}")
            if left := others(path):
                return failed(f"after a successful save the folder also holds {left}: rename the temporary file "
                              "onto path")
            old = state
        new = _state(3)
        for error, message, when in FAILURES:
            reset(path, old)
            raised = run_traced(student, {**new, "extra": FailsToSave(error(message))}, path, lambda caller: None)
            if problem := after_failure(raised, path, old, {**new, "extra": None}, when):
                return failed(problem)
        reset(path, old)
        _, lines, _ = interrupted_save(student, new, path, at=0)
        for at in range(1, lines + 1):
            reset(path, old)
            raised, _, where = interrupted_save(student, new, path, at)
            if problem := after_failure(raised, path, old, new, f"an interrupt (KeyboardInterrupt) {where}",
                                        at_a_line=True):
                return failed(problem)
    return passed("save_atomically writes and overwrites, leaving a whole checkpoint at every moment, and cleans up "
                  f"after failures halfway through torch.save and after an interrupt at any of the {lines} "
                  f"line{'s' if lines != 1 else ''} it runs")
