import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import helpers
from helpers import Value

torch = pytest.importorskip("torch")

# Unary operations on a node and the matching torch function, restricted to safe inputs.
UNARY = {
    "exp": (lambda v: v.exp(), torch.exp),
    "tanh": (lambda v: v.tanh(), torch.tanh),
    "sigmoid": (lambda v: v.sigmoid(), torch.sigmoid),
    "sin": (lambda v: v.sin(), torch.sin),
    "cos": (lambda v: v.cos(), torch.cos),
    "square": (lambda v: v**2, lambda t: t**2),
    "neg": (lambda v: -v, lambda t: -t),
}
BINARY = {
    "+": (lambda a, b: a + b, lambda a, b: a + b),
    "-": (lambda a, b: a - b, lambda a, b: a - b),
    "*": (lambda a, b: a * b, lambda a, b: a * b),
}


@st.composite
def expression_graphs(draw):
    """A random program: leaves, then operations on any earlier nodes (so nodes get reused)."""
    n_leaves = draw(st.integers(1, 4))
    leaves = draw(st.lists(st.floats(-1.5, 1.5), min_size=n_leaves, max_size=n_leaves))
    steps = []
    for k in range(draw(st.integers(1, 25))):
        available = n_leaves + k
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))),
                          draw(st.integers(0, available - 1))))
        else:
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))),
                          draw(st.integers(0, available - 1)),
                          draw(st.integers(0, available - 1))))
    return leaves, steps


def run(program, leaves, unary_index, binary_index):
    nodes = list(leaves)
    for step in program:
        if step[0] == "u":
            nodes.append(UNARY[step[1]][unary_index](nodes[step[2]]))
        else:
            nodes.append(BINARY[step[1]][binary_index](nodes[step[2]], nodes[step[3]]))
    # Sum the last few nodes so that several branches reach the output.
    out = nodes[-1]
    for node in nodes[-3:-1]:
        out = out + node
    return out


@settings(max_examples=150, deadline=None)
@given(expression_graphs())
def test_engine_matches_pytorch_on_random_graphs(graph):
    leaves, program = graph
    values = [Value(x) for x in leaves]
    try:
        out = run(program, values, 0, 0)
    except OverflowError:
        assume(False)  # a graph whose values leave float64 tells nothing about gradients
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
    out_t = run(program, tensors, 1, 1)
    if not math.isfinite(out.data) or abs(out.data) > 1e100:
        return
    out.backward()
    grads_t = torch.autograd.grad(out_t, tensors, allow_unused=True)
    assert out.data == pytest.approx(out_t.item(), rel=1e-12, abs=1e-12)
    for v, g in zip(values, grads_t, strict=True):
        expected = 0.0 if g is None else g.item()
        assert v.grad == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_reused_node_gets_the_sum_of_its_gradients():
    x = Value(3.0)
    f = x * x + x  # df/dx = 2x + 1
    f.backward()
    assert x.grad == 7.0


def test_deep_chain_has_no_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**10_000, rel=1e-9)
    assert len(y.topological_order()) > 30_000


def test_backward_twice_gives_the_same_gradients():
    x, y = Value(2.0), Value(-1.0)
    f = (x * y).tanh() + x.exp()
    f.backward()
    first = (x.grad, y.grad)
    f.backward()
    assert (x.grad, y.grad) == first


def test_composition_of_the_book_gives_minus_4096():
    w, x, y, z = (Value(v) for v in (-1.0, 0.0, -2.0, 1.0))
    a, b = (w + x + y + z) ** 2, (w + x - y - z) ** 2
    f = ((a + b) ** 2 + (a - b) ** 2) ** 2
    f.backward()
    assert f.data == 1024.0
    assert [v.grad for v in (w, x, y, z)] == [-4096.0] * 4


def test_division_relu_and_log():
    x, y = Value(2.0), Value(4.0)
    f = (x / y).log() + (1 - x).relu() + 2 / y
    f.backward()  # d/dx log(x/y) = 1/x; relu(1 - 2) = 0 has slope 0; d/dy: -1/y - 2/y^2
    assert x.grad == pytest.approx(0.5)
    assert y.grad == pytest.approx(-0.25 - 2 / 16)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Value("3"), TypeError, "real number"),
        (lambda: Value(np.array([1.0, 2.0])), TypeError, "real number"),
        (lambda: Value(Value(1.0)), TypeError, "use the Value itself"),
        (lambda: Value(2.0) ** Value(2.0), TypeError, "constant exponents"),
        (lambda: Value(-1.0).log(), ValueError, "non-positive"),
        (lambda: Value(800.0).exp(), OverflowError, "too large"),
        (lambda: Value(1.0, parents=(Value(1.0),)), ValueError, "local derivative"),
    ],
)
def test_bad_input(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_plot_value_graph_labels_values_and_gradients():
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    g = (x * y + x.exp()).named("g")
    g.backward()
    ax = helpers.plot_value_graph(g)
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("x\n2\ngrad 10.39") for t in texts)
    assert any(t.startswith("g\n13.39\ngrad 1") for t in texts)
    assert repr(g) == "Value(g=13.3891, grad=1)"
