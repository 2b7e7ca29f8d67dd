"""Checks of a generated module shared by the fuzzers and the property tests."""

from __future__ import annotations

import ast
import contextlib
import signal
from collections.abc import Iterator

# What a generated module may import: its backend, and the typing names it annotates
# with (`NamedTuple`, `Any`, `Callable`, numpy's `ArrayLike`).
ALLOWED_IMPORTS = {
    "numpy": {"numpy", "numpy.typing", "typing", "collections.abc"},
    "math": {"math", "typing"},
}


class Timeout(BaseException):
    """The per-input time limit ran out (a hang)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `Timeout` in the main thread after `seconds` of this process's CPU
    time (0: no limit).

    CPU time, not wall time: on a machine shared with other work (or with the
    campaign paused by SIGSTOP while a benchmark runs) an input is not a hang
    because the process waited; the pipeline never waits on anything but the CPU.
    """
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def _expire(signum, frame):  # noqa: ARG001
        raise Timeout(f"no result after {seconds:.1f} s of CPU time")

    previous = signal.signal(signal.SIGPROF, _expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def module_problem(module: str, backend: str, formatted: bool) -> str | None:
    """What is wrong with a generated module, or None.

    It must be valid Python, import nothing but its backend and, when `formatted`
    (black ran), stay the same when black formats it again.
    """
    try:
        tree = ast.parse(module)
        compile(tree, "<generated>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as problem:
        return f"not valid Python: {type(problem).__name__}: {problem}"
    allowed = ALLOWED_IMPORTS[backend]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {node.module or ""}
        else:
            continue
        if not names <= allowed:
            return f"imports {sorted(names - allowed)}"
    if formatted:
        from eqcompiler.codegen import format_python

        if format_python(module) != module:
            return "not black-stable: formatting it again changes it"
    return None


def backend_of_module(module: str) -> str:
    """The backend a generated module was written for."""
    return "numpy" if "\nimport numpy" in module else "math"
