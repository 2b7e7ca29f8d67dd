# Helper functions a generated numpy module may need; eqcompiler copies the ones it uses.
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def _sigmoid(z: ArrayLike) -> np.ndarray:
    """The logistic function 1 / (1 + e^-z), for any z: where e^-z overflows (z below
    about -709), 1 / (1 + inf) is the right 0, so the warning is not needed."""
    e = np.negative(z)
    if type(e) is not np.ndarray:
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(e))
    with np.errstate(over="ignore"):
        np.exp(e, out=e)  # in -z's array: one array, where 1 / (1 + e^-z) makes four
    e += 1
    return np.divide(1, e, out=e)


def _softplus(z: ArrayLike) -> np.ndarray:
    """log(1 + e^z), without overflow for any z: max(z, 0) + log(1 + e^-|z|)."""
    tail = np.abs(z)
    if type(tail) is not np.ndarray or tail.dtype.kind != "f":
        return np.maximum(z, 0) + np.log1p(np.exp(-tail))
    np.negative(tail, out=tail)  # in place: two temporaries, not six
    np.exp(tail, out=tail)
    np.log1p(tail, out=tail)
    return np.add(np.maximum(z, 0), tail, out=tail)


def _step(z: ArrayLike, at_zero: float) -> ArrayLike:
    """np.heaviside(z, at_zero): 0 where z < 0, 1 where z > 0, at_zero (0 or 1) at 0,
    nan at nan, in z's float type. On arrays a comparison, a conversion and a look
    for nan: a tenth of heaviside's time (its loop branches on every element: 5 ms
    for 10^6 signs at random)."""
    if type(z) is not np.ndarray:
        return np.heaviside(z, at_zero)
    test = np.greater(z, 0) if at_zero == 0.0 else np.greater_equal(z, 0)
    step = test.astype(np.result_type(z, 1.0))
    undefined = np.isnan(z)
    if undefined.any():
        step[undefined] = np.nan
    return step


def _relu(z: ArrayLike) -> np.ndarray:
    """max(0, z)."""
    return np.maximum(z, 0.0)


def _sum_to(
    gradient: ArrayLike,
    like: ArrayLike,
    out_shape: tuple,
    scale: float = 1.0,
    out: np.ndarray | None = None,
    copy: bool = False,
) -> ArrayLike:
    """`scale` times a gradient, summed over the output's elements down to the shape
    of `like` (an input); a gradient of the output's shape goes into `out` if given
    (a spare array of that shape), and is copied if `copy` (an array someone
    else holds, or one the body goes on to reuse)."""
    kind = type(like)
    number = kind is float or kind is np.float64 or kind is int  # or `theta[0]`
    if type(gradient) is np.ndarray and gradient.shape == out_shape:  # the usual
        if number:  # the gradient of a number: one sum
            return _times(_sum(gradient), scale)
        if kind is np.ndarray and like.shape == out_shape and out_shape:
            if scale != 1.0:
                return np.multiply(gradient, scale, out)
            return gradient.copy() if copy else gradient
    shape = () if number else np.shape(like)
    dtype = np.result_type(like)  # a Python float gradient takes like's float type
    gradient = np.asarray(
        gradient, dtype if type(gradient) is float and dtype.kind == "f" else None
    )
    if gradient.shape != out_shape:
        gradient = np.broadcast_to(gradient, out_shape)
        if shape == out_shape:
            return np.multiply(gradient, scale) if scale != 1.0 else gradient.copy()
    elif shape == out_shape:
        if scale != 1.0:
            return np.asarray(np.multiply(gradient, scale, out))
        return gradient.copy() if copy else gradient
    if shape == ():
        return _times(gradient.sum(), scale)
    lead = len(out_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and out_shape[lead + i] != 1
    )
    return _times(np.sum(gradient, axis=axes).reshape(shape), scale)


_ONES = np.ones(10_000)  # read only (_sum)


