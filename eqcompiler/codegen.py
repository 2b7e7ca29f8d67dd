"""Emission: a program and its reverse sweep as a formatted Python module.

The Jinja template (templates/module.py.j2) holds the module's layout; this module
builds the lines that go into it: each forward statement with its equation and
source line, the backward steps grouped under the equation they come from, the
gradients reduced to their inputs' shapes. Helper functions are copied from
templates/helpers_<backend>.py when used. black, with fixed settings, formats the
result, so the bytes depend on nothing but the document and the options; a
`# fmt: off` line under the header then keeps the user's own formatter (black or
ruff with other settings) from rewriting it, so that formatter and generator never
disagree about the file.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import black
import jinja2

from . import __version__
from .adjoint import Backward, reverse
from .backends import Backend, float_literal
from .ir import Call, Expr, Mul, Num, Program, Sym, symbols, walk
from .memory import Statement, plan
from .names import Namer
from .resources import data_dir
from .share import share

_MODE = black.Mode(
    target_versions={black.TargetVersion.PY310},
    line_length=88,
    string_normalization=True,
    magic_trailing_comma=True,
)
_MODULE_NAMES = (
    "Gradients",
    "NamedTuple",
    "ArrayLike",
    "forward",
    "backward",
    "value_and_grad",
)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the header says about the document: its path (relative) and hash."""

    path: str
    digest: str
    options: str = ""  # command-line options to repeat in the "Regenerate" line


def generate(program: Program, backend: Backend, source: SourceInfo) -> str:
    """The whole module for `program`, black-formatted."""
    namer = Namer()
    namer.reserve(*_user_names(program), *_MODULE_NAMES, *backend.helpers.values())
    alias = namer.fresh(backend.alias)
    backend = _with_alias(backend, alias)
    backward = reverse(program, namer)
    text = _render(program, backward, backend, source, namer)
    return protect(format_python(text))


def format_python(text: str) -> str:
    """`text` formatted by black with eqcompiler's fixed settings."""
    return black.format_str(text, mode=_MODE)


def protect(text: str) -> str:
    """Add `# fmt: off` after the header comments of formatted `text`.

    Added after formatting (black would not format what follows it otherwise); other
    formatters then leave the file as eqcompiler wrote it.
    """
    lines = text.splitlines(keepends=True)
    header = 0
    while header < len(lines) and lines[header].startswith("# "):
        header += 1
    return "".join([*lines[:header], "# fmt: off\n", *lines[header:]])


def render_template(name: str, **values: object) -> str:
    """Fill the template `name` of templates/ (not yet formatted)."""
    return _environment().get_template(name).render(**values)


def _user_names(program: Program) -> list[str]:
    names = [s.name for s in program.inputs]
    names += [a.target.name for a in program.assigns]
    return names


def _with_alias(backend: Backend, alias: str) -> Backend:
    if alias == backend.alias:
        return backend
    return Backend(
        backend.name, backend.module, alias, backend.functions, backend.helpers
    )


