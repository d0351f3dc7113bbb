"""Computational graphs: drawing them, and counting the chain rule's paths through them.

A graph is given as ``edges``, pairs ``(parent, child)`` meaning "child is computed from
parent", between node names. Drawing uses matplotlib alone (no Graphviz binary to install).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from helpers.plotting import _pyplot

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["count_paths", "enumerate_paths", "plot_graph", "topological_order"]

Edge = tuple[str, str]


def topological_order(edges: Iterable[Edge]) -> list[str]:
    """Order the nodes so that every parent comes before its children (Kahn's algorithm).

    >>> topological_order([("a", "c"), ("b", "c"), ("c", "d")])
    ['a', 'b', 'c', 'd']
    """
    edges = list(edges)
    children: dict[str, list[str]] = defaultdict(list)
    indegree: dict[str, int] = {}
    for parent, child in edges:
        children[parent].append(child)
        indegree.setdefault(parent, 0)
        indegree[child] = indegree.get(child, 0) + 1
    ready = [node for node, d in indegree.items() if d == 0]
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != len(indegree):
        raise ValueError("the graph has a cycle; a computation graph must be acyclic")
    return order


def count_paths(edges: Iterable[Edge], source: str, target: str) -> int:
    """Number of directed paths from ``source`` to ``target``, in one pass over the graph.

    This is the number of product terms in the fully expanded chain rule for
    d target / d source. It is computed by summing path counts over the parents of each
    node, the same reuse of intermediate results that backpropagation makes.

    >>> count_paths([("w", "a"), ("w", "b"), ("a", "f"), ("b", "f")], "w", "f")
    2
    """
    edges = list(edges)
    parents: dict[str, list[str]] = defaultdict(list)
    for parent, child in edges:
        parents[child].append(parent)
    order = topological_order(edges)
    if source not in order or target not in order:
        raise ValueError(f"{source!r} or {target!r} is not a node of the graph")
    paths = dict.fromkeys(order, 0)
    paths[source] = 1
    for node in order:
        if node != source:
            paths[node] = sum(paths[p] for p in parents[node])
    return paths[target]


def enumerate_paths(edges: Iterable[Edge], source: str, target: str) -> list[list[str]]:
    """Every directed path from ``source`` to ``target``, each as a list of nodes.

    Its length grows exponentially with depth; use it to show small expansions only.

    >>> enumerate_paths([("w", "a"), ("w", "b"), ("a", "f"), ("b", "f")], "w", "f")
    [['w', 'a', 'f'], ['w', 'b', 'f']]
    """
    children: dict[str, list[str]] = defaultdict(list)
    for parent, child in edges:
        children[parent].append(child)
    found, stack = [], [[source]]
    while stack:  # iterative depth-first search: no recursion limit on deep graphs
        path = stack.pop()
        if path[-1] == target:
            found.append(path)
            continue
        stack.extend([*path, child] for child in reversed(children[path[-1]]))
    return found


def plot_graph(
    layers: Sequence[Sequence[str]],
    edges: Iterable[Edge],
    labels: Mapping[str, str] | None = None,
    edge_labels: Mapping[Edge, str] | None = None,
    ax: Axes | None = None,
    highlight: Iterable[Edge] = (),
) -> Axes:
    """Draw a layered graph from left to right: ``layers[0]`` on the left.

    ``labels`` replaces a node's name inside its circle (e.g. with its value and gradient),
    ``edge_labels`` writes text on edges (e.g. local derivatives), and the edges in
    ``highlight`` are drawn thick and red (e.g. one path of the chain rule).
    """
    labels = labels or {}
    edge_labels = edge_labels or {}
    highlight = set(highlight)
    position = {}
    for i, layer in enumerate(layers):
        for j, node in enumerate(layer):
            position[node] = (float(i), (len(layer) - 1) / 2 - j)
    edges = list(edges)
    missing = {n for e in edges for n in e} - position.keys()
    if missing:
        raise ValueError(f"nodes {sorted(missing)} are in edges but in no layer")
    if ax is None:
        # at most 6.5 inches wide: shrunk to a phone's column, text stays legible
        ax = _pyplot().figure(figsize=(min(6.5, 1.6 * len(layers) + 0.6), 3.6)).add_subplot()
    for parent, child in edges:
        (x0, y0), (x1, y1) = position[parent], position[child]
        hot = (parent, child) in highlight
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "shrinkA": 17, "shrinkB": 17,
                                "color": "tab:red" if hot else "0.45",
                                "linewidth": 2.5 if hot else 1.2})
        if (parent, child) in edge_labels:
            ax.text(x0 + 0.55 * (x1 - x0), y0 + 0.55 * (y1 - y0), edge_labels[parent, child],
                    fontsize="small", ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
    for node, (x, y) in position.items():
        text = labels.get(node, node)
        # several lines (value, gradient) take the width of a layer: a size smaller
        ax.text(x, y, text, ha="center", va="center",
                fontsize="small" if "\n" in text else "medium",
                bbox={"boxstyle": "circle,pad=0.35" if node not in labels else
                      "round,pad=0.35", "fc": "#e8f0fe", "ec": "tab:blue"})
    ax.set_xlim(-0.5, len(layers) - 0.5)
    height = max(len(layer) for layer in layers)
    ax.set_ylim(-height / 2, height / 2)
    ax.set_axis_off()
    return ax
