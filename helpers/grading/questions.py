"""The questions of each chapter's exercises: kind, points and public cases.

Only what a student may see lives here. Expected values are not typed anywhere: they come
from running the reference solutions (``solutions/``), and the hidden cases live beside the
solutions in ``solutions/hidden_cases.json``, which instructors keep private.

Kinds: ``"value"`` (a variable ``qN`` holding a number, array or list), ``"function"``
(a function ``qN`` called on each case's arguments) and ``"choice"`` (a variable ``qN``
holding the letter of a multiple-choice answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Question:
    name: str
    kind: str
    points: float = 1.0
    public: list = field(default_factory=list)  # each case: a list of positional arguments

    def cases(self) -> list:
        return self.public if self.kind == "function" else [[]]


QUESTIONS: dict[str, list[Question]] = {
    "ch1": [
        Question("q1", "function", 2, [[[0.0, 0.6931471805599453]], [[1.0, -1.0]], [[3.0, 3.0]]]),
        Question("q2", "value"),
        Question("q3", "function", 2, [[[1.0, 2.0], [0.1, -0.1]], [[0.0, 0.0], [0.5, 0.5]]]),
        Question("q4", "choice"),
    ],
    "ch2": [
        Question("q1", "value"),
        Question("q2", "function", 2, [[[[2.0, 0.0], [0.0, 8.0]]], [[[1.0, 0.0], [0.0, 1.0]]]]),
        Question("q3", "choice"),
        Question("q4", "choice"),
    ],
    "ch3": [
        Question("q1", "value"),
        Question("q2", "function", 2, [[1, 2], [3, 2], [5, 3]]),
        Question("q3", "choice"),
    ],
    "ch4": [
        Question("q1", "value", 2),
        Question("q2", "function", 2, [[1.0, 2.0], [-1.5, 0.5]]),
        Question("q3", "choice"),
    ],
    "ch5": [
        Question("q1", "value"),
        Question("q2", "choice"),
        Question("q3", "function", 2, [[[1.0, 2.0]], [[0.5, -1.5]], [[-1.0, 0.5]]]),
        Question("q4", "function", 1, [[[[2.0, 0.0], [0.0, 3.0]]], [[[1.0, 2.0], [2.0, 1.0]]],
                                        [[[0.0, 0.0], [0.0, 1.0]]]]),
        Question("q5", "function", 2, [[[1.0, 2.0], [0.1, -0.2]], [[0.0, 0.0], [1.0, 1.0]]]),
    ],
    "ch6": [
        Question("q1", "function", 1, [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]),
        Question("q2", "function", 2, [[[3.0, 4.0]], [[1.0, 0.0, 0.0]]]),
        Question("q3", "function", 2, [[[[1.0, 2.0], [3.0, 4.0]], [[1.0], [0.0]],
                                         [[0.5, -0.5]]]]),
        Question("q4", "function", 2, [[[1.0, 2.0, 0.5], 1], [[0.0, 0.0, 0.0], 2]]),
        Question("q5", "choice"),
    ],
}


def chapter_questions(chapter: str) -> list[Question]:
    if chapter not in QUESTIONS:
        raise KeyError(f"no exercises for chapter {chapter!r}; chapters: {sorted(QUESTIONS)}")
    return QUESTIONS[chapter]
