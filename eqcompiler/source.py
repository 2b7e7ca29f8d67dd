"""Extraction: find the display math of a document and where each line of it sits.

This module owns reading a source file's structure (not its LaTeX): the Markdown
parser and its math plugins, the small scanner for `.tex` files, the YAML front
matter and eqcompiler's settings in it, and the headings. It turns a document into
`MathBlock`s, each holding the LaTeX verbatim and the document position of every one
of its lines, so that later stages can point at any character of an equation.

Positions are 1-based lines and columns of `Document.text`, which is the file's text
with a leading BOM removed, `\\r\\n` and `\\r` read as newlines and NUL read as U+FFFD
(what markdown-it reads, so its line numbers and ours agree). A tab is one column.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_inline_dollar
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.utils import is_code_block

from .errors import EqError, EqErrors, Note, Pos, Span

if TYPE_CHECKING:  # imported where front matter is read: most documents have none
    import yaml


@dataclass(frozen=True, slots=True)
class MathBlock:
    """One display-math block: its LaTeX and where each of its lines is in the file."""

    path: str
    text: str
    origins: tuple[Pos, ...]
    heading: str | None = None

    def pos(self, line: int, col: int) -> Pos:
        """The document position of the 1-based (line, col) of `text`."""
        origin = self.origins[min(max(line, 1), len(self.origins)) - 1]
        return Pos(origin.line, origin.col + col - 1)

    def span(self, start: tuple[int, int], end: tuple[int, int]) -> Span:
        """The document span between two 1-based (line, col) places of `text`."""
        return Span(self.path, self.pos(*start), self.pos(*end))


@dataclass(frozen=True, slots=True)
class Heading:
    """A section heading: its 1-based line, level (1 for `#`) and plain text."""

    line: int
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Settings:
    """What the document's front matter asks for (eqcompiler's own keys).

    `spans` says where each setting is written, for error messages: `spans[key]` is
    the span of the key's value and, for keys that list names, `spans[f"{key}:{name}"]`
    the span of one name (`wrt: [w, u]` gives "wrt", "wrt:w" and "wrt:u").
    """

    output: str | None = None
    wrt: tuple[str, ...] | None = None
    inputs: tuple[str, ...] | None = None
    backend: str | None = None
    functions: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()
    spans: Mapping[str, Span] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )

    def span_of(self, key: str, name: str | None = None) -> Span | None:
        """Where `key` is set, or where it gives `name` if it lists names."""
        return self.spans.get(f"{key}:{name}") or self.spans.get(key)


@dataclass(frozen=True, slots=True)
class Document:
    """A source file read for math: its settings, math blocks and headings."""

    path: str
    text: str
    settings: Settings
    blocks: tuple[MathBlock, ...]
    headings: tuple[Heading, ...]


def extract(text: str, path: str) -> Document:
    """Read `text` (the contents of the file at `path`) into a `Document`."""
    text = _normalize(text)
    lines = text.split("\n")
    try:
        if path.lower().endswith(".tex"):
            settings = Settings()
            blocks, headings = _from_tex(text, lines, path)
        else:
            settings, blocks, headings = _from_markdown(text, lines, path)
    except RecursionError:
        where = Span.point(path, 1, 1)
        raise EqError("the document is nested too deeply", where) from None
    return Document(path, text, settings, tuple(blocks), tuple(headings))


def _normalize(text: str) -> str:
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


# A piece of one line: (line index, start col, end col), all 0-based, end excluded.
_Segment = tuple[int, int, int]


def _block(
    path: str, lines: Sequence[str], segments: Sequence[_Segment], heading: str | None
) -> MathBlock | None:
    """The block made of `segments`, or None if it holds no math at all."""
    text = "\n".join(lines[index][start:end] for index, start, end in segments)
    if not segments or not text.strip():
        return None
    origins = tuple(Pos(index + 1, start + 1) for index, start, _ in segments)
    return MathBlock(path, text, origins, heading)


def _clamped(line: str, index: int, start: int, end: int) -> _Segment:
    start = min(max(start, 0), len(line))
    return index, start, min(max(end, start), len(line))


def _find_unescaped(line: str, target: str, start: int, end: int) -> int:
    """Where `target` first occurs unescaped in line[start:end], or -1."""
    at = line.find(target, start, end)
    while at >= 0 and _escaped(line, at):
        at = line.find(target, at + 1, end)
    return at


def _escaped(line: str, at: int) -> bool:
    """Whether an odd number of backslashes stands right before line[at]."""
    before = at
    while before > 0 and line[before - 1] == "\\":
        before -= 1
    return (at - before) % 2 == 1


def _split_inner(
    segments: Sequence[_Segment], lines: Sequence[str], close: str, reopen: str
) -> Iterator[list[_Segment]]:
    """Cut `a <close> prose <reopen> b` (blocks sharing a line) into its math."""
    piece: list[_Segment] = []
    inside = True
    for index, start, end in segments:
        line = lines[index]
        while (
            at := _find_unescaped(line, close if inside else reopen, start, end)
        ) >= 0:
            if inside:
                piece.append((index, start, at))
                yield piece
                piece = []
            start = at + len(close if inside else reopen)
            inside = not inside
        if inside:
            piece.append((index, start, end))
    if inside:
        yield piece


# ---- Markdown ------------------------------------------------------------------------


@functools.cache
def _markdown() -> MarkdownIt:
    md = (
        MarkdownIt("commonmark")
        .use(front_matter_plugin)
        .use(dollarmath_plugin, double_inline=True, allow_blank_lines=False)
        .use(amsmath_plugin)
    )
    # The same rule as the plugin's, pandoc-like (`$5 and $6` is not math), and it
    # records where each math token starts in the paragraph: tokens do not say.
    inline_dollar = math_inline_dollar(
        allow_space=False, allow_digits=False, allow_double=True
    )
    md.inline.ruler.at("math_inline", _recording_start(inline_dollar))
    md.block.ruler.before(
        "fence", "math_block_brackets", _bracket_block, _CAN_INTERRUPT
    )
    # Inline parsing is most of the time and we need it only where `$$` is written
    # (and for headings): `_children` runs it for those alone.
    md.core.ruler.disable("inline")
    return md


_CAN_INTERRUPT = {"alt": ["paragraph", "reference", "blockquote", "list"]}


def _children(token: Token, env: dict[str, Any]) -> list[Token]:
    """The inline tokens of `token` (a paragraph's or heading's text)."""
    children: list[Token] = []
    _markdown().inline.parse(token.content, _markdown(), env, children)
    return children


def _recording_start(
    rule: Callable[[StateInline, bool], bool],
) -> Callable[[StateInline, bool], bool]:
    def recorded(state: StateInline, silent: bool) -> bool:
        start = state.pos
        found = rule(state, silent)
        if found and not silent:
            state.tokens[-1].meta = {"start": start}
        return found

    return recorded


def _bracket_block(
    state: StateBlock, start_line: int, end_line: int, silent: bool
) -> bool:
    """`\\[ ... \\]` starting a line, closed at the end of a line, without blank lines.

    Modelled on dollarmath's `$$` rule. texmath's bracket rule is not used: it runs a
    regular expression over the rest of the document from every `\\[` (quadratic), and
    its tokens carry no line map and keep the `> ` of blockquote lines in their content.
    """
    if is_code_block(state, start_line):
        return False
    begin = state.bMarks[start_line] + state.tShift[start_line]
    if not state.src.startswith("\\[", begin):
        return False
    line, start = start_line, begin + 2
    while True:
        text = state.src[start : state.eMarks[line]].rstrip(" \t")
        if (
            text.endswith("\\]")
            and _find_unescaped(text, "\\]", len(text) - 2, len(text)) >= 0
        ):
            break
        if line == start_line and _find_unescaped(text, "\\]", 0, len(text)) >= 0:
            return False  # closed inside the line and followed by prose
        line += 1
        if (
            line >= end_line
            or state.isEmpty(line)
            or state.sCount[line] < state.blkIndent
        ):
            return False
        start = state.bMarks[line]
    if silent:
        return True
    token = state.push("math_block_brackets", "math", 0)
    token.block = True
    token.markup = "\\["
    token.content = "\n".join(
        state.src[
            begin + 2 if at == start_line else state.bMarks[at] : state.eMarks[at]
        ]
        for at in range(start_line, line + 1)
    ).rstrip(" \t")[:-2]
    token.map = [start_line, line + 1]
    state.line = line + 1
    return True


def _from_markdown(
    text: str, lines: Sequence[str], path: str
) -> tuple[Settings, list[MathBlock], list[Heading]]:
    env: dict[str, Any] = {}  # link references, for inline parsing
    tokens = _markdown().parse(text, env)
    settings = Settings()
    blocks: list[MathBlock] = []
    headings: list[Heading] = []
    heading: str | None = None
    for index, token in enumerate(tokens):
        if token.type == "front_matter":
            settings = _front_matter(token.content, path)
        elif token.type == "heading_open" and token.map:
            heading = _plain(_children(tokens[index + 1], env))
            headings.append(Heading(token.map[0] + 1, int(token.tag[1:]), heading))
        previous = tokens[index - 1].type if index else ""
        for segments in _math_segments(token, previous, lines, env):
            if block := _block(path, lines, segments, heading):
                blocks.append(block)
    return settings, blocks, headings


def _math_segments(
    token: Token, previous: str, lines: Sequence[str], env: dict[str, Any]
) -> Iterator[list[_Segment]]:
    """The line pieces of each math block that `token` holds."""
    if not token.map:
        return
    if token.type in ("math_block", "math_block_label"):
        segments = _delimited(token.map[0], token.content, lines, "$$", "$$")
        yield from _split_inner(segments, lines, "$$", "$$")
    elif token.type == "math_block_brackets":
        segments = _delimited(token.map[0], token.content, lines, "\\[", "\\]")
        yield from _split_inner(segments, lines, "\\]", "\\[")
    elif token.type == "amsmath":
        yield _whole_lines(token.map[0], token.content, lines)
    elif token.type == "fence" and token.info.split()[:1] == ["math"] and token.content:
        yield _whole_lines(token.map[0] + 1, token.content.removesuffix("\n"), lines)
    elif token.type == "inline" and previous == "paragraph_open":
        yield from _inline_math(token, lines, env)


def _delimited(
    first: int, content: str, lines: Sequence[str], opener: str, closer: str
) -> list[_Segment]:
    """Math opened on line `first` and closed by the last `closer` of its last line.

    Its first line starts after the opener; the lines after it are each the end of a
    source line (the block's content, less the container's `> ` or indentation).
    """
    pieces = content.split("\n")
    segments = []
    for offset, piece in enumerate(pieces):
        line = lines[first + offset]
        last = offset == len(pieces) - 1
        end = line.rfind(closer) if last else len(line)
        start = line.find(opener) + len(opener) if offset == 0 else end - len(piece)
        segments.append(_clamped(line, first + offset, start, end))
    return segments


def _whole_lines(first: int, content: str, lines: Sequence[str]) -> list[_Segment]:
    """Content whose lines each run to the end of a source line (amsmath, fences)."""
    segments = []
    for offset, piece in enumerate(content.split("\n")):
        line = lines[first + offset]
        start = _placed(line, piece)
        segments.append(_clamped(line, first + offset, start, start + len(piece)))
    return segments


def _placed(line: str, piece: str) -> int:
    """Where `piece`, a line as markdown-it holds it, starts in its source `line`.

    markdown-it drops a container's prefix, trims a paragraph's ends and may turn a
    tab of indentation into spaces, so `piece` is the end of `line` (maybe less its
    trailing blanks) after some leading spaces of its own.
    """
    if line.endswith(piece):
        return len(line) - len(piece)
    core = piece.lstrip(" ")
    at = line.rfind(core)
    return at - (len(piece) - len(core)) if at >= 0 else 0


def _inline_math(
    token: Token, lines: Sequence[str], env: dict[str, Any]
) -> Iterator[list[_Segment]]:
    """`$$...$$` written inside a paragraph: display math in kramdown's reading."""
    assert token.map is not None
    source = token.content
    if "$$" not in source:
        return
    starts: list[int] = []
    for child in _children(token, env):
        start = child.meta.get("start") if child.type == "math_inline_double" else None
        if (
            start is None
            or source[start + 2 : start + 2 + len(child.content)] != child.content
        ):
            continue
        starts = starts or list(
            accumulate((len(x) + 1 for x in source.split("\n")), initial=0)
        )
        yield _paragraph_segments(
            token.map[0], source, starts, start + 2, len(child.content), lines
        )


