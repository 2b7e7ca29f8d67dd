"""Check the derivatives a document states against the ones its equations give.

A claim `∂a/∂b = s_1 = s_2 ...` is right when every side equals ∂a/∂b as the reverse
sweep computes it (`adjoint.derivative_of`, the same rules the generated code uses):
first by structure, then at several random points where the equations and the
side are defined. A wrong claim becomes an error that says what the document
states, what the equations give (as readable LaTeX), and, when the side is a
product matching the chain rule, which factor is wrong.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .adjoint import derivative_of
from .errors import EqError, Note, Span
from .evaluate import Undefined, evaluate
from .graph import order
from .ir import (
    Assign,
    Call,
    Claim,
    Derivative,
    Expr,
    Mul,
    Num,
    Statement,
    Sym,
    symbols,
    walk,
)
from .latex import Style, to_latex
from .scopes import split

_POINTS = 6
_ATTEMPTS = 300
_REL, _ABS = 1e-6, 1e-9


@dataclass(frozen=True, slots=True)
class Report:
    """What verify found in one document."""

    checked: int
    wrong: tuple[EqError, ...]
    problems: tuple[EqError, ...] = ()  # claims that could not be checked
    right: tuple[Claim, ...] = field(default=(), compare=False)


def verify(
    statements: Sequence[Statement], text: str, style: Style | None = None
) -> Report:
    """Check every claim among `statements` (the document's, in order)."""
    style = style or Style()
    lines = text.split("\n")
    wrong: list[EqError] = []
    problems: list[EqError] = []
    right: list[Claim] = []
    claims = [s for s in statements if isinstance(s, Claim)]
    for scope in split(statements):
        in_scope = [s for s in scope.statements if isinstance(s, Claim)]
        if not in_scope:
            continue
        # notebook semantics: the definitions in force where the claims stand
        checker = _Checker(order(scope.definitions), lines, style)
        _check_all(checker, in_scope, wrong, problems, right)
    return Report(
        len(claims) - len(problems), tuple(wrong), tuple(problems), tuple(right)
    )


def _check_all(
    checker: _Checker,
    claims: list[Claim],
    wrong: list[EqError],
    problems: list[EqError],
    right: list[Claim],
) -> None:
    for claim in claims:
        unknown = list(checker.unknown_symbols(claim))
        if unknown:
            problems.extend(unknown)
            continue
        error = checker.check(claim)
        if error is None:
            right.append(claim)
        elif error.severity == "warning":
            problems.append(error)
        else:
            wrong.append(error)
    return Report(
        len(claims) - len(problems), tuple(wrong), tuple(problems), tuple(right)
    )


class _Checker:
    def __init__(
        self, assigns: tuple[Assign, ...], lines: list[str], style: Style
    ) -> None:
        self.assigns = assigns
        self.by_name = {a.target.name: a for a in assigns}
        self.lines = lines
        self.style = style
        self.known = {a.target.name for a in assigns} | {
            s.name for a in assigns for s in symbols(a.value)
        }
        self.inputs = sorted(self.known - set(self.by_name))
        self.points = list(_sample_points(assigns, self.inputs))
        self._derivatives: dict[tuple[str, str], Expr] = {}

    # ---- what a claim names

    def unknown_symbols(self, claim: Claim) -> Iterator[EqError]:
        for root in (claim.derivative, *claim.sides):
            for node in walk(root):
                names = [node.of, node.wrt] if isinstance(node, Derivative) else [node]
                for sym in names:
                    if isinstance(sym, Sym) and sym.name not in self.known:
                        yield EqError(
                            f"unknown symbol {sym.latex}: no equation of this document "
                            "defines or uses it, so this claim cannot be checked",
                            sym.span,
                        )

    def derivative(self, of: Sym, wrt: Sym) -> Expr:
        key = (of.name, wrt.name)
        if key not in self._derivatives:
            self._derivatives[key] = derivative_of(self.assigns, of, wrt)
        return self._derivatives[key]

    # ---- checking

    def check(self, claim: Claim) -> EqError | None:
        derived = self.derivative(claim.derivative.of, claim.derivative.wrt)
        for side in claim.sides:
            verdict = self._compare(side, derived)
            if verdict is False:
                return self._wrong(claim, side, derived)
            if verdict is None:
                return EqError(
                    f"could not check {self._source(claim.derivative.span)}: no point was "
                    "found where both sides are defined",
                    claim.span,
                    severity="warning",
                )
        return None

    def _compare(self, side: Expr, derived: Expr) -> bool | None:
        """True if equal, False if not, None if no point decides it."""
        if side == derived:
            return True
        tried = 0
        for env in self.points:
            try:
                stated = evaluate(side, env, self._value_of(env))
                expected = evaluate(derived, env)
            except Undefined:
                continue
            tried += 1
            if not math.isclose(stated, expected, rel_tol=_REL, abs_tol=_ABS):
                return False
        return True if tried else None

    def _value_of(self, env: dict[str, float]):
        def value(node: Derivative) -> float:
            return evaluate(self.derivative(node.of, node.wrt), env)

        return value

    # ---- saying what is wrong

    def _wrong(self, claim: Claim, side: Expr, derived: Expr) -> EqError:
        of, wrt = claim.derivative.of, claim.derivative.wrt
        stated = self._source(side.span) or to_latex(side, self.style)
        written = self._source(claim.derivative.span)
        message = (
            f"{written} is stated as {stated}, but {self._gives(of, wrt, derived)}"
        )
        hint = self._wrong_factor(side, of, wrt)
        if hint:
            message += f"; {hint}"
        notes = (Note("this side is wrong", side.span),) if len(claim.sides) > 1 else ()
        return EqError(message, claim.derivative.span, notes)

    def _gives(self, of: Sym, wrt: Sym, derived: Expr) -> str:
        value = to_latex(derived, self.style)
        assign = self.by_name.get(of.name)
        if assign is None:
            return (
                f"{of.latex} is an input, so its derivative by {wrt.latex} is {value}"
            )
        if derived == Num(0.0) and not self._depends(of.name, wrt.name):
            return f"{assign.latex} does not depend on {wrt.latex}: the derivative is 0"
        direct = any(s.name == wrt.name for s in symbols(assign.value))
        if direct and len(list(self._paths(of.name, wrt.name))) == 1:
            return f"{assign.latex} gives {value}"
        return f"the equations from {of.latex} back to {wrt.latex} give {value}"

    def _depends(self, of: str, wrt: str) -> bool:
        return any(True for _ in self._paths(of, wrt))

    def _paths(self, of: str, wrt: str) -> Iterator[list[tuple[Assign, int]]]:
        """Each path from `of` down to `wrt`: (assignment, operand position) steps."""
        assign = self.by_name.get(of)
        if assign is None:
            return
        for step, operand in _operand_edges(assign):
            if operand.name == wrt:
                yield [step]
            elif operand.name in self.by_name:
                for rest in self._paths(operand.name, wrt):
                    yield [step, *rest]

    def _wrong_factor(self, side: Expr, of: Sym, wrt: Sym) -> str | None:
        """For a product matching the chain rule along one path: the factor that differs."""
        paths = list(self._paths(of.name, wrt.name))
        if len(paths) != 1 or not isinstance(side, Mul):
            return None
        stated = [f for f in _factors(side) if f != Num(1.0)]
        expected = [
            (edge, local, factor)
            for edge in paths[0]
            for local in [_edge_partial(edge)]
            for factor in _factors(local)
            if factor != Num(1.0)
        ]
        if len(stated) != len(expected):
            return None
        unmatched = list(expected)
        odd = []
        for factor in stated:
            match = next(
                (item for item in unmatched if self._compare(factor, item[2]) is True),
                None,
            )
            if match is None:
                odd.append(factor)
            else:
                unmatched.remove(match)
        if len(odd) != 1 or len(unmatched) != 1:
            return None
        (edge, local, _), factor = unmatched[0], odd[0]
        shown = self._source(factor.span) or to_latex(factor, self.style)
        return (
            f"the factor {shown} should be {to_latex(local, self.style)}, "
            f"{_edge_name(edge, self.style)}"
        )

    def _source(self, span: Span) -> str:
        return source_text(self.lines, span)


def _operand_edges(assign: Assign) -> Iterator[tuple[tuple[Assign, Sym], Sym]]:
    seen: set[str] = set()
    for sym in symbols(assign.value):
        if sym.name not in seen:
            seen.add(sym.name)
            yield (assign, sym), sym


def _edge_partial(edge: tuple[Assign, Sym]) -> Expr:
    """The local partial of one edge: the derivative of the assignment's expression."""
    assign, operand = edge
    return derivative_of((assign,), assign.target, operand)


def _edge_name(edge: tuple[Assign, Sym], style: Style) -> str:
    assign, operand = edge
    value = assign.value
    if isinstance(value, Call) and len(value.args) == 1:
        function = to_latex(Call(value.function, (Sym("u", "u"),)), style)
        return f"the derivative of {function.replace('(u)', '').replace('{u}', '{}')}"
    return (
        f"the derivative of {assign.target.latex} by {operand.latex} in {assign.latex}"
    )


def _factors(expr: Expr) -> list[Expr]:
    if isinstance(expr, Mul):
        return _factors(expr.left) + _factors(expr.right)
    return [expr]


def _sample_points(assigns: Sequence[Assign], inputs: Sequence[str]) -> Iterator[dict]:
    """Points where every equation is defined: inputs drawn at random, then forward."""
    rng = random.Random(20261128)
    found = 0
    for attempt in range(_ATTEMPTS):
        low, high = (0.2, 1.8) if attempt % 2 == 0 else (-1.8, 1.8)
        env = {name: rng.uniform(low, high) for name in inputs}
        try:
            for assign in assigns:
                env[assign.target.name] = evaluate(assign.value, env)
        except Undefined:
            continue
        yield env
        found += 1
        if found == _POINTS:
            return


def source_text(lines: Sequence[str], span: Span) -> str:
    """The document text a span covers, on one line."""
    start, end = span.start, span.end
    if not 1 <= start.line <= len(lines):
        return ""
    if start.line == end.line:
        return lines[start.line - 1][start.col - 1 : end.col - 1].strip()
    parts = [lines[start.line - 1][start.col - 1 :]]
    parts += lines[start.line : end.line - 1]
    if end.line <= len(lines):
        parts.append(lines[end.line - 1][: end.col - 1])
    return " ".join(p.strip() for p in parts).strip()
