"""The mechanisms behind check_grad's false verdicts found by an independent corpus (issue 25),
one case or more each: the verdict a right checker gives, in both modes where both apply."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import GradCheckError, check_grad

ROOT = Path(__file__).resolve().parents[1]
MODES = ["directional", "full"]
f64 = torch.float64


def autograd(loss, params):
    qs = [p.detach().clone().requires_grad_() for p in params]
    return [g.clone() for g in torch.autograd.grad(loss(qs), qs)]


# ---- 1. a tensor of ones (a LayerNorm gain as initialised) has no spread at all ------------
def layer_norm_model():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.LayerNorm(8)).double()
    X, Y = torch.randn(16, 8, dtype=f64), torch.randn(16, 8, dtype=f64)
    return model, lambda m: ((m(X) - Y) ** 2).mean()


@pytest.mark.parametrize("mode", MODES)
def test_a_layer_norm_gain_of_ones_is_checked_like_any_tensor(mode):
    model, loss = layer_norm_model()
    model.zero_grad()
    loss(model).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    assert check_grad(loss, model, grads, mode=mode).verdict == "passed"
    grads[2] = -grads[2]  # the gain's gradient, sign flipped
    assert check_grad(loss, model, grads, mode=mode).verdict == "failed"


# ---- 2. parameters shifted far from zero ---------------------------------------------------
def shifted_regression(shift):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(64, 20, generator=g, dtype=f64)
    y = torch.randn(64, generator=g, dtype=f64)
    w, b = torch.randn(20, generator=g, dtype=f64), torch.randn(1, generator=g, dtype=f64)

    def loss(ps):
        return ((X @ (ps[0] - shift) + (ps[1] - shift) - y) ** 2).mean()

    return [w + shift, b + shift], loss


@pytest.mark.parametrize("shift", [0.0, 1e6, 1e8])
@pytest.mark.parametrize("bug", [None, "bias 1%", "weight 0.1%", "sign"])
@pytest.mark.parametrize("mode", MODES)
def test_shifted_parameters_change_no_verdict(shift, bug, mode):
    params, loss = shifted_regression(shift)
    grads = autograd(loss, params)
    if bug == "bias 1%":
        grads[1] *= 1.01
    elif bug == "weight 0.1%":
        grads[0] *= 1.001
    elif bug == "sign":
        grads = [-g for g in grads]
    report = check_grad(loss, params, grads, mode=mode)
    assert report.verdict == ("passed" if bug is None else "failed"), report.summary


# ---- 3. entries of very different sizes in one tensor --------------------------------------
def test_a_fit_with_parameters_1e3_and_1e_minus_6_passes_in_both_modes():
    t = torch.linspace(0, 10, 20, dtype=f64)
    y = 1e3 * torch.exp(2e-6 * t) + 0.1 * torch.sin(t)

    def loss(p):
        return ((p[0] * torch.exp(p[1] * t) - y) ** 2).sum()

    for mode in MODES:
        report = check_grad(loss, torch.tensor([1e3, 1e-6], dtype=f64), mode=mode)
        assert report.verdict == "passed", report.summary


@pytest.mark.parametrize("bug", [None, "sign of the smallest", "half the smallest"])
def test_the_full_mode_judges_each_entry_on_its_own(bug):
    g = torch.Generator().manual_seed(5)
    scales = torch.tensor([1e4, 1e2, 1, 1e-2, 1e-4], dtype=f64)
    X = torch.randn(50, 5, generator=g, dtype=f64) * scales  # unnormalised features
    y = torch.randn(50, generator=g, dtype=f64)
    w = torch.randn(5, generator=g, dtype=f64)

    def grad(v):
        out = 2 * X.T @ (X @ v - y) / 50
        if bug == "sign of the smallest":
            out[4] = -out[4]
        elif bug == "half the smallest":  # an entry ~1e-8 of the largest
            out[4] = out[4] / 2
        return out

    report = check_grad(lambda v: ((X @ v - y) ** 2).mean(), w, grad, mode="full")
    assert report.verdict == ("passed" if bug is None else "failed"), report.summary
    if bug:
        assert report.worst[0].index == "[4]"


# ---- 4. zero gradients -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_a_zero_gradient_at_an_exact_fit_passes_and_is_called_zero(mode):
    g = torch.Generator().manual_seed(6)
    X, w = torch.randn(10, 3, generator=g, dtype=f64), torch.randn(3, generator=g, dtype=f64)
    targets = X @ w  # the residual at w is exactly zero

    def loss(v):
        return ((X @ v - targets) ** 2).sum()

    report = check_grad(loss, w, lambda v: 2 * X.T @ (X @ v - targets), mode=mode)
    assert report.verdict == "passed" and "zero" in report.summary, report.summary
    wrong = check_grad(loss, w, lambda v: torch.ones_like(v), mode=mode)
    assert wrong.verdict == "failed", wrong.summary


@pytest.mark.parametrize("mode", MODES)
def test_a_constant_f_has_a_zero_gradient(mode):
    x = torch.randn(3, dtype=f64)
    report = check_grad(lambda v: v.sum() * 0 + 3.0, x, lambda v: torch.zeros_like(v), mode=mode)
    assert report.verdict == "passed" and "zero" in report.summary, report.summary
    report = check_grad(lambda v: v.sum() * 0 + 3.0, x, lambda v: torch.ones_like(v), mode=mode)
    assert report.verdict == "failed", report.summary


# ---- 5. |g|^2 overflows where g does not -------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_large_finite_losses_are_checked(mode):
    x = 350.0 + torch.arange(4, dtype=f64)
    assert check_grad(lambda v: v.exp().sum(), x, lambda v: v.exp(), mode=mode).passed
    y = torch.randn(3, dtype=f64)
    assert check_grad(lambda v: 1e200 * (v**2).sum(), y, lambda v: 2e200 * v, mode=mode).passed
    report = check_grad(lambda v: 1e200 * (v**2).sum(), y, lambda v: -2e200 * v, mode=mode)
    assert report.verdict == "failed"


# ---- 6. precision from what f returns --------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_an_f_that_computes_in_float32_is_judged_in_float32(mode):
    x = torch.randn(30, generator=torch.Generator().manual_seed(0), dtype=f64)

    def f(v):
        return (v.float().sin() ** 2).sum()

    def right(v):
        return 2 * v.sin() * v.cos()

    report = check_grad(f, x, right, mode=mode)
    assert report.verdict in ("passed", "inconclusive"), report.summary
    assert report.dtype == "float32"
    if report.verdict == "inconclusive":
        assert "the dtype f returns" in report.summary and "rtol=" in report.summary
    # per entry, the smallest entries (|g| ~ 5e-3 beside |f| ~ 15) stay below float32's
    # resolution even at 1e-2; along a direction, the whole gradient is resolved
    assert check_grad(f, x, right, mode=mode, rtol=1e-2).verdict == (
        "passed" if mode == "directional" else "inconclusive")
    assert check_grad(f, x, lambda v: -right(v), mode=mode).verdict == "failed"


# ---- 7. float32: gross errors fail, and the user's rtol counts ----------------------------
@pytest.mark.parametrize("mode", MODES)
def test_float32_gross_errors_fail_and_rtol_is_honoured(mode):
    x = torch.randn(200, generator=torch.Generator().manual_seed(0), dtype=torch.float32)

    def f(v):
        return (v.sin() ** 2).sum()

    def right(v):
        return 2 * v.sin() * v.cos()

    assert check_grad(f, x, lambda v: -right(v), mode=mode).verdict == "failed"
    assert check_grad(f, x, lambda v: -right(v), mode=mode, rtol=1e-2).verdict == "failed"
    assert check_grad(f, x, lambda v: 1.1 * right(v), mode=mode, rtol=1e-2).verdict == "failed"
    # (per entry, those near zero stay below float32's resolution even at 1e-2)
    assert check_grad(f, x, right, mode=mode, rtol=1e-2).verdict == (
        "passed" if mode == "directional" else "inconclusive")
    assert check_grad(f, x, right, mode=mode).verdict in ("passed", "inconclusive")


# ---- 8. a last-bit jitter does not excuse a gross error --------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_one_ulp_of_jitter_leaves_a_sign_flip_failed(mode):
    calls = [0]

    def f(v):  # the order of a parallel sum changing from call to call
        calls[0] += 1
        return (v**2).sum() * (1 + 2.2e-16 * (calls[0] % 2))

    x = torch.randn(1000 if mode == "directional" else 5, dtype=f64)
    report = check_grad(f, x, lambda v: -2 * v, mode=mode)
    assert report.verdict == "failed" and "not deterministic" in report.summary


def test_real_randomness_is_still_named():
    calls = [0]

    def f(v):
        calls[0] += 1
        torch.manual_seed(calls[0])
        return ((v * (torch.rand_like(v) > 0.5)) ** 2).sum()

    report = check_grad(f, torch.randn(1000, dtype=f64), lambda v: 2 * v, mode="directional")
    assert report.verdict == "inconclusive" and "not deterministic" in report.summary


# ---- 9. aliasing ---------------------------------------------------------------------------
def test_a_gradient_that_is_x_itself_is_read_before_x_moves():
    x = torch.randn(300_000, dtype=f64)
    report = check_grad(lambda v: (v**2).sum() / 2, x, lambda v: v)
    assert report.verdict == "passed", report.summary


def test_tensors_that_share_memory_are_refused_by_name():
    buffer = torch.randn(10, dtype=f64)
    with pytest.raises(GradCheckError, match="tensors 0 and 1 share memory"):
        check_grad(lambda ps: (ps[0] ** 2).sum() + (ps[1] ** 2).sum(), [buffer, buffer[:5]],
                   lambda ps: [2 * ps[0], 2 * ps[1]])
    with pytest.raises(GradCheckError, match="expanded view"):
        check_grad(lambda v: (v**2).sum(), torch.randn(1, dtype=f64).expand(5),
                   lambda v: 2 * v)
    halves = buffer.view(2, 5)  # two rows of one buffer do not overlap: fine
    assert check_grad(lambda ps: (ps[0] ** 2).sum() + ps[1].sum(), [halves[0], halves[1]],
                      lambda ps: [2 * ps[0], torch.ones(5, dtype=f64)]).passed


def test_x_is_restored_to_its_value_before_f_first_changed_it():
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(10, 4, max_norm=1.0).double()
    with torch.no_grad():
        embedding.weight.mul_(3)
    before = embedding.weight.detach().clone()
    rows = torch.tensor([1, 2, 3])
    check_grad(lambda m: (m(rows) ** 2).sum(), embedding)
    assert torch.equal(embedding.weight.detach(), before)


# ---- 10. inputs that used to raise tracebacks or misleading refusals ---------------------
def test_sparse_gradients_and_numpy_gradients_are_read():
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(10, 4, sparse=True).double()
    rows = torch.tensor([1, 2, 3])
    assert check_grad(lambda m: (m(rows) ** 2).sum(), embedding).passed
    x = torch.randn(3, dtype=f64)
    assert check_grad(lambda v: (v**2).sum(), x, lambda v: 2 * v.numpy()).passed
    assert check_grad(lambda v: (v**2).sum(), torch.randn(1, dtype=f64),
                      lambda v: [2 * v[0]]).passed  # a (1,)-shaped x, its gradient as ()


@pytest.mark.parametrize(("x", "message"), [
    ([[torch.randn(3, dtype=f64)]], "element 0 of x is a list"),
    ({"a": torch.randn(3, dtype=f64)}, "x is a dict"),
    (torch.randn(3, dtype=torch.complex128), "real gradients"),
    (np.ones(3, dtype=complex), "x is complex"),
])
def test_inputs_no_backend_takes_are_named(x, message):
    with pytest.raises(GradCheckError, match=message):
        check_grad(lambda v: 0.0, x, lambda v: v)


def test_complex_tensorflow_x_is_not_called_integers():
    tf = pytest.importorskip("tensorflow")
    with pytest.raises(GradCheckError, match="real gradients"):
        check_grad(lambda v: tf.reduce_sum(v), tf.constant([1 + 1j, 2.0]))


def test_any_integer_seed_works_for_a_vector_f():
    x = torch.randn(30, dtype=f64)
    assert check_grad(lambda v: v**2, x, seed=-1, mode="directional").passed
    with pytest.raises(GradCheckError, match="seed must be an integer"):
        check_grad(lambda v: (v**2).sum(), x, seed=0.5)


# ---- the directional numbers do not depend on torch's thread count ---------------------------
SCRIPT = """
import json, sys, torch
torch.set_num_threads(int(sys.argv[1]))
from helpers import check_grad
g = torch.Generator().manual_seed(0)
params = [torch.randn(600, 600, generator=g, dtype=torch.float64),
          torch.randn(300000, generator=g, dtype=torch.float64),
          torch.randn(5000, generator=g, dtype=torch.float64) + 3.0,
          torch.ones(1000, dtype=torch.float64)]