def _paragraph_segments(
    first: int,
    source: str,
    starts: list[int],
    start: int,
    size: int,
    lines: Sequence[str],
) -> list[_Segment]:
    """The pieces of source[start:start + size]; `source` starts on line `first`."""
    end = start + size
    segments = []
    row = bisect_right(starts, start) - 1
    while True:
        low, high = starts[row], starts[row + 1] - 1
        line = lines[first + row]
        shift = _placed(line, source[low:high]) - low
        segments.append(
            _clamped(line, first + row, max(start, low) + shift, min(end, high) + shift)
        )
        if end <= high:
            return segments
        row += 1


def _plain(children: Sequence[Token]) -> str:
    """The text of a heading, without emphasis markers or markup."""
    parts = [
        " " if child.type in ("softbreak", "hardbreak") else child.content
        for child in children
        if child.type != "html_inline"
    ]
    return " ".join("".join(parts).split())


# ---- Front matter --------------------------------------------------------------------

_KNOWN_KEYS = ("output", "wrt", "inputs", "backend", "functions", "variables")
_BACKENDS = ("numpy", "math")
_YAML_LINE = 2  # the YAML starts on the line after the opening `---`
_QUOTE_HINT = (
    "in double quotes, YAML reads a backslash as an escape: "
    "write LaTeX bare or in single quotes"
)


