"""Checks of the website that `make book` built into _build/html.

These read the executed pages, so each number the text promises is asserted where a reader
sees it.
"""

import re

import numpy as np
import pytest
from bs4 import BeautifulSoup

from tests.site_server import HTML, ROOT, toc_pages

PAGES = toc_pages()  # every page of _toc.yml: a new chapter is checked without editing this


@pytest.fixture(scope="module", autouse=True)
def _built_site():
    if not (HTML / "index.html").exists():
        pytest.fail(f"{HTML} has no built book: run `make book` first (or `make test`)")


def page(name: str) -> BeautifulSoup:
    return BeautifulSoup((HTML / name).read_text(encoding="utf-8"), "html.parser")


def text_of(name: str) -> str:
    return page(name).get_text(" ")


def flat_text_of(name: str) -> str:
    """A page's text, prose and outputs, with whitespace collapsed and a glued percentage
    joined to its sign."""
    return " ".join(text_of(name).split()).replace(" %", "%")


def outputs_of(name: str) -> str:
    """What a page's cells printed, whitespace collapsed (not their source, which often holds
    the same words as the format strings that printed them)."""
    return " ".join(" ".join(o.get_text(" ").split()) for o in page(name).select("div.cell_output"))


def test_every_chapter_is_in_the_toc():
    chapters = sorted((ROOT / "chapters").glob("*.md"))  # what is on disk, not a list here
    assert len(chapters) >= 10
    for source in chapters:
        assert f"chapters/{source.stem}.html" in PAGES, f"{source.name} is missing from _toc.yml"


@pytest.mark.parametrize("name", PAGES)
def test_page_exists_without_stderr_or_error_output(name):
    assert (HTML / name).is_file(), f"{name} was not built"
    soup = page(name)
    assert soup.select("div.output.stderr") == []
    assert soup.select("div.output.traceback") == []
    assert "Traceback" not in soup.get_text()


@pytest.mark.parametrize("name", PAGES)
def test_every_image_is_shipped_and_not_empty(name):
    for img in page(name).find_all("img"):
        src = img["src"]
        if src.startswith(("http:", "https:", "data:")):
            continue
        target = (HTML / name).parent / src
        assert target.is_file() and target.stat().st_size > 1000, f"{name}: missing image {src}"


def test_no_page_loads_widget_scripts_from_a_cdn():
    for html in HTML.rglob("*.html"):
        source = html.read_text(encoding="utf-8")
        assert "html-manager" not in source and "require.min.js" not in source, html


def test_chapter_1_shows_the_worked_example():
    text = text_of("chapters/01_partial_derivatives.html")
    # CURRICULUM.md: the estimate is 1.0819456220..., the true value 1.0821241818...
    assert "1.0819456220" in text
    assert re.search(r"1\.08212418(18|19)", text)
    # the error is the second-order term 1/2 e^T H e = 1.778e-4, not ||e||^2 = 1e-3
    error = float(re.search(r"error += (\S+)", text)[1])
    second_order = float(re.search(r"step\^T H step, H Hessian = (\S+)", text)[1])
    assert second_order == pytest.approx(2 / 9 * 0.04**2 / 2, rel=1e-3)  # printed to 4 digits
    assert error == pytest.approx(second_order, rel=0.01)
    flat = " ".join(text.split())
    assert f"an error of {error:.2e}" in flat and f"= {second_order:.2e}" in flat


def test_chapter_1_measures_slope_2():
    text = text_of("chapters/01_partial_derivatives.html")
    slopes = [float(s) for s in re.findall(r"fitted slope:? (\d\.\d+)", text)]
    assert slopes, "no fitted slope on the page"
    assert all(abs(s - 2) < 0.05 for s in slopes), slopes


def test_chapter_1_has_its_figures():
    soup = page("chapters/01_partial_derivatives.html")
    # surface + tangent plane, log-log error, contour with gradients, two explorer snapshots
    assert len(soup.select("div.cell_output img")) >= 5


