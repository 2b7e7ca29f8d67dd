"""Smart constructors: build IR expressions with the obvious simplifications.

`mul(ONE, x)` is `x`, `add(x, ZERO)` is `x`, `neg(neg(x))` is `x`, and numbers fold.
The derivative rules build with these, so generated code has no `* 1` or `+ 0`.
"""

from __future__ import annotations

from .ir import Add, Call, Div, Expr, Mul, Neg, Num, Pow, Sub

ZERO = Num(0.0)
ONE = Num(1.0)
MINUS_ONE = Num(-1.0)


def _num(expr: Expr) -> float | None:
    return expr.value if isinstance(expr, Num) else None


def is_zero(expr: Expr) -> bool:
    return _num(expr) == 0.0


def add(left: Expr, right: Expr) -> Expr:
    a, b = _num(left), _num(right)
    if a is not None and b is not None:
        return Num(a + b)
    if a == 0.0:
        return right
    if b == 0.0:
        return left
    if isinstance(right, Neg):
        return sub(left, right.operand)
    return Add(left, right)


def sub(left: Expr, right: Expr) -> Expr:
    a, b = _num(left), _num(right)
    if a is not None and b is not None:
        return Num(a - b)
    if b == 0.0:
        return left
    if a == 0.0:
        return neg(right)
    if isinstance(right, Neg):
        return add(left, right.operand)
    return Sub(left, right)


def mul(left: Expr, right: Expr) -> Expr:
    a, b = _num(left), _num(right)
    if a is not None and b is not None:
        return Num(a * b)
    if a == 0.0 or b == 0.0:
        return ZERO
    if a == 1.0:
        return right
    if b == 1.0:
        return left
    if a == -1.0:
        return neg(right)
    if b == -1.0:
        return neg(left)
    if isinstance(left, Neg):
        return neg(mul(left.operand, right))
    if isinstance(right, Neg):
        return neg(mul(left, right.operand))
    if b is not None:  # numbers first: 2 * x, not x * 2
        return mul(right, left)
    if isinstance(right, Div) and _num(right.left) == 1.0:  # a * (1 / b) is a / b
        return div(left, right.right)
    if isinstance(left, Div) and _num(left.left) == 1.0:
        return div(right, left.right)
    if a is not None and isinstance(right, Mul) and _num(right.left) is not None:
        return mul(Num(a * right.left.value), right.right)
    return Mul(left, right)


def div(left: Expr, right: Expr) -> Expr:
    a, b = _num(left), _num(right)
    if b == 1.0:
        return left
    if a == 0.0:
        return ZERO
    if a is not None and b is not None and b != 0.0:
        return Num(a / b)
    if isinstance(left, Neg):
        return neg(div(left.operand, right))
    return Div(left, right)


def neg(operand: Expr) -> Expr:
    a = _num(operand)
    if a is not None:
        return Num(-a)
    if isinstance(operand, Neg):
        return operand.operand
    if isinstance(operand, Sub):
        return Sub(operand.right, operand.left)
    return Neg(operand)


def pow_(base: Expr, exponent: Expr) -> Expr:
    e = _num(exponent)
    if e == 1.0:
        return base
    if e == 0.0:
        return ONE
    b = _num(base)
    if b is not None and e is not None and b > 0:
        return Num(b**e)
    return Pow(base, exponent)


def call(function: str, *args: Expr) -> Expr:
    return Call(function, args)
