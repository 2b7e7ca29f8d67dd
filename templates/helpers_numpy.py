# Helper functions a generated numpy module may need; eqcompiler copies the ones it uses.
import numpy as np
from numpy.typing import ArrayLike


def _sigmoid(z: ArrayLike) -> np.ndarray:
    """The logistic function 1 / (1 + e^-z), without overflow for any z."""
    e = np.exp(-np.abs(z))  # never more than 1
    r = 1 / (1 + e)
    return np.where(np.greater_equal(z, 0), r, e * r)


def _softplus(z: ArrayLike) -> np.ndarray:
    """log(1 + e^z), without overflow for any z."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _relu(z: ArrayLike) -> np.ndarray:
    """max(0, z)."""
    return np.maximum(z, 0.0)


def _sum_to(gradient: ArrayLike, shape: tuple, out_shape: tuple) -> np.ndarray:
    """Sum a gradient over the output's elements down to the shape of one input."""
    gradient = np.asarray(gradient)
    if gradient.shape != out_shape:
        gradient = np.broadcast_to(gradient, out_shape)
        if shape == out_shape:
            return gradient.copy()
    if shape == out_shape:
        return gradient
    lead = len(out_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and out_shape[lead + i] != 1
    )
    return np.sum(gradient, axis=axes).reshape(shape)


def _sum_product(
    a: ArrayLike, b: ArrayLike, shape: tuple, out_shape: tuple
) -> np.ndarray:
    """sum(a * b) down to `shape`; for a number, without making the product."""
    if shape == () and np.shape(a) == out_shape and np.shape(b) == out_shape:
        dtype = np.result_type(a, b)  # float32 stays float32
        product = np.einsum(
            "i,i->", np.ravel(a), np.ravel(b), dtype=dtype, casting="same_kind"
        )
        return np.asarray(product)
    return _sum_to(np.multiply(a, b), shape, out_shape)