def framework_tab_sets(name: str) -> list[dict[str, str]]:
    """Each synced framework tab set of a page, as {framework: the tab's text}."""
    tab_sets = []
    for tab_set in page(name).select("div.sd-tab-set.framework-tabs"):
        labels = tab_set.find_all("label", recursive=False)
        contents = tab_set.select(":scope > div.sd-tab-content")
        assert all(lb.get("data-sync-group") == "framework" for lb in labels)
        tab_sets.append({lb["data-sync-id"]: c.get_text(" ")
                         for lb, c in zip(labels, contents, strict=True)})
    return tab_sets


def test_chapter_1_autodiff_agrees_with_the_hand_derived_gradient():
    (tabs,) = framework_tab_sets("chapters/01_partial_derivatives.html")
    assert list(tabs) == ["numpy", "pytorch", "tensorflow"]
    for framework, text in tabs.items():
        match = re.search(r"gradient: \[([\d.]+) +([\d.]+)\]", text)
        assert match, f"{framework} output missing"
        assert float(match[1]) == pytest.approx(1 / 3)
        assert float(match[2]) == pytest.approx(2 / 3)


def test_notation_page_shows_float32_wrong_and_float64_right():
    text = text_of("notation.html")
    errors = dict(re.findall(r"(float32|float64): estimate [\d.]+, relative error ([\d.e+-]+)",
                             text))
    assert float(errors["float32"]) > 1e-2  # wrong in the second digit
    assert float(errors["float64"]) < 1e-8


def test_chapter_2_finds_the_critical_points_of_the_quartic():
    text = text_of("chapters/02_gradient_descent.html")
    # CURRICULUM.md: critical points -1, 0, 2 with values -5 (local min), 0 (local max),
    # -32 (global min)
    assert "x = -1.000000: f(x) = -5.000000" in text
    assert "x = +0.000000: f(x) = +0.000000" in text
    assert "x = +2.000000: f(x) = -32.000000" in text
    assert re.search(r"-1\.000000: f\(x\) = -5\.000000, f''\(x\) = \+36\.0 +-> local minimum",
                     text)
    assert re.search(r"\+0\.000000: f\(x\) = \+0\.000000, f''\(x\) = -24\.0 +-> local maximum",
                     text)
    assert "global minimum at x = 2.000000, f = -32.000000" in text


def test_chapter_2_descent_lands_in_the_minimum_next_to_its_start():
    text = text_of("chapters/02_gradient_descent.html")
    pattern = r"start ([+-]\d\.\d): converged after +\d+ steps at x = ([+-][\d.]+)"
    landings = dict(re.findall(pattern, text))
    assert {k: float(v) for k, v in landings.items()} == {
        "-1.8": -1.0, "-0.3": -1.0, "+0.3": 2.0, "+2.8": 2.0}


def test_chapter_2_step_sizes_behave_as_the_text_says():
    text = text_of("chapters/02_gradient_descent.html")
    status = dict(re.findall(r"(too small|good|too large): η = [\d.]+ +status = (\w+)", text))
    assert status == {"too small": "max_steps", "good": "converged", "too large": "diverged"}
    cos = float(re.search(r"largest \|cos\(angle\)\| between piece and gradient: ([\d.]+)",
                          text)[1])
    assert cos < 0.1


def test_chapter_3_sum_over_paths_agrees_with_differences_and_pytorch():
    text = text_of("chapters/03_chain_rule.html")
    assert "df/dw = sum over paths = 56.863216" in text
    rows = re.findall(r"^\s+([wxyz]) +([-\d.]+) +([-\d.]+) +([-\d.]+)$", text, re.M)
    assert [r[0] for r in rows] == ["w", "x", "y", "z"]
    for _, by_paths, numeric, torch_value in rows:
        assert float(by_paths) == pytest.approx(float(torch_value), rel=1e-12)
        assert float(numeric) == pytest.approx(float(torch_value), rel=1e-7)
    assert "4 paths from w to f" in text
    gap = float(re.search(r"PyTorch \S+, central difference (\S+)\s", text)[1])
    assert 1e-13 < gap < 1e-8
    assert "differs by less than" in " ".join(text.split())  # a bound: round-off digits vary


