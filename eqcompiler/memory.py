"""Memory: which arrays a numpy function body may write its results into.

Each statement of `forward` and `value_and_grad` makes a new array; at N = 10^6
every fresh 8 MB temporary costs about as much as the arithmetic. A careful
programmer writes a result into an array that nothing reads again (`out=`). This
pass finds such arrays: walking the statements in order, the array of a value whose
last reader has run is free, and the next statement whose outermost operation is a
numpy ufunc takes one (its own operand's first, still in cache). Values are tracked,
not names: `d_x = d_x + ...` is a new value under an old name, and `u = x` makes no
array (its value is x's).

Never free: an input's array (the caller's), and a value read after the body (the
output, the gradients). Whether a statement really writes into the array is decided
when it runs (`_spare` in templates/helpers_numpy.py): only when every array input
has one shape and float type, so that every array the body makes has them too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from .ir import Const, Expr, Neg, Num, Sym, children, symbols, with_children


@dataclass(frozen=True, slots=True)
class Statement:
    """`target = value`, one line of a function body."""

    target: str
    value: Expr


def unnest(
    statement: Statement,
    operands: Callable[[Expr], Sequence[Expr] | None],
    fresh: Callable[[str], str] | None = None,
) -> list[Statement]:
    """`t = f(g(a), b)` as `t = g(a)` then `t = f(t, b)`, inner operations first.

    Each statement then makes one array, and the next, whose operand it is, may
    write into it (plan): the temporaries a nested expression would make are gone
    (`w_1 x_1 + w_2 x_2 + b` makes two arrays, not four). `operands` gives the
    operands of a ufunc statement (None for any other); the operation that makes
    the first operand with an array of its own becomes the statement before. The
    values are the same: each operation still runs once, on the same operands.

    When the target is among the names read (`d_x = d_x - d_y * (s (1 - s))`), the
    first operand that is itself a chain of two or more operations gets a name of
    its own from `fresh` (`d_x_term = 1 - s`, ..., then `d_x = d_x - d_x_term`);
    without `fresh` such a statement is left as it is.
    """
    if statement.target in {s.name for s in symbols(statement.value)}:
        return _unnest_operand(statement, operands, fresh)
    chain: list[Statement] = []
    value = statement.value
    while True:
        inner = next(
            (e for e in operands(value) or () if _fresh(e) and symbols(e)), None
        )
        if inner is None:
            break
        chain.append(Statement(statement.target, _replaced(value, inner, statement)))
        value = inner
    chain.append(Statement(statement.target, value))
    return chain[::-1]


def _unnest_operand(
    statement: Statement,
    operands: Callable[[Expr], Sequence[Expr] | None],
    fresh: Callable[[str], str] | None,
) -> list[Statement]:
    """A statement reading its own target, with its first nested operand chained
    on a name of its own (see unnest)."""
    if fresh is None:
        return [statement]
    for operand in operands(statement.value) or ():
        if not (_fresh(operand) and symbols(operand)):
            continue
        inner = operands(operand)
        if not any(_fresh(e) and symbols(e) for e in inner or ()):
            continue  # one operation: a name of its own saves no array
        name = fresh(f"{statement.target}_term")
        term = Statement(name, operand)
        rest = Statement(statement.target, _replaced(statement.value, operand, term))
        return unnest(term, operands, fresh) + [rest]
    return [statement]


def _replaced(expr: Expr, old: Expr, statement: Statement) -> Expr:
    """`expr` with the node `old` (the same object) read from the statement's
    target."""
    if expr is old:
        return Sym(statement.target)
    return with_children(expr, [_replaced(c, old, statement) for c in children(expr)])


def plan(
    statements: Sequence[Statement],
    inputs: Collection[str],
    kept: Collection[str],
    writes_into: Callable[[Expr], bool],
) -> tuple[str | None, ...]:
    """For each statement, the variable whose array it may write its result into.

    `inputs` are the function's parameters; `kept` the names read after the body
    (returned); `writes_into` tells whether a right side's outermost operation can
    take `out=`. None where no array is free or the statement cannot write.
    """
    values, reads, last_read = _values(statements, inputs, kept)
    released: dict[int, list[int]] = {}  # statement index -> values free from there
    for value, index in last_read.items():
        released.setdefault(index, []).append(value)
    array_of: dict[int, int] = {}  # value -> the array holding it (its first value)
    names: dict[int, list[str]] = {}  # array -> the names bound to it now
    bound: dict[str, int] = {}  # name -> the array it is bound to now
    # arrays nothing reads again, most recently freed last (a dict: an ordered set)
    free: dict[int, None] = {}
    result: list[str | None] = []
    for index, statement in enumerate(statements):
        for value in released.get(index, ()):
            if value in array_of:
                free.pop(array_of[value], None)
                free[array_of[value]] = None
        value = values[index]
        chosen = None
        if value is not None and free and writes_into(statement.value):
            operands = [array_of.get(v) for v in reads[index]]
            chosen = next((a for a in operands if a in free and names.get(a)), None)
            while chosen is None and free:
                last = next(reversed(free))
                if names.get(last):  # still reachable by a name
                    chosen = last
                else:
                    del free[last]
            if chosen is not None:
                del free[chosen]
        result.append(None if chosen is None else names[chosen][-1])
        if statement.target in bound:  # the name leaves its old array
            names[bound.pop(statement.target)].remove(statement.target)
        if value is not None:
            array = array_of.setdefault(value, value if chosen is None else chosen)
            names.setdefault(array, []).append(statement.target)
            bound[statement.target] = array
    return tuple(result)


def _fresh(expr: Expr) -> bool:
    """Whether evaluating `expr` makes a new value (not an existing one again)."""
    match expr:
        case Sym() | Num() | Const():
            return False
        case Neg(operand=Neg(operand=operand)):
            return _fresh(operand)
    return True


def _values(
    statements: Sequence[Statement], inputs: Collection[str], kept: Collection[str]
) -> tuple[list[int | None], list[list[int]], dict[int, int]]:
    """Number the values (alike for `u = x`), and find each one's last reader.

    Returns, per statement, the new value it makes (None for an alias or a
    constant) and the values it reads; and, for each value the body made, the index
    of the statement from which its array is free.
    """
    binding: dict[str, int] = {}
    owned: set[int] = set()
    next_value = 0
    for name in inputs:
        binding[name] = next_value  # the caller's: never owned
        next_value += 1
    made: list[int | None] = []
    reads: list[list[int]] = []
    last_read: dict[int, int] = {}
    for index, statement in enumerate(statements):
        read = [binding[s.name] for s in symbols(statement.value) if s.name in binding]
        reads.append(read)
        for value in read:
            last_read[value] = index
        if _fresh(statement.value):
            value = next_value
            next_value += 1
            owned.add(value)
            last_read[value] = index + 1  # unread: free after it is made
            made.append(value)
            binding[statement.target] = value
        else:
            made.append(None)
            match statement.value:
                case Sym(name=name) if name in binding:
                    binding[statement.target] = binding[name]
                case Neg(operand=Neg(operand=Sym(name=name))) if name in binding:
                    binding[statement.target] = binding[name]
                case _:  # a constant: no array
                    binding.pop(statement.target, None)
    for name in kept:
        if name in binding:
            last_read.pop(binding[name], None)  # read after the body: never free
    return made, reads, {v: i for v, i in last_read.items() if v in owned}
