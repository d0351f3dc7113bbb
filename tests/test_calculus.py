import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import helpers

finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


def log_sum_exp(p):
    return np.logaddexp(p[0], p[1])


def log_sum_exp_grad(p):
    return np.exp(np.stack([p[0], p[1]]) - log_sum_exp(p))


POINT = np.array([0.0, np.log(2.0)])
STEP = np.array([0.01, -0.03])


def test_worked_example_of_chapter_1():
    # CURRICULUM.md, chapter 1: grad = (1/3, 2/3); estimate 1.0819456220...; true 1.0821241818...
    np.testing.assert_allclose(log_sum_exp_grad(POINT), [1 / 3, 2 / 3], rtol=1e-15)
    approximation = helpers.linear_approximation(log_sum_exp, log_sum_exp_grad, POINT, STEP)
    assert approximation == pytest.approx(1.0819456220, abs=1e-10)
    assert float(log_sum_exp(POINT + STEP)) == pytest.approx(1.0821241818, abs=1e-10)


def test_first_order_error_shrinks_quadratically():
    scales = np.logspace(-4, 0, 9)
    errors = [abs(float(log_sum_exp(POINT + t * STEP))
                  - helpers.linear_approximation(log_sum_exp, log_sum_exp_grad, POINT, t * STEP))
              for t in scales]
    assert helpers.loglog_slope(scales, errors) == pytest.approx(2.0, abs=0.02)


def test_numerical_gradient_matches_the_hand_derived_one():
    np.testing.assert_allclose(helpers.numerical_gradient(log_sum_exp, POINT),
                               log_sum_exp_grad(POINT), atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (3, 3), elements=finite), arrays(np.float64, 3, elements=finite),
       arrays(np.float64, 3, elements=finite))
def test_numerical_gradient_of_a_quadratic_form(a, b, x):
    # d/dx (x^T A x + b^T x) = (A + A^T) x + b
    def f(v):
        return v @ a @ v + b @ v

    np.testing.assert_allclose(helpers.numerical_gradient(f, x), (a + a.T) @ x + b,
                               atol=1e-6, rtol=1e-6)


def test_numerical_gradient_keeps_the_shape_of_a_matrix_variable():
    x = np.arange(6.0).reshape(2, 3)
    grad = helpers.numerical_gradient(lambda m: np.sum(m**2), x)
    assert grad.shape == (2, 3)
    np.testing.assert_allclose(grad, 2 * x, atol=1e-8)


def test_numerical_jacobian_of_the_curriculum_example_is_m_by_n():
    # CURRICULUM.md: f(x, y) = (x^2 y, 5x + sin y) has J(1, 0) = [[0, 1], [5, 1]]
    def f(p):
        return np.array([p[0] ** 2 * p[1], 5 * p[0] + np.sin(p[1]), p[0]])

    jacobian = helpers.numerical_jacobian(f, [1.0, 0.0])
    assert jacobian.shape == (3, 2)
    np.testing.assert_allclose(jacobian, [[0, 1], [5, 1], [1, 0]], atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (2, 3), elements=finite), arrays(np.float64, 3, elements=finite))
def test_numerical_jacobian_of_a_linear_map_is_the_matrix(a, x):
    np.testing.assert_allclose(helpers.numerical_jacobian(lambda v: a @ v, x), a, atol=1e-8)


def test_numerical_jacobian_of_a_scalar_is_the_gradient_as_a_row():
    row = helpers.numerical_jacobian(log_sum_exp, POINT)
    assert row.shape == (1, 2)
    np.testing.assert_allclose(row[0], helpers.numerical_gradient(log_sum_exp, POINT))


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 2, elements=finite), arrays(np.float64, 2, elements=finite))
def test_directional_derivative_is_v_dot_gradient(p, v):
    assert helpers.central_difference(log_sum_exp, p, v) == pytest.approx(
        float(v @ log_sum_exp_grad(p)), abs=1e-8)


def test_integer_and_float32_points_are_computed_in_float64():
    # float32 central differences with h = 1e-6 are wrong in the second digit; float64 is not
    point32 = POINT.astype(np.float32)
    estimate = helpers.central_difference(log_sum_exp, point32, [1, 0])
    assert estimate == pytest.approx(1 / 3, rel=1e-8)
    assert helpers.numerical_gradient(lambda v: v @ v, [1, 2]).dtype == np.float64


def test_float32_central_difference_really_is_wrong_in_the_second_digit():
    # The claim made on the notation page, measured independently of helpers.
    x, y, h = np.float32(0.0), np.float32(np.log(2.0)), np.float32(1e-6)
    estimate = (np.logaddexp(x + h, y) - np.logaddexp(x - h, y)) / (2 * h)
    assert abs(float(estimate) - 1 / 3) / (1 / 3) > 1e-2


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: helpers.numerical_gradient("not a function", [1.0]), TypeError, "function"),
        (lambda: helpers.numerical_gradient(lambda v: v * 2, [1.0, 2.0]), ValueError, "scalar"),
        (lambda: helpers.numerical_gradient(lambda v: v @ v, [np.nan, 1.0]), ValueError, "NaN"),
        (lambda: helpers.numerical_gradient(lambda v: v @ v, ["a", "b"]), TypeError, "real"),
        (lambda: helpers.numerical_gradient(lambda v: v @ v, [1j, 1.0]), TypeError, "complex"),
        (lambda: helpers.central_difference(lambda v: v @ v, [1.0, 2.0], [1.0]), ValueError,
         "shape"),
        (lambda: helpers.central_difference(lambda v: v @ v, [1.0], [1.0], h=0), ValueError,
         "positive"),
        (lambda: helpers.linear_approximation(log_sum_exp, lambda p: np.zeros(3), POINT, STEP),
         ValueError, "shape of the point"),
        (lambda: helpers.loglog_slope([1.0, 2.0], [0.0, 1.0]), ValueError, "positive"),
        (lambda: helpers.loglog_slope([1.0], [1.0]), ValueError, "at least 2"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


@settings(max_examples=30, deadline=None)
@given(st.floats(0.5, 4), st.floats(0.1, 10))
def test_loglog_slope_recovers_the_exponent_of_a_power_law(p, c):
    h = np.logspace(-3, 0, 7)
    assert helpers.loglog_slope(h, c * h**p) == pytest.approx(p, abs=1e-9)