def test_chapter_3_partials_exist_where_no_linear_approximation_does():
    text = text_of("chapters/03_chain_rule.html")
    assert "partials at the origin (central differences): [1. 0.]" in text
    rows = re.findall(r"direction \((-?[\d.]+), (-?[\d.]+)\): slope (-?[\d.]+), a\^3 = "
                      r"(-?[\d.]+), linear map (-?[\d.]+)", text)
    assert len(rows) == 3, rows
    for a, _b, slope, cube, _linear in ([float(v) for v in row] for row in rows):
        assert abs(slope - cube) < 1e-5 and abs(cube - a**3) < 1e-3  # (a printed to 3 places)
    assert abs(float(rows[1][4]) - float(rows[1][2])) > 0.3  # the diagonal: no linear map


def test_chapter_3_jacobian_of_the_curriculum_example_in_every_framework():
    (tabs,) = framework_tab_sets("chapters/03_chain_rule.html")
    assert list(tabs) == ["numpy", "pytorch", "tensorflow"]
    for framework, text in tabs.items():
        matrices = re.findall(r"\[\[ *(-?[\d.]+) +(-?[\d.]+)\]\s*\[ *(-?[\d.]+) +(-?[\d.]+)\]\]",
                              text)
        assert matrices, framework
        for matrix in matrices:  # J_f(1, 0) = [[0, 1], [5, 1]]
            assert [float(v) for v in matrix] == [0, 1, 5, 1], framework


def test_chapter_3_layouts_rules_and_softmax_check_out():
    text = text_of("chapters/03_chain_rule.html")
    assert "A: (2, 3)   J of Ax: (2, 3)   equals A: True" in text
    assert "gradient of u.(Ax): (3,)   equals A^T u: True" in text
    gaps = re.search(r"chain rule, largest difference: (\S+)\s+sum rule, largest difference: "
                     r"(\S+);  product rule: (\S+)", text)
    assert all(float(g.rstrip(";")) < 1e-7 for g in gaps.groups())
    for name in ("sigmoid", "tanh", "relu"):
        assert re.search(rf"{name} +off-diagonal max 0, diagonal = formula: True", text), name
    assert float(re.search(r"formula vs central differences, largest difference: (\S+)",
                           text)[1]) < 1e-8
    assert "symmetric: True" in text
    grads = re.search(r"gradient of -log p_y: \[([^\]]+)\]\s+p - e_y: +\[([^\]]+)\]", text)
    assert grads[1].split() == grads[2].split()


def test_chapter_3_reverse_mode_wins_for_a_loss_and_forward_mode_for_few_inputs():
    text = text_of("chapters/03_chain_rule.html")
    counts = {(chain.strip(), mode): int(count.replace(",", "")) for chain, mode, count in
              re.findall(r"^(.+?) +(forward|reverse) +([\d,]+) +[\d.]+$", text, re.M)}
    loss, wide = "a loss of 2000 inputs", "2 inputs, 2000 outputs"
    # (1x500)(500x1000)(1000x2000): right to left 500*1000*2000 + 500*2000; left to right
    # 500*1000 + 1000*2000
    assert counts[loss, "forward"] == 500 * 1000 * 2000 + 500 * 2000
    assert counts[loss, "reverse"] == 500 * 1000 + 1000 * 2000
    assert counts[wide, "forward"] < counts[wide, "reverse"]
    ratio = counts[loss, "forward"] / counts[loss, "reverse"]
    assert f"reverse mode does {ratio:,.0f} times fewer" in " ".join(text.split())


def test_chapter_4_by_hand_engine_and_frameworks_all_give_minus_4096():
    text = text_of("chapters/04_backpropagation.html")
    assert "a = 4, b = 0, u = 16, v = 16, f = 1024" in text
    assert "df/du = df/dv = 64;  du/da = du/db = 8;  dv/da = 8, dv/db = -8" in text
    assert "da/dw = -4;  db/dw = 0" in text
    assert "df/dw = -4096, df/dx = -4096, df/dy = -4096, df/dz = -4096" in text
    assert "du/dw = -32, dv/dw = -32" in text
    assert "{'w': -4096.0, 'x': -4096.0, 'y': -4096.0, 'z': -4096.0}" in text
    assert "engine, second backward(): -4096.0" in text


