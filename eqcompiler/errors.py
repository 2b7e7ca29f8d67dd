"""Source positions and the errors eqcompiler reports about a document.

Every problem in a source is an `EqError`: a message, the span it points at, and
related spans printed as `note:` lines. Several independent problems travel
together as an `EqErrors` group. Only the CLI turns them into text for a person,
with `render`, which adds the source line and a caret.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, order=True)
class Pos:
    """A 1-based line and column in a document."""

    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of a document, from `start` up to (not including) `end`."""

    path: str
    start: Pos
    end: Pos

    @staticmethod
    def point(path: str, line: int, col: int) -> Span:
        return Span(path, Pos(line, col), Pos(line, col + 1))


@dataclass(frozen=True, slots=True)
class Note:
    """A secondary place an error refers to."""

    message: str
    span: Span


@dataclass(frozen=True)
class EqError(Exception):
    """A problem in a source document, located at `span`."""

    message: str
    span: Span
    related: tuple[Note, ...] = field(default=())
    severity: str = "error"

    def __str__(self) -> str:
        return f"{_where(self.span)}: {self.severity}: {self.message}"


# Frozen, but Python's own bookkeeping on an exception must still work: contextlib
# sets `__traceback__` when an error leaves a `with` block, and `add_note` sets
# `__notes__`.
_EXCEPTION_STATE = frozenset(
    ("__traceback__", "__cause__", "__context__", "__suppress_context__", "__notes__")
)
_frozen_setattr = EqError.__setattr__


def _setattr(self: EqError, name: str, value: object) -> None:
    if name in _EXCEPTION_STATE:
        object.__setattr__(self, name, value)
    else:
        _frozen_setattr(self, name, value)


EqError.__setattr__ = _setattr  # type: ignore[method-assign]


class EqErrors(Exception):
    """Several independent problems of one run, in document order."""

    def __init__(self, errors: list[EqError] | tuple[EqError, ...]) -> None:
        ordered = sorted(
            errors, key=lambda e: (e.span.path, e.span.start.line, e.span.start.col)
        )
        super().__init__("\n".join(str(e) for e in ordered))
        self.errors: tuple[EqError, ...] = tuple(ordered)


def _where(span: Span) -> str:
    return f"{span.path}:{span.start.line}:{span.start.col}"


def render(error: EqError, lines_of: dict[str, list[str]]) -> str:
    """Format `error` as `PATH:LINE:COL: error: MESSAGE` with the line and a caret."""
    parts = [str(error), *_excerpt(error.span, lines_of)]
    for note in error.related:
        parts.append(f"{_where(note.span)}: note: {note.message}")
        parts.extend(_excerpt(note.span, lines_of))
    return "\n".join(parts)


def _excerpt(span: Span, lines_of: dict[str, list[str]]) -> list[str]:
    lines = lines_of.get(span.path)
    if not lines or not 1 <= span.start.line <= len(lines):
        return []
    text = lines[span.start.line - 1].rstrip("\n").replace("\t", " ")
    col = max(1, min(span.start.col, len(text) + 1))
    if span.end.line == span.start.line and span.end.col > span.start.col:
        width = max(1, min(span.end.col, len(text) + 1) - col)
    else:
        width = 1
    return [f"    {text}", "    " + " " * (col - 1) + "^" + "~" * (width - 1)]


class UsageError(Exception):
    """A choice on the command line names something the document lacks (exit 2)."""
