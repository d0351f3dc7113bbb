"""helpers.check_grad on the inputs real code hands it: scaled losses, odd containers, frozen
tensors, Keras 3 variables, low precision, functions that fail half-way. Each is either
checked correctly or refused with a GradCheckError that says what to pass instead, and the
parameters are left exactly as they were, whatever happened."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import GradCheckError, check_grad

torch = pytest.importorskip("torch")


def tanh_net(params):
    W, b = params
    x = torch.linspace(-1, 1, 12, dtype=torch.float64, device=W.device).reshape(4, 3)
    return torch.tanh(x @ W + b).square().sum()


def tanh_params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 5, dtype=torch.float64, generator=g),
            torch.randn(5, dtype=torch.float64, generator=g)]


def autograd(f, params):
    params = [p.detach().clone().requires_grad_(True) for p in params]
    return list(torch.autograd.grad(f(params), params))


@pytest.mark.parametrize("exponent", [-12, -8, -4, 0, 4, 8])
@pytest.mark.parametrize("gradient", ["right", "doubled", "sign"])
def test_full_mode_verdict_does_not_depend_on_the_scale_of_f(exponent, gradient):
    full_mode_verdict_at_scale(exponent, gradient)


@settings(max_examples=12, deadline=None)
@given(st.integers(-12, 8), st.sampled_from(["right", "doubled", "sign"]))
def test_full_mode_verdict_does_not_depend_on_the_scale_of_f_anywhere(exponent, gradient):
    full_mode_verdict_at_scale(exponent, gradient)


def full_mode_verdict_at_scale(exponent, gradient):
    params, scale = tanh_params(), 10.0**exponent

    def f(p):
        return scale * tanh_net(p)

    grads = autograd(f, params)
    if gradient == "doubled":
        grads = [2 * g for g in grads]
    elif gradient == "sign":
        grads[1] = -grads[1]
    report = check_grad(f, params, grads, mode="full")
    assert report.verdict == ("passed" if gradient == "right" else "failed"), str(report)


def test_the_same_tensor_twice_is_refused():
    W, b = tanh_params()
    with pytest.raises(GradCheckError, match="tensor 2 is tensor 0"):
        check_grad(lambda p: tanh_net(p[:2]), [W, b, W])


def test_named_parameters_are_refused_with_what_to_pass():
    model = torch.nn.Linear(3, 2).double()
    with pytest.raises(GradCheckError, match=r"list\(model.parameters\(\)\)"):
        check_grad(lambda p: model(torch.ones(1, 3, dtype=torch.float64)).sum(),
                   model.named_parameters())


def test_a_gradient_of_none_is_refused_with_what_to_pass():
    params = tanh_params()
    grads = autograd(tanh_net, params)
    grads[1] = None
    with pytest.raises(GradCheckError, match="gradient of tensor 1 is None"):
        check_grad(tanh_net, params, grads)


def softmax_and_jacobian(x):
    """A vector-valued f with a known Jacobian: softmax(x), J = diag(p) - p p^T."""
    p = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    return p, np.diag(p) - np.outer(p, p)


@pytest.mark.parametrize(("n", "mode"), [(5, "full"), (5, "directional"), (3000, "auto")])
def test_a_vector_valued_torch_f_has_its_jacobian_checked(n, mode):
    x = torch.linspace(-1, 1, n, dtype=torch.float64)
    right = check_grad(lambda v: torch.softmax(v, 0)[:4], x, mode=mode)  # autograd's Jacobian
    assert right.verdict == "passed", str(right)
    jacobian = torch.as_tensor(softmax_and_jacobian(x.numpy())[1][:4])
    assert check_grad(lambda v: torch.softmax(v, 0)[:4], x, jacobian, mode=mode).passed
    wrong = check_grad(lambda v: torch.softmax(v, 0)[:4], x, 2 * jacobian, mode=mode)
    assert wrong.verdict == "failed"
    if mode == "full":
        assert "Jacobian entries" in wrong.summary
    else:
        assert "u^T J" in right.summary


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_a_vector_valued_numpy_and_tensorflow_f_has_its_jacobian_checked(tf, mode):
    x = np.linspace(-1, 1, 6)
    _, jacobian = softmax_and_jacobian(x)
    softmax = lambda v: softmax_and_jacobian(v)[0]  # noqa: E731
    assert check_grad(softmax, x, jacobian, mode=mode).verdict == "passed"
    assert check_grad(softmax, x, jacobian.T + 0.1, mode=mode).verdict == "failed"
    variable = tf.Variable(x)
    report = check_grad(lambda v: tf.nn.softmax(v), variable, mode=mode)
    assert report.verdict == "passed", str(report)
    wrong = check_grad(lambda v: tf.nn.softmax(v), variable, 2 * jacobian, mode=mode)
    assert wrong.verdict == "failed"
    np.testing.assert_array_equal(variable.numpy(), x)


def test_a_torch_module_is_checked_through_its_trainable_parameters():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                                torch.nn.Linear(4, 1)).double()
    model[0].bias.requires_grad_(False)  # a frozen tensor is left out
    inputs = torch.randn(8, 3, dtype=torch.float64)
    report = check_grad(lambda m: m(inputs).square().mean(), model)
    assert report.verdict == "passed" and report.size == 12 + 4 + 1


def test_a_keras_model_is_checked_through_its_trainable_variables(tf):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="tanh",
                                                                     dtype="float64")])
    inputs = tf.constant(np.linspace(-1, 1, 8).reshape(4, 2))
    report = check_grad(lambda m: tf.reduce_sum(m(inputs) ** 2), model)
    assert report.verdict == "passed" and report.size == 9, str(report)


def test_meta_tensors_are_refused():
    with pytest.raises(GradCheckError, match="meta device"):
        check_grad(lambda p: p.sum(), torch.zeros(3, device="meta"))


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["full", "directional"])
def test_bfloat16_is_judged_not_a_traceback(mode, device):
    x = torch.linspace(-1, 1, 6, dtype=torch.bfloat16, device=device)
    report = check_grad(lambda v: (v.float() ** 2).sum(), x, 2 * x, mode=mode)
    assert report.verdict in ("passed", "inconclusive"), str(report)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["full", "directional"])
@pytest.mark.parametrize("failure", ["raises", "nan"])
def test_parameters_are_restored_bit_for_bit_when_f_fails_half_way(mode, failure, device):
    params = [p.to(device) for p in tanh_params()]
    before = [p.clone() for p in params]
    grads = autograd(tanh_net, params)
    calls = {"n": 0}

    def f(p):
        calls["n"] += 1
        if calls["n"] > 1:  # fine at x, then fails at a perturbed point
            if failure == "raises":
                raise RuntimeError("the data loader broke")
            return tanh_net(p) * float("nan")
        return tanh_net(p)

    with pytest.raises((RuntimeError, GradCheckError)):
        check_grad(f, params, grads, mode=mode)
    assert all(torch.equal(p, q) for p, q in zip(params, before, strict=True))


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_dropout_left_on_is_named_as_randomness_not_as_a_wrong_gradient(mode):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5),
                                torch.nn.Linear(8, 1)).double()
    x = torch.randn(16, 4, dtype=torch.float64)
    report = check_grad(lambda _: model(x).square().mean(), list(model.parameters()),
                        mode=mode)
    assert report.verdict == "inconclusive" and "not deterministic" in report.summary
    assert "model.eval()" in report.summary
    model.eval()
    assert check_grad(lambda _: model(x).square().mean(), list(model.parameters()),
                      mode=mode).verdict == "passed"


# ---------------------------------------------------------------- TensorFlow
@pytest.fixture(scope="module")
def tf():
    pytest.importorskip("tensorflow")
    from helpers import import_tensorflow_quietly

    return import_tensorflow_quietly()


def test_tensorflow_f_returning_a_python_float_is_named(tf):
    v = tf.Variable([1.0, 2.0], dtype=tf.float64)
    with pytest.raises(GradCheckError, match="Python float"):
        check_grad(lambda x: float(tf.reduce_sum(x**2)), v)


def test_tensorflow_duplicates_are_refused(tf):
    v = tf.Variable([1.0, 2.0], dtype=tf.float64)
    with pytest.raises(GradCheckError, match="tensor 1 is tensor 0"):
        check_grad(lambda p: tf.reduce_sum(p[0] ** 2), [v, v])


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_tensorflow_variables_restored_when_f_raises(tf, mode):
    v = tf.Variable(np.linspace(-1, 1, 5), dtype=tf.float64)
    before = v.numpy().copy()
    calls = {"n": 0}

    def f(x):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("broke")
        return tf.reduce_sum(tf.sin(x))

    with pytest.raises(RuntimeError):
        check_grad(f, v, tf.cos(v), mode=mode)
    assert np.array_equal(v.numpy(), before)


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_keras_3_variables_are_checked(tf, mode):
    import keras

    layer = keras.layers.Dense(3, activation="tanh", dtype="float64")
    inputs = tf.constant(np.linspace(-1, 1, 8).reshape(4, 2))
    layer(inputs)  # builds the kernel and bias

    def loss(_variables):
        return tf.reduce_sum(layer(inputs) ** 2)

    before = [w.numpy().copy() for w in layer.trainable_variables]
    report = check_grad(loss, layer.trainable_variables, mode=mode)
    assert report.verdict == "passed", str(report)
    assert all(np.array_equal(w.numpy(), b)
               for w, b in zip(layer.trainable_variables, before, strict=True))


def test_the_interface_imports_no_framework_backend():
    """backend.py is what every backend implements; choosing one is choose.py's job alone,
    so the modules import each other in one direction: no circle."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "helpers" / "gradcheck"
    backends = {"numpy_backend", "torch_backend", "torch_fast", "tensorflow_backend", "choose"}

    def imports(name: str) -> set[str]:
        tree = ast.parse((package / f"{name}.py").read_text())
        return {node.module.rsplit(".", 1)[-1] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}

    assert not imports("backend") & backends, imports("backend") & backends
    for name in backends - {"choose"}:  # a backend never imports the choice of backends
        assert "choose" not in imports(name), name
