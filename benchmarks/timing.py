"""Timing primitives: the allocator policy, interleaved rounds and their medians.

Every candidate of one comparison runs in the same process, one after another within
each round (the order rotates from round to round), so that drift of the machine
(frequency, the other core, the allocator's state) touches them all alike. The figure
reported is the median over rounds of the time per call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import itertools
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = (
    32 * 1024 * 1024
)  # glibc's maximum on 64-bit: 8 MB arrays stay on the heap
TRIM_THRESHOLD = 1024 * 1024 * 1024  # freed heap memory is kept, not given back
TOP_PAD = 64 * 1024 * 1024  # the heap grows in large steps


def pin_allocator() -> str:
    """Fix glibc malloc's policy so that large temporaries reuse warm heap memory.

    By default glibc serves blocks above a sliding threshold (128 KiB at first) with
    fresh mmap'ed pages, and each 8 MB numpy temporary then page-faults on every call.
    Returns a description of the policy for the report.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "not pinned (no glibc mallopt)"
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    settings = {
        "M_MMAP_THRESHOLD": (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        "M_TRIM_THRESHOLD": (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        "M_TOP_PAD": (_M_TOP_PAD, TOP_PAD),
    }
    done = []
    for label, (param, value) in settings.items():
        ok = mallopt(param, value) == 1
        done.append(f"{label}={value // (1024 * 1024)} MiB{'' if ok else ' (refused)'}")
    return "glibc mallopt " + ", ".join(done) + f"; heap pre-faulted: {warm_heap()} MiB"


def warm_heap(mib: int = 512) -> int:
    """Grow the heap by `mib` MiB of touched pages and free them: with the policy
    above they stay mapped, so the first rounds do not pay the page faults."""
    import numpy as np

    chunk = 16 * 1024 * 1024  # below the mmap threshold: served from the heap
    blocks = [np.ones(chunk // 8) for _ in range(mib * 1024 * 1024 // chunk)]
    del blocks
    return mib


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds per call: the median over rounds, and the fastest and slowest round."""

    median: float
    low: float
    high: float
    loops: int  # calls per round
    rounds: int


def _run(fn: Callable[[], object], loops: int) -> float:
    """Seconds per call over `loops` calls, the garbage collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in itertools.repeat(None, loops):
            fn()
        return (time.perf_counter() - start) / loops
    finally:
        if enabled:
            gc.enable()


def calibrate(fn: Callable[[], object], target: float) -> int:
    """Calls per round so that a round of `fn` lasts about `target` seconds."""
    fn()  # a warm call: caches, the allocator's heap, lazy imports
    loops = 1
    while True:
        per_call = _run(fn, loops)
        if per_call * loops >= target / 4 or loops >= 1 << 20:
            return max(1, min(1 << 20, round(target / max(per_call, 1e-9))))
        loops *= 4


def interleaved(
    candidates: Mapping[str, Callable[[], object]],
    *,
    rounds: int,
    target: float,
) -> dict[str, Timing]:
    """Time every candidate in each of `rounds` rounds, rotating their order.

    `target` is the length in seconds of one candidate's share of a round; fast
    candidates repeat within it, slow ones run once.
    """
    names = list(candidates)
    loops = {name: calibrate(candidates[name], target) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_run(candidates[name], loops[name]))
        gc.collect()
    return {
        name: Timing(
            median=statistics.median(values),
            low=min(values),
            high=max(values),
            loops=loops[name],
            rounds=rounds,
        )
        for name, values in samples.items()
    }


def first_call(fn: Callable[[], object]) -> float:
    """Seconds taken by one call (for a first, compiling call)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def format_seconds(seconds: float) -> str:
    """`2.7 ms`, `18 µs`, `1.3 s`: three significant figures at most."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            digits = 0 if value >= 100 else 1 if value >= 10 else 2
            return f"{value:.{digits}f} {unit}"
    raise AssertionError("unreachable")
