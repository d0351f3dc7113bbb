"""Graded exercises: full marks for every solution, zero for every blank exercise, and every
adversarial submission graded within its limits with a clear message, its bytes untouched."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.grading import Checker, compare
from helpers.grading.compare import canonical
from helpers.grading.grade import HIDDEN_CASES, Grader, solution_path
from helpers.grading.questions import QUESTIONS
from helpers.grading.runner import Limits
from tests.grading_notebooks import notebook

ROOT = Path(__file__).resolve().parents[1]
LIMITS = Limits(cells_seconds=12, cell_seconds=4, question_seconds=2, startup_seconds=8)
CHAPTERS = sorted(QUESTIONS)


@pytest.fixture(scope="module")
def grader():
    return Grader(limits=LIMITS)


def exercise(chapter: str) -> Path:
    return ROOT / "exercises" / solution_path(chapter).with_suffix(".ipynb").name


@pytest.mark.slow
def test_every_solution_scores_full_marks_on_hidden_cases(grader):
    paths = [solution_path(c).with_suffix(".ipynb") for c in CHAPTERS]
    for result in grader.grade_all(paths):
        assert result.maximum > 0
        assert result.total == result.maximum, (result.submission, result.messages)


@pytest.mark.slow
def test_every_blank_exercise_scores_zero_with_only_not_answered_messages(grader):
    for result in grader.grade_all([exercise(c) for c in CHAPTERS]):
        assert result.total == 0 and result.maximum > 0
        assert result.messages, result.submission
        for message in result.messages:
            assert "not answered yet" in message, (result.submission, message)


ADVERSARIAL = {
    "raises": ("def q1(p):\n    raise ValueError('boom')", "", "raised ValueError: boom"),
    "sys_exit": ("import sys\nsys.exit(3)", "", "not defined"),
    "infinite_loop_in_answer": ("def q1(p):\n    while True:\n        pass", "",
                                "TimeoutError"),
    "infinite_loop_at_top": ("while True:\n    pass", "", "not defined"),
    "memory_bomb": ("def q1(p):\n    return np.ones((10**6, 10**5))", "", "MemoryError"),
    "huge_output": ("print('x' * 50_000_000)\ndef q1(p):\n    return np.zeros(2)", "",
                    "got [0., 0.]"),
    "fake_grader_output": (
        "print('q1: 2 points')\nprint(json.dumps({'answers': {'q1': [1, 1, 1]}}))\n"
        "def q1(p):\n    return np.zeros(3)", "import json", "wrong shape (3,), expected (2,)"),
    "monkeypatched_numpy": (
        "np.allclose = lambda *a, **k: True\nnp.isclose = np.allclose\n"
        "def q1(p):\n    return np.array([5.0, 5.0])", "", "got [5., 5.]"),
    "monkeypatched_checker": (
        "import helpers.grading.compare as c\nc.compare = lambda *a, **k: (True, 'passed')\n"
        "def q1(p):\n    return -np.ones(2)", "", "expected"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_submissions(tmp_path, grader, name):
    source, extra, expected_message = ADVERSARIAL[name]
    path = notebook(tmp_path, name, answers={"q1": source}, first_cell=extra)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    start = time.perf_counter()
    (result,) = grader.grade_all([path])
    assert time.perf_counter() - start < LIMITS.wall_seconds(9) + 10
    assert result.points["q1"] == 0, result
    assert result.points["q2"] == 1 and result.points["q4"] == 1  # other answers still count
    assert any(expected_message in m for m in result.messages if m.startswith("q1")), \
        result.messages
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@pytest.mark.slow
def test_os_exit_and_endless_loops_end_in_a_message_not_a_hang(tmp_path, grader):
    hard_exit = notebook(tmp_path, "os_exit", answers={"q1": "import os\nos._exit(0)"})
    endless = notebook(tmp_path, "endless", answers={"q1": (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        pass")})
    start = time.perf_counter()
    results = grader.grade_all([hard_exit, endless])
    assert time.perf_counter() - start < 2 * LIMITS.wall_seconds(9) + 10
    assert "os._exit" in results[0].messages[0] and results[0].total == 0
    # the loop catches the alarm too: it is abandoned once the cells' time is over, and the
    # later cells (the other answers) are not run
    assert "did not stop at its time limit" in " ".join(results[1].messages)
    assert results[1].total == 0


@pytest.mark.slow
def test_invalid_json_and_the_wrong_chapter(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_bytes(b"{this is not json")
    other = tmp_path / "other.ipynb"
    other.write_bytes(solution_path("ch2").with_suffix(".ipynb").read_bytes())
    results = Grader(chapter="ch1", limits=LIMITS).grade_all([bad, other])
    assert "not a valid notebook" in results[0].messages[0] and results[0].total == 0
    assert "notebook of ch2, not ch1" in results[1].messages[0] and results[1].total == 0
    assert bad.read_bytes() == b"{this is not json"


def test_hidden_cases_never_reach_the_student_side():
    public = json.loads((ROOT / "helpers" / "grading" / "public_expected.json").read_text())
    hidden = json.loads(HIDDEN_CASES.read_text())
    for chapter, questions in hidden.items():
        for name, cases in questions.items():
            question = next(q for q in QUESTIONS[chapter] if q.name == name)
            if question.kind == "function":
                assert len(public[chapter][name]) == len(question.cases())
            for case in cases:
                assert case not in question.public
    for path in (ROOT / "exercises").glob("*"):
        if path.is_file():  # Jupyter adds .ipynb_checkpoints/ beside the notebooks
            assert "hidden_cases" not in path.read_text()


@pytest.mark.slow
def agree(built, shipped, where: str) -> None:
    """The shipped public answers are the ones computed now, to round-off: structure and
    digests exactly, numbers within 1e-9 relative (the file holds 12 digits)."""
    if isinstance(built, float) and isinstance(shipped, float):
        assert shipped == pytest.approx(built, rel=1e-9, abs=1e-12, nan_ok=True), where
    elif isinstance(built, dict) and isinstance(shipped, dict):
        assert built.keys() == shipped.keys(), where
        for key in built:
            agree(built[key], shipped[key], f"{where}.{key}")
    elif isinstance(built, list) and isinstance(shipped, list):
        assert len(built) == len(shipped), where
        for i, (b, s) in enumerate(zip(built, shipped, strict=True)):
            agree(b, s, f"{where}[{i}]")
    else:
        assert built == shipped, where


def test_public_expected_answers_come_from_the_solutions():
    """Every chapter's shipped answers, computed again here (under `make numerics`, with
    another arithmetic): `python -m helpers.grading expected` would write the same file."""
    from helpers.grading import public
    from helpers.grading.grade import reference_answers

    shipped = public.load()
    assert set(shipped) == {"salt", *QUESTIONS}, "run `python -m helpers.grading expected`"
    for chapter, questions in QUESTIONS.items():
        kinds = {chapter: {q.name: q.kind for q in questions}}
        answers = {chapter: reference_answers(chapter, hidden=False, limits=LIMITS)}
        built = public.build(answers, kinds, salt=shipped["salt"])[chapter]
        agree(built, shipped[chapter], chapter)
        for name, value in answers[chapter].items():  # a hashed value off a rounding edge
            if kinds[chapter][name] == "value":
                for x in np.ravel(public.decode(value[0])):
                    assert len({canonical(x * (1 + k * 1e-11)) for k in (-1, 0, 1)}) \
                        == 1, f"{chapter}.{name}: {x} sits on the edge of its hashed digits"


def test_instant_feedback_messages(capsys):
    check = Checker("ch1")
    namespace = {}

    def run(name, value):
        namespace[name] = value
        exec(f"check({name!r})", {"check": check, **namespace})
        return capsys.readouterr().out.strip()

    assert run("q1", None) == "q1: returned None: not answered yet"
    assert "wrong shape (2, 1), expected (2,)" in run("q1", lambda p: np.zeros((2, 1)))
    assert "contains NaN" in run("q1", lambda p: np.full(2, np.nan))
    assert "raised ZeroDivisionError" in run("q1", lambda p: 1 / 0)
    doubled = run("q1", lambda p: 2 * np.exp(p - np.logaddexp(*p)))
    assert "off by a factor of 2" in doubled and "at input" in doubled
    assert run("q2", 5.0) == "q2: passed"
    assert run("q2", 5.0 * (1 + 5e-7)) == "q2: passed"  # within the grader's tolerance
    assert run("q2", 5.001) == "q2: not the expected value"
    assert run("q2", [5.0, 5.0]) == "q2: wrong shape (2,), expected ()"
    assert run("q4", "b").startswith("q4: recorded 'b'; multiple-choice answers are checked")
    check.score()
    assert "Score on the public cases: 0 / 9" in capsys.readouterr().out
    run("q2", 5.0)
    check.score()
    assert "Score on the public cases: 1 / 9" in capsys.readouterr().out


def test_the_shipped_file_gives_no_value_or_choice_answer_away():
    from helpers.grading import public

    shipped = public.PUBLIC_EXPECTED.read_text()
    data = json.loads(shipped)
    for chapter, questions in QUESTIONS.items():
        for question in questions:
            entry = data[chapter][question.name]
            if question.kind == "choice":
                assert entry == {"graded_only": True}
            if question.kind == "value":
                assert set(entry) == {"shape", "digests"}
    assert '"5.0"' not in shipped and "5.0," not in shipped  # ch1 q2's answer is 5


@pytest.mark.parametrize(("expected", "got", "ok"), [
    (0.1234565, 0.12345649999, True),   # rounds the other way at 6 digits: a neighbour
    (1e-12, 0.0, True), (0.0, 5e-10, True), (0.0, 1e-6, False),
    (-3.0, 3.0, False), (2.0, 2.0 * (1 + 9e-7), True), (2.0, 2.00003, False),
    ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0000001]], True),
])
def test_hashed_values_pass_within_the_tolerance(expected, got, ok):
    from helpers.grading import public
    from helpers.grading.encoding import encode

    entry = public.entry("value", [encode(expected)], "salt", "chX.qY")
    assert public.check_value(entry, "salt", "chX.qY", np.asarray(got))[0] is ok
    assert compare(np.asarray(expected), np.asarray(got), "value")[0] is ok


@pytest.mark.parametrize(
    ("expected", "got", "kind", "message"),
    [
        (np.array([1.0, 2.0]), np.array([2.0, 4.0]), "value", "off by a factor of 2"),
        (np.array([1.0, 2.0]), np.array([-1.0, -2.0]), "value", "sign is flipped"),
        (3.0, "three", "value", "returned str"),
        ("B", 2, "choice", "expected a letter"),
        (np.ones(2), {"error": "KeyError: 'x'"}, "function", "raised KeyError"),
        ("min", "max", "function", "wrong answer"),
    ],
)
def test_compare_says_what_is_wrong(expected, got, kind, message):
    ok, text = compare(expected, got, kind)
    assert not ok and message in text
    assert compare(expected, expected, kind)[0]


# What a careless answer returns, made from the right one: none of these may pass any case.
SLIPS = {
    "zeros": np.zeros_like,
    "the wrong sign": np.negative,
    "a factor 2 too many": lambda value: 2 * value,
    "a missing factor 2 (or a stray 1/2)": lambda value: value / 2,
}


def _sigmoid(t):
    return 1 / (1 + np.exp(-t))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _network_grads(X, W1, b1, W2, b2, y, hidden, mask=None):
    """(X, dZ1 computed with the mask given, or with hidden's own derivative) of chapter 7."""
    n = len(X)
    Z1 = X @ W1 + b1
    H = hidden(Z1)
    dZ2 = _softmax(H @ W2 + b2) - np.eye(W2.shape[1])[y.astype(int)]
    dH = dZ2 / n @ W2.T
    return dH * (mask(Z1, H) if mask else 1.0)


def _hinge_active(Z, y):
    """1 where a wrong class's hinge margin is positive, 0 elsewhere (chapter 7's exercise 4)."""
    rows, labels = np.arange(len(Z)), y.astype(int)
    active = (Z - Z[rows, labels][:, None] + 1 > 0).astype(float)
    active[rows, labels] = 0.0
    return active


def _tanh_jacobian(Ws, x, reversed_order, transpose=True, slope=True):
    """d h_D / d h_0 of h_l = tanh(h_{l-1} W_l), with the slips of ch9 q2 on demand."""
    h, factors = np.asarray(x, dtype=float), []
    for W in np.asarray(Ws, dtype=float):
        h = np.tanh(h @ W)
        factors.append(((1 - h**2) if slope else np.ones_like(h))[:, None]
                       * (W.T if transpose else W))
    out = np.eye(len(h))
    for factor in factors:
        out = out @ factor if reversed_order else factor @ out
    return out


def _nnls_by_dropping_negatives(A, b):
    """A tempting non-answer to ch8 q6: least squares on the entries that stay positive,
    dropping the negative ones until none is left (not the KKT point in general)."""
    keep = np.ones(A.shape[1], dtype=bool)
    while True:
        w = np.zeros(A.shape[1])
        w[keep] = np.linalg.lstsq(A[:, keep], b, rcond=None)[0]
        if (w[keep] >= 0).all():
            return w
        keep &= w > 0


def _exp_fit(theta, t, y):
    """Gauss-Newton matrix and Hessian of sum (theta_1 exp(theta_2 t) - y)^2 / 2."""
    e = np.exp(theta[1] * t)
    J = np.column_stack([e, theta[0] * t * e])
    r = theta[0] * e - y
    cross = np.sum(r * t * e)
    return J.T @ J, J.T @ J + np.array([[0.0, cross], [cross, np.sum(r * theta[0] * t**2 * e)]])


# Plausible wrong answers to the exercises that ask for new work, each a slip that a student
# makes: each must fail on every case, public and hidden (a case it passed would reward it).
WRONG = {
    ("ch1", "q5"): {"sigma(m) for sigma(-m)": lambda w, x, y: -y * _sigmoid(y * (w @ x)) * x},
    ("ch1", "q6"): {"v . grad g, v not normalised": lambda p, v: np.array(
        [np.exp(p[1]), p[0] * np.exp(p[1]) - 2 * p[1]]) @ v},
    ("ch2", "q5"): {"a step up the gradient": lambda A, b, x, eta: x + eta * 2 * A.T @ (A @ x - b),
                    "the gradient without its 2": lambda A, b, x, eta: x - eta * A.T @ (A @ x - b),
                    "the gradient instead of the step": lambda A, b, x, eta: 2 * A.T @ (A @ x - b)},
    ("ch2", "q6"): {"2 / lambda_max(A^T A)": lambda A: 2 / np.linalg.eigvalsh(A.T @ A).max(),
                    "1 / sigma_max(A)": lambda A: 1 / np.linalg.norm(A, 2)},
    ("ch3", "q4"): {"the denominator layout": lambda p: np.array(
        [[p[1] * p[2], 2 * p[0]], [p[0] * p[2], p[2] * np.cos(p[1] * p[2])],
         [p[0] * p[1], p[1] * np.cos(p[1] * p[2])]])},
    ("ch3", "q5"): {
        "the softmax's diagonal only": lambda W, x, u: W.T @ (_softmax(W @ x) * u),
        "the layer forgotten": lambda W, x, u: _softmax(W @ x) * (u - u @ _softmax(W @ x))},
    ("ch4", "q4"): {"y's path through x + y forgotten": lambda x, y, z: [
        max(y, z), (x + y) * (y > z), (x + y) * (z > y)],
        "the max's gradient split evenly": lambda x, y, z: [
        max(y, z), max(y, z) + (x + y) / 2, (x + y) / 2]},
    ("ch4", "q5"): {
        "sigma for sigma'": lambda W, c, v, x, y: np.outer(
            (v @ _sigmoid(W @ x + c) - y) * v * _sigmoid(W @ x + c), x),
        "x (dL/dz)^T": lambda W, c, v, x, y: np.outer(x, (v @ _sigmoid(W @ x + c) - y) * v
                                                      * _sigmoid(W @ x + c)
                                                      * (1 - _sigmoid(W @ x + c)))},
    ("ch5", "q1"): {
        "a gradient step": lambda p: p - np.array([4 * p[0] ** 3 + p[1], p[0] + 2 * p[1]]),
        "the step, not the point": lambda p: -np.linalg.solve(
            [[12 * p[0] ** 2, 1], [1, 2]], [4 * p[0] ** 3 + p[1], p[0] + 2 * p[1]]),
        "H times the gradient": lambda p: p - np.array([[12 * p[0] ** 2, 1], [1, 2]]) @ np.array(
            [4 * p[0] ** 3 + p[1], p[0] + 2 * p[1]])},
    ("ch5", "q6"): {"4 |x|^2 I only": lambda x: 4 * (x @ x) * np.eye(len(x)),
                    "12 x x^T": lambda x: 12 * np.outer(x, x),
                    "4 |x|^2 I + 4 x x^T": lambda x: 4 * (x @ x) * np.eye(len(x))
                    + 4 * np.outer(x, x)},
    ("ch6", "q3"): {"A^T R B^T with R = C - AXB and no 2": lambda A, X, B, C: A.T @ (
        C - A @ X @ B) @ B.T, "the transposes misplaced": lambda A, X, B, C: 2 * (
        A.T @ (A @ X @ B - C) @ B.T).T},
    ("ch6", "q4"): {"the cross-entropy gradient": lambda z, y: _softmax(z) - np.eye(len(z))[y],
                    "2 (p - e_y), the softmax's Jacobian forgotten": lambda z, y: 2 * (
                        _softmax(z) - np.eye(len(z))[y])},
    ("ch6", "q6"): {"a sum, not a mean": lambda X, y, w: X.T @ (_sigmoid(X @ w) - y),
                    "y - s": lambda X, y, w: X.T @ (y - _sigmoid(X @ w)) / len(y)},
    ("ch6", "q7"): {"B A": lambda A, X, B: B @ A, "A^T": lambda A, X, B: A.T},
    ("ch7", "q1"): {
        "the ReLU's mask": lambda X, W1, b1, W2, b2, y: X.T @ _network_grads(
            X, W1, b1, W2, b2, y, np.tanh, lambda Z, H: Z > 0),
        "1 - H for 1 - H^2": lambda X, W1, b1, W2, b2, y: X.T @ _network_grads(
            X, W1, b1, W2, b2, y, np.tanh, lambda Z, H: 1 - H),
        "a sum, not a mean": lambda X, W1, b1, W2, b2, y: len(X) * X.T @ _network_grads(
            X, W1, b1, W2, b2, y, np.tanh, lambda Z, H: 1 - H**2)},
    ("ch7", "q2"): {
        "the mask forgotten": lambda X, W1, b1, W2, b2, y: _network_grads(
            X, W1, b1, W2, b2, y, lambda Z: np.maximum(Z, 0)) @ W1.T,
        "a sum, not a mean": lambda X, W1, b1, W2, b2, y: len(X) * _network_grads(
            X, W1, b1, W2, b2, y, lambda Z: np.maximum(Z, 0), lambda Z, H: Z > 0) @ W1.T},
    ("ch7", "q4"): {
        "the true class's column forgotten": lambda Z, y: _hinge_active(Z, y) / len(Z),
        "a sum, not a mean": lambda Z, y: _hinge_active(Z, y) - np.eye(Z.shape[1])[
            y.astype(int)] * _hinge_active(Z, y).sum(axis=1, keepdims=True)},
    ("ch8", "q2"): {"|a| for |a|^2": lambda a, c, x: x - (a @ x - c) / np.linalg.norm(a) * a,
                    "the step away from the plane": lambda a, c, x: x + (a @ x - c) / (a @ a) * a},
    ("ch8", "q5"): {"the counts kept": lambda X, y, w: X.T @ (X * (np.exp(X @ w) - y)[:, None]),
                    "the weights forgotten": lambda X, y, w: X.T @ X,
                    "x x^T outside the sum": lambda X, y, w: np.exp(X @ w).sum() * X.T @ X},
    ("ch8", "q3"): {"clipped and renormalised": lambda v: np.maximum(v, 0) / max(
        np.maximum(v, 0).sum(), 1e-300), "the softmax": _softmax,
        "tau from the positive entries": lambda v: np.maximum(
            v - (v[v > 0].sum() - 1) / max((v > 0).sum(), 1), 0.0)},
    ("ch8", "q6"): {"least squares, then clipped": lambda A, b: np.maximum(
        np.linalg.lstsq(A, b, rcond=None)[0], 0.0), "re-solved on the positive entries":
        _nnls_by_dropping_negatives},
    ("ch9", "q2"): {"the factors in the wrong order": lambda Ws, x: _tanh_jacobian(Ws, x, True),
                    "W for W^T": lambda Ws, x: _tanh_jacobian(Ws, x, False, transpose=False),
                    "tanh' forgotten": lambda Ws, x: _tanh_jacobian(Ws, x, False, slope=False)},
    ("ch9", "q3"): {"the full Hessian": lambda theta, t, y: _exp_fit(theta, t, y)[1],
                    "theta_1 dropped from df/dtheta_2": lambda theta, t, y: _exp_fit(
                        [1.0, theta[1]], t, y)[0]},
    ("ch9", "q4"): {"Gauss-Newton only": lambda theta, t, y: _exp_fit(theta, t, y)[0]},
    ("ch9", "q5"): {"gradient descent's kappa, not sqrt(kappa)": lambda A: [
        2 / (np.linalg.eigvalsh(A)[0] + np.linalg.eigvalsh(A)[-1]),
        ((np.linalg.cond(A) - 1) / (np.linalg.cond(A) + 1)) ** 2]},
    ("ch10", "q2"): {
        "p * f, the -p term of the score forgotten": lambda eta, f: _softmax(eta) * f,
        "f - mean(f), not the p-weighted mean": lambda eta, f: _softmax(eta) * (f - f.mean()),
        "e_z for e_z - p": lambda eta, f: f * _softmax(eta) * (1 - _softmax(eta))},
    ("ch10", "q3"): {
        "the noise factor of d/dsigma forgotten": lambda mu, sigma, eps: np.exp(
            mu + sigma * eps).mean() * np.ones(2),
        "sigma for eps in d/dsigma": lambda mu, sigma, eps: np.exp(mu + sigma * eps).mean()
        * np.array([1.0, sigma]),
        "the score function on the same samples": lambda mu, sigma, eps: np.array([
            (np.exp(mu + sigma * eps) * eps / sigma).mean(),
            (np.exp(mu + sigma * eps) * (eps**2 - 1) / sigma).mean()])},
    ("ch10", "q4"): {
        "+ log|det J|": lambda x, u, w, b: -0.5 * len(x) * np.log(2 * np.pi) - 0.5 * x @ x
        + np.log(abs(1 + (1 - np.tanh(w @ x + b) ** 2) * (w @ u))),
        "the Jacobian forgotten": lambda x, u, w, b: -0.5 * len(x) * np.log(2 * np.pi)
        - 0.5 * x @ x,
        "tanh for tanh'": lambda x, u, w, b: -0.5 * len(x) * np.log(2 * np.pi) - 0.5 * x @ x
        - np.log(abs(1 + np.tanh(w @ x + b) * (w @ u))),
        "p_X at y, not at x": lambda x, u, w, b: -0.5 * len(x) * np.log(2 * np.pi) - 0.5 * np.sum(
            (x + u * np.tanh(w @ x + b)) ** 2) - np.log(
            abs(1 + (1 - np.tanh(w @ x + b) ** 2) * (w @ u))),
        "the chapter's 2-D constant for every d": lambda x, u, w, b: -np.log(2 * np.pi)
        - 0.5 * x @ x - np.log(abs(1 + (1 - np.tanh(w @ x + b) ** 2) * (w @ u)))},
    ("ch10", "q6"): {
        "the second moment, mean not subtracted": lambda eta, f0, f1: _sigmoid(eta) * (
            1 - _sigmoid(eta)) * ((1 - _sigmoid(eta)) * f1**2 + _sigmoid(eta) * f0**2),
        "p (1 - p) (f1 - f0)^2": lambda eta, f0, f1: _sigmoid(eta) * (1 - _sigmoid(eta)) * (
            f1 - f0) ** 2,
        "p and 1 - p swapped": lambda eta, f0, f1: _sigmoid(eta) * (1 - _sigmoid(eta)) * (
            _sigmoid(eta) * f1 + (1 - _sigmoid(eta)) * f0) ** 2},
}


@pytest.mark.slow
def test_cases_separate_right_from_wrong_no_case_rewards_zeros(grader):
    """A careless answer must earn nothing: on no case of a function question (public or
    hidden) may zeros, the right answer with the wrong sign or off by a factor 2 pass (ch4 q2
    once had three of five cases that expected zeros); a matrix answer that is not symmetric
    by nature must change when transposed on every case (a non-square or non-symmetric
    case); and a classification's cases need more than one label."""
    from helpers.grading.encoding import decode

    for chapter in CHAPTERS:
        cases, expected = grader.cases(chapter), grader.expected(chapter)
        for question in QUESTIONS[chapter]:
            if question.kind != "function":
                continue
            values = [decode(answer) for answer in expected[question.name]]
            if any(isinstance(value, str) for value in values):  # a classification
                assert len(set(values)) > 1, (chapter, question.name, values)
                continue
            arrays = [np.asarray(value, dtype=float) for value in values]
            symmetric = all(a.ndim == 2 and a.shape[0] == a.shape[1] and np.allclose(a, a.T)
                            for a in arrays)
            for case, value in zip(cases[question.name], arrays, strict=True):
                for slip, wrong in SLIPS.items():
                    assert not compare(value, wrong(value), "function")[0], \
                        (chapter, question.name, case, slip)
                if value.ndim == 2 and not symmetric:
                    assert not compare(value, value.T, "function")[0], \
                        (chapter, question.name, case, "the transpose")


@pytest.mark.slow
@pytest.mark.parametrize(("chapter", "name"), sorted(WRONG))
def test_plausible_wrong_answers_fail_every_case(grader, chapter, name):
    from helpers.grading.answers import as_argument
    from helpers.grading.encoding import decode

    cases, expected = grader.cases(chapter)[name], grader.expected(chapter)[name]
    for slip, wrong in WRONG[chapter, name].items():
        passed = []
        for case, answer in zip(cases, expected, strict=True):
            try:
                got = wrong(*[as_argument(a) for a in case])
            except (ValueError, IndexError):  # shapes that do not fit: the slip fails here
                continue
            if compare(decode(answer), np.asarray(got, dtype=float), "function")[0]:
                passed.append(case)
        assert not passed, f"{chapter} {name}: '{slip}' passes on {passed}"


# ------------------------------------------- check and the grade agree, at the same tolerance

@settings(max_examples=400, deadline=None)
@given(mantissa=st.floats(1.0, 9.999999), exponent=st.integers(-8, 8),
       sign=st.sampled_from([1.0, -1.0]),
       offset=st.floats(-3e-5, 3e-5) | st.sampled_from([-1e-5, 1e-5, -1.0000001e-5,
                                                         1e-5 * 0.9999999]))
def test_check_and_grade_agree_on_value_answers(mantissa, exponent, sign, offset):
    """For values and answers around the tolerance's edge: the package's check (digests)
    and the grader (the value itself) give the same verdict and the same message."""
    from helpers.grading import public
    from helpers.grading.encoding import encode

    want = sign * mantissa * 10.0**exponent
    for got in (want * (1 + offset), np.array([want, want * (1 + offset)])):
        expected = want if np.ndim(got) == 0 else np.array([want, want])
        entry = public.entry("value", [encode(expected)], "salt", "chX.qY")
        check = public.check_value(entry, "salt", "chX.qY", np.asarray(got))
        grade = compare(np.asarray(expected), np.asarray(got), "value")
        assert check == grade, (want, got)


@settings(max_examples=200, deadline=None)
@given(want=st.lists(st.floats(-1e6, 1e6, allow_subnormal=False), min_size=1, max_size=3),
       offset=st.floats(-3e-6, 3e-6), absolute=st.sampled_from([0.0, 1e-9, -1e-9, 2e-9]))
def test_check_and_grade_agree_on_function_answers(want, offset, absolute):
    """A function's public case: check compares with the shipped (rounded) output, the
    grader with the same rounding, so they agree even at the tolerance's edge."""
    from helpers.grading import public
    from helpers.grading.checker import feedback
    from helpers.grading.encoding import encode
    from helpers.grading.grade import score
    from helpers.grading.questions import Question

    question = Question("q1", "function", 1.0, public=[[0.0]])
    expected = encode(np.array(want))
    got = encode(np.array(want) * (1 + offset) + absolute)
    shipped = {"salt": "s", "chX": {"q1": public.entry("function", [expected], "s", "chX.q1")}}
    check_points, _ = feedback("chX", question, [got], shipped)
    points, _ = score("chX", [question], {"q1": [[0.0]]}, {"q1": [expected]},
                      {"answers": {"q1": [got]}, "cell_errors": []}, {"q1": 1})
    assert check_points == points["q1"]


def test_answers_that_are_complex_or_exact_numbers_are_read_as_they_are():
    """From an attack on chapters 8 to 10: a complex answer lost its imaginary part and
    passed; one exact number (a Fraction, a SymPy Rational) was refused while a list of
    them passed; a near miss printed the same six digits for 'got' and 'expected'."""
    from fractions import Fraction

    import sympy

    from helpers.grading.encoding import encode

    assert "complex entries" in encode(np.array([0.2 + 0.5j, 0.8]))["error"]
    assert "complex entries" in encode(np.complex128(1 + 1e-3j))["error"]
    assert encode(np.complex128(2.0 + 0j)) == {"array": 2.0, "shape": []}  # round-off free
    assert encode(Fraction(2, 101)) == pytest.approx(2 / 101)
    assert encode(sympy.Rational(2, 101)) == pytest.approx(2 / 101)
    assert "not a number" in encode(object())["error"]
    ok, message = compare(np.array([-0.250936, 0.1]), np.array([-0.2509364, 0.1]), "function")
    got, expected = message.split(", expected ")
    assert not ok and "-0.2509364" in got and "-0.250936," in expected


def test_a_question_missing_from_the_public_answers_says_which_command_writes_them():
    from helpers.grading.checker import feedback
    from helpers.grading.questions import Question

    with pytest.raises(KeyError, match=r"ch99 q1: run `python -m helpers.grading expected`"):
        feedback("ch99", Question("q1", "function", public=[[1.0]]), [1.0], {"salt": ""})