def _sum(gradient: np.ndarray) -> ArrayLike:
    """The sum of a gradient's elements: of up to 10,000 float64s, a dot with ones,
    which BLAS runs on one thread in two thirds of the time of numpy's pairwise sum;
    otherwise numpy's sum (faster than dots of rows with ones)."""
    if (
        gradient.dtype is _ONES.dtype
        and gradient.ndim == 1
        and gradient.size <= _ONES.size
    ):
        return np.dot(gradient, _ONES[: gradient.size])
    return np.add.reduce(gradient, None)


def _sum_product(
    a: ArrayLike,
    b: ArrayLike,
    like: ArrayLike,
    out_shape: tuple,
    scale: float = 1.0,
    out: np.ndarray | None = None,
) -> ArrayLike:
    """`scale` times sum(a * b) down to the shape of `like`: for a number, without
    making the product; for an array of the output's shape, into `out` if given."""
    kind = type(like)
    if type(a) is np.ndarray and a.shape == out_shape and out_shape:  # the usual
        if kind is float or kind is np.float64 or kind is int:  # a number's: a dot
            if type(b) is np.ndarray and b.shape == out_shape:
                return _times(_dot(a, b), scale)
        elif kind is np.ndarray and like.shape == out_shape:  # an array's: a product
            if type(b) is float or type(b) is int:
                return np.multiply(a, b * scale, out)
            if type(b) is np.ndarray and b.shape == out_shape and scale == 1.0:
                return np.multiply(a, b, out)
    shape = () if kind is float or kind is int else np.shape(like)
    if shape == out_shape:
        if type(b) is float or type(b) is int:
            product = np.multiply(a, b * scale, out)
        elif type(a) is float or type(a) is int:
            product = np.multiply(b, a * scale, out)
        else:
            product = np.multiply(a, b, out)
            if scale != 1.0:
                product = product * scale
        if type(product) is np.ndarray and product.shape == out_shape:
            return product
        return np.broadcast_to(product, out_shape).copy()
    return _sum_to(np.multiply(a, b), like, out_shape, scale)


_ROW = 8192  # elements per row of _dot (BLAS runs n <= 10,000 on one thread)


def _dot(a: np.ndarray, b: np.ndarray) -> ArrayLike:
    """sum(a * b) of two arrays of one shape, without making the product: up to
    10,000 elements one dot, which BLAS runs on one thread; above, the dots of rows
    of _ROW elements (one matmul of stacked rows), summed, and of the rest. BLAS runs
    each of those on one thread too, so neither the speed nor the rounding depends
    on how many threads it may start; as fast as one long dot, twice einsum's."""
    if a.ndim != 1:
        a, b = a.ravel(), b.ravel()
    if a.size <= 10000:
        return np.dot(a, b)
    whole = a.size - a.size % _ROW
    rows = np.matmul(a[:whole].reshape(-1, 1, _ROW), b[:whole].reshape(-1, _ROW, 1))
    return rows.sum() + np.dot(a[whole:], b[whole:])


_FLOAT64 = np.dtype(np.float64)  # the usual layout's arrays (checked by identity)


def _floats(*values: object) -> bool:
    """Whether each of `values` is a Python float: the usual layout's numbers, where
    there are too many to check in a few lines of `type(w) is type(b) is float`."""
    for value in values:
        if type(value) is not float:
            return False
    return True


def _times(total: ArrayLike, scale: float) -> ArrayLike:
    """`scale * total` (a sum) in `total`'s float type: float32 stays float32."""
    if type(total) is np.float64:  # the usual
        return total if scale == 1.0 else total * scale
    if scale != 1.0:
        dtype = total.dtype  # a Python float would make a float32 sum float64
        small = dtype.kind == "f" and dtype.itemsize < 8
        total = total * (dtype.type(scale) if small else scale)
    return total


