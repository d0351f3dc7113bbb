"""Checks of chapter 10, "Gradients of expectations", on the website `make book` built: each
number the chapter prints or glues into its text, read where a reader sees it, and held to
the mathematics (CURRICULUM.md, Part III) within a tolerance its sampling noise justifies."""

import re

import numpy as np
import pytest

from tests.book.test_built_site import framework_tab_sets, page, text_of
from tests.site_server import HTML

CHAPTER = "chapters/10_expectations.html"
THETA = 1.5  # the chapter's z ~ N(theta, 1), f(z) = z^2: the true gradient is 2 theta = 3
CLOSED_FORM = {"pathwise": 4.0, "score function": THETA**4 + 14 * THETA**2 + 15,
               "score with baseline": 8 * THETA**2 + 10}
PM = r"\\\(\\pm\\\)"  # a $\pm$ in the prose, as the page's text holds it for MathJax


@pytest.fixture(scope="module", autouse=True)
def _built_site():
    if not (HTML / CHAPTER).exists():
        pytest.fail(f"{HTML / CHAPTER} was not built: run `make book` first (or `make test`)")


@pytest.fixture(scope="module")
def text():
    return text_of(CHAPTER)


@pytest.fixture(scope="module")
def flat(text):
    return " ".join(text.split())


def test_the_exact_gradient_is_2_theta_by_quadrature_and_differences(text, flat):
    assert "L(1.5) by quadrature: 3.2500000000" in text  # 1 + theta^2
    derivative = float(re.search(r"dL/dtheta by central differences: ([\d.]+)", text)[1])
    assert derivative == pytest.approx(2 * THETA, abs=1e-6)
    assert "derivative of the exact expectation is 3.000000" in flat


def test_both_estimators_are_unbiased_and_the_score_function_is_noisier(text, flat):
    found = dict((name, (mean, error)) for name, mean, error in re.findall(
        r"(pathwise|score function|score with baseline): mean ([\d.]+) \+- ([\d.]+)", text))
    assert set(found) == set(CLOSED_FORM), found
    for name, (mean, error) in found.items():
        assert abs(float(mean) - 2 * THETA) < 3 * float(error), (name, mean, error)
    # standard errors in the ratio of the standard deviations, sqrt(51.6 / 4) = 3.6
    assert float(found["score function"][1]) > 2.5 * float(found["pathwise"][1])
    assert float(found["score with baseline"][1]) < float(found["score function"][1])
    for name, words in [("pathwise", "the pathwise estimate is"),
                        ("score function", "the score-function estimate"),
                        ("score with baseline", "Still unbiased (")]:
        mean, error = found[name]
        assert re.search(rf"{re.escape(words)} ?{re.escape(mean)} {PM} {re.escape(error)}",
                         flat), name
    offsets = [float(v) for v in re.findall(r"([+-][\d.]+) standard errors away", text)]
    assert len(offsets) == 2 and all(abs(v) < 3 for v in offsets)
    assert re.search(r"the score's mean over the samples: [+-][\d.e-]+ \(\+- 0\.003; exactly 0",
                     text)


def test_autodiff_in_each_framework_computes_the_same_estimates():
    estimators, _ = framework_tab_sets(CHAPTER)
    assert list(estimators) == ["numpy", "pytorch", "tensorflow"]
    values = set()
    for framework, tab in estimators.items():
        found = re.search(r"pathwise ([\d.]+), score function ([\d.]+)\s*(equal|$)", tab)
        assert found, framework
        values.add(found.groups()[:2])
        if framework != "numpy":
            assert "equal to the NumPy formulas within 1e-12: True" in tab, framework
    assert len(values) == 1, values
    (pathwise, score), = values
    assert abs(float(pathwise) - 2 * THETA) < 0.02 and abs(float(score) - 2 * THETA) < 0.07


def test_torch_normal_has_no_path_and_rsample_has_one(text):
    found = re.search(r"gradient through torch\.normal: (\S+); through Normal\(theta, 1\)"
                      r"\.rsample: ([\d.]+)", text)
    assert found, "the torch.normal line is missing"
    assert float(found[1]) == 0.0
    assert float(found[2]) == pytest.approx(2 * THETA, abs=0.05)  # 100,000 samples: se 0.006


def test_closed_form_variances_by_gaussian_moments_and_their_measurements(text, flat):
    formulas = {"pathwise": "4", "score function": "theta**4 + 14*theta**2 + 15",
                "score with baseline": "8*theta**2 + 10"}
    for name, formula in formulas.items():
        line = (f"{name}: mean 2*theta, variance {formula} = {CLOSED_FORM[name]:g} at theta = "
                f"1.5; quadrature agrees: True")
        assert line in flat, line
    measured = {name: tuple(float(v) for v in values) for name, *values in re.findall(
        r"(pathwise|score function|score with baseline): measured variance ([\d.]+) \+- "
        r"([\d.]+), closed form ([\d.]+)", text)}
    assert set(measured) == set(CLOSED_FORM), measured
    for name, (variance, error, closed) in measured.items():
        assert closed == pytest.approx(CLOSED_FORM[name])
        assert abs(variance - closed) < 3 * error, (name, variance, error)
        assert error < 0.05 * closed  # 100,000 samples: a measurement worth comparing
    assert CLOSED_FORM["score function"] / CLOSED_FORM["pathwise"] > 10  # "much larger"
    assert "variance is 4.00" in flat and "(closed form 51.5625 )" in flat
    assert "about 13 times as many samples" in flat  # 51.5625 / 4 = 12.9