def test_chapter_4_tabs_print_minus_4096_in_every_framework():
    (tabs,) = framework_tab_sets("chapters/04_backpropagation.html")
    assert list(tabs) == ["numpy", "pytorch", "tensorflow"]
    for framework, text in tabs.items():
        assert re.search(r"f = 1024(\.0)?\b", text), framework
        values = re.search(r"df/dw, df/dx, df/dy, df/dz = \[([^\]]+)\]", text)[1].split()
        assert [float(v) for v in values] == [-4096.0] * 4, framework


def test_chapter_4_reverse_mode_beats_forward_mode_and_finite_differences():
    text = text_of("chapters/04_backpropagation.html")
    ratios = [float(r) for r in re.findall(r"N = +\d+: forward mode .* ratio +(\d+)", text)]
    assert len(ratios) == 5 and ratios[-1] > 10 * ratios[0]
    rows = re.findall(r"^ *(\d+) +([\d.]+) s +([\d.]+) ms +(\d+)", text, re.M)
    assert [int(r[0]) for r in rows] == [10, 100, 1000, 10000, 100000]
    assert float(rows[-1][3]) > 1000


def test_chapter_5_hessians_agree_and_the_models_have_slopes_2_and_3():
    text = text_of("chapters/05_hessians.html")
    assert "largest difference, autodiff - by hand:        0.0" in text
    fd = float(re.search(r"finite differences - hand: ([\d.e-]+)", text)[1])
    assert fd < 1e-7
    slopes = dict(re.findall(r"(linear|quadratic|quadratic without the 1/2): fitted slope ([\d.]+)",
                             text))
    assert abs(float(slopes["linear"]) - 2) < 0.1
    assert abs(float(slopes["quadratic"]) - 3) < 0.1
    assert abs(float(slopes["quadratic without the 1/2"]) - 2) < 0.1
    assert "d/dy (dg/dx) at 0: -0.99" in text and "d/dx (dg/dy) at 0: +0.99" in text


def test_chapter_5_classifies_critical_points_and_newton_finds_the_saddle():
    text = text_of("chapters/05_hessians.html")
    for verdict in ["local minimum", "local maximum", "saddle point", "inconclusive"]:
        assert f"-> {verdict}" in text
    steps = re.search(r"gradient descent: converged after (\d+) steps; Newton: converged after "
                      r"(\d+) steps", text)
    assert int(steps[2]) < int(steps[1]) / 10
    assert re.search(r"Newton: converged at \([+-][\d.]+, [+-][\d.]+\), a saddle point", text)
    assert re.search(r"gradient descent: converged at .*, a local minimum", text)


def test_chapter_5_hessian_vector_products_in_three_frameworks():
    (tabs,) = framework_tab_sets("chapters/05_hessians.html")
    assert list(tabs) == ["numpy", "pytorch", "tensorflow"]
    for framework, text in tabs.items():
        error = float(re.search(r"largest difference from the full Hessian: ([\d.e-]+)", text)[1])
        assert error < (1e-8 if framework == "numpy" else 1e-12), framework


def test_chapter_6_every_identity_passes_both_checks():
    text = text_of("chapters/06_matrix_calculus.html")
    lines = re.findall(r"finite differences: (\w+) \(max error ([\d.e+-]+)\); autograd max "
                       r"difference ([\d.e+-]+)", text)
    assert len(lines) >= 11
    for verdict, fd_error, autograd_error in lines:
        assert verdict == "passed" and float(fd_error) < 1e-8 and float(autograd_error) < 1e-12
    assert "and 2Ax for a non-symmetric A: failed" in text
    assert "each row of the gradient sums to zero: True" in text
    flat = " ".join(text.split())
    assert ("index route: sum_n G_nj X_nk == (G^T X)_jk: True ; sum_j G_nj W_jk == (G W)_nk: "
            "True") in flat
    traces = re.findall(r"tr\((?:ABC|CAB|BCA|\(ABC\)\^T)\) = (-?[\d.]+)", text)
    assert len(traces) == 4 and len(set(traces)) == 1  # cyclic, and blind to transposes
    tab = float(re.search(r"max \|formula - finite differences\| = (\S+)", text)[1])
    assert tab < 1e-8 and "Both are round-off, below" in flat  # not a number round-off decides


