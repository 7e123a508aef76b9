"""Checks for notebooks/09_training_on_mpii.ipynb: a crop's heatmaps brought into the scale-1 frame
for the multi-scale test (against `hglearn.evaluate.rescale_heatmaps`) and an atomic checkpoint save (against what
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
import torch.nn.functional as F

from hglearn.course.checking import (Returns, Verdict, check_function_strictly, difference, failed, passed,
                                     reports_not_attempted)
from hglearn.course.checks_blocks import one_thread  # tiny tensors: faster on one thread
from hglearn.evaluate import rescale_heatmaps

__all__ = ["check_to_scale_one", "check_atomic_save"]


# --- a heatmap in the scale-1 frame (the multi-scale test) ----------------------------------------


def _resampled(heatmaps, factor, *, grid_corners=True, sample_corners=True, padding="zeros", mode="bilinear",
               about_origin=False):
    """Resample into the scale-1 frame with the usual mistakes as switches: the grid's factor (1/s is
    right, s the inverse), affine_grid and grid_sample told different align_corners, border padding,
    nearest sampling, the scaling taken about pixel (0, 0) instead of the centre."""
    b, j, h, w = heatmaps.shape
    theta = torch.tensor([[factor, 0.0, 0.0], [0.0, factor, 0.0]], dtype=heatmaps.dtype)
    if about_origin:  # x_norm' = factor·(x_norm + 1) − 1: pixel 0 stays put
        theta[:, 2] = factor - 1
    grid = F.affine_grid(theta.expand(b, 2, 3), [b, j, h, w], align_corners=grid_corners)
    return F.grid_sample(heatmaps, grid, mode=mode, padding_mode=padding, align_corners=sample_corners)


SCALE_MISTAKES = [
    (lambda hm, s: _resampled(hm, s), "the scale is inverted: pixel p of the scale-1 heatmap shows what lies at "
                                      "c + (p − c)/s in the other, so the grid scales by 1/s"),
    (lambda hm, s: _resampled(hm, 1 / s, sample_corners=False),
     "affine_grid and grid_sample use different align_corners: the grid's −1 and 1 must mean the same "
     "points in both calls"),
    (lambda hm, s: _resampled(hm, 1 / s, padding="border"),
     "outside the heatmap the maps are extended from their border: they should be 0 there (padding_mode='zeros')"),
    (lambda hm, s: _resampled(hm, 1 / s, mode="nearest"), "nearest sampling: resample bilinearly"),
    (lambda hm, s: _resampled(hm, 1 / s, about_origin=True),
     "the scaling is taken about pixel (0, 0): both crops share their centre c = ((w − 1)/2, (h − 1)/2)"),
]

A_TENSOR = Returns("a torch.Tensor", lambda v: isinstance(v, torch.Tensor))


@reports_not_attempted
@one_thread()
def check_to_scale_one(student) -> Verdict:
    """The student's `to_scale_one(heatmaps, s)` against `hglearn.evaluate.rescale_heatmaps`: random
    maps, square, non-square and odd-sized, batches of 1 to 3, scales below, at and above 1; the
    input left unchanged, a tensor returned."""
    generator = torch.Generator().manual_seed(0)
    cases = [(torch.rand(shape, generator=generator), s) for shape, s in [
        ((2, 3, 16, 16), 0.75), ((1, 2, 16, 16), 1.25), ((2, 2, 9, 13), 0.8), ((1, 4, 8, 8), 1.0), ((3, 1, 5, 7), 1.5)]]
    return check_function_strictly(student, rescale_heatmaps, cases, "to_scale_one", returns=A_TENSOR,
                                   mistakes=SCALE_MISTAKES)


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
