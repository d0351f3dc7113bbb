"""helpers.check_grad across NumPy, PyTorch and TensorFlow: right gradients pass, planted bugs
fail, bad input is named, results are reproducible, and the variable is left untouched."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helpers
from helpers import GradCheckError, check_grad
from helpers.gradcheck import torch_backend
from helpers.gradcheck.torch_fast import FastTorchBackend

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------- NumPy
def f_np(x):
    return np.sum(np.sin(x) * x**2) + 0.5 * np.sum(x) ** 2


def grad_np(x):
    return np.cos(x) * x**2 + 2 * x * np.sin(x) + np.sum(x)


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_numpy_right_gradient_passes(mode):
    x = np.random.default_rng(0).standard_normal(40)
    report = check_grad(f_np, x, grad_np, mode=mode)
    assert report.verdict == "passed" and report
    assert report.mode == mode
    if mode == "directional":
        assert all(abs(r - 2) < 0.1 for r in report.directions[0].rates)


@pytest.mark.parametrize("mode", ["full", "directional"])
@pytest.mark.parametrize("bug", ["doubled", "sign", "half", "one_entry"])
def test_numpy_planted_bugs_fail(mode, bug):
    x = np.random.default_rng(1).standard_normal(40)

    def wrong(v):
        g = grad_np(v)
        if bug == "doubled":
            return 2 * g
        if bug == "sign":
            return -g
        if bug == "half":
            return 0.5 * g
        g = g.copy()
        g[np.argmax(np.abs(g))] *= 2
        return g

    report = check_grad(f_np, x, wrong, mode=mode)
    assert report.verdict == "failed", str(report)


def test_failure_says_what_looks_wrong():
    x = np.random.default_rng(2).standard_normal(3000)
    assert "factor of ~2" in check_grad(f_np, x, lambda v: 2 * grad_np(v)).summary
    assert "wrong sign" in check_grad(f_np, x, lambda v: -grad_np(v)).summary
    full = check_grad(f_np, x[:5], lambda v: 2 * grad_np(v), mode="full")
    assert "ratio 2" in full.summary and len(full.worst) == 5


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 30), st.integers(0, 10_000), st.floats(1.02, 3.0))
def test_quadratic_forms(n, seed, factor):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    b = rng.standard_normal(n)
    x = rng.standard_normal(n)

    def f(v):
        return v @ a @ v + b @ v

    def g(v):
        return (a + a.T) @ v + b

    for mode in ("full", "directional"):
        assert check_grad(f, x, g, mode=mode).verdict == "passed"
        assert check_grad(f, x, lambda v: factor * g(v), mode=mode,
                          directions=3).verdict == "failed"


def test_vector_valued_function_checks_the_jacobian():
    a = np.arange(6.0).reshape(2, 3)

    def f(v):
        return np.tanh(a @ v)

    def jac(v):
        return (1 - np.tanh(a @ v) ** 2)[:, None] * a

    x = np.array([0.1, -0.2, 0.3])
    assert check_grad(f, x, jac, mode="full").verdict == "passed"
    assert check_grad(f, x, lambda v: jac(v).T.reshape(2, 3), mode="full").verdict == "failed"
    with pytest.raises(GradCheckError, match=r"Jacobian must have shape \(2, 3\)"):
        check_grad(f, x, lambda v: jac(v).T, mode="full")


def test_kink_is_reported_not_mistaken_for_a_wrong_gradient():
    full = check_grad(lambda v: np.sum(np.abs(v)), np.array([0.0, 1.0]), np.sign, mode="full")
    assert full.verdict == "inconclusive" and "not differentiable" in full.summary
    x = np.zeros(3000)
    x[0] = 1.0
    directional = check_grad(lambda v: np.sum(np.abs(v)), x, np.sign, directions=2)
    assert directional.verdict == "inconclusive"
    assert "not differentiable" in directional.summary


def test_seed_makes_it_reproducible_and_changes_the_direction():
    x = np.random.default_rng(3).standard_normal(5000)
    a, b = (check_grad(f_np, x, grad_np, seed=7) for _ in range(2))
    assert a.directions[0].grad_dot_v == b.directions[0].grad_dot_v
    c = check_grad(f_np, x, grad_np, seed=8)
    assert c.directions[0].grad_dot_v != a.directions[0].grad_dot_v


def test_numpy_input_is_not_modified_and_float32_is_checked_in_float64():
    x = np.random.default_rng(4).standard_normal(3000).astype(np.float32)
    before = x.copy()
    report = check_grad(f_np, x, grad_np)
    assert report.verdict == "passed" and report.dtype == "float64"
    assert np.array_equal(x, before)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_grad("f", np.zeros(3), np.zeros(3)), "must be a function"),
        (lambda: check_grad(f_np, np.arange(3), grad_np), "integer"),
        (lambda: check_grad(f_np, np.array([np.nan, 1.0]), grad_np), "NaN"),
        (lambda: check_grad(f_np, np.zeros(3)), "pass grad="),
        (lambda: check_grad(f_np, np.zeros(3), np.zeros(4)), r"shape \(4,\).*shape \(3,\)"),
        (lambda: check_grad(f_np, np.zeros(3), lambda v: np.full(3, np.inf)), "NaN or inf"),
        (lambda: check_grad(f_np, np.zeros(3), np.array(["a", "b", "c"])), "real"),
        (lambda: check_grad(lambda v: np.log(v).sum(), -np.ones(3000), lambda v: 1 / v),
         "finite loss"),
        (lambda: check_grad(lambda v: v * 2, np.ones(3000), lambda v: 2 * v), "scalar"),
        (lambda: check_grad(f_np, np.zeros(3), grad_np, mode="fast"), "mode must be"),
        (lambda: check_grad(f_np, np.zeros(3), grad_np, directions=0), "positive integer"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(GradCheckError, match=message):
        call()


# ---------------------------------------------------------------- PyTorch
def mlp(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(30, 40), torch.nn.Tanh(),
                                torch.nn.Linear(40, 1)).to(dtype)
    X = torch.randn(32, 30, dtype=dtype)
    y = torch.randn(32, 1, dtype=dtype)
    params = list(model.parameters())

    def loss(ps):
        return ((model(X) - y) ** 2).mean()

    return model, params, loss


def planted(grads, bug):
    g = [t.clone() for t in grads]
    if bug == "entry_doubled":
        g[0].view(-1)[g[0].abs().argmax()] *= 2
    elif bug == "sign_flip_in_one_tensor":
        g[1] = -g[1]
    elif bug == "missing_half":
        g[2] = 2 * g[2]
    elif bug == "transposed_weight":
        g[2] = g[2].reshape(-1).flip(0).reshape(g[2].shape)  # 1 x 40: a transpose of the data
    return g


def test_torch_autograd_gradient_passes_and_parameters_are_restored_exactly():
    _model, params, loss = mlp()
    before = [p.detach().clone() for p in params]
    report = check_grad(loss, params, mode="directional")
    assert report.verdict == "passed" and report.framework == "torch"
    assert report.mode == "directional" and report.gradient_passes == 1
    assert report.evaluations == 3
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))
    assert all(p.requires_grad for p in params)


@pytest.mark.parametrize("bug", ["entry_doubled", "sign_flip_in_one_tensor", "missing_half",
                                 "transposed_weight"])
def test_torch_planted_bugs_fail_and_are_localised(bug):
    _model, params, loss = mlp()
    grads = torch.autograd.grad(loss(params), params)
    report = check_grad(loss, params, planted(grads, bug), mode="directional", directions=2)
    assert report.verdict == "failed", str(report)
    bad = [t.index for t in report.tensors if t.verdict == "failed"]
    expected = {"entry_doubled": [0], "sign_flip_in_one_tensor": [1], "missing_half": [2],
                "transposed_weight": [2]}[bug]
    assert bad == expected


def test_auto_mode_picks_full_only_where_it_is_cheaper():
    _model, params, loss = mlp()
    assert check_grad(loss, params).mode == "directional"  # 2 N evaluations would cost more
    tiny = check_grad(lambda v: (v**2).sum(), torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert tiny.mode == "full" and tiny.verdict == "passed"


def test_torch_full_mode_on_a_small_model():
    _model, params, loss = mlp()
    report = check_grad(loss, params, mode="full")
    assert report.mode == "full" and report.verdict == "passed"
    n = sum(p.numel() for p in params)
    # two per entry, and two more for the few measured again at half the step
    assert 2 * n <= report.evaluations <= 2 * n + 2 * n // 100


def test_torch_full_mode_on_a_single_tensor_names_the_worst_entry():
    x = torch.linspace(-1, 1, 7, dtype=torch.float64)

    def f(t):
        return (t**3).sum()

    assert check_grad(f, x, mode="full").verdict == "passed"
    wrong = 3 * x**2
    wrong[4] *= 2
    report = check_grad(f, x, wrong, mode="full")
    assert report.verdict == "failed" and report.worst[0].index == "[4]"


def test_torch_float32_is_inconclusive_not_a_false_verdict():
    _model, params, loss = mlp(dtype=torch.float32)
    report = check_grad(loss, params, mode="directional")
    assert report.verdict == "inconclusive"
    assert "float64" in report.summary and "double()" in report.summary


def test_torch_bad_inputs():
    with pytest.raises(GradCheckError, match="integers are meaningless"):
        check_grad(lambda t: t.sum(), torch.arange(3))
    with pytest.raises(GradCheckError, match="Python float"):
        check_grad(lambda t: t.detach().sum().item(), torch.ones(3, dtype=torch.float64))
    with pytest.raises(GradCheckError, match=r"not a scalar.*reduce f"):
        check_grad(lambda t: t * 2, torch.ones(3, dtype=torch.float64), torch.ones(3))
    with pytest.raises(GradCheckError, match="does not depend on x"):
        check_grad(lambda t: t.detach().sum(), torch.ones(3, dtype=torch.float64))
    with pytest.raises(GradCheckError, match="real number"):
        check_grad(lambda t: (t * 1j).sum(), torch.ones(3, dtype=torch.float64))
    x = torch.ones(3000, dtype=torch.float64)
    with pytest.raises(GradCheckError, match="real number"):
        check_grad(lambda t: (t * 1j).sum(), x, torch.ones_like(x))
    with pytest.raises(GradCheckError, match=r"on meta but the tensor is on cpu.*\.to\('cpu'\)"):
        check_grad(lambda t: t.sum(), x, torch.ones(3000, dtype=torch.float64, device="meta"),
                   mode="directional")


@pytest.fixture
def small_chunks(monkeypatch):
    """Cut tensors into chunks of 256 entries, so that the MLP's weights take the path of
    large tensors (chunks drawn on the thread pool) that a real model takes."""
    monkeypatch.setitem(torch_backend.CHUNK, "cpu", 256)


def _serial_map(self, fn, jobs, device):
    return [fn(job) for job in jobs]


def test_torch_chunked_draws_restore_exactly_and_do_not_depend_on_threads(small_chunks,
                                                                         monkeypatch):
    _model, params, loss = mlp()
    before = [p.detach().clone() for p in params]
    calls, pooled_map = [], FastTorchBackend._map
    monkeypatch.setattr(FastTorchBackend, "_map", lambda self, fn, jobs, device: (
        calls.append(len(jobs)), pooled_map(self, fn, jobs, device))[1])
    threaded = check_grad(loss, params, mode="directional", seed=3, directions=2)
    assert threaded.verdict == "passed", str(threaded)
    assert calls and all(jobs > 1 for jobs in calls)  # several chunks, to the pool
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))
    monkeypatch.setattr(FastTorchBackend, "_map", _serial_map)
    serial = check_grad(loss, params, mode="directional", seed=3, directions=2)
    assert serial.directions == threaded.directions  # the same numbers, bit for bit
    other = check_grad(loss, params, mode="directional", seed=4)
    assert other.directions[0].grad_dot_v != threaded.directions[0].grad_dot_v


@pytest.mark.parametrize("bug", ["entry_doubled", "transposed_weight"])
def test_torch_chunked_planted_bugs_fail_and_are_localised(small_chunks, bug):
    _model, params, loss = mlp()
    grads = torch.autograd.grad(loss(params), params)
    report = check_grad(loss, params, planted(grads, bug), mode="directional")
    assert report.verdict == "failed", str(report)
    assert [t.index for t in report.tensors if t.verdict == "failed"] == \
        {"entry_doubled": [0], "transposed_weight": [2]}[bug]


def test_torch_strided_tensor_is_perturbed_in_its_own_layout():
    base = torch.randn(50, 60, dtype=torch.float64)
    x = base.T  # not contiguous
    before = x.clone()

    def f(t):
        return (t.sin() * t.cumsum(0)).sum()

    assert check_grad(f, x, mode="directional").verdict == "passed"
    wrong = torch.autograd.grad(f(x.requires_grad_()), x)[0].T.contiguous().T * 1.01
    assert check_grad(f, x, wrong, mode="directional").verdict == "failed"
    assert torch.equal(x.detach(), before) and not x.is_contiguous()


def test_torch_nan_gradient_and_failing_f_leave_parameters_restored(small_chunks):
    _model, params, loss = mlp()
    before = [p.detach().clone() for p in params]
    grads = [g.clone() for g in torch.autograd.grad(loss(params), params)]
    grads[0].view(-1)[7] = float("nan")
    with pytest.raises(GradCheckError, match="tensor 0 contains NaN"):
        check_grad(loss, params, grads, mode="directional")
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))
    calls = []

    def breaks_on_the_second_rung(ps):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("out of memory (simulated)")
        return loss(ps)

    with pytest.raises(RuntimeError, match="simulated"):
        check_grad(breaks_on_the_second_rung, params, mode="directional")
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_torch_cuda_tensors_stay_on_the_device():
    x = torch.randn(10_000, dtype=torch.float64, device="cuda")
    report = check_grad(lambda t: (t.sin() * t).sum(), x)
    assert report.verdict == "passed"


# ---------------------------------------------------------------- TensorFlow
@pytest.fixture(scope="module")
def tf():
    pytest.importorskip("tensorflow")
    return helpers.import_tensorflow_quietly()


@pytest.mark.parametrize("kind", ["variable", "tensor"])
def test_tensorflow_right_and_wrong(tf, kind):
    values = np.random.default_rng(5).standard_normal(3000)
    x = tf.Variable(values) if kind == "variable" else tf.constant(values)

    def f(v):
        return tf.reduce_sum(tf.sin(v) * v**2)

    assert check_grad(f, x).verdict == "passed"
    report = check_grad(f, x, grad=lambda v: tf.cos(v) * v**2)
    assert report.verdict == "failed"
    np.testing.assert_array_equal(x.numpy(), values)  # restored


def test_tensorflow_full_mode_and_several_tensors(tf):
    w = tf.Variable([[0.5, -1.0], [2.0, 0.1]], dtype=tf.float64)
    b = tf.Variable([0.3, -0.2], dtype=tf.float64)

    u = tf.constant([1.0, 2.0], tf.float64)

    def f(ps):
        return tf.reduce_sum(tf.tanh(tf.linalg.matvec(ps[0], u) + ps[1]) ** 2)

    assert check_grad(f, [w, b]).verdict == "passed"
    with tf.GradientTape() as tape:
        value = f([w, b])
    gw, gb = tape.gradient(value, [w, b])
    report = check_grad(f, [w, b], [tf.transpose(gw), gb])
    assert report.verdict == "failed" and "tensor 0" in report.summary


def test_tensorflow_integer_input(tf):
    with pytest.raises(GradCheckError, match="integers"):
        check_grad(lambda v: tf.reduce_sum(v), tf.constant([1, 2, 3]))


def test_report_text_and_html():
    report = check_grad(f_np, np.ones(3), grad_np)
    assert str(report).startswith("gradient check PASSED")
    assert "<strong" in report._repr_html_()
