"""A document as a sequence of programs, and the choice of one to compile.

Lecture notes define `f` in one block and a different `f` in the next. Read in
document order, an assignment that redefines a symbol differently starts a new
scope (an identical repeat does not). Definitions stay in force until redefined,
as in a notebook: a scope sees its own definitions and those carried from earlier
scopes. A claim is checked against the definitions of its scope; `compile` picks
one program by output, by `output@LINE`, by section heading, or because the
document holds only one.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .adjoint import substitute
from .errors import EqError, EqErrors, Note, UsageError
from .evaluate import Undefined, evaluate
from .ir import Assign, Expr, Statement, Sym, symbols
from .source import Heading


@dataclass(frozen=True, slots=True)
class Scope:
    """A run of statements with one definition per symbol."""

    index: int
    statements: tuple[Statement, ...]
    own: tuple[Assign, ...]  # this scope's assignments, repeats merged
    carried: tuple[Assign, ...]  # definitions in force from earlier scopes
    starts_at: Assign | None  # the redefinition that opened it (None for the first)

    @property
    def definitions(self) -> tuple[Assign, ...]:
        """Everything in force here: carried definitions, then this scope's own."""
        own = {a.target.name for a in self.own}
        return tuple(a for a in self.carried if a.target.name not in own) + self.own

    @property
    def lines(self) -> tuple[int, int]:
        spans = [s.span for s in self.statements]
        return min(s.start.line for s in spans), max(s.end.line for s in spans)

    def sinks(self) -> tuple[Assign, ...]:
        """This scope's own assignments that nothing in force reads."""
        read = {s.name for a in self.definitions for s in symbols(a.value)}
        return tuple(a for a in self.own if a.target.name not in read)


def split(statements: Sequence[Statement]) -> tuple[Scope, ...]:
    """The scopes of a document, in order."""
    scopes: list[Scope] = []
    carried: dict[str, Assign] = {}
    own: dict[str, Assign] = {}
    current: list[Statement] = []
    opened_by: Assign | None = None
    for statement in statements:
        if isinstance(statement, Assign):
            earlier = own.get(statement.target.name)
            if earlier is not None and earlier != statement:
                scopes.append(_scope(len(scopes), current, own, carried, opened_by))
                carried = {**carried, **own}
                own, current, opened_by = {}, [], statement
            own.setdefault(statement.target.name, statement)
        current.append(statement)
    if current or not scopes:
        scopes.append(_scope(len(scopes), current, own, carried, opened_by))
    return tuple(scopes)


