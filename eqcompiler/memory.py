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

    With `fresh`, every other operand that is an operation gets a name of its own,
    a term, computed just before (`z_term = w_2 * x_2`, then `z = z + z_term`), so
    that plan may give its result a spare array too; `place` puts a term that gets
    none back where it was. A statement that reads its own target cannot chain on
    it (`d_x = d_x - d_y * (s (1 - s))`): all its operands become terms. Without
    `fresh`, those operands stay nested, and such a statement is left as it is.
    """
    if statement.target in {s.name for s in symbols(statement.value)}:
        return [statement] if fresh is None else _with_terms(statement, operands, fresh)
    chain: list[Statement] = []
    value = statement.value
    while True:
        inner = next(
            (e for e in operands(value) or () if makes_value(e) and symbols(e)), None
        )
        if inner is None:
            break
        replaced = _replaced(value, {id(inner): statement.target})
        chain.append(Statement(statement.target, replaced))
        value = inner
    chain.append(Statement(statement.target, value))
    if fresh is None:
        return chain[::-1]
    return [s for link in reversed(chain) for s in _with_terms(link, operands, fresh)]


def _with_terms(
    statement: Statement,
    operands: Callable[[Expr], Sequence[Expr] | None],
    fresh: Callable[[str], str],
) -> list[Statement]:
    """The statement's operands that are operations, each unnested on a term of its
    own, then the statement reading the terms (see unnest)."""
    before: list[Statement] = []
    names: dict[int, str] = {}  # operand (by identity) -> its term
    for operand in operands(statement.value) or ():
        if id(operand) in names or not (makes_value(operand) and symbols(operand)):
            continue
        term = Statement(fresh(f"{statement.target}_term"), operand)
        before += unnest(term, operands, fresh)
        names[id(operand)] = term.target
    if not names:
        return [statement]
    return before + [Statement(statement.target, _replaced(statement.value, names))]


def _replaced(expr: Expr, names: dict[int, str]) -> Expr:
    """`expr` with each node in `names` (by identity) read from its name there."""
    if id(expr) in names:
        return Sym(names[id(expr)])
    return with_children(expr, [_replaced(c, names) for c in children(expr)])


def place(
    statements: Sequence[Statement],
    inputs: Collection[str],
    kept: Collection[str],
    writes_into: Callable[[Statement], bool],
    terms: Collection[str],
) -> tuple[list[Statement | None], tuple[str | None, ...]]:
    """plan, then each of `terms` (names unnest gave operands) that is one
    operation, got no spare array and whose array no later statement takes, put
    back into the statement that reads it: on a line of its own it makes the same
    array. Returns the statements, None for those put back, and plan's choices
    (the same for every statement that stays: a term put back held no array any
    other statement names)."""
    into, taken = _plan(statements, inputs, kept, writes_into)
    assigned: dict[str, int] = {}
    for statement in statements:
        assigned[statement.target] = assigned.get(statement.target, 0) + 1
    back: dict[str, Expr] = {}  # term -> its value, in the statement that reads it
    placed: list[Statement | None] = []
    for index, statement in enumerate(statements):
        if back and any(s.name in back for s in symbols(statement.value)):
            statement = Statement(statement.target, _put_back(statement.value, back))
        target = statement.target
        alone = target in terms and assigned[target] == 1  # a term, one operation
        if alone and into[index] is None and not taken[index]:
            back[target] = statement.value
            placed.append(None)
        else:
            placed.append(statement)
    return placed, into


def _put_back(expr: Expr, values: dict[str, Expr]) -> Expr:
    if isinstance(expr, Sym) and expr.name in values:
        return values[expr.name]
    return with_children(expr, [_put_back(c, values) for c in children(expr)])


def plan(
    statements: Sequence[Statement],
    inputs: Collection[str],
    kept: Collection[str],
    writes_into: Callable[[Statement], bool],
) -> tuple[str | None, ...]:
    """For each statement, the variable whose array it may write its result into.

    `inputs` are the function's parameters; `kept` the names read after the body
    (returned); `writes_into` tells whether a statement can take `out=` (its right
    side's outermost operation is a ufunc). None where no array is free or the
    statement cannot write.
    """
    return _plan(statements, inputs, kept, writes_into)[0]


def _plan(
    statements: Sequence[Statement],
    inputs: Collection[str],
    kept: Collection[str],
    writes_into: Callable[[Statement], bool],
) -> tuple[tuple[str | None, ...], list[bool]]:
    """plan's choices, and for each statement whether a later one writes into the
    array it made."""
    values, reads, last_read = _values(statements, inputs, kept)
    made_by: dict[int, int] = {}  # array -> the statement that made it
    taken = [False] * len(statements)
    released: dict[int, list[int]] = {}  # statement index -> values free from there
    for value, index in last_read.items():
        released.setdefault(index, []).append(value)
    array_of: dict[int, int] = {}  # value -> the array holding it (its first value)
    # array -> the names bound to it now, in binding order (a dict: an ordered set)
    names: dict[int, dict[str, None]] = {}
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
        if value is not None and free and writes_into(statement):
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
                taken[made_by[chosen]] = True
        result.append(None if chosen is None else next(reversed(names[chosen])))
        if statement.target in bound:  # the name leaves its old array
            del names[bound.pop(statement.target)][statement.target]
        if value is not None:
            if chosen is None:
                made_by[value] = index
            array = array_of.setdefault(value, value if chosen is None else chosen)
            names.setdefault(array, {})[statement.target] = None
            bound[statement.target] = array
    return tuple(result), taken


def makes_value(expr: Expr) -> bool:
    """Whether evaluating `expr` makes a new value (not an existing one again)."""
    match expr:
        case Sym() | Num() | Const():
            return False
        case Neg(operand=Neg(operand=operand)):
            return makes_value(operand)
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
        if makes_value(statement.value):
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
