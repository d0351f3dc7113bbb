"""An adversarial corpus for helpers.check_grad, written for issue 25 by an independent
reviewer from the issue's text alone, without reading the implementation; kept as written
(hence its own lint rules in pyproject.toml). tests/test_gradcheck_corpus.py runs each case.

Each case returns a dict(f, x, grad?, kw?, extra_snap?) or dict(custom=...); its expected
verdicts are a set, with 'raise' for a GradCheckError; x must be unchanged afterwards.
"""
import time
import traceback

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import GradCheckError, check_grad

D = torch.float64
CASES = []


def case(name, expect, msg=None, nomsg=None):
    """expect: set of verdicts / 'raise'; msg: substrings (any) that must appear in summary/str/error;
    nomsg: substrings that must NOT appear"""
    if isinstance(expect, str):
        expect = {expect}

    def deco(fn):
        CASES.append((name, set(expect), msg, nomsg, fn))
        return fn
    return deco


# ---------------------------------------------------------------- snapshots
def _tbytes(t):
    t = t.detach()
    if t.is_sparse or t.device.type == "meta":
        return repr(t.shape)
    return bytes(t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()) + repr((t.dtype, tuple(t.shape))).encode()


def snap(x):
    if isinstance(x, np.ndarray):
        return ("np", x.tobytes(order="A") if x.dtype != object else repr(x), x.dtype, x.shape, x.strides)
    if isinstance(x, torch.Tensor):
        return ("t", _tbytes(x), x.requires_grad, None if x.grad is None else _tbytes(x.grad))
    if isinstance(x, nn.Module):
        return ("m", [snap(p) for p in x.parameters()])
    if isinstance(x, (list, tuple)):
        return ("l", [snap(v) for v in x])
    try:
        import tensorflow as tf
        if isinstance(x, tf.Variable):
            return ("tfv", x.numpy().tobytes())
        if isinstance(x, tf.Tensor):
            return ("tft", x.numpy().tobytes())
        import keras
        if isinstance(x, keras.Model):
            return ("k", [v.numpy().tobytes() for v in x.trainable_variables])
    except Exception:
        pass
    return ("o", repr(x))


# ---------------------------------------------------------------- helpers
def agrad(f, model):
    ps = [p for p in model.parameters() if p.requires_grad]
    g = torch.autograd.grad(f(model), ps)
    return [t.detach().clone() for t in g]


def tfgrad(f, model_or_vars):
    import tensorflow as tf
    vs = model_or_vars.trainable_variables if hasattr(model_or_vars, "trainable_variables") else model_or_vars
    with tf.GradientTape() as tape:
        y = f(model_or_vars)
    return [tf.identity(g) for g in tape.gradient(y, vs)]


def rs(seed=0):
    return np.random.default_rng(seed)


# =====================================================================
# 1. tensors of ones (norm gains at init)
# =====================================================================
def _gn_model():
    torch.manual_seed(1)
    m = nn.Sequential(nn.Conv1d(2, 4, 3), nn.GroupNorm(2, 4)).double()
    X = torch.randn(3, 2, 7, dtype=D); T = torch.randn(3, 4, 5, dtype=D)
    return m, (lambda mod: (mod(X) * T).sum())


@case("1a torch GroupNorm gain=1, gain grad sign-flipped, directional", "failed")
def _():
    m, f = _gn_model(); g = agrad(f, m); g[2] = -g[2]
    return dict(f=f, x=m, grad=g, kw=dict(mode="directional"))


@case("1b torch GroupNorm gain=1, right grad, full mode", "passed")
def _():
    m, f = _gn_model()
    return dict(f=f, x=m, kw=dict(mode="full"))


@case("1c torch RMSNorm weight=1, right grad, full mode", "passed")
def _():
    torch.manual_seed(2)
    m = nn.Sequential(nn.Linear(3, 5), nn.RMSNorm(5)).double()
    X = torch.randn(4, 3, dtype=D); T = torch.randn(4, 5, dtype=D)
    return dict(f=lambda mod: ((mod(X) - T) ** 2).sum(), x=m, kw=dict(mode="full"))


@case("1d numpy w=ones, right grad, full", "passed")
def _():
    r = rs(3); z = r.normal(size=6); y = r.normal(size=6)
    return dict(f=lambda w: np.sum((w * z - y) ** 2), x=np.ones(6),
                grad=lambda w: 2 * (w * z - y) * z, kw=dict(mode="full"))


@case("1e numpy w=ones, sign-flipped grad, directional", "failed")
def _():
    r = rs(3); z = r.normal(size=6); y = r.normal(size=6)
    return dict(f=lambda w: np.sum((w * z - y) ** 2), x=np.ones(6),
                grad=lambda w: -2 * (w * z - y) * z, kw=dict(mode="directional"))


@case("1f TF Keras LayerNormalization gamma=1, gamma grad sign-flipped, directional", "failed")
def _():
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(4)
    m = keras.Sequential([keras.Input((4,), dtype="float64"), keras.layers.Dense(3, dtype="float64"),
                          keras.layers.LayerNormalization(dtype="float64")])
    X = tf.constant(rs(4).normal(size=(5, 4))); T = tf.constant(rs(5).normal(size=(5, 3)))
    f = lambda mod: tf.reduce_sum(mod(X) * T)
    g = tfgrad(f, m)
    names = [v.path if hasattr(v, "path") else v.name for v in m.trainable_variables]
    i = next(k for k, n in enumerate(names) if "gamma" in n)
    g[i] = -g[i]
    return dict(f=f, x=m, grad=g, kw=dict(mode="directional"))


@case("1g torch BatchNorm1d eval, gain=1, right grad, full", "passed")
def _():
    torch.manual_seed(5)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).double()
    m[1].running_mean.uniform_(-1, 1); m[1].running_var.uniform_(0.5, 2); m.eval()
    X = torch.randn(6, 3, dtype=D); T = torch.randn(6, 4, dtype=D)
    return dict(f=lambda mod: ((mod(X) - T) ** 2).mean(), x=m, kw=dict(mode="full"))


# =====================================================================
# 2. shifted parameters
# =====================================================================
def _shift_problem(shift, n=4, seed=6):
    r = rs(seed)
    A = np.c_[r.normal(size=(20, n - 1)), np.ones(20)]   # last column: bias
    p0 = r.normal(size=n) + shift
    y = A @ (p0 + r.normal(size=n) * 0.3)
    f = lambda p: 0.5 * np.sum((A @ p - y) ** 2)
    g = lambda p: A.T @ (A @ p - y)
    return f, g, p0


@case("2a numpy shift +3e6, 1% bias-entry error, full", "failed")
def _():
    f, g, p = _shift_problem(3e6)
    return dict(f=f, x=p, grad=lambda q: g(q) * np.r_[1, 1, 1, 1.01], kw=dict(mode="full"))


@case("2b numpy shift +3e6, 1% bias-entry error, directional", "failed")
def _():
    f, g, p = _shift_problem(3e6)
    return dict(f=f, x=p, grad=lambda q: g(q) * np.r_[1, 1, 1, 1.01], kw=dict(mode="directional"))


