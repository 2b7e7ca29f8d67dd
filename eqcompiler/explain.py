"""Write a program's derivation out as a document: forward pass, local derivatives,
chain rule, closed forms.

The result is Markdown with display LaTeX that eqcompiler reads again: its forward
pass is the program's, and every derivative in it is a claim `verify` accepts.
Everything comes from the same rules and reverse sweep as the generated code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .adjoint import derivative_of
from .ir import Add, Assign, Expr, Neg, Program, Sub, Sym, symbols
from .latex import Style, to_latex

_MAX_PATHS = 12


@dataclass(frozen=True, slots=True)
class Edge:
    """`target` reads `operand` in its assignment."""

    assign: Assign
    operand: Sym


def explain(program: Program, style: Style, source: str, declarations: dict) -> str:
    """The derivation of `program` as a Markdown document."""
    graph = _Graph(program)
    out = [*_front_matter(program, declarations)]
    out += [
        f"# How the gradients of ${program.output.latex}$ follow from the equations",
        "",
        f"Written by eqcompiler from `{source}`. Each derivative below is stated as an",
        "equation, so `eqcompiler verify` can check this document too.",
        "",
        "## Forward pass",
        "",
    ]
    out += [f"$${a.latex}$$\n" for a in program.assigns]
    out += ["## Local derivatives", ""]
    out += [
        "Each equation differentiated by each symbol it reads, the others held still:",
        "",
    ]
    for assign in program.assigns:
        out.extend(_local_derivatives(assign, graph, style))
    out += ["## Gradients", ""]
    for wrt in program.wrt:
        out.extend(_gradient(program, graph, wrt, style))
    return "\n".join(out).rstrip() + "\n"


def _front_matter(program: Program, declarations: dict) -> Iterator[str]:
    keys = {
        "output": program.output.name,
        **{k: v for k, v in declarations.items() if v},
    }
    if len(program.wrt) != len(program.inputs):
        keys["wrt"] = [s.name for s in program.wrt]
    yield "---"
    for key, value in keys.items():
        if isinstance(value, (list, tuple)):
            items = ", ".join(f"'{v}'" for v in value)
            yield f"{key}: [{items}]"
        else:
            yield f"{key}: {value}"
    yield "---"
    yield ""


class _Graph:
    """Which assignment reads which symbol, and the paths between symbols."""

    def __init__(self, program: Program) -> None:
        self.by_name = {a.target.name: a for a in program.assigns}
        self.assigns = program.assigns

    def edges(self, assign: Assign) -> list[Edge]:
        return [Edge(assign, s) for s in symbols(assign.value)]

    def paths(self, of: str, wrt: str) -> Iterator[list[Edge]]:
        assign = self.by_name.get(of)
        if assign is None:
            return
        for edge in self.edges(assign):
            if edge.operand.name == wrt:
                yield [edge]
            elif edge.operand.name in self.by_name:
                for rest in self.paths(edge.operand.name, wrt):
                    yield [edge, *rest]

    def single_path(self, edge: Edge) -> bool:
        """The edge is the only way from its target to its operand (local = total)."""
        paths = self.paths(edge.assign.target.name, edge.operand.name)
        return next(paths, None) is not None and next(paths, None) is None


def _derivative(of: Sym, wrt: Sym) -> str:
    return f"\\frac{{\\partial {of.latex}}}{{\\partial {wrt.latex}}}"


def _local(edge: Edge) -> Expr:
    return derivative_of((edge.assign,), edge.assign.target, edge.operand)


def _local_derivatives(assign: Assign, graph: _Graph, style: Style) -> Iterator[str]:
    stated, prose = [], []
    for edge in graph.edges(assign):
        value = to_latex(_local(edge), style)
        if graph.single_path(edge):
            stated.append(f"{_derivative(assign.target, edge.operand)} = {value}")
        else:
            prose.append(
                f"holding ${edge.operand.latex}$'s other routes into "
                f"${assign.target.latex}$ still, ${assign.target.latex}$ changes with "
                f"${edge.operand.latex}$ at the rate ${value}$"
            )
    if stated:
        yield "$$" + ", \\quad ".join(stated) + "$$"
        yield ""
    for line in prose:
        yield f"From ${assign.latex}$: {line}."
        yield ""


def _gradient(program: Program, graph: _Graph, wrt: Sym, style: Style) -> Iterator[str]:
    output = program.output
    head = _derivative(output, wrt)
    yield f"### ${head}$"
    yield ""
    paths = list(_limited(graph.paths(output.name, wrt.name)))
    closed = to_latex(derivative_of(program.assigns, output, wrt), style)
    if not paths:
        yield f"${output.latex}$ does not depend on ${wrt.latex}$:"
        yield ""
        yield f"$${head} = 0$$"
        yield ""
        return
    if len(paths) > _MAX_PATHS:
        yield f"More than {_MAX_PATHS} paths lead from ${output.latex}$ to ${wrt.latex}$;"
        yield "the reverse sweep sums them all:"
        yield ""
        yield f"$${head} = {closed}$$"
        yield ""
        return
    if all(len(path) == 1 for path in paths):
        yield f"${output.latex}$ reads ${wrt.latex}$ directly:"
        yield ""
        yield f"$${head} = {closed}$$"
        yield ""
        return
    count = "One path leads" if len(paths) == 1 else f"{len(paths)} paths lead"
    yield (
        f"{count} from ${output.latex}$ back to ${wrt.latex}$. The chain rule multiplies "
        "the local derivatives along each path and adds the paths:"
    )
    yield ""
    if all(graph.single_path(edge) for path in paths for edge in path):
        symbolic = " + ".join(
            " ".join(_derivative(e.assign.target, e.operand) for e in path)
            for path in paths
        )
        yield f"$${head} = {symbolic}$$"
        yield ""
    products = [
        " \\cdot ".join(_factor(_local(e), style) for e in path) for path in paths
    ]
    yield f"$${head} = {' + '.join(products)}$$"
    yield ""
    yield "In the values the forward pass computes:"
    yield ""
    yield f"$${head} = {closed}$$"
    yield ""


def _factor(expr: Expr, style: Style) -> str:
    text = to_latex(expr, style)
    return f"({text})" if isinstance(expr, (Add, Sub, Neg)) else text


def _limited(paths: Iterator[list[Edge]]) -> Sequence[list[Edge]]:
    found = []
    for path in paths:
        found.append(path)
        if len(found) > _MAX_PATHS:
            break
    return found