def f(ps):  # sums of rows of 1,000: the same whatever the thread count
    return sum(((p.reshape(-1)[: p.numel() // 1000 * 1000].reshape(-1, 1000) ** 2).sin()
                .sum(1)).sum() for p in ps)
r = check_grad(f, params, mode="directional", directions=3)
print(json.dumps([[d.grad_dot_v, d.numeric_dot_v, d.remainders] for d in r.directions]))
"""


def test_one_or_two_threads_give_the_same_numbers_to_the_last_bit():
    outputs = [subprocess.run([sys.executable, "-c", SCRIPT, str(threads)], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout
               for threads in (1, 2)]
    assert json.loads(outputs[0]) == json.loads(outputs[1])


# ---- found by the independent corpus (issue 25's review): its rows, kept -------------------
def test_a_bias_error_at_parameters_near_3e6_fails():
    r = np.random.default_rng(6)
    A = np.c_[r.normal(size=(20, 3)), np.ones(20)]
    p = r.normal(size=4) + 3e6
    y = A @ (p + 0.3 * r.normal(size=4))

    def grad(q):
        return A.T @ (A @ q - y)

    report = check_grad(lambda q: 0.5 * np.sum((A @ q - y) ** 2), p,
                        lambda q: grad(q) * [1, 1, 1, 1.01], mode="directional")
    assert report.verdict == "failed", report.summary


def shifted_linear(shift):
    torch.manual_seed(7)
    model = torch.nn.Linear(5, 2).double()
    with torch.no_grad():
        for q in model.parameters():
            q.add_(shift)
    X = torch.randn(30, 5, dtype=f64)
    with torch.no_grad():
        Y = model(X) + torch.randn(30, 2, dtype=f64)

    def loss(m):
        return ((m(X) - Y) ** 2).mean()

    grads = [t.detach() for t in torch.autograd.grad(loss(model), list(model.parameters()))]
    return model, loss, grads


@pytest.mark.parametrize(("shift", "bug", "verdict"), [
    (1e5, None, "passed"), (1e6, "weight 0.1%", "failed"), (1e7, "weight 0.1%", "failed"),
    (1e8, "sign", "failed")])
def test_a_shifted_linear_layer_in_the_directional_mode(shift, bug, verdict):
    model, loss, grads = shifted_linear(shift)
    if bug == "weight 0.1%":
        grads = [grads[0] * 1.001, grads[1]]
    elif bug == "sign":
        grads = [-g for g in grads]
    report = check_grad(loss, model, grads, mode="directional")
    assert report.verdict == verdict, report.summary
    assert "differentiable" not in report.summary  # a smooth loss has no kinks to blame


@pytest.mark.parametrize(("w", "s"), [([1e3, 1e-6, 3.0], [1e-3, 1e6, 1.0]),
                                      ([1e4, 3.0, 2e-8, -5e-5], [1e-4, 1.0, 1e8, 1e4])])
def test_entries_of_very_different_size_in_one_tensor_pass_in_the_full_mode(w, s):
    w, s = np.array(w), np.array(s)
    report = check_grad(lambda v: np.sum(np.sin(v * s)) + np.sum((v * s) ** 2), w,
                        lambda v: s * np.cos(v * s) + 2 * s * (v * s), mode="full")
    assert report.verdict == "passed", report.summary


def test_a_sign_flip_in_an_entry_below_round_off_is_never_passed():
    w = torch.tensor([1e4, 3.0, 2e-8, -5e-5], dtype=f64)
    sign = torch.tensor([1, 1, -1, 1.0], dtype=f64)
    report = check_grad(lambda v: (v**2).sum(), w, lambda v: 2 * v * sign, mode="full")
    assert report.verdict in ("failed", "inconclusive"), report.summary


@pytest.mark.parametrize(("settings", "message"), [
    ({"rtol": -1.0}, "rtol must be a positive number"),
    ({"rtol": float("nan")}, "rtol must be a positive number"),
    ({"rtol": "a"}, "rtol must be a positive number"),
    ({"value": "a"}, "value must be f"),
    ({"directions": True}, "directions must be a positive integer"),
])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(GradCheckError, match=message):
        check_grad(lambda v: np.sum(v**2), np.ones(3), lambda v: 2 * v, **settings)


def test_empty_lists_of_arrays_and_inference_tensors_are_named():
    with pytest.raises(GradCheckError, match="no entries"):
        check_grad(lambda v: 0.0, np.zeros(0), np.zeros(0))
    with pytest.raises(GradCheckError, match="list of NumPy arrays"):
        check_grad(lambda ps: np.sum(ps[0] ** 2), [np.ones(2), np.ones(3)],
                   lambda ps: [2 * ps[0], np.zeros(3)])
    with torch.inference_mode():
        x = torch.ones(3, dtype=f64)
    with pytest.raises(GradCheckError, match="inference_mode"):
        check_grad(lambda v: (v**2).sum(), x, lambda v: 2 * v)


def test_a_bfloat16_tensorflow_loss_is_a_real_number():
    tf = pytest.importorskip("tensorflow")
    x = tf.Variable([0.3, 0.6], dtype=tf.bfloat16)
    report = check_grad(lambda v: tf.reduce_sum(v * v), x, lambda v: -2 * v, mode="full")
    assert report.verdict in ("failed", "inconclusive")
