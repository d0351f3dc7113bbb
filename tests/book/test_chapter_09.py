"""Chapter 9 (training dynamics): the measured figures the page prints, against the theory it
states beside them (measurements of a chaotic process get the tolerances they need)."""

import re

import numpy as np
import pytest

from tests.book.test_built_site import (  # noqa: F401
    _built_site,
    flat_text_of,
    framework_tab_sets,
    outputs_of,
)

PAGE = "chapters/09_training_dynamics.html"


def test_gradient_norms_change_by_sqrt_c_over_2_per_relu_layer():
    text = outputs_of(PAGE)
    rows = re.findall(r"\b(ReLU|tanh) (\d\.\d) (\S+) (\d\.\d{3})\b", text)
    found = {(name, float(c)): (float(first), float(per)) for name, c, first, per in rows}
    assert set(found) == {("ReLU", 1.0), ("ReLU", 2.0), ("ReLU", 4.0), ("tanh", 0.5),
                          ("tanh", 1.0), ("tanh", 2.0)}
    for c in (1.0, 2.0, 4.0):
        assert found["ReLU", c][1] == pytest.approx(np.sqrt(c / 2), rel=0.03)
    assert found["ReLU", 1.0][0] < 1e-3 and found["ReLU", 4.0][0] > 1e3  # vanish, explode
    assert 0.1 < found["ReLU", 2.0][0] < 10
    assert found["tanh", 0.5][0] < found["tanh", 1.0][0] < 1 < found["tanh", 2.0][0]


def test_he_initialisation_keeps_relu_activations_lecun_halves_them():
    text = outputs_of(PAGE)
    lecun = re.search(r"LeCun 1/n_in (\S+) (\S+)", text)
    he = re.search(r"He 2/n_in (\S+) (\S+)", text)
    assert float(lecun[1]) == pytest.approx(2.0**-30, rel=1.0)  # halved at every layer
    assert 0.1 < float(he[1]) < 10


def test_frameworks_compute_the_same_layer_gradients():
    (tabs,) = framework_tab_sets(PAGE)
    assert list(tabs) == ["numpy", "pytorch", "tensorflow"]
    for framework in ("pytorch", "tensorflow"):
        gap = re.search(r"largest relative difference from the NumPy gradients: (\S+)",
                        tabs[framework])
        assert float(gap[1]) < 1e-12, framework


def test_steps_grow_like_kappa_for_gd_and_sqrt_kappa_for_momentum():
    text = outputs_of(PAGE)
    rows = [tuple(int(v) for v in row) for row in re.findall(
        r"\b(10|100|1000|10000) (\d+) (\d+) (\d+) (\d+) (\d+)\b", text)]
    assert [r[0] for r in rows] == [10, 100, 1000, 10000], rows
    for kappa, gd, heavy, newton, _, _ in rows:
        assert gd <= np.log(1e6) / np.log((kappa + 1) / (kappa - 1))
        assert newton == 1 and heavy < gd
    assert len({r[4] for r in rows}) == 1  # Adam on a diagonal Hessian: blind to kappa
    assert rows[-1][5] > 5 * rows[-1][4]   # rotated: not
    slopes = re.search(r"GD ([\d.]+), momentum ([\d.]+)", text)
    assert float(slopes[1]) == pytest.approx(1.0, abs=0.05)
    assert float(slopes[2]) == pytest.approx(0.5, abs=0.1)


def test_optimisers_on_the_network():
    text = outputs_of(PAGE)
    rows = {method: float(loss) for method, loss in re.findall(
        r"(gradient descent|momentum|Adam|Newton \(saddle-free\)) +\d+ +([\d.]+) +\d+%", text)}
    assert set(rows) == {"gradient descent", "momentum", "Adam", "Newton (saddle-free)"}
    assert rows["momentum"] < rows["gradient descent"] < np.log(3) / 3
    assert rows["Newton (saddle-free)"] < np.log(3)  # it has left the plateau
    step = int(re.search(r"reaches Newton's last loss at step (\d+)", text)[1])
    assert 12 < step < 2000  # each of Newton's 12 steps is worth several gradient steps


def test_gauss_newton_is_the_fisher_and_psd_and_the_hessian_is_not():
    text = outputs_of(PAGE)
    assert "H: 603 x 603, symmetric to 1e-14: True" in text
    gap = float(re.search(r"H v from double backward, 5 directions: (\S+)", text)[1])
    assert gap < 1e-10  # the closed-form Hessian is PyTorch's
    assert float(re.search(r"max \|F - J\^T H_l J\| = (\S+)", text)[1]) < 1e-12
    negative = int(re.search(r"(\d+) eigenvalues below -1e-8", text)[1])
    assert negative > 0 and f"has {negative} negative eigenvalues" in flat_text_of(PAGE)
    assert float(re.search(r"Gauss-Newton: smallest eigenvalue (\S+)", text)[1]) > -1e-12
    share = float(re.search(r"\|H - G\| \(spectral norm\) = \S+, ([\d.]+)% of \|H\|",
                            text)[1])
    assert 0 < share < 5 and f"is {share:.1f}% of the Hessian’s norm" in flat_text_of(PAGE)


def test_lanczos_finds_the_dense_top_eigenvalues():
    text = outputs_of(PAGE)
    lanczos = re.search(r"Lanczos, top 5: \[([^\]]+)\] \((\d+) Hessian-vector products\)", text)
    dense = re.search(r"closed form: \[([^\]]+)\]", text)
    assert np.allclose([float(v) for v in lanczos[1].split()],
                       [float(v) for v in dense[1].split()], atol=2e-6)
    assert int(lanczos[2]) < 603


def test_sharpness_hovers_near_two_over_the_step_size():
    text = outputs_of(PAGE)
    rows = re.findall(r"\b(0\.25|0\.50|1\.00|2\.00) +(\d\.\d\d) +(\d+\.\d\d) +(\d+\.\d\d)\b",
                      text)
    assert [r[0] for r in rows] == ["0.25", "0.50", "1.00", "2.00"], rows
    for eta, edge, largest, late in ((float(v) for v in row) for row in rows):
        assert edge == pytest.approx(2 / eta)
        if eta >= 0.5:  # the edge is reached: the sharpness hovers near it, not far above
            assert 0.75 * edge < late < 1.25 * edge and largest < 1.5 * edge
        else:           # 8 is out of reach in 2,000 steps: below the edge
            assert largest < edge
