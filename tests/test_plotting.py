import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest

import helpers


def bowl(p):
    return p[0] ** 2 + 3 * p[1] ** 2


def bowl_grad(p):
    return np.stack([2 * p[0], 6 * p[1]])


def scalar_only(p):
    # Not vectorised: float() fails on a grid, so evaluate_on_grid must go point by point.
    return float(p[0]) ** 2 + 3 * float(p[1]) ** 2


def test_evaluate_on_grid_vectorised_and_pointwise_agree():
    X, Y = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-2, 2, 4))
    np.testing.assert_allclose(helpers.evaluate_on_grid(bowl, X, Y), X**2 + 3 * Y**2)
    np.testing.assert_allclose(helpers.evaluate_on_grid(scalar_only, X, Y), X**2 + 3 * Y**2)
    assert helpers.evaluate_on_grid(bowl_grad, X, Y).shape == (2, 4, 5)


@pytest.mark.parametrize(
    "draw",
    [
        lambda ax: helpers.contour_with_gradients(bowl, bowl_grad, ax=ax),
        lambda ax: helpers.error_loglog([1e-3, 1e-2, 1e-1], [1e-6, 1e-4, 1e-2], ax=ax),
        lambda ax: helpers.plot_linear_approximation_slice(bowl, bowl_grad, [1, 1], [0.1, 0],
                                                           ax=ax),
        lambda ax: helpers.plot_step_on_contours(bowl, bowl_grad, [1, 1], [0.1, 0], ax=ax),
    ],
)
def test_2d_plots_draw_on_the_given_axes_and_leave_rcparams_alone(draw):
    before = dict(mpl.rcParams)
    _fig, ax = plt.subplots()
    assert draw(ax) is ax
    assert ax.has_data()
    assert dict(mpl.rcParams) == before
    assert draw(None) is not ax  # without ax, a new figure


def test_gradient_arrows_are_the_gradient():
    ax = helpers.contour_with_gradients(bowl, bowl_grad, xlim=(-1, 1), ylim=(-1, 1), arrows=3)
    quiver = next(c for c in ax.collections if isinstance(c, mpl.quiver.Quiver))
    X, Y = np.meshgrid(np.linspace(-1, 1, 3), np.linspace(-1, 1, 3))
    np.testing.assert_allclose(quiver.U.reshape(3, 3), 2 * X)
    np.testing.assert_allclose(quiver.V.reshape(3, 3), 6 * Y)
    assert ax.get_aspect() == 1.0  # equal scale, so right angles look right


def test_surface_with_tangent_plane_needs_a_3d_axes():
    ax = helpers.surface_with_tangent_plane(bowl, bowl_grad, [0.5, 0.5])
    assert ax.name == "3d"
    assert len(ax.collections) == 3  # surface, plane, point
    _fig, flat = plt.subplots()
    with pytest.raises(ValueError, match="3-D Axes"):
        helpers.surface_with_tangent_plane(bowl, bowl_grad, [0.5, 0.5], ax=flat)
    with pytest.raises(ValueError, match=r"\(x, y\)"):
        helpers.surface_with_tangent_plane(bowl, bowl_grad, [0.5, 0.5, 0.5])


def test_tangent_plane_is_the_linear_approximation():
    p, q = np.array([0.5, -0.5]), np.array([0.7, -0.1])
    plane = helpers.tangent_plane(bowl, bowl_grad, p)
    assert plane(p) == pytest.approx(bowl(p))
    assert plane(q) == pytest.approx(helpers.linear_approximation(bowl, bowl_grad, p, q - p))
    X, Y = np.meshgrid([0.0, 1.0], [0.0, 1.0])
    assert plane(np.stack([X, Y])).shape == (2, 2)
    with pytest.raises(ValueError, match="shape of the point"):
        helpers.tangent_plane(bowl, lambda q: np.zeros(3), p)


def test_error_loglog_reports_the_fitted_slope():
    h = np.logspace(-3, 0, 5)
    ax = helpers.error_loglog(h, 5 * h**2)
    assert "fitted slope 2.00" in ax.get_legend().get_texts()[0].get_text()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_bad_limits_are_reported():
    with pytest.raises(ValueError, match="low < high"):
        helpers.contour_with_gradients(bowl, bowl_grad, xlim=(1, -1))
