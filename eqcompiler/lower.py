"""Lower parse trees into IR statements: assignments and derivative claims.

The grammar leaves juxtaposition flat (`\\log x y`, `\\sigma(z)`, `x(1 - x)`); this
module reads it with the whole document in view (`Notation`): which symbols the
document assigns, whether `\\sigma` and `e` are functions or variables, where a
function's argument ends. It also turns every spelling of a symbol into its Python
name (via `names`), and every node's place into a document `Span`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from lark import Token, Tree

from . import names
from .errors import EqError, EqErrors, Note, Span
from .ir import (
    MAX_DEPTH,
    MAX_NESTING,
    Add,
    Assign,
    Call,
    Claim,
    Compare,
    Const,
    Derivative,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Pow,
    Statement,
    Sub,
    Sym,
    depth,
    nesting,
)
from .rules import FUNCTIONS
from .source import MathBlock, Settings

# `\log`, `\sin`, ... as written, to the function they name.
_FUNC_TOKENS = {
    "ln": "log",
    "log": "log",
    "exp": "exp",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "arcsin": "arcsin",
    "arccos": "arccos",
    "arctan": "arctan",
    "max": "max",
    "min": "min",
}
# Names that `\operatorname{..}`, `\mathrm{..}` or `\text{..}` may call.
_NAMED_FUNCTIONS = {
    "relu": "relu",
    "softplus": "softplus",
    "sigmoid": "sigmoid",
    "sigm": "sigmoid",
    "logistic": "sigmoid",
    "exp": "exp",
    "log": "log",
    "ln": "log",
    "sqrt": "sqrt",
    "abs": "abs",
    "sign": "sign",
    "sgn": "sign",
    "tanh": "tanh",
    "sinh": "sinh",
    "cosh": "cosh",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "max": "max",
    "min": "min",
}
_INVERSE = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
_SEPARATORS = frozenset("SEP COMMA NEWROW BEGIN_ENV END_ENV".split())
_MARKS = {"*": "star", "\\star": "star", "\\ast": "star", "\\prime": "prime"}
_CMP = {
    ">": ">",
    ">=": ">=",
    "<": "<",
    "<=": "<=",
    "\\gt": ">",
    "\\ge": ">=",
    "\\geq": ">=",
    "\\geqslant": ">=",
    "\\lt": "<",
    "\\le": "<=",
    "\\leq": "<=",
    "\\leqslant": "<=",
}


@dataclass(frozen=True, slots=True)
class Notation:
    """How the document reads ambiguous notation (DESIGN.md, "Reading notation")."""

    assigned: frozenset[str] = frozenset()  # canonical LaTeX of assigned symbols
    functions: frozenset[str] = frozenset()  # symbols declared functions
    variables: frozenset[str] = frozenset()  # symbols declared (or used as) variables
    defined_functions: frozenset[str] = frozenset()  # f of `f(x, y) = ...`

    def is_variable(self, latex: str) -> bool:
        if latex in self.functions:
            return False
        return latex in self.assigned or latex in self.variables


@dataclass(frozen=True, slots=True)
class Parsed:
    """One block and its parse tree."""

    block: MathBlock
    tree: Tree


def lower(parsed: Sequence[Parsed], notation: Notation) -> tuple[Statement, ...]:
    """All assignments and claims of a document, in document order."""
    statements: list[Statement] = []
    errors: list[EqError] = []
    parameters: dict[str, tuple[Sym, ...]] = {}
    for item in parsed:
        lowerer = _Lowerer(item.block, notation, parameters)
        for chain in _chains(item.tree):
            try:
                lowered = lowerer.statements(chain)
            except EqError as error:
                errors.append(error)
            except RecursionError:
                errors.append(
                    EqError("the expression is nested too deeply", lowerer.span(chain))
                )
            else:
                errors.extend(_too_deep(lowered))
                statements.extend(lowered)
    errors.extend(_name_clashes(statements))
    if errors:
        raise EqErrors(errors)
    return tuple(statements)


def _too_deep(statements: Sequence[Statement]) -> Iterator[EqError]:
    """Expressions deeper than the later passes can recurse (`ir.MAX_DEPTH`)."""
    for statement in statements:
        roots = [statement.value] if isinstance(statement, Assign) else statement.sides
        if any(depth(root) > MAX_DEPTH for root in roots):
            yield EqError(
                f"the expression is too long or nested too deeply (more than "
                f"{MAX_DEPTH} operations deep); split it into several equations",
                statement.span,
            )
        elif any(nesting(root) > MAX_NESTING for root in roots):
            yield EqError(
                f"the expression is nested too deeply (more than {MAX_NESTING} "
                f"parentheses or function calls deep); split it into several equations",
                statement.span,
            )


# ---- notation --------------------------------------------------------------------------


def read_notation(parsed: Sequence[Parsed], settings: Settings) -> Notation:
    """Scan every block once for what decides the ambiguous readings."""
    assigned: set[str] = set()
    defined: set[str] = set()
    unapplied: set[str] = set()
    for item in parsed:
        for chain in _chains(item.tree):
            exprs = _trees(chain)
            if chain.data == "chain" and len(exprs) > 1:
                left = _lhs_symbol(exprs[0])
                if left is not None and not (
                    left[1]
                    and _plain_greek(_trees(exprs[0])[0])
                    and "\\sigma" not in settings.variables
                ):
                    assigned.add(left[0])
                    if left[1]:
                        defined.add(left[0])
        for juxt in item.tree.find_data("juxt"):
            items = _trees(juxt)
            for i, part in enumerate(items):
                latex = _plain_greek(part)
                if latex is None:
                    continue
                follows = items[i + 1] if i + 1 < len(items) else None
                if follows is None or _base(follows).data != "paren":
                    unapplied.add(latex)
    return Notation(
        assigned=frozenset(assigned),
        functions=frozenset(settings.functions),
        variables=frozenset(settings.variables) | frozenset(unapplied),
        defined_functions=frozenset(defined),
    )


def readings(parsed: Sequence[Parsed], notation: Notation) -> tuple[EqError, ...]:
    """Notes where the document could mean either reading of DESIGN.md's table."""
    notes: list[EqError] = []
    e_noted = False
    # \sigma applied reads as the sigmoid; with a \sigma_1 or \sigma^{2} nearby, the
    # author may mean a variable
    sigma_noted = not any(
        _base(part).data == "greek"
        and str(_base(part).children[0]) == "\\sigma"
        and len(part.children) > 1
        for item in parsed
        for part in item.tree.find_data("item")
    )
    for item in parsed:
        lowerer = _Lowerer(item.block, notation)
        for juxt in item.tree.find_data("juxt"):
            items = _trees(juxt)
            for i, part in enumerate(items):
                base = _base(part)
                follows = items[i + 1 :]
                if (
                    not sigma_noted
                    and _plain_greek(part)
                    and "\\sigma"
                    not in (notation.functions | notation.variables | notation.assigned)
                ):
                    sigma_noted = True
                    notes.append(
                        EqError(
                            "\\sigma(...) is read as the logistic sigmoid; if \\sigma is a "
                            "variable here, say so in the front matter: variables: ['\\sigma']",
                            lowerer.span(part),
                            severity="note",
                        )
                    )
                elif (
                    not e_noted
                    and base.data == "letter"
                    and str(base.children[0]) == "e"
                    and len(part.children) == 1
                    and not notation.is_variable("e")
                    and "e" not in notation.functions
                ):
                    e_noted = True
                    notes.append(
                        EqError(
                            "e is read as Euler's number 2.718...; if e is a variable "
                            "here, say so in the front matter: variables: [e]",
                            lowerer.span(part),
                            severity="note",
                        )
                    )
                elif (
                    base.data == "func"
                    and len(part.children) == 1
                    and _product_argument(follows)
                ):
                    name = str(base.children[0])
                    notes.append(
                        EqError(
                            f"{name} applies to the whole product after it; write "
                            f"{name}(...) with parentheses to make the argument explicit",
                            lowerer.span(part),
                            severity="note",
                        )
                    )
    return tuple(notes)


