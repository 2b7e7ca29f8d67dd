"""Random programs of equations, their LaTeX, and an independent oracle (sympy).

`random_program(draw)` builds a program of assignments over every operation
eqcompiler supports, twice in parallel: as sympy expressions (the meaning) and as a
Markdown document (one of many ways a person could write it). The shape varies:
depth and fan-out, shared subexpressions, assignments nothing uses, identical
repeats, any order, several equations per block, environments, decorated names, and
for each operation several spellings (`\\frac` or `/`, `\\cdot` or juxtaposition,
`e^{...}` or `\\exp`, ...).

Every value stays inside its functions' domains by construction: each node carries
an interval that holds for all inputs in [-2, 2], and a log, square root, divisor,
power base, arcsine, ... gets an argument made positive or bounded first. The oracle
(`check`) never uses eqcompiler: it differentiates the fully substituted sympy
expression and evaluates it with `lambdify`, at random points away from the kinks of
max, min, |.|, ReLU and indicators (DESIGN.md sets the derivative there).

`tests/test_properties.py` runs a bounded number with hypothesis; the long run is

    python fuzz/programs.py --programs 10000 --seed 1

whose summary fuzz/RESULTS.md records.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import math
import random
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import sympy

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzz.checks import (  # noqa: E402
    Timeout,
    backend_of_module,
    module_problem,
    time_limit,
)

# ---- choices -------------------------------------------------------------------------


class Draw(Protocol):
    """Where the random choices come from (random.Random or hypothesis)."""

    def integer(self, low: int, high: int) -> int: ...


class RandomDraw:
    """Choices from a seeded `random.Random`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)


class HypothesisDraw:
    """Choices from hypothesis's `st.data()` (shrinks towards the first option)."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data = data
        self.st = st

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(self.st.integers(low, high))


def _pick(draw: Draw, options: Sequence):
    return options[draw.integer(0, len(options) - 1)]


def _chance(draw: Draw, percent: int) -> bool:
    """True with probability `percent`%; shrinks towards False."""
    return draw.integer(0, 99) >= 100 - percent


# ---- names ------------------------------------------------------------------------------

# Python name -> ways of writing it (DESIGN.md, "Names in generated code").
INPUT_NAMES = {
    "x": ["x"],
    "z": ["z"],
    "w": ["w"],
    "b": ["b"],
    "a": ["a"],
    "t": ["t"],
    "W": ["W"],
    "alpha": ["\\alpha"],
    "beta": ["\\beta"],
    "theta": ["\\theta"],
    "lambda_": ["\\lambda"],
    "mu": ["\\mu"],
    "w_1": ["w_1", "w_{1}"],
    "x_2": ["x_2", "x_{2}"],
    "y_star": ["y^{*}", "y^*", "y^\\star"],
    "y_hat": ["\\hat{y}", "\\hat y"],
    "x_bar": ["\\bar{x}"],
    "x_i": ["x^{(i)}"],
    "lr": ["\\mathrm{lr}"],
    "h_t": ["h_t", "h_{t}"],
    "eta": ["\\text{eta}"],
}
TARGET_NAMES = {
    "u": ["u"],
    "v": ["v"],
    "h": ["h"],
    "p": ["p"],
    "q": ["q"],
    "s": ["s"],
    "g": ["g"],
    "L": ["L"],
    "ell": ["\\ell"],
    "z_1": ["z_1", "z_{1}"],
    "h_2": ["h_{2}", "h_2"],
    "u_tilde": ["\\tilde{u}"],
    "v_prime": ["v'"],
    "phi": ["\\phi"],
    "r_t": ["r_{t}"],
    "Sigma": ["\\Sigma"],
    "loss": ["\\mathrm{loss}"],
}
# Names that can take a power directly (`x^{2}`, `w_{1}^{2}`); the others get parentheses.
_PLAIN = {"x", "z", "w", "b", "a", "t", "W", "u", "v", "h", "p", "q", "s", "g", "L"}
_PLAIN |= {"alpha", "beta", "theta", "lambda_", "mu", "ell", "phi", "Sigma"}
_PLAIN |= {"w_1", "x_2", "h_t", "z_1", "h_2", "r_t", "lr", "loss", "x_bar", "y_hat"}
_PLAIN |= {"u_tilde", "eta"}

# ---- kinks: functions whose derivatives sympy takes without deciding signs ------------


class signum(sympy.Function):  # noqa: N801 - the name lambdify prints
    """The sign of the argument; its derivative is 0 (DESIGN.md: 0 at the kink too)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return sympy.sign(arg) if arg.is_Number else None


class absval(sympy.Function):  # noqa: N801
    """|x|, differentiated as sign(x) whether or not sympy can prove x real."""

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return abs(arg) if arg.is_Number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return signum(self.args[0])


class jump(sympy.Function):  # noqa: N801
    """Marks a kink where the value jumps too (an indicator), not only the slope."""


class step(sympy.Function):  # noqa: N801
    """1 where the argument is positive, else 0; derivative 0."""

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        if arg.is_Number:
            return sympy.S.One if arg > 0 else sympy.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


# ---- nodes --------------------------------------------------------------------------------

# How tightly a rendering binds, loosest first.
SUM, PRODUCT, NEG, JUXT, ITEM = 1, 2, 3, 4, 5
BOUND = 60.0  # every node stays within [-BOUND, BOUND] for inputs in [-2, 2]


@dataclass(frozen=True)
class Node:
    """One expression: its meaning, its LaTeX, and what a parent must know."""

    expr: sympy.Expr
    latex: str
    prec: int
    lo: float
    hi: float
    kinks: tuple = ()  # sympy expressions that must not be 0 where we compare
    open_right: bool = False  # ends in `\sin x`: would swallow what is juxtaposed
    starts_digit: bool = False  # `2x`: cannot follow another factor directly
    scriptable: bool = False  # takes `^{..}` as it is
    bars: bool = False  # holds a bare `|`
    size: int = 1
    spellings: tuple[str, ...] = ()  # a symbol: its ways of writing, one per use
    reads: frozenset = frozenset()  # the inputs and targets it reads (Python names)

    @property
    def magnitude(self) -> float:
        return max(abs(self.lo), abs(self.hi))


def _varies(*nodes: Node) -> bool:
    """Whether any of `nodes` depends on an input (a kink of constants is no kink)."""
    return any(n.expr.free_symbols for n in nodes)


def _combine(*nodes: Node) -> dict:
    return {
        "kinks": tuple(k for n in nodes for k in n.kinks),
        "bars": any(n.bars for n in nodes),
        "size": 1 + sum(n.size for n in nodes),
        "reads": frozenset().union(*(n.reads for n in nodes)),
    }


def _interval(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) != len(values):
        return (-math.inf, math.inf)
    return (min(finite), max(finite))


