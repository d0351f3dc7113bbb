"""Chapter 8 (convexity and constrained optimisation): each number the page promises, read
where a reader sees it, against what the mathematics says it must be."""

import re

import numpy as np
import pytest

from tests.book.test_built_site import (  # noqa: F401
    _built_site,
    flat_text_of,
    framework_tab_sets,
    outputs_of,
)

PAGE = "chapters/08_convexity.html"


def test_log_sum_exp_is_convex_and_flat_along_the_ones():
    text = outputs_of(PAGE)
    assert float(re.search(r"\|formula - finite differences\| = (\S+)", text)[1]) < 1e-6
    eigenvalues = [float(v) for v in re.search(
        r"eigenvalues of the Hessian: \[([^\]]+)\]", text)[1].split()]
    assert eigenvalues[0] == 0 and all(v > 0 for v in eigenvalues[1:])  # zero along (1,...,1)
    smallest = float(re.search(r"over 1000 random pairs: smallest (\S+)", text)[1])
    assert smallest > 0  # every tangent plane below the graph


def test_least_squares_and_logistic_hessians_are_psd_and_agree_with_autodiff():
    text = outputs_of(PAGE)
    for label in ["least squares, eigenvalues of X\\^T X:", "logistic regression, eigenvalues "
                  "of H:"]:
        values = [float(v) for v in re.search(label + r" \[([^\]]+)\]", text)[1].split()]
        assert len(values) == 3 and min(values) > 0, label
    (tabs,) = framework_tab_sets(PAGE)
    assert list(tabs) == ["numpy", "pytorch", "tensorflow"]
    limits = {"numpy": 1e-6, "pytorch": 1e-12, "tensorflow": 1e-12}
    for framework, tab in tabs.items():
        gap = float(re.search(r"max \|formula - [^|]+\| = (\S+)", tab)[1])
        assert gap < limits[framework], framework


def test_the_network_is_not_convex_between_two_permuted_minima():
    text = outputs_of(PAGE)
    ends = re.search(r"loss at the trained weights ([\d.]+), at the permuted ones ([\d.]+) "
                     r"\(equal to round-off: True\)", text)
    assert ends and ends[1] == ends[2]
    mid = re.search(r"loss at the midpoint ([\d.]+) \(accuracy (\d+)%\); largest on the "
                    r"segment ([\d.]+)", text)
    midpoint, accuracy, top = float(mid[1]), int(mid[2]), float(mid[3])
    assert midpoint > 2 * float(ends[1]) and top >= midpoint and accuracy < 90
    ratio = float(re.search(r"Halfway between them the loss is about ([\d.]+) times as large",
                            flat_text_of(PAGE))[1])
    assert ratio == pytest.approx(midpoint / float(ends[1]), abs=0.5)


def test_gradient_descent_steps_grow_with_kappa_below_the_bound():
    text = outputs_of(PAGE)
    rows = re.findall(r"\b(10|30|100|300|1000) (\d+) (\d+) (\d+)\b", text)
    assert [int(r[0]) for r in rows] == [10, 30, 100, 300, 1000], rows
    for kappa, best, one_over_l, bound in ((int(v) for v in row) for row in rows):
        predicted = np.log(1e6) / np.log((kappa + 1) / (kappa - 1))
        assert bound == round(predicted) and best <= predicted
        assert 1.7 < one_over_l / best < 2.2  # the rate 1 - 1/kappa against 1 - 2/kappa
    slope = float(re.search(r"log\(steps\) against log\(kappa\): ([\d.]+)", text)[1])
    assert slope == pytest.approx(1.0, abs=0.05)
    sublinear = re.search(r"over 2000 steps: ([\d.]+); the bound L \|x0 - x\*\|\^2 / 2 = "
                          r"([\d.]+)", text)
    assert float(sublinear[1]) <= float(sublinear[2])


def test_pca_by_lagrange_matches_eigh():
    text = outputs_of(PAGE)
    assert float(re.search(r"\|grad f - nu grad g\| = (\S+)", text)[1]) < 1e-8
    nu, top = re.search(r"nu = ([\d.]+); largest eigenvalue of S = ([\d.]+)", text).groups()
    assert float(nu) == pytest.approx(float(top), rel=1e-9)
    cosine = float(re.search(r"\|cos\| of the angle to eigh's top eigenvector: ([\d.]+)",
                             text)[1])
    assert cosine == pytest.approx(1.0, abs=1e-8)


def test_nnls_by_projection_satisfies_kkt():
    text = outputs_of(PAGE)
    assert float(re.search(r"max \|projected GD - scipy nnls\| = (\S+)", text)[1]) < 1e-10
    rows = re.findall(r"\b([0-7]) (\d\.\d{4}) +(0 \(to 1e-12\)|\d+\.\d{4}) +(yes|no)\b", text)
    assert len(rows) == 8
    for _, w, multiplier, active in rows:
        if active == "yes":
            assert float(w) == 0 and float(multiplier) > 0  # a positive multiplier at w = 0
        else:
            assert float(w) > 0 and multiplier.startswith("0 ")  # slack: zero gradient
    count = sum(r[3] == "yes" for r in rows)
    assert f"{count} of the eight constraints are active" in flat_text_of(PAGE)
