"""Share work between the sweeps: what the forward pass computes, the backward reuses.

The derivative of `\\ell = (y - y^{*})^{2}` is `2 (y - y^{*})`; computing `y - y^{*}`
again in the backward sweep costs a pass over the data. This pass finds the parts
of forward expressions that backward steps recompute, names them once in the
forward sweep of `value_and_grad`, and lets the backward steps read the names.
A whole right side is read as its target (`y`, not `e^{v}` again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from .adjoint import Step
from .ir import (
    SIGMOID_GIVEN,
    SOFTPLUS_GIVEN,
    Add,
    Assign,
    Call,
    Compare,
    Const,
    Div,
    Expr,
    Neg,
    Num,
    Pow,
    Sub,
    Sym,
    children,
    symbols,
    walk,
    with_children,
)
from .memory import Statement
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


# ---- one exponential for the sigmoids and softpluses of one argument (floats) --------

_FAMILY = ("sigmoid", "softplus")


@dataclass(frozen=True, slots=True)
class Exponentials:
    """A body's statements with the sigmoids and softpluses of ±z sharing e^{-|z|}:
    `before[i]` are the statements that go before `statements[i]`, each with its z."""

    statements: tuple[Statement, ...]
    before: tuple[tuple[tuple[Statement, Expr], ...], ...]


@dataclass(frozen=True, slots=True)
class _Shared:
    """What the sigmoids and softpluses of ±z read instead of their own exponential:
    `exponential` is e = e^{-|z|} (None on arrays when only softpluses share),
    `logarithm` log(1 + e), and `denominator` 1 + e for a sigmoid on arrays (None on
    floats, which print it inline). `arrays`: numpy's forms, not the math helpers'."""

    exponential: Expr | None
    logarithm: Expr
    denominator: Expr | None = None
    arrays: bool = False


def share_exponentials(
    statements: Sequence[Statement], fresh: Callable[[str], str], arrays: bool = False
) -> Exponentials:
    """Each argument whose sigmoid or softplus (of it or its negation) a body takes
    more than once gets one `e = exp(-abs(z))`, and, for more than one softplus,
    one `log1p(e)`; the calls read them.

    `σ(z) = (1 if z >= 0 else e) / (1 + e)` and `softplus(z) = max(z, 0) + log1p(e)` are
    what the math helpers compute, to the bit, for z and -z alike (their e^{-z} or
    e^{z} is e^{-|z|}); a logistic regression's four exponentials and two logarithms
    become one of each. `fresh(wanted)` names the values added.

    On `arrays` (numpy), softpluses share one `log1p(exp(-abs(z)))`, each then
    `maximum(z, 0) + log1p(...)`, as _softplus computes it. Sigmoids share only
    with a softplus, whose e^{-|z|} is there anyway: σ(z) is then
    `maximum(e, z >= 0) / (1 + e)`, 1 or e by elementwise maximum (np.where, which
    branches on every element, took 3.8 ms at 10^6 against 0.9), one pass for the
    test, one for the maximum and one for the division instead of _sigmoid's four
    (of them an exponential), and with `1 + e` shared by the sigmoids of ±z. For
    z >= 0 it gives _sigmoid's bits; for any z it is within two ulps of the exact
    value in float64 (tests/test_exponentials.py). The sigmoids of ±z alone keep
    _sigmoid: e^{-|z|} costs two passes more than the exponential it would save.
    """
    calls = _family_calls_keyed(statements)
    # key -> (statement index, function, argument) of each call
    sites: dict[tuple, list[tuple[int, str, Expr]]] = {}
    for index, found in enumerate(calls):
        for function, key, argument in found:
            if key is not None:
                sites.setdefault(key, []).append((index, function, argument))
    given: dict[tuple, _Shared] = {}  # key -> what σ, softplus read
    before: list[list[tuple[Statement, Expr]]] = [[] for _ in statements]
    for key, uses in sites.items():
        softpluses = [index for index, function, _ in uses if function == "softplus"]
        sigmoids = [index for index, function, _ in uses if function == "sigmoid"]
        if len(uses) < 2 or (arrays and not softpluses):
            continue
        base = key[0]
        first, _, argument = uses[0]
        z = _stripped(argument)
        exponential = Call("exp", (Neg(Call("abs", (z,))),))
        if arrays and not sigmoids:
            shared = fresh(f"log1p_e_{z.name}" if isinstance(z, Sym) else "log1p_e")
            statement = Statement(shared, Call("log1p", (exponential,)))
            before[first].append((statement, z))
            given[key] = _Shared(None, Sym(shared), arrays=True)
            continue
        e = Sym(fresh(f"e_{base.name}" if isinstance(base, Sym) else "e"))
        before[first].append((Statement(e.name, exponential), z))
        logarithm: Expr = Call("log1p", (e,))
        if len(softpluses) > 1:
            shared = fresh(f"log1p_{e.name}")
            before[softpluses[0]].append((Statement(shared, logarithm), z))
            logarithm = Sym(shared)
        denominator: Expr | None = None
        if arrays:
            denominator = Add(Num(1.0), e)
            if len(sigmoids) > 1:
                shared = fresh(f"one_plus_{e.name}")
                before[sigmoids[0]].append((Statement(shared, denominator), z))
                denominator = Sym(shared)
        given[key] = _Shared(e, logarithm, denominator, arrays)
    rewritten = tuple(
        replace(s, value=_given(s.value, iter(found), given)) if found else s
        for s, found in zip(statements, calls, strict=True)
    )
    return Exponentials(rewritten, tuple(tuple(b) for b in before))


def _family_calls_keyed(
    statements: Sequence[Statement],
) -> list[list[tuple[str, tuple | None, Expr]]]:
    """For each statement, its sigmoid and softplus calls as (function, key,
    argument): the key is the argument without its sign (a name `t = -z` read as
    `z`) and the version of every name it reads (a name assigned again is another
    value), or None for an argument that itself holds a sigmoid or softplus."""
    versions: dict[str, int] = {}
    negations: dict[str, tuple | None] = {}  # t -> key of z, for `t = -z`
    found: list[list[tuple[str, tuple | None, Expr]]] = []

    def key_of(argument: Expr) -> tuple | None:
        base = _stripped(argument)
        if isinstance(base, Sym) and base.name in negations:
            return negations[base.name]
        if _family_calls(base):  # σ(σ(a)): left to the helper (share names σ(a))
            return None
        return (base, tuple((s.name, versions.get(s.name, 0)) for s in symbols(base)))

    for statement in statements:
        found.append(
            [
                (c.function, key_of(c.args[0]), c.args[0])
                for c in _family_calls(statement.value)
            ]
        )
        negations.pop(statement.target, None)
        versions[statement.target] = versions.get(statement.target, 0) + 1
        if isinstance(statement.value, Neg):
            negations[statement.target] = key_of(statement.value)
    return found


def _stripped(expr: Expr) -> Expr:
    return expr.operand if isinstance(expr, Neg) else expr


def _family_calls(expr: Expr) -> list[Call]:
    """The sigmoid and softplus calls in `expr`, parents first, left to right."""
    return [
        node
        for node in walk(expr)
        if isinstance(node, Call) and node.function in _FAMILY and len(node.args) == 1
    ]


def _given(expr: Expr, calls: Iterator[tuple], given: dict[tuple, _Shared]) -> Expr:
    """`expr` with each sigmoid and softplus whose key (that of the next of `calls`,
    taken parents first like _family_calls) has a shared e reading it."""
    key = None
    if isinstance(expr, Call) and expr.function in _FAMILY and len(expr.args) == 1:
        _, key, _ = next(calls)
    new = with_children(expr, [_given(c, calls, given) for c in children(expr)])
    if key not in given:
        return new
    shared = given[key]
    z = new.args[0]
    if new.function == "sigmoid":  # a sigmoid shares only where e does
        if shared.arrays:  # max(e, [z >= 0]) / (1 + e)
            test = Compare(">=", z, Num(0.0), expr.span, expr.shape)
            numerator = Call("max", (shared.exponential, test), expr.span, expr.shape)
            return Div(numerator, shared.denominator, expr.span, expr.shape)
        return Call(SIGMOID_GIVEN, (z, shared.exponential), expr.span, expr.shape)
    if shared.arrays:  # max(z, 0) + log1p(e^-|z|), as _softplus
        positive = Call("max", (z, Num(0.0)), expr.span, expr.shape)
        return Add(positive, shared.logarithm, expr.span, expr.shape)
    return Call(SOFTPLUS_GIVEN, (z, shared.logarithm), expr.span, expr.shape)
