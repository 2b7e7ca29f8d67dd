"""The computational graph of a program, drawn with Graphviz.

Inputs, intermediates and the output are nodes named by the document's symbols;
each edge runs from an operand to the symbol computed from it and is labelled with
the local partial derivative. The `graphviz` package writes DOT; the system's `dot`
renders SVG or PNG when it is installed.
"""

from __future__ import annotations

import re
import shutil

from .adjoint import derivative_of
from .ir import Program, symbols
from .latex import Style, to_latex

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε",
    "varepsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ",
    "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ",
    "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
    "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "ell": "ℓ", "partial": "∂",
    "cdot": "·", "star": "*",
}  # fmt: skip


def readable(latex: str) -> str:
    """LaTeX-like text for a label: Greek letters as letters, fewer braces."""
    text = re.sub(r"\\(mathrm|operatorname|text)\{([^{}]*)\}", r"\2", latex)
    text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", text)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: _GREEK.get(m[1], m[1]), text)
    text = text.replace("\\,", " ").replace("{", "").replace("}", "").replace("^*", "*")
    return " ".join(text.split())


def dot_source(program: Program, style: Style) -> str:
    """The graph as DOT text."""
    import graphviz

    graph = graphviz.Digraph("computation", graph_attr={"rankdir": "LR"})
    graph.attr("node", fontname="Helvetica")
    graph.attr("edge", fontname="Helvetica", fontsize="10")
    for symbol in program.inputs:
        graph.node(symbol.name, readable(symbol.latex), shape="box", style="rounded")
    for assign in program.assigns:
        output = assign.target.name == program.output.name
        graph.node(
            assign.target.name,
            readable(assign.target.latex),
            shape="doublecircle" if output else "ellipse",
        )
    for assign in program.assigns:
        for operand in symbols(assign.value):
            local = derivative_of((assign,), assign.target, operand)
            graph.edge(
                operand.name, assign.target.name, readable(to_latex(local, style))
            )
    return graph.source


def render(source: str, fmt: str) -> bytes:
    """DOT text rendered by Graphviz's `dot` as `fmt` ("svg" or "png")."""
    import graphviz

    return graphviz.Source(source).pipe(format=fmt)


def have_dot() -> bool:
    return shutil.which("dot") is not None
