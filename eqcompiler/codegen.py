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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import jinja2

from . import __version__
from .adjoint import Backward, Step, reverse
from .algebra import ZERO, mul
from .backends import Backend, float_literal
from .formatting import LINE_LENGTH, format_python, laid_out, laid_out_parts
from .ir import (
    SQUARE,
    Call,
    Expr,
    Mul,
    Num,
    Pow,
    Program,
    Sub,
    Sym,
    children,
    symbols,
    walk,
    with_children,
)
from .memory import Statement, makes_value, place, unnest
from .names import Namer
from .resources import data_dir
from .scale import Gradient, scale
from .share import share, share_exponentials

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
    text, helpers, bodies = _render(program, backward, backend, source, namer)
    return protect(_spliced(format_python(text), helpers, bodies))


_NAMED = ("_FLOAT64", "_floats", "_step")  # helpers codegen and the printer name
_NAME = re.compile(r"\b_\w+")  # a helper's name (the user's names start otherwise)
_BODY_LINES = 1000  # a function body goes to black about this many lines at a time


def _placeholder(index: int) -> str:
    """What black formats in place of a helper function (`_spliced`)."""
    return f"def _eqcompiler_helper_{index}():\n    pass"


def _body_placeholder(index: int) -> str:
    """What black formats in place of a function body (`_spliced`)."""
    return f"pass  # eqcompiler: body {index}"


def _spliced(
    formatted: str, helpers: Sequence[str], bodies: Sequence[list[str]]
) -> str:
    """The formatted module with helper `i` in place of `_placeholder(i)`, and body
    `i`, formatted, in place of `_body_placeholder(i)`.

    black formats the rest of the module alone. The helpers (templates/helpers_*.py)
    are black-formatted already, with formatting.black_mode() (tests/test_determinism.py
    checks it), and black puts two blank lines around any top-level function:
    formatting them again would change nothing (on samples/backprop.md black took
    70 ms with them, 20 ms without). A body's lines are each a whole statement or
    comment, which black formats alone (it looks at a line's own length, at its
    indentation): in pieces, black takes less per line than on one large tree (the
    wide K=1,000 benchmark document: 12.0 s whole, 7.6 s in pieces).
    """
    for index, helper in enumerate(helpers):
        placeholder = _placeholder(index)
        assert formatted.count(placeholder) == 1, placeholder
        formatted = formatted.replace(placeholder, helper)
    for index, lines in enumerate(bodies):
        placeholder = f"    {_body_placeholder(index)}\n"
        assert formatted.count(placeholder) == 1, placeholder
        formatted = formatted.replace(placeholder, _formatted_body(lines))
    return formatted


def _formatted_body(lines: Sequence[str]) -> str:
    """`lines`, a function body (one statement or comment each), formatted."""
    head, tail = "def _body():\n", "    pass\n"  # a body of comments needs a statement
    parts = []
    for piece in _pieces(lines):
        chunk = "".join(f"    {line}\n" for line in piece)
        text = format_python(head + chunk + tail)
        assert text.startswith(head) and text.endswith(tail), text
        parts.append(text[len(head) : -len(tail)])
    return "".join(parts)


def _pieces(lines: Sequence[str]) -> Iterator[list[str]]:
    """The body's lines in pieces of about _BODY_LINES lines of text, each of whole
    statements (an indented line goes with the one before it, the `return` of an
    `if`). By lines, not statements: black takes longer a line on a larger piece,
    and a statement may span thousands of lines (the usual check of a document of
    10,000 equations: 11.8 s in one piece of 500 statements, 5.9 s in four)."""
    piece: list[str] = []
    size = 0
    for line in lines:
        if piece and size >= _BODY_LINES and not line.startswith(" "):
            yield piece
            piece, size = [], 0
        piece.append(line)
        size += line.count("\n") + 1
    if piece:
        yield piece


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
    return replace(backend, alias=alias)


