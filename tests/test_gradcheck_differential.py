"""check_grad against torch.autograd.gradcheck, the slow full-Jacobian reference (issue 25).

A zoo of float64 models small enough for gradcheck's 2 N evaluations: an MLP, a convolution,
LayerNorm, BatchNorm in eval mode, an embedding, a GRU and attention. Each is checked with
its right gradient and with the bugs people write: the sign of one row, W for W^T, a mean
taken as a sum, a missing factor 2, a bias gradient off by one place. The rule: check_grad,
in either mode, never passes a gradient that gradcheck fails, and never fails one that
gradcheck passes. A gradient is handed to gradcheck through a Function whose backward
returns it, so both judge the same numbers.

Then property tests (hypothesis) over what the issue found the checks weak on: parameters
shifted far from zero, scaled, entries of mixed magnitude, and residuals that are exactly zero.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call

from helpers import check_grad

f64 = torch.float64
BUGS = [None, "sign of one row", "W for W^T", "mean as sum", "missing 2", "bias off by one"]
MODES = ["full", "directional"]


def zoo(name: str):
    """(module, inputs, loss of the module's output) for one member of the zoo."""
    torch.manual_seed(0)
    if name == "mlp":
        model = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2))
        inputs = (torch.randn(8, 6),)
    elif name == "conv":
        model = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3), torch.nn.Tanh(), torch.nn.Flatten(),
                                    torch.nn.Linear(18, 2))
        inputs = (torch.randn(4, 2, 8),)
    elif name == "layer norm":
        model = torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.LayerNorm(5),
                                    torch.nn.Linear(5, 2))
        inputs = (torch.randn(8, 5),)
    elif name == "batch norm (eval)":
        model = torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.BatchNorm1d(5),
                                    torch.nn.Tanh(), torch.nn.Linear(5, 2))
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
        model.eval()
        inputs = (torch.randn(8, 5),)
    elif name == "embedding":
        model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Flatten(),
                                    torch.nn.Linear(12, 2))
        inputs = (torch.tensor([[1, 2, 3], [4, 1, 9]]),)
    elif name == "gru":
        model = torch.nn.GRU(3, 4, batch_first=True)
        inputs = (torch.randn(2, 5, 3),)
    elif name == "attention":
        model = torch.nn.MultiheadAttention(4, 2, batch_first=True)
        x = torch.randn(2, 3, 4)
        inputs = (x, x, x)
    else:
        raise ValueError(name)
    model = model.double()
    inputs = tuple(i.double() if i.is_floating_point() else i for i in inputs)
    target = torch.randn(2, generator=torch.Generator().manual_seed(1), dtype=f64)

    def loss(out):
        out = out[0] if isinstance(out, tuple) else out
        return ((out.reshape(-1, out.shape[-1])[:, :2] - target) ** 2).mean()

    return model, inputs, loss


def planted(grads: list[torch.Tensor], names: list[str], bug: str | None) -> list[torch.Tensor]:
    """The right gradient with one of the bugs people write."""
    g = [t.clone() for t in grads]
    weights = [i for i, n in enumerate(names) if "weight" in n and g[i].dim() == 2]
    biases = [i for i, n in enumerate(names) if "bias" in n and g[i].numel() > 1]
    if bug == "sign of one row":  # the row with the largest gradient (not an unused one)
        w = g[weights[0]]
        row = int(w.norm(dim=1).argmax())
        w[row] = -w[row]
    elif bug == "W for W^T":
        square = [i for i in weights if g[i].shape[0] == g[i].shape[1]] or weights
        w = g[square[0]]
        g[square[0]] = w.T.contiguous() if w.shape[0] == w.shape[1] else w.flip(0)
    elif bug == "mean as sum":  # the gradient of a sum over the batch of 8
        g = [8 * t for t in g]
    elif bug == "missing 2":
        g = [t / 2 for t in g]
    elif bug == "bias off by one":
        g[biases[0]] = g[biases[0]].roll(1)
    return g


class Given(torch.autograd.Function):
    """f(params) whose backward returns a given gradient: how gradcheck judges a gradient
    someone wrote, the same numbers check_grad gets."""

    @staticmethod
    def forward(ctx, fn, gradient_fn, *params):
        ctx.gradient_fn, ctx.params = gradient_fn, params
        return fn(params).detach()

    @staticmethod
    def backward(ctx, out):
        return (None, None, *(out * g for g in ctx.gradient_fn(ctx.params)))


