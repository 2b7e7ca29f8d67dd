"""The dependency graph of assignments: a topological order, or a cycle error."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from .errors import EqError, EqErrors, Note
from .ir import Assign, symbols


def order(assigns: Sequence[Assign]) -> tuple[Assign, ...]:
    """The assignments so that each comes after those it reads; document order otherwise."""
    index = {a.target.name: i for i, a in enumerate(assigns)}
    reads = [
        sorted({index[s.name] for s in symbols(a.value) if s.name in index})
        for a in assigns
    ]
    readers: list[list[int]] = [[] for _ in assigns]
    waiting = [len(r) for r in reads]
    for i, deps in enumerate(reads):
        for dep in deps:
            readers[dep].append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    result: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        result.append(i)
        for reader in readers[i]:
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, reader)
    if len(result) < len(assigns):
        raise EqErrors([_cycle_error(assigns, reads, waiting)])
    return tuple(assigns[i] for i in result)


def _cycle_error(
    assigns: Sequence[Assign], reads: list[list[int]], waiting: list[int]
) -> EqError:
    """Walk back from a stuck assignment until an assignment repeats: that is a cycle."""
    start = next(i for i, count in enumerate(waiting) if count > 0)
    path: list[int] = []
    seen: dict[int, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(dep for dep in reads[node] if waiting[dep] > 0)
    cycle = path[seen[node] :]
    cycle.sort(key=lambda i: (assigns[i].span.start.line, assigns[i].span.start.col))
    first, *others = (assigns[i] for i in cycle)
    names = " -> ".join(assigns[i].target.latex for i in cycle)
    return EqError(
        f"these definitions form a cycle: {names} -> {first.target.latex}",
        first.span,
        tuple(Note(f"{a.target.latex} is defined here", a.span) for a in others),
    )