def _render(
    program: Program,
    backward: Backward,
    backend: Backend,
    source: SourceInfo,
    namer: Namer,
) -> tuple[str, list[str], list[list[str]]]:
    """The module, unformatted, with placeholders for the helpers and the bodies of
    forward and value_and_grad, which are returned (`_spliced`)."""
    numpy = backend.name == "numpy"
    shared = share(program.assigns, backward.steps, backward.gradients, namer)
    swept_program = replace(program, assigns=shared.assigns)
    # numpy: a factor costs a pass over the data where it is applied, so it is
    # applied once; on floats, where it costs what any operation does, as written
    scaled = scale(shared.steps, shared.gradients, carry=numpy)
    steps = list(zip(scaled.steps, scaled.factors, strict=True))
    fused: dict[str, tuple[Expr, Expr]] = {}
    if numpy:
        steps, fused = _fuse_reductions(steps, scaled.gradients)
    reductions = [g.value for g in scaled.gradients if g.value is not None]
    reductions += [e for pair in fused.values() for e in pair]
    swept = [step.value for step, _ in steps] + reductions
    forward_lines = _forward_lines(program, ())
    reverse_lines = _reverse_lines(program, steps, scaled.folded, backend)
    body_lines = _forward_lines(swept_program, swept) + reverse_lines
    body_names = _names_per_body(namer)
    forward_names, sweep_names = body_names(), body_names()
    if numpy:  # squares as np.square, which may write into a spare array
        forward_lines = _squares_called(forward_lines)
        body_lines = _squares_called(body_lines)
    # one exponential for σ(±z) and softplus(±z) (on arrays, for the softpluses)
    forward_lines = _shared_exponentials(forward_lines, forward_names, backend)
    body_lines = _shared_exponentials(body_lines, sweep_names, backend)
    output = [program.output.name]
    forward = _print_body(
        forward_lines, program, output, output, backend, "forward", forward_names
    )
    if numpy:
        shape = namer.fresh("out_shape")
        fields = [
            replace(field, target=namer.fresh(f"grad_{field.name}"))
            for field in _numpy_gradients(
                program, scaled.gradients, fused, backend, shape
            )
        ]
        if fields:  # the output's shape, which the gradients are reduced from
            at = len(body_lines) - len(reverse_lines)
            size = _Field("", f"{backend.alias}.shape({program.output.name})", ZERO)
            body_lines.insert(
                at, _Line(Statement(shape, ZERO), field=replace(size, target=shape))
            )
            if not reverse_lines:  # every gradient reads forward values only
                of = f"sum({program.output.name})"
                reverse_lines = [
                    _Line(None, f"# Backward sweep: the gradients of {of}")
                ]
                body_lines[at + 1 : at + 1] = reverse_lines
            header = next(
                (i for i, line in enumerate(reverse_lines) if line.statement),
                len(reverse_lines),
            )
            body_lines = _place(body_lines, fields, at + 1 + header)
        gradients = _gradient_arguments([(f.name, f.target) for f in fields])
    else:  # each gradient named for its input: Gradients(...) then takes them by
        # position (the seed's value_and_grad: 0.58 us a call, not 0.73 by keyword)
        arguments, renamed = [], []
        taken = {s.name for s in program.inputs} | _names_in(body_lines)
        for gradient in scaled.gradients:
            name, value = gradient.symbol.name, _scaled(gradient)
            wanted = f"d_{name}"  # the adjoint's own name, unless the body has it
            if value != Sym(wanted):
                target = wanted if wanted not in taken else namer.fresh(wanted)
                taken.add(target)
                renamed.append(_Line(Statement(target, value)))
                value = Sym(target)
            arguments.append((name, _float_code(value, backend)))
        if renamed:
            heading = "# the other gradients, by their inputs' names"
            body_lines += [_Line(None, heading), *renamed]
        gradients = _gradient_arguments(arguments)
    kept = [program.output.name]
    kept += [line.field.target for line in body_lines if line.field]
    results = [*output, *(field.target for field in fields)] if numpy else output
    forward_and_sweep = _print_body(
        body_lines, program, kept, results, backend, "value_and_grad", sweep_names
    )
    used = [
        line.statement.value
        for line in forward_lines + body_lines
        if line.statement is not None
    ] + reductions
    helpers = [_helper_source(backend.name, h) for h in backend.helpers_used(used)]
    if numpy and program.wrt:
        helpers += [
            _helper_source("numpy", h) for h in ("_sum_to", "_ONES", "_sum", "_times")
        ]
    if fused:
        helpers += [
            _helper_source("numpy", h) for h in ("_sum_product", "_ROW", "_dot")
        ]
    # the helpers the bodies name that no expression calls (helpers_used)
    forward_named = _named(forward) if numpy else set()
    sweep_named = _named(forward_and_sweep) if numpy else set()
    named = forward_named | sweep_named
    blocked = "_array_size" in named
    if blocked:
        helpers += [
            _helper_source("numpy", h)
            for h in ("_array_size", "_IN_CACHE", "_BLOCK", "_in_blocks", "_spare")
        ]
    # the usual check's, and an indicator's value
    helpers += [_helper_source("numpy", h) for h in _NAMED if h in named]
    usual = "np" if numpy else "math"  # how templates/helpers_*.py name the module
    preformatted: list[str] = []  # formatted apart from the rest (_spliced)
    if backend.alias == usual:
        preformatted, helpers = helpers, [_placeholder(i) for i in range(len(helpers))]
    else:  # renamed: lines change length, so black formats them with the rest
        helpers = [re.sub(rf"\b{usual}\.", f"{backend.alias}.", h) for h in helpers]
    body = [*forward_and_sweep, *gradients, *helpers, *preformatted]
    imports_module = numpy or any(f"{backend.alias}." in line for line in body)
    width = max(len(a.latex) for a in program.assigns)
    docstring = [
        f"{a.latex.ljust(width)}   (line {a.span.start.line})" for a in program.assigns
    ]
    params = ", ".join(
        f"{s.name}: {'ArrayLike' if numpy else 'float'}" for s in program.inputs
    )
    takes_into = ", *, _into: list | None = None"  # a body that may run in blocks
    template = _environment().get_template("module.py.j2")
    text = template.render(
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
        forward_params=params + (takes_into if "_in_blocks" in forward_named else ""),
        sweep_params=params + (takes_into if "_in_blocks" in sweep_named else ""),
        arguments=", ".join(s.name for s in program.inputs),
        forward=[_body_placeholder(0)],
        forward_and_sweep=[_body_placeholder(1)],
        imports_module=imports_module,
        blocked=blocked,
        gradients=", ".join(gradients),
    )
    return text, preformatted, [forward, forward_and_sweep]


def _named(printed: Sequence[str]) -> set[str]:
    """The helper names (`_step`, `_array_size`) that printed lines mention."""
    return {name for line in printed for name in _NAME.findall(line)}


