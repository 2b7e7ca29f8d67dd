"""Project configuration: the `[tool.eqcompiler]` table of a `pyproject.toml`.

This module owns finding the configuration (walking up from a document, as black
does), checking it (every unknown key or wrong value is a located error in the TOML
text), and answering, for one document, where its module goes and which settings
the project gives it. It reads files but never writes or prints.

    [tool.eqcompiler]
    sources = ["docs/**/*.md"]      # what `eqcompiler compile` with no SOURCE compiles
    exclude = ["docs/drafts/*"]     # taken out of `sources`
    out-dir = "src/model/generated" # default: beside each document
    out-name = "{stem}_grad.py"     # default: "{stem}.py"
    backend = "numpy"
    emit-tests = false

    [[tool.eqcompiler.overrides]]   # later entries win
    files = ["docs/scalar/*.md"]
    backend = "math"
    wrt = ["w", "b"]

Globs are relative to the folder of the pyproject.toml, use `/`, and know `*`, `?`,
`[...]` and `**` (any number of folders). Precedence: the command line, then the
document's front matter, then an override, then the table's own keys.
"""

from __future__ import annotations

import functools
import os
import re
import string
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import EqError, EqErrors, Pos, Span
from .source import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - black brings tomli along on Python 3.10
    import tomli as tomllib

TABLE = ("tool", "eqcompiler")
OVERRIDES = (*TABLE, "overrides")
# keys that say something about a document: allowed at the top and in an override
DOCUMENT_KEYS = ("out-dir", "out-name", "backend", "output", "wrt", "emit-tests")
TOP_KEYS = ("sources", "exclude", *DOCUMENT_KEYS, "overrides")
OVERRIDE_KEYS = ("files", *DOCUMENT_KEYS)
BACKENDS = ("numpy", "math")
# folders never searched for documents (a glob would find copies of packages there)
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})
_BOUNDARIES = (".git", ".hg")  # a project's root: the search for a config stops here


class ConfigError(Exception):
    """Problems in a pyproject.toml: located errors, and the text to show lines of."""

    def __init__(self, errors: Sequence[EqError], path: str, text: str) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = EqErrors(list(errors))
        self.lines_of = {path: text.splitlines()}


@dataclass(frozen=True, slots=True)
class Layer:
    """What one table (the top one, or an override) says about a document.

    `spans[key]` is where the key's value is written (and `spans["wrt:NAME"]` where
    one name of a list is), for error messages about the values.
    """

    out_dir: str | None = None
    out_name: str | None = None
    backend: str | None = None
    output: str | None = None
    wrt: tuple[str, ...] | None = None
    emit_tests: bool | None = None
    spans: Mapping[str, Span] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )


@dataclass(frozen=True, slots=True)
class Override:
    """`[[tool.eqcompiler.overrides]]`: a layer for the documents `files` matches."""

    files: tuple[str, ...]
    layer: Layer


@dataclass(frozen=True, slots=True)
class Target:
    """What the project decides for one document."""

    out: Path  # where its module goes
    settings: Settings  # backend, output, wrt: beneath the front matter
    emit_tests: bool


@dataclass(frozen=True, slots=True)
class Config:
    """A checked `[tool.eqcompiler]` table."""

    path: Path  # the pyproject.toml, absolute
    shown: str  # how messages name it
    text: str = field(repr=False, compare=False)  # for excerpts in messages
    sources: tuple[str, ...] | None
    exclude: tuple[str, ...]
    top: Layer
    overrides: tuple[Override, ...]

    @property
    def root(self) -> Path:
        """The folder globs and `out-dir` are relative to."""
        return self.path.parent

    def documents(self) -> list[Path]:
        """The files `sources` names (less `exclude`), sorted, absolute."""
        found: set[Path] = set()
        for pattern in self.sources or ():
            found.update(_glob(self.root, pattern))
        return sorted(p for p in found if not self._excluded(p))

    def includes(self, path: Path) -> bool:
        """Whether `sources` (less `exclude`) names the file `path`."""
        relative = _relative(path, self.root)
        if relative is None or _skipped(relative):
            return False
        return any(
            _pattern(p).match(relative) for p in self.sources or ()
        ) and not self._excluded(path)

    def target(self, source: Path) -> Target:
        """Where the module of `source` goes and what the project sets for it."""
        layers = [self.top]
        relative = _relative(source, self.root)
        if relative is not None:
            layers += [
                o.layer
                for o in self.overrides
                if any(_pattern(p).match(relative) for p in o.files)
            ]
        return _target(source, layers, self.root)

    def _excluded(self, path: Path) -> bool:
        relative = _relative(path, self.root)
        return relative is not None and any(
            _pattern(p).match(relative) for p in self.exclude
        )


