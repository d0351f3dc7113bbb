"""The worked numbers of CURRICULUM.md, computed independently of the chapters' code."""

import numpy as np
import pytest
from numpy.polynomial import Polynomial

import helpers


def composition(w, x, y, z):
    a = (w + x + y + z) ** 2
    b = (w + x - y - z) ** 2
    u = (a + b) ** 2
    v = (a - b) ** 2
    return (u + v) ** 2


def test_quartic_critical_points_and_values():
    quartic = Polynomial([0, 0, -12, -4, 3])
    critical = np.sort(quartic.deriv().roots().real)
    np.testing.assert_allclose(critical, [-1, 0, 2], atol=1e-12)
    np.testing.assert_allclose(quartic(critical), [-5, 0, -32], atol=1e-9)
    assert list(np.sign(quartic.deriv(2)(critical))) == [1, -1, 1]


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ((0.5, -0.25, 0.75, 0.1), [56.863216, 56.863216, 78.894528, 78.894528]),  # chapter 3
        ((-1.0, 0.0, -2.0, 1.0), [-4096.0] * 4),  # chapter 4, by hand
    ],
)
def test_composition_gradient(point, expected):
    torch = pytest.importorskip("torch")
    p = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    composition(*p).backward()
    np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-7)
    numeric = helpers.numerical_gradient(lambda q: composition(*q), point)
    np.testing.assert_allclose(numeric, expected, rtol=1e-6)
