"""Reverse mode: the adjoint statements of a program, last equation first.

For each equation, the derivative flows from its target down its expression tree:
every operation passes `adjoint * local partial` (from `rules.partials`) to each
active operand; a symbol operand accumulates it. `d_x` names the derivative of the
output with respect to `x`. An adjoint that several operands need is bound to a
name once, unless an operand's own adjoint can serve (`d_y = 2 * (y - y_star)`,
then `d_y_star = -d_y`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .activity import analyze
from .algebra import ONE, ZERO, add, is_zero, mul
from .ir import Assign, Expr, Num, Program, Sym, children, symbols, walk, with_children
from .names import Namer
from .rules import partials


@dataclass(frozen=True, slots=True)
class Step:
    """One backward statement: `target = value`, coming from the equation `origin`."""

    target: str
    value: Expr
    origin: Assign


@dataclass(frozen=True, slots=True)
class Backward:
    """The reverse sweep and where each requested gradient ends up."""

    steps: tuple[Step, ...]
    gradients: tuple[tuple[Sym, Expr | None], ...]  # (input, its adjoint or None for 0)
    adjoint_names: tuple[tuple[str, str], ...]  # (symbol, adjoint variable)


def reverse(program: Program, namer: Namer) -> Backward:
    """The adjoint statements of `program`; `namer` already holds the user's names."""
    active = analyze(program)
    sweep = _Sweep(active, namer)
    sweep.seed(program.output)
    for assign in reversed(program.assigns):
        if assign.target.name in sweep.adjoint:
            sweep.equation(assign)
    gradients = tuple((s, sweep.adjoint.get(s.name)) for s in program.wrt)
    return Backward(tuple(sweep.steps), gradients, tuple(sweep.names.items()))


class _Sweep:
    def __init__(self, active: frozenset[str], namer: Namer) -> None:
        self.active = active
        self.namer = namer
        self.steps: list[Step] = []
        self.adjoint: dict[str, Expr] = {}  # symbol -> its adjoint so far
        self.names: dict[str, str] = {}  # symbol -> adjoint variable name
        self._variables: set[str] = set()  # the values of `names`
        self._origin: Assign | None = None
        self._reading: set[int] = set()  # ids of the equation's nodes that are active

    def seed(self, output: Sym) -> None:
        if output.name in self.active:
            self.adjoint[output.name] = ONE

    def equation(self, assign: Assign) -> None:
        self._origin = assign
        self._reading = _reading(assign.value, self.active)
        adjoint = self.adjoint[assign.target.name]
        self._visit(assign.value, adjoint, assign.target)

    def _visit(self, node: Expr, adjoint: Expr, out: Expr) -> None:
        if isinstance(node, Sym):
            if node.name in self.active:
                self._accumulate(node, adjoint)
            return
        operands = children(node)
        live = [i for i, operand in enumerate(operands) if self._is_active(operand)]
        if not live:
            return
        local = partials(node, out)
        done = None
        if len(live) > 1 and not _is_atomic(adjoint) and symbols(adjoint):
            adjoint, done = self._share(
                adjoint, [(i, operands[i], local[i]) for i in live]
            )
        for i in live:
            if i == done:
                continue
            contribution = mul(adjoint, local[i])
            if not is_zero(contribution):
                self._visit(operands[i], contribution, operands[i])

    def _share(
        self, adjoint: Expr, uses: list[tuple[int, Expr, Expr]]
    ) -> tuple[Expr, int | None]:
        """Name an adjoint that several operands need, computing it once.

        Returns the name and the operand (if any) whose own adjoint became that name.
        """
        for i, operand, local in uses:
            first_use = isinstance(operand, Sym) and operand.name not in self.adjoint
            # in `(q + \sin q)^2`, visiting `\sin q` adds to d_q while its own
            # contribution still reads d_q: share d_q only if no other operand reads q
            alone = first_use and not any(
                j != i and _reads(other, operand.name) for j, other, _ in uses
            )
            if local == ONE and alone:
                self._accumulate(operand, adjoint)
                return self.adjoint[operand.name], i  # its name, or a constant
        name = self.namer.fresh("t")
        self._emit(name, adjoint)
        return Sym(name), None

    def _accumulate(self, symbol: Sym, contribution: Expr) -> None:
        name = self.names.get(symbol.name) or self.namer.fresh(f"d_{symbol.name}")
        self.names[symbol.name] = name
        self._variables.add(name)
        earlier = self.adjoint.get(symbol.name)
        if (
            earlier is None
            and _is_atomic(contribution)
            and not self._may_grow(contribution)
        ):
            self.adjoint[symbol.name] = contribution  # an alias: no statement needed
            return
        value = contribution if earlier is None else add(earlier, contribution)
        if not symbols(value):  # a constant so far (`x + x`): no statement needed
            self.adjoint[symbol.name] = value
            return
        self._emit(name, value)
        self.adjoint[symbol.name] = Sym(name)

    def _may_grow(self, value: Expr) -> bool:
        """Whether `value` names an adjoint that later equations may still add to.

        An alias of it would change with it (`_share` can hand out `d_q` in
        `q + x`, and `q` may be used again); only the adjoint of the equation's own
        target is final.
        """
        assert self._origin is not None
        final = self.names.get(self._origin.target.name)
        return (
            isinstance(value, Sym)
            and value.name != final
            and value.name in self._variables
        )

    def _emit(self, name: str, value: Expr) -> None:
        assert self._origin is not None
        self.steps.append(Step(name, value, self._origin))

    def _is_active(self, expr: Expr) -> bool:
        return id(expr) in self._reading


