"""IR expressions back to LaTeX a person can read, and that eqcompiler reads again.

Used by `verify` (the derived value in a message) and `explain` (a whole derivation).
Products are juxtaposition (`2(y - y^{*})\\, y\\, x`), quotients `\\frac`, symbols keep
the document's spelling. What is printed parses back to the same expression:
`\\sigma(z)` and `e^{z}` are used only where the document reads them that way.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ir import (
    Add,
    Call,
    Compare,
    Const,
    Derivative,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Pow,
    Sub,
    Sym,
)

_ADD, _MUL, _NEG, _POW, _ATOM = 10, 20, 30, 40, 50
_CMP = {">": ">", ">=": "\\ge", "<": "<", "<=": "\\le"}
_FUNCTIONS = {
    "log": "\\log",
    "sin": "\\sin",
    "cos": "\\cos",
    "tan": "\\tan",
    "sinh": "\\sinh",
    "cosh": "\\cosh",
    "tanh": "\\tanh",
    "arcsin": "\\arcsin",
    "arccos": "\\arccos",
    "arctan": "\\arctan",
    "max": "\\max",
    "min": "\\min",
    "softplus": "\\operatorname{softplus}",
    "relu": "\\operatorname{relu}",
    "sign": "\\operatorname{sign}",
}


@dataclass(frozen=True, slots=True)
class Style:
    """How the document reads `\\sigma` and `e`: as functions, or as its variables."""

    sigma_is_function: bool = True
    e_is_constant: bool = True


def to_latex(expr: Expr, style: Style | None = None) -> str:
    """`expr` as LaTeX."""
    return _Printer(style or Style()).print(expr)[0]


class _Printer:
    def __init__(self, style: Style) -> None:
        self.style = style

    def print(self, expr: Expr) -> tuple[str, int]:
        match expr:
            case Num(value=value):
                return _number(value), (_NEG if value < 0 else _ATOM)
            case Const(name="pi"):
                return "\\pi", _ATOM
            case Const(name=name):
                return ("e" if self.style.e_is_constant else "\\exp(1)"), _ATOM
            case Sym(latex=latex, name=name):
                return latex or name, _ATOM
            case Derivative(of=of, wrt=wrt):
                return f"\\frac{{\\partial {of.latex}}}{{\\partial {wrt.latex}}}", _ATOM
            case Add(left=left, right=right):
                return f"{self.at(left, _ADD)} + {self.at(right, _ADD)}", _ADD
            case Sub(left=left, right=right):
                return f"{self.at(left, _ADD)} - {self.at(right, _ADD + 1)}", _ADD
            case Mul():
                return self._product(expr), _MUL
            case Div(left=left, right=right):
                return (
                    f"\\frac{{{self.print(left)[0]}}}{{{self.print(right)[0]}}}",
                    _ATOM,
                )
            case Neg(operand=operand):
                return f"-{self.at(operand, _MUL)}", _NEG
            case Pow(base=base, exponent=exponent):
                return f"{self.at(base, _POW + 1)}^{{{self.print(exponent)[0]}}}", _POW
            case Compare(op=op, left=left, right=right):
                test = f"{self.print(left)[0]} {_CMP[op]} {self.print(right)[0]}"
                return f"\\mathbb{{1}}({test})", _ATOM
            case Call():
                return self._call(expr), _ATOM
        raise AssertionError(f"cannot print {expr!r}")

    def at(self, expr: Expr, level: int) -> str:
        text, own = self.print(expr)
        return f"({text})" if own < level else text

    def _product(self, expr: Mul) -> str:
        factors = _factors(expr)
        parts: list[str] = []
        for i, factor in enumerate(factors):
            text = self.at(factor, _MUL + 1)
            if i == 0:
                parts.append(text)
                continue
            previous = factors[i - 1]
            if isinstance(factor, Num) or (isinstance(factor, Neg)):
                parts.append(" \\cdot " + text)
            elif isinstance(previous, Num) and not text.startswith("\\frac"):
                parts.append(
                    text if text[0] in "(\\" or text[0].isalpha() else " " + text
                )
            else:
                parts.append("\\, " + text)
        return "".join(parts)

    def _call(self, expr: Call) -> str:
        args = [self.print(a)[0] for a in expr.args]
        name = expr.function
        if name == "exp":
            if self.style.e_is_constant:
                return f"e^{{{args[0]}}}"
            return f"\\exp({args[0]})"
        if name == "sqrt":
            return f"\\sqrt{{{args[0]}}}"
        if name == "abs":
            return f"\\lvert {args[0]} \\rvert"
        if name == "sigmoid":
            if self.style.sigma_is_function:
                return f"\\sigma({args[0]})"
            return f"\\frac{{1}}{{1 + \\exp(-{self.at(expr.args[0], _MUL + 1)})}}"
        if name == "logaddexp":
            return f"\\log(\\exp({args[0]}) + \\exp({args[1]}))"
        return f"{_FUNCTIONS[name]}({', '.join(args)})"


def _factors(expr: Expr) -> list[Expr]:
    if isinstance(expr, Mul):
        return _factors(expr.left) + _factors(expr.right)
    return [expr]


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(value)