@case("2c torch Linear params shifted +1e7, 0.1% weight-grad error, directional", "failed")
def _():
    torch.manual_seed(7)
    m = nn.Linear(5, 2).double()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1e7)
    X = torch.randn(30, 5, dtype=D)
    with torch.no_grad():
        Y = m(X) + torch.randn(30, 2, dtype=D)
    f = lambda mod: ((mod(X) - Y) ** 2).mean()
    g = agrad(f, m); g[0] = g[0] * 1.001
    return dict(f=f, x=m, grad=g, kw=dict(mode="directional"))


@case("2d numpy shift +2e8, sign flip, directional", "failed")
def _():
    f, g, p = _shift_problem(2e8)
    return dict(f=f, x=p, grad=lambda q: -g(q), kw=dict(mode="directional"))


@case("2e numpy shift +2e8, sign flip, full", "failed")
def _():
    f, g, p = _shift_problem(2e8)
    return dict(f=f, x=p, grad=lambda q: -g(q), kw=dict(mode="full"))


@case("2f numpy shift +2e8, right grad, full (not failed)", {"passed", "inconclusive"})
def _():
    f, g, p = _shift_problem(2e8)
    return dict(f=f, x=p, grad=g, kw=dict(mode="full"))


@case("2g numpy shift -5e6, right grad, directional", "passed")
def _():
    f, g, p = _shift_problem(-5e6)
    return dict(f=f, x=p, grad=g, kw=dict(mode="directional"))


@case("2h TF Variable shift +3e7, 1% error, directional", "failed")
def _():
    import tensorflow as tf
    r = rs(8); A = tf.constant(r.normal(size=(15, 4))); p0 = r.normal(size=4) + 3e7
    y = A @ tf.constant((p0 + r.normal(size=4))[:, None])
    v = tf.Variable(p0)
    f = lambda v: 0.5 * tf.reduce_sum((A @ v[:, None] - y) ** 2)
    g = tfgrad(lambda vs: f(vs[0]), [v])[0] * 1.01
    return dict(f=f, x=v, grad=g, kw=dict(mode="directional"))


def _lin_shift(shift):
    torch.manual_seed(7)
    m = nn.Linear(5, 2).double()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(shift)
    X = torch.randn(30, 5, dtype=D)
    with torch.no_grad():
        Y = m(X) + torch.randn(30, 2, dtype=D)
    return m, (lambda mod: ((mod(X) - Y) ** 2).mean())


@case("2j torch Linear shifted +1e8, sign flip, directional", "failed")
def _():
    m, f = _lin_shift(1e8); return dict(f=f, x=m, grad=[-g for g in agrad(f, m)], kw=dict(mode="directional"))


@case("2k torch Linear shifted +1e5, right: no false 'not differentiable'", {"passed", "inconclusive"},
      nomsg=["not differentiable"])
def _():
    m, f = _lin_shift(1e5); return dict(f=f, x=m, kw=dict(mode="directional"))


@case("2l torch Linear shifted +1e6, 0.1% weight error, directional", {"failed", "inconclusive"})
def _():
    m, f = _lin_shift(1e6); g = agrad(f, m); g[0] = g[0] * 1.001
    return dict(f=f, x=m, grad=g, kw=dict(mode="directional"))


@case("2i torch tensor shift +1e5, weight-grad 0.1% error, full", "failed")
def _():
    torch.manual_seed(9)
    w = torch.randn(6, dtype=D) + 1e5
    X = torch.randn(20, 6, dtype=D); y = X @ (w + torch.randn(6, dtype=D))
    f = lambda w: ((X @ w - y) ** 2).sum()
    g = lambda w: 2 * X.T @ (X @ w - y) * 1.001
    return dict(f=f, x=w, grad=g, kw=dict(mode="full"))


# =====================================================================
# 3. mixed magnitudes in one tensor
# =====================================================================
def _two_param():
    t = np.linspace(0, 1, 25); s = np.exp(3 * t)
    y = 2e4 * t + 3e-7 * s + 0.1 * np.sin(7 * t)
    f = lambda p: np.sum((p[0] * t + p[1] * s - y) ** 2)
    g = lambda p: np.array([np.sum(2 * (p[0] * t + p[1] * s - y) * t), np.sum(2 * (p[0] * t + p[1] * s - y) * s)])
    return f, g, np.array([2.0001e4, 2.5e-7])


@case("3a numpy 2-param fit values 2e4 and 3e-7, right, full", "passed")
def _():
    f, g, p = _two_param(); return dict(f=f, x=p, grad=g, kw=dict(mode="full"))


@case("3b numpy 2-param fit values 2e4 and 3e-7, right, directional", "passed")
def _():
    f, g, p = _two_param(); return dict(f=f, x=p, grad=g, kw=dict(mode="directional"))


def _unnorm():
    r = rs(10); scales = np.array([3e3, 1.0, 2e-3, 1e-5])
    X = r.normal(size=(40, 4)) * scales; w = r.normal(size=4) / scales
    y = X @ w + r.normal(size=40)
    f = lambda w: np.sum((X @ w - y) ** 2) / 40
    g = lambda w: 2 * X.T @ (X @ w - y) / 40
    return f, g, w


@case("3c numpy unnormalised features, sign flip on smallest entry, full", "failed",
      nomsg=["largest relative error 2.0"])
def _():
    f, g, w = _unnorm()
    return dict(f=f, x=w, grad=lambda v: g(v) * np.r_[1, 1, 1, -1], kw=dict(mode="full"))


@case("3d numpy unnormalised features, right, full", "passed")
def _():
    f, g, w = _unnorm(); return dict(f=f, x=w, grad=g, kw=dict(mode="full"))


@case("3e numpy entry 1e-9 of largest missing factor 2, full", "failed")
def _():
    c = np.array([1.0, 0.7, 1e-9])
    return dict(f=lambda x: np.sum(c * x ** 2), x=np.array([1.3, -0.8, 1.1]),
                grad=lambda x: np.r_[2 * c[:2] * x[:2], c[2] * x[2]], kw=dict(mode="full"))


@case("3f numpy mid entry (5% of norm) off by factor 2, directional", "failed")
def _():
    r = rs(11); c = np.r_[np.ones(50), 0.05]; x = r.normal(size=51); x[-1] = 1.0
    return dict(f=lambda x: 0.5 * np.sum(c * x ** 2), x=x,
                grad=lambda x: c * x * np.r_[np.ones(50), 2.0], kw=dict(mode="directional"))


@case("3g TF Variable values [1e3, 1e-6], right, full", "passed")
def _():
    import tensorflow as tf
    v = tf.Variable(np.array([1e3, 1e-6, 3.0]))
    return dict(f=lambda v: tf.reduce_sum(tf.sin(v * tf.constant([1e-3, 1e6, 1.0], tf.float64))), x=v,
                kw=dict(mode="full"))


@case("3h torch weights spanning 1e4..1e-8, right, full", "passed")
def _():
    w = torch.tensor([1e4, 3.0, 2e-8, -5e-5], dtype=D)
    s = torch.tensor([1e-4, 1.0, 1e8, 1e4], dtype=D)
    return dict(f=lambda w: torch.cos(w * s).sum() + (w * s).pow(2).sum(), x=w, kw=dict(mode="full"))


@case("3i torch weights spanning 1e4..1e-8, entry 2e-8 sign flip, full", {"failed", "inconclusive"})
def _():
    w = torch.tensor([1e4, 3.0, 2e-8, -5e-5], dtype=D)
    f = lambda w: (w ** 2).sum()
    return dict(f=f, x=w, grad=lambda w: 2 * w * torch.tensor([1, 1, -1, 1], dtype=D), kw=dict(mode="full"))


