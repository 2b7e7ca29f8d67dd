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
from typing import TYPE_CHECKING, NoReturn

from . import __version__
from .errors import EqError, EqErrors, Span, UsageError, render

if TYPE_CHECKING:
    from .driver import Options
    from .outputs import Job

EXIT_OK, EXIT_SOURCE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class Usage(Exception):
    """Bad usage: reported without a location, exit 2."""


def run() -> NoReturn:
    """The `eqcompiler` command (and `python -m eqcompiler`): `main`, then exit.

    The exit skips the interpreter's teardown, which frees every object the
    imports and the compilation made one by one (50 ms of a 0.45 s compile of a
    small document): everything is written and closed by then, and the standard
    streams are flushed here.
    """
    code = main(formatting_worker=True)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)


def main(argv: Sequence[str] | None = None, *, formatting_worker: bool = False) -> int:
    """Run the command line; return the exit code.

    `formatting_worker`: `compile` may import black in a forked process while this
    one compiles (eqcompiler.formatting); `run` asks for it, as the process's own
    command, whose exit ends the worker.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.formatting_worker = formatting_worker
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
    parser.add_argument(
        "--version", action="version", version=f"eqcompiler {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    compile_ = commands.add_parser(
        "compile", help="write the Python module of each document"
    )
    compile_.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="Markdown or .tex documents (default: the project's sources, from "
        "[tool.eqcompiler] in pyproject.toml)",
    )
    compile_.add_argument(
        "-o",
        "--out",
        metavar="OUT",
        help="output file (default: SOURCE with .py; - for stdout)",
    )
    compile_.add_argument("--backend", choices=("numpy", "math"), help="default: numpy")
    compile_.add_argument(
        "--wrt", metavar="A,B", help="differentiate by these inputs only"
    )
    compile_.add_argument(
        "--output",
        metavar="NAME[@LINE]",
        help="the symbol to compute (with @LINE: its definition at that line)",
    )
    compile_.add_argument(
        "--section", metavar="HEADING", help="compile the program under this heading"
    )
    compile_.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no warnings about the document's claims",
    )
    compile_.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if an output is missing or out of date",
    )
    compile_.add_argument(
        "--diff",
        action="store_true",
        help="write nothing; print what would change as a unified diff",
    )
    compile_.add_argument(
        "--changed",
        action="store_true",
        help="SOURCE... are changed files (the pre-commit hook): compile the "
        "equation documents among them; exit 1 if a file was regenerated",
    )
    compile_.add_argument(
        "--emit-tests",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also write test_<module>.py, checking the gradients against finite "
        "differences",
    )
    compile_.set_defaults(run=_compile)

    verify = commands.add_parser(
        "verify", help="check the derivatives each document states"
    )
    verify.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="Markdown or .tex documents"
    )
    verify.set_defaults(run=_verify)

    explain = commands.add_parser(
        "explain", help="write the derivation of the gradients as a Markdown document"
    )
    explain.add_argument("source", metavar="SOURCE", help="a Markdown or .tex document")
    explain.add_argument(
        "-o", "--out", metavar="OUT.md", help="default: standard output; - for stdout"
    )
    explain.add_argument("--wrt", metavar="A,B", help="explain these gradients only")
    explain.add_argument("--output", metavar="NAME", help="the symbol to differentiate")
    explain.set_defaults(run=_explain)

    graph = commands.add_parser("graph", help="draw the computational graph")
    graph.add_argument("source", metavar="SOURCE", help="a Markdown or .tex document")
    graph.add_argument(
        "-o", "--out", metavar="OUT.svg|.png|.dot", help="default: SOURCE with .svg"
    )
    graph.add_argument("--output", metavar="NAME", help="the symbol the graph ends in")
    graph.set_defaults(run=_graph)

    listing = commands.add_parser("list", help="list the programs each document holds")
    listing.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="Markdown or .tex documents"
    )
    listing.set_defaults(run=_list)
    return parser


def _compile(args: argparse.Namespace) -> int:
    if args.formatting_worker:  # first: black's import then overlaps the rest
        from .formatting import start_worker

        start_worker()
    from .config import ConfigError
    from .driver import Options
    from .outputs import PlanError, diff, on_disk, plan, recorded_options

    options = Options(
        backend=args.backend,
        output=args.output,
        wrt=_names(args.wrt),
        section=args.section,
    )
    if args.out == "-" and (args.check or args.diff):
        raise Usage("--check and --diff compare with the files on disk; not with -o -")
    try:
        planned = plan(
            args.sources, out=args.out, emit_tests=args.emit_tests, changed=args.changed
        )
    except PlanError as problem:
        raise Usage(str(problem)) from None
    except ConfigError as problem:
        _report(problem.errors, problem.lines_of)
        return EXIT_USAGE
    for note in planned.notes:
        print(f"eqcompiler: {note}", file=sys.stderr)
    lines_of = {c.shown: _lines(c.text) for c in planned.configs}
    dry = args.check or args.diff
    count = {"written": 0, "stale": 0, "current": 0, "failed": 0}
    for job in planned.jobs:
        files = _compile_job(job, args, options, lines_of)
        if files is None:
            count["failed"] += 1
            continue
        for number, (path, text) in enumerate(files):
            if path is None:
                _write(None, text)
                continue
            old = on_disk(path)
            if old == text:
                count["current"] += 1
                continue
            before, after = recorded_options(old), recorded_options(text)
            if number == 0 and before and before != after and (dry or args.changed):
                print(
                    f"eqcompiler: note: {path} was generated with '{before.strip()}', "
                    "which this run does not repeat; set it in the document's front "
                    "matter or in [tool.eqcompiler]",
                    file=sys.stderr,
                )
            if args.diff:
                sys.stdout.write(diff(path.as_posix(), old, text))
            if dry:
                count["stale"] += 1
                if args.check:
                    state = "missing" if old is None else "out of date"
                    print(f"would regenerate {path} ({state})", file=sys.stderr)
                continue
            if job.make_folder:
                path.parent.mkdir(parents=True, exist_ok=True)
            _write(path, text)
            count["written"] += 1
            if args.changed:
                print(f"regenerated {path}", file=sys.stderr)
    if args.check or args.changed:
        print(_summary(count, dry), file=sys.stderr)
    if count["failed"] or (args.check and count["stale"]):
        return EXIT_SOURCE
    return EXIT_SOURCE if args.changed and count["written"] else EXIT_OK


def _compile_job(
    job: Job, args: argparse.Namespace, options: Options, lines_of: dict[str, list[str]]
) -> list[tuple[Path | None, str]] | None:
    """The files of one document (module first), or None after reporting its errors."""
    from .driver import compile_document
    from .testgen import generate_tests

    text = _read(job.source)
    lines_of = {**lines_of, str(job.source): _lines(text)}
    shown = _shown_path(job.source, job.out)
    try:
        compiled = compile_document(
            text,
            str(job.source),
            options,
            shown,
            _regenerate_options(args),
            job.settings,
        )
    except (EqError, EqErrors) as problem:
        _report(problem, lines_of)
        return None
    except UsageError as problem:
        raise Usage(str(problem)) from None
    if compiled.warnings and not args.quiet:
        _report(EqErrors(compiled.warnings), lines_of)
    files: list[tuple[Path | None, str]] = [(job.out, compiled.module)]
    if job.tests is not None and job.out is not None:
        files.append((job.tests, generate_tests(compiled.module, job.out.stem)))
    return files


def _summary(count: dict[str, int], dry: bool) -> str:
    def files(n: int) -> str:
        return f"{n} file{'' if n == 1 else 's'}"

    if dry:
        parts = [f"{files(count['stale'])} would be regenerated"]
    else:
        parts = [f"{files(count['written'])} regenerated"]
    parts.append(f"{files(count['current'])} current")
    if count["failed"]:
        n = count["failed"]
        parts.append(f"{n} document{'' if n == 1 else 's'} with errors")
    return ", ".join(parts) + "."


def _verify(args: argparse.Namespace) -> int:
    from .driver import load
    from .verify import verify

    texts = {Path(s): _read(Path(s)) for s in args.sources}
    status = EXIT_OK
    for source, text in texts.items():
        lines_of = {str(source): _lines(text)}
        try:
            loaded = load(text, str(source))
            report = verify(loaded.statements, loaded.document.text, loaded.style)
        except (EqError, EqErrors) as problem:
            _report(problem, lines_of)
            status = EXIT_SOURCE
            continue
        _report(EqErrors([*report.wrong, *report.problems]), lines_of)
        if report.wrong or any(p.severity == "error" for p in report.problems):
            status = EXIT_SOURCE
        summary = (
            f"{source}: {report.checked} claims checked, {len(report.wrong)} wrong"
        )
        if report.problems:
            summary += f", {len(report.problems)} not checked"
        print(summary)
    return status


def _explain(args: argparse.Namespace) -> int:
    from .driver import Options, load, program_of
    from .explain import explain

    source = Path(args.source)
    text = _read(source)
    options = Options(output=args.output, wrt=_names(args.wrt))
    try:
        loaded = load(text, str(source))
        program = program_of(loaded, options)
    except (EqError, EqErrors) as problem:
        _report(problem, {str(source): _lines(text)})
        return EXIT_SOURCE
    except UsageError as problem:
        raise Usage(str(problem)) from None
    out = None if args.out in (None, "-") else Path(args.out)
    settings = loaded.document.settings
    declarations = {"functions": settings.functions, "variables": settings.variables}
    _write(out, explain(program, loaded.style, _shown_path(source, out), declarations))
    return EXIT_OK


def _graph(args: argparse.Namespace) -> int:
    from .diagram import dot_source, have_dot, render
    from .driver import Options, load, program_of

    source = Path(args.source)
    out = Path(args.out) if args.out else source.with_suffix(".svg")
    fmt = out.suffix.lstrip(".").lower() if str(out) != "-" else "dot"
    if fmt not in ("svg", "png", "dot", "gv"):
        raise Usage(f"{out}: the graph is written as .svg, .png or .dot")
    text = _read(source)
    try:
        program = program_of(load(text, str(source)), Options(output=args.output))
    except (EqError, EqErrors) as problem:
        _report(problem, {str(source): _lines(text)})
        return EXIT_SOURCE
    except UsageError as problem:
        raise Usage(str(problem)) from None
    loaded_style = load(text, str(source)).style
    dot = dot_source(program, loaded_style)
    if fmt in ("dot", "gv"):
        _write(None if str(out) == "-" else out, dot)
        return EXIT_OK
    if not have_dot():
        fallback = out.with_suffix(".dot")
        _write(fallback, dot)
        print(
            f"eqcompiler: Graphviz's dot is not installed, so {fallback} holds the graph "
            "as DOT text; install Graphviz (e.g. apt-get install graphviz) to draw it",
            file=sys.stderr,
        )
        return EXIT_OK
    _write_bytes(out, render(dot, fmt))
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from .driver import Options, load, program_of
    from .scopes import heading_at, programs_in, split

    status = EXIT_OK
    for source in map(Path, args.sources):
        text = _read(source)
        try:
            loaded = load(text, str(source))
        except (EqError, EqErrors) as problem:
            _report(problem, {str(source): _lines(text)})
            status = EXIT_SOURCE
            continue
        rows = programs_in(split(loaded.statements))
        print(f"{source}: {len(rows)} program{'' if len(rows) == 1 else 's'}")
        for scope, sink in rows:
            first, last = scope.lines
            heading = heading_at(loaded.document.headings, first)
            name = f"{sink.target.name}@{sink.span.start.line}"
            try:
                inputs = ", ".join(
                    s.name for s in program_of(loaded, Options(output=name)).inputs
                )
            except (EqError, EqErrors, UsageError) as problem:
                inputs = f"(cannot build: {problem})"
            print(
                f"  lines {first}-{last}  output {name}  inputs {inputs}"
                + (f"  [{heading}]" if heading else "")
            )
    return status


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise Usage("--wrt needs at least one input name")
    return names


def _regenerate_options(args: argparse.Namespace) -> str:
    parts = []
    if args.backend:
        parts.append(f" --backend {args.backend}")
    if args.output:
        parts.append(f" --output {args.output}")
    if getattr(args, "section", None):
        parts.append(f" --section {args.section!r}")
    if args.wrt:
        parts.append(f" --wrt {args.wrt}")
    if args.emit_tests:
        parts.append(" --emit-tests")
    return "".join(parts)


def _read(source: Path) -> str:
    if str(source) == "-":
        raise Usage(
            "reading a document from standard input is not supported; name a file"
        )
    if not source.exists():
        raise Usage(f"{source}: no such file")
    if source.is_dir():
        raise Usage(f"{source}: is a directory, not a document")
    if not source.is_file():  # a FIFO or a device: reading it could wait forever
        raise Usage(f"{source}: is not a regular file")
    try:
        data = source.read_bytes()
    except OSError as problem:
        raise Usage(f"{source}: cannot read: {problem.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = data.count(b"\n", 0, problem.start) + 1
        col = problem.start - (data.rfind(b"\n", 0, problem.start) + 1) + 1
        error = EqError(
            "this file is not UTF-8 text", Span.point(str(source), line, col)
        )
        _report(error, {str(source): data.decode("utf-8", "replace").splitlines()})
        raise _Exit(EXIT_SOURCE) from None


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _shown_path(source: Path, out: Path | None) -> str:
    """The source as the header names it: relative to the output's folder."""
    base = Path.cwd() if out is None else out.resolve().parent
    try:
        relative = os.path.relpath(source.resolve(), base)
    except ValueError:  # another drive on Windows
        relative = source.name
    return Path(relative).as_posix()


def _lines(text: str) -> list[str]:
    """The document's lines as positions count them (see source.py)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _report(problem: EqError | EqErrors, lines_of: dict[str, list[str]]) -> None:
    errors = problem.errors if isinstance(problem, EqErrors) else (problem,)
    for error in errors:
        print(render(error, lines_of), file=sys.stderr)


def _write(out: Path | None, text: str) -> None:
    """Write `text` whole or not at all: a temporary file beside OUT, then a rename."""
    if out is None:
        sys.stdout.write(text)
        return
    _write_bytes(out, text.encode("utf-8"))


def _write_bytes(out: Path, data: bytes) -> None:
    """Write `data` to OUT atomically."""
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise Usage(f"{out}: is a directory; give a file name with -o")
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{out.name}.", suffix=".tmp", dir=folder
        )
    except OSError as problem:
        raise Usage(f"{out}: cannot write: {problem.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
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