def _front_matter(content: str, path: str) -> Settings:
    """eqcompiler's settings from the YAML front matter `content`."""
    import yaml

    node, data = _load_yaml(content, path)
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        return Settings()
    pairs = _pairs(node, path)
    if "eqcompiler" not in data:
        ours = {key: value for key, value in data.items() if key in _KNOWN_KEYS}
        return _settings(ours, pairs, path)
    key_node, value_node = pairs.get("eqcompiler", (node, node))
    if data["eqcompiler"] is None:
        return Settings()
    if not isinstance(data["eqcompiler"], dict) or not isinstance(
        value_node, yaml.MappingNode
    ):
        message = "front matter key 'eqcompiler' must hold a mapping of settings"
        raise EqError(message, _node_span(path, value_node))
    pairs = _pairs(value_node, path)
    errors = [
        EqError(
            f"unknown front matter key '{key}'; known keys: {', '.join(_KNOWN_KEYS)}",
            _node_span(path, pairs.get(str(key), (key_node,))[0]),
        )
        for key in data["eqcompiler"]
        if key not in _KNOWN_KEYS
    ]
    _raise(errors)
    return _settings(data["eqcompiler"], pairs, path)


def _load_yaml(content: str, path: str) -> tuple[yaml.Node | None, Any]:
    """The YAML's node tree (for places) and its value, or a located EqError."""
    import yaml

    try:
        return _compose(content)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = _mark_pos(mark, content) if mark else Pos(_YAML_LINE, 1)
        problem = error.problem or error.context or "cannot be read"
        hint = f" ({_QUOTE_HINT})" if "escape" in problem else ""
        message = f"invalid YAML in the front matter: {problem}{hint}"
        span = Span(path, where, Pos(where.line, where.col + 1))
        raise EqError(message, span) from None
    except yaml.reader.ReaderError as error:
        before = content[: error.position]
        line = before.count("\n") + _YAML_LINE
        col = error.position - before.rfind("\n")
        character = (
            f"U+{error.character:04X}" if isinstance(error.character, int) else ""
        )
        message = (
            f"invalid YAML in the front matter: character {character} is not allowed"
        )
        raise EqError(message, Span.point(path, line, col)) from None
    except yaml.YAMLError as error:
        message = f"invalid YAML in the front matter: {error}"
        raise EqError(message, Span.point(path, _YAML_LINE, 1)) from None
    except RecursionError:
        message = "invalid YAML in the front matter: it is nested too deeply"
        raise EqError(message, Span.point(path, _YAML_LINE, 1)) from None


