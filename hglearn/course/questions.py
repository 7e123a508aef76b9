"""Predict, then check: the student writes an answer before running the cell that measures it.

    def my_prediction():                  # in its own cell, answered before the measurement runs
        return "lower"                    # "higher", "about the same" or "lower"

    ...the measurement...
    course.check_prediction(my_prediction, choices=("higher", "about the same", "lower"),
                            measured=outcome, why="...")

The answer is a function, so that an exercise notebook's unanswered question is a stub that raises
NotImplementedError (`hglearn.course.notebooks`) and its check says "not attempted yet". The verdict
says whether the guess was right and, either way, why the measured answer is what it is: the point
is the reasoning, not the score.
"""
from collections.abc import Callable, Sequence

from hglearn.course.checking import Verdict, failed, passed, reports_not_attempted

__all__ = ["check_prediction"]


@reports_not_attempted
def check_prediction(answer: Callable[[], str] | str, *, choices: Sequence[str], measured: str, why: str) -> Verdict:
    """Whether the student's answer (a function returning one of `choices`, or the choice itself;
    compared without case and surrounding spaces) is the `measured` outcome, with `why` either way."""
    options = [c.strip().lower() for c in choices]
    if measured.strip().lower() not in options:
        raise ValueError(f"measured {measured!r} is not one of the choices {list(choices)}")
    given = answer() if callable(answer) else answer  # a stub raises NotImplementedError: not attempted
    listed = ", ".join(map(repr, choices))
    if not isinstance(given, str) or given.strip().lower() not in options:
        return failed(f"your prediction {given!r:.40} is not one of {listed}")
    if given.strip().lower() == measured.strip().lower():
        return passed(f"right: {measured}. {why}")
    return failed(f"the measurement says {measured!r}, not {given!r}. {why}")