@case("3j numpy values [1e3, 1e-6], f=sum(w^2), sign flip on small entry, full", {"failed", "inconclusive"})
def _():
    return dict(f=lambda w: np.sum(w ** 2), x=np.array([1e3, 1e-6]), grad=lambda w: 2 * w * np.r_[1, -1],
                kw=dict(mode="full"))


# =====================================================================
# 4. zero gradients
# =====================================================================
def _zero_resid():
    torch.manual_seed(12)
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    X = torch.randn(10, 3, dtype=D)
    with torch.no_grad():
        Y = m(X).clone()
    return m, (lambda mod: ((mod(X) - Y) ** 2).mean())


@case("4a torch MLP targets=model(X), right, full", "passed", msg=["zero"])
def _():
    m, f = _zero_resid(); return dict(f=f, x=m, kw=dict(mode="full"))


@case("4b torch MLP targets=model(X), right, directional", "passed", msg=["zero"],
      nomsg=["e+0", "e+1", "e+2"])
def _():
    m, f = _zero_resid(); return dict(f=f, x=m, kw=dict(mode="directional"))


@case("4c numpy constant f, zero grad, directional", "passed", msg=["zero"], nomsg=["e+2"])
def _():
    return dict(f=lambda x: -2.5, x=rs(13).normal(size=50), grad=np.zeros(50), kw=dict(mode="directional"))


@case("4d numpy constant f, nonzero claimed grad, directional", "failed")
def _():
    return dict(f=lambda x: 4.0, x=rs(13).normal(size=20), grad=lambda x: 1e-3 * x, kw=dict(mode="directional"))


@case("4e TF at minimum of quadratic, zero grad, full", "passed", msg=["zero"])
def _():
    import tensorflow as tf
    c = tf.constant([1.5, -2.0, 0.25], tf.float64); v = tf.Variable(c)
    return dict(f=lambda v: tf.reduce_sum((v - c) ** 2) + 3.0, x=v, kw=dict(mode="full"))


@case("4f numpy true grad nonzero, claimed zero, full", "failed")
def _():
    return dict(f=lambda x: np.sum(np.sin(x)), x=np.array([0.3, 1.0]), grad=np.zeros(2), kw=dict(mode="full"))


@case("4g torch relu all-negative (zero grad), directional", "passed", msg=["zero"])
def _():
    x = -torch.rand(40, dtype=D) - 0.5
    return dict(f=lambda x: torch.relu(x).sum() + 1.0, x=x, kw=dict(mode="directional"))


@case("4h numpy vector f constant, zero Jacobian, full", "passed")
def _():
    return dict(f=lambda x: np.array([1.0, 2.0]), x=np.array([0.5, 0.2, 0.1]), grad=np.zeros((2, 3)), kw=dict(mode="full"))


# =====================================================================
# 5. overflow of |g|^2 / underflow
# =====================================================================
@case("5a numpy sum(exp(x)) x~700, right, full", "passed")
def _():
    x = 700 + rs(14).uniform(-1, 1, size=5)
    return dict(f=lambda x: np.sum(np.exp(x)), x=x, grad=np.exp, kw=dict(mode="full"))


@case("5b numpy sum(exp(x)) x~700, right, directional", "passed")
def _():
    x = 700 + rs(14).uniform(-1, 1, size=5)
    return dict(f=lambda x: np.sum(np.exp(x)), x=x, grad=np.exp, kw=dict(mode="directional"))


@case("5c numpy sum(exp(x)) x~700, sign flip, directional", "failed")
def _():
    x = 700 + rs(14).uniform(-1, 1, size=5)
    return dict(f=lambda x: np.sum(np.exp(x)), x=x, grad=lambda x: -np.exp(x), kw=dict(mode="directional"))


@case("5d torch MLP loss*1e250, right autograd, directional", "passed")
def _():
    torch.manual_seed(15)
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    X = torch.randn(8, 3, dtype=D)
    return dict(f=lambda mod: 1e250 * (mod(X) ** 2).sum(), x=m, kw=dict(mode="directional"))


@case("5e TF exp near 650, right autograd, full", "passed")
def _():
    import tensorflow as tf
    v = tf.Variable(650 + rs(16).uniform(-1, 1, size=4))
    return dict(f=lambda v: tf.reduce_sum(tf.exp(v)), x=v, kw=dict(mode="full"))


@case("5f numpy loss*1e-300, right, directional", "passed")
def _():
    return dict(f=lambda x: 1e-300 * np.sum(np.sin(x) + x ** 2), x=rs(17).normal(size=30),
                grad=lambda x: 1e-300 * (np.cos(x) + 2 * x), kw=dict(mode="directional"))


@case("5g numpy loss*1e-300, sign flip, directional (must not be 'zero')", "failed")
def _():
    return dict(f=lambda x: 1e-300 * np.sum(np.sin(x) + x ** 2), x=rs(17).normal(size=30),
                grad=lambda x: -1e-300 * (np.cos(x) + 2 * x), kw=dict(mode="directional"))


@case("5h numpy loss*1e-300, sign flip, full", "failed")
def _():
    return dict(f=lambda x: 1e-300 * np.sum(np.sin(x) + x ** 2), x=rs(17).normal(size=4),
                grad=lambda x: -1e-300 * (np.cos(x) + 2 * x), kw=dict(mode="full"))


# =====================================================================
# 6. precision of f, not x
# =====================================================================
@case("6a numpy f64 x, f returns np.float32, right, directional", {"passed", "inconclusive"})
def _():
    w = rs(18).normal(size=200).astype(np.float32)
    return dict(f=lambda x: np.sum(np.sin(x.astype(np.float32)) * w), x=rs(19).normal(size=200),
                grad=lambda x: np.cos(x) * w, kw=dict(mode="directional"))


@case("6b numpy f64 x, f returns np.float32, right, full", {"passed", "inconclusive"})
def _():
    w = rs(18).normal(size=5).astype(np.float32)
    return dict(f=lambda x: np.sum(np.sin(x.astype(np.float32)) * w), x=rs(19).normal(size=5),
                grad=lambda x: np.cos(x) * w, kw=dict(mode="full"))


@case("6c torch f64 module, f computes in float32, right autograd", {"passed", "inconclusive"})
def _():
    torch.manual_seed(20)
    m = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 1)).double()
    X = torch.randn(12, 4)
    def f(mod):
        out = X
        for layer in mod:
            if isinstance(layer, nn.Linear):
                out = F.linear(out, layer.weight.float(), layer.bias.float())
            else:
                out = layer(out)
        return (out ** 2).mean()
    return dict(f=f, x=m, kw=dict(mode="directional"))


@case("6d torch f64 x, f in float16, right autograd, full", {"passed", "inconclusive"})
def _():
    x = torch.tensor([0.3, -0.7, 1.1], dtype=D)
    return dict(f=lambda x: (x.half() * 1.5).sin().sum(), x=x, kw=dict(mode="full"))


@case("6e torch f64 x, f in bfloat16, right autograd, directional", {"passed", "inconclusive"})
def _():
    torch.manual_seed(21); x = torch.randn(64, dtype=D)
    return dict(f=lambda x: (x.bfloat16() ** 2).sum(), x=x, kw=dict(mode="directional"))


