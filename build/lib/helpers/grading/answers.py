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
             call: Callable[[Callable, list], Any] = lambda fn, args: fn(*args),
             describe: Callable[[BaseException], str] = _describe,
             catch: type[BaseException] = Exception) -> list:
    """One encoded answer per case: the value of ``name``, or the function ``name`` called
    on each case's arguments (through ``call``, which may add a time limit)."""
    if name not in namespace:
        return [{"error": f"NameError: {name} is not defined (run its cell)"}] * len(cases)
    obj = namespace[name]
    if kind != "function":
        return [encode(obj)]
    if obj is None:
        return [None] * len(cases)
    if not callable(obj):
        return [{"error": f"TypeError: {name} should be a function, it is a "
                          f"{type(obj).__name__}"}] * len(cases)
    results = []
    for case in cases:
        try:
            results.append(encode(call(obj, [as_argument(a) for a in case])))
        except catch as error:
            results.append({"error": describe(error)})
    return results