def _reads(expr: Expr, name: str) -> bool:
    return any(isinstance(node, Sym) and node.name == name for node in walk(expr))


def _reading(root: Expr, active: frozenset[str]) -> set[int]:
    """The ids of the nodes of `root` that read an active symbol, found in one pass.

    (Walking each operand's subtree again at every node is quadratic in the depth.)
    """
    reading: set[int] = set()
    for node in reversed(list(walk(root))):  # children before their parents
        if (isinstance(node, Sym) and node.name in active) or any(
            id(child) in reading for child in children(node)
        ):
            reading.add(id(node))
    return reading


def _is_atomic(expr: Expr) -> bool:
    return isinstance(expr, (Sym, Num))


def derivative_of(assigns: Sequence[Assign], of: Sym, wrt: Sym) -> Expr:
    """∂of/∂wrt as an expression in forward values (DESIGN.md, "Derivative semantics").

    `wrt` is nudged and the change flows forward through `assigns` (in topological
    order); if `wrt` is itself computed, its own inputs are held still. The reverse
    sweep computes it, and its adjoint statements are substituted into each other.
    """
    if of.name == wrt.name:
        return ONE
    by_name = {a.target.name: a for a in assigns}
    needed: set[str] = set()
    stack = [of.name]
    while stack:
        name = stack.pop()
        if name in needed or name == wrt.name or name not in by_name:
            continue
        needed.add(name)
        stack.extend(s.name for s in symbols(by_name[name].value))
    chain = tuple(a for a in assigns if a.target.name in needed)
    if not any(wrt.name == s.name for a in chain for s in symbols(a.value)):
        return ZERO
    program = Program(chain, (wrt,), by_name[of.name].target, (wrt,))
    namer = Namer()
    namer.reserve(
        *(a.target.name for a in assigns),
        *(s.name for a in assigns for s in symbols(a.value)),
    )
    backward = reverse(program, namer)
    values: dict[str, Expr] = {}
    for step in backward.steps:
        values[step.target] = substitute(step.value, values)
    gradient = backward.gradients[0][1]
    return ZERO if gradient is None else substitute(gradient, values)


def substitute(expr: Expr, values: Mapping[str, Expr]) -> Expr:
    """`expr` with each symbol named in `values` replaced by its value."""
    if isinstance(expr, Sym):
        return values.get(expr.name, expr)
    operands = children(expr)
    if not operands:
        return expr
    return with_children(expr, [substitute(o, values) for o in operands])
