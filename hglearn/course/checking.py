"""The machinery behind the notebooks' check cells: run the student's code and the reference on
several inputs and say, in one line, whether they agree or what differs (type, shape, values,
parameter count).

An exercise not yet written raises `NotImplementedError` (its stub). Every public `check_*` is
decorated with `reports_not_attempted`, which turns that into a "not attempted yet" verdict, so that
Run All goes on past an unsolved exercise instead of stopping at a traceback. Any other exception
from the student's code becomes a failed verdict that names it.
"""
import copy
import functools
import inspect
import numbers
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

NOT_ATTEMPTED = "not attempted yet"
STUB_MESSAGE = re.compile(r"(.+): your code here")  # what an exercise's stub raises (hglearn.course.notebooks)


@dataclass(frozen=True)
class Verdict:
    """What a check found: passed, failed, or not attempted (the exercise still raises
    `NotImplementedError`). Shown in the notebook as one line; `bool(verdict)` is `passed`."""

    passed: bool
    message: str
    attempted: bool = True

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return ("✅ " if self.passed else "❌ " if self.attempted else "✏️ ") + self.message


def passed(message: str) -> Verdict:
    return Verdict(True, message)


def failed(message: str) -> Verdict:
    return Verdict(False, message)


def not_attempted(error: NotImplementedError, student) -> Verdict:
    """The verdict for a student's code that raised `NotImplementedError`, naming the exercise as its
    stub does ("Exercise 2 (conv_params)"), else by the function's name and the error's text."""
    text = str(error)
    if stub := STUB_MESSAGE.fullmatch(text):
        name = stub.group(1)
    else:
        name = getattr(student, "__name__", type(student).__name__)
        name += f" (NotImplementedError: {text})" if text else ""
    return Verdict(False, f"{name}: {NOT_ATTEMPTED}. Write it in the cell above, run that cell, then run this "
                          "check again.", attempted=False)


