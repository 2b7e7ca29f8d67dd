"""Numerically stable forms of what documents write by hand.

`\\frac{1}{1 + e^{-z}}` overflows for z = -1000 when computed as written, and so does
`\\log(1 + e^{z})` for z = 1000. This pass recognises such forms in a program's
assignments and replaces them by the functions that compute the same value without
overflow (sigmoid, softplus, logaddexp), whose derivatives are stable too.

A quotient written with a power (`a \\cdot b^{-1}`, which prints as `a / b` anyway)
becomes a quotient, whose derivative reuses it (`-f / b`) where the power's would
compute `b^{-2}` again.
"""

from __future__ import annotations

from dataclasses import replace

from .algebra import neg
from .ir import (
    Add,
    Call,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Pow,
    Program,
    Sub,
    Sym,
    children,
    with_children,
)


def stabilize(program: Program) -> Program:
    """`program` with each assignment's value in a stable form.

    `\\log p` where an earlier assignment made `p = \\sigma(u)` reads `u` directly
    (`-softplus(-u)`), so a cross-entropy written in stages stays finite too.
    """
    sigmoids: dict[str, Expr] = {}
    assigns = []
    for assign in program.assigns:
        value = rewrite(assign.value, sigmoids)
        if isinstance(value, Call) and value.function == "sigmoid":
            sigmoids[assign.target.name] = value.args[0]
        assigns.append(replace(assign, value=value))
    return replace(program, assigns=tuple(assigns))


def rewrite(expr: Expr, sigmoids: dict[str, Expr] | None = None) -> Expr:
    """`expr` with its unstable sub-expressions replaced, innermost first."""
    sigmoids = sigmoids or {}
    expr = with_children(expr, [rewrite(c, sigmoids) for c in _operands(expr)])
    expr = _quotient(expr)
    return _signs(_log_of_sigmoid(expr, sigmoids) or _stable(expr))


def _signs(expr: Expr) -> Expr:
    """Negations moved out of products and into differences, and cancelled in pairs:
    `-(y (-a) + t (-b))`, what a cross-entropy becomes above, is
    `y a + t b`. Each rule gives the same floating-point number (negation is exact
    and rounding symmetric), up to the sign of a zero result (`-(a - b)` is -0 where
    `b - a` is 0); each negation it saves is a pass over the data."""
    at = (expr.span, expr.shape)
    match expr:
        case Neg(operand=Neg(operand=inner)):
            return inner
        case Neg(operand=Sub(left=a, right=b)):
            return Sub(b, a, *at)
        case Mul(left=Neg(operand=a), right=Neg(operand=b)):
            return Mul(a, b, *at)
        case Mul(left=a, right=Neg(operand=b)) | Mul(left=Neg(operand=a), right=b):
            return Neg(Mul(a, b, *at), *at)
        case Div(left=Neg(operand=a), right=Neg(operand=b)):
            return Div(a, b, *at)
        case Div(left=a, right=Neg(operand=b)) | Div(left=Neg(operand=a), right=b):
            return Neg(Div(a, b, *at), *at)
        case Add(left=Neg(operand=a), right=Neg(operand=b)):
            return Neg(Add(a, b, *at), *at)
        case Add(left=a, right=Neg(operand=b)):
            return Sub(a, b, *at)
        case Add(left=Neg(operand=a), right=b):
            return Sub(b, a, *at)
        case Sub(left=a, right=Neg(operand=b)):
            return Add(a, b, *at)
        case Sub(left=Neg(operand=a), right=b):
            return Neg(Add(a, b, *at), *at)
    return expr


def _quotient(expr: Expr) -> Expr:
    """`a b^{-1}` as `a / b`: the same value, rounded the same way."""
    match expr:
        case Mul(left=left, right=Pow(base=base, exponent=Num(value=-1.0))):
            return Div(left, base, expr.span)
    return expr


def _log_of_sigmoid(expr: Expr, sigmoids: dict[str, Expr]) -> Expr | None:
    """log(sigmoid(u)) is -softplus(-u); log(1 - sigmoid(u)) is -softplus(u)."""
    if not (isinstance(expr, Call) and expr.function == "log"):
        return None
    (argument,) = expr.args
    u = _sigmoid_argument(argument, sigmoids)
    if u is not None:
        return Neg(Call("softplus", (_negated(u),), expr.span), expr.span)
    if isinstance(argument, Sub) and argument.left == Num(1.0):
        u = _sigmoid_argument(argument.right, sigmoids)
        if u is not None:
            return Neg(Call("softplus", (u,), expr.span), expr.span)
    return None


