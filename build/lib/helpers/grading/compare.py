"""Compare a student's answer with the expected one and say exactly what is wrong.

Answers cross process boundaries as JSON (see :mod:`helpers.grading.encoding`); here both
sides are already decoded into plain Python values or NumPy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RTOL, ATOL = 1e-6, 1e-9


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


def compare(expected: Any, got: Any, kind: str, where: str = "",
            reveal: bool = True) -> tuple[bool, str]:
    """(passed, message). ``where`` names the input (e.g. "at x = [1, 2]"); with
    ``reveal=False`` (hidden cases) the expected value is not shown."""
    at = f" {where}" if where else ""
    if isinstance(got, dict) and "error" in got:
        return False, f"raised {got['error']}{at}"
    if got is None:
        return False, "returned None: not answered yet" if kind == "function" else \
            "not answered yet"
    if kind == "choice":
        if not isinstance(got, str):
            return False, f"expected a letter such as 'B', got {_describe(got)}"
        ok = got.strip().upper() == str(expected).strip().upper()
        return ok, "passed" if ok else f"'{got.strip()}' is not the right choice"
    want, have = _as_array(expected), _as_array(got)
    if want is None:  # a non-numeric expected answer: compare as it is
        ok = got == expected
        return ok, "passed" if ok else f"wrong answer{at}"
    if have is None:
        return False, f"returned {type(got).__name__} {_describe(got)}{at}, expected a " \
                      f"number or an array of shape {want.shape}"
    if have.shape != want.shape:
        return False, f"wrong shape {have.shape}, expected {want.shape}{at}"
    if np.isnan(have).any() and not np.isnan(want).any():
        return False, f"contains NaN{at}"
    if np.isinf(have).any() and not np.isinf(want).any():
        return False, f"contains inf{at}"
    if np.allclose(have, want, rtol=RTOL, atol=ATOL, equal_nan=True):
        return True, "passed"
    hint = ""
    nonzero = np.abs(want) > ATOL
    if nonzero.any():
        ratios = have[nonzero] / want[nonzero]
        factor = float(ratios.flat[0])
        if abs(factor) > 1e-12 and np.allclose(ratios, factor, rtol=1e-4):
            hint = " (the sign is flipped)" if abs(factor + 1) < 1e-4 else \
                f" (off by a factor of {factor:.4g})"
    if reveal:
        return False, f"got {_describe(have)}, expected {_describe(want)}{at}{hint}"
    return False, f"wrong on a hidden case{hint}"
