"""helpers.networks: chapter 7's spiral and network, as chapters 8 and 9 import them."""

import numpy as np
import pytest

import helpers
from helpers.networks import two_layer_forward


def test_spiral_has_three_arms_of_100_points_inside_the_unit_disc():
    X, y = helpers.spiral_data(np.random.default_rng(0))
    assert X.shape == (300, 2) and np.bincount(y).tolist() == [100, 100, 100]
    assert np.all(np.linalg.norm(X, axis=1) <= 1.0 + 1e-12)
    # the radius grows along each arm, from the origin to 1
    radii = np.linalg.norm(X[:100], axis=1)
    assert radii[0] == 0.0 and radii[-1] == pytest.approx(1.0) and np.all(np.diff(radii) > 0)


@pytest.mark.parametrize("penalty", [0.0, 1e-3, 0.5])
def test_every_gradient_agrees_with_finite_differences(penalty):
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    params = helpers.two_layer_parameters(rng, inputs=4, hidden=7, classes=3, scale=0.5)
    params["b1"] = rng.standard_normal(7)  # no hidden input within a step of ReLU's kink
    _, grads = helpers.two_layer_loss_and_gradients(params, X, y, penalty)
    for name in params:
        def loss(value, name=name):
            return helpers.two_layer_loss({**params, name: value}, X, y, penalty)
        assert helpers.check_grad(loss, params[name], grads[name], mode="full").passed, name


def test_loss_is_the_mean_cross_entropy_plus_the_penalty():
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((5, 2)), np.array([0, 1, 2, 1, 0])
    params = helpers.two_layer_parameters(rng, hidden=4, scale=1.0)
    P = two_layer_forward(params, X)["P"]
    assert np.allclose(P.sum(axis=1), 1.0)
    by_hand = -np.mean(np.log(P[np.arange(5), y])) + 0.05 * (
        np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    assert helpers.two_layer_loss(params, X, y, penalty=0.1) == pytest.approx(by_hand)
    assert helpers.two_layer_predict(params, X).tolist() == np.argmax(P, axis=1).tolist()


def test_flatten_and_unflatten_are_inverse_and_refuse_a_wrong_length():
    params = helpers.two_layer_parameters(np.random.default_rng(1))
    vector = helpers.flatten(params)
    assert vector.shape == (603,)
    back = helpers.unflatten(vector, params)
    assert all(np.array_equal(back[k], params[k]) for k in params)
    with pytest.raises(ValueError, match="602 entries; the parameters have 603"):
        helpers.unflatten(vector[:-1], params)
