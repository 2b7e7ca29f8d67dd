"""Analysis: from the statements of a document to one `Program`.

From the definitions `scopes.select` chose, it fixes the output (the one sink, or as
chosen), keeps what the output needs, orders it (`graph.order`), and fixes the
inputs (first appearance, or as the function form or the front matter says) and the
gradients to compute (`wrt`). `merge_repeats` merges identical repeats and rejects
conflicting definitions among any statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import EqError, EqErrors, Note, Span, UsageError
from .graph import order
from .ir import Assign, Program, Sym, symbols
from .scopes import Selection


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


def build(selection: Selection, choice: Choice, path: str) -> Program:
    """The program that computes the chosen output from the selected definitions."""
    if not selection.candidates:
        raise EqErrors(
            [EqError("no equation to compile in this document", Span.point(path, 1, 1))]
        )
    order(selection.candidates)  # a cycle anywhere in what was asked for is an error
    definitions = {a.target.name: a for a in selection.definitions}
    output = _output(selection, choice, path)
    needed = _ancestors(definitions, output.name)
    _reject_stale(selection, needed)
    ordered = order([a for a in selection.definitions if a.target.name in needed])
    inputs = _inputs(ordered, choice, path, selection.parameters.get(output.name, ()))
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


def _output(selection: Selection, choice: Choice, path: str) -> Sym:
    assigns = selection.candidates
    by_name = {a.target.name: a.target for a in selection.definitions}
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
    used = {s.name for a in selection.definitions for s in symbols(a.value)}
    sinks = [a for a in assigns if a.target.name not in used]
    if len(sinks) == 1:
        return sinks[0].target
    if not sinks:  # every assigned symbol is used, without a cycle: the last one
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


def _ancestors(by_name: Mapping[str, Assign], output: str) -> set[str]:
    needed: set[str] = set()
    stack = [output]
    while stack:
        name = stack.pop()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        stack.extend(s.name for s in symbols(by_name[name].value))
    return needed


def _inputs(
    assigns: Sequence[Assign], choice: Choice, path: str, hint: Sequence[Sym] = ()
) -> tuple[Sym, ...]:
    """First appearance, after the parameters of `f(x, y) = ...` (or of `hint`).

    A parameter the body never reads but whose subscripted forms it does (`f(w, x)`
    over `w_0 x_0 + w_1 x_1`) stands for those: they come in its place.
    """
    assigned = {a.target.name for a in assigns}
    in_order = sorted(assigns, key=lambda a: (a.span.start.line, a.span.start.col))
    seen: dict[str, Sym] = {}
    for assign in in_order:
        for sym in symbols(assign.value):
            if sym.name not in assigned:
                seen.setdefault(sym.name, sym)
    params = [p for a in in_order for p in a.params] or list(hint)
    found: dict[str, Sym] = {}
    for param in params:
        if param.name in assigned or param.name in found:
            continue
        stems = [s for n, s in seen.items() if n.startswith(param.name + "_")]
        if param.name in seen or not stems:
            found[param.name] = seen.get(param.name, param)
        for stem in stems if param.name not in seen else ():
            found.setdefault(stem.name, stem)
    for name, sym in seen.items():
        found.setdefault(name, sym)
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


def _reject_stale(selection: Selection, needed: set[str]) -> None:
    """A definition carried from an earlier program must not mix with a newer one."""
    errors = [
        EqError(
            f"{stale.target.latex} was defined from the earlier "
            f"{redefinition.target.latex}, which is defined anew at line "
            f"{redefinition.span.start.line}; define {stale.target.latex} again after it",
            stale.span,
            (
                Note(
                    f"{redefinition.target.latex} is redefined here", redefinition.span
                ),
            ),
        )
        for stale, redefinition in selection.stale
        if stale.target.name in needed
    ]
    if errors:
        raise EqErrors(errors)


def _choice_error(message: str, span: Span | None, path: str) -> Exception:
    if span is None:
        return UsageError(f"{path}: {message}")
    return EqErrors([EqError(message, span)])
