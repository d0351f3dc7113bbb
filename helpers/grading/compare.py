"""Compare a student's answer with the expected one and say what is wrong, and no more.

Answers cross process boundaries as JSON (see :mod:`helpers.grading.encoding`); here both
sides are already decoded into plain Python values or NumPy arrays.

Feedback leaves the grader (a CSV, Gradescope, ``check``), so what it may say is fixed here:

* a **function** question on a *public* case: what the student's function returned, what was
  expected (those outputs ship with the package anyway) and the input;
* a **value** or **choice** question: right or wrong (how many entries are wrong), never the
  expected value;
* a *hidden* case: only that one failed, and how (a wrong value, a wrong shape, an error, a
  time-out, a crash): no input, no output, and no text of the student's (an exception's
  message could carry the hidden input it was called with);
* a hint about a factor only where it is a small exact ratio (2, 1/2, -1): the ratio of a
  wrong answer to the right one would otherwise give the right one away.

Value questions are compared on a grid (:func:`value_candidates`) that the package's own
check can reproduce from digests, so that ``check`` and the grade always agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

RTOL, ATOL = 1e-6, 1e-9  # function questions
DIGITS = 6  # significant digits a value answer's expected entries are known to (see below)
VALUE_RTOL = 1e-5  # a value answer's entry passes within this of the expected, at 6 digits
HINTS = {2.0: "off by a factor of 2", 0.5: "off by a factor of 1/2", -1.0: "the sign is flipped"}


def canonical(x: float) -> str:
    """A value answer's entry at :data:`DIGITS` significant digits ("0" below ATOL)."""
    if not math.isfinite(x):
        return str(x)
    return "0" if abs(x) < ATOL else f"{x:.{DIGITS - 1}e}"


def value_candidates(have: float) -> set[str]:
    """Every expected entry, written by :func:`canonical`, that the answer ``have`` matches:
    c with |c - have| <= VALUE_RTOL |have| ("0" when |have| <= ATOL). The grader checks
    ``canonical(expected) in value_candidates(answer)``; the package's check hashes the
    candidates and looks for the shipped digest: one rule, two ways of asking it."""
    if not math.isfinite(have):
        return {str(have)}
    found = {"0"} if abs(have) <= ATOL else set()
    if have == 0:
        return found
    low, high = sorted((have * (1 - VALUE_RTOL), have * (1 + VALUE_RTOL)))
    for exponent in {math.floor(math.log10(abs(low))), math.floor(math.log10(abs(high)))}:
        step = 10.0 ** (exponent - DIGITS + 1)
        for k in range(math.floor(low / step) - 1, math.ceil(high / step) + 2):
            text = f"{k * step:.{DIGITS - 1}e}"
            value = float(text)
            if abs(value) >= ATOL and abs(value - have) <= VALUE_RTOL * abs(have):
                found.add(text)
    return found


def value_feedback(have: np.ndarray, matches: Callable[[int, float], bool]) -> tuple[bool, str]:
    """(passed, message) of a value answer whose form is right; ``matches(i, x)`` says
    whether entry i of the expected value matches x (the grader asks it of the value, the
    package's check of a digest). A hint is given where the answer is the expected value
    times 2, 1/2 or -1 exactly (at the same tolerance)."""
    entries = [float(x) for x in have.flat]
    wrong = sum(not matches(i, x) for i, x in enumerate(entries))
    if not wrong:
        return True, "passed"
    hint = next((f" ({text})" for factor, text in HINTS.items()
                 if any(entries) and all(matches(i, x / factor) for i, x in enumerate(entries))),
                "")
    if have.size == 1:
        return False, f"not the expected value{hint}"
    return False, f"{wrong} of {have.size} entries differ from the expected values{hint}"


def _as_array(value: Any) -> np.ndarray | None:
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _describe(value: Any) -> str:
    array = _as_array(value)
    if array is not None:
        return np.array2string(array, precision=6, separator=", ") if array.ndim else \
            f"{float(array):.10g}"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _hint(want: np.ndarray, have: np.ndarray) -> str:
    """" (off by a factor of 2)" where every nonzero entry is off by one small exact ratio."""
    nonzero = np.abs(want) > ATOL
    if not nonzero.any() or (np.abs(have[~nonzero]) > ATOL).any():
        return ""
    ratios = have[nonzero] / want[nonzero]
    for factor, text in HINTS.items():
        if np.allclose(ratios, factor, rtol=RTOL, atol=0):
            return f" ({text})"
    return ""


def _hidden_failure(got: Any) -> str:
    """How a hidden case failed, in the grader's words only."""
    if isinstance(got, dict) and "error" in got:
        error = str(got["error"])
        if error.startswith("TimeoutError: took too long"):
            return "took too long on a hidden case"
        if error.startswith("crashed"):
            return "crashed on a hidden case"
        return "raised an error on a hidden case"
    return "returned None: not answered yet" if got is None else \
        "returned something that is not a number or an array on a hidden case"


def compare(expected: Any, got: Any, kind: str, where: str = "",
            reveal: bool = True) -> tuple[bool, str]:
    """(passed, message). ``where`` names a public input (e.g. "at input [1, 2]");
    ``reveal=False`` marks a hidden case (see the module's doc for what each may say)."""
    at = f" {where}" if where and reveal else ""
    want, have = _as_array(expected), _as_array(got)
    if not reveal and kind == "function" and (have is None or want is None):
        if want is None and got == expected:
            return True, "passed"
        return False, _hidden_failure(got)
    if isinstance(got, dict) and "error" in got:
        error = str(got["error"])
        return False, f"{'' if error.startswith('crashed') else 'raised '}{error}{at}"
    if got is None:
        return False, "returned None: not answered yet" if kind == "function" else \
            "not answered yet"
    if kind == "choice":
        if not isinstance(got, str):
            return False, f"expected a letter such as 'B', got {_describe(got)}"
        ok = got.strip().upper() == str(expected).strip().upper()
        return ok, "passed" if ok else f"'{got.strip()[:20]}' is not the right choice"
    if want is None:  # a non-numeric expected answer: compare as it is
        ok = got == expected
        return ok, "passed" if ok else f"wrong answer{at}"
    if have is None:
        return False, f"returned {type(got).__name__} {_describe(got)}{at}, expected a " \
                      f"number or an array of shape {want.shape}"
    if have.shape != want.shape:
        return False, f"wrong shape {have.shape}, expected {want.shape}{at}" if reveal else \
            "wrong shape on a hidden case"
    if np.isnan(have).any() and not np.isnan(want).any():
        return False, f"contains NaN{at}" if reveal else "NaN on a hidden case"
    if np.isinf(have).any() and not np.isinf(want).any():
        return False, f"contains inf{at}" if reveal else "inf on a hidden case"
    if kind == "value":
        wanted = [canonical(float(w)) for w in want.flat]
        return value_feedback(have, lambda i, x: wanted[i] in value_candidates(x))
    if np.allclose(have, want, rtol=RTOL, atol=ATOL, equal_nan=True):
        return True, "passed"
    hint = _hint(want, have)
    if reveal:
        got_text, want_text = _describe(have), _describe(want)
        if got_text == want_text:  # a near miss: show the digits where they differ
            got_text, want_text = (np.array2string(a, precision=12, separator=", ")
                                   for a in (have, want))
        return False, f"got {got_text}, expected {want_text}{at}{hint}"
    return False, f"wrong value on a hidden case{hint}"
