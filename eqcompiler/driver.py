"""The pipeline in one place: document text in, statements, programs and modules out.

Each stage is a function of its own module; this module only runs them in order and
gathers the errors of independent blocks so that one run reports them all.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import MappingProxyType

from .backends import BACKENDS
from .codegen import SourceInfo, generate
from .errors import EqError, EqErrors
from .ir import Program, Statement
from .latex import Style
from .lower import Notation, Parsed, lower, read_notation, readings
from .parse import parse
from .program import Choice, build
from .scopes import select, split
from .source import Document, Settings, extract
from .stable import stabilize
from .verify import verify


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line asks for; None leaves it to the document."""

    backend: str | None = None
    output: str | None = None
    wrt: tuple[str, ...] | None = None
    section: str | None = None


@dataclass(frozen=True, slots=True)
class Loaded:
    """A document read as far as statements."""

    document: Document
    statements: tuple[Statement, ...]
    notation: Notation
    notes: tuple[EqError, ...] = ()

    @property
    def style(self) -> Style:
        """How LaTeX written back for this document spells sigma and e."""
        return Style(
            sigma_is_function=not self.notation.is_variable("\\sigma"),
            e_is_constant=not self.notation.is_variable("e"),
        )


def load(text: str, path: str) -> Loaded:
    """Extract, parse and lower a document; all independent errors at once."""
    document = extract(text, path)
    errors: list[EqError] = []
    parsed: list[Parsed] = []
    for block in document.blocks:
        try:
            parsed.append(Parsed(block, parse(block)))
        except EqError as error:
            errors.append(error)
    notation = read_notation(parsed, document.settings)
    try:
        statements = lower(parsed, notation)
    except EqErrors as group:
        errors.extend(group.errors)
        statements = ()
    if errors:
        raise EqErrors(errors)
    return Loaded(document, statements, notation, readings(parsed, notation))


def program_of(loaded: Loaded, options: Options) -> Program:
    """The program to compile: command line first, then the front matter."""
    settings = loaded.document.settings
    spans = dict(settings.spans)
    document = loaded.document
    selection = select(
        split(loaded.statements),
        document.headings,
        document.path,
        output=options.output or settings.output,
        section=options.section,
    )
    choice = Choice(
        output=selection.output,
        wrt=options.wrt if options.wrt is not None else settings.wrt,
        inputs=settings.inputs,
        spans={
            key: span
            for key, span in spans.items()
            if not (key.startswith("output") and options.output)
            and not (key.startswith("wrt") and options.wrt is not None)
        },
    )
    return stabilize(build(selection, choice, document.path))


def backend_of(loaded: Loaded, options: Options) -> str:
    return options.backend or loaded.document.settings.backend or "numpy"


def with_defaults(loaded: Loaded, defaults: Settings) -> Loaded:
    """`loaded` with `defaults` (output, wrt, backend) where its front matter has none.

    The front matter's own settings, and where it writes them, come first.
    """
    front = loaded.document.settings
    taken = {
        key: getattr(front, key) if getattr(front, key) is not None else value
        for key in ("output", "wrt", "backend")
        if (value := getattr(defaults, key)) is not None
    }
    spans = {
        key: span
        for key, span in (*defaults.spans.items(), *front.spans.items())
        if getattr(front, key.split(":")[0], None) is None or key in front.spans
    }
    settings = replace(front, **taken, spans=MappingProxyType(spans))
    return replace(loaded, document=replace(loaded.document, settings=settings))


@dataclass(frozen=True, slots=True)
class Compiled:
    """A generated module, and what the document should hear about (wrong claims, notes)."""

    module: str
    warnings: tuple[EqError, ...]


def compile_document(
    text: str,
    path: str,
    options: Options,
    shown_path: str,
    regenerate: str = "",
    defaults: Settings | None = None,
) -> Compiled:
    """Compile the document `text` (read from `path`), and check its claims.

    `defaults` (the project configuration) apply where the front matter is silent.
    """
    with cycles_collected_after():
        return _compile_document(text, path, options, shown_path, regenerate, defaults)


@contextmanager
def cycles_collected_after() -> Iterator[None]:
    """Run a compilation with Python's cycle collector paused.

    Parsing, the IR and black's syntax trees make millions of objects that live
    until the module is written; the collector walks all of them again and again
    (about 40% of black's time on a module of 10,000 lines, and more the larger
    the document). Nearly nothing they make is a cycle, and what is becomes
    garbage when the document is done: the collector runs as usual afterwards.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _compile_document(
    text: str,
    path: str,
    options: Options,
    shown_path: str,
    regenerate: str,
    defaults: Settings | None,
) -> Compiled:
    loaded = load(text, path)
    if defaults is not None:
        loaded = with_defaults(loaded, defaults)
    program = program_of(loaded, options)
    backend = BACKENDS[backend_of(loaded, options)]
    # the text as read (line endings normalized), so that a checkout with CRLF
    # line endings gives the same module
    digest = hashlib.sha256(loaded.document.text.encode("utf-8")).hexdigest()
    module = generate(program, backend, SourceInfo(shown_path, digest, regenerate))
    report = verify(loaded.statements, loaded.document.text, loaded.style)
    wrong = tuple(replace(error, severity="warning") for error in report.wrong)
    return Compiled(module, wrong + loaded.notes)


def compile_text(
    text: str, path: str, options: Options, shown_path: str, regenerate: str = ""
) -> str:
    """The generated module for the document `text` (read from `path`)."""
    return compile_document(text, path, options, shown_path, regenerate).module
