"""Share work between the sweeps: what the forward pass computes, the backward reuses.

The derivative of `\\ell = (y - y^{*})^{2}` is `2 (y - y^{*})`; computing `y - y^{*}`
again in the backward sweep costs a pass over the data. This pass finds the parts
of forward expressions that backward steps recompute, names them once in the
forward sweep of `value_and_grad`, and lets the backward steps read the names.
A whole right side is read as its target (`y`, not `e^{v}` again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .adjoint import Step
from .ir import (
    Add,
    Assign,
    Call,
    Const,
    Expr,
    Num,
    Pow,
    Sub,
    Sym,
    children,
    walk,
    with_children,
)
from .names import Namer


@dataclass(frozen=True, slots=True)
class Shared:
    """The forward sweep with named shared parts, and the backward sweep reading them."""

    assigns: tuple[Assign, ...]
    steps: tuple[Step, ...]
    gradients: tuple[tuple[Sym, Expr | None], ...]


def share(
    assigns: Sequence[Assign],
    steps: Sequence[Step],
    gradients: Sequence[tuple[Sym, Expr | None]],
    namer: Namer,
) -> Shared:
    """Name each forward sub-expression that the backward steps recompute."""
    whole = {a.value: a.target for a in assigns if not _atomic(a.value)}
    inner: dict[Expr, int] = {}
    for index, assign in enumerate(assigns):
        for node in walk(assign.value):
            if node is not assign.value and not _atomic(node):
                inner.setdefault(node, index)
    named: dict[Expr, Sym] = {}

    def reuse(expr: Expr) -> Expr:
        if _atomic(expr):
            return expr
        if expr in whole:
            return whole[expr]
        if expr in inner:
            if expr not in named:
                named[expr] = Sym(namer.fresh(_name_for(expr)))
            return named[expr]
        return with_children(expr, [reuse(c) for c in children(expr)])

    new_steps = tuple(replace(s, value=reuse(s.value)) for s in steps)
    new_gradients = tuple((s, None if e is None else reuse(e)) for s, e in gradients)
    return Shared(_hoist(assigns, named, inner), new_steps, new_gradients)


def _hoist(
    assigns: Sequence[Assign], named: dict[Expr, Sym], inner: dict[Expr, int]
) -> tuple[Assign, ...]:
    """The forward assignments, each preceded by its named parts (innermost first)."""
    parts_of: dict[int, list[Expr]] = {}
    for part in named:
        parts_of.setdefault(inner[part], []).append(part)
    result: list[Assign] = []
    for index, assign in enumerate(assigns):
        parts = parts_of.get(index, [])
        parts.sort(key=lambda e: sum(1 for _ in walk(e)))  # smaller parts first
        for part in parts:
            value = _replace_parts(part, named, skip=part)
            result.append(replace(assign, target=named[part], value=value, params=()))
        result.append(replace(assign, value=_replace_parts(assign.value, named)))
    return tuple(result)


def _replace_parts(
    expr: Expr, named: dict[Expr, Sym], skip: Expr | None = None
) -> Expr:
    if expr is not skip and expr in named:
        return named[expr]
    if _atomic(expr):
        return expr
    return with_children(expr, [_replace_parts(c, named) for c in children(expr)])


def _atomic(expr: Expr) -> bool:
    """Names and numbers; and constants (`1 / 3`), which stay Python floats inline
    (a numpy float64 temporary would turn float32 arrays into float64)."""
    if isinstance(expr, (Sym, Num, Const)):
        return True
    if isinstance(expr, Pow) and expr.exponent == Num(-1.0):
        return True  # `p x^{-1}` prints as `p / x`: named, it would round differently
    return not any(isinstance(node, Sym) for node in walk(expr))


def _name_for(expr: Expr) -> str:
    """A readable name: `y_minus_y_star`, `exp_v`; `t` otherwise."""
    match expr:
        case Sub(left=Sym(name=a), right=Sym(name=b)):
            return f"{a}_minus_{b}"
        case Add(left=Sym(name=a), right=Sym(name=b)):
            return f"{a}_plus_{b}"
        case Call(function=function, args=(Sym(name=a),)):
            return f"{function}_{a}"
    return "t"