@case("6f numpy f64 x, f returns np.float32, sign flip, directional", "failed")
def _():
    w = rs(18).normal(size=200).astype(np.float32)
    return dict(f=lambda x: np.sum(np.sin(x.astype(np.float32)) * w), x=rs(19).normal(size=200),
                grad=lambda x: -np.cos(x) * w, kw=dict(mode="directional"))


@case("6g Keras mixed_float16 Dense, right autograd", {"passed", "inconclusive"})
def _():
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(22)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh", dtype="mixed_float16"),
                          keras.layers.Dense(1, dtype="mixed_float16")])
    X = tf.constant(rs(22).normal(size=(8, 3)), tf.float32)
    return dict(f=lambda mod: tf.reduce_mean(mod(X) ** 2), x=m, kw=dict(mode="directional"))


@case("6h TF float64 var, f casts to float32, right autograd, full", {"passed", "inconclusive"})
def _():
    import tensorflow as tf
    v = tf.Variable(rs(23).normal(size=4))
    return dict(f=lambda v: tf.reduce_sum(tf.tanh(tf.cast(v, tf.float32)) * 2.0), x=v, kw=dict(mode="full"))


# =====================================================================
# 7. float32 gross errors, user rtol
# =====================================================================
@case("7a numpy float32 x, whole-gradient sign flip, directional", "failed")
def _():
    x = rs(24).normal(size=100).astype(np.float32)
    return dict(f=lambda x: np.sum(np.log1p(x ** 2)), x=x, grad=lambda x: -2 * x / (1 + x ** 2),
                kw=dict(mode="directional"))


@case("7b torch float32 MLP, sign flip, default auto", "failed")
def _():
    torch.manual_seed(25)
    m = nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.Linear(16, 3))
    X = torch.randn(32, 6); Y = torch.randn(32, 3)
    f = lambda mod: F.mse_loss(mod(X), Y)
    return dict(f=f, x=m, grad=[-g for g in agrad(f, m)])


@case("7c torch float32 MLP, 5% error, rtol=1e-2", "failed")
def _():
    torch.manual_seed(25)
    m = nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.Linear(16, 3))
    X = torch.randn(32, 6); Y = torch.randn(32, 3)
    f = lambda mod: F.mse_loss(mod(X), Y)
    return dict(f=f, x=m, grad=[g * 1.05 for g in agrad(f, m)], kw=dict(rtol=1e-2, mode="directional"))


@case("7d torch float32 MLP, right, rtol=1e-2", "passed")
def _():
    torch.manual_seed(25)
    m = nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.Linear(16, 3))
    X = torch.randn(32, 6); Y = torch.randn(32, 3)
    return dict(f=lambda mod: F.mse_loss(mod(X), Y), x=m, kw=dict(rtol=1e-2, mode="directional"))


@case("7e TF float32 Variable, sign flip, full", "failed")
def _():
    import tensorflow as tf
    v = tf.Variable(rs(26).normal(size=5).astype(np.float32))
    f = lambda v: tf.reduce_sum(tf.sin(v) * v)
    return dict(f=f, x=v, grad=-tfgrad(f, [v])[0], kw=dict(mode="full"))


@case("7f numpy float32, right, default", {"passed", "inconclusive"})
def _():
    x = rs(27).normal(size=30).astype(np.float32)
    return dict(f=lambda x: np.sum(np.log1p(x ** 2)), x=x, grad=lambda x: 2 * x / (1 + x ** 2))


@case("7g numpy float32, 0.2% error, rtol=1e-2 (accepted)", "passed")
def _():
    x = rs(27).normal(size=30).astype(np.float32)
    return dict(f=lambda x: np.sum(np.log1p(x ** 2)), x=x, grad=lambda x: 1.002 * 2 * x / (1 + x ** 2),
                kw=dict(rtol=1e-2, mode="directional"))


@case("7h numpy float64, 1e-2 error, rtol=1e-3", "failed")
def _():
    x = rs(28).normal(size=30)
    return dict(f=lambda x: np.sum(np.cos(x)), x=x, grad=lambda x: -1.01 * np.sin(x), kw=dict(rtol=1e-3))


@case("7i numpy float64, 1e-5 error, rtol=1e-3 (accepted)", "passed")
def _():
    x = rs(28).normal(size=30)
    return dict(f=lambda x: np.sum(np.cos(x)), x=x, grad=lambda x: -(1 + 1e-5) * np.sin(x), kw=dict(rtol=1e-3))


# =====================================================================
# 8. jitter
# =====================================================================
def _ulp_noisy(seed):
    r = rs(seed)
    def f(x):
        s = np.sum(np.sin(x) * x)
        return s + r.choice([-1.0, 0.0, 1.0]) * np.spacing(s)
    return f


@case("8a numpy 1-ulp jitter, sign flip, directional", "failed")
def _():
    return dict(f=_ulp_noisy(29), x=rs(30).normal(size=40), grad=lambda x: -(np.cos(x) * x + np.sin(x)),
                kw=dict(mode="directional"))


@case("8b numpy 1-ulp jitter, sign flip, full", "failed")
def _():
    return dict(f=_ulp_noisy(29), x=rs(30).normal(size=4), grad=lambda x: -(np.cos(x) * x + np.sin(x)),
                kw=dict(mode="full"))


@case("8c numpy 1-ulp jitter, right, directional (not failed)", {"passed", "inconclusive"})
def _():
    return dict(f=_ulp_noisy(31), x=rs(30).normal(size=40), grad=lambda x: np.cos(x) * x + np.sin(x),
                kw=dict(mode="directional"))


@case("8d torch float32 random summation order, sign flip", "failed")
def _():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(32); x = torch.randn(3000)
    def f(x):
        p = torch.randperm(x.numel(), generator=g)
        return (x[p] ** 2 * 0.5).sum()
    return dict(f=f, x=x, grad=lambda x: -x, kw=dict(mode="directional"))


@case("8e torch dropout in training mode, right autograd", "inconclusive", msg=["determin"])
def _():
    torch.manual_seed(33)
    m = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 1)).double()
    X = torch.randn(10, 4, dtype=D)
    return dict(f=lambda mod: mod(X).pow(2).sum(), x=m, kw=dict(mode="directional"))


@case("8f numpy 1e-13 relative noise, 1% error, directional", "failed")
def _():
    r = rs(34)
    f = lambda x: np.sum(x ** 3) * (1 + 1e-13 * r.normal())
    return dict(f=f, x=rs(35).uniform(1, 2, size=20), grad=lambda x: 3.03 * x ** 2, kw=dict(mode="directional"))


# =====================================================================
# 9. aliasing
# =====================================================================
@case("9a numpy grad=lambda v: v (alias), N=1e5, directional", "passed")
def _():
    return dict(f=lambda v: 0.5 * np.dot(v, v), x=rs(36).normal(size=100000), grad=lambda v: v,
                kw=dict(mode="directional"))


@case("9b torch grad=lambda t: t (alias), N=1e5, directional", "passed")
def _():
    torch.manual_seed(37); x = torch.randn(100000, dtype=D)
    return dict(f=lambda t: 0.5 * (t * t).sum(), x=x, grad=lambda t: t, kw=dict(mode="directional"))


