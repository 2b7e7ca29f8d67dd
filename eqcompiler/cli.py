"""The command line: argument parsing, reading sources, writing outputs, exit codes.

Exit 0: success. Exit 1: a problem in a source (reported as PATH:LINE:COL: error:
with the line and a caret). Exit 2: bad usage (unknown option, missing file, an
output that cannot be written). Only this module prints, and no traceback ever
reaches the user: an unexpected exception is reported as an internal error (exit 3).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import EqError, EqErrors, Span, render

EXIT_OK, EXIT_SOURCE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class Usage(Exception):
    """Bad usage: reported without a location, exit 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except Usage as problem:
        print(f"eqcompiler: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except _Exit as stop:
        return stop.code
    except KeyboardInterrupt:
        return 130
    except Exception as bug:  # noqa: BLE001 - the user must never see a traceback
        print(
            f"eqcompiler: internal error: {type(bug).__name__}: {bug}\n"
            "This is a bug in eqcompiler; please report it with the document.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eqcompiler",
        description="Compile documents of equations into forward and backward Python code.",
    )
    parser.add_argument("--version", action="version", version=f"eqcompiler {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    compile_ = commands.add_parser(
        "compile", help="write the Python module of each document"
    )
    compile_.add_argument("sources", nargs="+", metavar="SOURCE", help="Markdown or .tex documents")
    compile_.add_argument(
        "-o", "--out", metavar="OUT", help="output file (default: SOURCE with .py; - for stdout)"
    )
    compile_.add_argument("--backend", choices=("numpy", "math"), help="default: numpy")
    compile_.add_argument("--wrt", metavar="A,B", help="differentiate by these inputs only")
    compile_.add_argument("--output", metavar="NAME", help="the symbol to compute")
    compile_.add_argument(
        "-q", "--quiet", action="store_true", help="no warnings about the document's claims"
    )
    compile_.set_defaults(run=_compile)

    verify = commands.add_parser(
        "verify", help="check the derivatives each document states"
    )
    verify.add_argument("sources", nargs="+", metavar="SOURCE", help="Markdown or .tex documents")
    verify.set_defaults(run=_verify)
    return parser


def _compile(args: argparse.Namespace) -> int:
    from .driver import Options, compile_document
    from .program import UsageError

    sources = [Path(s) for s in args.sources]
    if args.out and len(sources) > 1:
        raise Usage("-o/--out takes one SOURCE; give each document its own run")
    wrt = tuple(w.strip() for w in args.wrt.split(",") if w.strip()) if args.wrt else None
    if args.wrt is not None and not wrt:
        raise Usage("--wrt needs at least one input name")
    options = Options(backend=args.backend, output=args.output, wrt=wrt)
    texts = {source: _read(source) for source in sources}
    status = EXIT_OK
    for source, text in texts.items():
        out = _out_path(source, args.out)
        shown = _shown_path(source, out)
        regenerate = _regenerate_options(args)
        try:
            compiled = compile_document(text, str(source), options, shown, regenerate)
        except (EqError, EqErrors) as problem:
            _report(problem, {str(source): text.splitlines()})
            status = EXIT_SOURCE
            continue
        except UsageError as problem:
            raise Usage(str(problem)) from None
        if compiled.warnings and not args.quiet:
            _report(EqErrors(compiled.warnings), {str(source): text.splitlines()})
        _write(out, compiled.module)
    return status


def _verify(args: argparse.Namespace) -> int:
    from .driver import load
    from .verify import verify

    texts = {Path(s): _read(Path(s)) for s in args.sources}
    status = EXIT_OK
    for source, text in texts.items():
        lines_of = {str(source): text.splitlines()}
        try:
            loaded = load(text, str(source))
            report = verify(loaded.statements, text, loaded.style)
        except (EqError, EqErrors) as problem:
            _report(problem, lines_of)
            status = EXIT_SOURCE
            continue
        _report(EqErrors([*report.wrong, *report.problems]), lines_of)
        if report.wrong or any(p.severity == "error" for p in report.problems):
            status = EXIT_SOURCE
        summary = f"{source}: {report.checked} claims checked, {len(report.wrong)} wrong"
        if report.problems:
            summary += f", {len(report.problems)} not checked"
        print(summary)
    return status


def _regenerate_options(args: argparse.Namespace) -> str:
    parts = []
    if args.backend:
        parts.append(f" --backend {args.backend}")
    if args.output:
        parts.append(f" --output {args.output}")
    if args.wrt:
        parts.append(f" --wrt {args.wrt}")
    return "".join(parts)


def _read(source: Path) -> str:
    if str(source) == "-":
        raise Usage("reading a document from standard input is not supported; name a file")
    if not source.exists():
        raise Usage(f"{source}: no such file")
    if source.is_dir():
        raise Usage(f"{source}: is a directory, not a document")
    try:
        data = source.read_bytes()
    except OSError as problem:
        raise Usage(f"{source}: cannot read: {problem.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = data.count(b"\n", 0, problem.start) + 1
        col = problem.start - (data.rfind(b"\n", 0, problem.start) + 1) + 1
        error = EqError("this file is not UTF-8 text", Span.point(str(source), line, col))
        _report(error, {str(source): data.decode("utf-8", "replace").splitlines()})
        raise _Exit(EXIT_SOURCE) from None


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _out_path(source: Path, out: str | None) -> Path | None:
    """None means standard output."""
    if out == "-":
        return None
    if out:
        return Path(out)
    return source.with_suffix(".py")


def _shown_path(source: Path, out: Path | None) -> str:
    """The source as the header names it: relative to the output's folder."""
    base = Path.cwd() if out is None else out.resolve().parent
    try:
        relative = os.path.relpath(source.resolve(), base)
    except ValueError:  # another drive on Windows
        relative = source.name
    return Path(relative).as_posix()


def _report(problem: EqError | EqErrors, lines_of: dict[str, list[str]]) -> None:
    errors = problem.errors if isinstance(problem, EqErrors) else (problem,)
    for error in errors:
        print(render(error, lines_of), file=sys.stderr)


def _write(out: Path | None, text: str) -> None:
    """Write `text` whole or not at all: a temporary file beside OUT, then a rename."""
    if out is None:
        sys.stdout.write(text)
        return
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise Usage(f"{out}: is a directory; give a file name with -o")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
    except OSError as problem:
        raise Usage(f"{out}: cannot write: {problem.strerror}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, _file_mode(out))
        os.replace(temporary, out)
    except OSError as problem:
        Path(temporary).unlink(missing_ok=True)
        raise Usage(f"{out}: cannot write: {problem.strerror}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _file_mode(out: Path) -> int:
    try:
        return out.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