def _monotone(f: Callable[[float], float], node: Node) -> tuple[float, float]:
    try:
        return _interval([f(node.lo), f(node.hi)])
    except (OverflowError, ValueError):
        return (-math.inf, math.inf)


def paren(draw: Draw, node: Node) -> Node:
    """`node` in parentheses (or brackets, `\\left( \\right)`, braces)."""
    opener, closer = _pick(
        draw,
        [
            ("(", ")"),
            ("(", ")"),
            ("\\left(", "\\right)"),
            ("[", "]"),
            ("\\bigl(", "\\bigr)"),
        ],
    )
    return replace(
        node,
        latex=f"{opener}{node.latex}{closer}",
        prec=ITEM,
        open_right=False,
        starts_digit=False,
        scriptable=True,
    )


def _at_least(draw: Draw, node: Node, level: int) -> str:
    """The LaTeX of `node` as an operand that needs binding `level`."""
    if node.prec >= level and not (node.open_right and level > SUM):
        return node.latex
    return paren(draw, node).latex


def number(draw: Draw) -> Node:
    value = _pick(draw, [1, 2, 3, 0.5, 1.5, 0.25, 4, 10, 0.1])
    text = str(value)
    if value == 0.5 and _chance(draw, 40):
        text = _pick(draw, ["\\frac12", "\\frac{1}{2}", "\\tfrac{1}{2}"])
        return Node(sympy.Rational(1, 2), text, ITEM, 0.5, 0.5)
    exact = sympy.Rational(str(value))
    return Node(exact, text, ITEM, value, value, starts_digit=True, scriptable=True)


def constant(draw: Draw) -> Node:
    if _chance(draw, 50):
        return Node(sympy.pi, "\\pi", ITEM, math.pi, math.pi, scriptable=True)
    return Node(sympy.E, "e", ITEM, math.e, math.e)


# ---- operations ---------------------------------------------------------------------------


def add(draw: Draw, a: Node, b: Node) -> Node:
    left = _at_least(draw, a, SUM)
    right = _at_least(draw, b, PRODUCT)
    lo, hi = a.lo + b.lo, a.hi + b.hi
    return Node(a.expr + b.expr, f"{left} + {right}", SUM, lo, hi, **_combine(a, b))


def sub(draw: Draw, a: Node, b: Node) -> Node:
    left = _at_least(draw, a, SUM)
    right = _at_least(draw, b, PRODUCT)
    lo, hi = a.lo - b.hi, a.hi - b.lo
    return Node(a.expr - b.expr, f"{left} - {right}", SUM, lo, hi, **_combine(a, b))


def _product_interval(a: Node, b: Node) -> tuple[float, float]:
    return _interval([a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi])


def mul(draw: Draw, a: Node, b: Node) -> Node:
    lo, hi = _product_interval(a, b)
    style = draw.integer(0, 4)
    if style <= 1:  # juxtaposition: `wx`, `2x`, `\alpha (1 - x)`
        left = a.latex if a.prec >= JUXT and not a.open_right else paren(draw, a).latex
        right_node = b if b.prec >= JUXT and not b.starts_digit else paren(draw, b)
        space = _pick(draw, [" ", " ", "\\,", "\\, ", ""])
        if space == "" and not (
            (a.latex.isalpha() and len(a.latex) == 1 and b.latex[:1].isalpha())
            or (a.starts_digit and a.latex.replace(".", "").isdigit())
        ):
            space = " "
        latex = f"{left}{space}{right_node.latex}"
        return Node(
            a.expr * b.expr,
            latex,
            JUXT,
            lo,
            hi,
            open_right=right_node.open_right,
            starts_digit=a.starts_digit and a.prec >= JUXT and not a.open_right,
            **_combine(a, b),
        )
    op = _pick(draw, ["\\cdot", "\\cdot", "\\times", "*"])
    left = _at_least(draw, a, PRODUCT)
    right = _at_least(draw, b, NEG)
    return Node(
        a.expr * b.expr, f"{left} {op} {right}", PRODUCT, lo, hi, **_combine(a, b)
    )


def div(draw: Draw, a: Node, b: Node) -> Node:
    """a / b, with b positive (made so if it is not)."""
    b = positive(draw, b)
    lo, hi = _interval([a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi])
    style = draw.integer(0, 3)
    if style <= 1:
        command = _pick(draw, ["\\frac", "\\frac", "\\dfrac", "\\tfrac"])
        latex = f"{command}{{{a.latex}}}{{{b.latex}}}"
        if len(a.latex) == 1 and len(b.latex) == 1 and _chance(draw, 50):
            latex = f"{command}{a.latex}{b.latex}" if a.latex.isdigit() else latex
        return Node(a.expr / b.expr, latex, ITEM, lo, hi, **_combine(a, b))
    left = _at_least(draw, a, PRODUCT)
    right = _at_least(draw, b, NEG)
    return Node(a.expr / b.expr, f"{left} / {right}", PRODUCT, lo, hi, **_combine(a, b))


def neg(draw: Draw, a: Node) -> Node:
    inner = (
        a.latex
        if a.prec >= NEG and not a.latex.startswith("-")
        else paren(draw, a).latex
    )
    return Node(-a.expr, f"-{inner}", NEG, -a.hi, -a.lo, **_combine(a))


def power(draw: Draw, a: Node) -> Node:
    """a^{n} for a constant n (a positive where n is not a whole number >= 1)."""
    n = _pick(draw, [2, 2, 3, -1, -2, 0.5, 1.5])
    if n < 0 or n != int(n):
        a = positive(draw, bounded(draw, a, 1.5))
    else:
        a = bounded(draw, a, 4.0)
    exponent = sympy.Rational(str(n))
    values = [a.lo**n, a.hi**n]
    if n == 2 and a.lo < 0 < a.hi:
        values.append(0.0)
    lo, hi = _interval(values)
    text = {2: "2", 3: "3", -1: "-1", -2: "-2", 0.5: "0.5", 1.5: "1.5"}[n]
    if n == 0.5 and _chance(draw, 50):
        text = "\\frac{1}{2}"
    script = f"^{text}" if len(text) == 1 and _chance(draw, 40) else f"^{{{text}}}"
    return Node(
        a.expr**exponent, _scripted(draw, a) + script, ITEM, lo, hi, **_combine(a)
    )


def _scripted(draw: Draw, a: Node) -> str:
    return a.latex if a.scriptable else paren(draw, a).latex


def power_var(draw: Draw, a: Node, b: Node) -> Node:
    """a^{b}: a positive, b bounded."""
    a = positive(draw, bounded(draw, a, 1.5))
    b = bounded(draw, b, 2.0)
    candidates = [a.lo**b.lo, a.lo**b.hi, a.hi**b.lo, a.hi**b.hi]
    lo, hi = _interval(candidates)
    if a.lo < 1 < a.hi:
        lo, hi = min(lo, 1.0), max(hi, 1.0)
    latex = f"{_scripted(draw, a)}^{{{b.latex}}}"
    return Node(a.expr**b.expr, latex, ITEM, lo, hi, **_combine(a, b))