@case("9c torch flat buffer listed with its views", "raise", msg=["shar", "storage", "overlap", "alias", "view"])
def _():
    flat = torch.randn(10, dtype=D)
    W = flat[:6].view(2, 3); b = flat[6:8]
    X = torch.randn(5, 3, dtype=D)
    return dict(f=lambda ps: ((X @ ps[1].T + ps[2]) ** 2).sum() + ps[0].sum(), x=[flat, W, b])


@case("9d torch same tensor twice in list", "raise", msg=["shar", "storage", "overlap", "alias", "same", "twice"])
def _():
    w = torch.randn(4, dtype=D)
    return dict(f=lambda ps: (ps[0] * ps[1]).sum(), x=[w, w])


@case("9e torch expand()ed input, autograd", {"raise", "passed"})
def _():
    base = torch.randn(1, 4, dtype=D); x = base.expand(3, 4)
    W = torch.randn(3, 4, dtype=D)
    return dict(f=lambda x: (x * W).sin().sum(), x=x, kw=dict(mode="full"))


@case("9f torch f clamps x in place on first call only (x must be restored)", {"passed", "failed", "inconclusive", "raise"})
def _():
    state = {"n": 0}
    def f(x):
        if state["n"] == 0:
            with torch.no_grad():
                x.clamp_(-0.5, 0.5)
        state["n"] += 1
        return (x ** 2).sum()
    torch.manual_seed(38); x = torch.randn(6, dtype=D)
    return dict(f=f, x=x, grad=lambda x: 2 * x, kw=dict(mode="full"))


@case("9g torch EmbeddingBag(max_norm=1) module (renormalises weights in place)", {"passed", "failed", "inconclusive", "raise"})
def _():
    torch.manual_seed(39)
    m = nn.EmbeddingBag(10, 3, max_norm=1.0, mode="sum").double()
    with torch.no_grad():
        m.weight.mul_(3)
    idx = torch.tensor([[1, 2, 4], [4, 3, 9]])
    return dict(f=lambda mod: (mod(idx) ** 2).sum(), x=m, kw=dict(mode="directional"))


@case("9h numpy x non-contiguous view big[::2], right, full", "passed")
def _():
    big = rs(40).normal(size=12); x = big[::3]
    return dict(f=lambda x: np.sum(np.exp(x) * x), x=x, grad=lambda x: np.exp(x) * (1 + x),
                kw=dict(mode="full"), extra_snap=big)


@case("9i numpy read-only x, right", {"passed", "raise"})
def _():
    x = rs(41).normal(size=5); x.flags.writeable = False
    return dict(f=lambda x: np.sum(x ** 3), x=x, grad=lambda x: 3 * x ** 2, kw=dict(mode="full"))


@case("9j numpy f mutates x every call (x+=1e-3)", {"passed", "failed", "inconclusive", "raise"})
def _():
    def f(x):
        x += 1e-3
        return float(np.sum(x ** 2))
    return dict(f=f, x=rs(42).normal(size=5), grad=lambda x: 2 * x, kw=dict(mode="full"))


@case("9k TF Variable, f assigns to the variable on first call", {"passed", "failed", "inconclusive", "raise"})
def _():
    import tensorflow as tf
    v = tf.Variable(rs(43).normal(size=4)); st = {"n": 0}
    def f(v):
        if st["n"] == 0:
            v.assign(v * 0.5)
        st["n"] += 1
        return tf.reduce_sum(v ** 2)
    return dict(f=f, x=v, kw=dict(mode="full"))


@case("9l torch x with pre-existing .grad, autograd, .grad must survive", "passed")
def _():
    torch.manual_seed(44); x = torch.randn(5, dtype=D, requires_grad=True)
    x.grad = torch.full((5,), 7.0, dtype=D)
    return dict(f=lambda x: (x.tanh() ** 2).sum(), x=x, kw=dict(mode="full"))


@case("9m numpy grad function mutates its argument in place", {"passed", "raise", "failed", "inconclusive"})
def _():
    def g(v):
        v *= 2.0
        return v.copy()
    return dict(f=lambda v: np.sum(v ** 2), x=rs(45).normal(size=6), grad=g, kw=dict(mode="full"))


# =====================================================================
# 10. tracebacks / misleading refusals
# =====================================================================
@case("10a nn.Embedding(sparse=True), autograd", {"passed", "raise"})
def _():
    torch.manual_seed(46)
    m = nn.Embedding(12, 3, sparse=True).double(); idx = torch.tensor([1, 5, 5, 7])
    return dict(f=lambda mod: (mod(idx) ** 2).sum(), x=m, kw=dict(mode="directional"))


@case("10b NumPy gradient given for torch x", {"passed", "raise"})
def _():
    x = torch.tensor([0.5, -1.0, 2.0], dtype=D)
    return dict(f=lambda x: (x ** 3).sum(), x=x, grad=3 * x.numpy() ** 2, kw=dict(mode="full"))


@case("10c nested list of tensors", "raise", msg=["nest", "list"])
def _():
    a = torch.randn(2, dtype=D); b = torch.randn(3, dtype=D); c = torch.randn(1, dtype=D)
    return dict(f=lambda ps: ps[0][0].sum() + ps[0][1].sum() + ps[1].sum(), x=[[a, b], c])


@case("10d seed=-1 with vector f", {"raise", "passed"}, nomsg=["Traceback"])
def _():
    return dict(f=lambda x: np.sin(x), x=np.array([0.1, 0.2, 0.3]), grad=lambda x: np.diag(np.cos(x)),
                kw=dict(seed=-1, mode="directional"))


@case("10e dict as x", "raise", nomsg=["<U", "dtype"])
def _():
    return dict(f=lambda d: d["w"].sum(), x={"w": torch.randn(3, dtype=D)})


@case("10f complex numpy x", "raise", msg=["complex"], nomsg=["integer"])
def _():
    return dict(f=lambda z: np.abs(z).sum(), x=np.array([1 + 2j, 3 - 1j]), grad=lambda z: z / np.abs(z))


@case("10g complex torch x", "raise", msg=["complex"], nomsg=["integer"])
def _():
    return dict(f=lambda z: z.abs().sum(), x=torch.tensor([1 + 2j, 3 - 1j]))


@case("10h complex TF variable", "raise", msg=["complex"], nomsg=["integer"])
def _():
    import tensorflow as tf
    return dict(f=lambda z: tf.reduce_sum(tf.abs(z)), x=tf.Variable(np.array([1 + 2j, 3 - 1j])))


@case("10i shape (1,) with grad returning python list [2*x0]", "passed")
def _():
    return dict(f=lambda x: x[0] ** 2, x=np.array([1.5]), grad=lambda x: [2 * x[0]], kw=dict(mode="full"))


@case("10j integer numpy x", "raise", msg=["integer", "int"])
def _():
    return dict(f=lambda x: float(np.sum(x ** 2)), x=np.arange(4), grad=lambda x: 2 * x)


@case("10k gradient of wrong shape", "raise", msg=["shape"])
def _():
    return dict(f=lambda x: np.sum(x ** 2), x=np.ones(4), grad=np.ones(5))


@case("10l f returns a string", "raise")
def _():
    return dict(f=lambda x: "loss", x=np.ones(3), grad=np.ones(3))