def _render(
    program: Program,
    backward: Backward,
    backend: Backend,
    source: SourceInfo,
    namer: Namer,
) -> str:
    numpy = backend.name == "numpy"
    shared = share(program.assigns, backward.steps, backward.gradients, namer)
    swept_program = replace(program, assigns=shared.assigns)
    backward = replace(backward, steps=shared.steps, gradients=shared.gradients)
    fused: dict[str, tuple[Expr, Expr]] = {}
    if numpy:
        backward, fused = _fuse_reductions(backward)
    reverse_lines: list[_Line] = []
    if backward.steps:
        of = f"sum({program.output.name})" if numpy else program.output.name
        reverse_lines.append(
            _Line(
                None,
                f"# Backward sweep: d_x is the derivative of {of} with respect to x.",
            )
        )
    origin = None
    for step in backward.steps:
        if step.origin is not origin:
            origin = step.origin
            reverse_lines.append(
                _Line(None, f"# from {origin.latex} (line {origin.span.start.line})")
            )
        reverse_lines.append(_Line(Statement(step.target, step.value)))
    fields, setup = _gradient_fields(program, backward, backend, namer, fused)
    swept = [s.value for s in backward.steps]
    swept += [expr for _, expr in backward.gradients if expr is not None]
    swept += [e for pair in fused.values() for e in pair]
    reuse = namer.fresh("reuse")
    forward = _print_body(
        _forward_lines(program, ()), program, [program.output.name], backend, reuse
    )
    kept = [program.output.name]
    kept += [s.name for expr in swept[len(backward.steps) :] for s in symbols(expr)]
    forward_and_sweep = _print_body(
        _forward_lines(swept_program, swept) + reverse_lines,
        program,
        kept,
        backend,
        reuse,
    )
    forward_and_sweep += setup
    used = [a.value for a in program.assigns] + swept
    helpers = [_helper_source(backend.name, h) for h in backend.helpers_used(used)]
    if numpy and program.wrt:
        helpers.append(_helper_source("numpy", "_sum_to"))
    if fused:
        helpers.append(_helper_source("numpy", "_sum_product"))
    if any(f"{reuse} = _reusable(" in line for line in forward + forward_and_sweep):
        helpers += [_helper_source("numpy", h) for h in ("_reusable", "_spare")]
    usual = "np" if numpy else "math"  # how templates/helpers_*.py name the module
    helpers = [re.sub(rf"\b{usual}\.", f"{backend.alias}.", h) for h in helpers]
    body = [*forward_and_sweep, *fields, *helpers]
    imports_module = numpy or any(f"{backend.alias}." in line for line in body)
    width = max(len(a.latex) for a in program.assigns)
    docstring = [
        f"{a.latex.ljust(width)}   (line {a.span.start.line})" for a in program.assigns
    ]
    params = ", ".join(
        f"{s.name}: {'ArrayLike' if numpy else 'float'}" for s in program.inputs
    )
    template = _environment().get_template("module.py.j2")
    return template.render(
        version=__version__,
        source=source.path,
        digest=source.digest,
        options=source.options,
        output=program.output.name,
        inputs=[s.name for s in program.inputs],
        wrt=[s.name for s in program.wrt],
        docstring=docstring,
        backend=backend.name,
        alias=backend.alias,
        helpers=helpers,
        gradient_type=f"{backend.alias}.ndarray" if numpy else "float",
        value_type="ArrayLike" if numpy else "float",
        params=params,
        arguments=", ".join(s.name for s in program.inputs),
        forward=forward,
        forward_and_sweep=forward_and_sweep,
        imports_module=imports_module,
        gradients=", ".join(fields),
    )


@dataclass(frozen=True, slots=True)
class _Line:
    """A line of a function body: a statement with an optional trailing comment,
    or a comment alone."""

    statement: Statement | None
    comment: str = ""


def _forward_lines(program: Program, swept: Sequence[Expr]) -> list[_Line]:
    """The forward statements, each with its equation and line.

    A statement that neither the output nor the expressions `swept` (the backward
    sweep) need stays as a comment, so that every equation keeps its place.
    """
    needed = {program.output.name}
    needed.update(s.name for expr in swept for s in symbols(expr))
    for assign in reversed(program.assigns):
        if assign.target.name in needed:
            needed.update(s.name for s in symbols(assign.value))
    lines = []
    for a in program.assigns:
        where = f"(line {a.span.start.line})"
        if a.target.name in needed:
            statement = Statement(a.target.name, a.value)
            lines.append(_Line(statement, f"# {a.latex} {where}"))
        else:
            lines.append(_Line(None, f"# not needed here: {a.latex} {where}"))
    return lines


def _print_body(
    lines: Sequence[_Line],
    program: Program,
    kept: Sequence[str],
    backend: Backend,
    reuse: str,
) -> list[str]:
    """The lines of a function body as Python, results written into arrays no
    longer needed where memory.plan finds them (numpy)."""
    statements = [line.statement for line in lines if line.statement is not None]
    into: Sequence[str | None] = [None] * len(statements)
    if backend.name == "numpy":
        into = plan(
            statements,
            [s.name for s in program.inputs],
            kept,
            lambda expr: backend.code_into(expr, "_") is not None,
        )
    printed: list[str] = []
    if any(into):
        arguments = ", ".join(s.name for s in program.inputs)
        printed.append(
            f"{reuse} = _reusable({arguments})  # may results go into spare arrays?"
        )
    index = 0
    for line in lines:
        if line.statement is None:
            printed.append(line.comment)
            continue
        target, value = line.statement.target, line.statement.value
        spare = into[index]
        index += 1
        code = None
        if spare is not None:
            code = backend.code_into(value, f"_spare({spare}, {reuse})")
        statement = f"{target} = {code or backend.code(value)}"
        if not line.comment:
            printed.append(statement)
        elif len(f"    {statement}  {line.comment}") <= _MODE.line_length:
            printed.append(f"{statement}  {line.comment}")
        else:  # black would wrap the statement around a trailing comment
            printed += [line.comment, statement]
    return printed


