"""Hessians, the quadratic model (with its 1/2), Newton's method, critical point classes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import helpers

values = st.floats(-2, 2, allow_nan=False, allow_infinity=False)


def f(p):
    return np.exp(p[0] * p[1]) + p[0] ** 3 - 2 * p[1] ** 2


def grad_f(p):
    return np.array([p[1] * np.exp(p[0] * p[1]) + 3 * p[0] ** 2,
                     p[0] * np.exp(p[0] * p[1]) - 4 * p[1]])


def hess_f(p):
    e = np.exp(p[0] * p[1])
    return np.array([[p[1] ** 2 * e + 6 * p[0], (1 + p[0] * p[1]) * e],
                     [(1 + p[0] * p[1]) * e, p[0] ** 2 * e - 4]])


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (3, 3), elements=values), arrays(np.float64, 3, elements=values),
       arrays(np.float64, 3, elements=values), arrays(np.float64, 3, elements=values))
def test_quadratic_model_is_exact_for_quadratics(a, b, x0, step):
    def q(v):
        return v @ a @ v + b @ v + 1.5

    model = helpers.quadratic_approximation(q, lambda v: (a + a.T) @ v + b,
                                            lambda v: a + a.T, x0, step)
    assert model == pytest.approx(q(x0 + step), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(helpers.numerical_hessian(q, x0), a + a.T, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(arrays(np.float64, 2, elements=st.floats(-1, 1)),
       arrays(np.float64, 2, elements=st.floats(-1, 1)).filter(lambda d: np.linalg.norm(d) > 0.1))
def test_quadratic_model_error_shrinks_like_the_cube_and_needs_the_half(x0, direction):
    direction = direction / np.linalg.norm(direction)
    if abs(direction @ hess_f(x0) @ direction) < 0.1:
        return  # no curvature along d: dropping the 1/2 would go unnoticed there
    t = np.logspace(-3.5, -2, 6)
    err_quad = [abs(f(x0 + s * direction)
                    - helpers.quadratic_approximation(f, grad_f, hess_f, x0, s * direction))
                for s in t]
    err_no_half = [abs(f(x0 + s * direction)
                       - helpers.linear_approximation(f, grad_f, x0, s * direction)
                       - s**2 * direction @ hess_f(x0) @ direction) for s in t]
    if min(err_quad) > 1e-14:
        assert helpers.loglog_slope(t, err_quad) > 2.7
    assert helpers.loglog_slope(t, err_no_half) == pytest.approx(2.0, abs=0.15)


def test_hessian_three_ways():
    torch = pytest.importorskip("torch")
    point = np.array([0.5, -1.0])

    def f_torch(p):
        return torch.exp(p[0] * p[1]) + p[0] ** 3 - 2 * p[1] ** 2

    autodiff = torch.autograd.functional.hessian(f_torch, torch.tensor(point)).numpy()
    np.testing.assert_allclose(autodiff, hess_f(point), rtol=1e-14)
    np.testing.assert_allclose(helpers.numerical_hessian(f, point), hess_f(point), atol=1e-7)


@pytest.mark.parametrize(
    ("hessian", "expected"),
    [
        ([[2, 0], [0, 4]], "local minimum"),
        ([[-2, 1], [1, -2]], "local maximum"),
        ([[2, 0], [0, -2]], "saddle point"),
        ([[0, 0], [0, 0]], "inconclusive"),  # x^2 y + x y^2 at the origin
        ([[1, 0], [0, 0]], "inconclusive"),
        ([[1, 0], [0, -1e-12]], "inconclusive"),
    ],
)
def test_classify_critical_point(hessian, expected):
    assert helpers.classify_critical_point(hessian) == expected


def test_classify_rejects_non_symmetric_and_non_square():
    with pytest.raises(ValueError, match="not symmetric"):
        helpers.classify_critical_point([[1, 2], [0, 1]])
    with pytest.raises(ValueError, match="square"):
        helpers.classify_critical_point([[1, 2, 3]])


def test_x2y_plus_xy2_is_neither_max_nor_min():
    def g(p):
        return p[0] ** 2 * p[1] + p[0] * p[1] ** 2

    np.testing.assert_allclose(helpers.numerical_hessian(g, [0.0, 0.0]), 0, atol=1e-8)
    assert g([-0.1, -0.1]) < 0 < g([0.1, 0.1])


def test_newton_one_step_on_a_quadratic_and_fast_on_the_valley():
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    run = helpers.newton_method(lambda v: v @ a @ v, lambda v: 2 * a @ v, lambda v: 2 * a,
                                [1.0, -4.0])
    assert run.steps == 1 and run.converged

    def valley(p):
        return 0.5 * (p[0] ** 2 + 25 * p[1] ** 2) + 0.25 * p[0] ** 4

    def grad(p):
        return np.array([p[0] + p[0] ** 3, 25 * p[1]])

    def hess(p):
        return np.array([[1 + 3 * p[0] ** 2, 0.0], [0.0, 25.0]])

    newton = helpers.newton_method(valley, grad, hess, [-1.6, 0.5], tol=1e-10)
    gd = helpers.gradient_descent(valley, grad, [-1.6, 0.5], 0.07, max_steps=5000, tol=1e-10)
    assert newton.converged and gd.converged and newton.steps < gd.steps / 20


def test_newton_is_attracted_by_a_saddle_and_reports_singular_hessians():
    def grad(p):
        return np.array([4 * p[0] * (p[0] ** 2 - 1) + 0.3, 4 * p[1]])

    def hess(p):
        return np.array([[12 * p[0] ** 2 - 4, 0.0], [0.0, 4.0]])

    run = helpers.newton_method(lambda p: 0.0, grad, hess, [0.3, 0.8])
    assert run.converged
    assert helpers.classify_critical_point(hess(run.final)) == "saddle point"
    flat = helpers.newton_method(lambda p: p[0], lambda p: np.array([1.0]),
                                 lambda p: np.zeros((1, 1)), [0.0])
    assert flat.status == "singular"


def test_numerical_hessian_needs_a_vector():
    with pytest.raises(ValueError, match="1-D"):
        helpers.numerical_hessian(lambda m: np.sum(m), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\(n, n\)"):
        helpers.quadratic_approximation(f, grad_f, lambda p: np.eye(3), [0.0, 0.0], [0.1, 0.1])
