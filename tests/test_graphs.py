import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helpers

# The composition of chapters 3 and 4: f(u, v); u, v of (a, b); a, b of (w, x, y, z).
CHAIN_EDGES = ([(i, n) for n in "ab" for i in "wxyz"] + [(n, m) for m in "uv" for n in "ab"]
               + [("u", "f"), ("v", "f")])


def layered(depth: int, width: int):
    """Input -> depth fully connected layers of `width` nodes -> output."""
    layers = [["in"]] + [[f"h{d}_{i}" for i in range(width)] for d in range(depth)] + [["out"]]
    edges = [(p, c) for upper, lower in itertools.pairwise(layers)
             for p in upper for c in lower]
    return layers, edges


def test_the_chain_rule_example_has_four_paths_from_each_input():
    for source in "wxyz":
        assert helpers.count_paths(CHAIN_EDGES, source, "f") == 4
    assert helpers.enumerate_paths(CHAIN_EDGES, "w", "f") == [
        ["w", "a", "u", "f"], ["w", "a", "v", "f"], ["w", "b", "u", "f"], ["w", "b", "v", "f"]]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3))
def test_path_count_is_width_to_the_depth(depth, width):
    _, edges = layered(depth, width)
    assert helpers.count_paths(edges, "in", "out") == width**depth
    assert len(helpers.enumerate_paths(edges, "in", "out")) == width**depth


def test_deep_chain_counts_without_recursion():
    edges = [(f"n{i}", f"n{i + 1}") for i in range(20_000)]
    assert helpers.count_paths(edges, "n0", "n20000") == 1
    assert len(helpers.enumerate_paths(edges, "n0", "n20000")[0]) == 20_001


def test_topological_order_puts_parents_first_and_rejects_cycles():
    order = helpers.topological_order(CHAIN_EDGES)
    for parent, child in CHAIN_EDGES:
        assert order.index(parent) < order.index(child)
    with pytest.raises(ValueError, match="cycle"):
        helpers.topological_order([("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match="not a node"):
        helpers.count_paths(CHAIN_EDGES, "q", "f")


def test_plot_graph_draws_every_node_and_edge():
    layers = [list("wxyz"), list("ab"), list("uv"), ["f"]]
    ax = helpers.plot_graph(layers, CHAIN_EDGES, labels={"f": "f\n1024"},
                            edge_labels={("u", "f"): "64"}, highlight=[("w", "a")])
    texts = [t.get_text() for t in ax.texts]
    assert {"w", "x", "y", "z", "a", "b", "u", "v", "f\n1024", "64"} <= set(texts)
    assert len([t for t in ax.texts if getattr(t, "arrow_patch", None)]) == len(CHAIN_EDGES)
    with pytest.raises(ValueError, match="in no layer"):
        helpers.plot_graph([["w"]], [("w", "q")])