def _names_in(lines: Sequence[_Line]) -> set[str]:
    """The names the lines' statements assign or read."""
    statements = [line.statement for line in lines if line.statement is not None]
    assigned = {statement.target for statement in statements}
    return assigned | {s.name for st in statements for s in symbols(st.value)}


@dataclass(frozen=True, slots=True)
class _Line:
    """A line of a function body: a statement with an optional trailing comment,
    or a comment alone; or a gradient (`field`) the body computes for its result."""

    statement: Statement | None
    comment: str = ""
    field: _Field | None = None


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


def _reverse_lines(
    program: Program,
    steps: Sequence[tuple[Step, float]],
    folded: Sequence[tuple[int, Step]],
    backend: Backend,
) -> list[_Line]:
    """The backward steps, grouped under the equation each comes from; a step that
    holds a multiple of its derivative says so, and one that needs no statement
    (`d_y = 2 * y_minus_y_star`) is a comment."""
    if not steps and not folded:
        return []
    numpy = backend.name == "numpy"
    of = f"sum({program.output.name})" if numpy else program.output.name
    header = f"# Backward sweep: d_x is the derivative of {of} with respect to x."
    lines = [_Line(None, header)]
    factor = next((f for _, f in steps if f != 1.0), None)
    if factor is not None:
        times = _number_text(factor)
        lines = [
            _Line(None, f"{header[:-1]}; where"),
            _Line(
                None,
                f'# a line says "times {times}", the derivative is {times} * d_x: the '
                f"gradients apply the {times}.",
            ),
        ]
    notes: dict[int, list[Step]] = {}
    for index, step in folded:
        notes.setdefault(index, []).append(step)
    origin = None
    for index in range(len(steps) + 1):
        entries = [(note, None) for note in notes.get(index, ())]
        if index < len(steps):
            entries.append(steps[index])
        for step, factor in entries:
            if step.origin is not origin:
                origin = step.origin
                where = f"(line {origin.span.start.line})"
                lines.append(_Line(None, f"# from {origin.latex} {where}"))
            if factor is None:  # folded: no statement
                code = backend.code(step.value)
                lines.append(_Line(None, f"# {step.target} is {code}"))
            else:
                comment = "" if factor == 1.0 else f"# times {_number_text(factor)}"
                lines.append(_Line(Statement(step.target, step.value), comment))
    return lines


def _squares_called(lines: Sequence[_Line]) -> list[_Line]:
    """The lines with each x^2 as np.square(x) (ir.SQUARE), in both bodies alike."""
    return [
        (
            line
            if line.statement is None
            else replace(
                line,
                statement=Statement(
                    line.statement.target, _square(line.statement.value)
                ),
            )
        )
        for line in lines
    ]


def _square(expr: Expr) -> Expr:
    operands = [_square(c) for c in children(expr)]
    match expr:
        case Pow(exponent=Num(value=2.0)):
            return Call(SQUARE, (operands[0],), expr.span, expr.shape)
    return with_children(expr, operands)


def _names_per_body(namer: Namer) -> Callable[[], Callable[[str], str]]:
    """`body_names()`: a new body's `fresh(wanted)`, which gives the n-th value the
    body names `wanted` one module-wide fresh name, the same in every body (forward
    and value_and_grad say `e_z` alike)."""
    names: dict[tuple[str, int], str] = {}

    def body_names() -> Callable[[str], str]:
        counts: dict[str, int] = {}

        def fresh(wanted: str) -> str:
            n = counts[wanted] = counts.get(wanted, 0) + 1
            if (wanted, n) not in names:
                names[wanted, n] = namer.fresh(wanted)
            return names[wanted, n]

        return fresh

    return body_names


def _shared_exponentials(
    lines: Sequence[_Line], fresh: Callable[[str], str], backend: Backend
) -> list[_Line]:
    """The lines with one e^{-|z|} for the sigmoids and softpluses of ±z
    (share.share_exponentials), each shared value on a line before its first use."""
    at = [i for i, line in enumerate(lines) if line.statement is not None]
    statements = [lines[i].statement for i in at]
    shared = share_exponentials(statements, fresh, arrays=backend.name == "numpy")
    result = list(lines)
    for i, statement, before in reversed(
        list(zip(at, shared.statements, shared.before, strict=True))
    ):
        result[i] = replace(result[i], statement=statement)
        result[i:i] = [_Line(s, _shared_comment(s, z, backend)) for s, z in before]
    return result


def _shared_comment(statement: Statement, z: Expr, backend: Backend) -> str:
    z_code = backend.code(z)
    value = statement.value
    if isinstance(value, Call) and value.function == "exp":
        return f"# for sigmoid(±{z_code}) and softplus(±{z_code})"
    if isinstance(value, Call):
        return f"# log(1 + e^-|{z_code}|), for softplus(±{z_code})"
    return f"# 1 + e^-|{z_code}|, for sigmoid(±{z_code})"