def _array_size(*inputs: ArrayLike) -> tuple[int, int]:
    """The number of elements of each array among `inputs` when they have one shape
    and one float type and the rest are Python numbers or numpy scalars of that
    type (1 when there is no array): every array computed from them then has that
    shape and type, and one that is no longer needed can take a new result in
    place. 0 when they differ. And how many of `inputs` are arrays (if not 0)."""
    first = scalar = None
    arrays = 0
    for value in inputs:
        kind = type(value)
        if kind is np.ndarray:
            arrays += 1
            if first is None:
                first = value
            elif value.shape != first.shape or value.dtype != first.dtype:
                return 0, arrays
        elif kind is float or kind is int:
            continue
        elif isinstance(value, np.floating):  # `theta[0]`: its type must match
            if scalar is not None and value.dtype != scalar.dtype:
                return 0, arrays
            scalar = value
        else:
            return 0, arrays
    if first is None:
        return 1, 0
    if scalar is not None and scalar.dtype != first.dtype:
        return 0, arrays  # a float64 scalar makes float32 arrays' results float64
    return (first.size if first.dtype.kind == "f" else 0), arrays


_IN_CACHE = (  # elements a body's arrays may hold at once; more: blocks (_in_blocks)
    8_388_608  # 2**23: 64 MiB of float64s, twice the cache of the machines measured
)


_BLOCK = 131_072  # elements in a block (2**17: 1 MiB of float64s; _in_blocks)


def _in_blocks(function: Callable, *inputs: ArrayLike) -> Any:
    """`function(*inputs)`, the module's forward or value_and_grad, computed on
    blocks of at most _BLOCK elements of the input arrays (one shape, as
    _array_size found) and put together: the body calls it when its arrays, the
    inputs' and its own, would hold more than _IN_CACHE elements at once.

    Every operation is elementwise, so a block of the inputs gives the same block
    of each result. A block's arrays stay in the cache, where a pass over them is
    faster than over main memory; each block costs a call. After the first block,
    `function` writes each result shaped like the block into its part of an array
    of the whole shape (`_into`) where its last operation can, and the rest are
    copied there (which cost 9% of the time of a body holding 10 arrays).
    Measured on the 2-core machines eqcompiler is benchmarked on (32 MiB of shared
    cache), at 10^6 elements blocks save 12-21% for bodies that hold 9 or 10
    arrays, and cost 13% for one that holds 5. The gradient of a number is a sum
    over the output's elements, so the blocks' sums add up.
    """
    first = next(value for value in inputs if type(value) is np.ndarray)
    shape, size = first.shape, first.size
    flat = [v.reshape(-1) if type(v) is np.ndarray else v for v in inputs]
    count = -(-size // _BLOCK)
    wholes: list = []  # per result: an array of the whole shape, or the blocks' sums
    into = None  # per result: the block's part of its whole array (None: a sum)
    for i in range(count):  # blocks of equal size, give or take one element
        start, stop = size * i // count, size * (i + 1) // count
        block = [v[start:stop] if type(v) is np.ndarray else v for v in flat]
        if wholes:
            into = [w[start:stop] if type(w) is np.ndarray else None for w in wholes]
        part = function(*block, _into=into)
        results = [part[0], *part[1]] if type(part) is tuple else [part]
        if not wholes:  # the value and the arrays' gradients are shaped like a block
            wholes = [
                np.empty(size, r.dtype) if np.shape(r) == (stop - start,) else []
                for r in results
            ]
            into = [w[start:stop] if type(w) is np.ndarray else None for w in wholes]
        for whole, there, result in zip(wholes, into, results, strict=True):
            if there is None:  # a number's gradient: this block's sum
                whole.append(result)
            elif result is not there:  # not written in place
                there[...] = result
    results = [
        w.reshape(shape) if type(w) is np.ndarray else np.add.reduce(np.asarray(w))
        for w in wholes
    ]
    if type(part) is not tuple:
        return results[0]
    return results[0], type(part[1])(*results[1:])


def _spare(array: ArrayLike, reuse: bool) -> np.ndarray | None:
    """`array`, to write a result into (`out=`), if it is an array and `reuse` (see
    _array_size) says results fit in it; None (a new array) otherwise."""
    return array if reuse and type(array) is np.ndarray else None
