"""Hand-written value_and_grad for the seed and each sample, to measure generated code by.

For each document there are four functions, all taking the generated module's inputs
by keyword and returning what its `value_and_grad` returns (the output, elementwise,
and the gradients of sum(output) in a NamedTuple with the same fields):

- `forward`: careful numpy, the output alone (the unit of the ratios reported);
- `careful`: numpy forward and backward, the backward reusing forward values, one
  buffer reused in place wherever the value it held is dead, `np.dot` and `.sum()`
  reductions for the gradients of scalar inputs;
- `naive`: the same formulas with a temporary per operation and `np.sum(a * b)`;
- `math`: plain Python floats with the `math` module, returning the NamedTuple.

Data inputs are arrays and parameters are Python floats (`Case.arrays` names the data).
The benchmark checks every one of these against the generated module before timing it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


@dataclass(frozen=True, slots=True)
class Case:
    """The hand-written versions of one document, and the data to run them on."""

    fields: tuple[str, ...]  # the gradients, in the generated Gradients' order
    arrays: dict[str, Callable[[np.random.Generator, int], np.ndarray]]  # data inputs
    scalars: dict[str, float]  # parameters
    forward: Callable[..., np.ndarray]
    careful: Callable[..., tuple[Any, tuple]]
    naive: Callable[..., tuple[Any, tuple]]
    math: Callable[..., tuple[float, tuple]]

    def inputs(self, n: int, seed: int = 0) -> dict[str, Any]:
        """Arrays of `n` elements for the data, floats for the parameters."""
        rng = np.random.default_rng(seed)
        values: dict[str, Any] = {
            name: make(rng, n) for name, make in self.arrays.items()
        }
        values.update(self.scalars)
        return values

    def scalar_inputs(self, seed: int = 0) -> dict[str, float]:
        """Python floats for every input (the math backend)."""
        return {name: float(np.ravel(v)[0]) for name, v in self.inputs(1, seed).items()}


def _normal(mean: float = 0.0, scale: float = 1.0) -> Callable[..., np.ndarray]:
    return lambda rng, n: rng.normal(mean, scale, n)


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.random(n) < 0.5).astype(np.float64)


# --- the seed (and samples/backprop.md): u = wx, v = u + b, y = e^v, l = (y - y*)^2


class BackpropGradients(NamedTuple):
    w: Any
    x: Any
    b: Any
    y_star: Any


def backprop_forward(
    w: float, x: np.ndarray, b: float, y_star: np.ndarray
) -> np.ndarray:
    ell = np.multiply(x, w)
    ell += b
    np.exp(ell, out=ell)
    ell -= y_star
    np.square(ell, out=ell)
    return ell


def backprop_careful(
    w: float, x: np.ndarray, b: float, y_star: np.ndarray
) -> tuple[np.ndarray, BackpropGradients]:
    y = np.multiply(x, w)  # u
    y += b  # v
    np.exp(y, out=y)  # y
    r = np.subtract(y, y_star)  # y - y*
    ell = np.square(r)
    y *= r  # (y - y*) y, half of d_v
    g_w = 2.0 * np.dot(y, x)
    g_b = 2.0 * y.sum()
    y *= 2.0 * w  # d_x = d_v w
    r *= -2.0  # d_y* = -2 (y - y*)
    return ell, BackpropGradients(w=g_w, x=y, b=g_b, y_star=r)


def backprop_naive(
    w: float, x: np.ndarray, b: float, y_star: np.ndarray
) -> tuple[np.ndarray, BackpropGradients]:
    u = w * x
    v = u + b
    y = np.exp(v)
    ell = (y - y_star) ** 2
    d_y = 2 * (y - y_star)
    d_v = d_y * y
    return ell, BackpropGradients(
        w=np.sum(d_v * x), x=d_v * w, b=np.sum(d_v), y_star=-d_y
    )


def backprop_math(
    w: float, x: float, b: float, y_star: float
) -> tuple[float, BackpropGradients]:
    y = math.exp(w * x + b)
    r = y - y_star
    d_v = 2.0 * r * y
    return r * r, BackpropGradients(w=d_v * x, x=d_v * w, b=d_v, y_star=-2.0 * r)


BACKPROP = Case(
    fields=BackpropGradients._fields,
    arrays={"x": _normal(), "y_star": _normal(1.0, 0.5)},
    scalars={"w": 0.5, "b": 0.1},
    forward=backprop_forward,
    careful=backprop_careful,
    naive=backprop_naive,
    math=backprop_math,
)


# --- samples/logistic_regression.md: L = softplus(z) - y z, z = w_1 x_1 + w_2 x_2 + b


class LogisticGradients(NamedTuple):
    w_1: Any
    w_2: Any
    b: Any


def logistic_forward(
    w_1: float, x_1: np.ndarray, w_2: float, x_2: np.ndarray, b: float, y: np.ndarray
) -> np.ndarray:
    z = np.multiply(x_1, w_1)
    loss = np.multiply(x_2, w_2)
    z += loss
    z += b
    np.logaddexp(0.0, z, out=loss)  # softplus(z)
    z *= y
    loss -= z
    return loss


def logistic_careful(
    w_1: float, x_1: np.ndarray, w_2: float, x_2: np.ndarray, b: float, y: np.ndarray
) -> tuple[np.ndarray, LogisticGradients]:
    z = np.multiply(x_1, w_1)
    loss = np.multiply(x_2, w_2)
    z += loss
    z += b
    np.logaddexp(0.0, z, out=loss)  # softplus(z)
    d_z = np.subtract(z, loss)  # log sigmoid(z), never positive
    np.exp(d_z, out=d_z)  # sigmoid(z)
    d_z -= y  # dL/dz = sigmoid(z) - y
    z *= y
    loss -= z  # L = softplus(z) - y z
    return loss, LogisticGradients(
        w_1=np.dot(d_z, x_1), w_2=np.dot(d_z, x_2), b=d_z.sum()
    )


def logistic_naive(
    w_1: float, x_1: np.ndarray, w_2: float, x_2: np.ndarray, b: float, y: np.ndarray
) -> tuple[np.ndarray, LogisticGradients]:
    z = w_1 * x_1 + w_2 * x_2 + b
    softplus = np.logaddexp(0.0, z)
    loss = softplus - y * z
    d_z = np.exp(z - softplus) - y
    return loss, LogisticGradients(
        w_1=np.sum(d_z * x_1), w_2=np.sum(d_z * x_2), b=np.sum(d_z)
    )


def logistic_math(
    w_1: float, x_1: float, w_2: float, x_2: float, b: float, y: float
) -> tuple[float, LogisticGradients]:
    z = w_1 * x_1 + w_2 * x_2 + b
    e = math.exp(-abs(z))
    softplus = max(z, 0.0) + math.log1p(e)
    p = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
    d_z = p - y
    return softplus - y * z, LogisticGradients(w_1=d_z * x_1, w_2=d_z * x_2, b=d_z)


LOGISTIC = Case(
    fields=LogisticGradients._fields,
    arrays={"x_1": _normal(), "x_2": _normal(), "y": _labels},
    scalars={"w_1": 0.8, "w_2": -0.4, "b": 0.1},
    forward=logistic_forward,
    careful=logistic_careful,
    naive=logistic_naive,
    math=logistic_math,
)


# --- samples/staged_function.md: f = (x + s(y)) / (s(x) + (x + y)^2), s the sigmoid


class StagedGradients(NamedTuple):
    x: Any
    y: Any


def _sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + e^-z) as (1 + tanh(z / 2)) / 2: no overflow, one transcendental."""
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def staged_forward(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    den = np.add(x, y)
    np.square(den, out=den)
    f = _sigmoid(x)
    den += f
    _sigmoid(y, out=f)
    f += x
    f /= den
    return f


def staged_careful(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, StagedGradients]:
    s_x = _sigmoid(x)
    s_y = _sigmoid(y)
    xpy = np.add(x, y)
    den = np.square(xpy)
    den += s_x
    f = np.add(x, s_y)  # num
    f /= den
    inv = np.reciprocal(den, out=den)  # d_num = 1 / den
    q = np.multiply(f, inv)  # num / den^2 = -d_den
    xpy *= q
    xpy *= -2.0  # d_xpy = 2 xpy d_den
    g_x = np.subtract(1.0, s_x)
    s_x *= g_x
    s_x *= q  # -d_den s_x (1 - s_x)
    np.add(xpy, inv, out=g_x)
    g_x -= s_x  # d_x = d_xpy + d_num + d_den s_x (1 - s_x)
    np.subtract(1.0, s_y, out=s_x)
    s_y *= s_x
    s_y *= inv
    s_y += xpy  # d_y = d_xpy + d_num s_y (1 - s_y)
    return f, StagedGradients(x=g_x, y=s_y)


def staged_naive(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, StagedGradients]:
    s_x = 0.5 * np.tanh(0.5 * x) + 0.5
    s_y = 0.5 * np.tanh(0.5 * y) + 0.5
    num = x + s_y
    xpy = x + y
    den = s_x + xpy**2
    f = num / den
    d_num = 1 / den
    d_den = -num / den**2
    d_xpy = 2 * xpy * d_den
    d_x = d_num + d_xpy + d_den * s_x * (1 - s_x)
    d_y = d_xpy + d_num * s_y * (1 - s_y)
    return f, StagedGradients(x=d_x, y=d_y)


def staged_math(x: float, y: float) -> tuple[float, StagedGradients]:
    s_x = 0.5 + 0.5 * math.tanh(0.5 * x)
    s_y = 0.5 + 0.5 * math.tanh(0.5 * y)
    xpy = x + y
    inv = 1.0 / (s_x + xpy * xpy)
    f = (x + s_y) * inv
    q = f * inv
    d_xpy = -2.0 * q * xpy
    return f, StagedGradients(
        x=inv + d_xpy - q * s_x * (1.0 - s_x), y=d_xpy + inv * s_y * (1.0 - s_y)
    )


STAGED = Case(
    fields=StagedGradients._fields,
    arrays={"x": _normal(), "y": _normal()},
    scalars={},
    forward=staged_forward,
    careful=staged_careful,
    naive=staged_naive,
    math=staged_math,
)


# --- samples/two_layer_tanh.md: two tanh units, a linear output, half squared error


class TwoLayerGradients(NamedTuple):
    w_11: Any
    x_1: Any
    w_12: Any
    x_2: Any
    b_1: Any
    w_21: Any
    w_22: Any
    b_2: Any
    v_1: Any
    v_2: Any
    c: Any
    y: Any


def two_layer_forward(
    w_11: float,
    x_1: np.ndarray,
    w_12: float,
    x_2: np.ndarray,
    b_1: float,
    w_21: float,
    w_22: float,
    b_2: float,
    v_1: float,
    v_2: float,
    c: float,
    y: np.ndarray,
) -> np.ndarray:
    h_1 = np.multiply(x_1, w_11)
    t = np.multiply(x_2, w_12)
    h_1 += t
    h_1 += b_1
    np.tanh(h_1, out=h_1)
    h_2 = np.multiply(x_1, w_21)
    np.multiply(x_2, w_22, out=t)
    h_2 += t
    h_2 += b_2
    np.tanh(h_2, out=h_2)
    h_1 *= v_1
    h_2 *= v_2
    h_1 += h_2
    h_1 += c
    h_1 -= y
    np.square(h_1, out=h_1)
    h_1 *= 0.5
    return h_1


def two_layer_careful(
    w_11: float,
    x_1: np.ndarray,
    w_12: float,
    x_2: np.ndarray,
    b_1: float,
    w_21: float,
    w_22: float,
    b_2: float,
    v_1: float,
    v_2: float,
    c: float,
    y: np.ndarray,
) -> tuple[np.ndarray, TwoLayerGradients]:
    h_1 = np.multiply(x_1, w_11)
    t = np.multiply(x_2, w_12)
    h_1 += t
    h_1 += b_1
    np.tanh(h_1, out=h_1)
    h_2 = np.multiply(x_1, w_21)
    np.multiply(x_2, w_22, out=t)
    h_2 += t
    h_2 += b_2
    np.tanh(h_2, out=h_2)
    r = np.multiply(h_1, v_1)
    np.multiply(h_2, v_2, out=t)
    r += t
    r += c
    r -= y  # y_hat - y = dE/dy_hat
    loss = np.square(r)
    loss *= 0.5
    g_y = np.negative(r)
    g_v_1, g_v_2, g_c = np.dot(r, h_1), np.dot(r, h_2), r.sum()
    np.square(h_1, out=h_1)
    h_1 -= 1.0
    h_1 *= r
    h_1 *= -v_1  # d_a_1 = r v_1 (1 - h_1^2)
    np.square(h_2, out=h_2)
    h_2 -= 1.0
    h_2 *= r
    h_2 *= -v_2  # d_a_2
    g_w_11, g_w_12, g_b_1 = np.dot(h_1, x_1), np.dot(h_1, x_2), h_1.sum()
    g_w_21, g_w_22, g_b_2 = np.dot(h_2, x_1), np.dot(h_2, x_2), h_2.sum()
    g_x_1 = np.multiply(h_1, w_11, out=t)
    g_x_1 += np.multiply(h_2, w_21, out=r)
    h_1 *= w_12
    h_2 *= w_22
    h_1 += h_2  # d_x_2
    return loss, TwoLayerGradients(
        w_11=g_w_11,
        x_1=g_x_1,
        w_12=g_w_12,
        x_2=h_1,
        b_1=g_b_1,
        w_21=g_w_21,
        w_22=g_w_22,
        b_2=g_b_2,
        v_1=g_v_1,
        v_2=g_v_2,
        c=g_c,
        y=g_y,
    )


def two_layer_naive(
    w_11: float,
    x_1: np.ndarray,
    w_12: float,
    x_2: np.ndarray,
    b_1: float,
    w_21: float,
    w_22: float,
    b_2: float,
    v_1: float,
    v_2: float,
    c: float,
    y: np.ndarray,
) -> tuple[np.ndarray, TwoLayerGradients]:
    h_1 = np.tanh(w_11 * x_1 + w_12 * x_2 + b_1)
    h_2 = np.tanh(w_21 * x_1 + w_22 * x_2 + b_2)
    y_hat = v_1 * h_1 + v_2 * h_2 + c
    loss = 0.5 * (y_hat - y) ** 2
    d_y_hat = y_hat - y
    d_a_1 = d_y_hat * v_1 * (1 - h_1**2)
    d_a_2 = d_y_hat * v_2 * (1 - h_2**2)
    return loss, TwoLayerGradients(
        w_11=np.sum(d_a_1 * x_1),
        x_1=d_a_1 * w_11 + d_a_2 * w_21,
        w_12=np.sum(d_a_1 * x_2),
        x_2=d_a_1 * w_12 + d_a_2 * w_22,
        b_1=np.sum(d_a_1),
        w_21=np.sum(d_a_2 * x_1),
        w_22=np.sum(d_a_2 * x_2),
        b_2=np.sum(d_a_2),
        v_1=np.sum(d_y_hat * h_1),
        v_2=np.sum(d_y_hat * h_2),
        c=np.sum(d_y_hat),
        y=-d_y_hat,
    )


def two_layer_math(
    w_11: float,
    x_1: float,
    w_12: float,
    x_2: float,
    b_1: float,
    w_21: float,
    w_22: float,
    b_2: float,
    v_1: float,
    v_2: float,
    c: float,
    y: float,
) -> tuple[float, TwoLayerGradients]:
    h_1 = math.tanh(w_11 * x_1 + w_12 * x_2 + b_1)
    h_2 = math.tanh(w_21 * x_1 + w_22 * x_2 + b_2)
    r = v_1 * h_1 + v_2 * h_2 + c - y
    d_a_1 = r * v_1 * (1.0 - h_1 * h_1)
    d_a_2 = r * v_2 * (1.0 - h_2 * h_2)
    return 0.5 * r * r, TwoLayerGradients(
        w_11=d_a_1 * x_1,
        x_1=d_a_1 * w_11 + d_a_2 * w_21,
        w_12=d_a_1 * x_2,
        x_2=d_a_1 * w_12 + d_a_2 * w_22,
        b_1=d_a_1,
        w_21=d_a_2 * x_1,
        w_22=d_a_2 * x_2,
        b_2=d_a_2,
        v_1=r * h_1,
        v_2=r * h_2,
        c=r,
        y=-r,
    )


TWO_LAYER = Case(
    fields=TwoLayerGradients._fields,
    arrays={"x_1": _normal(), "x_2": _normal(), "y": _normal()},
    scalars={
        "w_11": 0.5,
        "w_12": -0.3,
        "b_1": 0.1,
        "w_21": 0.2,
        "w_22": 0.7,
        "b_2": -0.2,
        "v_1": 1.1,
        "v_2": -0.6,
        "c": 0.05,
    },
    forward=two_layer_forward,
    careful=two_layer_careful,
    naive=two_layer_naive,
    math=two_layer_math,
)

# Hand-written versions by document stem; the seed has the equations of backprop.md.
CASES: dict[str, Case] = {
    "backprop": BACKPROP,
    "logistic_regression": LOGISTIC,
    "staged_function": STAGED,
    "two_layer_tanh": TWO_LAYER,
}
