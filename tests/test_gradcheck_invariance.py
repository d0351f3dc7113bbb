"""The invariances check_grad's verdicts are built on, tested as properties, and the pieces
of the package tested against each other.

Invariances (stated in helpers/gradcheck/directional.py and full.py): multiplying f by a
positive constant, multiplying x by one (f(x) = g(x / s) at s x0), or shifting x far from
zero (f(x) = g(x - c) at x0 + c) changes no verdict, in either mode, for right gradients and
for wrong ones; kinks give "inconclusive" or "passed", never "failed".
"""

import gc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import check_grad

torch = pytest.importorskip("torch")


def problem(n_hidden=6, seed=0):
    """A small tanh network's loss g and its parameters (a weight matrix and a bias)."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(16, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(16, generator=gen, dtype=torch.float64)
    W = torch.randn(3, n_hidden, generator=gen, dtype=torch.float64)
    b = 0.1 * torch.randn(n_hidden, generator=gen, dtype=torch.float64)

    def g(params):
        W, b = params
        return ((torch.tanh(X @ W + b).sum(1) - y) ** 2).mean()

    return g, [W, b]


def transformed(kind, k, seed):
    """(f, x, right gradient, wrong gradient) for g transformed by ``kind`` with 10^k."""
    g, params = problem(seed=seed)
    factor = 10.0 ** k
    if kind == "f scaled":
        f, x = (lambda p: factor * g(p)), params
    elif kind == "x scaled":
        f, x = (lambda p: g([t / factor for t in p])), [t * factor for t in params]
    else:  # x shifted by 10^k plus offsets of order one
        gen = torch.Generator().manual_seed(seed + 1)
        shifts = [factor + torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in params]
        f = lambda p: g([t - c for t, c in zip(p, shifts, strict=True)])  # noqa: E731
        x = [t + c for t, c in zip(params, shifts, strict=True)]
    ps = [t.detach().clone().requires_grad_(True) for t in x]
    right = [t.detach() for t in torch.autograd.grad(f(ps), ps)]
    wrong = [right[0] * (1 + 1e-3), -right[1]]
    return f, x, right, wrong


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(["f scaled", "x scaled", "x shifted"]),
       k=st.integers(-6, 6), seed=st.integers(0, 50),
       mode=st.sampled_from(["full", "directional"]))
def test_verdicts_do_not_depend_on_scaling_f_or_x_or_shifting_x(kind, k, seed, mode):
    if kind == "x shifted":
        k = abs(k) % 5  # shifts up to 1e4: beyond, x + offsets has too few digits of x left
    f, x, right, wrong = transformed(kind, k, seed)
    assert check_grad(f, x, right, mode=mode).verdict == "passed"
    assert check_grad(f, x, wrong, mode=mode).verdict == "failed"


def kinked_loss(seed: int, n: int):
    """0.5 ||x - a||^2 + 0.1 ||x||_1 at a random x: (f, x, its gradient)."""
    gen = np.random.default_rng(seed)
    a, x = gen.standard_normal(n), gen.standard_normal(n)

    def f(v):
        return 0.5 * np.sum((v - a) ** 2) + 0.1 * np.sum(np.abs(v))

    def grad(v):
        return v - a + 0.1 * np.sign(v)

    return f, x, grad


# A random search once found a seed where a 0.1% error passes (below, a known failure); the
# examples are drawn from a fixed seed (tests/conftest.py), so CI does not depend on the draw.
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.sampled_from([3_000, 30_000, 100_000]))
def test_piecewise_linear_loss_never_fails_a_right_gradient(seed, n):
    """The steps cross kinks of coordinates away from x."""
    f, x, grad = kinked_loss(seed, n)
    assert check_grad(f, x, grad, seed=seed).verdict in ("passed", "inconclusive")
    assert check_grad(f, x, lambda v: 1.001 * grad(v), seed=seed).verdict == "failed"


def test_a_small_error_on_a_kinked_loss_is_caught():
    f, x, grad = kinked_loss(1612, 100_000)  # found by hypothesis in a CI run
    assert check_grad(f, x, lambda v: 1.001 * grad(v), seed=1612).verdict == "failed"


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_a_relu_network_exactly_at_its_kinks_is_inconclusive_not_failed(mode):
    """Zero-initialised hidden layer: every ReLU sits at its kink, where autograd's gradient
    (ReLU'(0) = 0) is one of the one-sided derivatives, not the central difference."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(32, 4, generator=gen, dtype=torch.float64)
    W1 = torch.zeros(4, 8, dtype=torch.float64)
    W2 = torch.randn(8, 1, generator=gen, dtype=torch.float64)
    y = torch.randn(32, 1, generator=gen, dtype=torch.float64)
    report = check_grad(lambda p: (torch.relu(X @ p[0]) @ p[1] - y).square().mean(), [W1, W2],
                        mode=mode)
    assert report.verdict == "inconclusive", str(report)
    assert "not differentiable" in report.summary


def test_the_fast_torch_path_moves_x_as_the_plain_reference_does(monkeypatch):
    """Chunks, thread pool, scratch buffers and fused norms against one draw per tensor and
    one operation at a time: the same direction, the same grad . v (to rounding), the same
    verdicts, and x restored bit for bit by both."""
    from helpers.gradcheck import torch_backend
    from helpers.gradcheck.torch_fast import FastTorchBackend

    monkeypatch.setitem(torch_backend.CHUNK, "cpu", 512)  # the weight is cut into chunks
    g, params = problem(n_hidden=400)
    ps = [t.clone().requires_grad_(True) for t in params]
    grads = list(torch.autograd.grad(g(ps), ps))
    moved, dots = {}, {}
    for cls in (torch_backend.TorchBackend, FastTorchBackend):
        backend = cls(g, params, grads)
        before = [t.clone() for t in params]
        dots[cls] = backend.displace([0, 1], 3, 0, 1e-3, grads)
        moved[cls] = [t.clone() for t in params]
        backend.restore_all([0, 1])
        assert all(torch.equal(t, b) for t, b in zip(params, before, strict=True))
    plain, fast = moved[torch_backend.TorchBackend], moved[FastTorchBackend]
    for a, b in zip(plain, fast, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-15)
    assert dots[FastTorchBackend] == pytest.approx(dots[torch_backend.TorchBackend], rel=1e-12)


def test_a_check_leaves_the_process_as_it_found_it():
    """The garbage collector, torch's thread count and no thread pool left behind."""
    import threading

    g, params = problem(n_hidden=3000)
    threads = torch.get_num_threads()
    assert gc.isenabled()
    check_grad(g, params, mode="directional")
    assert gc.isenabled() and torch.get_num_threads() == threads
    assert not [t for t in threading.enumerate() if t.name.startswith("check_grad")]
    gc.disable()
    try:
        check_grad(g, params, mode="directional")
        assert not gc.isenabled()  # a collector the caller turned off stays off
    finally:
        gc.enable()