def _product_argument(follows: list[Tree]) -> bool:
    """A function head without parentheses followed by two or more plain factors."""
    if not follows or _is_paren(follows[0]):
        return False
    plain = 0
    for item in follows:
        if _base(item).data in ("func", "partial"):
            break
        plain += 1
    return plain >= 2 and not (plain == 2 and _base(follows[0]).data == "number")


def _defines_known_function(head: Tree, notation: Notation) -> bool:
    """`\\sigma(x) = ...` where sigma reads as the sigmoid: a definition, not a program."""
    return _plain_greek(head) is not None and not notation.is_variable("\\sigma")


def _lhs_symbol(expr: Tree) -> tuple[str, bool] | None:
    """The canonical LaTeX of a left side `y` or `f(x, y)`, and whether it is `f(..)`."""
    if expr.data != "juxt":
        return None
    items = _trees(expr)
    head = _item_symbol_latex(items[0])
    if head is None:
        return None
    if len(items) == 1:
        return head, False
    if (
        len(items) == 2
        and _base(items[1]).data == "paren"
        and len(_trees(items[1])) == 1
    ):
        return head, True
    return None


def _item_symbol_latex(item: Tree) -> str | None:
    base = _base(item)
    if base.data in ("letter", "greek"):
        scripts = _trees(item)[1:]
        if all(s.data != "sup" or _is_mark(s.children[0]) for s in scripts):
            return _canonical(item)
    if base.data in ("named", "decorated"):
        return _canonical(item)
    return None


