"""Backends: how an IR expression is written as Python for numpy or for `math`.

A `Backend` prints expressions with the fewest parentheses Python needs, names the
module it imports, and lists the helper functions (stable sigmoid, softplus, the
reduction of a broadcast gradient) that the generated module must define.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .ir import (
    SIGMOID_GIVEN,
    SOFTPLUS_GIVEN,
    SQUARE,
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
    walk,
)

_ADD, _MUL, _NEG, _POW, _ATOM = 10, 20, 30, 40, 50
# a name, a dotted name or a number: black hugs `**` between two of them
_SIMPLE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class Backend:
    """Everything that differs between the numpy and the math backend."""

    name: str
    module: str  # the import: "numpy" or "math"
    alias: str  # how the code refers to it: "np" or "math"
    functions: dict[str, str]  # IR function -> Python callee, `{m}` for the alias
    helpers: dict[str, str]  # IR function -> helper defined in the generated module
    power: str = "{m}.power"  # a power whose exponent is not a whole number
    # a name squared as `x * x`: on floats a third of the time of `x ** 2`; numpy's
    # `x**2` is already one pass (np.square)
    squares_by_product: bool = False
    # names a body binds to numbers computed from constants alone (Python floats):
    # an operation on them and on constants is no ufunc, and a call of them is
    # printed as float(...), so that no float64 numpy scalar comes of them
    floats: frozenset[str] = frozenset()

    def callee(self, function: str) -> str:
        if function in self.helpers:
            return self.helpers[function]
        return self.functions[function].format(m=self.alias)

    def code(self, expr: Expr) -> str:
        """`expr` as Python source."""
        return _Printer(self).print(expr)

    def code_into(self, expr: Expr, out: str) -> str | None:
        """`expr` as a ufunc call writing into `out` (`np.add(a, b, out=...)`), or
        None when its outermost operation is not a numpy ufunc."""
        if self.name != "numpy" or not _reads_array(expr, self.floats):
            return None
        return _Printer(self).into(expr, out)

    def ufunc_operands(self, expr: Expr) -> tuple[Expr, ...] | None:
        """The expressions `code_into` passes to the ufunc it writes `expr` as (the
        base of `a / b`, not the `b^{-1}` the IR holds), or None when it writes none
        (as for an expression of numbers, which `code_into` leaves alone)."""
        if self.name != "numpy" or not _reads_array(expr, self.floats):
            return None
        found = _Printer(self).ufunc(expr)
        if found is None:
            return None
        return tuple(a for a in found[1] if not isinstance(a, str))

    def helpers_used(self, exprs: list[Expr]) -> list[str]:
        used = {
            node.function
            for expr in exprs
            for node in walk(expr)
            if isinstance(node, Call) and node.function in self.helpers
        }
        return sorted(self.helpers[f] for f in used)


NUMPY = Backend(
    name="numpy",
    module="numpy",
    alias="np",
    functions={
        "exp": "{m}.exp",
        "log": "{m}.log",
        "sqrt": "{m}.sqrt",
        "sin": "{m}.sin",
        "cos": "{m}.cos",
        "tan": "{m}.tan",
        "sinh": "{m}.sinh",
        "cosh": "{m}.cosh",
        "tanh": "{m}.tanh",
        "arcsin": "{m}.arcsin",
        "arccos": "{m}.arccos",
        "arctan": "{m}.arctan",
        "abs": "{m}.abs",
        "sign": "{m}.sign",
        "max": "{m}.maximum",
        "logaddexp": "{m}.logaddexp",
        "min": "{m}.minimum",
        SQUARE: "{m}.square",  # only codegen writes it (for x^2)
        "log1p": "{m}.log1p",  # only share_exponentials writes it
    },
    helpers={"sigmoid": "_sigmoid", "softplus": "_softplus", "relu": "_relu"},
)

MATH = Backend(
    name="math",
    module="math",
    alias="math",
    functions={
        "exp": "{m}.exp",
        "log": "{m}.log",
        "sqrt": "{m}.sqrt",
        "sin": "{m}.sin",
        "cos": "{m}.cos",
        "tan": "{m}.tan",
        "sinh": "{m}.sinh",
        "cosh": "{m}.cosh",
        "tanh": "{m}.tanh",
        "arcsin": "{m}.asin",
        "arccos": "{m}.acos",
        "arctan": "{m}.atan",
        "abs": "abs",
        "max": "max",
        "min": "min",
        "log1p": "{m}.log1p",  # only share_exponentials writes it
    },
    helpers={
        "sigmoid": "_sigmoid",
        "softplus": "_softplus",
        "relu": "_relu",
        "sign": "_sign",
        "logaddexp": "_logaddexp",
    },
    power="{m}.pow",
    squares_by_product=True,
)

BACKENDS = {"numpy": NUMPY, "math": MATH}


class _Printer:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.wrapping = backend.name == "numpy"  # constant calls in float(...)

    def print(self, expr: Expr) -> str:
        return self._print(expr)[0]

    def _print(self, expr: Expr) -> tuple[str, int]:
        if (
            self.wrapping
            and _prints_as_call(expr)
            and not _reads_array(expr, self.backend.floats)
        ):
            # numpy computes a constant as a float64 scalar, which would turn float32
            # arrays into float64; a Python float does not (one, outermost, is enough)
            self.wrapping, outer = False, self.wrapping
            text = f"float({self._print_node(expr)[0]})"
            self.wrapping = outer
            return text, _ATOM
        return self._print_node(expr)

    def ufunc(self, expr: Expr) -> tuple[str, tuple[Expr | str, ...]] | None:
        """The numpy ufunc that `expr`'s outermost operation is, and its arguments:
        expressions, or text printed its own way (a test, an exponent, a 1)."""
        m = self.backend.alias
        match expr:
            case Add(left=left, right=right):
                return f"{m}.add", (left, right)
            case Sub(left=left, right=right):
                return f"{m}.subtract", (left, right)
            case Mul(left=left, right=Compare() as test) if not isinstance(
                left, Compare
            ) and _reads_array(left, self.backend.floats):
                return f"{m}.multiply", (left, self._test(test))
            case Mul(left=left, right=Pow(base=base, exponent=Num(value=-1.0))):
                return f"{m}.divide", (left, base)
            case Call(function="max", args=(left, Compare() as test)) if _reads_array(
                left, self.backend.floats
            ):
                return f"{m}.maximum", (left, self._test(test))
            case Mul(left=left, right=right):
                return f"{m}.multiply", (left, right)
            case Div(left=left, right=right):
                return f"{m}.divide", (left, right)
            case Neg(operand=Neg()):
                return None
            case Neg(operand=operand):
                return f"{m}.negative", (operand,)
            case Pow(base=base, exponent=Num(value=-1.0)):
                return f"{m}.divide", ("1", base)
            case Pow(base=base, exponent=Num() as exponent) if not _integer(exponent):
                return f"{m}.power", (base, self._exponent(exponent))
            # a whole power stays `**`, as it is printed where no spare array exists:
            # on numpy scalars (the inputs are Python floats) `t**-2.0` and `t**2`
            # round differently from np.power(t, -2.0) and np.square(t) (1 in 20 and
            # 1 in 1,000), and forward must give what value_and_grad gives
            case Call(function=function, args=args) if (
                function in self.backend.functions
            ):
                # every function of NUMPY.functions is a numpy ufunc
                return self.backend.callee(function), args
        return None

    def into(self, expr: Expr, out: str) -> str | None:
        found = self.ufunc(expr)
        if found is None:
            return None
        function, args = found
        texts = [a if isinstance(a, str) else self.print(a) for a in args]
        return f"{function}({', '.join(texts)}, out={out})"

    def _print_node(self, expr: Expr) -> tuple[str, int]:
        match expr:
            case Num(value=value):
                text = _number(value)
                return text, (_NEG if value < 0 else _ATOM)
            case Const(name=name):
                return f"{self.backend.alias}.{name}", _ATOM
            case Sym(name=name):
                return name, _ATOM
            case Add(left=left, right=right):
                # `a + (b + c)` keeps its parentheses: `a + b + c` rounds differently
                return f"{self._at(left, _ADD)} + {self._at(right, _ADD + 1)}", _ADD
            case Sub(left=left, right=right):
                return f"{self._at(left, _ADD)} - {self._at(right, _ADD + 1)}", _ADD
            case Mul(left=left, right=Compare() as test) if not isinstance(
                left, Compare
            ) and (
                self.backend.name != "numpy" or _reads_array(left, self.backend.floats)
            ):
                # a number times a truth value is a number: no conversion needed (in
                # numpy, a constant times a bool array would be float64, not float32)
                return f"{self._at(left, _MUL)} * {self._test(test)}", _MUL
            case Mul(left=left, right=Pow(base=base, exponent=Num(value=-1.0))):
                return f"{self._at(left, _MUL)} / {self._at(base, _MUL + 1)}", _MUL
            case Call(
                function="max", args=(left, Compare() as test)
            ) if self.backend.name == "numpy" and _reads_array(
                left, self.backend.floats
            ):
                # 1 or e where the test holds or not (share_exponentials): the truth
                # value as a bool array, which keeps e's float type
                return (
                    f"{self.backend.callee('max')}({self.print(left)}, {self._test(test)})",
                    _ATOM,
                )
            case Mul(left=left, right=right):
                # `a * (b / c)` keeps its parentheses: `a * b / c` rounds differently
                return f"{self._at(left, _MUL)} * {self._at(right, _MUL + 1)}", _MUL
            case Div(left=left, right=right):
                return f"{self._at(left, _MUL)} / {self._at(right, _MUL + 1)}", _MUL
            case Neg(operand=Neg(operand=operand)):
                return self._print(operand)  # exact in floating point too
            case Neg(operand=operand):
                text = self._at(operand, _NEG)
                return f"-({text})" if text.startswith("-") else f"-{text}", _NEG
            case Pow(base=base, exponent=Num(value=-1.0)):
                return f"1 / {self._at(base, _MUL + 1)}", _MUL
            case Pow(
                base=Sym(name=name), exponent=Num(value=2.0)
            ) if self.backend.squares_by_product:
                return f"{name} * {name}", _MUL
            case Pow(base=base, exponent=exponent) if _integer(exponent):
                left, right = self._at(base, _POW + 1), self._exponent(exponent)
                # as black writes it: `x**2` between simple operands, `(x + 1) ** 2`
                hug = _SIMPLE.fullmatch(left) and _SIMPLE.fullmatch(right.lstrip("-"))
                return f"{left}{'**' if hug else ' ** '}{right}", _POW
            case Pow(base=base, exponent=exponent):
                # Python's ** takes a negative number to a fractional power as a
                # complex number; the module's power gives nan (numpy, with a
                # warning) or a ValueError (math), as for any value outside a domain
                power = self.backend.power.format(m=self.backend.alias)
                return f"{power}({self.print(base)}, {self.print(exponent)})", _ATOM
            case Call(function=f, args=(z, e)) if f == SIGMOID_GIVEN:
                # σ(z) from e = e^{-|z|}: what _sigmoid computes (share_exponentials)
                at_z, at_e = self._at(z, _ADD), self._at(e, _ADD + 1)
                return f"(1.0 if {at_z} >= 0 else {at_e}) / (1.0 + {at_e})", _MUL
            case Call(function=f, args=(z, logarithm)) if f == SOFTPLUS_GIVEN:
                # softplus(z) from l = log(1 + e^{-|z|}): what _softplus computes
                at_z = self._at(z, _ADD)
                plus = self._at(logarithm, _ADD + 1)
                return f"({at_z} if {at_z} > 0 else 0.0) + {plus}", _ADD
            case Call(function=function, args=args):
                inner = ", ".join(self._print(a)[0] for a in args)
                return f"{self.backend.callee(function)}({inner})", _ATOM
            case Compare():
                return self._indicator(expr), _ATOM
            case Derivative():
                raise AssertionError("a derivative never reaches generated code")
        raise AssertionError(f"cannot print {expr!r}")

    def _at(self, expr: Expr, level: int) -> str:
        text, own = self._print(expr)
        return f"({text})" if own < level else text

    def _exponent(self, expr: Expr) -> str:
        if isinstance(expr, Num):
            value = expr.value
            if value < 0 and math.isfinite(value) and value == int(value):
                return (
                    f"{value:.1f}"  # an integer array cannot take a negative int power
                )
            return _number(value)
        text, own = self._print(expr)
        return text if own == _ATOM else f"({text})"

    def _test(self, expr: Compare) -> str:
        return f"({self._at(expr.left, _ADD)} {expr.op} {self._at(expr.right, _ADD)})"

    def _indicator(self, expr: Compare) -> str:
        """A comparison as the number 1.0 or 0.0."""
        if self.backend.name == "numpy":
            return self._step(expr)
        return f"float{self._test(expr)}"

    def _step(self, expr: Compare) -> str:
        """`_step(a - b, 0.0)` for a > b, np.heaviside's value in a tenth of its time:
        unlike `np.where(a > b, 1.0, 0.0)`, it keeps the operands' dtype (float32
        stays float32)."""
        big, small = (
            (expr.left, expr.right)
            if expr.op in (">", ">=")
            else (expr.right, expr.left)
        )
        at_zero = "1.0" if expr.op in (">=", "<=") else "0.0"
        if small == Num(0.0):
            difference = self._print(big)[0]
        elif big == Num(0.0):
            difference = self._print(Neg(small))[0]
        else:
            difference = f"{self._at(big, _ADD)} - {self._at(small, _ADD + 1)}"
        return f"_step({difference}, {at_zero})"


def _prints_as_call(expr: Expr) -> bool:
    """Whether `expr` prints as a call of the backend's module (which, on numbers,
    gives a numpy float64)."""
    if isinstance(expr, Pow):
        return not _integer(expr.exponent)
    return isinstance(expr, (Call, Compare))


def _integer(expr: Expr) -> bool:
    """Whether `expr` is a whole number (a power Python's ** computes as a real)."""
    return (
        isinstance(expr, Num) and math.isfinite(expr.value) and expr.value.is_integer()
    )


def _reads_array(expr: Expr, floats: frozenset[str]) -> bool:
    """Whether `expr` reads a name that may hold an array (not one of `floats`)."""
    return any(isinstance(n, Sym) and n.name not in floats for n in walk(expr))


def float_literal(value: float) -> str:
    """`value` as a Python float literal (`2.0`; `float("inf")` for infinity)."""
    return repr(float(value)) if math.isfinite(value) else f'float("{value}")'


def _number(value: float) -> str:
    if not math.isfinite(value):  # `10^{300} \\cdot 10^{300}` folded: what Python gives
        return f'float("{value}")'
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(value)
