"""The spiral data set and the two-layer ReLU network of chapter 7, for the chapters after it.

Chapter 7 derives and writes this network in its own cells (that is its lesson); chapters 8
and 9 study the same network, so they import it from here instead of copying it. One example
per row: ``Z1 = X W1 + b1``, ``A = ReLU(Z1)``, ``Z2 = A W2 + b2``, ``P = softmax(Z2)``, loss
the mean cross-entropy plus ``penalty / 2 (|W1|_F^2 + |W2|_F^2)``.

>>> X, y = spiral_data(np.random.default_rng(0))
>>> X.shape, np.bincount(y).tolist()
((300, 2), [100, 100, 100])
>>> params = two_layer_parameters(np.random.default_rng(1))
>>> round(two_layer_loss(params, X, y), 3)  # small weights: every class gets about 1/3
1.099
"""

from __future__ import annotations

import numpy as np

PARAMETER_NAMES = ("W1", "b1", "W2", "b2")


def spiral_data(rng: np.random.Generator, classes: int = 3, per_class: int = 100,
                noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """CS231n's spiral: ``classes`` arms of ``per_class`` points in the plane, the angle
    jittered by ``noise``. Returns X (one point per row) and the integer labels y."""
    points, labels = [], []
    for k in range(classes):
        radius = np.linspace(0.0, 1.0, per_class)
        angle = (np.linspace(4.0 * k, 4.0 * (k + 1), per_class)
                 + noise * rng.standard_normal(per_class))
        points.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        labels.append(np.full(per_class, k))
    return np.concatenate(points), np.concatenate(labels)


def two_layer_parameters(rng: np.random.Generator, inputs: int = 2, hidden: int = 100,
                         classes: int = 3, scale: float = 0.01) -> dict[str, np.ndarray]:
    """Weights drawn as ``scale`` times standard normals (W1 first, as chapter 7 draws them),
    biases zero."""
    return {"W1": scale * rng.standard_normal((inputs, hidden)), "b1": np.zeros(hidden),
            "W2": scale * rng.standard_normal((hidden, classes)), "b2": np.zeros(classes)}


def _softmax_rows(Z: np.ndarray) -> np.ndarray:
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def two_layer_forward(params: dict, X: np.ndarray) -> dict[str, np.ndarray]:
    """The forward pass's intermediate results: Z1, A, Z2 and the probabilities P."""
    Z1 = X @ params["W1"] + params["b1"]
    A = np.maximum(Z1, 0.0)
    Z2 = A @ params["W2"] + params["b2"]
    return {"Z1": Z1, "A": A, "Z2": Z2, "P": _softmax_rows(Z2)}


def two_layer_loss(params: dict, X: np.ndarray, y: np.ndarray, penalty: float = 1e-3) -> float:
    """Mean cross-entropy of the labels y plus the L2 penalty on the weights."""
    P = two_layer_forward(params, X)["P"]
    data = -np.mean(np.log(P[np.arange(len(y)), y]))
    return float(data + 0.5 * penalty * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)))


def two_layer_loss_and_gradients(params: dict, X: np.ndarray, y: np.ndarray,
                                 penalty: float = 1e-3) -> tuple[float, dict[str, np.ndarray]]:
    """The loss and its gradient for each parameter: chapter 7's backward pass."""
    forward = two_layer_forward(params, X)
    n = len(y)
    G2 = forward["P"].copy()
    G2[np.arange(n), y] -= 1.0
    G2 /= n
    G1 = (G2 @ params["W2"].T) * (forward["Z1"] > 0)
    grads = {"W1": X.T @ G1 + penalty * params["W1"], "b1": G1.sum(axis=0),
             "W2": forward["A"].T @ G2 + penalty * params["W2"], "b2": G2.sum(axis=0)}
    return two_layer_loss(params, X, y, penalty), grads


def two_layer_predict(params: dict, X: np.ndarray) -> np.ndarray:
    """The class with the largest score, for each row of X."""
    return np.argmax(two_layer_forward(params, X)["Z2"], axis=1)


def flatten(params: dict) -> np.ndarray:
    """The parameters as one vector, in the order W1, b1, W2, b2."""
    return np.concatenate([params[name].ravel() for name in PARAMETER_NAMES])


def unflatten(vector: np.ndarray, like: dict) -> dict[str, np.ndarray]:
    """The inverse of :func:`flatten`, with the shapes of ``like``."""
    total = sum(like[name].size for name in PARAMETER_NAMES)
    if len(vector) != total:
        raise ValueError(f"the vector has {len(vector)} entries; the parameters have {total}")
    out, start = {}, 0
    for name in PARAMETER_NAMES:
        size = like[name].size
        out[name] = np.asarray(vector[start:start + size]).reshape(like[name].shape)
        start += size
    return out