def _fuse_reductions(
    backward: Backward,
) -> tuple[Backward, dict[str, tuple[Expr, Expr]]]:
    """Gradients `d_w = a * b` read once, by the reduction to `w`'s shape: fused.

    `_sum_product(a, b, ...)` then sums the product without making it, when `w` is a
    number and `a`, `b` arrays of the output's shape (a weight times its data).
    """
    uses: dict[str, int] = {}
    for expr in [s.value for s in backward.steps] + [
        e for _, e in backward.gradients if e
    ]:
        for node in walk(expr):
            if isinstance(node, Sym):
                uses[node.name] = uses.get(node.name, 0) + 1
    by_target = {s.target: s for s in backward.steps}
    fused: dict[str, tuple[Expr, Expr]] = {}
    dropped: set[str] = set()
    for symbol, adjoint in backward.gradients:
        if not isinstance(adjoint, Sym) or uses.get(adjoint.name) != 1:
            continue
        step = by_target.get(adjoint.name)
        if step is None or not isinstance(step.value, Mul):
            continue
        if sum(1 for s in backward.steps if s.target == step.target) != 1:
            continue  # accumulated over several statements
        fused[symbol.name] = (step.value.left, step.value.right)
        dropped.add(step.target)
    steps = tuple(s for s in backward.steps if s.target not in dropped)
    return replace(backward, steps=steps), fused


def _gradient_fields(
    program: Program,
    backward: Backward,
    backend: Backend,
    namer: Namer,
    fused: dict[str, tuple[Expr, Expr]] | None = None,
) -> tuple[list[str], list[str]]:
    """`name=value` for each gradient, and the lines that must come before them."""
    inputs = {s.name for s in program.inputs}
    fields: list[str] = []
    setup: list[str] = []
    if backend.name != "numpy":
        for symbol, adjoint in backward.gradients:
            value = "0.0" if adjoint is None else _float_code(adjoint, backend)
            fields.append(f"{symbol.name}={value}")
        return fields, setup
    m = backend.alias
    shape = namer.fresh("out_shape")
    if program.wrt:
        setup.append(f"{shape} = {m}.shape({program.output.name})")
    handed_out: set[str] = set()
    for symbol, adjoint in backward.gradients:
        name = symbol.name
        if adjoint is None:
            value = f"{m}.zeros_like({name}, dtype={m}.result_type({name}, 1.0))"
        elif fused and name in fused:
            left, right = (backend.code(e) for e in fused[name])
            value = f"_sum_product({left}, {right}, {m}.shape({name}), {shape})"
        else:
            code = backend.code(adjoint)
            if not symbols(adjoint):  # a constant, in the input's float type (float32)
                number = (
                    float_literal(adjoint.value) if isinstance(adjoint, Num) else code
                )
                code = f"{m}.asarray({number}, {m}.result_type({name}, 1.0))"
            if isinstance(adjoint, Sym) and (
                adjoint.name in inputs
                or adjoint.name in handed_out
                or adjoint.name == program.output.name
            ):
                code = f"{m}.copy({code})"  # never hand out an array someone else holds
            if isinstance(adjoint, Sym):
                handed_out.add(adjoint.name)
            value = f"_sum_to({code}, {m}.shape({name}), {shape})"
        fields.append(f"{name}={value}")
    return fields, setup


def _float_code(expr: Expr, backend: Backend) -> str:
    if isinstance(expr, Num):
        return float_literal(expr.value)
    return backend.code(expr)


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


@functools.cache
def _helper_sources(backend: str) -> dict[str, str]:
    path = data_dir("templates") / f"helpers_{backend}.py"
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    return {
        node.name: ast.get_source_segment(text, node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def _helper_source(backend: str, name: str) -> str:
    return _helper_sources(backend)[name]


def calls(expr: Expr) -> set[str]:
    """The functions `expr` calls."""
    return {n.function for n in walk(expr) if isinstance(n, Call)}