def root(draw: Draw, a: Node) -> Node:
    a = positive(draw, a)
    n = _pick(draw, [3, 4])
    lo, hi = a.lo ** (1 / n), a.hi ** (1 / n)
    latex = f"\\sqrt[{n}]{{{a.latex}}}"
    return Node(a.expr ** sympy.Rational(1, n), latex, ITEM, lo, hi, **_combine(a))


_OPENERS = ("(", "[", "\\left", "\\bigl")


def _apply(draw: Draw, command: str, a: Node, bare: bool = True) -> tuple[str, bool]:
    """`\\sin(a)`, `\\sin\\left(a\\right)` or `\\sin a`; and whether it is open."""
    style = draw.integer(0, 5)
    if (
        bare
        and style == 0
        and a.prec == ITEM
        and not a.bars
        and not a.starts_digit
        and not a.latex.startswith(_OPENERS)  # `\\log(x)^2` is a power of a call
    ):
        return f"{command} {a.latex}", True
    if style == 1:
        return f"{command}\\left({a.latex}\\right)", False
    return f"{command}({a.latex})", False


def function(draw: Draw, name: str, a: Node) -> Node:
    """A one-argument function, its argument made to fit its domain."""
    if name in ("log", "sqrt"):
        a = positive(draw, a)
    elif name in ("arcsin", "arccos"):
        a = bounded(draw, a, 0.9)
    elif name == "tan":
        a = bounded(draw, a, 1.2)
    elif name in ("exp", "sinh", "cosh"):
        a = bounded(draw, a, 3.5)
    meaning = {
        "exp": sympy.exp,
        "log": sympy.log,
        "sqrt": sympy.sqrt,
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "sinh": sympy.sinh,
        "cosh": sympy.cosh,
        "tanh": sympy.tanh,
        "arcsin": sympy.asin,
        "arccos": sympy.acos,
        "arctan": sympy.atan,
    }[name]
    lo, hi = _range(name, a)
    open_right = False
    if name == "exp":
        style = draw.integer(0, 3)
        if style <= 1:
            latex = f"e^{{{a.latex}}}"
        elif style == 2 and len(a.latex) == 1 and a.latex.isalpha():
            latex = f"e^{a.latex}"
        else:
            latex, open_right = _apply(draw, "\\exp", a)
    elif name == "sqrt":
        latex = f"\\sqrt{{{a.latex}}}"
    elif name in ("arcsin", "arccos", "arctan") and _chance(draw, 30):
        inverse = {"arcsin": "\\sin", "arccos": "\\cos", "arctan": "\\tan"}[name]
        latex, open_right = _apply(draw, f"{inverse}^{{-1}}", a)
    elif name == "log" and _chance(draw, 20):
        latex, open_right = _apply(draw, "\\ln", a)
    elif name == "tanh" and a.magnitude <= 30 and _chance(draw, 20):
        minus = _at_least(draw, a, NEG)
        latex = (
            f"\\frac{{e^{{{a.latex}}} - e^{{-{minus}}}}}"
            f"{{e^{{{a.latex}}} + e^{{-{minus}}}}}"
        )
    else:
        latex, open_right = _apply(draw, f"\\{name}", a)
    prec = JUXT if open_right else ITEM
    return Node(
        meaning(a.expr),
        latex,
        prec,
        lo,
        hi,
        open_right=open_right,
        scriptable=name != "exp" and name != "sqrt" and not open_right,
        **_combine(a),
    )


def _range(name: str, a: Node) -> tuple[float, float]:
    if a.lo == a.hi:  # a constant: its value
        f = {"arccos": math.acos, "cosh": math.cosh, "sin": math.sin, "cos": math.cos}
        f.update(exp=math.exp, log=math.log, sqrt=math.sqrt, tan=math.tan)
        f.update(sinh=math.sinh, tanh=math.tanh, arcsin=math.asin, arctan=math.atan)
        value = f[name](a.lo)
        return (value, value)
    if name in ("sin", "cos"):
        return (-1.0, 1.0)
    if name == "cosh":
        low = 0.0 if a.lo < 0 < a.hi else min(abs(a.lo), abs(a.hi))
        return (math.cosh(low), math.cosh(a.magnitude))
    monotone = {
        "exp": math.exp,
        "log": math.log,
        "sqrt": math.sqrt,
        "tan": math.tan,
        "sinh": math.sinh,
        "tanh": math.tanh,
        "arcsin": math.asin,
        "arctan": math.atan,
    }
    if name == "arccos":
        return (math.acos(a.hi), math.acos(a.lo))
    return _monotone(monotone[name], a)


def log_base(draw: Draw, a: Node) -> Node:
    a = positive(draw, a)
    base = _pick(draw, [2, 10])
    lo, hi = math.log(a.lo, base), math.log(a.hi, base)
    style = draw.integer(0, 2)
    if (
        style == 0
        and a.prec == ITEM
        and not a.bars
        and not a.starts_digit
        and not a.latex.startswith(_OPENERS)
    ):
        latex = f"\\log_{{{base}}} {a.latex}"
        node = Node(
            sympy.log(a.expr, base), latex, JUXT, lo, hi, open_right=True, **_combine(a)
        )
        return node
    latex = f"\\log_{{{base}}}({a.latex})"
    return Node(sympy.log(a.expr, base), latex, ITEM, lo, hi, **_combine(a))


def sigmoid(draw: Draw, a: Node) -> Node:
    lo, hi = _monotone(lambda v: 1 / (1 + math.exp(-v)), a)
    style = draw.integer(0, 5)
    negated = _at_least(draw, a, NEG)
    if style <= 1:
        latex, _ = _apply(draw, "\\sigma", a, bare=False)
    elif style == 2:
        latex, _ = _apply(draw, "\\operatorname{sigmoid}", a, bare=False)
    elif style == 3:
        latex = f"\\frac{{1}}{{1 + e^{{-{negated}}}}}"
    elif style == 4:
        latex = f"\\frac{{1}}{{1 + \\exp(-{negated})}}"
    else:
        latex = f"\\frac{{e^{{{a.latex}}}}}{{1 + e^{{{a.latex}}}}}"
    meaning = 1 / (1 + sympy.exp(-a.expr))
    return Node(meaning, latex, ITEM, lo, hi, scriptable=style <= 2, **_combine(a))


def softplus(draw: Draw, a: Node) -> Node:
    lo, hi = _monotone(lambda v: math.log1p(math.exp(v)), a)
    style = draw.integer(0, 3)
    if style == 0:
        latex, _ = _apply(draw, "\\operatorname{softplus}", a, bare=False)
    elif style == 1:
        latex = f"\\log(1 + e^{{{a.latex}}})"
    elif style == 2:
        latex = f"\\ln\\left(1 + \\exp({a.latex})\\right)"
    else:
        latex = f"\\log(e^{{{a.latex}}} + 1)"
    meaning = sympy.log(1 + sympy.exp(a.expr))
    return Node(meaning, latex, ITEM, lo, hi, scriptable=True, **_combine(a))


