"""Constant factors of adjoints, kept apart until a gradient is made.

The derivative of `\\ell = (y - y^{*})^{2}` is `2 (y - y^{*})`; multiplying by the
2 costs a pass over the data, and so does every `-` the chain rule passes on
(`d_y_star = -d_y`). A careful programmer keeps such numbers aside and applies them
once, to the gradients, where for a weight it costs nothing (`2 * np.dot(...)`).

This pass walks the backward steps in order and writes each one as `factor * core`,
the factor a plain number: a step stores its core, and readers of its name see
`factor * name`. Factors combine through products, quotients, negations and
integer powers, and through a sum whose terms carry the same factor (or opposite
ones: a difference); anywhere else (a function's argument, a sum of unlike terms)
the factor is applied there. A step whose core is a name or a number is no
statement at all (`d_y = 2 * y_minus_y_star` is `y_minus_y_star`, times 2).

Only backward steps change: the forward sweep, which computes the output, is left
exactly as written. Factors of 2 and -1, the usual ones, are exact in floating
point; others may change the last bit of a gradient.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .adjoint import Step
from .algebra import ONE, add, div, mul, neg, sub
from .ir import (
    Add,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Pow,
    Sub,
    Sym,
    children,
    symbols,
    with_children,
)


@dataclass(frozen=True, slots=True)
class Gradient:
    """The gradient of `symbol` is `factor * value` (None for a gradient of 0)."""

    symbol: Sym
    factor: float
    value: Expr | None


@dataclass(frozen=True, slots=True)
class Scaled:
    """The backward steps with their factors apart, and the gradients."""

    steps: tuple[Step, ...]
    factors: tuple[float, ...]  # per step: the derivative is factor * target
    gradients: tuple[Gradient, ...]
    # steps that are no statement (a multiple of a name or a number), as
    # `target = factor * core`, each with the index in `steps` it comes before
    folded: tuple[tuple[int, Step], ...] = ()


def scale(
    steps: Sequence[Step],
    gradients: Sequence[tuple[Sym, Expr | None]],
    carry: bool = True,
) -> Scaled:
    """Take the constant factors out of `steps` and carry them to `gradients`.

    A factor that would be applied in two or more places (`d_x = -2 d_t + a`,
    `d_y = -2 d_t + b`) is applied once instead, where its step is computed.
    Without `carry`, every step and gradient stays as it is, with factor 1.
    """
    if not carry:
        return Scaled(
            tuple(steps),
            (1.0,) * len(steps),
            tuple(Gradient(s, 1.0, e) for s, e in gradients),
        )
    at_definition: set[int] = set()
    while True:
        scaled, applied = _scale(steps, gradients, at_definition)
        again = {i for i, count in applied.items() if count > 1} - at_definition
        if not again:
            return scaled
        at_definition |= again


def _scale(
    steps: Sequence[Step],
    gradients: Sequence[tuple[Sym, Expr | None]],
    at_definition: set[int],
) -> tuple[Scaled, Counter[int]]:
    """One pass of `scale`; the steps listed in `at_definition` apply their factor
    themselves. Also returns how often each step's factor is applied elsewhere."""
    last = _last_assigned(steps)
    known: dict[str, tuple[float, Expr]] = {}  # name -> (factor, what it stands for)
    defined: dict[str, int] = {}  # name -> the step that gave it its value
    applied: Counter[int] = Counter()
    kept: list[Step] = []
    factors: list[float] = []
    folded: list[tuple[int, Step]] = []
    for index, step in enumerate(steps):
        materialized: list[Expr] = []
        factor, core = _split(step.value, known, materialized)
        for expr in materialized:
            applied.update(
                {defined[s.name] for s in symbols(expr) if s.name in defined}
            )
        defined[step.target] = index
        if index in at_definition and factor != 1.0:
            factor, core = 1.0, _apply(factor, core)
        if core == ONE or (isinstance(core, Sym) and last.get(core.name, -1) <= index):
            known[step.target] = (factor, core)  # no statement: a number, or a name
            folded.append((len(kept), replace(step, value=_apply(factor, core))))
            continue
        kept.append(replace(step, value=core))
        factors.append(factor)
        known[step.target] = (factor, Sym(step.target))
    found = []
    for symbol, value in gradients:
        if value is None:
            found.append(Gradient(symbol, 1.0, None))
            continue
        factor, core = _split(value, known, [])
        if core == ONE:
            factor, core = 1.0, Num(factor)
        found.append(Gradient(symbol, factor, core))
    scaled = Scaled(tuple(kept), tuple(factors), tuple(found), tuple(folded))
    return scaled, applied


def _last_assigned(steps: Sequence[Step]) -> dict[str, int]:
    """The index of the last step that assigns each name (an alias of a name that
    a later step assigns would change with it)."""
    return {step.target: index for index, step in enumerate(steps)}


def _split(
    expr: Expr, known: dict[str, tuple[float, Expr]], materialized: list[Expr]
) -> tuple[float, Expr]:
    """`expr` as `factor * core`; `core` is ONE when `expr` is a number. Each core
    whose factor had to be applied on the spot is added to `materialized`."""

    def split(e: Expr) -> tuple[float, Expr]:
        return _split(e, known, materialized)

    def apply(factor: float, core: Expr) -> Expr:
        if factor != 1.0 and core != ONE:
            materialized.append(core)
        return _apply(factor, core)

    match expr:
        case Num(value=value):
            return value, ONE
        case Sym(name=name):
            return known.get(name, (1.0, expr))
        case Neg(operand=operand):
            factor, core = split(operand)
            return -factor, core
        case Mul(left=left, right=right):
            (a, x), (b, y) = split(left), split(right)
            if _ordinary(a * b):
                return a * b, mul(x, y)
            return 1.0, mul(apply(a, x), apply(b, y))
        case Div(left=left, right=right):
            (a, x), (b, y) = split(left), split(right)
            if b != 0.0 and _ordinary(a / b):
                return a / b, div(x, y)
            return 1.0, div(apply(a, x), apply(b, y))
        case Add(left=left, right=right) | Sub(left=left, right=right):
            (a, x), (b, y) = split(left), split(right)
            sign = -1.0 if isinstance(expr, Sub) else 1.0
            if x != ONE and y != ONE:
                if a == sign * b:
                    return a, add(x, y)
                if a == -sign * b:
                    return a, sub(x, y)
            combine = sub if isinstance(expr, Sub) else add
            return 1.0, combine(apply(a, x), apply(b, y))
        case Pow(base=base, exponent=Num(value=n)) if _small_integer(n):
            factor, core = split(base)
            if core != ONE and _ordinary(factor) and _ordinary(factor**n):
                return factor**n, Pow(core, Num(n))
            return 1.0, Pow(apply(factor, core), Num(n))
    operands = children(expr)
    if not operands:
        return 1.0, expr
    return 1.0, with_children(expr, [apply(*split(c)) for c in operands])


def _ordinary(factor: float) -> bool:
    """A factor worth carrying: not 0, and not so large or small that carrying it
    could overflow where the expression as written would not."""
    return 1e-16 < abs(factor) < 1e16


def _small_integer(n: float) -> bool:
    return math.isfinite(n) and n == int(n) and abs(n) <= 16


def _apply(factor: float, core: Expr) -> Expr:
    """`factor * core` as one expression."""
    if core == ONE:
        return Num(factor)
    if factor == -1.0:
        return neg(core)
    return mul(Num(factor), core)
