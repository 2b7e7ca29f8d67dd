# Helper functions a generated numpy module may need; eqcompiler copies the ones it uses.
import numpy as np
from numpy.typing import ArrayLike


def _sigmoid(z: ArrayLike) -> np.ndarray:
    """The logistic function 1 / (1 + e^-z), for any z: where e^-z overflows (z below
    about -709), 1 / (1 + inf) is the right 0, so the warning is not needed."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _softplus(z: ArrayLike) -> np.ndarray:
    """log(1 + e^z), without overflow for any z."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _relu(z: ArrayLike) -> np.ndarray:
    """max(0, z)."""
    return np.maximum(z, 0.0)


def _sum_to(gradient: ArrayLike, shape: tuple, out_shape: tuple) -> np.ndarray:
    """Sum a gradient over the output's elements down to the shape of one input."""
    gradient = np.asarray(gradient)
    if gradient.shape == out_shape:
        if shape == out_shape:
            return gradient
        if shape == ():
            return np.asarray(gradient.sum())
    else:
        gradient = np.broadcast_to(gradient, out_shape)
        if shape == out_shape:
            return gradient.copy()
    lead = len(out_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and out_shape[lead + i] != 1
    )
    return np.sum(gradient, axis=axes).reshape(shape)


def _sum_product(
    a: ArrayLike, b: ArrayLike, shape: tuple, out_shape: tuple
) -> np.ndarray:
    """sum(a * b) down to `shape`; for a number, without making the product."""
    if (
        shape == ()
        and type(a) is np.ndarray
        and type(b) is np.ndarray
        and a.shape == b.shape == out_shape
    ):
        a, b = a.ravel(), b.ravel()
        if a.size <= 10000:
            return np.asarray(np.dot(a, b))
        # in pieces of 10,000, which BLAS runs on one thread: neither the speed nor
        # the rounding depends on how many threads BLAS may start
        total = np.dot(a[:10000], b[:10000])
        for start in range(10000, a.size, 10000):
            total = total + np.dot(a[start : start + 10000], b[start : start + 10000])
        return np.asarray(total)
    return _sum_to(np.multiply(a, b), shape, out_shape)


def _reusable(*inputs: ArrayLike) -> bool:
    """True when the arrays among `inputs` have one shape and one float type and the
    rest are Python numbers: every array computed from them then has that shape and
    type, and one that is no longer needed can take a new result in place."""
    shape = dtype = None
    for value in inputs:
        if type(value) is np.ndarray:
            if dtype is None:
                shape, dtype = value.shape, value.dtype
            elif value.shape != shape or value.dtype != dtype:
                return False
        elif type(value) is not float and type(value) is not int:
            return False
    return dtype is None or dtype.kind == "f"


def _spare(array: ArrayLike, reuse: bool) -> np.ndarray | None:
    """`array`, to write a result into (`out=`), if it is an array and `reuse` (see
    _reusable) says results fit in it; None (a new array) otherwise."""
    return array if reuse and type(array) is np.ndarray else None