@case("10m mode='bogus'", "raise", msg=["mode"])
def _():
    return dict(f=lambda x: np.sum(x ** 2), x=np.ones(3), grad=lambda x: 2 * x, kw=dict(mode="bogus"))


@case("10n directions=0", "raise", msg=["direction"])
def _():
    return dict(f=lambda x: np.sum(x ** 2), x=np.ones(3), grad=lambda x: 2 * x, kw=dict(directions=0, mode="directional"))


@case("10o rtol=-1", "raise", msg=["rtol"])
def _():
    return dict(f=lambda x: np.sum(x ** 2), x=np.ones(3), grad=lambda x: 2 * x, kw=dict(rtol=-1.0))


@case("10p f returns None", "raise")
def _():
    return dict(f=lambda x: None, x=np.ones(3), grad=np.ones(3))


@case("10q grad function returns None", "raise")
def _():
    return dict(f=lambda x: np.sum(x), x=np.ones(3), grad=lambda x: None)


@case("10r x contains NaN", "raise", msg=["nan", "NaN"])
def _():
    return dict(f=lambda x: np.nansum(x), x=np.array([1.0, np.nan]), grad=np.ones(2))


@case("10s module with no trainable params", "raise")
def _():
    m = nn.Linear(2, 2).double(); m.requires_grad_(False)
    X = torch.randn(3, 2, dtype=D)
    return dict(f=lambda mod: mod(X).sum(), x=m)


@case("10t TF integer variable", "raise", msg=["int"])
def _():
    import tensorflow as tf
    return dict(f=lambda v: tf.reduce_sum(v * v), x=tf.Variable([1, 2, 3]))


@case("10u bool numpy x", "raise")
def _():
    return dict(f=lambda x: float(x.sum()), x=np.array([True, False]), grad=np.zeros(2))


@case("10v vector f, grad given with x's shape (not Jacobian)", "raise", msg=["shape", "Jacobian"])
def _():
    return dict(f=lambda x: np.sin(x), x=np.array([0.1, 0.2, 0.3]), grad=lambda x: np.cos(x))


@case("10w object-dtype numpy x", "raise")
def _():
    return dict(f=lambda x: 0.0, x=np.array([1.0, "a"], dtype=object), grad=np.zeros(2))


@case("10x torch sparse tensor x", "raise")
def _():
    x = torch.tensor([[0.0, 1.0], [2.0, 0.0]], dtype=D).to_sparse()
    return dict(f=lambda x: torch.sparse.sum(x * x), x=x)


@case("10y torch 0-d tensor x, autograd", "passed")
def _():
    return dict(f=lambda x: torch.sin(x) * x, x=torch.tensor(0.7, dtype=D))


@case("10z list of torch tensors with grad as tuple", "passed")
def _():
    a = torch.tensor([0.5, 1.5], dtype=D); b = torch.tensor([[-1.0]], dtype=D)
    return dict(f=lambda ps: (ps[0] ** 2).sum() * ps[1].sum(), x=[a, b],
                grad=lambda ps: (2 * ps[0] * ps[1].sum(), (ps[0] ** 2).sum().reshape(1, 1)), kw=dict(mode="full"))


@case("10A f returns shape-(1,) tensor, autograd", "passed")
def _():
    return dict(f=lambda x: (x ** 2).sum().reshape(1), x=torch.tensor([1.0, 2.0], dtype=D), kw=dict(mode="full"))


@case("10B f returns inf at x", {"raise", "inconclusive"})
def _():
    return dict(f=lambda x: np.sum(1.0 / x), x=np.array([0.0, 1.0]), grad=lambda x: -1 / x ** 2)


@case("10C empty numpy x", {"raise", "passed", "inconclusive"})
def _():
    return dict(f=lambda x: 0.0, x=np.zeros(0), grad=np.zeros(0))


@case("10D directions=2.5", "raise")
def _():
    return dict(f=lambda x: np.sum(x ** 2), x=np.ones(3), grad=lambda x: 2 * x, kw=dict(directions=2.5, mode="directional"))


@case("10E x is a python list of floats", {"raise", "passed"})
def _():
    return dict(f=lambda x: sum(v * v for v in x), x=[1.0, 2.0], grad=lambda x: [2 * v for v in x])


@case("10F unbuilt Keras model", "raise")
def _():
    import keras
    import tensorflow as tf
    m = keras.Sequential([keras.layers.Dense(2, dtype="float64")])
    X = tf.constant(np.ones((2, 3)))
    return dict(f=lambda mod: tf.reduce_sum(mod(X)), x=m)


@case("10G torch x on meta device", "raise")
def _():
    return dict(f=lambda x: (x ** 2).sum(), x=torch.ones(3, dtype=D, device="meta"))


@case("10H rungs=0", "raise", msg=["rung"])
def _():
    return dict(f=lambda x: np.sum(x ** 2), x=np.ones(3), grad=lambda x: 2 * x, kw=dict(rungs=0, mode="directional"))


@case("10I grad list length mismatch for list x", "raise")
def _():
    a = torch.ones(2, dtype=D); b = torch.ones(3, dtype=D)
    return dict(f=lambda ps: ps[0].sum() + ps[1].sum(), x=[a, b], grad=[torch.ones(2, dtype=D)])


@case("10J f returns python complex", "raise", msg=["complex"])
def _():
    return dict(f=lambda x: complex(np.sum(x), 1.0), x=np.ones(3), grad=np.ones(3))


@case("10K value='a' (string)", "raise")
def _():
    return dict(f=lambda x: np.sum(x ** 2), x=np.ones(3), grad=lambda x: 2 * x, kw=dict(value="a"))


@case("10L rtol=nan", "raise", msg=["rtol"])
def _():
    return dict(f=lambda x: np.sum(x ** 2), x=np.ones(3), grad=lambda x: 2 * x, kw=dict(rtol=float("nan")))


@case("10M rtol='a'", "raise", msg=["rtol"])
def _():
    return dict(f=lambda x: np.sum(x ** 2), x=np.ones(3), grad=lambda x: 2 * x, kw=dict(rtol="a"))


@case("10N list of NumPy arrays as x", {"raise", "passed"})
def _():
    return dict(f=lambda ps: np.sum(ps[0] ** 2) + np.sum(ps[1]), x=[np.ones(2), np.ones(3)],
                grad=lambda ps: [2 * ps[0], np.ones(3)], kw=dict(mode="full"))


@case("10O torch inference-mode tensor as x", {"raise", "passed"})
def _():
    with torch.inference_mode():
        x = torch.tensor([0.3, 0.4], dtype=D)
    return dict(f=lambda x: (x ** 3).sum(), x=x, grad=lambda x: 3 * x ** 2, kw=dict(mode="full"))


@case("10P TF bfloat16 variable, sign flip (bf16 is real)", {"failed", "inconclusive"}, nomsg=["real number"])
def _():
    import tensorflow as tf
    v = tf.Variable([0.3, 0.6], dtype=tf.bfloat16)
    return dict(f=lambda v: tf.reduce_sum(v * v), x=v, grad=lambda v: -2 * v, kw=dict(mode="full"))


@case("10Q torch bfloat16 tensor, sign flip", {"failed", "inconclusive"})
def _():
    x = torch.tensor([0.3, 0.6, -1.0], dtype=torch.bfloat16)
    return dict(f=lambda x: (x * x).sum(), x=x, grad=lambda x: -2 * x, kw=dict(mode="full"))