def gradcheck_verdict(fn, gradient_fn, params) -> bool:
    inputs = tuple(p.detach().clone().requires_grad_() for p in params)
    return torch.autograd.gradcheck(lambda *ps: Given.apply(fn, gradient_fn, *ps), inputs,
                                    raise_exception=False)


@pytest.mark.parametrize("bug", BUGS)
@pytest.mark.parametrize("name", ["mlp", "conv", "layer norm", "batch norm (eval)",
                                  "embedding", "gru", "attention"])
def test_check_grad_agrees_with_gradcheck_on_the_zoo(name, bug):
    model, inputs, loss = zoo(name)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names = [n for n, _ in named]
    params = [p.detach().clone() for _, p in named]

    def fn(ps):
        return loss(functional_call(model, dict(zip(names, ps, strict=True)), inputs))

    def right(ps):
        qs = [p.detach().clone().requires_grad_() for p in ps]
        with torch.enable_grad():
            return list(torch.autograd.grad(fn(qs), qs))

    def gradient(ps):
        return planted(right(ps), names, bug)

    reference = gradcheck_verdict(fn, gradient, params)
    assert reference == (bug is None)  # every planted bug is a real error at this size
    for mode in MODES:
        report = check_grad(fn, params, gradient, mode=mode)
        expected = "passed" if reference else "failed"
        assert report.verdict == expected, (mode, report.summary)


# ---- properties over shifts, scales, magnitude mixes and zero residuals ---------------------
@settings(max_examples=80, deadline=None)
@given(shift=st.sampled_from([0.0, 1e2, 1e4, 1e6, 1e8]),
       scale=st.sampled_from([1e-4, 1.0, 1e4]),
       spread=st.sampled_from([0.0, 2.0, 4.0]),  # feature magnitudes 10^-spread .. 10^spread
       exact_fit=st.booleans(),
       bug=st.sampled_from([None, "sign", "one entry x2", "bias 1%"]),
       mode=st.sampled_from(["auto", *MODES]),
       seed=st.integers(0, 1000))
def test_never_passes_what_gradcheck_fails_nor_fails_what_it_passes(
        shift, scale, spread, exact_fit, bug, mode, seed):
    g = torch.Generator().manual_seed(seed)
    features = 10.0 ** torch.linspace(-spread, spread, 4, dtype=f64)
    X = torch.randn(12, 4, generator=g, dtype=f64) * features
    w0 = torch.randn(4, generator=g, dtype=f64) / features
    b0 = torch.randn(1, generator=g, dtype=f64)
    y = X @ w0 + b0 if exact_fit else torch.randn(12, generator=g, dtype=f64)
    # x = scale * (w, b) + shift, and f sees (x - shift) / scale: the same loss, moved
    params = [scale * w0 + shift, scale * b0 + shift]

    def fn(ps):
        w, b = ((p - shift) / scale for p in ps)
        return ((X @ w + b - y) ** 2).mean()

    def gradient(ps):
        w, b = ((p - shift) / scale for p in ps)
        r = 2 * (X @ w + b - y) / 12
        gw, gb = X.T @ r / scale, r.sum().reshape(1) / scale
        if bug == "sign":
            gw, gb = -gw, -gb
        elif bug == "one entry x2":
            gw = gw.clone()
            gw[int(torch.argmax(gw.abs()))] *= 2
        elif bug == "bias 1%":
            gb = gb * 1.01
        return [gw, gb]

    wrong_for_gradcheck = not gradcheck_verdict(fn, gradient, params)
    report = check_grad(fn, params, gradient, mode=mode)
    # (the directional mode, asked for, cannot see an error whose share of grad . v is below
    # its resolution, such as the bias of a fit to features of 1e4 next to features of 1e-4:
    # the appendix says so, and "auto" takes the full mode at this size)
    # (and gradcheck's own fixed step of 1e-6 is a few dozen units in the last place of x at
    # 1e8: there it fails right gradients too, which is no reason for check_grad to)
    if wrong_for_gradcheck and bug is not None and mode != "directional":
        assert report.verdict != "passed", report.summary
    if bug is None:
        assert report.verdict != "failed", report.summary
