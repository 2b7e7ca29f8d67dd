"""The intermediate representation: expressions, assignments, claims, programs.

Every node is a frozen dataclass. A node's `span` is not part of its identity
(`compare=False`), so two spellings of one equation in different places compare
equal, and each still knows where it came from. Every expression carries a
`shape`; only scalars exist for now (`SCALAR`), and broadcasting in the numpy
backend is elementwise.

Passes build new nodes and never mutate old ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from .errors import Pos, Span

NOWHERE = Span("", Pos(0, 0), Pos(0, 0))


@dataclass(frozen=True, slots=True)
class Shape:
    """The dimensions of a value; `()` is a scalar (broadcast elementwise)."""

    dims: tuple[int | str, ...] = ()

    def __str__(self) -> str:
        return "scalar" if not self.dims else " x ".join(map(str, self.dims))


SCALAR = Shape()


# ---- expressions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    value: float
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Const:
    """A named mathematical constant: `pi` or `e`."""

    name: str
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Sym:
    """A document symbol, by its Python name; `latex` is how the document spells it."""

    name: str
    latex: str = field(default="", compare=False)
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Add:
    left: Expr
    right: Expr
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Sub:
    left: Expr
    right: Expr
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Mul:
    left: Expr
    right: Expr
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Div:
    left: Expr
    right: Expr
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Pow:
    base: Expr
    exponent: Expr
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Call:
    """A known function applied to arguments; `rules.FUNCTIONS` lists them."""

    function: str
    args: tuple[Expr, ...]
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


# Functions of generated code alone (no document writes them, no rule differentiates
# them): σ(z) and softplus(z) from a shared e = e^{-|z|} and log(1 + e) (see
# share.share_exponentials), which the math backend prints inline.
SIGMOID_GIVEN = "sigmoid_given"  # (z, e): (1 if z >= 0 else e) / (1 + e)
SOFTPLUS_GIVEN = "softplus_given"  # (z, log1p(e)): (z if z > 0 else 0) + log1p(e)
# x^2 in numpy code: np.square, a ufunc, which may write into a spare array (`x**2`
# on arrays is the same pass; on numpy scalars it rounds differently, so the
# numpy backend writes every square of generated code this way)
SQUARE = "square"


@dataclass(frozen=True, slots=True)
class Compare:
    """`left op right`, 1.0 where it holds and 0.0 elsewhere (an indicator)."""

    op: str  # one of > >= < <=
    left: Expr
    right: Expr
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


@dataclass(frozen=True, slots=True)
class Derivative:
    """`∂of/∂wrt` written in a claim (never in an assignment)."""

    of: Sym
    wrt: Sym
    span: Span = field(default=NOWHERE, compare=False)
    shape: Shape = SCALAR


Expr = (
    Num | Const | Sym | Add | Sub | Mul | Div | Neg | Pow | Call | Compare | Derivative
)
BINARY = (Add, Sub, Mul, Div, Pow)


def children(expr: Expr) -> tuple[Expr, ...]:
    """The operands of `expr`, left to right."""
    match expr:
        case Add() | Sub() | Mul() | Div():
            return (expr.left, expr.right)
        case Pow():
            return (expr.base, expr.exponent)
        case Neg():
            return (expr.operand,)
        case Call():
            return expr.args
        case Compare():
            return (expr.left, expr.right)
    return ()


def with_children(expr: Expr, new: Sequence[Expr]) -> Expr:
    """`expr` with the operands `new` (in `children` order); `expr` itself when they
    are the same."""
    if tuple(children(expr)) == tuple(new):
        return expr
    match expr:
        case Add() | Sub() | Mul() | Div() | Compare():
            return replace(expr, left=new[0], right=new[1])
        case Pow():
            return replace(expr, base=new[0], exponent=new[1])
        case Neg():
            return replace(expr, operand=new[0])
        case Call():
            return replace(expr, args=tuple(new))
    return expr


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of `expr`, parents before children, left to right (iterative)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


# Deeper expressions are an error (a located "nested too deeply"): every pass after
# lowering recurses once or twice per level, within Python's default recursion limit.
MAX_DEPTH = 200


# Python's parser takes at most 200 nested parentheses; generated code adds a few
# around an expression (a call with `out=`, the gradient's reduction).
MAX_NESTING = 150


def nesting(expr: Expr) -> int:
    """How many parentheses deep `expr` may print: a function's argument, a power's
    operands, a negated or a right operand (`a - (b - c)`) may need a pair; a left
    operand (`a + b + c`) does not (iterative)."""
    deepest = 0
    stack = [(expr, 0)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        match node:
            case Add() | Sub() | Mul() | Div():
                stack += [(node.left, level), (node.right, level + 1)]
            case _:
                stack.extend((child, level + 1) for child in children(node))
    return deepest


def depth(expr: Expr) -> int:
    """The number of nodes on the longest path from `expr` down to a leaf (iterative)."""
    deepest = 0
    stack = [(expr, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(node))
    return deepest


def symbols(expr: Expr) -> tuple[Sym, ...]:
    """The symbols `expr` reads, in order of first appearance, each once."""
    seen: dict[str, Sym] = {}
    for node in walk(expr):
        if isinstance(node, Sym) and node.name not in seen:
            seen[node.name] = node
    return tuple(seen.values())


# ---- statements and programs ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assign:
    """`target = value`. `params` is set by the function form `f(x, y) = ...`."""

    target: Sym
    value: Expr
    latex: str = field(default="", compare=False)
    span: Span = field(default=NOWHERE, compare=False)
    params: tuple[Sym, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Claim:
    """A stated derivative: `∂of/∂wrt = sides[0] = sides[1] = ...`."""

    derivative: Derivative
    sides: tuple[Expr, ...]
    latex: str = field(default="", compare=False)
    span: Span = field(default=NOWHERE, compare=False)


Statement = Assign | Claim


@dataclass(frozen=True, slots=True)
class Program:
    """A computation ready to differentiate.

    `assigns` is in topological order; `inputs` in the order of the function's
    parameters; `wrt` lists the inputs to differentiate by, in input order.
    """

    assigns: tuple[Assign, ...]
    inputs: tuple[Sym, ...]
    output: Sym
    wrt: tuple[Sym, ...]
    source: str = field(default="", compare=False)