def reports_not_attempted(check: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Decorates every public check: `NotImplementedError` from the student's code, which the checks
    and `call` let through, becomes a not-attempted verdict instead of a traceback that stops Run All."""
    @functools.wraps(check)
    def checked(student, *args, **kwargs) -> Verdict:
        try:
            return check(student, *args, **kwargs)
        except NotImplementedError as error:
            return not_attempted(error, student)

    return checked


def call(function: Callable, *args, **kwargs) -> tuple[Any, Verdict | None]:
    """The student's result, or a failed verdict naming the exception. `NotImplementedError` is
    raised on, for `reports_not_attempted` to report."""
    try:
        return function(*args, **kwargs), None
    except NotImplementedError:
        raise
    except Exception as error:  # the student's code may fail in any way: report, don't crash
        name = getattr(function, "__name__", type(function).__name__)
        return None, failed(f"{name}{short(args)} raised {type(error).__name__}: {error}")


def probe(student, *args) -> float | None:
    """The student's number for one input, to name a usual mistake; None if it raised or is not a
    number (the verdict has already said so)."""
    got, error = call(student, *args)
    try:
        return None if error is not None else float(got)
    except (TypeError, ValueError, RuntimeError):
        return None


def _shown(value: Any) -> str:
    """One argument for a hint: arrays by their shape, networks by their class, lists and tuples item by item."""
    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    if isinstance(value, nn.Module):
        return f"{type(value).__name__}(...)"  # a network by its class, not all its layers
    if isinstance(value, (list, tuple)) and any(isinstance(v, (torch.Tensor, np.ndarray)) for v in value):
        items = [_shown(v) for v in value]
        inner = f"{len(items)} × {items[0]}" if len(items) > 1 and len(set(items)) == 1 else ", ".join(items)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def short(args: tuple, limit: int = 80) -> str:
    """A call's arguments for a hint, tensors and arrays shown by their shape."""
    text = "(" + ", ".join(_shown(a) for a in args) + ")"
    return text if len(text) <= limit else text[: limit - 4] + "...)"


def difference(got: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5) -> str | None:
    """None when `got` equals `expected` (numbers, arrays and tensors to a tolerance, recursively
    through tuples, lists and dicts), else what differs, in words."""
    if isinstance(expected, (torch.Tensor, np.ndarray)):
        if not isinstance(got, (torch.Tensor, np.ndarray)):
            return f"expected an array or tensor, got {type(got).__name__}"
        got_array = got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
        want = expected.detach().cpu().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
        if got_array.shape != want.shape:
            return f"shape {tuple(got_array.shape)}, expected {tuple(want.shape)}"
        if want.dtype == bool or got_array.dtype == bool:
            wrong = int((got_array != want).sum())
            return f"{wrong} of {want.size} entries differ" if wrong else None
        close = np.isclose(got_array.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)
        if not close.all():
            index = tuple(int(i) for i in np.argwhere(~close)[0])
            return (f"{int((~close).sum())} of {want.size} values differ, e.g. at index {index}: "
                    f"{got_array[index]:.6g} instead of {want[index]:.6g}")
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a sequence of {len(expected)} items, got {got!r:.60}"
        for i, (a, b) in enumerate(zip(got, expected)):
            if (problem := difference(a, b, rtol, atol)) is not None:
                return f"item {i}: {problem}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"expected a dict with keys {sorted(expected)}, got {got!r:.60}"
        for key in expected:
            if (problem := difference(got[key], expected[key], rtol, atol)) is not None:
                return f"[{key!r}]: {problem}"
        return None
    if isinstance(expected, (int, float, np.number)) and not isinstance(expected, bool):
        if not isinstance(got, (int, float, np.number, torch.Tensor)) or isinstance(got, bool):
            return f"expected a number, got {type(got).__name__}"
        got_value = float(got)
        return None if np.isclose(got_value, float(expected), rtol=rtol, atol=atol) else f"{got_value:.6g} instead of {float(expected):.6g}"
    return None if got == expected else f"{got!r:.60} instead of {expected!r:.60}"


def check_function(student: Callable, reference: Callable, cases: Sequence[tuple], name: str,
                   rtol: float = 1e-4, atol: float = 1e-5) -> Verdict:
    """Compare `student(*case)` with `reference(*case)` on every case; the first mismatch is the hint."""
    for case in cases:
        got, error = call(student, *case)
        if error is not None:
            return error
        if (problem := difference(got, reference(*case), rtol, atol)) is not None:
            return failed(f"{name}{short(case)}: {problem}")
    return passed(f"{name} agrees with the reference on {len(cases)} inputs")


def copy_parameters(source: nn.Module, target: nn.Module) -> bool:
    """Give `target` the parameter and buffer values of `source`, matched by shape in creation
    order (so a student's module need not use the reference's attribute names). False if the
    shapes cannot be matched one to one."""
    pools: dict[tuple, list[torch.Tensor]] = defaultdict(list)
    for tensor in [*source.parameters(), *source.buffers()]:
        pools[tuple(tensor.shape)].append(tensor)
    targets = [*target.parameters(), *target.buffers()]
    if sorted(tuple(t.shape) for t in targets) != sorted(shape for shape, ts in pools.items() for _ in ts):
        return False
    with torch.no_grad():
        for tensor in targets:
            tensor.copy_(pools[tuple(tensor.shape)].pop(0))
    return True


def check_module(student: Callable[..., nn.Module], reference: Callable[..., nn.Module],
                 cases: Sequence[tuple[tuple, tuple[int, ...]]], name: str, atol: float = 1e-4) -> Verdict:
    """Build `student(*args)` and `reference(*args)` for every (args, input shape) case and compare
    parameter counts, output shapes and, with the reference's weights copied in, output values
    (eval mode, so BatchNorm uses its running statistics)."""
    generator = torch.Generator().manual_seed(0)
    for args, input_shape in cases:
        built, error = call(student, *args)
        if error is not None:
            return error
        torch.manual_seed(0)
        expected_module = reference(*args).eval()
        got_count = sum(p.numel() for p in built.parameters())
        want_count = sum(p.numel() for p in expected_module.parameters())
        if got_count != want_count:
            return failed(f"{name}{short(args)} has {got_count:,} parameters, the reference {want_count:,}")
        x = torch.randn(input_shape, generator=generator)
        with torch.no_grad():
            want = expected_module(x)
            got, error = call(built.eval(), x)
            if error is not None:
                return error
            if (problem := difference(got, want, atol=atol)) is not None and problem.startswith("shape"):
                return failed(f"{name}{short(args)} on input {tuple(input_shape)}: output {problem}")
            if not copy_parameters(expected_module, built):
                return failed(f"{name}{short(args)}: the parameter shapes differ from the reference's")
            if (problem := difference(built(x), want, atol=atol)) is not None:
                return failed(f"{name}{short(args)} with the reference's weights: {problem}")
    return passed(f"{name} matches the reference (parameters, shapes and values) in {len(cases)} configurations")


# --- stricter function checks: inputs left alone, the documented type, named mistakes ---------


@dataclass(frozen=True)
class Returns:
    """The documented type of a function's result, for `check_function_strictly`: how a verdict
    names it ("an int") and a test of a value."""

    description: str
    test: Callable[[Any], bool]


AN_INT = Returns("an int", lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool))
A_FLOAT_ARRAY = Returns("a NumPy array of floats", lambda v: isinstance(v, np.ndarray) and v.dtype.kind == "f")
A_BOOL_ARRAY = Returns("a NumPy array of bools", lambda v: isinstance(v, np.ndarray) and v.dtype == bool)


