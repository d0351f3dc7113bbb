"""Plain-data encoding of answers: JSON only (no pickles cross a process boundary).

Python's json module reads and writes NaN and Infinity, which both ends of the exchange
are, so non-finite numbers travel as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# An answer larger than this is reported, not shipped: every exercise's answer is far
# smaller, and all the answers of a notebook together stay well below the result channel's cap.
MAX_ITEMS = 10_000
MAX_TEXT = 1_000


def encode(value: Any) -> Any:
    """A JSON-able form of an answer: numbers, strings, None, an array, or an error."""
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return {"error": f"ValueError: the answer is a text of {len(value)} characters, too "
                         "many"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if hasattr(value, "__array__") or isinstance(value, (list, tuple)):
        try:
            raw = np.asarray(value)
            if np.iscomplexobj(raw) and np.any(raw.imag != 0):  # float64 would drop it
                return {"error": "TypeError: the answer has complex entries; the answers are "
                                 "real (where the imaginary part is round-off, return .real)"}
            array = np.asarray(raw.real if np.iscomplexobj(raw) else raw, dtype=np.float64)
        except (TypeError, ValueError):
            return {"error": f"TypeError: cannot read the {type(value).__name__[:80]} as "
                             "numbers"}
        if array.size > MAX_ITEMS:
            return {"error": f"ValueError: the answer has {array.size} entries, too many"}
        return {"array": array.tolist(), "shape": list(array.shape)}
    if hasattr(value, "__float__"):  # one exact number: a Fraction, a Decimal, a SymPy Rational
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            pass
    return {"error": f"TypeError: the answer is a {type(value).__name__[:80]}, not a "
                     "number, array or string"}


def decode(data: Any) -> Any:
    """Undo :func:`encode` (errors stay as {"error": ...} dicts)."""
    if isinstance(data, dict) and "array" in data:
        return np.array(data["array"], dtype=np.float64).reshape(data["shape"])
    return data
