"""The questions of each chapter's exercises: kind, points and public cases.

Only what a student may see lives here. Expected values are not typed anywhere: they come
from running the reference solutions (``solutions/``), and the hidden cases live beside the
solutions in ``solutions/hidden_cases.json``, which instructors keep private.

Kinds: ``"value"`` (a variable ``qN`` holding a number, array or list), ``"function"``
(a function ``qN`` called on each case's arguments) and ``"choice"`` (a variable ``qN``
holding the letter of a multiple-choice answer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Question:
    """A question; ``draw`` (with ``book``, the book's own values) makes it parameterised:
    each student's variant draws its numbers from a seeded generator (see variants.py)."""

    name: str
    kind: str
    points: float = 1.0
    public: list = field(default_factory=list)  # each case: a list of positional arguments
    draw: Callable[[np.random.Generator], dict] | None = None
    book: dict = field(default_factory=dict)

    def cases(self) -> list:
        return self.public if self.kind == "function" else [[]]


# Parameters of the parameterised questions. Each draw keeps to ranges where every variant is
# well posed, and tests/test_variants.py asserts that over many seeds.

def _nonzero_integer(rng: np.random.Generator, low: int, high: int) -> int:
    return int(rng.choice([k for k in range(low, high + 1) if k != 0]))


def _ch1_q2(rng: np.random.Generator) -> dict:
    """A point (x, y) for df/dy of x^2 y + sin y: integers, x != 0 (the x^2 term counts)."""
    return {"point": [_nonzero_integer(rng, -4, 4), int(rng.integers(-3, 4))]}


def _ch2_q1(rng: np.random.Generator) -> dict:
    """x^3 - k x with k = 3 a^2: two distinct critical points -a and a, a = 1..6."""
    a = int(rng.integers(1, 7))
    return {"k": 3 * a * a}


def _ch3_q1(rng: np.random.Generator) -> dict:
    """t in [0.5, 3] to one decimal, away from 0 where every term vanishes."""
    return {"t": round(float(rng.uniform(0.5, 3.0)), 1)}


def _ch4_q1(rng: np.random.Generator) -> dict:
    """(w, x, y, z) small integers with w + x + y + z and w + x - y - z both nonzero (no
    zero gradient) and |f| kept far from overflow (|entries| <= 2 gives f < 1e9)."""
    while True:
        point = [int(v) for v in rng.integers(-2, 3, size=4)]
        w, x, y, z = point
        if w + x + y + z != 0 and w + x - y - z != 0 and abs(w + x + y + z) != abs(w + x - y - z):
            return {"point": point}


def _ch8_q1(rng: np.random.Generator) -> dict:
    """Curvatures a != b, integers 1..20 with max/min >= 2: a condition number of 2 to 20,
    either coordinate the steeper one."""
    while True:
        a, b = (int(v) for v in rng.integers(1, 21, size=2))
        if max(a, b) >= 2 * min(a, b):
            return {"a": a, "b": b}


def _ch10_q1(rng: np.random.Generator) -> dict:
    """theta for the best baseline of the score estimator of E[z^2], z ~ N(theta, 1): a
    positive quarter-integer other than the book's 1.5 (b* = theta^2 + 3, Var = 8 theta^2 + 6)."""
    return {"theta": float(rng.choice([0.5, 0.75, 1.0, 1.25, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0]))}


def _ch9_q1(rng: np.random.Generator) -> dict:
    """A fan-in of 16 to 512 and a leaky-ReLU slope of 0.01 to 0.5 (two decimals)."""
    return {"fan_in": int(rng.choice([16, 32, 64, 100, 128, 200, 256, 512])),
            "slope": round(float(rng.uniform(0.01, 0.5)), 2)}


NETWORK_A = [[[0.7, -1.1], [-0.8, 1.2], [2.0, -1.4], [-1.7, -1.3]],
             [[-0.6, -1.3, 0.4], [0.5, -1.6, 0.3]], [-2.0, -0.1, 1.9],
             [[1.2, 0.4, -0.7], [-1.2, -0.2, -0.9], [1.5, -1.1, -0.9]], [1.2, -0.9, -0.9],
             [0.0, 0.0, 2.0, 1.0]]  # X, W1, b1, W2, b2, y of chapter 7's network
NETWORK_B = [[[-0.9, 1.6, -0.9], [1.1, -0.1, -0.1], [1.9, 1.6, -1.7], [-1.0, -1.3, 1.6],
              [0.2, -0.5, 1.3]],
             [[-0.6, 0.7, -1.1, -1.9], [0.8, -0.7, -0.6, -0.9], [-1.0, 0.3, -0.7, -0.3]],
             [-1.2, 0.0, 0.3, -0.3], [[-0.4, 1.8], [-1.8, -0.7], [0.1, 0.4], [-1.8, -1.0]],
             [-1.8, -2.0], [0.0, 1.0, 1.0, 0.0, 1.0]]

QUESTIONS: dict[str, list[Question]] = {
    "ch1": [
        Question("q1", "function", 2, [[[0.0, 0.6931471805599453]], [[1.0, -1.0]], [[3.0, 3.0]]]),
        Question("q2", "value", draw=_ch1_q2, book={"point": [2, 0]}),
        Question("q3", "function", 2, [[[1.0, 2.0], [0.1, -0.1]], [[0.0, 0.0], [0.5, 0.5]]]),
        Question("q4", "choice"),
        Question("q5", "function", 2, [[[0.5, -1.0], [1.0, 2.0], 1], [[0.5, -1.0], [1.0, 2.0], -1],
                                        [[2.0, 0.0, 1.0], [1.0, -1.0, 3.0], 1]]),
        Question("q6", "function", 2, [[[1.0, 0.0], [3.0, 4.0]], [[2.0, 1.0], [-1.0, 2.0]],
                                        [[-1.0, 0.5], [0.0, -2.0]]]),
    ],
    "ch2": [
        Question("q1", "value", draw=_ch2_q1, book={"k": 3}),
        Question("q2", "function", 2, [[[[2.0, 0.0], [0.0, 8.0]]], [[[1.0, 0.0], [0.0, 1.0]]]]),
        Question("q3", "choice"),
        Question("q4", "choice"),
        Question("q5", "function", 2, [
            [[[1.0, 2.0], [0.0, 1.0], [3.0, -1.0]], [1.0, 0.0, 2.0], [0.5, -0.5], 0.1],
            [[[2.0, 0.0, 1.0], [1.0, -1.0, 0.0]], [1.0, -1.0], [0.0, 1.0, 0.5], 0.05]]),
        Question("q6", "function", 2, [[[[1.0, 2.0], [0.0, 1.0], [3.0, -1.0]]],
                                        [[[1.0, 1.0], [0.0, 2.0], [1.0, 0.0], [0.0, 1.0]]]]),
    ],
    "ch3": [
        Question("q1", "value", draw=_ch3_q1, book={"t": 1}),
        Question("q2", "function", 2, [[1, 2], [3, 2], [5, 3]]),
        Question("q3", "choice"),
        Question("q4", "function", 2, [[[1.0, 2.0, 3.0]], [[0.5, -1.0, 2.0]], [[-2.0, 0.5, 1.0]]]),
        Question("q5", "function", 2, [
            [[[1.0, 0.5], [-1.0, 2.0], [0.5, -0.5]], [0.2, -0.4], [1.0, 0.0, -1.0]],
            [[[1.0, 2.0, 0.0, -1.0], [0.5, -1.0, 1.0, 0.0]], [1.0, 0.0, -1.0, 0.5], [2.0, -1.0]]]),
    ],
    "ch4": [
        Question("q1", "value", 2, draw=_ch4_q1, book={"point": [1, 2, 0, -1]}),
        Question("q2", "function", 2, [[1.0, 2.0], [-1.5, 0.5]]),
        Question("q3", "choice"),
        Question("q4", "function", 2, [[1.0, 2.5, -1.0], [-1.0, 0.5, 3.0], [2.0, -1.0, 0.5]]),
        Question("q5", "function", 2, [
            [[[1.0, -1.0], [0.5, 2.0], [-1.0, 0.0]], [0.0, 0.5, -0.5], [1.0, -2.0, 0.5],
             [0.5, 1.5], 1.0],
            [[[0.5, -1.0, 2.0], [1.0, 0.0, -1.0]], [0.1, -0.2], [2.0, -1.0], [1.0, 0.5, -1.0],
             -0.5]]),
    ],
    "ch5": [
        Question("q1", "function", 2, [[[1.0, 1.0]], [[-0.5, 2.0]], [[2.0, -1.0]]]),
        Question("q2", "choice"),
        Question("q3", "function", 2, [[[1.0, 2.0]], [[0.5, -1.5]], [[-1.0, 0.5]]]),
        Question("q4", "function", 1, [[[[2.0, 0.0], [0.0, 3.0]]], [[[1.0, 2.0], [2.0, 1.0]]],
                                        [[[0.0, 0.0], [0.0, 1.0]]]]),
        Question("q5", "function", 2, [[[1.0, 2.0], [0.1, -0.2]], [[0.0, 0.0], [1.0, 1.0]]]),
        Question("q6", "function", 2, [[[1.0, 2.0]], [[0.5, -1.0, 2.0]], [[3.0, 0.0]]]),
    ],
    "ch6": [
        Question("q1", "function", 1, [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]),
        Question("q2", "function", 2, [[[3.0, 4.0]], [[1.0, 0.0, 0.0]]]),
        Question("q3", "function", 2, [[[[1.0, 0.0, 2.0], [-1.0, 1.0, 0.5]],
                                         [[0.5, 1.0], [-1.0, 0.0], [2.0, -0.5]],
                                         [[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 0.0, -1.0]],
                                         [[1.0, 2.0, 0.0, -1.0], [0.0, 1.0, 1.0, 0.5]]]]),
        Question("q4", "function", 2, [[[1.0, 2.0, 0.5], 1], [[0.0, 0.0, 0.0], 2]]),
        Question("q5", "choice"),
        Question("q6", "function", 2, [
            [[[1.0, 2.0], [0.0, -1.0], [2.0, 0.5], [-1.0, 1.0]], [1.0, 0.0, 0.0, 1.0],
             [0.5, -1.0]],
            [[[1.0, 0.0, -1.0], [0.5, 2.0, 0.0], [-1.0, 1.0, 1.0], [2.0, -0.5, 0.5],
              [0.0, 1.0, -2.0]], [0.0, 1.0, 1.0, 0.0, 1.0], [0.2, 0.1, -0.3]]]),
        Question("q7", "function", 2, [
            [[[1.0, 0.0, 2.0], [-1.0, 1.0, 0.5]],
             [[0.5, 1.0, 0.0, -1.0], [-1.0, 0.0, 2.0, 1.0], [2.0, -0.5, 1.0, 0.0]],
             [[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0], [2.0, -1.0]]],
            [[[1.0, -2.0, 0.5]], [[1.0, 0.0], [0.5, -1.0], [2.0, 1.0]], [[3.0], [-1.0]]]]),
    ],
    "ch7": [
        Question("q1", "function", 2, [NETWORK_A, NETWORK_B]),
        Question("q2", "function", 2, [NETWORK_A, NETWORK_B]),
        Question("q3", "choice"),
        Question("q4", "function", 2, [
            [[[0.2, -0.6, -0.5], [-0.5, 1.9, 0.5], [0.7, -0.7, 0.7], [-1.5, -1.8, 1.4]],
             [2.0, 0.0, 2.0, 2.0]],
            [[[1.3, 1.1, -1.8, -1.2], [1.4, -0.3, 0.5, -1.5], [-1.3, 0.0, 1.0, 0.2]],
             [0.0, 0.0, 1.0]]]),
    ],
    "ch8": [
        Question("q1", "value", 2, draw=_ch8_q1, book={"a": 2, "b": 18}),
        Question("q2", "function", 2, [[[1.0, 2.0], 3.0, [0.0, 0.0]],
                                        [[1.0, -1.0, 2.0], 1.0, [1.0, 1.0, 1.0]]]),
        Question("q3", "function", 2, [[[0.5, 1.2, 0.1, -0.3]], [[1.0, 2.0, 3.0, -1.0]],
                                        [[0.9, 0.8, 0.1, -0.5]]]),
        Question("q4", "choice"),
        Question("q5", "function", 2, [
            [[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]], [1.0, 2.0, 0.0, 3.0], [0.1, -0.2]],
            [[[0.5, 1.0, -1.0], [1.0, 0.0, 0.5], [-0.5, 1.0, 1.0], [0.0, -1.0, 2.0]],
             [0.0, 1.0, 4.0, 2.0], [0.2, 0.1, -0.3]]]),
        # cases where clipping least squares, or re-solving on its positive entries, is wrong
        Question("q6", "function", 2, [
            [[[-0.4, 0.2, 0.2, 2.1], [-1.1, -0.4, 2.0, 0.6], [0.7, -0.5, -1.6, 0.2],
              [0.1, -1.2, -0.7, -0.1]], [-1.9, -0.2, 0.2, 0.1]],
            [[[0.9, -0.9, -0.6], [0.3, -2.5, 3.1], [-0.7, -0.7, 0.9], [0.0, -1.8, 0.6]],
             [1.7, -0.9, -0.6, 1.0]]]),
    ],
    "ch10": [
        Question("q1", "value", 2, draw=_ch10_q1, book={"theta": 1.5}),
        Question("q2", "function", 2, [[[0.0, 1.0, -1.0], [1.0, 2.0, 5.0]],
                                        [[0.5, -0.5, 0.2, 1.0], [3.0, -1.0, 0.0, 2.0]]]),
        Question("q3", "function", 2, [[0.5, 1.2, [0.3, -1.1, 0.8, 2.0, -0.4]],
                                        [-1.0, 0.5, [1.5, -0.2, 0.7]]]),
        Question("q4", "function", 2, [[[0.7], [0.5], [1.2], 0.1],
                                        [[1.0, 0.0, -0.5], [-0.5, 1.0, 0.3], [1.0, 0.5, -1.0],
                                         -0.1]]),
        Question("q5", "choice"),
        Question("q6", "function", 2, [[0.5, 4.0, 1.0], [0.3, 1.0, 4.0], [-1.0, -2.0, 0.5]]),
    ],
    "ch9": [
        Question("q1", "value", 2, draw=_ch9_q1, book={"fan_in": 100, "slope": 0.1}),
        Question("q2", "function", 2, [
            [[[[0.5, -1.0], [1.5, 0.3]], [[-0.7, 0.4], [1.1, 0.9]]], [0.8, -0.5]],
            [[[[0.3, -0.8, 0.5], [1.0, 0.2, -0.6], [-0.4, 0.9, 0.7]],
              [[0.6, 0.1, -1.2], [-0.5, 0.8, 0.3], [0.9, -0.3, 0.4]],
              [[-1.0, 0.5, 0.2], [0.4, 0.7, -0.9], [0.3, -0.6, 1.1]]], [0.5, -1.0, 0.25]]]),
        Question("q3", "function", 2, [[[1.5, 0.5], [0.0, 1.0, 2.0], [1.2, 1.5, 2.9]],
                                        [[2.0, -0.3], [0.5, 1.0, 1.5, 2.5], [1.6, 1.4, 1.3, 0.9]]]),
        Question("q4", "function", 2, [[[1.5, 0.5], [0.0, 1.0, 2.0], [1.2, 1.5, 2.9]],
                                        [[2.0, -0.3], [0.5, 1.0, 1.5, 2.5], [1.6, 1.4, 1.3, 0.9]]]),
        Question("q5", "function", 2, [[[[4.0, 0.0], [0.0, 1.0]]],
                                        [[[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]]]]),
        Question("q6", "choice"),
    ],
}


def chapter_questions(chapter: str) -> list[Question]:
    if chapter not in QUESTIONS:
        raise KeyError(f"no exercises for chapter {chapter!r}; chapters: {sorted(QUESTIONS)}")
    return QUESTIONS[chapter]
