"""What a student's copy of the package knows about the answers: ``public_expected.json``.

The file ships with ``helpers`` (Colab and a download have no ``solutions/``), so it gives
instant feedback with what it holds, by kind of question:

* ``function``: the outputs on the *public* cases, rounded to 12 significant digits (so that
  another CPU's round-off, about 1e-16 relative, writes the same file). These cases are printed in
  the feedback anyway ("got ..., expected ... at input ..."); the grade also uses hidden
  cases, which are not in the package. The grader compares against the same rounded values,
  so ``check`` and the grade agree on the public cases.
* ``value``: the shape, and for each entry a salted SHA-256 digest of the entry written to 6
  significant digits (:func:`helpers.grading.compare.canonical`). The check hashes the
  candidates that the student's entry matches (:func:`~helpers.grading.compare.value_candidates`)
  and looks for the digest; the grader asks the same rule directly. So a value passes
  ``check`` exactly when it will pass the grade.
* ``choice``: nothing. A multiple-choice answer checked on the spot is found by trying the
  letters, so these are checked only when the notebook is graded.

What the digests protect, and what not (the choice this module makes): a digest of a number
known to 6 digits can be found by trying every candidate, in seconds for a small integer and
in under a minute for any value. So digests ship only for the **book's own variant**, whose
answers the published solutions print anyway: they keep a reader from seeing an answer by
accident, nothing more. A **course** notebook (a student's own variant, see
:mod:`helpers.grading.variants`) carries no digest of a value answer at all: its ``check``
verifies the form (a number, the shape, no NaN) and says the value is checked when graded.
A slow key-derivation function would not change this: an integer answer has few candidates.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from helpers.grading.compare import canonical, compare, value_candidates, value_feedback
from helpers.grading.encoding import decode

PUBLIC_EXPECTED = Path(__file__).with_name("public_expected.json")
SHIPPED_DIGITS = 12  # of a function's public outputs: far finer than any tolerance


def load() -> dict:
    """The public expected answers of every chapter (see the module doc)."""
    return json.loads(PUBLIC_EXPECTED.read_text())


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


def entry(kind: str, answers: list, salt: str, where: str, digests: bool = True) -> Any:
    """The public form of a question's expected answers (``where`` names it: "ch1.q2");
    ``digests=False`` (a course's variant) ships a value answer's shape alone."""
    if kind == "function":
        return rounded(answers)
    if kind == "choice":
        return {"graded_only": True}
    value = np.asarray(decode(answers[0]), dtype=np.float64)
    if not digests:  # (no true/false: a course's variant cell must stay a Python literal)
        return {"shape": list(value.shape)}
    return {"shape": list(value.shape),
            "digests": [_digest(salt, where, i, canonical(float(x)))
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


def check_value(public: dict, salt: str, where: str, got: Any) -> tuple[bool | None, str]:
    """Compare a student's value answer with its hashed public form: (passed, message);
    passed is None where the package holds no digest (a course's variant)."""
    shape = tuple(public["shape"])
    # compare() against a stand-in of the right shape names every problem of form: an
    # error, no answer, a wrong type or shape, NaN; its value verdict means nothing here
    message = compare(np.zeros(shape), got, "value")[1]
    if (isinstance(got, dict) and "error" in got) or got is None or \
            message.startswith(("wrong shape", "returned", "contains")):
        return False, message
    if "digests" not in public:
        return None, ("recorded; the value of your own variant is checked when your "
                      "notebook is graded")
    have = np.asarray(got, dtype=np.float64).reshape(shape)
    digests = public["digests"]
    return value_feedback(have, lambda i, x: digests[i] in {
        _digest(salt, where, i, text) for text in value_candidates(x)})