def _compose(content: str) -> tuple[yaml.Node | None, Any]:
    import yaml

    loader = yaml.SafeLoader(content)
    try:
        node = loader.get_single_node()
        return node, None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def _mark_pos(mark: yaml.Mark, content: str) -> Pos:
    last = content.count("\n") + 1  # the closing `---`, for errors at the end
    return Pos(min(mark.line, last) + _YAML_LINE, mark.column + 1)


def _node_span(path: str, node: yaml.Node) -> Span:
    start = Pos(node.start_mark.line + _YAML_LINE, node.start_mark.column + 1)
    end = Pos(node.end_mark.line + _YAML_LINE, node.end_mark.column + 1)
    return Span(path, start, end)


def _pairs(node: yaml.MappingNode, path: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Key text -> (key node, value node); a repeated eqcompiler key is an error."""
    import yaml

    pairs: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
        if key in pairs and key in (*_KNOWN_KEYS, "eqcompiler"):
            note = Note("first given here", _node_span(path, pairs[key][0]))
            raise EqError(
                f"front matter key '{key}' is given twice",
                _node_span(path, key_node),
                (note,),
            )
        pairs[key] = (key_node, value_node)
    return pairs


def _settings(
    values: Mapping[str, Any],
    pairs: Mapping[str, tuple[yaml.Node, yaml.Node]],
    path: str,
) -> Settings:
    fields: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    errors = []
    for key, value in values.items():
        _, node = pairs.get(key, (None, None))
        where = (
            _node_span(path, node)
            if node is not None
            else Span.point(path, _YAML_LINE, 1)
        )
        try:
            fields[key] = _READERS[key](key, value, where)
        except EqError as error:
            errors.append(error)
            continue
        if fields[key] is not None:
            spans[key] = where
        if node is not None and isinstance(fields[key], tuple):
            spans.update(_item_spans(path, key, node))
    _raise(errors)
    return Settings(**fields, spans=MappingProxyType(spans))


def _item_spans(path: str, key: str, node: yaml.Node) -> dict[str, Span]:
    """`key:name` -> where `name` is written, in a YAML list or a plain `a, b` text."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return {
            f"{key}:{item.value.strip()}": _node_span(path, item)
            for item in node.value
            if isinstance(item, yaml.ScalarNode)
        }
    start, end = node.start_mark, node.end_mark
    if node.style is not None or start.line != end.line:
        return {}  # quoted or folded: the text is not the source
    spans = {}
    line, col = start.line + _YAML_LINE, start.column + 1
    for part in node.value.split(","):
        name = part.strip()
        at = col + len(part) - len(part.lstrip())
        if name:
            spans[f"{key}:{name}"] = Span(
                path, Pos(line, at), Pos(line, at + len(name))
            )
        col += len(part) + 1
    return spans