def _print_body(
    lines: Sequence[_Line],
    program: Program,
    kept: Sequence[str],
    results: Sequence[str],
    backend: Backend,
    function: str,
    fresh: Callable[[str], str],
) -> list[str]:
    """The lines of the body of `function` as Python, results written into arrays
    no longer needed where memory.place finds them (numpy); `fresh` names the values
    memory.unnest adds (_names_per_body), and `size` and `reuse`. `results` are
    what the function returns, in _in_blocks's order (the value, then the
    gradients): where the body runs on a block, each goes into `_into`'s array."""
    into: Sequence[str | None] = [None] * sum(1 for ln in lines if ln.statement)
    if backend.name == "numpy":
        backend = replace(backend, floats=_float_names(lines))
    if backend.name == "numpy":  # one array per statement, and where each goes
        lines, into = _placed(lines, program, kept, backend, fresh)
    size, reuse, arrays = fresh("size"), fresh("reuse"), fresh("arrays")
    likely = _likely_data(program)
    data = [s.name for s in program.inputs if s.name in likely]
    # the usual layout, checked first: it gives the size without _array_size, and
    # gradients without the helpers' checks (_Field.direct)
    usual = fresh("usual") if data and any(into) else None
    direct, computed_spare = set(), [False] * len(into)
    writers: dict[int, int] = {}  # statement: the result it computes (_into)
    if usual is not None:
        direct, computed_spare, values = _from_data(lines, into, data)
        writers = _result_writers(lines, results, direct, values, backend)
    printed: list[str] = []
    if usual is not None:
        numbers = [s.name for s in program.inputs if s.name not in likely]
        printed += _usual_check(usual, data, numbers, backend.alias)
    if any(into):  # temporaries: large arrays are taken in blocks that fit the cache
        arguments = ", ".join(s.name for s in program.inputs)
        made = _arrays_made(lines, into)
        held = f"({arrays} + {made})" if made else arrays
        own = f"  # with its own {made} array{'' if made == 1 else 's'}" if made else ""
        found = f"_array_size({arguments})"
        if usual is not None:
            known = f"{data[0]}.size, {len(data)}"
            sized = laid_out_parts(
                f"{size}, {arrays}", [f"({known})", f"if {usual}", f"else {found}"], 4
            )
            if "\n" in sized or len(sized) > LINE_LENGTH - 4:  # black is slow on
                # a conditional around a long call (15x the time for 10x the inputs)
                sized = (
                    f"if {usual}:\n        {size}, {arrays} = {known}\n    else:\n"
                    f"        {laid_out(f'{size}, {arrays} = {found}', 8)}"
                )
        else:
            sized = laid_out(f"{size}, {arrays} = {found}", 4)
        printed += [
            "# elements per array input (0: they differ), and how many are arrays",
            sized,
            f"if {size} > _BLOCK and {size} * {held} > _IN_CACHE:{own}",
            "    " + laid_out(f"return _in_blocks({function}, {arguments})", 8),
            f"{reuse} = {size} > 0  # may results go into spare arrays?",
        ]
    index = 0
    for line in lines:
        if line.statement is None:
            printed.append(line.comment)
            continue
        target, value = line.statement.target, line.statement.value
        spare, own = into[index], computed_spare[index]
        index += 1
        out = None if spare is None else f"_spare({spare}, {reuse})"
        result = writers.get(index - 1)
        if line.field is not None and line.field.target in direct:
            # in the usual layout an array computed from the data goes in as it is
            fast = None if spare is None else (spare if own else out)
            if result is not None:
                fast = f"_into[{result}] if _into else {fast}"
            parts = line.field.either(out, usual, fast)
            printed.append(laid_out_parts(line.field.target, parts, 4))
            continue
        if line.field is not None:
            statement = line.field.code(out)
        else:
            if result is not None:
                out = f"_into[{result}] if _into else {out}"
            code = None if out is None else backend.code_into(value, out)
            statement = f"{target} = {code or backend.code(value)}"
        if not line.comment:
            printed.append(laid_out(statement, 4))
        elif len(f"    {statement}  {line.comment}") <= LINE_LENGTH:
            printed.append(laid_out(f"{statement}  {line.comment}", 4))
        elif printed and printed[-1].endswith(f"  {line.comment}"):
            printed.append(laid_out(statement, 4))  # the line above cites it
        else:  # black would wrap the statement around a trailing comment
            printed += [line.comment, laid_out(statement, 4)]
    return printed


def _float_names(lines: Sequence[_Line]) -> frozenset[str]:
    """The names the lines bind to numbers computed from constants alone, never an
    array whatever the inputs (`a = float(np.log(3))`, `b = a * a + a`)."""
    floats: set[str] = set()
    for line in lines:
        if line.statement is None:
            continue
        reads = symbols(line.statement.value)
        if line.field is None and all(s.name in floats for s in reads):
            floats.add(line.statement.target)
        else:
            floats.discard(line.statement.target)
    return frozenset(floats)


def _from_data(
    lines: Sequence[_Line], into: Sequence[str | None], data: Sequence[str]
) -> tuple[set[str], list[bool], list[bool]]:
    """What holds a value computed from the likely data, which in the usual layout
    is an array of the data's shape: the gradients (targets) whose direct form
    holds where they stand (every name in their `arrays` does), and, for each
    statement, whether its spare array (`into`) does, and whether its value does."""
    computed = set(data)  # names whose value the data go into, at this line
    direct, spare_computed, value_computed = set(), [], []
    statements = [line for line in lines if line.statement is not None]
    for line, spare in zip(statements, into, strict=True):
        field = line.field
        if field and field.direct and all(n in computed for n in field.arrays):
            direct.add(field.target)
        spare_computed.append(spare in computed)
        reads = symbols(line.statement.value)
        value_computed.append(any(s.name in computed for s in reads))
        if value_computed[-1]:
            computed.add(line.statement.target)
        else:
            computed.discard(line.statement.target)
    return direct, spare_computed, value_computed