def plain_target(source: Path) -> Target:
    """The target of a document outside any configured project."""
    return _target(source, [], None)


def find(start: Path, cache: dict[Path, Config | None] | None = None) -> Config | None:
    """The configuration of the project holding `start` (a file or a folder).

    Walks up from `start` to the first pyproject.toml with a [tool.eqcompiler]
    table; stops at the root of a repository (a folder holding .git or .hg).
    `cache` (folder -> answer) saves reading one file again for the next document.
    """
    folder = start.resolve()
    if not folder.is_dir():
        folder = folder.parent
    cache = {} if cache is None else cache
    if folder not in cache:
        cache[folder] = _find(folder)
    return cache[folder]


def _find(folder: Path) -> Config | None:
    for directory in (folder, *folder.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            config = load(candidate)
            if config is not None:
                return config
        if any((directory / marker).exists() for marker in _BOUNDARIES):
            return None
    return None


def load(path: Path) -> Config | None:
    """The [tool.eqcompiler] table of the pyproject.toml `path`, or None without one.

    Raises ConfigError for a file that is not TOML or a table with a wrong key or value.
    """
    shown = _shown(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        error = EqError(f"cannot read: {problem}", Span.point(shown, 1, 1))
        raise ConfigError([error], shown, "") from None
    if "eqcompiler" not in text:
        return None  # not ours: whatever else is in it is none of our business
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        raise ConfigError([_toml_error(problem, shown, text)], shown, text) from None
    table = (
        data.get("tool", {}).get("eqcompiler")
        if isinstance(data.get("tool"), dict)
        else None
    )
    if table is None:
        return None
    return _Reader(path, shown, text).config(table)


# ---- reading the table ---------------------------------------------------------------


class _Reader:
    def __init__(self, path: Path, shown: str, text: str) -> None:
        self.path = path
        self.shown = shown
        self.text = text
        self.places = _Places(text, shown)
        self.errors: list[EqError] = []

    def config(self, table: Any) -> Config:
        if not isinstance(table, dict):
            where = self.places.key(TABLE[:-1], None, TABLE[-1])
            self._fail("[tool.eqcompiler] must be a table", where)
            self._raise()
        self._unknown(table, TOP_KEYS, TABLE, None, "[tool.eqcompiler]")
        sources = self._globs(table, "sources", TABLE, None)
        exclude = self._globs(table, "exclude", TABLE, None) or ()
        top = self._layer(table, TABLE, None)
        overrides = []
        if "overrides" in table:
            entries = table["overrides"]
            if not isinstance(entries, list) or not all(
                isinstance(e, dict) for e in entries
            ):
                self._fail(
                    "'overrides' in [tool.eqcompiler] must be an array of tables: "
                    "write each as [[tool.eqcompiler.overrides]]",
                    self.places.value(TABLE, None, "overrides"),
                )
                entries = []
            for index, entry in enumerate(entries):
                overrides.append(self._override(entry, index))
        self._raise()
        return Config(
            self.path, self.shown, self.text, sources, exclude, top, tuple(overrides)
        )

    def _override(self, entry: dict[str, Any], index: int) -> Override:
        name = "[[tool.eqcompiler.overrides]]"
        self._unknown(entry, OVERRIDE_KEYS, OVERRIDES, index, name)
        files = self._globs(entry, "files", OVERRIDES, index)
        if files is None:
            self._fail(
                f"{name} needs 'files', the documents it applies to",
                self.places.header(OVERRIDES, index),
            )
        return Override(files or (), self._layer(entry, OVERRIDES, index))

    def _layer(
        self, table: dict[str, Any], where: tuple[str, ...], index: int | None
    ) -> Layer:
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        for key in DOCUMENT_KEYS:
            if key not in table:
                continue
            value, span = table[key], self.places.value(where, index, key)
            check = getattr(self, "_" + key.replace("-", "_"))
            try:
                values[key.replace("-", "_")] = check(key, value)
            except _Wrong as wrong:
                self._fail(f"'{key}' {wrong}", span)
                continue
            spans[key] = span
            if key == "wrt":
                for name in values["wrt"]:
                    spans[f"wrt:{name}"] = self.places.item(span, name) or span
        return Layer(**values, spans=MappingProxyType(spans))

    def _globs(
        self, table: dict[str, Any], key: str, where: tuple[str, ...], index: int | None
    ) -> tuple[str, ...] | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            message = f"'{key}' must be a list of globs such as [\"docs/*.md\"], not {_kind(value)}"
            self._fail(message, self.places.value(where, index, key))
            return None
        for glob in value:
            problem = _glob_problem(glob)
            if problem:
                span = self.places.value(where, index, key)
                self._fail(f"'{key}': {problem}", self.places.item(span, glob) or span)
        return tuple(value)

    # one checker per key: the value, or _Wrong saying what is wrong with it

    def _out_dir(self, key: str, value: Any) -> str:
        return _text(value, "must be a folder")

    def _out_name(self, key: str, value: Any) -> str:
        name = _text(value, 'must be a file name such as "{stem}_grad.py"')
        if "/" in name or "\\" in name:
            raise _Wrong("is a file name; put the folder in 'out-dir'")
        try:
            fields = [
                f for _, f, _, _ in string.Formatter().parse(name) if f is not None
            ]
        except ValueError as problem:
            raise _Wrong(f"is not a valid pattern ({problem})") from None
        for field_name in fields:
            if field_name != "stem":
                raise _Wrong(
                    f"knows only the placeholder {{stem}}, not {{{field_name}}}"
                )
        return name

    def _backend(self, key: str, value: Any) -> str:
        if value not in BACKENDS:
            raise _Wrong(f'must be "numpy" or "math", not {_kind(value)}')
        return value

    def _output(self, key: str, value: Any) -> str:
        return _text(value, "must name a symbol")

    def _wrt(self, key: str, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise _Wrong(f"must be a list of input names, not {_kind(value)}")
        names = tuple(i.strip() for i in items if i.strip())
        if not names:
            raise _Wrong("names no input")
        return names

    def _emit_tests(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _Wrong(f"must be true or false, not {_kind(value)}")
        return value

    def _unknown(
        self,
        table: dict[str, Any],
        known: tuple[str, ...],
        where: tuple[str, ...],
        index: int | None,
        name: str,
    ) -> None:
        for key in table:
            if key not in known:
                self._fail(
                    f"unknown key '{key}' in {name}; known keys: {', '.join(known)}",
                    self.places.key(where, index, key),
                )

    def _fail(self, message: str, span: Span) -> None:
        self.errors.append(EqError(message, span))

    def _raise(self) -> None:
        if self.errors:
            raise ConfigError(self.errors, self.shown, self.text)


class _Wrong(Exception):
    """What is wrong with one value (the reader adds the key and the place)."""


def _text(value: Any, expected: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Wrong(f"{expected}, not {_kind(value)}")
    return value.strip()


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"the text {value!r}" if value.strip() else "an empty text"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _toml_error(problem: tomllib.TOMLDecodeError, shown: str, text: str) -> EqError:
    message = str(problem)
    line, col = getattr(problem, "lineno", None), getattr(problem, "colno", None)
    found = re.search(r"\(at line (\d+), column (\d+)\)$", message)
    if found:
        message = message[: found.start()].rstrip()
        line, col = line or int(found[1]), col or int(found[2])
    elif "(at end of document)" in message:
        message = message.replace("(at end of document)", "").rstrip()
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    return EqError(
        f"this is not valid TOML: {message}", Span.point(shown, line or 1, col or 1)
    )


# ---- what a document gets -------------------------------------------------------------


def _target(source: Path, layers: Sequence[Layer], root: Path | None) -> Target:
    chosen: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    for layer in layers:  # later layers win
        for key in ("out_dir", "out_name", "backend", "output", "wrt", "emit_tests"):
            value = getattr(layer, key)
            if value is None:
                continue
            chosen[key] = value
            spans = {k: s for k, s in spans.items() if k.split(":")[0] != key}
            spans.update(
                (k, s) for k, s in layer.spans.items() if k.split(":")[0] == key
            )
    name = chosen.get("out_name", "{stem}.py").format(stem=source.stem)
    if "out_dir" in chosen and root is not None:
        folder = root / chosen["out_dir"]
    else:
        folder = source.parent
    settings = Settings(
        output=chosen.get("output"),
        wrt=chosen.get("wrt"),
        backend=chosen.get("backend"),
        spans=MappingProxyType(spans),
    )
    return Target(folder / name, settings, bool(chosen.get("emit_tests", False)))


# ---- globs ---------------------------------------------------------------------------


def _glob_problem(pattern: str) -> str | None:
    if not pattern.strip():
        return "an empty glob matches nothing"
    if pattern.startswith("/") or re.match(r"^[A-Za-z]:", pattern):
        return f"{pattern!r} is absolute; globs are relative to the pyproject.toml's folder"
    if "\\" in pattern:
        return f"{pattern!r}: write folders with '/'"
    return None


@functools.cache
def _pattern(glob: str) -> re.Pattern[str]:
    """The regular expression of a glob over `/`-separated relative paths."""
    parts = [
        p for p in glob.strip().removeprefix("./").split("/") if p not in ("", ".")
    ]
    regex = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex.append(".*" if last else "(?:[^/]+/)*")
        else:
            regex.append(_segment(part) + ("" if last else "/"))
    return re.compile("".join(regex) + r"\Z")


def _segment(part: str) -> str:
    out, i = [], 0
    while i < len(part):
        char = part[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (close := part.find("]", i + 2)) > 0:
            inner = part[i + 1 : close]
            negate = inner[:1] in ("!", "^")
            inner = inner[1:] if negate else inner
            out.append(
                "[" + ("^" if negate else "") + inner.replace("\\", "\\\\") + "]"
            )
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _glob(root: Path, glob: str) -> Iterator[Path]:
    """The files under `root` that `glob` matches, skipping hidden and tool folders."""
    pattern = _pattern(glob)
    literal = []
    for part in glob.strip().removeprefix("./").split("/")[:-1]:
        if any(c in part for c in "*?["):
            break
        literal.append(part)
    start = root.joinpath(*literal)
    if not start.is_dir():
        return
    for folder, dirs, files in os.walk(start):
        dirs[:] = sorted(d for d in dirs if not _skipped_folder(d))
        base = Path(folder)
        for name in files:
            relative = _relative(base / name, root)
            if relative is not None and pattern.match(relative):
                yield base / name


def _skipped_folder(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_FOLDERS


def _skipped(relative: str) -> bool:
    return any(_skipped_folder(part) for part in relative.split("/")[:-1])


def _relative(path: Path, root: Path) -> str | None:
    """`path` relative to `root`, with `/`, or None if it is not under `root`."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _shown(path: Path) -> str:
    """`path` as messages name it: relative to the current folder when under it."""
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


# ---- places in the TOML text ------------------------------------------------------------

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r"\"(?:[^\"\\]|\\.)*\"|'[^']*'"
_KEY_PART = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=\s*")


def _key_path(dotted: str) -> tuple[str, ...]:
    parts = re.findall(rf"{_BARE}|{_QUOTED}", dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


@dataclass(frozen=True, slots=True)
class _Entry:
    path: tuple[str, ...]  # the full dotted path of the key (or of a table header)
    index: int | None  # which entry of an array of tables it belongs to
    key: Span  # the key as written
    value: Span  # the value (for a header: the header)
    offset: int  # where the value starts in the text
    parts: tuple[Span, ...] = ()  # each part of a dotted key or header


class _Places:
    """Where keys and values of a TOML text are, found by scanning its lines.

    A best effort that covers what people write (tables, arrays of tables, dotted
    keys); anything it cannot find is reported at its table's header, or at 1:1.
    """

    def __init__(self, text: str, shown: str) -> None:
        self.text = text
        self.shown = shown
        self.keys: list[_Entry] = []
        self.headers: list[_Entry] = []
        table: tuple[str, ...] = ()
        index: int | None = None
        counts: dict[tuple[str, ...], int] = {}
        offset = 0
        for number, line in enumerate(text.split("\n"), start=1):
            header, assign = _HEADER.match(line), _ASSIGN.match(line)
            if header:
                table = _key_path(header[2])
                if header[1] == "[[":
                    index = counts.get(table, 0)
                    counts[table] = index + 1
                else:
                    index = None
                span = self._span(number, header.start(2), header.end(2))
                whole = self._span(number, header.start(1), len(line.rstrip()))
                parts = tuple(
                    self._span(
                        number, header.start(2) + m.start(), header.start(2) + m.end()
                    )
                    for m in re.finditer(rf"{_BARE}|{_QUOTED}", header[2])
                )
                self.headers.append(_Entry(table, index, span, whole, offset, parts))
            elif assign:
                key = self._span(number, assign.start(1), assign.end(1))
                value_end = len(_without_comment(line).rstrip())
                value = self._span(
                    number, assign.end(), max(value_end, assign.end() + 1)
                )
                path = (*table, *_key_path(assign[1]))
                self.keys.append(_Entry(path, index, key, value, offset + assign.end()))
            offset += len(line) + 1

    def key(self, table: tuple[str, ...], index: int | None, key: str) -> Span:
        """Where `key` of `table` (entry `index` of an array of tables) is written."""
        entry = self._find(table, index, key)
        return entry.key if entry else self.header(table, index)

    def value(self, table: tuple[str, ...], index: int | None, key: str) -> Span:
        entry = self._find(table, index, key)
        return entry.value if entry else self.header(table, index)

    def header(self, table: tuple[str, ...], index: int | None) -> Span:
        for entry in self.headers:
            if entry.path == table and entry.index == index:
                return entry.value
        for entry in self.keys + self.headers:  # `[tool]` with `eqcompiler.x = ...`
            if entry.path[: len(table)] == table:
                return entry.key
        return Span.point(self.shown, 1, 1)

    def item(self, value: Span, text: str) -> Span | None:
        """Where the string `text` is written in the value starting at `value`."""
        start = self._offset(value.start)
        found = re.compile(rf"([\"']){re.escape(text)}\1").search(self.text, start)
        if found is None or self.text.count("]", start, found.start()) > 0:
            return None
        line = self.text.count("\n", 0, found.start()) + 1
        col = found.start() - (self.text.rfind("\n", 0, found.start()) + 1)
        return self._span(line, col, col + len(found[0]))

    def _find(
        self, table: tuple[str, ...], index: int | None, key: str
    ) -> _Entry | None:
        wanted = (*table, key)
        for entry in self.keys:
            if entry.path == wanted and (index is None or entry.index == index):
                return entry
        for entry in self.headers:  # a sub-table: [tool.eqcompiler.key]
            if entry.path[: len(wanted)] == wanted and (
                index is None or entry.index == index
            ):
                if len(entry.parts) == len(entry.path):  # point at `key` in it
                    part = entry.parts[len(wanted) - 1]
                    return _Entry(entry.path, entry.index, part, entry.value, 0)
                return entry
        return None

    def _span(self, line: int, start: int, end: int) -> Span:
        return Span(self.shown, Pos(line, start + 1), Pos(line, end + 1))

    def _offset(self, pos: Pos) -> int:
        lines = self.text.split("\n")
        return sum(len(line) + 1 for line in lines[: pos.line - 1]) + pos.col - 1


def _without_comment(line: str) -> str:
    """`line` up to a `#` that is not inside a string (good enough for one line)."""
    quote = None
    for at, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:at]
    return line