def _name(key: str, value: Any, where: Span) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EqError(
            f"front matter key '{key}' must be a name, not {_kind(value)}", where
        )
    if any(ord(char) < 32 and char not in "\t\n\r" for char in value):
        message = f"front matter key '{key}' holds a control character ({_QUOTE_HINT})"
        raise EqError(message, where)
    if not value.strip():
        raise EqError(f"front matter key '{key}' is empty", where)
    return value.strip()


def _names(key: str, value: Any, where: Span) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        message = (
            f"front matter key '{key}' must be a list of names, not {_kind(value)}"
        )
        raise EqError(message, where)
    names = []
    for item in items:
        if not isinstance(item, str):
            message = (
                f"front matter key '{key}' must list names; {_kind(item)} is not one"
            )
            raise EqError(message, where)
        if item.strip():
            _name(key, item, where)  # the same checks as a single name
            names.append(item.strip())
    return tuple(names)


def _chosen(key: str, value: Any, where: Span) -> tuple[str, ...] | None:
    names = _names(key, value, where)
    if names == ():
        raise EqError(f"front matter key '{key}' names nothing", where)
    return names


def _declared(key: str, value: Any, where: Span) -> tuple[str, ...]:
    return _names(key, value, where) or ()


def _backend(key: str, value: Any, where: Span) -> str | None:
    name = _name(key, value, where)
    if name is not None and name not in _BACKENDS:
        raise EqError(f"unknown backend '{name}'; expected 'numpy' or 'math'", where)
    return name


