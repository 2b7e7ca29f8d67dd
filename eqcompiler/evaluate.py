"""The IR evaluated on Python floats: what `verify` compares claims with.

A value that is undefined at a point (log of a negative number, division by zero,
overflow) raises `Undefined`, so the caller can try another point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from .ir import (
    Add,
    Call,
    Compare,
    Const,
    Derivative,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Pow,
    Sub,
    Sym,
)


class Undefined(Exception):
    """The expression has no finite value at this point."""


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    t = math.exp(z)
    return t / (1.0 + t)


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _logaddexp(a: float, b: float) -> float:
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


FUNCTIONS: dict[str, Callable[..., float]] = {
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "arcsin": math.asin,
    "arccos": math.acos,
    "arctan": math.atan,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "relu": lambda z: max(z, 0.0),
    "abs": abs,
    "sign": lambda z: float((z > 0) - (z < 0)),
    "max": max,
    "min": min,
    "logaddexp": _logaddexp,
}
_TESTS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}

DerivativeValue = Callable[[Derivative], float]


def evaluate(
    expr: Expr, env: Mapping[str, float], derivative: DerivativeValue | None = None
) -> float:
    """The value of `expr` where symbols have the values in `env`."""
    try:
        value = _value(expr, env, derivative)
    except (ValueError, ZeroDivisionError, OverflowError) as problem:
        raise Undefined(str(problem)) from None
    if isinstance(value, complex) or not math.isfinite(value):
        raise Undefined("not a finite real number")
    return float(value)


def _value(
    expr: Expr, env: Mapping[str, float], derivative: DerivativeValue | None
) -> float:
    def v(e: Expr) -> float:
        return _value(e, env, derivative)

    match expr:
        case Num(value=value):
            return value
        case Const(name="pi"):
            return math.pi
        case Const():
            return math.e
        case Sym(name=name):
            return env[name]
        case Add(left=left, right=right):
            return v(left) + v(right)
        case Sub(left=left, right=right):
            return v(left) - v(right)
        case Mul(left=left, right=right):
            return v(left) * v(right)
        case Div(left=left, right=right):
            return v(left) / v(right)
        case Neg(operand=operand):
            return -v(operand)
        case Pow(base=base, exponent=exponent):
            result = v(base) ** v(exponent)
            if isinstance(result, complex):
                raise ValueError("a negative number to a fractional power")
            return result
        case Call(function=function, args=args):
            return FUNCTIONS[function](*(v(a) for a in args))
        case Compare(op=op, left=left, right=right):
            return 1.0 if _TESTS[op](v(left), v(right)) else 0.0
        case Derivative():
            if derivative is None:
                raise AssertionError("a derivative needs a derivative evaluator")
            return derivative(expr)
    raise AssertionError(f"cannot evaluate {expr!r}")