def _result_writers(
    lines: Sequence[_Line],
    results: Sequence[str],
    direct: set[str],
    arrays: Sequence[bool],
    backend: Backend,
) -> dict[int, int]:
    """The statements (numbered among the lines' statements) that compute a result's
    final value, an array in the usual layout, with an operation that can write into
    a given array (`arrays`: per statement, whether its value is an array in the
    usual layout): each with the result's place in `results`. On a block, such a
    statement writes into the array _in_blocks gives it (`_into`), so the result is
    not copied there after. A result that is another's array is copied.

    The value is the last statement assigning its name; a gradient in its direct
    form (`direct`) is that form where it writes (`np.multiply(d_v, w{out})`), or
    else the last statement assigning the name it gives (`grad_x = d_x`)."""
    statements = [line.statement for line in lines if line.statement is not None]
    fields = [line.field for line in lines if line.statement is not None]
    last: dict[str, int] = {}  # a name's last statement so far
    found: dict[str, int] = {}  # a result: the statement computing it
    for i, (statement, field) in enumerate(zip(statements, fields, strict=True)):
        target = statement.target
        if field is not None and target in direct and target in results:
            if "{out}" in field.direct:
                found[target] = i
            elif field.direct in last:
                found[target] = last[field.direct]
        last[target] = i
    if results and results[0] in last:  # the value
        found[results[0]] = last[results[0]]
    writers: dict[int, int] = {}
    for position, name in enumerate(results):
        i = found.get(name)
        if i is None or i in writers or not arrays[i]:
            continue
        field = fields[i]
        if field is None and backend.code_into(statements[i].value, "_"):
            writers[i] = position
        elif field is not None and field.target in direct and "{out}" in field.direct:
            writers[i] = position
    return writers


def _usual_check(
    usual: str, data: Sequence[str], numbers: Sequence[str], m: str
) -> list[str]:
    """`usual = ...`: the likely data are float64 arrays of one shape, more than one
    element each, and every other input is a Python float. Then every value the
    body computes from the data is such an array, and every other one a float."""
    what = "a float64 array" if len(data) == 1 else "float64 arrays of one shape"
    parts = _chained([f"type({d})" for d in data], " is ", f" is {m}.ndarray", "")
    floats = _chained([f"type({n})" for n in numbers], " is ", " is float", "and ")
    if len(floats) > _FLOAT_LINES:  # many numbers: one call, checked last
        floats = []
    parts += floats
    parts += _chained([f"{d}.dtype" for d in data], " is ", " is _FLOAT64", "and ")
    if len(data) > 1:
        parts += _chained([f"{d}.shape" for d in data], " == ", "", "and ")
    parts.append(f"and {data[0]}.size > 1")
    if numbers and not floats:
        parts.append(f"and _floats({', '.join(numbers)})")
    others = ", every other input a float" if numbers else ""
    return [
        f"# the usual: {_listed(data)} {what}{others}",
        laid_out_parts(usual, parts, 4),
    ]


_FLOAT_LINES = 12  # the usual check's lines of `type(w) is ... is float`; more: _floats


def _chained(items: Sequence[str], op: str, tail: str, lead: str) -> list[str]:
    """`a is b is c<tail>` as parts of an `and` (laid_out_parts), each of them short
    enough for a line of its own: `a is b<tail>`, `and b is c<tail>`. The first part
    starts with `lead`, the rest with `and `."""
    room = LINE_LENGTH - 8 - len("and ") - len(tail)
    parts: list[str] = []
    chain: list[str] = []
    for item in items:
        if chain and len(op.join([*chain, item])) > room:
            parts.append(op.join(chain) + tail)
            chain = [chain[-1]] if not tail else []
        chain.append(item)
    if chain and (tail or len(chain) > 1):
        parts.append(op.join(chain) + tail)
    return [("and " if i else lead) + part for i, part in enumerate(parts)]