def logaddexp(draw: Draw, a: Node, b: Node) -> Node:
    top = max(a.hi, b.hi)
    lo = max(a.lo, b.lo)
    hi = top + math.log(2)
    if a.lo == a.hi and b.lo == b.hi:  # constants: the value
        lo = hi = top + math.log1p(math.exp(min(a.lo, b.lo) - top))
    latex = f"\\log(e^{{{a.latex}}} + e^{{{b.latex}}})"
    meaning = sympy.log(sympy.exp(a.expr) + sympy.exp(b.expr))
    if _chance(draw, 30):  # three terms: log(e^a + e^b + 1)
        latex = f"\\log(e^{{{a.latex}}} + e^{{{b.latex}}} + 1)"
        meaning = sympy.log(sympy.exp(a.expr) + sympy.exp(b.expr) + 1)
        lo, hi = max(lo, 0.0), max(top, 0.0) + math.log(3)
        if a.lo == a.hi and b.lo == b.hi:
            lo = hi = math.log(math.exp(a.lo) + math.exp(b.lo) + 1)
    return Node(meaning, latex, ITEM, lo, hi, scriptable=True, **_combine(a, b))


def softmax2(draw: Draw, a: Node, b: Node) -> Node:
    """e^a / (e^a + e^b), the sigmoid of a - b."""
    lo = 1 / (1 + math.exp(b.hi - a.lo))
    hi = 1 / (1 + math.exp(b.lo - a.hi))
    if _chance(draw, 50):
        latex = f"\\frac{{e^{{{a.latex}}}}}{{e^{{{a.latex}}} + e^{{{b.latex}}}}}"
    else:
        latex = f"\\frac{{e^{{{a.latex}}}}}{{e^{{{b.latex}}} + e^{{{a.latex}}}}}"
    meaning = sympy.exp(a.expr) / (sympy.exp(a.expr) + sympy.exp(b.expr))
    return Node(meaning, latex, ITEM, lo, hi, **_combine(a, b))


def absolute(draw: Draw, a: Node) -> Node:
    lo = 0.0 if a.lo < 0 < a.hi else min(abs(a.lo), abs(a.hi))
    style = draw.integer(0, 2)
    if style == 0 and not a.bars:
        latex, bars = f"|{a.latex}|", True
    elif style == 1:
        latex, bars = f"\\lvert {a.latex} \\rvert", a.bars
    else:
        latex, bars = f"\\left| {a.latex} \\right|", a.bars
    combined = _combine(a)
    combined["bars"] = bars
    combined["kinks"] += (a.expr,) if _varies(a) else ()
    return Node(absval(a.expr), latex, ITEM, lo, a.magnitude, **combined)


def extremum(draw: Draw, which: str, nodes: Sequence[Node]) -> Node:
    """max or min of two or three nodes."""
    los, his = [n.lo for n in nodes], [n.hi for n in nodes]
    if which == "max":
        lo, hi, meaning = max(los), max(his), _extremum(nodes, 1)
    else:
        lo, hi, meaning = min(los), min(his), _extremum(nodes, -1)
    inner = ", ".join(n.latex for n in nodes)
    latex = (
        f"\\{which}\\left({inner}\\right)"
        if _chance(draw, 20)
        else f"\\{which}({inner})"
    )
    combined = _combine(*nodes)
    combined["kinks"] += tuple(
        m.expr - n.expr
        for i, m in enumerate(nodes)
        for n in nodes[i + 1 :]
        if _varies(m, n)
    )
    return Node(meaning, latex, ITEM, lo, hi, scriptable=True, **combined)


def _extremum(nodes: Sequence[Node], sign: int) -> sympy.Expr:
    """max (sign 1) or min (sign -1): (a + b +- |a - b|) / 2."""
    best = nodes[0].expr
    for node in nodes[1:]:
        best = (best + node.expr + sign * absval(best - node.expr)) / 2
    return best


def relu(draw: Draw, a: Node) -> Node:
    style = draw.integer(0, 2)
    if style == 0:
        latex, _ = _apply(draw, "\\operatorname{ReLU}", a, bare=False)
    elif style == 1:
        latex, _ = _apply(draw, "\\mathrm{relu}", a, bare=False)
    else:
        latex = f"\\max(0, {a.latex})"
    combined = _combine(a)
    combined["kinks"] += (a.expr,) if _varies(a) else ()
    lo, hi = max(0.0, a.lo), max(0.0, a.hi)
    return Node(
        (a.expr + absval(a.expr)) / 2, latex, ITEM, lo, hi, scriptable=True, **combined
    )


def indicator(draw: Draw, a: Node, b: Node) -> Node:
    op, holds = _pick(
        draw,
        [
            (">", lambda u, v: step(u - v)),
            ("<", lambda u, v: step(v - u)),
            # not strict: 1 where the two are equal (constants can be: e \le e)
            ("\\ge", lambda u, v: 1 - step(v - u)),
            ("\\geq", lambda u, v: 1 - step(v - u)),
            ("\\le", lambda u, v: 1 - step(u - v)),
            (">=", lambda u, v: 1 - step(v - u)),
        ],
    )
    opener, closer = _pick(draw, [("(", ")"), ("[", "]")])
    latex = f"\\mathbb{{1}}{opener}{a.latex} {op} {b.latex}{closer}"
    meaning = holds(a.expr, b.expr)  # equal where we compare: away from a = b
    combined = _combine(a, b)
    combined["kinks"] += (jump(a.expr - b.expr),) if _varies(a, b) else ()
    lo, hi = 0.0, 1.0
    if a.lo == a.hi and b.lo == b.hi:  # constants: the value
        lo = hi = float(holds(sympy.Float(a.lo), sympy.Float(b.lo)))
    return Node(meaning, latex, ITEM, lo, hi, **combined)


# ---- keeping values in their domains ----------------------------------------------------


def positive(draw: Draw, a: Node) -> Node:
    """`a` if it is at least 0.1 for all inputs, else a positive expression of it."""
    if a.lo >= 0.1:
        return a
    options = ["square"]
    if a.hi <= 3.0 and a.lo >= -3.0:
        options.append("exp")
    if a.hi <= 3.0:
        options.append("one plus exp")
    if a.magnitude <= 3.0:
        options.append("cosh")
    options.append("abs")
    choice = _pick(draw, options)
    if choice == "square":
        c = _pick(draw, [number_node(1), number_node(0.5), number_node(2)])
        return add(draw, power_of(draw, a, 2), c)
    if choice == "exp":
        return function(draw, "exp", a)
    if choice == "one plus exp":
        return add(draw, number_node(1), function(draw, "exp", a))
    if choice == "cosh":
        return function(draw, "cosh", a)
    return add(draw, absolute(draw, a), number_node(1))


