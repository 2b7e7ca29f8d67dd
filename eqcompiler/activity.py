"""Activity analysis: which values carry a derivative worth computing.

A value is active when it depends on an input we differentiate by (`wrt`); the
program already holds only what the output depends on. Adjoints are computed for
active values only, so nothing is computed that no requested gradient needs.
"""

from __future__ import annotations

from .ir import Program, symbols


def analyze(program: Program) -> frozenset[str]:
    """The names of the active inputs and intermediates of `program`."""
    active = {s.name for s in program.wrt}
    for assign in program.assigns:
        if any(s.name in active for s in symbols(assign.value)):
            active.add(assign.target.name)
    return frozenset(active)