# =====================================================================
# 11. small tensor with small error, over seeds
# =====================================================================
def _eleven(seed, kind, frac=0.01):
    torch.manual_seed(100 + seed)
    A = torch.randn(200, dtype=D); B = torch.randn(10, dtype=D)
    cA = torch.ones(200, dtype=D)
    # scale B's coefficient so ||g_B|| = 1% of ||g||
    gA = cA * A
    cB = torch.ones(10, dtype=D)
    nB = (cB * B).norm(); target = frac * gA.norm() / (1 - frac ** 2) ** 0.5
    cB = cB * (target / nB)
    f = lambda ps: 0.5 * (cA * ps[0] ** 2).sum() + 0.5 * (cB * ps[1] ** 2).sum()
    gB = cB * B
    if kind == "scale":
        gB_wrong = gB * (1 + 1e-6)
    else:
        e = torch.randn(10, dtype=D, generator=torch.Generator().manual_seed(seed))
        gB_wrong = gB + 1e-6 * gB.norm() * e / e.norm()
    return f, [A, B], [gA.clone(), gB_wrong]


def _eleven_runner(kind, frac=0.01):
    def run():
        misses = []
        for s in range(30):
            f, x, g = _eleven(s, kind, frac)
            r = check_grad(f, x, g, seed=s)
            if r.verdict != "failed":
                misses.append((s, r.verdict, r.summary))
        return misses
    return run


@case("11a tensor with 1% of gradient, x(1+1e-6) error, 30 seeds default directions", "custom")
def _():
    return dict(custom=_eleven_runner("scale"))


@case("11b tensor with 1% of gradient, random 1e-6 rel. error, 30 seeds", "custom")
def _():
    return dict(custom=_eleven_runner("rand"))


@case("11c tensor with 1% of |g|^2 (10% of |g|), x(1+1e-6) error, 30 seeds", "custom")
def _():
    return dict(custom=_eleven_runner("scale", 0.1))


# =====================================================================
# M. everyday float64 models with planted bugs
# =====================================================================
def _mlp():
    torch.manual_seed(50)
    m = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
    X = torch.randn(16, 5, dtype=D); Y = torch.randn(16, 3, dtype=D)
    return m, (lambda mod: ((mod(X) - Y) ** 2).mean())


@case("M1 MLP right, auto", "passed")
def _():
    m, f = _mlp(); return dict(f=f, x=m)


@case("M2 MLP sign of one row of W1 flipped, auto", "failed")
def _():
    m, f = _mlp(); g = agrad(f, m); g[0][3] = -g[0][3]; return dict(f=f, x=m, grad=g)


@case("M3 MLP mean vs sum (grad of sum), auto", "failed")
def _():
    m, f = _mlp()
    return dict(f=f, x=m, grad=[t * 48 for t in agrad(f, m)])


def _square_lin():
    torch.manual_seed(51)
    m = nn.Sequential(nn.Linear(4, 4), nn.Softplus(), nn.Linear(4, 1)).double()
    X = torch.randn(10, 4, dtype=D)
    return m, (lambda mod: (mod(X) ** 2).sum())


@case("M4 W vs W^T on square layer, directional", "failed")
def _():
    m, f = _square_lin(); g = agrad(f, m); g[0] = g[0].T.clone(); return dict(f=f, x=m, grad=g, kw=dict(mode="directional"))


def _conv():
    torch.manual_seed(52)
    m = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 1, 3)).double()
    X = torch.randn(2, 2, 6, 6, dtype=D); T = torch.randn(2, 1, 4, 4, dtype=D)
    return m, (lambda mod: F.smooth_l1_loss(mod(X), T))


@case("M5 conv right, auto", "passed")
def _():
    m, f = _conv(); return dict(f=f, x=m)


@case("M6 conv kernel grad spatially flipped, auto", "failed")
def _():
    m, f = _conv(); g = agrad(f, m); g[0] = g[0].flip(-1, -2).clone(); return dict(f=f, x=m, grad=g)


def _lnmodel():
    torch.manual_seed(53)
    m = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 2)).double()
    X = torch.randn(9, 6, dtype=D); Y = torch.randn(9, 2, dtype=D)
    return m, (lambda mod: ((mod(X) - Y) ** 2).sum())


@case("M7 LayerNorm model right, auto", "passed")
def _():
    m, f = _lnmodel(); return dict(f=f, x=m)


@case("M8 LayerNorm model missing factor 2 (whole grad halved)", "failed")
def _():
    m, f = _lnmodel(); return dict(f=f, x=m, grad=[g / 2 for g in agrad(f, m)])


@case("M9 LayerNorm model off-by-one bias (LN beta grad rolled)", "failed")
def _():
    m, f = _lnmodel(); g = agrad(f, m); g[3] = torch.roll(g[3], 1); return dict(f=f, x=m, grad=g)


def _bn():
    torch.manual_seed(54)
    m = nn.Sequential(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4), nn.ReLU(), nn.Flatten(), nn.Linear(16, 1)).double()
    m[1].running_mean.uniform_(-.5, .5); m[1].running_var.uniform_(.5, 2); m.eval()
    X = torch.randn(5, 3, 6, dtype=D)
    return m, (lambda mod: torch.log1p(mod(X) ** 2).sum())


@case("M10 BatchNorm eval right, auto", "passed")
def _():
    m, f = _bn(); return dict(f=f, x=m)


@case("M11 BatchNorm eval, BN bias grad sign flipped", "failed")
def _():
    m, f = _bn(); g = agrad(f, m); g[3] = -g[3]; return dict(f=f, x=m, grad=g)


def _emb():
    torch.manual_seed(55)
    m = nn.Sequential(nn.Embedding(20, 4), nn.Flatten(), nn.Linear(12, 1)).double()
    idx = torch.tensor([[1, 3, 3], [7, 0, 19], [3, 5, 6]])
    return m, (lambda mod: (mod(idx) - 1).pow(2).sum())


@case("M12 Embedding right, auto", "passed")
def _():
    m, f = _emb(); return dict(f=f, x=m)


@case("M13 Embedding row grad off-by-one (rows rolled)", "failed")
def _():
    m, f = _emb(); g = agrad(f, m); g[0] = torch.roll(g[0], 1, 0); return dict(f=f, x=m, grad=g)


def _gru():
    torch.manual_seed(56)
    m = nn.GRU(3, 4, batch_first=True).double()
    X = torch.randn(2, 5, 3, dtype=D)
    return m, (lambda mod: mod(X)[0].pow(2).sum())


@case("M14 GRU right, auto", "passed")
def _():
    m, f = _gru(); return dict(f=f, x=m)


@case("M15 GRU one row of weight_hh sign flipped", "failed")
def _():
    m, f = _gru(); g = agrad(f, m); g[1][5] = -g[1][5]; return dict(f=f, x=m, grad=g)


def _attn():
    torch.manual_seed(57)
    m = nn.MultiheadAttention(8, 2, batch_first=True).double()
    Q = torch.randn(2, 4, 8, dtype=D)
    return m, (lambda mod: mod(Q, Q, Q, need_weights=False)[0].tanh().sum())


@case("M16 attention right, auto", "passed")
def _():
    m, f = _attn(); return dict(f=f, x=m)