def _listed(names: Sequence[str]) -> str:
    """`x`, `x and y`, `x, y and z`."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _arrays_made(lines: Sequence[_Line], into: Sequence[str | None]) -> int:
    """How many arrays the body makes when its inputs are arrays: a statement that
    does not write into a spare array makes one, unless it only names a value or is
    the gradient of a likely number (a sum)."""
    statements = [line for line in lines if line.statement is not None]
    return sum(
        1
        for line, spare in zip(statements, into, strict=True)
        if spare is None
        and (line.field is None or line.field.data)
        and makes_value(line.statement.value)
    )


def _placed(
    lines: Sequence[_Line],
    program: Program,
    kept: Sequence[str],
    backend: Backend,
    fresh: Callable[[str], str],
) -> tuple[list[_Line], Sequence[str | None]]:
    """The lines as one statement per numpy operation (memory.unnest), and the
    spare array each statement's result may go into (memory.place).

    Gradients that may copy (_Field.shared) copy only if that leaves fewer
    statements making a new array than sharing the arrays they read."""
    chains = [
        (
            [line.statement]
            if line.statement is None or line.field is not None
            else unnest(line.statement, backend.ufunc_operands, fresh)
        )
        for line in lines
    ]
    planned = _planned(lines, chains, program, kept, backend)
    if any(line.field and line.field.shared for line in lines):
        shared = [_without_copy(line) for line in lines]
        chains = [
            [line.statement] if line.field else chain
            for line, chain in zip(shared, chains, strict=True)
        ]
        sharing = _planned(shared, chains, program, kept, backend)
        if sharing[2] <= planned[2]:
            lines, planned = shared, sharing
    placed, into, _ = planned
    kept_into = [spare for s, spare in zip(placed, into, strict=True) if s is not None]
    result: list[_Line] = []
    stays = iter(placed)
    for line, chain in zip(lines, chains, strict=True):
        if line.statement is None:
            result.append(line)
            continue
        result += _chain_lines(line, [s for s in (next(stays) for _ in chain) if s])
    return result, kept_into


def _planned(
    lines: Sequence[_Line],
    chains: Sequence[Sequence[Statement | None]],
    program: Program,
    kept: Sequence[str],
    backend: Backend,
) -> tuple[list[Statement | None], tuple[str | None, ...], int]:
    """memory.place on the lines' statements (`chains`, as unnested), and how many
    statements that could write into a spare array make a new one."""
    statements = [s for chain in chains for s in chain if s is not None]
    terms = {
        s.target
        for line, chain in zip(lines, chains, strict=True)
        for s in chain
        if s is not None and s.target != line.statement.target
    }
    fixed = {ln.field.target for ln in lines if ln.field and not ln.field.spare}

    def writes_into(statement: Statement) -> bool:
        if statement.target in fixed:
            return False
        return backend.code_into(statement.value, "_") is not None

    inputs = [s.name for s in program.inputs]
    placed, into = place(statements, inputs, kept, writes_into, terms)
    made = sum(
        1
        for statement, spare in zip(statements, into, strict=True)
        if spare is None and writes_into(statement)
    )
    return placed, into, made


def _without_copy(line: _Line) -> _Line:
    """The line of a gradient that may copy (_Field.shared) as the one that does not."""
    field = line.field
    if field is None or field.shared is None:
        return line
    shared = replace(field.shared, target=field.target)
    return _Line(Statement(field.target, shared.value), field=shared)


def _chain_lines(line: _Line, chain: Sequence[Statement]) -> list[_Line]:
    """A line's statements as lines. An equation's comment heads its statements; a
    backward step's ("times 2") goes on the last, which holds the step's value."""
    if len(chain) == 1:
        return [replace(line, statement=chain[0])]
    lines = [_Line(statement) for statement in chain]
    if line.comment.startswith("# times "):
        lines[-1] = replace(lines[-1], comment=line.comment)
    elif line.comment:
        lines.insert(0, _Line(None, line.comment))
    return lines


def _fuse_reductions(
    steps: Sequence[tuple[Step, float]], gradients: Sequence[Gradient]
) -> tuple[list[tuple[Step, float]], dict[str, tuple[Expr, Expr]]]:
    """Gradients `d_w = a * b` read once, by the reduction to `w`'s shape: fused.

    `_sum_product(a, b, ...)` then sums the product without making it, when `w` is a
    number and `a`, `b` arrays of the output's shape (a weight times its data).
    """
    uses: dict[str, int] = {}
    values = [step.value for step, _ in steps] + [g.value for g in gradients]
    for expr in values:
        for node in walk(expr) if expr is not None else ():
            if isinstance(node, Sym):
                uses[node.name] = uses.get(node.name, 0) + 1
    assigned: dict[str, int] = {}
    last: dict[str, int] = {}  # name -> the last step that assigns it
    for index, (step, _) in enumerate(steps):
        assigned[step.target] = assigned.get(step.target, 0) + 1
        last[step.target] = index
    by_target = {step.target: step for step, _ in steps}
    index_of = {step.target: index for index, (step, _) in enumerate(steps)}
    fused: dict[str, tuple[Expr, Expr]] = {}
    dropped: set[str] = set()
    for gradient in gradients:
        adjoint = gradient.value
        if not isinstance(adjoint, Sym) or uses.get(adjoint.name) != 1:
            continue
        step = by_target.get(adjoint.name)
        if step is None or not isinstance(step.value, Mul):
            continue
        if assigned[step.target] != 1:
            continue  # accumulated over several statements
        if any(
            last.get(s.name, -1) > index_of[step.target] for s in symbols(step.value)
        ):
            continue  # it reads a value that a later step changes (`d_L = d_L + ...`)
        fused[gradient.symbol.name] = (step.value.left, step.value.right)
        dropped.add(step.target)
    kept = [(step, f) for step, f in steps if step.target not in dropped]
    return kept, fused


def _gradient_arguments(fields: list[tuple[str, str]]) -> list[str]:
    """`Gradients(...)`'s arguments: by position while each value's name says its
    field (`grad_x` for x: keywords make a NamedTuple take two thirds longer to build),
    then by keyword (`b=d_z`)."""
    arguments = []
    by_position = True
    for field, code in fields:
        by_position = by_position and code in (f"d_{field}", f"grad_{field}")
        arguments.append(code if by_position else f"{field}={code}")
    return arguments


@dataclass(frozen=True, slots=True)
class _Field:
    """The gradient of input `name`, computed into the variable `target`: `call`
    is its code, with `{out}` where a spare array may go; `value` is what
    memory.plan sees of it (the arrays it reads, and whether it makes a new one);
    `data` says the input looks like data (its gradient then is likely an array);
    `spare` whether a spare array may go in (a likely sum takes one only by chance,
    and would keep it from the lines after it; a copy makes its own). A likely
    number's gradient that would be a forward value's array, if the input is an
    array after all, is a copy where that lets the body reuse the array: `shared`
    is the field without the copy, for where it does not.

    `direct` is the gradient without the helper, for the usual layout (the likely
    data float64 arrays of one shape, every other input a float): then the body
    values in `arrays` are arrays of that shape, and a likely data's gradient is an
    elementwise product or the array itself, not reduced, and a number's a dot or a
    sum (_dot, _sum)."""

    name: str
    call: str
    value: Expr
    data: bool = False
    spare: bool = False
    target: str = ""
    shared: _Field | None = None
    direct: str = ""
    arrays: tuple[str, ...] = ()

    def code(self, out: str | None) -> str:
        return f"{self.target} = {_with_out(self.call, out)}"

    def either(self, out: str | None, usual: str, fast: str | None) -> list[str]:
        """`direct if usual else call`, as its parts (formatting.laid_out_parts):
        `fast` is the spare array the direct form writes into."""
        direct = _with_out(self.direct, fast)
        return [direct, f"if {usual}", f"else {_with_out(self.call, out)}"]


def _with_out(call: str, out: str | None) -> str:
    """A field's code with its `{out}` filled: `, out=...`, or nothing."""
    return call.replace("{out}", "" if out is None else f", out={out}")


