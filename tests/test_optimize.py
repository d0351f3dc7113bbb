import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helpers


def quadratic(eigenvalues, seed):
    """f(x) = x^T A x / 2 with A symmetric positive definite of the given eigenvalues."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    a = q @ np.diag(eigenvalues) @ q.T
    return (lambda x: 0.5 * x @ a @ x), (lambda x: a @ x), q


eigenvalue_lists = st.lists(st.floats(0.1, 10.0), min_size=2, max_size=4)


@settings(max_examples=40, deadline=None)
@given(eigenvalue_lists, st.floats(0.05, 0.95), st.integers(0, 2**32 - 1))
def test_below_2_over_L_the_loss_decreases_at_every_step(eigenvalues, fraction, seed):
    f, grad, _ = quadratic(eigenvalues, seed)
    eta = fraction * 2 / max(eigenvalues)
    x0 = np.random.default_rng(seed + 1).standard_normal(len(eigenvalues))
    path = helpers.gradient_descent(f, grad, x0, eta, max_steps=200, tol=1e-12)
    assert not path.diverged
    assert np.all(np.diff(path.values) <= 1e-15 * (1 + path.values[:-1]))
    assert path.values[-1] < path.values[0] or path.values[0] < 1e-20


@settings(max_examples=40, deadline=None)
@given(eigenvalue_lists, st.floats(1.1, 3.0), st.integers(0, 2**32 - 1))
def test_above_2_over_L_gradient_descent_diverges(eigenvalues, fraction, seed):
    f, grad, q = quadratic(eigenvalues, seed)
    eta = fraction * 2 / max(eigenvalues)
    x0 = q[:, int(np.argmax(eigenvalues))]  # along the steepest direction
    path = helpers.gradient_descent(f, grad, x0, eta, max_steps=5000)
    assert path.diverged
    assert path.values[-1] > path.values[0]


def test_statuses_and_path_shape():
    f, grad = (lambda w: w @ w), (lambda w: 2 * w)
    done = helpers.gradient_descent(f, grad, [1.0, -2.0], step_size=0.1)
    assert done.converged and np.linalg.norm(done.final) < 1e-8
    assert done.points.shape == (done.steps + 1, 2) and done.values.shape == (done.steps + 1,)
    capped = helpers.gradient_descent(f, grad, [1.0, -2.0], step_size=1e-3, max_steps=7)
    assert capped.status == "max_steps" and capped.steps == 7
    assert "max_steps" in repr(capped)
    assert helpers.gradient_descent(f, grad, [0.0, 0.0], step_size=0.1).steps == 0


def test_quartic_starts_reach_different_minima():
    # Chapter 2: f(x) = 3x^4 - 4x^3 - 12x^2 has local minima at -1 and 2.
    def f(x):
        return 3 * x[0] ** 4 - 4 * x[0] ** 3 - 12 * x[0] ** 2

    def grad(x):
        return np.array([12 * x[0] ** 3 - 12 * x[0] ** 2 - 24 * x[0]])

    left = helpers.gradient_descent(f, grad, [-0.5], step_size=0.01)
    right = helpers.gradient_descent(f, grad, [0.5], step_size=0.01)
    assert left.final[0] == pytest.approx(-1.0, abs=1e-6)
    assert right.final[0] == pytest.approx(2.0, abs=1e-6)
    assert f(left.final) == pytest.approx(-5.0) and f(right.final) == pytest.approx(-32.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"step_size": 0.0}, ValueError, "positive"),
        ({"step_size": 0.1, "max_steps": 2.5}, ValueError, "integer"),
        ({"step_size": 0.1, "grad": lambda w: np.zeros(3)}, ValueError, "shape"),
        ({"step_size": 0.1, "f": None}, TypeError, "functions"),
    ],
)
def test_bad_input(kwargs, error, message):
    args = {"f": lambda w: w @ w, "grad": lambda w: 2 * w, "x0": [1.0, 2.0]} | kwargs
    with pytest.raises(error, match=message):
        helpers.gradient_descent(**args)


def test_plot_path_draws_start_and_end():
    path = helpers.gradient_descent(lambda w: w @ w, lambda w: 2 * w, [1.0, 1.0], 0.2)
    ax = helpers.plot_path(path.points, label="η = 0.2")
    assert len(ax.lines) == 3
    np.testing.assert_allclose(ax.lines[0].get_xydata(), path.points)
    with pytest.raises(ValueError, match=r"\(k, 2\)"):
        helpers.plot_path(np.zeros((3, 3)))