def bounded(draw: Draw, a: Node, limit: float) -> Node:
    """`a` if it stays within [-limit, limit], else a bounded expression of it."""
    if a.magnitude <= limit:
        return a
    choice = _pick(draw, ["tanh", "sin", "cos", "arctan", "sigmoid", "scale"])
    if choice == "scale" and a.magnitude <= 8 * limit:
        k = _pick(draw, [k for k in (2, 4, 8, 10) if a.magnitude / k <= limit] or [10])
        return div(draw, a, number_node(k))
    if choice == "sigmoid":
        return sigmoid(draw, a)
    if choice == "arctan" and limit >= 1.6:
        return function(draw, "arctan", a)
    wrapped = function(draw, choice if choice in ("tanh", "sin", "cos") else "tanh", a)
    if limit < 1.0:
        return div(draw, wrapped, number_node(2))
    return wrapped


def number_node(value: float) -> Node:
    exact = sympy.Rational(str(value))
    text = str(int(value)) if value == int(value) else str(value)
    return Node(exact, text, ITEM, value, value, starts_digit=True, scriptable=True)


def power_of(draw: Draw, a: Node, n: int) -> Node:
    a = bounded(draw, a, 4.0)
    values = [a.lo**n, a.hi**n] + ([0.0] if a.lo < 0 < a.hi else [])
    lo, hi = _interval(values)
    script = f"^{{{n}}}" if _chance(draw, 60) else f"^{n}"
    return Node(a.expr**n, _scripted(draw, a) + script, ITEM, lo, hi, **_combine(a))


# ---- programs -------------------------------------------------------------------------------

UNARY = [
    "neg",
    "power",
    "root",
    "exp",
    "log",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "sinh",
    "cosh",
    "tanh",
    "arcsin",
    "arccos",
    "arctan",
    "log_base",
    "sigmoid",
    "softplus",
    "abs",
    "relu",
]
BINARY = [
    "add",
    "sub",
    "mul",
    "div",
    "power_var",
    "max",
    "min",
    "logaddexp",
    "softmax2",
    "indicator",
]
OPERATIONS = UNARY + BINARY


def _folded(node: Node) -> Node:
    """A constant as its float value: sympy can take very long to simplify
    functions of constants (deciding signs by evaluating them)."""
    if node.reads or node.lo != node.hi or not math.isfinite(node.lo):
        return node
    return replace(node, expr=sympy.Float(node.lo))


@dataclass
class _Builder:
    draw: Draw
    leaves: list[Node]  # inputs, then earlier targets
    inputs: int  # how many of `leaves` are inputs
    shared: list[Node] = field(default_factory=list)  # subexpressions to reuse

    def expression(self, depth: int) -> Node:
        node = self._expression(depth)
        return bounded(self.draw, node, BOUND)

    def _expression(self, depth: int) -> Node:
        draw = self.draw
        if self.shared and _chance(draw, 12):
            return _pick(draw, self.shared)
        if depth <= 0 or _chance(draw, 15):
            return self.leaf()
        operation = _pick(draw, OPERATIONS)
        if operation in UNARY:
            node = self.unary(operation, self.expression(depth - 1))
        else:
            node = self.binary(operation, depth)
        node = _folded(bounded(draw, node, BOUND))
        if node.size > 2 and _chance(draw, 30):
            self.shared.append(node)
        return node

    def leaf(self) -> Node:
        draw = self.draw
        roll = draw.integer(0, 19)
        if roll <= 16:
            targets = self.leaves[self.inputs :]
            if targets and _chance(draw, 50):  # fan-out: reuse what is computed
                return _spelled(draw, _pick(draw, targets))
            return _spelled(draw, _pick(draw, self.leaves))
        if roll <= 18:
            return number(draw)
        return constant(draw)

    def unary(self, operation: str, a: Node) -> Node:
        draw = self.draw
        if operation == "neg":
            return neg(draw, a)
        if operation == "power":
            return power(draw, a)
        if operation == "root":
            return root(draw, a)
        if operation == "log_base":
            return log_base(draw, a)
        if operation == "sigmoid":
            return sigmoid(draw, a)
        if operation == "softplus":
            return softplus(draw, a)
        if operation == "abs":
            return absolute(draw, a)
        if operation == "relu":
            return relu(draw, a)
        return function(draw, operation, a)

    def binary(self, operation: str, depth: int) -> Node:
        draw = self.draw
        a = self.expression(depth - 1)
        b = self.expression(depth - 1)
        if operation == "add":
            return add(draw, a, b)
        if operation == "sub":
            return sub(draw, a, b)
        if operation == "mul":
            return mul(draw, a, b)
        if operation == "div":
            return div(draw, a, b)
        if operation == "power_var":
            return power_var(draw, a, b)
        if operation in ("max", "min"):
            nodes = [a, b]
            if _chance(draw, 25):
                nodes.append(self.expression(depth - 1))
            return extremum(draw, operation, nodes)
        if operation == "logaddexp":
            return logaddexp(draw, bounded(draw, a, 30.0), bounded(draw, b, 30.0))
        if operation == "softmax2":
            return softmax2(draw, bounded(draw, a, 30.0), bounded(draw, b, 30.0))
        return indicator(draw, a, b)


@dataclass
class Statement:
    target: str  # Python name
    latex: str  # `u = ...` as written (without separators)
    node: Node


@dataclass
class RandomProgram:
    """A document and what the oracle needs to check what eqcompiler makes of it."""

    document: str
    output: str  # the Python name of the output
    option_output: str | None  # what to pass as --output (None: the unique sink)
    wrt: tuple[str, ...] | None  # what to pass as --wrt
    inputs: tuple[str, ...]  # the inputs the output depends on (Python names)
    ordered: bool  # True when the function form fixes the input order
    expr: sympy.Expr  # the output in terms of the inputs
    kinks: tuple  # expressions that must be away from 0 where values are compared
    symbols: dict  # Python name -> sympy Symbol