def test_chapter_6_matrix_factorization_in_three_frameworks_and_descent():
    (tabs,) = framework_tab_sets("chapters/06_matrix_calculus.html")
    for framework, text in tabs.items():
        assert "gradient shape: (2, 4) = shape of V: (2, 4)" in text, framework
        assert float(re.search(r"max \|formula - [^|]+\| = ([\d.e-]+)", text)[1]) < 1e-8
    text = text_of("chapters/06_matrix_calculus.html")
    end, best = re.search(r"end ([\d.]+); best possible rank-2 loss ([\d.]+)", text).groups()
    assert float(end) == pytest.approx(float(best), rel=1e-2)


def test_chapter_7_network_beats_the_linear_classifier_on_the_spiral():
    text = text_of("chapters/07_neural_network.html")
    flat = " ".join(text.split())
    assert "X: (300, 2) y: (300,) examples per class: [100 100 100]" in flat
    linear = float(re.search(r"linear classifier: training accuracy ([\d.]+)%", text)[1])
    network = float(re.search(r"two-layer network: training accuracy ([\d.]+)%", text)[1])
    assert 40 < linear < 60 and network > 95  # CURRICULUM.md: ~49% and ~98%
    flat = flat.replace(" %", "%")  # a glued number is its own element
    assert f"About {linear:.0f}% of the training points" in flat
    assert f"gets {network:.0f}%" in flat
    initial = float(re.search(r"initial loss ([\d.]+) \(log 3", text)[1])
    assert initial == pytest.approx(np.log(3), abs=1e-3)
    final = float(re.search(r"step 9999 ([\d.]+)", text)[1])
    assert final < 0.3 and f"to {final:.3f}" in flat
    rises = int(re.search(r"the loss rose by more than 0\.1%: (\d+) of 9999", text)[1])
    assert 0 < rises < 9999 / 4
    assert f"in {rises:,} of the 9,999 steps it rises by more than 0.1%" in flat


def test_chapter_7_explains_a_large_relative_error_on_a_tiny_entry():
    text = text_of("chapters/07_neural_network.html")
    found = re.search(r"largest relative error ([\d.e+-]+), at the entry \(\d+, \d+\) whose "
                      r"gradient is ([\d.e+-]+) of the largest entry's; median relative error "
                      r"([\d.e+-]+)", text)
    assert found, "the W2 relative-error line is missing"
    worst, share, median = (float(v) for v in found.groups())
    assert share < 1e-2 and worst > 10 * median  # the worst error sits on a tiny entry


def test_chapter_7_gates_and_gradient_checks():
    text = text_of("chapters/07_neural_network.html")
    flat = " ".join(text.split())
    assert "add : out = 1.5, gradient to x = 2.0, to y = 2.0" in flat
    assert "multiply: out = -4.5, gradient to x = -3.0, to y = 6.0" in flat
    assert "max : out = 3.0, gradient to x = 2.0, to y = 0.0" in flat
    summaries = re.findall(r"\b(W1|b1|W2|b2): (.+)$", text, re.M)
    first, start = dict(summaries[:4]), dict(summaries[4:])
    assert set(first) == set(start) == {"W1", "b1", "W2", "b2"}
    assert all(s.startswith("all ") and "agree" in s for s in first.values())
    # kinks within b1's finite-difference step: the check cannot judge, and says so; the
    # steps in W1 (in units of its spread, 0.01) are too short to reach them
    assert "not differentiable" in start["b1"], start
    assert start["W1"].startswith("all ") and "agree" in start["W1"], start
    assert re.search(r"steps taken: 6e-08 in W1 .*, 6e-06 in b1", flat)
    assert "The verdict is “ passed ” for every parameter" in flat  # glued, in curly quotes
    near, units = re.search(r"within 6e-06 of 0 \(but not 0\): (\d+), in (\d+) of 100 hidden",
                            flat).groups()
    assert int(near) > 0 and f"{near} entries of $Z_1$" not in flat  # typeset, not raw
    assert re.search(rf"\b{near}\b entries of .* in \b{units}\b hidden units", flat)
    assert "sum of their rows of P - Y: [0. 0. 0.]" in flat


