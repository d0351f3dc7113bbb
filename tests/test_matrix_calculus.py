"""Property tests of every identity of chapter 6: random shapes and values, float64,
checked with helpers.check_grad (central differences of every entry) and PyTorch autograd."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helpers

torch = pytest.importorskip("torch")
dims = st.integers(1, 5)
seeds = st.integers(0, 2**31 - 1)


def assert_gradient(loss, formula, variable, loss_torch):
    assert formula.shape == variable.shape  # denominator layout: the shape of the variable
    report = helpers.check_grad(loss, variable, formula, mode="full")
    assert report.passed, str(report)
    t = torch.tensor(variable, requires_grad=True)
    loss_torch(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), formula, rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(dims, seeds)
def test_linear_and_quadratic_forms(n, seed):
    rng = np.random.default_rng(seed)
    beta, x, a = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal((n, n))
    assert_gradient(lambda v: beta @ v, beta, x, lambda t: torch.tensor(beta) @ t)
    assert_gradient(lambda v: v @ beta, beta, x, lambda t: t @ torch.tensor(beta))
    assert_gradient(lambda v: v @ a @ v, (a + a.T) @ x, x,
                    lambda t: t @ torch.tensor(a) @ t)
    s = a + a.T
    assert_gradient(lambda v: v @ s @ v, 2 * s @ x, x, lambda t: t @ torch.tensor(s) @ t)


@settings(max_examples=25, deadline=None)
@given(dims, dims, dims, seeds)
def test_matrix_factorization(m, n, k, seed):
    rng = np.random.default_rng(seed)
    x, u, v = (rng.standard_normal(s) for s in [(m, n), (m, k), (k, n)])
    xt, ut, vt = (torch.tensor(a) for a in (x, u, v))
    assert_gradient(lambda w: np.sum((x - u @ w) ** 2), -2 * u.T @ (x - u @ v), v,
                    lambda t: ((xt - ut @ t) ** 2).sum())
    assert_gradient(lambda w: np.sum((x - w @ v) ** 2), -2 * (x - u @ v) @ v.T, u,
                    lambda t: ((xt - t @ vt) ** 2).sum())


def test_matrix_factorization_shapes_of_the_curriculum():
    rng = np.random.default_rng(0)
    x, u, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    formula = -2 * u.T @ (x - u @ v)
    numeric = helpers.numerical_gradient(lambda w: np.sum((x - u @ w) ** 2), v)
    assert np.abs(formula - numeric).max() < 1e-8


@settings(max_examples=25, deadline=None)
@given(dims, dims, dims, seeds)
def test_linear_layer(batch, d_in, d_out, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((batch, d_in)), rng.standard_normal((d_out, d_in))
    b, g = rng.standard_normal(d_out), rng.standard_normal((batch, d_out))
    xt, wt, bt, gt = (torch.tensor(a) for a in (x, w, b, g))
    assert_gradient(lambda z: np.sum(g * (z @ w.T + b)), g @ w, x,
                    lambda t: (gt * (t @ wt.T + bt)).sum())
    assert_gradient(lambda z: np.sum(g * (x @ z.T + b)), g.T @ x, w,
                    lambda t: (gt * (xt @ t.T + bt)).sum())
    assert_gradient(lambda z: np.sum(g * (x @ w.T + z)), g.sum(axis=0), b,
                    lambda t: (gt * (xt @ wt.T + t)).sum())


@settings(max_examples=25, deadline=None)
@given(dims, st.integers(2, 6), seeds)
def test_softmax_cross_entropy(batch, classes, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, classes)) * 3
    y = rng.integers(0, classes, size=batch)

    def cross_entropy(s):
        shifted = s - s.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -np.mean(log_p[np.arange(batch), y])

    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    formula = (p - np.eye(classes)[y]) / batch
    assert_gradient(cross_entropy, formula, z,
                    lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(y)))
    np.testing.assert_allclose(formula.sum(axis=1), 0, atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(dims, dims, seeds)
def test_trace_identities(m, n, seed):
    rng = np.random.default_rng(seed)
    x, a, sq = rng.standard_normal((m, n)), rng.standard_normal((n, m)), rng.standard_normal(
        (m, m))
    at, sqt = torch.tensor(a), torch.tensor(sq)
    assert_gradient(lambda z: np.trace(a @ z), a.T, x, lambda t: torch.trace(at @ t))
    assert_gradient(lambda z: np.trace(z.T @ sq @ z), (sq + sq.T) @ x, x,
                    lambda t: torch.trace(t.T @ sqt @ t))
    assert_gradient(lambda z: np.sum(z**2), 2 * x, x, lambda t: (t**2).sum())
    assert np.trace(x.T @ x) == pytest.approx(np.sum(x**2))


def test_a_transposed_formula_is_caught():
    rng = np.random.default_rng(1)
    x, u, v = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    wrong = (-2 * u.T @ (x - u @ v)).T
    assert helpers.check_grad(lambda w: np.sum((x - u @ w) ** 2), v, wrong).verdict == "failed"
