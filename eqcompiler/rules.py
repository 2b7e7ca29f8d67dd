"""The local derivative rules: one small rule per operation.

`partials(node, out)` gives, for each operand of `node`, the derivative of `node`
with respect to that operand, as an IR expression. `out` stands for the node's own
value, so rules reuse what the forward pass computed (the derivative of `e^v` is the
`y` already computed, not a second exponential). `FUNCTIONS` lists every known
function with its rule; `verify` and the code generator use the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .algebra import MINUS_ONE, ONE, ZERO, add, call, div, mul, neg, pow_, sub
from .ir import Add, Call, Compare, Div, Expr, Mul, Neg, Num, Pow, Sub

Rule = Callable[[tuple[Expr, ...], Expr], tuple[Expr, ...]]


@dataclass(frozen=True, slots=True)
class Function:
    """A known function: how many arguments it takes and its local partials."""

    name: str
    arity: int
    rule: Rule
    latex: str  # how explain writes it: a format string over the arguments


def _square(x: Expr) -> Expr:
    return Pow(x, Num(2.0))


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("exp", 1, lambda a, out: (out,), "e^{{{0}}}"),
        Function("log", 1, lambda a, out: (div(ONE, a[0]),), "\\log {0}"),
        Function("sqrt", 1, lambda a, out: (div(Num(0.5), out),), "\\sqrt{{{0}}}"),
        Function("sin", 1, lambda a, out: (call("cos", a[0]),), "\\sin {0}"),
        Function("cos", 1, lambda a, out: (neg(call("sin", a[0])),), "\\cos {0}"),
        Function("tan", 1, lambda a, out: (add(ONE, _square(out)),), "\\tan {0}"),
        Function("sinh", 1, lambda a, out: (call("cosh", a[0]),), "\\sinh {0}"),
        Function("cosh", 1, lambda a, out: (call("sinh", a[0]),), "\\cosh {0}"),
        Function("tanh", 1, lambda a, out: (sub(ONE, _square(out)),), "\\tanh {0}"),
        Function(
            "arcsin",
            1,
            lambda a, out: (div(ONE, call("sqrt", sub(ONE, _square(a[0])))),),
            "\\arcsin {0}",
        ),
        Function(
            "arccos",
            1,
            lambda a, out: (neg(div(ONE, call("sqrt", sub(ONE, _square(a[0]))))),),
            "\\arccos {0}",
        ),
        Function(
            "arctan",
            1,
            lambda a, out: (div(ONE, add(ONE, _square(a[0]))),),
            "\\arctan {0}",
        ),
        Function(
            "sigmoid", 1, lambda a, out: (mul(out, sub(ONE, out)),), "\\sigma({0})"
        ),
        Function(
            "softplus",
            1,
            lambda a, out: (call("sigmoid", a[0]),),
            "\\log(1 + e^{{{0}}})",
        ),
        Function(
            "relu", 1, lambda a, out: (Compare(">", a[0], ZERO),), "\\max(0, {0})"
        ),
        Function(
            "logaddexp",
            2,
            lambda a, out: (call("exp", sub(a[0], out)), call("exp", sub(a[1], out))),
            "\\log(e^{{{0}}} + e^{{{1}}})",
        ),
        Function("abs", 1, lambda a, out: (call("sign", a[0]),), "\\lvert {0} \\rvert"),
        Function("sign", 1, lambda a, out: (ZERO,), "\\operatorname{sign}({0})"),
        Function(
            "max",
            2,
            lambda a, out: (Compare(">", a[0], a[1]), Compare(">", a[1], a[0])),
            "\\max({0}, {1})",
        ),
        Function(
            "min",
            2,
            lambda a, out: (Compare("<", a[0], a[1]), Compare("<", a[1], a[0])),
            "\\min({0}, {1})",
        ),
    )
}


def partials(node: Expr, out: Expr) -> tuple[Expr, ...]:
    """∂node/∂operand for each operand of `node`, in operand order."""
    match node:
        case Add():
            return (ONE, ONE)
        case Sub():
            return (ONE, MINUS_ONE)
        case Mul(left=left, right=right):
            return (right, left)
        case Div(right=right):
            return (div(ONE, right), neg(div(out, right)))
        case Neg():
            return (MINUS_ONE,)
        case Pow(base=base, exponent=exponent):
            return _power(base, exponent, out)
        case Call(function=function, args=args):
            return FUNCTIONS[function].rule(args, out)
        case Compare():
            return (ZERO, ZERO)
    return ()


def _power(base: Expr, exponent: Expr, out: Expr) -> tuple[Expr, Expr]:
    if isinstance(exponent, Num):
        if exponent.value == 2.0:
            return (mul(Num(2.0), base), ZERO)
        lower = pow_(base, Num(exponent.value - 1.0))
        return (mul(exponent, lower), ZERO)
    by_base = mul(exponent, pow_(base, sub(exponent, ONE)))
    return (by_base, mul(out, call("log", base)))