def test_chapter_7_frameworks_follow_the_numpy_network():
    (tabs,) = framework_tab_sets("chapters/07_neural_network.html")
    assert list(tabs) == ["numpy", "pytorch", "tensorflow"]
    for framework in ("pytorch", "tensorflow"):
        gap = re.search(r"largest difference from the NumPy losses over 20 steps: (\S+)",
                        tabs[framework])
        assert float(gap[1]) < 1e-10, framework


def test_appendix_shows_each_verdict():
    text = text_of("appendix/gradient_checks.html")
    for verdict in ["PASSED", "FAILED", "INCONCLUSIVE"]:
        assert f"gradient check {verdict}" in text
    assert "per-tensor checks locate it in tensor 1" in text
    assert "GradCheckError: gradient of tensor 0 has shape (3, 1)" in text
    assert "f is not deterministic: two evaluations at the same x gave" in text
    rows = re.findall(r"^(.+?)\s+full: right (\w+), doubled (\w+); +directional: right (\w+), "
                      r"doubled (\w+)$", text, re.M)
    assert [r[0].strip() for r in rows] == ["as it is", "loss x 1e-12", "x in units 1e6 smaller",
                                    "x shifted by 1e4", "x shifted by 1e8"], rows
    assert all(r[1:] == ("passed", "failed", "passed", "failed") for r in rows), rows
    assert "full: all 25 Jacobian entries agree" in text
    assert re.search(r"full: \d+ of 25 Jacobian entries disagree", text)
    caught = [int(n) for n in re.findall(r"directions=\d: an error of 1e-6 in the small tensor "
                                         r"is caught for (\d+) of 30 seeds", text)]
    assert len(caught) == 2 and 20 <= caught[0] <= caught[1], caught  # more directions, more
    # the blind spot of a direction, and the full mode that sees it
    assert re.search(r"^\s*directional: grad\.v agrees", text, re.M)
    assert re.search(r"^\s*full: 1 of 5 gradient entries disagree .* worst at \[4\]", text, re.M)
    directional = re.findall(r"directional: u \. f\(x\) for a random u .*?: (.*)$", text, re.M)
    assert [d.split()[0] for d in directional] == ["grad.v", "the"], directional  # pass, fail


COURSE = ROOT / "_build" / "course" / "_build" / "html"


def test_self_study_site_folds_each_solution_under_a_dropdown():
    soup = page("solutions/01_partial_derivatives.html")
    solutions = soup.select("div.solution")
    assert len(solutions) == 6
    assert all("dropdown" in s.get("class", []) for s in solutions)
    assert "q1: passed (3 public cases)" in soup.get_text(" ")


CHAPTER_PAGES = [p for p in PAGES if p.startswith("chapters/")]


@pytest.mark.parametrize("name", CHAPTER_PAGES)
def test_every_chapter_ends_with_a_link_to_its_exercises_numbered_per_chapter(name):
    stem = name.split("/")[-1]
    last = page(name).select("section")[-1]
    links = [a["href"] for a in last.select("a[href]")]
    assert f"../solutions/{stem}" in [h.split("#")[0] for h in links], links
    chapter = int(stem[:2])
    titles = [t.get_text(" ", strip=True) for t in
              page(f"solutions/{stem}").select("div.exercise p.admonition-title")]
    assert len(titles) >= 4, titles  # the original questions and at least two new ones
    assert all(t.startswith(f"Exercise {chapter}.{k}") for k, t in enumerate(titles, 1)), titles


