"""Every backward function of skcv.layers against centred differences.

Each layer is checked through the scalar ``sum(out * R)`` with a fixed random
``R``, whose gradient with respect to ``out`` is ``R``: the backward function
called with ``dout = R`` must then give the numerical gradient with respect to
every input, in float64, to a relative error asserted below.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skcv.gradcheck import check_gradient
from skcv.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    hinge_output,
    relu_backward,
    relu_forward,
    softmax_output,
    tanh_backward,
    tanh_forward,
)
from skcv.losses import hinge_loss, softmax_loss

RTOL = 1e-7


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_affine_gradients(rng):
    x, w, b = rng.normal(size=(6, 5)), rng.normal(size=(5, 4)), rng.normal(size=4)
    R = rng.normal(size=(6, 4))

    def f(x, w, b):
        out, cache = affine_forward(x, w, b)
        return float(np.sum(out * R)), *affine_backward(R, cache)

    assert check_gradient(f, [x, w, b]) < RTOL


def test_affine_buffers_and_skipped_dx(rng):
    x, w, b = rng.normal(size=(6, 5)), rng.normal(size=(5, 4)), rng.normal(size=4)
    out, cache = affine_forward(x, w, b)
    assert_allclose(out, x @ w + b)
    buf = np.empty((6, 4))
    assert affine_forward(x, w, b, out=buf)[0] is buf
    dx, dw, db = affine_backward(out, cache, need_dx=False)
    assert dx is None
    assert_allclose(dw, x.T @ out)
    assert_allclose(db, out.sum(axis=0))


@pytest.mark.parametrize(
    "forward, backward", [(relu_forward, relu_backward), (tanh_forward, tanh_backward)]
)
def test_activation_gradients(rng, forward, backward):
    # Away from 0, where the ReLU has its kink.
    x = rng.normal(size=(7, 3))
    x[np.abs(x) < 0.1] = 0.5
    R = rng.normal(size=x.shape)

    def f(x):
        out, cache = forward(x)
        return float(np.sum(out * R)), backward(R, cache)

    assert check_gradient(f, x) < RTOL


def test_relu_gradient_is_zero_at_and_below_zero():
    _, cache = relu_forward(np.array([-2.0, 0.0, 3.0]))
    assert_array_equal(relu_backward(np.array([1.0, 1.0, 1.0]), cache), [0, 0, 1])
    # The strided path (a transposed view) gives the same.
    h = relu_forward(np.array([[-1.0, 2.0], [3.0, -4.0]]))[0]
    dout = np.ones((2, 2))
    assert_array_equal(relu_backward(dout.T, h.T), (h > 0).T)


def test_activations_preserve_float32(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    pairs = [(relu_forward, relu_backward), (tanh_forward, tanh_backward)]
    for forward, backward in pairs:
        out, cache = forward(x)
        assert out.dtype == np.float32
        assert backward(x, cache).dtype == np.float32


def test_batchnorm_gradients(rng):
    x = rng.normal(3.0, 2.0, size=(8, 4))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    R = rng.normal(size=x.shape)

    def f(x, gamma, beta):
        out, cache = batchnorm_forward(x, gamma, beta)
        return float(np.sum(out * R)), *batchnorm_backward(R, cache)

    assert check_gradient(f, [x, gamma, beta]) < 1e-6


def test_batchnorm_training_standardises_and_updates_running_stats(rng):
    x = rng.normal(5.0, 3.0, size=(50, 3))
    mean, var = np.zeros(3), np.ones(3)
    out, _ = batchnorm_forward(
        x, np.ones(3), np.zeros(3), running_mean=mean, running_var=var, momentum=0.9
    )
    assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    assert_allclose(out.std(axis=0), 1, rtol=1e-5)
    assert_allclose(mean, 0.1 * x.mean(axis=0))
    assert_allclose(var, 0.9 + 0.1 * x.var(axis=0))


def test_batchnorm_inference_uses_running_stats(rng):
    x = rng.normal(5.0, 3.0, size=(40, 3))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    mean, var = x.mean(axis=0), x.var(axis=0)
    train_out, _ = batchnorm_forward(x, gamma, beta, eps=0.0)
    test_out, cache = batchnorm_forward(
        x, gamma, beta, running_mean=mean, running_var=var, training=False, eps=0.0
    )
    # With the running statistics equal to the batch's, both modes agree ...
    assert cache is None
    assert_allclose(test_out, train_out)
    # ... and at inference a sample's output does not depend on its batch.
    single, _ = batchnorm_forward(
        x[:1], gamma, beta, running_mean=mean, running_var=var, training=False, eps=0.0
    )
    assert_allclose(single, test_out[:1])
    with pytest.raises(ValueError, match="running_mean"):
        batchnorm_forward(x, gamma, beta, training=False)


def test_dropout_scaling_and_seeding():
    x = np.ones((200, 100), dtype=np.float32)
    out, mask = dropout_forward(x, 0.3, random_state=42)
    assert out.dtype == np.float32
    kept = out != 0
    # Survivors are scaled by 1 / (1 - p), so the expected output is the input.
    assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.01
    assert abs(out.mean() - 1) < 0.015
    # Same seed, same mask; another seed, another mask.
    assert_array_equal(dropout_forward(x, 0.3, random_state=42)[0], out)
    assert not np.array_equal(dropout_forward(x, 0.3, random_state=43)[0], out)
    # The gradient flows through the same units with the same scale.
    assert_array_equal(dropout_backward(np.ones_like(x), mask), out)


def test_dropout_inference_and_bad_p():
    x = np.arange(6.0)
    out, cache = dropout_forward(x, 0.5, training=False)
    assert out is x and cache is None
    assert dropout_backward(x, cache) is x
    with pytest.raises(ValueError, match="p must be"):
        dropout_forward(x, 1.0)


def test_dropout_gradient(rng):
    x = rng.normal(size=(6, 5))
    R = rng.normal(size=x.shape)

    def f(x):
        # The same seed each call: a fixed mask, so the layer is linear in x.
        out, mask = dropout_forward(x, 0.4, random_state=1)
        return float(np.sum(out * R)), dropout_backward(R, mask)

    assert check_gradient(f, x) < RTOL


def test_output_layers_reuse_the_losses(rng):
    # With identity features the output layer is the linear model's loss:
    # d loss / d scores, mapped through X, is the loss's dW.
    X, y = rng.normal(size=(9, 4)), rng.integers(0, 3, 9)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    scores = X @ W.T + b
    loss, dscores = softmax_output(scores, y)
    ref_loss, ref_dW, ref_db = softmax_loss(W, b, X, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_allclose(dscores.T @ X, ref_dW, rtol=1e-12)
    assert_allclose(dscores.sum(axis=0), ref_db, rtol=1e-12, atol=1e-15)
    for multi_class in ("weston_watkins", "crammer_singer"):
        loss, dscores = hinge_output(scores, y, multi_class=multi_class)
        ref = hinge_loss(W, b, X, y, multi_class=multi_class)
        assert loss == pytest.approx(ref[0], rel=1e-12)
        assert_allclose(dscores.T @ X, ref[1], rtol=1e-12)


def test_softmax_output_gradient(rng):
    scores, y = rng.normal(size=(8, 5)), rng.integers(0, 5, 8)
    w = rng.random(8)

    def f(scores):
        return softmax_output(scores, y, sample_weight=w)

    assert check_gradient(f, scores) < RTOL


def test_two_layer_network_gradient(rng):
    """The layers chained: affine, ReLU, affine, softmax, plus an L2 penalty."""
    X, y = rng.normal(size=(10, 6)), rng.integers(0, 3, 10)
    W1, b1 = rng.normal(size=(6, 5)), rng.normal(size=5)
    W2, b2 = rng.normal(size=(5, 3)), rng.normal(size=3)
    alpha = 0.3

    def f(W1, b1, W2, b2):
        h, c1 = affine_forward(X, W1, b1)
        a, c2 = relu_forward(h)
        s, c3 = affine_forward(a, W2, b2)
        loss, ds = softmax_output(s, y)
        loss += 0.5 * alpha * (np.sum(W1**2) + np.sum(W2**2))
        da, dW2, db2 = affine_backward(ds, c3)
        dh = relu_backward(da, c2)
        _, dW1, db1 = affine_backward(dh, c1, need_dx=False)
        return loss, dW1 + alpha * W1, db1, dW2 + alpha * W2, db2

    assert check_gradient(f, [W1, b1, W2, b2]) < 1e-6