@case("M17 attention in_proj_bias grad off by 1e-4 in one entry", "failed")
def _():
    m, f = _attn(); g = agrad(f, m); g[1][2] += 1e-4; return dict(f=f, x=m, grad=g)


def _keras_dense():
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(58)
    m = keras.Sequential([keras.Input((4,), dtype="float64"), keras.layers.Dense(5, activation="tanh", dtype="float64"),
                          keras.layers.Dense(2, dtype="float64")])
    X = tf.constant(rs(58).normal(size=(7, 4))); Y = tf.constant(rs(59).normal(size=(7, 2)))
    return m, (lambda mod: tf.reduce_mean((mod(X) - Y) ** 2))


@case("M18 Keras Dense right, auto", "passed")
def _():
    m, f = _keras_dense(); return dict(f=f, x=m)


@case("M19 Keras Dense mean vs sum (x14)", "failed")
def _():
    m, f = _keras_dense(); return dict(f=f, x=m, grad=[g * 14 for g in tfgrad(f, m)])


@case("M20 Keras Conv1D one kernel element sign flipped", "failed")
def _():
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(60)
    m = keras.Sequential([keras.Input((6, 2), dtype="float64"), keras.layers.Conv1D(3, 3, activation="softplus", dtype="float64"),
                          keras.layers.GlobalAveragePooling1D(dtype="float64")])
    X = tf.constant(rs(60).normal(size=(4, 6, 2)))
    f = lambda mod: tf.reduce_sum(mod(X) ** 2)
    g = tfgrad(f, m); gk = g[0].numpy(); gk[1, 0, 2] *= -1; g[0] = tf.constant(gk)
    return dict(f=f, x=m, grad=g)


@case("M21 numpy logistic regression missing sigmoid derivative? (y-p vs p-y sign)", "failed")
def _():
    r = rs(61); X = r.normal(size=(50, 6)); y = (r.random(50) < 0.5).astype(float)
    def f(w):
        z = X @ w; return np.sum(np.logaddexp(0, z) - y * z)
    def g(w):
        p = 1 / (1 + np.exp(-X @ w)); return X.T @ (y - p)
    return dict(f=f, x=r.normal(size=6), grad=g)


@case("M22 numpy logistic regression right", "passed")
def _():
    r = rs(61); X = r.normal(size=(50, 6)); y = (r.random(50) < 0.5).astype(float)
    def f(w):
        z = X @ w; return np.sum(np.logaddexp(0, z) - y * z)
    def g(w):
        p = 1 / (1 + np.exp(-X @ w)); return X.T @ (p - y)
    return dict(f=f, x=r.normal(size=6), grad=g)


class _BadCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x); return x ** 3

    @staticmethod
    def backward(ctx, go):
        (x,) = ctx.saved_tensors
        g = 3 * x ** 2 * go
        g = g.clone(); g[-1] = g[-1] + 3e-5
        return g


@case("M23 custom Function failing torch gradcheck (3e-5 abs error, N=300), auto", "failed")
def _():
    torch.manual_seed(62); x = torch.randn(300, dtype=D) * 0.5
    c = torch.rand(300, dtype=D)
    f = lambda x: (c * _BadCube.apply(x)).sum()
    xx = x.clone().requires_grad_()
    assert not torch.autograd.gradcheck(f, (xx,), raise_exception=False)
    return dict(f=f, x=x)


@case("M24 vector f Jacobian one entry wrong (gradcheck fails), directional", "failed")
def _():
    torch.manual_seed(63); A = torch.randn(8, 30, dtype=D)
    f = lambda x: torch.tanh(A @ x)
    def J(x):
        Jm = (1 - torch.tanh(A @ x) ** 2)[:, None] * A
        Jm = Jm.clone(); Jm[3, 7] += 1e-3; return Jm
    x = torch.randn(30, dtype=D) * 0.2
    return dict(f=f, x=x, grad=J, kw=dict(mode="directional"))


@case("M25 vector f right Jacobian (autograd), directional", "passed")
def _():
    torch.manual_seed(63); A = torch.randn(8, 30, dtype=D)
    return dict(f=lambda x: torch.tanh(A @ x), x=torch.randn(30, dtype=D) * 0.2, kw=dict(mode="directional"))


@case("M26 vector f Jacobian transposed-ish (square, J^T), full", "failed")
def _():
    A = rs(64).normal(size=(4, 4))
    return dict(f=lambda x: np.sin(A @ x), x=rs(65).normal(size=4),
                grad=lambda x: (np.cos(A @ x)[:, None] * A).T, kw=dict(mode="full"))


@case("M27 [contested: blind spot vs gradcheck clause] tiny-entry error, gradcheck fails, auto", {"failed", "inconclusive"})
def _():
    torch.manual_seed(66); x = torch.rand(400, dtype=D) + 0.5
    c = torch.full((400,), 1e4, dtype=D); c[-1] = 1e-3
    f = lambda x: 0.5 * (c * x ** 2).sum()
    def g(x):
        out = c * x; out = out.clone(); out[-1] += 1e-3; return out
    class Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x); return f(x)
        @staticmethod
        def backward(ctx, go):
            return go * g(ctx.saved_tensors[0])
    assert not torch.autograd.gradcheck(Fn.apply, (x.clone().requires_grad_(),), raise_exception=False)
    return dict(f=f, x=x, grad=g)


# ---------------------------------------------------------------- runner
def run_case(name, expect, msg, nomsg, fn):
    t0 = time.time()
    try:
        spec = fn()
    except Exception:
        return dict(ok=False, got="SETUP-ERROR", detail=traceback.format_exc(limit=3), t=time.time() - t0)
    if "custom" in spec:
        try:
            misses = spec["custom"]()
        except Exception as e:
            return dict(ok=False, got="RAW " + type(e).__name__, detail=traceback.format_exc(limit=4), t=time.time() - t0)
        return dict(ok=not misses, got=f"{30-len(misses)}/30 failed", detail="\n".join(map(str, misses)), t=time.time() - t0)
    f, x = spec["f"], spec["x"]
    before = snap(x); extra = spec.get("extra_snap"); eb = snap(extra) if extra is not None else None
    args = (f, x) if "grad" not in spec else (f, x, spec["grad"])
    text = ""
    try:
        r = check_grad(*args, **spec.get("kw", {}))
        got = r.verdict; text = r.summary + "\n" + str(r)
        detail = f"summary: {r.summary}"
    except GradCheckError as e:
        got = "raise"; text = str(e); detail = f"GradCheckError: {e}"
    except Exception as e:
        got = "RAW " + type(e).__name__; detail = traceback.format_exc(limit=6)
    problems = []
    if got not in expect:
        problems.append(f"verdict {got!r}, expected {sorted(expect)}")
    if msg and got in expect and not any(m.lower() in text.lower() for m in msg):
        problems.append(f"message lacks any of {msg}")
    if nomsg and any(m in text for m in nomsg):
        problems.append(f"message contains one of {nomsg}")
    try:
        after = snap(x)
    except Exception as e:
        after = ("snap-error", repr(e))
    if after != before:
        problems.append("x CHANGED after check_grad")
    if extra is not None and snap(extra) != eb:
        problems.append("base array CHANGED")
    return dict(ok=not problems, got=got, detail=detail, problems=problems, t=time.time() - t0)
