"""Analysis: from the statements of a document to one `Program`.

Merges identical repeats, rejects conflicting definitions, orders the assignments
(`graph.order`), and fixes the inputs (first appearance, or as the function form or
the front matter says), the output (the one sink, or as chosen) and the gradients
to compute (`wrt`). It works on any slice of statements, not on a whole file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import EqError, EqErrors, Note, Span
from .graph import order
from .ir import Assign, Program, Statement, Sym, symbols


@dataclass(frozen=True, slots=True)
class Choice:
    """What the user chose: output, gradients, input order (names as Python or LaTeX)."""

    output: str | None = None
    wrt: tuple[str, ...] | None = None
    inputs: tuple[str, ...] | None = None
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False)

    def span(self, key: str, name: str | None = None) -> Span | None:
        """Where the front matter wrote `key` (or one `name` in its list); None: the CLI."""
        return self.spans.get(f"{key}:{name}") or self.spans.get(key)


def build(statements: Sequence[Statement], choice: Choice, path: str) -> Program:
    """The program the assignments among `statements` define."""
    assigns = merge_repeats([s for s in statements if isinstance(s, Assign)])
    if not assigns:
        raise EqErrors(
            [EqError("no equation to compile in this document", Span.point(path, 1, 1))]
        )
    ordered = order(assigns)
    output = _output(ordered, choice, path)
    needed = _ancestors(ordered, output.name)
    ordered = tuple(a for a in ordered if a.target.name in needed)
    inputs = _inputs(ordered, choice, path)
    wrt = _wrt(inputs, choice, path)
    return Program(ordered, inputs, output, wrt, path)


def merge_repeats(assigns: Sequence[Assign]) -> tuple[Assign, ...]:
    """One assignment per symbol; a different second definition is an error."""
    first: dict[str, Assign] = {}
    errors: list[EqError] = []
    for assign in assigns:
        earlier = first.setdefault(assign.target.name, assign)
        if earlier is not assign and earlier != assign:
            errors.append(
                EqError(
                    f"conflicting definitions of {assign.target.latex}: "
                    f"{assign.latex!r} here, {earlier.latex!r} before",
                    assign.span,
                    (Note("first defined here", earlier.span),),
                )
            )
    if errors:
        raise EqErrors(errors)
    return tuple(first.values())


def _output(assigns: Sequence[Assign], choice: Choice, path: str) -> Sym:
    by_name = {a.target.name: a.target for a in assigns}
    if choice.output is not None:
        symbol = _lookup(choice.output, by_name)
        if symbol is None:
            raise _choice_error(
                f"the output {choice.output!r} is not assigned in this document "
                f"(assigned: {', '.join(by_name)})",
                choice.span("output"),
                path,
            )
        return symbol
    used = {s.name for a in assigns for s in symbols(a.value)}
    sinks = [a for a in assigns if a.target.name not in used]
    if len(sinks) == 1:
        return sinks[0].target
    if not sinks:  # every assigned symbol is used: order() has rejected cycles
        return assigns[-1].target
    names = ", ".join(a.target.latex for a in sinks)
    raise EqErrors(
        [
            EqError(
                f"which is the output? {names} are all computed and none is used; "
                "choose with --output NAME or `output:` in the front matter",
                sinks[-1].span,
                tuple(
                    Note(f"{a.target.latex} is computed here", a.span)
                    for a in sinks[:-1]
                ),
            )
        ]
    )


def _ancestors(assigns: Sequence[Assign], output: str) -> set[str]:
    by_name = {a.target.name: a for a in assigns}
    needed: set[str] = set()
    stack = [output]
    while stack:
        name = stack.pop()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        stack.extend(s.name for s in symbols(by_name[name].value))
    return needed


def _inputs(assigns: Sequence[Assign], choice: Choice, path: str) -> tuple[Sym, ...]:
    assigned = {a.target.name for a in assigns}
    found: dict[str, Sym] = {}
    for assign in sorted(assigns, key=lambda a: (a.span.start.line, a.span.start.col)):
        for param in assign.params:
            if param.name not in assigned:
                found.setdefault(param.name, param)
    for assign in sorted(assigns, key=lambda a: (a.span.start.line, a.span.start.col)):
        for sym in symbols(assign.value):
            if sym.name not in assigned:
                found.setdefault(sym.name, sym)
    if choice.inputs is None:
        return tuple(found.values())
    ordered: list[Sym] = []
    for name in choice.inputs:
        symbol = _lookup(name, found)
        if symbol is None:
            raise _choice_error(
                f"{name!r} in inputs is not an input of this computation "
                f"(inputs: {', '.join(found)})",
                choice.span("inputs", name),
                path,
            )
        ordered.append(symbol)
    missing = [s.latex for s in found.values() if s not in ordered]
    if missing:
        raise _choice_error(
            f"inputs does not list {', '.join(missing)}", choice.span("inputs"), path
        )
    return tuple(ordered)


def _wrt(inputs: tuple[Sym, ...], choice: Choice, path: str) -> tuple[Sym, ...]:
    if choice.wrt is None:
        return inputs
    by_name = {s.name: s for s in inputs}
    chosen = []
    for name in choice.wrt:
        symbol = _lookup(name, by_name)
        if symbol is None:
            raise _choice_error(
                f"cannot differentiate with respect to {name!r}: it is not an input "
                f"(inputs: {', '.join(by_name)})",
                choice.span("wrt", name),
                path,
            )
        chosen.append(symbol.name)
    return tuple(s for s in inputs if s.name in chosen)


def _lookup(name: str, symbols_by_name: dict[str, Sym]) -> Sym | None:
    """Find a symbol by Python name or by LaTeX spelling."""
    wanted = name.strip()
    if wanted in symbols_by_name:
        return symbols_by_name[wanted]
    for symbol in symbols_by_name.values():
        if wanted in (symbol.latex, symbol.latex.replace("{", "").replace("}", "")):
            return symbol
    return None


class UsageError(Exception):
    """A choice made on the command line names something the document lacks."""


def _choice_error(message: str, span: Span | None, path: str) -> Exception:
    if span is None:
        return UsageError(f"{path}: {message}")
    return EqErrors([EqError(message, span)])