def _scope(
    index: int,
    statements: list[Statement],
    own: dict[str, Assign],
    carried: dict[str, Assign],
    opened_by: Assign | None,
) -> Scope:
    return Scope(
        index,
        tuple(statements),
        tuple(own.values()),
        tuple(carried.values()),
        opened_by,
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """The definitions a program is built from, and where to look for its output."""

    definitions: tuple[Assign, ...]
    candidates: tuple[Assign, ...]  # assignments whose sinks may be the output
    output: str | None  # a Python or LaTeX name, or None for the one sink
    stale: tuple[
        tuple[Assign, Assign], ...
    ] = ()  # (carried, a redefinition it predates)
    parameters: Mapping[str, tuple[Sym, ...]] = field(default_factory=dict)
    """`f(x, y)` of an earlier definition of f: the input order when `f = ...` has none."""


def select(
    scopes: Sequence[Scope],
    headings: Sequence[Heading],
    path: str,
    output: str | None = None,
    section: str | None = None,
) -> Selection:
    """The program the user asked for (DESIGN.md, "Several programs per document")."""
    chosen = _select(scopes, headings, path, output, section)
    return replace(chosen, parameters=_parameters(scopes))


def _parameters(scopes: Sequence[Scope]) -> dict[str, tuple[Sym, ...]]:
    """The latest parameters `f(x, y)` each symbol was defined with."""
    found: dict[str, tuple[Sym, ...]] = {}
    for scope in scopes:
        for assign in scope.own:
            if assign.params:
                found[assign.target.name] = assign.params
    return found


def _select(
    scopes: Sequence[Scope],
    headings: Sequence[Heading],
    path: str,
    output: str | None,
    section: str | None,
) -> Selection:
    if section is not None:
        return _by_section(scopes, headings, path, section, output)
    if output is not None:
        name, _, line = output.partition("@")
        scope = _by_output(scopes, name.strip(), line.strip(), path)
        if scope is not None:
            return _selection(scope, scope.own, name.strip())
        return _selection(scopes[-1], scopes[-1].own, name.strip())
    if len(scopes) > 1:
        raise EqErrors([_several(scopes, 1)])
    return _selection(scopes[0], scopes[0].own, None)


def _selection(
    scope: Scope, candidates: tuple[Assign, ...], output: str | None
) -> Selection:
    return Selection(scope.definitions, candidates, output, _stale(scope))


def _stale(scope: Scope) -> tuple[tuple[Assign, Assign], ...]:
    """Carried definitions that read a symbol this scope defines anew."""
    own = {a.target.name: a for a in scope.own}
    earlier = {a.target.name for a in scope.carried}
    return tuple(
        (assign, own[sym.name])
        for assign in scope.carried
        if assign.target.name not in own
        for sym in symbols(assign.value)
        if sym.name in own and sym.name in earlier
    )


def _by_output(
    scopes: Sequence[Scope], name: str, line: str, path: str
) -> Scope | None:
    defining = [s for s in scopes if any(_names(a, name) for a in s.own)]
    if line:
        if not line.isdigit():
            raise UsageError(f"{name}@{line}: LINE must be a line number")
        wanted = int(line)
        for scope in scopes:
            for assign in scope.own:
                if (
                    _names(assign, name)
                    and assign.span.start.line <= wanted <= assign.span.end.line
                ):
                    return scope
        for scope in defining:
            first, last = scope.lines
            if first <= wanted <= last:
                return scope
        lines = ", ".join(
            str(a.span.start.line) for s in defining for a in s.own if _names(a, name)
        )
        raise UsageError(
            f"{path}: {name} is not defined at line {wanted}"
            + (f" (it is defined at line {lines})" if lines else "")
        )
    return defining[-1] if defining else None


def _names(assign: Assign, name: str) -> bool:
    target = assign.target
    return name in (
        target.name,
        target.latex,
        target.latex.replace("{", "").replace("}", ""),
    )


def _by_section(
    scopes: Sequence[Scope],
    headings: Sequence[Heading],
    path: str,
    section: str,
    output: str | None,
) -> Selection:
    first, last = _section_lines(headings, section, path)
    inside = [
        s
        for scope in scopes
        for s in scope.statements
        if first <= s.span.start.line <= last
    ]
    assigns = [s for s in inside if isinstance(s, Assign)]
    if not assigns:
        raise UsageError(f"{path}: the section {section!r} holds no equation")
    containing = [sc for sc in scopes if any(s in sc.statements for s in assigns)]
    scope_of = {id(s): sc for sc in containing for s in sc.statements}
    own: dict[str, Assign] = {}
    conflicts = []
    for assign in assigns:
        earlier = own.setdefault(assign.target.name, assign)
        if earlier is not assign and earlier != assign:
            if _same_function(
                (earlier, scope_of[id(earlier)]), (assign, scope_of[id(assign)])
            ):
                own[assign.target.name] = assign  # written again, in stages: the latest
                continue
            conflicts.append(
                EqError(
                    f"conflicting definitions of {assign.target.latex} in the section "
                    f"{section!r}: {assign.latex!r} here, {earlier.latex!r} before; "
                    f"choose one with --output {assign.target.name}@LINE",
                    assign.span,
                    (Note("first defined here", earlier.span),),
                )
            )
    if conflicts:
        raise EqErrors(conflicts)
    scope = containing[-1]
    definitions = {a.target.name: a for a in scope.definitions}
    definitions.update(own)
    name = output.partition("@")[0].strip() if output else None
    return Selection(
        tuple(definitions.values()), tuple(own.values()), name, _stale(scope)
    )


def _same_function(first: tuple[Assign, Scope], second: tuple[Assign, Scope]) -> bool:
    """Two definitions of a symbol that compute the same function of the inputs."""
    left, right = (_expanded(a, scope) for a, scope in (first, second))
    names = sorted({s.name for e in (left, right) for s in symbols(e)})
    rng = random.Random(7)
    agree = 0
    for attempt in range(60):
        low, high = (0.2, 1.8) if attempt % 2 == 0 else (-1.8, 1.8)
        env = {name: rng.uniform(low, high) for name in names}
        try:
            a, b = evaluate(left, env), evaluate(right, env)
        except Undefined:
            continue
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            return False
        agree += 1
        if agree == 5:
            return True
    return False


def _expanded(assign: Assign, scope: Scope) -> Expr:
    """The value of `assign` in terms of inputs only."""
    definitions = {a.target.name: a.value for a in scope.definitions}
    definitions.pop(assign.target.name, None)
    value = assign.value
    for _ in range(len(definitions) + 1):
        names = {s.name for s in symbols(value)} & definitions.keys()
        if not names:
            break
        value = substitute(value, {n: definitions[n] for n in names})
    return value


def _section_lines(
    headings: Sequence[Heading], section: str, path: str
) -> tuple[int, int]:
    wanted = _plain(section)
    matches = [h for h in headings if _plain(h.text) == wanted]
    if not matches:
        matches = [h for h in headings if wanted in _plain(h.text)]
    if not matches:
        known = ", ".join(repr(h.text) for h in headings) or "none"
        raise UsageError(f"{path}: no section {section!r} (sections: {known})")
    if len(matches) > 1:
        lines = ", ".join(str(h.line) for h in matches)
        raise UsageError(f"{path}: several sections match {section!r} (lines {lines})")
    heading = matches[0]
    after = [
        h.line for h in headings if h.line > heading.line and h.level <= heading.level
    ]
    return heading.line, (min(after) - 1 if after else 10**9)


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[*_`#:.]", " ", text).lower().split())


def _several(scopes: Sequence[Scope], index: int) -> EqError:
    """The first redefinition, with the programs the document holds as notes."""
    scope = scopes[index]
    opener = scope.starts_at
    assert opener is not None
    before = next(
        a
        for s in reversed(scopes[:index])
        for a in s.own
        if a.target.name == opener.target.name
    )
    programs = [
        Note(
            f"program {n}: output {a.target.name}@{a.span.start.line}, "
            f"lines {s.lines[0]}-{s.lines[1]}",
            a.span,
        )
        for n, (s, a) in enumerate(programs_in(scopes), 1)
    ]
    if len(programs) > 1:
        advice = (
            f"; the document holds {len(programs)} programs: choose one with "
            "--output NAME@LINE or --section HEADING"
        )
    else:
        advice = (
            "; if the second starts a new computation, choose its output with "
            "--output NAME@LINE"
        )
    return EqError(
        f"conflicting definitions of {opener.target.latex}: {opener.latex!r} here, "
        f"{before.latex!r} before{advice}",
        opener.span,
        (Note("first defined here", before.span), *programs),
    )


def programs_in(scopes: Sequence[Scope]) -> list[tuple[Scope, Assign]]:
    """Each program of a document: a scope and an output nothing later reads."""
    found = []
    for index, scope in enumerate(scopes):
        later = {
            s.name
            for sc in scopes[index + 1 :]
            for a in sc.own
            for s in symbols(a.value)
        }
        found += [
            (scope, sink) for sink in scope.sinks() if sink.target.name not in later
        ]
    return found


def heading_at(headings: Sequence[Heading], line: int) -> str | None:
    """The text of the last heading above `line`."""
    above = [h for h in headings if h.line <= line]
    return above[-1].text if above else None