def test_course_site_has_the_exercises_and_no_solution():
    if not (COURSE / "index.html").exists():
        pytest.fail(f"{COURSE} has no course build: run `make book-course` first")
    for name in CHAPTER_PAGES:  # chapters link to the exercises there, not the solutions
        soup = BeautifulSoup((COURSE / name).read_text(encoding="utf-8"), "html.parser")
        hrefs = [a["href"].split("#")[0] for a in soup.select("section a[href]")]
        assert f"../exercises/{name.split('/')[-1]}" in hrefs, name
    assert not (COURSE / "solutions").exists()
    assert not list(COURSE.rglob("*solution*"))
    for html in (COURSE / "exercises").glob("*.html"):
        soup = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")
        assert soup.select("div.solution") == [], html.name
        assert "not answered yet" in soup.get_text(" "), html.name
    answer = "np.exp(x - log_sum)"  # a line of the reference solution to question 1
    assert all(answer not in p.read_text(encoding="utf-8", errors="ignore")
               for p in COURSE.rglob("*") if p.is_file() and p.suffix in {".html", ".md",
                                                                          ".ipynb", ".txt"})


def test_notebook_twins_print_the_numbers_this_build_computed():
    """The .ipynb twins put the glued numbers into their text (scripts/glued_values.json);
    they must be this build's numbers, to the round-off that another CPU's arithmetic allows
    (make_notebooks.same_number), or the twins are stale. Measured times are skipped."""
    import json

    from scripts.make_notebooks import (
        GLUED_VALUES,
        glued_in_cache,
        notebook_sources,
        page_key,
        same_number,
    )

    committed = json.loads(GLUED_VALUES.read_text())
    pages = [s for s in notebook_sources() if "{glue:" in s.read_text()]
    assert len(pages) >= 6
    for source in pages:
        built = glued_in_cache(source)
        assert built is not None, f"{source} is not in the execution cache: run `make book`"
        ours = committed.get(page_key(source), {})
        assert set(ours) == set(built), f"{source}: run `make notebooks`"
        for key, value in built.items():
            assert same_number(key, ours[key], value), \
                f"{source}: {key} is {value} in this build and {ours[key]} in the twins " \
                "(beyond round-off): run `make notebooks`"


@pytest.mark.parametrize("name", [p for p in PAGES if p.startswith(("chapters/", "appendix/"))])
def test_every_figure_is_numbered_captioned_and_described(name):
    """Each figure a cell draws sits in a numbered, captioned figure; its images say what
    they show; static figures are SVG (line art), panels and frames WebP (surfaces)."""
    images = page(name).select("div.cell_output img")
    assert images, f"{name} shows no figure"
    for img in images:
        figure = img.find_parent("figure")
        assert figure is not None, f"{name}: an image outside a figure: {img['src'][:60]}"
        caption = figure.select_one("figcaption .caption-number")
        assert caption and re.fullmatch(r"Figure (\d+\.)?\d+", caption.get_text(strip=True))
        assert len(figure.figcaption.get_text(strip=True)) > 30, figure.figcaption
        alt = img.get("alt", "")
        assert len(alt) > 15 and not re.search(r"_images/|\.(png|svg|webp)$", alt), alt
        assert img["src"].endswith(".svg") or img["src"].startswith("data:image/webp"), \
            img["src"][:40]


def test_pages_carry_no_widget_state():
    for html in HTML.rglob("*.html"):
        assert "application/vnd.jupyter.widget-state+json" not in html.read_text("utf-8"), html


def test_mathjax_loads_only_where_there_is_math():
    for name in PAGES:
        soup = page(name)
        has_math = bool(soup.select(".math"))
        loads = any("mathjax" in s.get("src", "") for s in soup.find_all("script"))
        assert loads == has_math, (name, has_math, loads)


def test_the_proof_index_lists_numbers_and_titles_by_chapter():
    index = page("prf-prf.html")
    text = index.get_text(" ")
    assert "Definition 1.2: Gradient" in text and "Theorem 3.1: Multivariate chain rule" in text
    chapters = [cap.get_text(strip=True) for cap in index.select("tr.cap")]
    assert chapters[:2] == ["Partial derivatives and the gradient",
                            "Geometry of gradients and gradient descent"], chapters
