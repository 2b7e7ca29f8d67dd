"""Parse the LaTeX of one math block into a Lark tree (grammars/equation.lark).

This module owns the parser (built once: LALR, one lexer for all terminals), the
post-lexer that settles what a single token cannot say by itself, and the
translation of Lark's errors into located `EqError`s. It is the only place that
knows Lark positions are relative to the block: `block.pos` maps them into the
document.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .errors import EqError, Span
from .resources import data_dir
from .source import MathBlock

# Words written between equations, in `\text{...}`; any other text is a name.
_CONNECTIVES = frozenset(
    "and or where with for then so thus hence since because if when while gives yields "
    "get we so that i.e. e.g. i.e., e.g., is are as also".split()
)

# Tokens after which a `|` closes an open absolute value.
_OPERAND_END = frozenset(
    "LETTER NUMBER GREEK NAMED PRIME STAR STARCMD PRIMECMD TOPCMD INDICATOR "
    "_RPAR _RSQB _RBRACE _RBAR".split()
)
_COMMAND = re.compile(r"\\(begin|end)\s*\{[^{}]*\}|\\[a-zA-Z]+|\\.")
_CONTINUES_ROW = frozenset("PLUS MINUS _TIMES STAR _SLASH _EQ".split())
_OPENERS = frozenset("_LPAR _LSQB _LBRACE _LBAR".split())
_CLOSERS = frozenset("_RPAR _RSQB _RBRACE _RBAR".split())

_READABLE = {
    "_RBRACE": "'}'",
    "_RPAR": "')'",
    "_RSQB": "']'",
    "_RBAR": "'|'",
    "_LBRACE": "'{'",
    "_LPAR": "'('",
    "_EQ": "'='",
}


class _PostLex:
    """Decides `|`, `&` and `\\text{}` from context, and splits `\\frac12`, `x^23`.

    A row that starts with an operator (`\\\\ &\\quad + c`) or with `=` continues the
    row before it: its row break is dropped.
    """

    always_accept = ("BAR", "AMP", "TEXT")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        held: list[Token] = []  # a row break and the spacing after it, undecided
        for token in self._settle(stream):
            if token.type == "NEWROW" or (
                held and token.type == "SEP" and token.value != ";"
            ):
                held.append(token)
                continue
            if held and token.type not in _CONTINUES_ROW:
                yield from held
            held = []
            yield token
        yield from held

    def _settle(self, stream: Iterator[Token]) -> Iterator[Token]:
        amps = 0
        depth = 0
        open_bars: list[int] = []
        environments: list[Token] = []
        prev = ""
        for token in stream:
            kind = token.type
            if kind in ("NEWROW", "BEGIN_ENV", "END_ENV"):
                amps = 0
            if kind == "BEGIN_ENV":
                environments.append(token)
            elif kind == "END_ENV":
                _close_environment(environments, token)
            if kind == "AMP":
                amps += 1
                if amps % 2:
                    continue  # column alignment
                token = _retype(token, "SEP")
            elif kind == "TEXT":
                words = token.value[token.value.index("{") + 1 : -1].strip()
                is_prose = words.lower() in _CONNECTIVES or " " in words or not words
                token = _retype(token, "SEP" if is_prose else "NAMED")
            elif kind == "BAR":
                closes = bool(open_bars) and open_bars[-1] == depth
                if closes and prev in _OPERAND_END:
                    open_bars.pop()
                    token = _retype(token, "_RBAR")
                else:
                    open_bars.append(depth + 1)
                    token = _retype(token, "_LBAR")
            elif kind == "NUMBER" and prev in ("_CARET", "_UNDERSCORE", "_FRAC"):
                digits = 2 if prev == "_FRAC" else 1
                if "." not in token.value and len(token.value) > 1:
                    yield from _split_number(token, digits)
                    prev = "NUMBER"
                    continue
            kind = token.type
            if kind in _OPENERS:
                depth += 1
            elif kind in _CLOSERS:
                depth -= 1
            prev = kind
            yield token
        if environments:
            name = _environment_name(environments[-1])
            raise _Misplaced(
                environments[-1],
                f"unclosed \\begin{{{name}}}: the block ends before \\end{{{name}}}",
            )


class _Misplaced(Exception):
    """A token the grammar accepts but whose context is wrong (environments)."""

    def __init__(self, token: Token, message: str) -> None:
        super().__init__(message)
        self.token = token
        self.message = message


def _environment_name(token: Token) -> str:
    return token.value[token.value.index("{") + 1 : token.value.index("}")]


def _close_environment(environments: list[Token], end: Token) -> None:
    name = _environment_name(end)
    if not environments:
        raise _Misplaced(
            end, f"unmatched \\end{{{name}}}: no \\begin{{{name}}} before it"
        )
    opened = _environment_name(environments.pop())
    if opened != name:
        raise _Misplaced(end, f"\\end{{{name}}} closes \\begin{{{opened}}}")


def _retype(token: Token, kind: str) -> Token:
    return Token.new_borrow_pos(kind, token.value, token)


def _split_number(token: Token, digits: int) -> Iterator[Token]:
    """`12` right after `\\frac` is 1 and 2; `23` after `^` is 2 and then 3."""
    text = token.value
    pieces = [text[i] for i in range(digits)] + [text[digits:]]
    offset = 0
    for piece in pieces:
        if not piece:
            continue
        yield Token(
            "NUMBER",
            piece,
            start_pos=token.start_pos + offset,
            line=token.line,
            column=token.column + offset,
            end_line=token.line,
            end_column=token.column + offset + len(piece),
            end_pos=token.start_pos + offset + len(piece),
        )
        offset += len(piece)


@functools.cache
def parser(strict: bool = False) -> Lark:
    """The block parser, built once per process."""
    return Lark(
        (data_dir("grammars") / "equation.lark").read_text(encoding="utf-8"),
        parser="lalr",
        # one scanner for all terminals: strict mode (the suite) proves that no two
        # terminals match the same text, and a contextual lexer's scanner per parser
        # state costs a regular-expression compile each (in a profiled compile of
        # samples/backprop.md, regex compiling fell from 0.14 s to 0.05 s)
        lexer="basic",
        postlex=_PostLex(),
        propagate_positions=True,
        maybe_placeholders=False,
        strict=strict,
        cache=not strict,  # a later run loads the tables instead of building them
    )


def parse(block: MathBlock) -> Tree:
    """Parse one block; a syntax error becomes an `EqError` at its document position."""
    try:
        return parser().parse(block.text)
    except UnexpectedInput as error:
        raise _located(error, block) from None
    except _Misplaced as error:
        raise EqError(error.message, _token_span(error.token, block)) from None
    except RecursionError:
        raise EqError(
            "the expression is nested too deeply", block.span((1, 1), (1, 2))
        ) from None


def _located(error: UnexpectedInput, block: MathBlock) -> EqError:
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        return (
            _unclosed(block)
            or _incomplete(error, block)
            or EqError("the equation ends too early", _end_span(block))
        )
    if isinstance(error, UnexpectedToken):
        token = error.token
        start = (token.line, token.column)
        end = (token.end_line or token.line, token.end_column or token.column + 1)
        return EqError(_unexpected(token, error.expected), block.span(start, end))
    if isinstance(error, UnexpectedCharacters):
        rest = block.text[error.pos_in_stream :]
        start = (error.line, error.column)
        command = _COMMAND.match(rest)
        if command:
            end = (error.line, error.column + len(command.group()))
            return EqError(
                f"unsupported notation: {command.group()}", block.span(start, end)
            )
        char = rest[0]
        if char in ("\x00", "\ufffd"):
            message = "unexpected character: a NUL byte or undecodable character"
        else:
            message = f"unexpected character {char!r}"
        return EqError(message, block.span(start, (error.line, error.column + 1)))
    return EqError("cannot read this equation", block.span((1, 1), (1, 2)))


def _token_span(token: Token, block: MathBlock) -> Span:
    start = (token.line, token.column)
    end = (token.end_line or token.line, token.end_column or token.column + 1)
    return block.span(start, end)


def _unexpected(token: Token, expected: set[str]) -> str:
    if token.type in _CLOSERS:
        return f"unmatched {_READABLE.get(token.type, repr(token.value))}: nothing to close"
    if token.type == "_EQ" and "_EQ" not in expected:
        return "unexpected '=': an equation side is missing or unbalanced"
    text = token.value.strip() or token.type
    return f"unexpected {text!r}"


_NEEDS = {
    "_FRAC": "\\frac needs two arguments, as in \\frac{a}{b}",
    "_SQRT": "\\sqrt needs an argument, as in \\sqrt{x}",
    "_CARET": "'^' needs an exponent",
    "_UNDERSCORE": "'_' needs a subscript",
    "_EQ": "expected an expression after '='",
    "PLUS": "expected an expression after '+'",
    "MINUS": "expected an expression after '-'",
    "_TIMES": "expected an expression after the multiplication sign",
    "STAR": "expected an expression after '*'",
    "_SLASH": "expected an expression after '/'",
    "DECOR": "an accent needs a symbol, as in \\hat{y}",
}


def _incomplete(error: UnexpectedToken, block: MathBlock) -> EqError | None:
    """Name what the block stopped in the middle of (`\\frac{a}`, `y =`)."""
    stack = getattr(error.state, "value_stack", None) or []
    for value in reversed(stack[-3:]):
        if isinstance(value, Token) and value.type in _NEEDS:
            return EqError(_NEEDS[value.type], _token_span(value, block))
    return None


def _unclosed(block: MathBlock) -> EqError | None:
    """Point at the first bracket the block never closes."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    stack: list[tuple[str, int]] = []
    text = block.text
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char in pairs:
            stack.append((char, i))
        elif char in pairs.values() and stack and pairs[stack[-1][0]] == char:
            stack.pop()
        i += 1
    if not stack:
        return None
    char, offset = stack[0]
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    message = f"unclosed {char!r}: the block ends before it is closed"
    return EqError(message, block.span((line, col), (line, col + 1)))


def _end_span(block: MathBlock) -> Span:
    lines = block.text.rstrip().split("\n")
    line = len(lines)
    col = max(1, len(lines[-1]))
    return block.span((line, col), (line, col + 1))