def _numpy_gradients(
    program: Program,
    gradients: Sequence[Gradient],
    fused: dict[str, tuple[Expr, Expr]],
    backend: Backend,
    shape: str,
) -> list[_Field]:
    """The gradients of a numpy `value_and_grad`, each reduced to its input's shape
    and multiplied by its factor, in input order."""
    m = backend.alias
    inputs = {s.name for s in program.inputs}
    data = _likely_data(program)
    numbers = inputs - data
    handed_out: set[str] = set()
    fields: list[_Field] = []
    for gradient in gradients:
        name, value, factor = gradient.symbol.name, gradient.value, gradient.factor
        scaled = "" if factor == 1.0 else f", {float_literal(factor)}"
        if value is None:
            call = f"{m}.zeros_like({name}, dtype={m}.result_type({name}, 1.0))"
            fields.append(_Field(name, call, ZERO))
            continue
        if name in fused:
            left, right = fused[name]
            code = f"{backend.code(left)}, {backend.code(right)}"
            call = f"_sum_product({code}, {name}, {shape}{scaled}{{out}})"
            likely = name in data
            direct, arrays = _direct_product(left, right, factor, numbers, likely, m)
            fields.append(
                _Field(
                    name,
                    call,
                    Mul(left, right),
                    likely,
                    likely,
                    direct=direct,
                    arrays=arrays,
                )
            )
            continue
        code = backend.code(value)
        copy, held = "", False
        if not symbols(value):  # a constant, in the input's float type (float32)
            number = float_literal(value.value) if isinstance(value, Num) else code
            code = f"{m}.asarray({number}, {m}.result_type({name}, 1.0))"
        elif isinstance(value, Sym) and factor == 1.0:
            held = (
                value.name in inputs
                or value.name in handed_out
                or value.name == program.output.name
            )
            # never hand out an array someone else holds; a likely number's
            # gradient copies one the body may reuse, or shares it (`shared`)
            if held or name not in data:
                copy = ", copy=True"
            handed_out.add(value.name)
        # a copy is a new value: the array it copies stays the body's
        read = value if factor == 1.0 and not copy else Mul(Num(factor), value)
        call = f"_sum_to({code}, {name}, {shape}{scaled}{{out}}{copy})"
        likely = name in data
        direct = ""
        if likely and isinstance(value, Sym):  # the array itself, scaled or copied
            if factor != 1.0:
                direct = f"{m}.multiply({code}, {float_literal(factor)}{{out}})"
            else:
                direct = f"{code}.copy()" if copy else code
        elif isinstance(value, Sym):  # a number's: the array's sum, as _sum_to's
            direct = f"_sum({code}){_times_text(factor)}"
        arrays = (value.name,) if direct else ()
        shared = None
        if copy and not held:  # a likely number's: see _Field
            shared = _Field(
                name, call.replace(copy, ""), value, direct=direct, arrays=arrays
            )
        fields.append(
            _Field(
                name,
                call,
                read,
                likely,
                likely and not copy,
                shared=shared,
                direct=direct,
                arrays=arrays,
            )
        )
    return fields


def _times_text(factor: float) -> str:
    """` * 2.0`, a factor applied to a float64 sum (_times), or nothing for 1."""
    return "" if factor == 1.0 else f" * {float_literal(factor)}"


def _direct_product(
    left: Expr,
    right: Expr,
    factor: float,
    numbers: set[str],
    likely: bool,
    m: str,
) -> tuple[str, tuple[str, ...]]:
    """sum(left * right) down to a likely data input (`likely`) or a number, in the
    usual layout (_Field.direct), as _sum_product computes it there: for the data,
    `left` an array and `right` a likely number (an input) or, with no factor, an
    array; for a number, a dot of two arrays. ("", ()) where none of these holds;
    the arrays are the names that must hold arrays computed from the data."""
    if not isinstance(left, Sym) or not isinstance(right, Sym):
        return "", ()
    if not likely:
        dot = f"_dot({left.name}, {right.name}){_times_text(factor)}"
        return dot, (left.name, right.name)
    if right.name in numbers:
        times = _times_text(factor)
        return f"{m}.multiply({left.name}, {right.name}{times}{{out}})", (left.name,)
    if factor == 1.0:
        return f"{m}.multiply({left.name}, {right.name}{{out}})", (
            left.name,
            right.name,
        )
    return "", ()