def test_the_variance_of_a_mean_of_S_samples_falls_like_one_over_S(text, flat):
    slopes = dict(re.findall(r"(pathwise|score function|score with baseline): fitted log-log "
                             r"slope (-?[\d.]+)", text))
    assert set(slopes) == set(CLOSED_FORM), slopes
    for name, slope in slopes.items():
        assert float(slope) == pytest.approx(-1.0, abs=0.05), (name, slope)
    assert (f"The fitted slopes are {slopes['pathwise']} (pathwise), "
            f"{slopes['score function']} (score function) and "
            f"{slopes['score with baseline']} (with baseline)") in flat
    figure = page(CHAPTER).find("figure", id="fig-variance-vs-samples")
    assert figure is not None and figure.find("img") is not None


def test_a_discrete_variable_has_no_path_but_a_score(text, flat):
    p = 1 / (1 + np.exp(-0.5))
    exact = p * (1 - p) * (1.0 - 4.0)  # f(z) = (z - 2)^2: f(1) - f(0) = -3
    assert f"exact dL/deta = p (1 - p) (f(1) - f(0)) = {exact:.4f}" in text
    assert "pathwise, by differences of f(1[u < p]): mean 0.0, nonzero for 0 of 100000" in text
    mean, error = re.search(r"score function: mean (-[\d.]+) \+- ([\d.]+)", text).groups()
    assert abs(float(mean) - exact) < 2 * float(error), (mean, error)
    assert re.search(rf"estimate {re.escape(mean)} {PM} {re.escape(error)} is within two "
                     rf"standard errors of the exact {exact:.4f}", flat)


def test_the_flow_log_determinant_by_autodiff_equals_the_formula(text):
    assert "g^-1(g(x)) = x within 1e-14 at 5 points: True" in text
    # the formula a tanh(x1) + b tanh(v), computed here at the chapter's five points
    x1, x2 = np.random.default_rng(4).standard_normal((5, 2)).T
    v = x2 * np.exp(0.5 * np.tanh(x1)) + 0.5 * x1**2
    here = 0.5 * np.tanh(x1) - 0.4 * np.tanh(v)
    printed = re.search(r"log\|det J\| by the formula: \[([^\]]+)\]", text)[1]
    assert np.allclose(np.array(printed.split(), dtype=float), here, atol=6e-5)
    _, log_dets = framework_tab_sets(CHAPTER)
    assert list(log_dets) == ["numpy", "pytorch", "tensorflow"]
    for framework, tab in log_dets.items():
        values = re.search(r": log\|det J\| = \[([^\]]+)\]", tab)[1]
        assert values.split() == printed.split(), framework
        tolerance = "1e-8" if framework == "numpy" else "1e-12"  # differences, or autodiff
        assert f"equal to the formula within {tolerance}: True" in tab, framework


def test_the_flow_density_matches_a_histogram_of_its_samples(text, flat):
    assert "integral of p_Y over the grid: 1.0000" in text
    chi2 = dict(re.findall(r"(change of variables|Jacobian forgotten|\|det J\| not "
                           r"inverted): chi\^2 / k = ([\d.]+)", text))
    assert len(chi2) == 3, chi2
    bins, tolerance = re.search(r"k = (\d+) bins with E >= 50 \(of 576\), holding [\d.]+% of "
                                r"the samples; tolerance \|chi\^2/k - 1\| < ([\d.]+)",
                                text).groups()
    k = int(bins)
    assert k > 100 and float(tolerance) == pytest.approx(4 * np.sqrt(2 / k), abs=0.006)
    assert abs(float(chi2["change of variables"]) - 1) < float(tolerance)
    assert float(chi2["Jacobian forgotten"]) > 20 and float(chi2["|det J| not inverted"]) > 20
    relative, noise = (float(v) for v in re.search(
        r"mean relative error \|O - E\| / E over these bins: ([\d.]+) \(Poisson noise alone: "
        r"([\d.]+)\)", text).groups())
    assert relative == pytest.approx(noise, rel=0.2)
    shown = f"{float(chi2['change of variables']):.2f}"
    assert re.search(rf"=\\\) {re.escape(shown)} on {k} bins, within the tolerance", flat)
    figure = page(CHAPTER).find("figure", id="fig-flow-density")
    images = figure.find_all("img")
    assert len(images) == 2 and all(len(img.get("alt", "")) > 30 for img in images)


def test_the_exercises_are_linked_and_parameterised():
    solutions = page("solutions/10_expectations.html")
    titles = [t.get_text(" ", strip=True) for t in
              solutions.select("div.exercise p.admonition-title")]
    assert len(titles) >= 5, titles
    assert "{{" not in solutions.get_text(" ")  # the book's variant filled in: theta = 1.5
    assert "q1: passed" in solutions.get_text(" ")