def _sigmoid_argument(expr: Expr, sigmoids: dict[str, Expr]) -> Expr | None:
    if isinstance(expr, Call) and expr.function == "sigmoid":
        return expr.args[0]
    if isinstance(expr, Sym):
        return sigmoids.get(expr.name)
    return None


def _operands(expr: Expr) -> list[Expr]:
    return list(children(expr))


def _stable(expr: Expr) -> Expr:
    match expr:
        # 1 / (1 + e^{u})  ->  sigmoid(-u); with e^{-u}: sigmoid(u)
        case Div(left=Num(value=1.0), right=denominator) if _one_plus_exp(denominator):
            power = _one_plus_exp(denominator)
            return Call("sigmoid", (_negated(power),), expr.span)
        # e^{u} / (1 + e^{u})  ->  sigmoid(u)
        case Div(left=Call(function="exp", args=(top,)), right=denominator) if (
            _one_plus_exp(denominator) == top
        ):
            return Call("sigmoid", (top,), expr.span)
        # log(1 + e^{u})  ->  softplus(u)
        case Call(function="log", args=(argument,)) if _one_plus_exp(argument):
            return Call("softplus", (_one_plus_exp(argument),), expr.span)
        # log(e^{a} + e^{b})  ->  logaddexp(a, b)
        case Call(
            function="log",
            args=(
                Add(
                    left=Call(function="exp", args=(a,)),
                    right=Call(function="exp", args=(b,)),
                ),
            ),
        ):
            return Call("logaddexp", (a, b), expr.span)
        # log(e^{a} + e^{b} + e^{c} ...)  ->  logaddexp(logaddexp(a, b), c) ...
        case Call(function="log", args=(argument,)) if len(_exp_terms(argument)) > 2:
            first, second, *rest = _exp_terms(argument)
            result = Call("logaddexp", (first, second), expr.span)
            for term in rest:
                result = Call("logaddexp", (result, term), expr.span)
            return result
        # e^{a} / (e^{a} + e^{b})  ->  sigmoid(a - b)  (a softmax of two)
        case Div(
            left=Call(function="exp", args=(top,)),
            right=Add(
                left=Call(function="exp", args=(p,)),
                right=Call(function="exp", args=(q,)),
            ),
        ) if top in (p, q):
            other = q if p == top else p
            return Call("sigmoid", (Sub(top, other, expr.span),), expr.span)
        # (e^{u} - e^{-u}) / (e^{u} + e^{-u})  ->  tanh(u)
        case Div(
            left=Sub(
                left=Call(function="exp", args=(u,)),
                right=Call(function="exp", args=(v,)),
            ),
            right=Add(
                left=Call(function="exp", args=(u2,)),
                right=Call(function="exp", args=(v2,)),
            ),
        ) if (u2, v2) == (u, v) and v == _negated(u):
            return Call("tanh", (u,), expr.span)
    return expr


def _exp_terms(expr: Expr) -> list[Expr]:
    """[a, b, c] when `expr` is a sum e^{a} + e^{b} + e^{c} (1 is e^{0}); else []."""
    match expr:
        case Add(left=left, right=right):
            left_terms, right_terms = _exp_terms(left), _exp_terms(right)
            return left_terms + right_terms if left_terms and right_terms else []
        case Call(function="exp", args=(u,)):
            return [u]
        case Num(value=1.0):
            return [Num(0.0, expr.span)]
    return []


def _one_plus_exp(expr: Expr) -> Expr | None:
    """u when `expr` is 1 + e^{u} or e^{u} + 1."""
    match expr:
        case Add(left=Num(value=1.0), right=Call(function="exp", args=(u,))):
            return u
        case Add(left=Call(function="exp", args=(u,)), right=Num(value=1.0)):
            return u
    return None


def _negated(expr: Expr) -> Expr:
    return expr.operand if isinstance(expr, Neg) else neg(expr)