_READERS: dict[str, Callable[[str, Any, Span], Any]] = {
    "output": _name,
    "wrt": _chosen,
    "inputs": _chosen,
    "backend": _backend,
    "functions": _declared,
    "variables": _declared,
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _raise(errors: Sequence[EqError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise EqErrors(list(errors))


# ---- TeX -----------------------------------------------------------------------------

_TEX_MATH_ENVS = frozenset(
    name + star
    for name in ("equation", "align", "alignat", "gather", "multline", "eqnarray")
    for star in ("", "*")
)
_TEX_VERBATIM_ENVS = frozenset(
    {"verbatim", "verbatim*", "Verbatim", "lstlisting", "minted", "comment"}
)
_TEX_LEVELS = {"section": 1, "subsection": 2, "subsubsection": 3}
_TEX_CLOSERS = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}
# What matters in running text, and in math; `\\.` skips escapes such as `\%` and `\$`.
_TEX_TEXT = re.compile(
    r"%|\$\$?|\\(?:begin\s*\{(?P<env>[^{}\n]*)\}"
    r"|(?P<section>(?:sub){0,2}section)(?![A-Za-z])\*?"
    r"|(?P<verb>verb)(?![A-Za-z])\*?|[A-Za-z@]+|.)",
    re.DOTALL,
)
_TEX_MATH = re.compile(
    r"%|\$\$?|\\(?:end\s*\{(?P<env>[^{}\n]*)\}|[A-Za-z@]+|.)", re.DOTALL
)
_TEX_ARGUMENT = re.compile(r"\s*(?:\[[^\]]*\]\s*)?\{")


def _from_tex(
    text: str, lines: Sequence[str], path: str
) -> tuple[list[MathBlock], list[Heading]]:
    """Display math and section headings of a LaTeX file, skipping `%` comments."""
    starts = list(accumulate((len(line) + 1 for line in lines), initial=0))
    blocks: list[MathBlock] = []
    headings: list[Heading] = []
    heading: str | None = None
    pos = 0
    while (match := _TEX_TEXT.search(text, pos)) is not None:
        token, pos = match.group(), match.end()
        env = (match.group("env") or "").strip()
        if token == "%":
            pos = _line_end(text, pos)
        elif token in _TEX_CLOSERS or env in _TEX_MATH_ENVS:
            closer = _TEX_CLOSERS.get(token, f"\\end{{{env}}}")
            found = _tex_close(text, pos, closer)
            if found is None:
                where = _offset_pos(starts, match.start())
                shown = token if token in _TEX_CLOSERS else f"\\begin{{{env}}}"
                message = f"this '{shown}' is never closed"
                raise EqError(message, Span.point(path, where.line, where.col))
            end, close_end, comments = found
            if token not in ("$", "\\("):  # inline math is prose
                math = (match.start(), close_end) if env else (pos, end)
                segments = _range_segments(starts, *math, comments)
                if block := _block(path, lines, segments, heading):
                    blocks.append(block)
            pos = close_end
        elif env in _TEX_VERBATIM_ENVS:
            end = text.find(f"\\end{{{env}}}", pos)
            pos = len(text) if end < 0 else end
        elif match.group("section"):
            title, pos = _tex_argument(text, pos)
            if title is not None:
                heading = _tex_plain(title)
                level = _TEX_LEVELS[match.group("section")]
                line = _offset_pos(starts, match.start()).line
                headings.append(Heading(line, level, heading))
        elif match.group("verb") and pos < len(text):
            end = text.find(text[pos], pos + 1, _line_end(text, pos))
            pos = pos + 1 if end < 0 else end + 1
    return blocks, headings


def _tex_close(text: str, pos: int, closer: str) -> tuple[int, int, list[int]] | None:
    """Where math from `pos` is closed by `closer`, and the `%` comments before it."""
    comments = []
    while (match := _TEX_MATH.search(text, pos)) is not None:
        token = match.group()
        if token == "%":
            comments.append(match.start())
            pos = _line_end(text, match.end())
            continue
        if match.group("env") is not None:
            token = f"\\end{{{match.group('env').strip()}}}"
        if token == closer:
            return match.start(), match.end(), comments
        if closer == "$" and token == "$$":  # `$a$$b$`: two inline maths
            return match.start(), match.start() + 1, comments
        pos = match.end()
    return None


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _offset_pos(starts: Sequence[int], offset: int) -> Pos:
    row = bisect_right(starts, offset) - 1
    return Pos(row + 1, offset - starts[row] + 1)


def _range_segments(
    starts: Sequence[int], start: int, end: int, comments: Sequence[int]
) -> list[_Segment]:
    """The line pieces of text[start:end], each cut at its line's `%` comment."""
    cuts = {bisect_right(starts, comment) - 1: comment for comment in comments}
    segments = []
    row = bisect_right(starts, start) - 1
    while True:
        low, high = starts[row], starts[row + 1] - 1
        stop = min(end, high, cuts.get(row, high))
        segments.append((row, max(start, low) - low, stop - low))
        if end <= high:
            return segments
        row += 1


def _tex_argument(text: str, pos: int) -> tuple[str | None, int]:
    """The `{...}` argument after `pos` (past blanks and a `[...]`), and its end."""
    match = _TEX_ARGUMENT.match(text, pos)
    if not match:
        return None, pos
    depth, at = 1, match.end()
    while at < len(text) and depth:
        if text[at] == "\\":
            at += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[at], 0)
        at += 1
    if depth:
        return None, pos
    return text[match.end() : at - 1], at


def _tex_plain(title: str) -> str:
    """`The \\emph{chain} rule` -> `The chain rule`."""
    title = re.sub(r"\\[A-Za-z]+\*?\s*(?=\{)", "", title)
    return " ".join(title.replace("{", "").replace("}", "").split())
