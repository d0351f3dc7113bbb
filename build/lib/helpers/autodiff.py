"""A scalar reverse-mode autodiff engine for teaching backpropagation.

Every operation computes its result and, right beside it, the local partial derivatives of
the result with respect to each input. ``backward()`` then needs no knowledge of any
operation: it visits the nodes from the output back to the inputs and applies the chain rule,
``parent.grad += local_derivative * node.grad``.

Two choices differ from the well-known micrograd, on purpose:

* the topological order is computed iteratively, so a chain of 100,000 operations works
  (a recursive sort stops at Python's recursion limit, about 1,000 deep);
* ``backward()`` first sets the ``grad`` of every node in the graph to zero, so calling it
  twice gives the same gradients, not twice the gradients. (PyTorch accumulates into
  ``.grad`` across calls, which is why training loops call ``zero_grad()``.) A leaf used in
  two different graphs holds the gradient of the last graph ``backward()`` was called on.

>>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
>>> f = x * y + x.exp()
>>> f.backward()
>>> round(x.grad, 6), y.grad  # df/dx = y + e^x, df/dy = x
(10.389056, 2.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Value", "plot_value_graph"]


class Value:
    """A scalar in a computation graph: its value, its parents, and its local derivatives."""

    __slots__ = ("_local_grads", "_parents", "data", "grad", "label", "op")

    def __init__(self, data: float, parents: Sequence[Value] = (),
                 local_grads: Sequence[float] = (), op: str = "", label: str = ""):
        if isinstance(data, Value):
            raise TypeError("Value(Value(...)) is not allowed: use the Value itself")
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"a Value holds a real number, got {type(data).__name__}; "
                            "convert NumPy or framework scalars with float(...)")
        if len(parents) != len(local_grads):
            raise ValueError("each parent needs exactly one local derivative")
        self.data = float(data)
        self.grad = 0.0
        self._parents = tuple(parents)
        self._local_grads = tuple(float(g) for g in local_grads)
        self.op = op
        self.label = label

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    def named(self, label: str) -> Value:
        """Give this node a name (shown in graph pictures) and return it."""
        self.label = label
        return self

    @property
    def parents(self) -> tuple[Value, ...]:
        return self._parents

    @property
    def local_grads(self) -> tuple[float, ...]:
        """d(self)/d(parent) for each parent, computed in the forward pass."""
        return self._local_grads

    # ---- operations: forward value, then the local derivative for each input ----

    def __add__(self, other: Value | float) -> Value:
        other = _as_value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other: Value | float) -> Value:
        other = _as_value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, exponent: float) -> Value:
        if isinstance(exponent, Value):
            raise TypeError("only constant exponents are supported: write (y * x.log()).exp() "
                            "for x ** y with y a Value")
        return Value(self.data**exponent, (self,), (exponent * self.data ** (exponent - 1),),
                     f"**{exponent:g}")

    def exp(self) -> Value:
        if self.data > 709.78:  # math.exp would raise a bare "math range error"
            raise OverflowError(f"exp({self.data:g}) is too large for a float64")
        e = math.exp(self.data)
        return Value(e, (self,), (e,), "exp")

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number ({self.data})")
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self) -> Value:
        s = 0.5 * (1.0 + math.tanh(0.5 * self.data))  # no overflow for large |x|
        return Value(s, (self,), (s * (1.0 - s),), "sigmoid")

    def relu(self) -> Value:
        return Value(max(self.data, 0.0), (self,), (1.0 if self.data > 0 else 0.0,), "relu")

    def sin(self) -> Value:
        return Value(math.sin(self.data), (self,), (math.cos(self.data),), "sin")

    def cos(self) -> Value:
        return Value(math.cos(self.data), (self,), (-math.sin(self.data),), "cos")

    # ---- operations defined through the ones above ----

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-_as_value(other))

    def __truediv__(self, other: Value | float) -> Value:
        return self * _as_value(other) ** -1

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return _as_value(other) - self

    def __rtruediv__(self, other: float) -> Value:
        return _as_value(other) / self

    # ---- the backward pass ----

    def topological_order(self) -> list[Value]:
        """All nodes this one depends on, each after all of its parents, ending with self.

        Iterative depth-first search with an explicit stack, so deep graphs do not hit
        Python's recursion limit.
        """
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if id(p) not in visited)
        return order

    def backward(self) -> None:
        """Compute d(self)/d(node) for every node of the graph, into ``node.grad``.

        Gradients are reset first: calling ``backward()`` twice gives the same result.
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):  # from the output back to the inputs
            for parent, local in zip(node._parents, node._local_grads, strict=True):
                parent.grad += local * node.grad


def _as_value(x: Value | float) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _node_name(node: Value) -> str:
    return f"n{id(node)}"


def plot_value_graph(root: Value, ax: Axes | None = None, show_grad: bool = True,
                     hide: Iterable[str] = ()) -> Axes:
    """Draw the graph of ``root`` from inputs (left) to output (right).

    Each node shows its label or operation, its value and (after ``backward()``) its
    gradient; each edge shows the local derivative. Nodes whose label is in ``hide`` are
    not given a text box of values (use it for constants).
    """
    from helpers.graphs import plot_graph

    order = root.topological_order()
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node._parents), default=-1)
    layers: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    labels, edges, edge_labels = {}, [], {}
    hide = set(hide)
    for node in order:
        name = _node_name(node)
        layers[depth[id(node)]].append(name)
        title = node.label or node.op or "const"
        if title in hide or (not node.label and not node._parents):
            labels[name] = f"{node.data:g}"
        else:
            text = f"{title}\n{node.data:.4g}"
            labels[name] = text + (f"\ngrad {node.grad:.4g}" if show_grad else "")
        for parent, local in zip(node._parents, node._local_grads, strict=True):
            edges.append((_node_name(parent), name))
            edge_labels[_node_name(parent), name] = f"{local:.3g}"
    return plot_graph(layers, edges, labels=labels, edge_labels=edge_labels, ax=ax)