def _plain_greek(item: Tree) -> str | None:
    """`\\sigma` written with no scripts (the one Greek letter that can be a function)."""
    base = _base(item)
    if base.data == "greek" and len(item.children) == 1:
        name = str(base.children[0])
        return name if name == "\\sigma" else None
    return None


# ---- statements -------------------------------------------------------------------------


def _chains(tree: Tree) -> Iterator[Tree]:
    """The statements of a block, with a continuation (`&= ...`) joined to its chain."""
    pending: Tree | None = None
    for child in tree.children:
        if not isinstance(child, Tree):
            continue
        if child.data == "continuation" and pending is not None:
            pending = Tree("chain", [*pending.children, *child.children], pending.meta)
            continue
        if pending is not None:
            yield pending
        pending = child
    if pending is not None:
        yield pending


def _trees(tree: Tree) -> list[Tree]:
    return [c for c in tree.children if isinstance(c, Tree)]


def _base(item: Tree) -> Tree:
    return item.children[0]


def _is_paren(item: Tree) -> bool:
    return _base(item).data == "paren" and len(item.children) >= 1


def _is_mark(arg: Tree | Token) -> bool:
    """A superscript that decorates a name: `*`, `\\star`, `\\prime`, `(i)`."""
    if isinstance(arg, Token):
        return arg.type in ("STAR", "STARCMD", "PRIMECMD")
    if arg.data == "mark":
        return True
    if arg.data == "braced":
        inner = _trees(arg)
        if len(inner) == 1 and inner[0].data == "juxt":
            items = _trees(inner[0])
            # `x^{(i)}`, but not `x^{(a + 1)^{2}}`
            return (
                len(items) == 1
                and _base(items[0]).data == "paren"
                and len(items[0].children) == 1
            )
    return False


def _braced(arg: Tree | Token) -> bool:
    return isinstance(arg, Tree) and arg.data == "braced"