def random_program(source: Draw | random.Random) -> RandomProgram:
    """A random program and its document."""
    draw = RandomDraw(source) if isinstance(source, random.Random) else source
    n_inputs = draw.integer(1, 4)
    input_names = _distinct(draw, list(INPUT_NAMES), n_inputs)
    symbols = {name: sympy.Symbol(name, real=True) for name in input_names}
    # inputs: the node of each, spelled anew at each use
    leaves = {name: _input_leaf(draw, name, symbols[name]) for name in input_names}
    n_assigns = draw.integer(1, 6)
    target_names = _distinct(draw, list(TARGET_NAMES), n_assigns)
    statements: list[Statement] = []
    available = list(leaves.values())
    depends: dict[str, set[str]] = {}  # target -> inputs and targets it reads
    max_depth = draw.integer(1, 4)
    for target in target_names:
        builder = _Builder(draw, available, len(leaves))
        node = builder.expression(draw.integer(1, max_depth))
        unread = [leaves[n] for n in input_names if not _reaches(n, node, depends)]
        if unread and (not node.reads or _chance(draw, 40)):  # more inputs in use
            leaf = _spelled(draw, _pick(draw, unread))
            node = _pick(draw, [add, sub, mul])(draw, node, leaf)
        latex_target = _pick(draw, TARGET_NAMES[target])
        statements.append(Statement(target, latex_target, node))
        depends[target] = set(node.reads)
        available.append(_target_leaf(draw, target, latex_target, node))
    output = _pick(draw, target_names[len(target_names) // 2 :])
    if _chance(draw, 70):  # the one that reads the most inputs
        output = max(target_names, key=lambda t: len(_closure(t, depends)))
    needed = _closure(output, depends)
    inputs = tuple(n for n in input_names if n in needed)
    sinks = [t for t in target_names if not any(t in depends[o] for o in target_names)]
    option_output = None if sinks == [output] and _chance(draw, 70) else output
    ordered = False
    output_statement = next(s for s in statements if s.target == output)
    head = output_statement.latex
    if inputs and _chance(draw, 15):  # the function form fixes the input order
        order = list(inputs)
        for i in range(len(order) - 1, 0, -1):
            j = draw.integer(0, i)
            order[i], order[j] = order[j], order[i]
        params = ", ".join(_pick(draw, INPUT_NAMES[n]) for n in order)
        output_statement.latex = f"{head}({params})"
        inputs, ordered = tuple(order), True
    wrt = None
    if len(inputs) > 1 and _chance(draw, 15):
        wrt = tuple(n for n in inputs if _chance(draw, 50)) or inputs[:1]
    document = _document(draw, statements)
    expr = output_statement.node.expr
    kinks = _kinks_of(output, statements, depends)
    return RandomProgram(
        document, output, option_output, wrt, inputs, ordered, expr, kinks, symbols
    )


def _distinct(draw: Draw, names: list[str], n: int) -> list[str]:
    pool = list(names)
    chosen = []
    for _ in range(min(n, len(pool))):
        chosen.append(pool.pop(draw.integer(0, len(pool) - 1)))
    return chosen


def _spelled(draw: Draw, leaf: Node) -> Node:
    """A symbol written one of its ways (`y^*`, `y^{*}`, `y^\\star` are one symbol)."""
    if len(leaf.spellings) < 2:
        return leaf
    return replace(leaf, latex=_pick(draw, leaf.spellings))


def _input_leaf(draw: Draw, name: str, symbol: sympy.Symbol) -> Node:
    spellings = tuple(INPUT_NAMES[name])
    return Node(
        symbol,
        spellings[0],
        ITEM,
        -2.0,
        2.0,
        scriptable=name in _PLAIN,
        spellings=spellings,
        reads=frozenset([name]),
    )


def _target_leaf(draw: Draw, name: str, latex: str, node: Node) -> Node:
    return Node(
        node.expr,
        latex,
        ITEM,
        node.lo,
        node.hi,
        kinks=node.kinks,
        scriptable=name in _PLAIN,
        spellings=tuple(TARGET_NAMES[name]),
        reads=frozenset([name]),
    )


def _reaches(name: str, node: Node, depends: dict[str, set[str]]) -> bool:
    return any(name in _closure(read, depends) for read in node.reads)


def _closure(output: str, depends: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [output]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(depends.get(name, ()))
    return seen


def _kinks_of(output: str, statements: list[Statement], depends) -> tuple:
    needed = _closure(output, depends)
    return tuple(k for s in statements if s.target in needed for k in s.node.kinks)


# ---- the document ------------------------------------------------------------------------------


def _document(draw: Draw, statements: list[Statement]) -> str:
    rows = [(s, _assignment(draw, s)) for s in statements]
    repeats = [row for row in rows if _chance(draw, 10)]
    rows += repeats  # identical repeats merge
    order = list(range(len(rows)))
    if _chance(draw, 60):  # any order
        for i in range(len(order) - 1, 0, -1):
            j = draw.integer(0, i)
            order[i], order[j] = order[j], order[i]
    rows = [rows[i] for i in order]
    parts = [
        _pick(draw, ["", "# Forward pass\n\n", "Some prose, with $x$ inline.\n\n"])
    ]
    i = 0
    while i < len(rows):
        size = min(len(rows) - i, _pick(draw, [1, 1, 1, 2, 3]))
        group = [latex for _, latex in rows[i : i + size]]
        parts.append(_block(draw, group))
        if _chance(draw, 30):
            parts.append(
                _pick(draw, ["where the weights are fixed.\n\n", "Then\n\n", "\n"])
            )
        i += size
    return "".join(parts)


def _assignment(draw: Draw, statement: Statement) -> tuple[str, str, str]:
    """(left, operator, right) of one assignment."""
    op = _pick(draw, ["=", "=", "=", "=", ":=", "\\gets"])
    return (statement.latex, op, statement.node.latex)


def _block(draw: Draw, group: list[tuple[str, str, str]]) -> str:
    kind = draw.integer(0, 7)
    if kind in (0, 1):  # environment, aligned at the operator
        env = _pick(draw, ["align", "align*", "aligned", "gather", "split"])
        if env == "split" and len(group) > 1:
            env = "aligned"
        rows = [
            f"{left} &{op} {right}" if env != "gather" else f"{left} {op} {right}"
            for left, op, right in group
        ]
        body = " \\\\\n".join(rows)
        if env in ("aligned", "split"):
            return f"$$\n\\begin{{{env}}}\n{body}\n\\end{{{env}}}\n$$\n\n"
        if _chance(draw, 50):
            return f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}\n\n"
        return f"$$\n\\begin{{{env}}}\n{body}\n\\end{{{env}}}\n$$\n\n"
    separator = _pick(draw, [" \\\\ ", ", \\quad ", " \\qquad ", "; ", ",\\; "])
    body = separator.join(f"{left} {op} {right}" for left, op, right in group)
    body += _pick(draw, ["", "", ".", ","])
    if kind == 2:
        return f"\\[ {body} \\]\n\n"
    if kind == 3:
        return f"```math\n{body}\n```\n\n"
    if kind == 4:
        return f"$$\n{body}\n$$\n\n"
    return f"$${body}$$\n\n"


# ---- the oracle ------------------------------------------------------------------------------


def _heaviside(value, *_):
    return 1.0 if value > 0 else 0.0


def _sign(value):
    return float((value > 0) - (value < 0))


_MODULES = [
    {
        "absval": abs,
        "signum": _sign,
        "step": _heaviside,
        "Heaviside": _heaviside,
        "DiracDelta": lambda *_: 0.0,
        "sign": _sign,
    },
    "math",
]


@dataclass
class Oracle:
    """Values and gradients of the output by sympy, at points away from kinks."""

    program: RandomProgram

    def __post_init__(self) -> None:
        p = self.program
        args = [p.symbols[n] for n in p.inputs]
        expr = p.expr
        gradients = [sympy.diff(expr, s) for s in args]
        self.evaluate = sympy.lambdify(args, [expr, *gradients], _MODULES, cse=True)
        jumps = [k.args[0] for k in p.kinks if isinstance(k, jump)]
        kinks = [k for k in p.kinks if not isinstance(k, jump)]
        self.jump_values = sympy.lambdify(args, jumps, _MODULES, cse=True)
        self.kink_values = sympy.lambdify(args, kinks, _MODULES, cse=True)

    def points(self, rng: random.Random, count: int) -> list[dict[str, float]]:
        """Up to `count` points in [-2, 2]^n, each at least 1e-3 from every jump
        (indicators); `smooth` says which are also away from kinks (max, |.|)."""
        points = []
        for _ in range(count * 10):
            point = {n: rng.uniform(-2.0, 2.0) for n in self.program.inputs}
            if any(abs(float(k)) < 1e-3 for k in self.jump_values(*point.values())):
                continue
            points.append(point)
            if len(points) == count:
                break
        return points

    def smooth(self, point: dict[str, float]) -> bool:
        """Whether `point` is away from every kink: gradients are compared there."""
        kinks = self.kink_values(*point.values())
        return all(abs(float(k)) >= 1e-3 for k in kinks)

    def at(self, point: dict[str, float]) -> tuple[float, dict[str, float]]:
        value, *gradients = self.evaluate(*[point[n] for n in self.program.inputs])
        return float(value), {
            n: float(g) for n, g in zip(self.program.inputs, gradients, strict=True)
        }


_ORACLES: dict[int, tuple[RandomProgram, Oracle]] = {}


def oracle_of(program: RandomProgram) -> Oracle:
    """The oracle of `program`, built once (both backends use it)."""
    cached = _ORACLES.get(id(program))
    if cached is None or cached[0] is not program:
        _ORACLES.clear()
        cached = _ORACLES[id(program)] = (program, Oracle(program))
    return cached[1]


def close(got: float, expected: float, tolerance: float = 1e-6) -> bool:
    return abs(got - expected) <= tolerance * (1.0 + abs(expected))


def compile_program(program: RandomProgram, backend: str) -> str:
    from eqcompiler.driver import Options, compile_text

    options = Options(backend=backend, output=program.option_output, wrt=program.wrt)
    return compile_text(program.document, "doc.md", options, "doc.md")


def check(
    program: RandomProgram, backend: str, rng: random.Random, points: int = 4
) -> list[str]:
    """What eqcompiler gets wrong about `program` on `backend` ([] if nothing)."""
    try:
        module = compile_program(program, backend)
    except Exception as error:  # noqa: BLE001 - a valid program must compile
        return [f"does not compile: {type(error).__name__}: {error}"]
    problems = []
    problem = module_problem(module, backend, formatted=True)
    if problem:
        return [problem]
    if backend_of_module(module) != backend:
        problems.append(f"module is not for {backend}")
    if compile_program(program, backend) != module:
        problems.append("compiling twice gives different bytes")
    namespace: dict = {"__name__": "generated_program"}
    exec(compile(module, "<generated>", "exec"), namespace)
    forward = namespace["forward"]
    parameters = inspect.signature(forward).parameters.values()  # but `_into`
    params = tuple(p.name for p in parameters if p.kind is not p.KEYWORD_ONLY)
    if set(params) != set(program.inputs) or (
        program.ordered and params != program.inputs
    ):
        return [f"inputs {params}, expected {program.inputs}"]
    wrt = [n for n in params if program.wrt is None or n in program.wrt]
    fields = namespace["Gradients"]._fields
    if tuple(fields) != tuple(wrt):
        problems.append(f"gradient fields {fields}, expected {tuple(wrt)}")
        return problems
    oracle = oracle_of(program)
    chosen = oracle.points(rng, points)
    if not chosen:
        return problems
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning inside every function's domain
        if backend == "numpy":
            problems += _check_numpy(namespace, oracle, chosen, wrt)
        else:
            for point in chosen:
                problems += _check_point(namespace, oracle, point, wrt)
    return problems


# How many values and gradients the checks compared (the long run reports them).
COMPARED = {"values": 0, "gradients": 0}


def _check_point(
    namespace: dict, oracle: Oracle, point: dict, wrt: list[str]
) -> list[str]:
    value, gradients = namespace["value_and_grad"](**point)
    expected, expected_gradients = oracle.at(point)
    problems = []
    if not close(float(value), expected):
        problems.append(f"value {float(value)!r} != {expected!r} at {point}")
    if float(namespace["forward"](**point)) != float(value):
        problems.append(f"forward and value_and_grad differ at {point}")
    if tuple(map(float, namespace["backward"](**point))) != tuple(
        map(float, gradients)
    ):
        problems.append(f"backward and value_and_grad differ at {point}")
    COMPARED["values"] += 1
    for name in wrt if oracle.smooth(point) else []:
        COMPARED["gradients"] += 1
        got = float(getattr(gradients, name))
        if not close(got, expected_gradients[name]):
            problems.append(
                f"d/d{name} {got!r} != {expected_gradients[name]!r} at {point}"
            )
    return problems


def _check_numpy(
    namespace: dict, oracle: Oracle, points: list[dict], wrt: list[str]
) -> list[str]:
    """All points at once, as arrays: elementwise values, gradients of the sum."""
    import numpy as np

    names = oracle.program.inputs
    arrays = {n: np.array([p[n] for p in points]) for n in names}
    value, gradients = namespace["value_and_grad"](**arrays)
    value = np.broadcast_to(value, (len(points),))
    problems = []
    for i, point in enumerate(points):
        expected, expected_gradients = oracle.at(point)
        if not close(float(value[i]), expected):
            problems.append(f"value {float(value[i])!r} != {expected!r} at {point}")
        COMPARED["values"] += 1
        smooth = oracle.smooth(point)
        for name in wrt:
            gradient = getattr(gradients, name)
            if np.shape(gradient) != (len(points),):
                problems.append(f"d/d{name} has shape {np.shape(gradient)}")
                continue
            COMPARED["gradients"] += smooth
            if smooth and not close(float(gradient[i]), expected_gradients[name]):
                problems.append(
                    f"d/d{name} {float(gradient[i])!r} != "
                    f"{expected_gradients[name]!r} at {point}"
                )
    # one point as plain floats too
    problems += _check_point(namespace, oracle, points[0], wrt)
    problems += _check_float32(namespace, arrays)
    problems += _check_into(namespace, arrays, value, gradients)
    return problems


def _check_into(namespace: dict, arrays: dict, value, gradients) -> list[str]:
    """Given `_into` (as _in_blocks gives it), value_and_grad computes the same bits,
    the arrays among them where it says."""
    import inspect

    import numpy as np

    function = namespace["value_and_grad"]
    if "_into" not in inspect.signature(function).parameters:
        return []
    results = [value, *gradients]
    into = [np.full(np.shape(r), np.nan) if np.ndim(r) else None for r in results]
    got_value, got_gradients = function(**arrays, _into=into)
    problems = []
    got = [got_value, *got_gradients]
    for i, (result, want) in enumerate(zip(got, results, strict=True)):
        same = np.shape(result) == np.shape(want) and np.array_equal(
            result, want, equal_nan=True
        )
        if not same:
            problems.append(f"result {i} given _into differs")
    return problems


def _check_float32(namespace: dict, arrays: dict) -> list[str]:
    """float32 inputs, arrays or numpy scalars, give float32 values and gradients."""
    import numpy as np

    problems = []
    for kind, inputs in (
        ("arrays", {n: a.astype(np.float32) for n, a in arrays.items()}),
        ("scalars", {n: np.float32(a[0]) for n, a in arrays.items()}),
        (  # the first an array, the rest numpy scalars
            "mixed",
            {
                n: a.astype(np.float32) if i == 0 else np.float32(a[0])
                for i, (n, a) in enumerate(arrays.items())
            },
        ),
    ):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, gradients = namespace["value_and_grad"](**inputs)
        dtypes = {"value": np.asarray(value).dtype}
        dtypes.update((n, np.asarray(g).dtype) for n, g in gradients._asdict().items())
        wrong = {n: str(d) for n, d in dtypes.items() if d != np.float32}
        if wrong:
            problems.append(f"float32 {kind} give {wrong}")
    return problems


# ---- the long run -------------------------------------------------------------------------------


def run(programs: int, seed: str, report: int, failures: Path) -> dict:
    started = time.time()
    tried = failed = 0
    kinds: dict[str, int] = {}
    operations: dict[str, int] = {}
    skipped = 0
    for i in range(programs):
        rng = random.Random(f"{seed}-{i}")
        try:
            with time_limit(10):  # sympy can be slow on some expressions
                program = random_program(rng)
                oracle_of(program)
        except Timeout:
            skipped += 1
            print(f"program {seed}-{i}: oracle too slow, skipped", file=sys.stderr)
            continue
        for op in _operations_in(program.document):
            operations[op] = operations.get(op, 0) + 1
        tried += 1
        problems = []
        for backend in ("numpy", "math"):
            try:
                with time_limit(120):
                    found = check(program, backend, rng)
            except Timeout:
                found = ["no result after 120 s (a hang)"]
            except Exception as error:  # noqa: BLE001
                found = [f"check raised {type(error).__name__}: {error}"]
                found.append(traceback.format_exc()[-2000:])
            problems += [f"[{backend}] {p}" for p in found]
        if problems:
            failed += 1
            kind = problems[0].split(":")[0][:80]
            kinds[kind] = kinds.get(kind, 0) + 1
            failures.mkdir(parents=True, exist_ok=True)
            path = failures / f"program-{seed}-{i}.md"
            path.write_text(program.document, encoding="utf-8")
            path.with_suffix(".txt").write_text(
                json.dumps(
                    {
                        "output": program.option_output,
                        "wrt": program.wrt,
                        "inputs": program.inputs,
                        "expr": str(program.expr),
                    }
                )
                + "\n"
                + "\n".join(problems),
                encoding="utf-8",
            )
            print(
                f"program {seed}-{i}: {problems[0][:300]}", file=sys.stderr, flush=True
            )
        if report and tried % report == 0:
            rate = tried / (time.time() - started)
            print(
                f"{tried} programs, {failed} failing, {rate:.1f}/s",
                file=sys.stderr,
                flush=True,
            )
    return {
        "programs": tried,
        "skipped_slow_oracle": skipped,
        "values_compared": COMPARED["values"],
        "gradients_compared": COMPARED["gradients"],
        "failing": failed,
        "failure_kinds": kinds,
        "seed": seed,
        "seconds": round(time.time() - started),
        "date": datetime.date.today().isoformat(),
        "commit": _commit(),
        "spellings_seen": dict(sorted(operations.items())),
    }


_SPELLINGS = {
    "\\frac": "\\frac",
    "+ 1)": "log-sum-exp of three",
    "} + e^{": "sum of exponentials",
    "} - e^{-": "tanh by hand",
    " / ": "/",
    "\\cdot": "\\cdot",
    "\\times": "\\times",
    "e^{": "e^{..}",
    "\\exp": "\\exp",
    "\\log_{": "\\log_{b}",
    "\\log": "\\log",
    "\\ln": "\\ln",
    "\\sqrt[": "\\sqrt[n]",
    "\\sqrt{": "\\sqrt",
    "\\sin": "\\sin",
    "\\cos": "\\cos",
    "\\tan": "\\tan",
    "\\sinh": "\\sinh",
    "\\cosh": "\\cosh",
    "\\tanh": "\\tanh",
    "\\arcsin": "\\arcsin",
    "\\arccos": "\\arccos",
    "\\arctan": "\\arctan",
    "^{-1}(": "\\sin^{-1}",
    "\\sigma": "\\sigma",
    "sigmoid": "\\operatorname{sigmoid}",
    "softplus": "\\operatorname{softplus}",
    "ReLU": "ReLU",
    "relu": "\\mathrm{relu}",
    "\\max": "\\max",
    "\\min": "\\min",
    "|": "|.|",
    "\\lvert": "\\lvert",
    "\\mathbb{1}": "indicator",
    "\\begin{align": "align",
    "\\begin{aligned}": "aligned",
    "\\begin{gather}": "gather",
    "\\begin{split}": "split",
    "```math": "math fence",
    "\\[": "\\[",
    ":=": ":=",
    "\\gets": "\\gets",
    "\\pi": "\\pi",
}


def _operations_in(document: str) -> set[str]:
    return {name for text, name in _SPELLINGS.items() if text in document}


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--seed", default="1")
    parser.add_argument("--report", type=int, default=100)
    parser.add_argument("--show", type=int, help="print program number N and stop")
    parser.add_argument(
        "--failures",
        type=Path,
        default=ROOT / "fuzz" / "failures",
        help="where to save",
    )
    args = parser.parse_args(argv)
    if args.show is not None:
        program = random_program(random.Random(f"{args.seed}-{args.show}"))
        print(program.document)
        print(program)
        return 0
    summary = run(args.programs, args.seed, args.report, args.failures)
    print(json.dumps(summary, indent=1))
    return 1 if summary["failing"] else 0


if __name__ == "__main__":
    sys.exit(main())