def _likely_data(program: Program) -> set[str]:
    """The inputs that look like data rather than weights.

    Which inputs are arrays is known only at run time. Papers write a weight
    before its data (`w x`, `w_{12} x_2`) and subtract a target from a prediction
    (`y - y^{*}`, `\\hat{y} - y`): an input that is the right factor of a product
    with another input, or that is subtracted, is taken for data. Where no input
    looks like either, as in `f(x, y) = (x + σ(y)) / (σ(x) + (x + y)^2)`, the
    document is a function evaluated at points, and every input is taken for data.
    """
    inputs = {s.name for s in program.inputs}
    data: set[str] = set()
    for assign in program.assigns:
        for node in walk(assign.value):
            match node:
                case Mul(left=Sym(name=a), right=Sym(name=b)) if (
                    a in inputs and b in inputs
                ):
                    data.add(b)
                case Sub(right=Sym(name=b)) if b in inputs:
                    data.add(b)
    return data or inputs


def _place(
    lines: Sequence[_Line], fields: Sequence[_Field], earliest: int
) -> list[_Line]:
    """`lines` with each gradient of `fields` put where it frees or takes the most
    arrays (and not before line `earliest`).

    The gradient of likely data is an array: it goes after the last line that
    reads what it reads, and may be written into one of those arrays. Any other is
    likely a sum (the gradient of a number), which needs no array: it goes as soon
    as what it reads is final, so that the value's last reader is a line that may
    write into it (`grad_w = sum(d_a * x)` before `d_x = d_a * w` lets the product
    go into d_a's array). Gradients placed at one point go in input order, those of
    likely data last (their arrays are the ones worth writing into).
    """
    last: dict[str, int] = {}  # name -> the last line that assigns or reads it
    final: dict[str, int] = {}  # name -> the last line that assigns it
    for index, line in enumerate(lines):
        if line.statement is not None:
            last[line.statement.target] = final[line.statement.target] = index
            for symbol in symbols(line.statement.value):
                last[symbol.name] = index
    placed: list[tuple[int, bool, int, _Field]] = []
    for order, field in enumerate(fields):
        after = last if field.data else final
        reads = [after.get(s.name, -1) + 1 for s in symbols(field.value)]
        position = max(reads) if reads else len(lines)
        placed.append((max(position, earliest), field.data, order, field))
    placed.sort(key=lambda item: item[:3])
    result: list[_Line] = []
    taken = 0  # lines of `lines` in `result` so far
    for position, _, _, field in placed:  # a merge: inserting would be quadratic
        result += lines[taken:position]
        taken = max(taken, position)
        result.append(_Line(Statement(field.target, field.value), field=field))
    return result + list(lines[taken:])


def _scaled(gradient: Gradient) -> Expr:
    """The gradient as one expression, its factor applied."""
    if gradient.value is None:
        return ZERO
    if gradient.factor == 1.0:
        return gradient.value
    return mul(Num(gradient.factor), gradient.value)


def _number_text(value: float) -> str:
    """`2`, `-1`, `0.5`: a factor as a comment names it."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e6 else repr(value)


def _float_code(expr: Expr, backend: Backend) -> str:
    if isinstance(expr, Num):
        return float_literal(expr.value)
    return backend.code(expr)


@functools.cache
def _environment() -> jinja2.Environment:
    return _new_environment(_template_cache())


def _new_environment(cache: jinja2.BytecodeCache | None) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        bytecode_cache=cache,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters["laid_out"] = laid_out  # a long line as black splits it
    return environment


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """Jinja's cache of compiled templates, in its per-user directory under the
    temporary directory (as Lark caches the parser's tables, parse.parser): a later
    run loads the module template's code instead of compiling it again (10 to 20 ms
    of the half second a small document takes). An entry is keyed by the template's
    text and the Python version, so it is never stale; one that cannot be read is
    compiled again, one that cannot be written is not written."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - unreadable or truncated: compile again
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _template_cache() -> jinja2.BytecodeCache | None:
    try:
        return _TemplateCache()
    except (OSError, RuntimeError):  # no usable temporary directory: no cache
        return None


@functools.cache
def _helper_sources(backend: str) -> dict[str, str]:
    path = data_dir("templates") / f"helpers_{backend}.py"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    # by line numbers: ast.get_source_segment splits the whole text on every call
    named = {  # the functions, and constants (`_BLOCK = 10_000  # ...`)
        node.name if isinstance(node, ast.FunctionDef) else node.targets[0].id: node
        for node in ast.parse(text).body
        if isinstance(node, ast.FunctionDef | ast.Assign)
    }
    return {
        name: "".join(lines[node.lineno - 1 : node.end_lineno]).rstrip("\n")
        for name, node in named.items()
    }


def _helper_source(backend: str, name: str) -> str:
    return _helper_sources(backend)[name]


def calls(expr: Expr) -> set[str]:
    """The functions `expr` calls."""
    return {n.function for n in walk(expr) if isinstance(n, Call)}