@dataclass
class _Lowerer:
    block: MathBlock
    notation: Notation
    parameters: dict[str, tuple[Sym, ...]] = field(default_factory=dict)  # of f(x, y)
    _derivative_ops: list[object] = field(default_factory=list)
    # comparisons written as arguments, by id, until an indicator takes them
    _comparisons: dict[int, Compare] = field(default_factory=dict)

    def span(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            return self.block.span(
                (node.line, node.column),
                (node.end_line or node.line, node.end_column or node.column + 1),
            )
        meta = node.meta
        if getattr(meta, "empty", True):
            return self.block.span((1, 1), (1, 2))
        return self.block.span(
            (meta.line, meta.column), (meta.end_line, meta.end_column)
        )

    def latex(self, node: Tree) -> str:
        text = self.block.text[node.meta.start_pos : node.meta.end_pos]
        # a row break and the alignment after it only lay the equation out
        text = re.sub(r"\\\\(\s*\[[^\]]*\])?(\s*&)?(\s*\\q?quad\b)*", " ", text)
        text = re.sub(r"(?<!\\)&", " ", text)
        return " ".join(text.split())

    # statements

    def statements(self, chain: Tree) -> list[Statement]:
        """The statements of one chain: usually one, several for `\\nabla f = [...]`."""
        sides = _trees(chain)
        if len(sides) > 1 and self._is_gradient(sides[0]):
            return self._gradient_claims(sides)
        statement = self.statement(chain)
        return [] if statement is None else [statement]

    def _is_gradient(self, side: Tree) -> bool:
        items = _trees(side) if side.data == "juxt" else []
        return (
            len(items) == 2
            and _base(items[0]).data == "nabla"
            and _item_symbol_latex(items[1]) is not None
        )

    def _gradient_claims(self, sides: list[Tree]) -> list[Statement]:
        """`\\nabla f = [∂f/∂x, ∂f/∂y] = [y, x]`: one claim per component."""
        of = self.symbol(_trees(sides[0])[1])
        lists = []
        for side in sides[1:]:
            items = _trees(side) if side.data == "juxt" else []
            base = _base(items[0]) if len(items) == 1 else None
            if base is None or base.data not in ("bracket", "paren"):
                raise EqError(
                    "write the gradient as a list, e.g. \\nabla f = [y, x]",
                    self.span(side),
                )
            lists.append([self.expr(a, allow_derivatives=True) for a in _trees(base)])
        if len({len(values) for values in lists}) != 1:
            raise EqError(
                "the lists of this gradient differ in length", self.span(sides[0])
            )
        wrt = self._gradient_order(of, lists)
        if len(wrt) != len(lists[0]):
            raise EqError(
                f"cannot tell which variables the {len(lists[0])} components of "
                f"\\nabla {of.latex} belong to; write them as \\frac{{\\partial "
                f"{of.latex}}}{{\\partial x}}",
                self.span(sides[0]),
            )
        claims: list[Statement] = []
        for i, symbol in enumerate(wrt):
            derivative = Derivative(of, symbol, self.span(sides[0]))
            values = tuple(values[i] for values in lists if values[i] != derivative)
            if values:
                claims.append(
                    Claim(derivative, values, self.latex(sides[0]), self.span(sides[0]))
                )
        return claims

    def _gradient_order(self, of: Sym, lists: list[list[Expr]]) -> list[Sym]:
        """The variables of the components: from a list of derivatives, or f(x, y)."""
        for values in lists:
            if all(isinstance(v, Derivative) and v.of == of for v in values):
                return [v.wrt for v in values]
        return list(self.parameters.get(of.name, ()))

    def statement(self, chain: Tree) -> Statement | None:
        if chain.data == "continuation":
            raise EqError(
                "this line continues an equation, but there is none before it",
                self.span(chain),
            )
        sides = _trees(chain)
        if len(sides) < 2:
            return None  # an expression on its own: prose, not a statement
        left = sides[0]
        derivative = self._derivative_side(left)
        if derivative is not None:
            rest = tuple(self.expr(side, allow_derivatives=True) for side in sides[1:])
            return Claim(derivative, rest, self.latex(chain), self.span(chain))
        target = _lhs_symbol(left)
        if target is None:
            return (
                None  # an identity such as `\sigma'(x) = ...`: not part of the program
            )
        items = _trees(left)
        if target[1] and _defines_known_function(items[0], self.notation):
            return None  # `\\sigma(x) = \\frac{1}{1 + e^{-x}}` states what sigma is
        symbol = self.symbol(items[0])
        params: tuple[Sym, ...] = ()
        if target[1]:
            params = self._params(items[1])
            self.parameters[symbol.name] = params
        value = self.expr(sides[1])
        return Assign(symbol, value, self.latex(chain), self.span(chain), params)

    def _params(self, paren: Tree) -> tuple[Sym, ...]:
        params = []
        for arg in _trees(_base(paren)):
            items = _trees(arg) if arg.data == "juxt" else []
            if len(items) != 1 or _item_symbol_latex(items[0]) is None:
                raise EqError(
                    "a parameter of f(...) must be one symbol", self.span(arg)
                )
            params.append(self.symbol(items[0]))
        return tuple(params)

    def _derivative_side(self, side: Tree) -> Derivative | None:
        try:
            value = self.expr(side, allow_derivatives=True)
        except EqError:
            return None
        return value if isinstance(value, Derivative) else None

    # expressions

    def expr(self, node: Tree, allow_derivatives: bool = False) -> Expr:
        value = self._expr(node)
        if not allow_derivatives:
            for part in _derivatives(value):
                raise EqError(
                    "a derivative can only be stated on its own (a claim), "
                    "not used inside an assignment",
                    part.span,
                )
        return value

    def _expr(self, node: Tree) -> Expr:
        span = self.span(node)
        match node.data:
            case "add":
                left, right = _trees(node)
                return Add(self._expr(left), self._expr(right), span)
            case "sub":
                left, right = _trees(node)
                return Sub(self._expr(left), self._expr(right), span)
            case "mul":
                left, right = _trees(node)
                return Mul(self._expr(left), self._expr(right), span)
            case "div":
                left, right = _trees(node)
                return self._quotient(left, right, span)
            case "neg":
                (operand,) = _trees(node)
                value = self._expr(operand)
                if isinstance(value, Num):  # -1 is a number, not an operation
                    return Num(-value.value, span)
                return Neg(value, span)
            case "pos":
                (operand,) = _trees(node)
                return self._expr(operand)
            case "juxt":
                return self._juxt(_trees(node), span)
        raise AssertionError(f"unexpected tree {node.data}")

    def _quotient(self, top: Tree | Token, bottom: Tree | Token, span: Span) -> Expr:
        derivative = self._as_derivative(top, bottom, span)
        if isinstance(derivative, Derivative):
            return derivative
        if derivative is not None:
            raise EqError(
                "write the derivative of one symbol, e.g. \\frac{\\partial y}{\\partial x}",
                span,
            )
        if isinstance(top, Tree) and top.data not in ("braced", "mark"):
            return Div(self._expr(top), self._expr(bottom), span)  # a / b
        return Div(self._arg(top), self._arg(bottom), span)  # \\frac{a}{b}

    def _as_derivative(
        self, top: Tree | Token, bottom: Tree | Token, span: Span
    ) -> Derivative | str | None:
        """`∂a/∂b`, `da/db`: the derivative; `∂/∂b`: "operator"; else None."""
        wrt = self._differential(bottom)
        if wrt is None or not isinstance(wrt, Sym):
            return None
        of = self._differential(top)
        if of == "alone":
            return "operator"
        if isinstance(of, Sym):
            return Derivative(of, wrt, span)
        return None

    def _differential(self, node: Tree | Token) -> Sym | str | None:
        """`\\partial x` or `dx` -> Sym x; `\\partial` or `d` alone -> "alone"."""
        items = self._items_of(node)
        if not items or not self._is_differential_mark(items[0]):
            return None
        if len(items) == 1:
            return "alone"
        if len(items) == 2 and _item_symbol_latex(items[1]) is not None:
            return self.symbol(items[1])
        return None

    def _items_of(self, node: Tree | Token) -> list[Tree]:
        if isinstance(node, Token):
            return []
        if node.data == "braced":
            inner = _trees(node)
            return (
                _trees(inner[0]) if len(inner) == 1 and inner[0].data == "juxt" else []
            )
        return _trees(node) if node.data == "juxt" else []

    def _is_differential_mark(self, item: Tree) -> bool:
        base = _base(item)
        if len(item.children) != 1:
            return False
        if base.data == "partial":
            return True
        if base.data == "letter" and str(base.children[0]) == "d":
            return not self.notation.is_variable("d")
        if base.data == "named":
            return names.sanitize(_named_text(base.children[0])) == "d"
        return False

    def _juxt(self, items: list[Tree], span: Span) -> Expr:
        pieces = [
            self._piece(
                item, applied=_is_paren(items[i + 1]) if i + 1 < len(items) else False
            )
            for i, item in enumerate(items)
        ]
        factors: list[Expr] = []
        i = 0
        while i < len(pieces):
            piece = pieces[i]
            if isinstance(piece, _Head):
                i, call = self._apply(piece, pieces, i)
                factors.append(call)
                continue
            if isinstance(piece, _DerivativeOperator):
                follows = pieces[i + 1] if i + 1 < len(pieces) else None
                if not (isinstance(follows, _Value) and isinstance(follows.expr, Sym)):
                    raise EqError(
                        "write this derivative as \\frac{\\partial y}{\\partial x}",
                        piece.span,
                    )
                factors.append(Derivative(follows.expr, piece.wrt, piece.span))
                i += 2
                continue
            if isinstance(piece, _Partial):
                raise EqError(
                    "\\partial is only understood in a derivative such as "
                    "\\frac{\\partial y}{\\partial x}",
                    piece.span,
                )
            factors.append(_value_of(piece))
            i += 1
        product = factors[0]
        for factor in factors[1:]:
            product = Mul(product, factor, span)
        return product

    def _apply(self, head: _Head, pieces: list[_Piece], i: int) -> tuple[int, Expr]:
        follows = pieces[i + 1] if i + 1 < len(pieces) else None
        if isinstance(follows, _Value) and follows.args is not None:
            call = self._call(head, follows.args, follows.span)
            for script in follows.scripts:
                call = self._script(call, script)
            i += 2
        else:
            # `\log x y`: the product after the head; `\log \sigma(z)`: a call in it
            j = i + 1
            factors: list[Expr] = []
            while j < len(pieces) and isinstance(pieces[j], (_Value, _Head)):
                if isinstance(pieces[j], _Head) and factors:
                    break  # `\\sin x \\cos y` is sin(x) cos(y)
                if isinstance(pieces[j], _Head):
                    j, inner = self._apply(pieces[j], pieces, j)
                    factors.append(inner)
                else:
                    factors.append(_value_of(pieces[j]))
                    j += 1
            if not factors:
                raise EqError(f"{head.latex} needs an argument", head.span)
            argument = factors[0]
            for factor in factors[1:]:
                argument = Mul(argument, factor, factor.span)
            call = self._call(head, (argument,), head.span)
            i = j
        if head.power is not None:
            call = Pow(call, head.power, head.span)
        return i, call

    def _call(self, head: _Head, args: tuple[Expr, ...], span: Span) -> Expr:
        if head.function == "indicator":
            if len(args) != 1 or not isinstance(args[0], Compare):
                raise EqError(
                    "an indicator needs a comparison, e.g. \\mathbb{1}(x > 0)",
                    head.span,
                )
            self._comparisons.pop(id(args[0]), None)
            return args[0]
        for arg in args:
            if self._comparisons.get(id(arg)) is arg:  # not `\sigma(\mathbb{1}(x > 0))`
                raise EqError("a comparison only goes inside an indicator", arg.span)
        if head.function in ("max", "min"):
            if len(args) < 2:
                raise EqError(f"{head.latex} needs two or more arguments", head.span)
            result = args[0]
            for arg in args[1:]:
                result = Call(head.function, (result, arg), span)
            return result
        arity = FUNCTIONS[head.function].arity
        if len(args) != arity:
            raise EqError(
                f"{head.latex} takes {arity} argument{'s' if arity > 1 else ''}, "
                f"not {len(args)}",
                span,
            )
        if head.base is not None:  # \log_{b} x
            return Div(
                Call("log", args, span), Call("log", (head.base,), head.span), span
            )
        return Call(head.function, args, span)

    # items

    def _piece(self, item: Tree, applied: bool) -> _Piece:
        base = _base(item)
        scripts = [s for s in item.children[1:] if isinstance(s, Tree)]
        span = self.span(item)
        kind = base.data
        if kind == "partial":
            if scripts:
                raise EqError("higher derivatives are not supported", span)
            return _Partial(span)
        if kind == "func":
            return self._func_head(base, scripts, span)
        if kind == "indicator":
            return _Head("indicator", str(base.children[0]), span)
        if kind == "named":
            text = _named_text(base.children[0])
            function = _NAMED_FUNCTIONS.get(names.sanitize(text).lower())
            is_operator = str(base.children[0]).startswith("\\operatorname")
            if function is not None and not scripts and (is_operator or applied):
                return _Head(function, str(base.children[0]), span)
            if is_operator and function is None:
                raise EqError(
                    f"undefined function {str(base.children[0])}; known functions: "
                    + ", ".join(sorted(set(_NAMED_FUNCTIONS))),
                    span,
                )
        if (
            kind == "greek"
            and _plain_greek(item)
            and not self.notation.is_variable("\\sigma")
        ):
            return _Head("sigmoid", "\\sigma", span)
        if kind == "frac":
            top, bottom = base.children
            derivative = self._as_derivative(top, bottom, span)
            if derivative == "operator":
                return _DerivativeOperator(self._differential(bottom), span)
        if kind in ("paren", "bracket"):
            args = tuple(self._arg_item(a) for a in _trees(base))
            value = args[0] if len(args) == 1 else None
            # `\\max(a, b)^2`: the scripts go on the call (`_value_of` rejects a list)
            piece = _Value(value, span, args, tuple(scripts))
            if value is not None:
                piece.expr = self._scripts(value, scripts, span)
            return piece
        if kind in ("letter", "greek", "named", "decorated"):
            euler = self._constant(base, []) == Const("e")  # `e^{(x)}` is exp(x)
            naming = [
                s
                for s in scripts
                if s.data != "sup"
                or (_is_mark(s.children[0]) and not (euler and _braced(s.children[0])))
            ]
            powers = [s for s in scripts if s not in naming]
            value = self._constant(base, naming)
            if value is None:
                symbol = self.symbol(Tree("item", [base, *naming], item.meta))
                if symbol.latex in self.notation.defined_functions and applied:
                    raise EqError(
                        f"{symbol.latex} is defined as a function in this document; "
                        "calling it is not supported, write its value as a symbol",
                        span,
                    )
                value = symbol
            return _Value(self._scripts(value, powers, span), span)
        value = self._base_value(base, span)
        return _Value(self._scripts(value, scripts, span), span)

    def _constant(self, base: Tree, naming: list[Tree]) -> Const | None:
        """`e` and `\\pi` are constants unless the document makes them variables."""
        if naming or base.data not in ("letter", "greek"):
            return None
        text = str(base.children[0])
        if text == "e" and not self.notation.is_variable("e"):
            return Const("e", self.span(base))
        if text == "\\pi" and not self.notation.is_variable("\\pi"):
            return Const("pi", self.span(base))
        return None

    def _func_head(self, base: Tree, scripts: list[Tree], span: Span) -> _Head:
        latex = str(base.children[0])
        function = _FUNC_TOKENS[latex.lstrip("\\")]
        power = log_base = None
        for script in scripts:
            if script.data == "sub" and function == "log" and log_base is None:
                log_base = self._arg(script.children[0])
            elif script.data == "sup" and power is None:
                power = self._arg(script.children[0])
            else:
                raise EqError(f"unsupported script on {latex}", self.span(script))
        if power == Num(-1.0) and function in _INVERSE:  # \\sin^{-1} x is arcsin
            function, power = _INVERSE[function], None
        return _Head(function, latex, span, power, log_base)

    def _base_value(self, base: Tree, span: Span) -> Expr:
        kind = base.data
        if kind == "number":
            value = float(str(base.children[0]))
            if not math.isfinite(value):
                raise EqError("this number is too large", span)
            return Num(value, span)
        if kind == "frac":
            top, bottom = base.children
            return self._quotient(top, bottom, span)
        if kind == "sqrt":
            return Call("sqrt", (self._arg(base.children[0]),), span)
        if kind == "root":
            degree, radicand = base.children
            return Pow(
                self._arg(radicand), Div(Num(1.0), self._expr(degree), span), span
            )
        if kind == "braced":
            inner = _trees(base)
            if len(inner) != 1:
                raise EqError("unexpected ',' in braces", span)
            return self._arg_item(inner[0])
        if kind == "abs":
            return Call("abs", (self._expr(_trees(base)[0]),), span)
        if kind == "indicator":
            raise EqError(
                "an indicator needs a condition, e.g. \\mathbb{1}(x > 0)", span
            )
        if kind in ("letter", "greek", "named", "decorated"):
            raise EqError("cannot read this symbol", span)
        raise EqError(f"unsupported notation ({kind})", span)

    def _arg_item(self, node: Tree) -> Expr:
        if node.data == "comparison":
            left, op, right = node.children
            comparison = Compare(
                _CMP[str(op)], self._expr(left), self._expr(right), self.span(node)
            )
            self._comparisons[id(comparison)] = comparison
            return comparison
        return self._expr(node)

    def _arg(self, arg: Tree | Token) -> Expr:
        """A one-token or braced argument of `\\frac`, `\\sqrt`, `^`."""
        if isinstance(arg, Token):
            span = self.span(arg)
            if arg.type == "NUMBER":
                return Num(float(arg), span)
            if arg.type in ("LETTER", "GREEK", "NAMED"):
                item = Tree("item", [Tree(_TOKEN_BASE[arg.type], [arg])])
                item.meta.line, item.meta.column = arg.line, arg.column
                item.meta.end_line, item.meta.end_column = arg.end_line, arg.end_column
                item.meta.empty = False
                return self._juxt([item], span)
            raise EqError(f"unexpected {str(arg)!r} here", span)
        if arg.data == "mark":
            raise EqError("a decoration such as * goes on a symbol", self.span(arg))
        inner = _trees(arg)
        if len(inner) != 1:
            raise EqError("expected one expression in these braces", self.span(arg))
        return self._arg_item(inner[0])

    def _scripts(self, value: Expr, scripts: Iterable[Tree], span: Span) -> Expr:
        for script in scripts:
            value = self._script(value, script, span)
        return value

    def _script(self, value: Expr, script: Tree, span: Span | None = None) -> Expr:
        span = span or self.span(script)
        arg = script.children[0] if script.data == "sup" else None
        if arg is not None and (
            not _is_mark(arg) or (_braced(arg) and not isinstance(value, Sym))
        ):
            exponent = self._arg(arg)
            if isinstance(value, Const) and value.name == "e":
                return Call("exp", (exponent,), span)
            return Pow(value, exponent, span)
        raise EqError("only a symbol can carry a subscript or decoration", span)

    # symbols

    def symbol(self, item: Tree) -> Sym:
        latex = _canonical(item)
        name = _python_name(item)
        if not name:  # `\mathrm{}`, `\mathrm{é}`
            raise EqError(
                f"{latex} has no letter or digit to name it by in Python",
                self.span(item),
            )
        return Sym(name, latex, self.span(item))


class _Piece:
    expr: Expr
    span: Span


@dataclass
class _Value(_Piece):
    expr: Expr | None
    span: Span
    args: tuple[Expr, ...] | None = None  # set for a parenthesised group
    scripts: tuple[Tree, ...] = ()


@dataclass
class _Head(_Piece):
    function: str
    latex: str
    span: Span
    power: Expr | None = None
    base: Expr | None = None


@dataclass
class _Partial(_Piece):
    span: Span


@dataclass
class _DerivativeOperator(_Piece):
    wrt: Sym
    span: Span


_TOKEN_BASE = {"LETTER": "letter", "GREEK": "greek", "NAMED": "named"}


def _value_of(piece: _Piece) -> Expr:
    """The value of a factor; a list `(a, b)` is only ever a function's arguments."""
    if piece.expr is None:
        raise EqError(
            "a list of values is only the arguments of a function, as in \\max(a, b)",
            piece.span,
        )
    return piece.expr


def _named_text(token: Token) -> str:
    text = str(token)
    return text[text.index("{") + 1 : -1].strip()


def _derivatives(expr: Expr) -> Iterator[Derivative]:
    from .ir import walk

    for node in walk(expr):
        if isinstance(node, Derivative):
            yield node


# ---- names ---------------------------------------------------------------------------------


def _canonical(item: Tree) -> str:
    """One spelling for every way of writing a symbol (`y^*`, `y^{*}`, `y^\\star`)."""
    base = _base(item)
    latex = _base_latex(base)
    for script in _trees(item)[1:]:
        if script.data == "sub":
            latex += "_{" + _script_text(script.children[0]) + "}"
        elif script.data == "prime":
            latex += "'" * len(str(script.children[0]))
        else:
            latex += "^{" + _script_text(script.children[0]) + "}"
    return latex


def _base_latex(base: Tree) -> str:
    if base.data == "decorated":
        accent, arg = base.children
        inner = arg if isinstance(arg, Token) else None
        text = str(inner) if inner is not None else _script_text(arg)
        return f"{str(accent).strip()}{{{text}}}"
    token = str(base.children[0])
    if base.data == "named":
        kind = token[: token.index("{")].strip()
        return f"{kind}{{{_named_text(base.children[0])}}}"
    return token


def _script_text(arg: Tree | Token) -> str:
    """The text of a script argument, normalised (`\\star` and `*` are one mark)."""
    if isinstance(arg, Token):
        value = str(arg).strip()
        return "*" if _MARKS.get(value) == "star" else value
    tokens = [str(t).strip() for t in _tokens(arg)]
    tokens = ["*" if _MARKS.get(t) == "star" else t for t in tokens]
    if arg.data == "braced" and _is_mark(arg):
        return "(" + "".join(tokens) + ")"
    return "".join(tokens) if arg.data == "mark" else _join_tokens(arg)


def _join_tokens(tree: Tree) -> str:
    """The text of a subscript's tokens, without spaces."""
    parts: list[str] = []
    for token in _tokens(tree):
        parts.append(str(token).strip())
    return "".join(parts)


def _tokens(tree: Tree) -> list[Token]:
    """The tokens of `tree`, left to right (iterative: Lark's scan_values recurses,
    and `\\hat{x + x + ... + x}` is a thousand levels deep)."""
    tokens: list[Token] = []
    stack: list[Tree | Token] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Token):
            tokens.append(node)
        elif isinstance(node, Tree):
            stack.extend(reversed(node.children))
    return tokens


