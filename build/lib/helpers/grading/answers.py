"""Read a question's answer out of a notebook's namespace, as plain data.

Used in the student's own kernel (instant feedback) and in the grader's worker process
(batch grading); only how a call is guarded and how an error is described differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from helpers.grading.encoding import encode


def as_argument(value: Any) -> Any:
    """A case's argument as the student's function receives it: lists become float arrays."""
    return np.array(value, dtype=np.float64) if isinstance(value, list) else value


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def evaluate(namespace: dict, name: str, kind: str, cases: list,
             guard: Callable[[Callable[[], Any]], Any] = lambda read: read(),
             describe: Callable[[BaseException], str] = _describe,
             catch: type[BaseException] = Exception) -> list:
    """One encoded answer per case: the value of ``name``, or the function ``name`` called
    on each case's arguments. Each answer is read (called, converted and encoded) inside
    ``guard``, which may add a time limit: a bad answer costs its own case, nothing more."""
    if name not in namespace:
        return [{"error": f"NameError: {name} is not defined (run its cell)"}] * len(cases)
    obj = namespace[name]

    def read(produce: Callable[[], Any]) -> Any:
        try:
            return guard(lambda: encode(produce()))
        except catch as error:
            failure = error  # an exception's own __str__ is student code too: guard it
        try:
            return {"error": guard(lambda: describe(failure))}
        except catch:
            return {"error": f"{type(failure).__name__[:80]} (its message could not be read)"}

    if kind != "function":
        return [read(lambda: obj)]
    if obj is None:
        return [None] * len(cases)
    if not callable(obj):
        return [{"error": f"TypeError: {name} should be a function, it is a "
                          f"{type(obj).__name__[:80]}"}] * len(cases)
    return [read(lambda case=case: obj(*[as_argument(a) for a in case])) for case in cases]
