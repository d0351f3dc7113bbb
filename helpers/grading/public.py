"""What a student's copy of the package knows about the answers: ``public_expected.json``.

The file ships with ``helpers`` (Colab and a download have no ``solutions/``), so it must give
instant feedback without giving the answers away. What it holds, by kind of question:

* ``function``: the outputs on the *public* cases, rounded to 12 significant digits (so that
  another CPU's round-off, about 1e-16 relative, writes the same file). These cases are printed in
  the feedback anyway ("got ..., expected ... at input ..."); the grade also uses hidden
  cases, which are not in the package.
* ``value``: the shape, and for each entry a salted SHA-256 digest of the entry written to 6
  significant digits (entries below 1e-9 in size count as 0). Copying the file gives no
  value; the check hashes the student's entry and its two neighbours at that precision, so
  any answer within the grader's tolerance (relative 1e-6) passes. A value with few possible
  answers (a small integer) can still be found by trying candidates: its points should not
  be the ones that matter.
* ``choice``: nothing. A multiple-choice answer checked on the spot is found by trying the
  letters, so these are checked only when the notebook is graded.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from helpers.grading.compare import ATOL, compare
from helpers.grading.encoding import decode

PUBLIC_EXPECTED = Path(__file__).with_name("public_expected.json")
DIGITS = 6  # significant digits of a hashed entry: finer than the grader's tolerance
SHIPPED_DIGITS = 12  # of a function's public outputs: far finer than any tolerance


def load() -> dict:
    """The public expected answers of every chapter (see the module doc)."""
    return json.loads(PUBLIC_EXPECTED.read_text())


def _canonical(x: float) -> str:
    if not np.isfinite(x):
        return str(x)
    return "0" if abs(x) < ATOL else f"{x:.{DIGITS - 1}e}"


def _neighbours(x: float) -> set[str]:
    """The entry at the hashed precision, and one unit of its last digit either side."""
    text = _canonical(x)
    if "e" not in text:
        return {text}
    mantissa, exponent = text.split("e")
    units = round(float(mantissa) * 10 ** (DIGITS - 1))
    return {_canonical(float(f"{(units + k) / 10 ** (DIGITS - 1)}e{exponent}"))
            for k in (-1, 0, 1)} | {text}


def _digest(salt: str, where: str, index: int, text: str) -> str:
    return hashlib.sha256(f"{salt}:{where}:{index}:{text}".encode()).hexdigest()


def rounded(data: Any) -> Any:
    """Encoded answers (see :mod:`helpers.grading.encoding`) with every finite number
    rounded to :data:`SHIPPED_DIGITS` significant digits."""
    if isinstance(data, float):
        return float(f"{data:.{SHIPPED_DIGITS}g}") if np.isfinite(data) else data
    if isinstance(data, list):
        return [rounded(x) for x in data]
    if isinstance(data, dict) and "array" in data:
        return {**data, "array": rounded(data["array"])}
    return data


def entry(kind: str, answers: list, salt: str, where: str) -> Any:
    """The public form of a question's expected answers (``where`` names it: "ch1.q2")."""
    if kind == "function":
        return rounded(answers)
    if kind == "choice":
        return {"graded_only": True}
    value = np.asarray(decode(answers[0]), dtype=np.float64)
    return {"shape": list(value.shape),
            "digests": [_digest(salt, where, i, _canonical(float(x)))
                        for i, x in enumerate(value.flat)]}


def build(expected: dict[str, dict[str, list]], kinds: dict[str, dict[str, str]],
          salt: str | None = None) -> dict:
    """The whole public file from the reference answers on the public cases; the salt of
    the file on disk is kept, so that regenerating it changes nothing unless answers do."""
    if salt is None:
        salt = load().get("salt") if PUBLIC_EXPECTED.exists() else None
        salt = salt or secrets.token_hex(16)
    return {"salt": salt, **{
        chapter: {name: entry(kinds[chapter][name], answers, salt, f"{chapter}.{name}")
                  for name, answers in questions.items()}
        for chapter, questions in expected.items()}}


def check_value(public: dict, salt: str, where: str, got: Any) -> tuple[bool, str]:
    """Compare a student's value answer with its hashed public form: (passed, message)."""
    shape = tuple(public["shape"])
    # compare() against a stand-in of the right shape names every problem of form: an
    # error, no answer, a wrong type or shape, NaN; its value verdict means nothing here
    message = compare(np.zeros(shape), got, "value")[1]
    if (isinstance(got, dict) and "error" in got) or got is None or \
            message.startswith(("wrong shape", "returned", "contains")):
        return False, message
    have = np.asarray(got, dtype=np.float64).reshape(shape)
    wrong = sum(not {_digest(salt, where, i, t) for t in _neighbours(float(x))} & {digest}
                for i, (x, digest) in enumerate(zip(have.flat, public["digests"], strict=True)))
    if not wrong:
        return True, "passed"
    if have.size == 1:
        return False, "not the expected value"
    return False, f"{wrong} of {have.size} entries differ from the expected values"