def described(value: Any) -> str:
    """A result's type for a verdict: "64.0 (a float)", "an array of int64", "a list"."""
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype}"
    if isinstance(value, torch.Tensor):
        return f"a tensor of {value.dtype}"
    if isinstance(value, (int, float, np.number)):
        return f"{value} (a {type(value).__name__})"
    return f"a {type(value).__name__}"


def unchanged(before: Any, after: Any) -> bool:
    """Whether an argument is still what it was: arrays and tensors value for value (NaN matching
    NaN), lists, tuples and dicts item by item, networks by their settings and weights."""
    if isinstance(before, np.ndarray):
        return (isinstance(after, np.ndarray) and before.shape == after.shape and before.dtype == after.dtype
                and np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"))
    if isinstance(before, torch.Tensor):
        return (isinstance(after, torch.Tensor) and before.shape == after.shape and before.dtype == after.dtype
                and bool(torch.isclose(before, after, rtol=0, atol=0, equal_nan=True).all()))
    if isinstance(before, nn.Module):
        return repr(before) == repr(after) and unchanged(before.state_dict(), after.state_dict())
    if isinstance(before, (list, tuple)):
        return (type(before) is type(after) and len(before) == len(after)
                and all(unchanged(a, b) for a, b in zip(before, after)))
    if isinstance(before, dict):
        return (isinstance(after, dict) and list(before) == list(after)
                and all(unchanged(before[key], after[key]) for key in before))
    try:
        return bool(before == after)
    except Exception:  # a value that cannot be compared: nothing to report
        return True


def argument_name(function: Callable, index: int) -> str:
    """The name of `function`'s positional parameter `index` ("joints"), else "number 2"."""
    try:
        return list(inspect.signature(function).parameters)[index]
    except (TypeError, ValueError, IndexError):
        return f"number {index + 1}"


def matching_mistake(student: Callable, cases: Sequence[tuple], mistakes: Sequence[tuple[Callable, str]],
                     rtol: float = 1e-4, atol: float = 1e-5) -> str | None:
    """The hint of the first usual mistake, a pair (wrong function, hint), whose results equal the
    student's on every case; None if none does. A hint then names a cause only when the cases tell
    that mistake apart from the right answer and from the mistakes before it."""
    results = []
    for case in cases:
        got, error = call(student, *copy.deepcopy(case))
        if error is not None:
            return None
        results.append(got)
    for wrong, hint in mistakes:
        try:
            if all(difference(got, wrong(*copy.deepcopy(case)), rtol, atol) is None for got, case in zip(results, cases)):
                return hint
        except Exception:  # a mistake written out as code need not run on every case: then it is not this one
            continue
    return None


def check_function_strictly(student: Callable, reference: Callable, cases: Sequence[tuple], name: str, *,
                            returns: Returns | None = None, mistakes: Sequence[tuple[Callable, str]] = (),
                            shown: Callable[[tuple], str] = short, rtol: float = 1e-4, atol: float = 1e-5) -> Verdict:
    """`check_function`, stricter. The student's code gets its own copy of each case's arguments, which
    must be unchanged after the call (code that changes its input in place fails, naming the
    argument); the verdict of a wrong value ends with the hint of the usual mistake in `mistakes`
    that gives the student's results on every case (`matching_mistake`), if one does; and once every
    value is right, every result must pass `returns`, the documented type (an int, not 64.0).
    `shown(case)` writes a case's arguments in a verdict (default `short`)."""
    wrong_type = None
    for case in cases:
        expected = reference(*copy.deepcopy(case))
        arguments = copy.deepcopy(case)
        got, error = call(student, *arguments)
        if error is not None:
            return error
        for index, (before, after) in enumerate(zip(case, arguments)):
            if not unchanged(before, after):
                return failed(f"{name}{shown(case)} changed its argument {argument_name(reference, index)} in "
                              "place: leave the inputs as they are and compute on a copy")
        if (problem := difference(got, expected, rtol, atol)) is not None:
            if isinstance(expected, numbers.Integral) and isinstance(got, (int, float, np.number)):
                problem = f"{got:,} instead of {expected:,}"  # counts in full, not as 1.38936e+07
            hint = matching_mistake(student, cases, mistakes, rtol, atol)
            return failed(f"{name}{shown(case)}: {problem}" + (f" — {hint}" if hint else ""))
        if wrong_type is None and returns is not None and not returns.test(got):
            wrong_type = failed(f"{name}{shown(case)} returned {described(got)}: expected {returns.description}")
    if wrong_type is not None:  # (a failed Verdict is falsy: no `or` here)
        return wrong_type
    return passed(f"{name} agrees with the reference on {len(cases)} inputs")