def _python_name(item: Tree) -> str:
    base = _base(item)
    name = _base_python(base)
    for script in _trees(item)[1:]:
        if script.data == "sub":
            name += "_" + names.sanitize(_script_text(script.children[0]))
        elif script.data == "prime":
            name += "_" + "p" * (len(str(script.children[0])) - 1) + "prime"
        else:
            text = _script_text(script.children[0])
            if text == "*":
                name += "_star"
            elif text in ("\\prime", "'"):
                name += "_prime"
            else:
                name += "_" + names.sanitize(text)
    return names.keyword_safe(name)


def _base_python(base: Tree) -> str:
    if base.data == "decorated":
        accent, arg = base.children
        inner = _python_name(_as_item(arg)) if isinstance(arg, Token) else None
        if inner is None:
            items = [i for i in arg.iter_subtrees_topdown() if i.data == "item"]
            inner = (
                _python_name(items[0]) if items else names.sanitize(_script_text(arg))
            )
        return f"{inner}_{names.ACCENTS[str(accent).strip().lstrip(chr(92))]}"
    token = str(base.children[0])
    if base.data == "named":
        return names.sanitize(_named_text(base.children[0])) or "_"
    return names.command_name(token)


def _as_item(token: Token) -> Tree:
    return Tree("item", [Tree(_TOKEN_BASE.get(token.type, "letter"), [token])])


def _name_clashes(statements: Sequence[Statement]) -> Iterator[EqError]:
    """Two different symbols with one Python name (`x_1` and `x^{(1)}`) are an error."""
    seen: dict[str, Sym] = {}
    from .ir import walk

    for statement in statements:
        roots: list[Expr] = []
        if isinstance(statement, Assign):
            roots = [statement.target, statement.value, *statement.params]
        else:
            roots = [statement.derivative, *statement.sides]
        for root in roots:
            for node in walk(root):
                syms = [node] if isinstance(node, Sym) else []
                if isinstance(node, Derivative):
                    syms = [node.of, node.wrt]
                for sym in syms:
                    first = seen.setdefault(sym.name, sym)
                    if first.latex != sym.latex:
                        seen[sym.name] = sym
                        yield EqError(
                            f"{sym.latex} and {first.latex} would both be called "
                            f"{sym.name!r} in Python; rename one of them",
                            sym.span,
                            (Note(f"{first.latex} is here", first.span),),
                        )
