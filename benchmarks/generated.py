"""Generated code against hand-written code and peers: the numpy and math suites.

For each document (the seed, then samples/*.md) the generated modules are compiled
once per backend, every candidate is checked against the generated `value_and_grad`
(np.allclose on the value and on each gradient, and equal shapes) and only the
candidates that agree are timed, interleaved, in this process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import peers
from .handwritten import CASES
from .timing import Timing, interleaved

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).parents[1] / ".." / "shared"

# candidate names, in the order of the tables
FORWARD = "numpy forward, hand-written"
GENERATED_FORWARD = "generated forward"
GENERATED = "generated value_and_grad"
CAREFUL = "numpy forward + backward, careful"
NAIVE = "numpy forward + backward, naive"
JAX_DEVICE = "jax.jit(value_and_grad), device arrays"
JAX_NUMPY = "jax.jit(value_and_grad), numpy in/out"
TORCH = "PyTorch eager autograd"
AUTOGRAD = "HIPS autograd"
MATH = "hand-written math, NamedTuple"
TORCH_SCALAR = "PyTorch, 0-d tensors"
JAX_FLOATS = "jax.jit(value_and_grad), floats"
AUTOGRAD_FLOATS = "HIPS autograd, floats"


@dataclass(frozen=True, slots=True)
class Document:
    """A document to benchmark: its label, path and the hand-written case's name."""

    label: str
    path: Path
    stem: str  # key of handwritten.CASES and peers.FORMULAS


def documents(notes: list[str]) -> list[Document]:
    """The seed (from shared/, else samples/backprop.md), then every sample."""
    seed = SHARED / "seed" / "backprop.md"
    if not seed.is_file():
        notes.append(
            f"{seed} not found: the seed is samples/backprop.md (same equations)."
        )
        seed = ROOT / "samples" / "backprop.md"
    found = [Document("seed", seed.resolve(), "backprop")]
    for path in sorted((ROOT / "samples").glob("*.md")):
        found.append(Document(path.stem, path, path.stem))
    return found


def compile_all(
    docs: list[Document], workdir: Path, backend: str
) -> dict[str, ModuleType]:
    """Compile every document with the command line (one process) and import them."""
    folder = workdir / backend
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for doc in docs:
        source = folder / f"{doc.label}.md"
        source.write_text(doc.path.read_text(encoding="utf-8"), encoding="utf-8")
        sources.append(source)
    command = [sys.executable, "-m", "eqcompiler", "compile", "--quiet"]
    command += ["--backend", backend, *map(str, sources)]
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    modules = {}
    for doc, source in zip(docs, sources, strict=True):
        name = f"_eqc_bench_{backend}_{doc.label}"
        modules[doc.label] = _import(source.with_suffix(".py"), name)
    return modules


Normalized = tuple[np.ndarray, tuple[np.ndarray, ...] | None]


def _normalized(result: Any, with_grads: bool) -> Normalized:
    if not with_grads:
        return np.asarray(result), None
    value, grads = result
    return np.asarray(value), tuple(np.asarray(g) for g in grads)


def disagreement(candidate: Normalized, reference: Normalized) -> str | None:
    """Why `candidate` differs from `reference`, or None if they agree."""
    (value, grads), (ref_value, ref_grads) = candidate, reference
    if np.shape(value) != np.shape(ref_value) or not np.allclose(value, ref_value):
        return "value differs"
    if grads is None:
        return None
    assert ref_grads is not None
    if len(grads) != len(ref_grads):
        return f"{len(grads)} gradients, not {len(ref_grads)}"
    for index, (g, ref) in enumerate(zip(grads, ref_grads, strict=True)):
        if np.shape(g) != np.shape(ref):
            return f"gradient {index} has shape {np.shape(g)}, not {np.shape(ref)}"
        if not np.allclose(g, ref):
            worst = float(np.max(np.abs(g - ref)))
            return f"gradient {index} differs (max abs difference {worst:.3g})"
    return None


@dataclass
class Comparison:
    """One document at one size: timings of the candidates that agreed."""

    timings: dict[str, Timing] = field(default_factory=dict)
    first_calls: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Candidate:
    call: Callable[[], Any]
    normalize: Callable[[Any], Normalized]
    first_call: float | None = None


def _checked(
    candidates: dict[str, Candidate], reference: Normalized, comparison: Comparison
) -> dict[str, Callable[[], Any]]:
    """The candidates that agree with `reference`; the others become notes."""
    kept = {}
    for name, candidate in candidates.items():
        try:
            why = disagreement(candidate.normalize(candidate.call()), reference)
        except Exception as error:  # noqa: BLE001 - a failing peer is reported
            why = f"failed: {type(error).__name__}: {error}"
        if why is None:
            kept[name] = candidate.call
            if candidate.first_call is not None:
                comparison.first_calls[name] = candidate.first_call
        else:
            comparison.notes.append(f"{name} not timed: {why}")
    return kept


def _peer_candidates(
    stem: str,
    inputs: dict[str, Any],
    wrt: tuple[str, ...],
    *,
    scalars: bool,
    threads: int | None,
    notes: list[str],
) -> dict[str, Candidate]:
    makers: dict[str, tuple[str, Callable[[], peers.Prepared]]] = {}
    if scalars:
        makers[TORCH_SCALAR] = (
            "torch",
            lambda: peers.torch_eager(stem, inputs, wrt, scalars=True, threads=threads),
        )
        makers[JAX_FLOATS] = (
            "jax",
            lambda: peers.jax_jit(stem, inputs, wrt, device=False),
        )
        makers[AUTOGRAD_FLOATS] = (
            "autograd",
            lambda: peers.autograd_grad(stem, inputs, wrt),
        )
    else:
        makers[JAX_DEVICE] = (
            "jax",
            lambda: peers.jax_jit(stem, inputs, wrt, device=True),
        )
        makers[JAX_NUMPY] = (
            "jax",
            lambda: peers.jax_jit(stem, inputs, wrt, device=False),
        )
        makers[TORCH] = (
            "torch",
            lambda: peers.torch_eager(
                stem, inputs, wrt, scalars=False, threads=threads
            ),
        )
        makers[AUTOGRAD] = ("autograd", lambda: peers.autograd_grad(stem, inputs, wrt))
    found = {}
    for name, (package, make) in makers.items():
        why = peers.missing(package)
        if why is not None:
            notes.append(f"{name} skipped: {why}")
            continue
        try:
            prepared = make()
        except Exception as error:  # noqa: BLE001 - a failing peer is reported
            notes.append(f"{name} failed to set up: {type(error).__name__}: {error}")
            continue
        found[name] = Candidate(
            prepared.call,
            lambda result, p=prepared: _as_normalized(p.as_numpy(result)),
            prepared.first_call,
        )
    return found


def _as_normalized(result: peers.Result) -> Normalized:
    return result[0], result[1]


def numpy_comparison(
    doc: Document,
    module: ModuleType,
    n: int,
    *,
    rounds: int,
    target: float,
    threads: int | None,
    with_peers: bool = True,
    only: str | None = None,
) -> Comparison:
    """Every numpy candidate on `doc` with arrays of `n` elements."""
    comparison = Comparison()
    case = CASES.get(doc.stem)
    if case is None:
        comparison.notes.append(f"{doc.label}: no hand-written version; skipped")
        return comparison
    wrt = tuple(module.Gradients._fields)
    if wrt != case.fields:
        comparison.notes.append(
            f"{doc.label}: generated gradients {wrt} differ from the hand-written "
            f"{case.fields}; skipped"
        )
        return comparison
    inputs = case.inputs(n)
    reference = _normalized(module.value_and_grad(**inputs), True)
    forward_reference = (reference[0], None)
    both = lambda r: _normalized(r, True)  # noqa: E731
    value_only = lambda r: _normalized(r, False)  # noqa: E731
    candidates = {
        FORWARD: Candidate(lambda: case.forward(**inputs), value_only),
        GENERATED_FORWARD: Candidate(lambda: module.forward(**inputs), value_only),
        GENERATED: Candidate(lambda: module.value_and_grad(**inputs), both),
        CAREFUL: Candidate(lambda: case.careful(**inputs), both),
        NAIVE: Candidate(lambda: case.naive(**inputs), both),
    }
    forwards = {k: candidates.pop(k) for k in (FORWARD, GENERATED_FORWARD)}
    kept = _checked(forwards, forward_reference, comparison)
    others = (
        _peer_candidates(
            doc.stem,
            inputs,
            wrt,
            scalars=False,
            threads=threads,
            notes=comparison.notes,
        )
        if with_peers
        else {}
    )
    kept |= _checked(candidates | others, reference, comparison)
    if only is not None:
        kept = {only: kept[only]}
    comparison.timings = interleaved(kept, rounds=rounds, target=target)
    return comparison


def math_comparison(
    doc: Document,
    module: ModuleType,
    *,
    rounds: int,
    target: float,
    threads: int | None,
) -> Comparison:
    """The math backend on Python floats against hand-written math and peers."""
    comparison = Comparison()
    case = CASES.get(doc.stem)
    if case is None:
        comparison.notes.append(f"{doc.label}: no hand-written version; skipped")
        return comparison
    wrt = tuple(module.Gradients._fields)
    inputs = case.scalar_inputs()
    reference = _normalized(module.value_and_grad(**inputs), True)
    both = lambda r: _normalized(r, True)  # noqa: E731
    candidates = {
        GENERATED: Candidate(lambda: module.value_and_grad(**inputs), both),
        MATH: Candidate(lambda: case.math(**inputs), both),
    }
    candidates |= _peer_candidates(
        doc.stem, inputs, wrt, scalars=True, threads=threads, notes=comparison.notes
    )
    kept = _checked(candidates, reference, comparison)
    comparison.timings = interleaved(kept, rounds=rounds, target=target)
    return comparison


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def default_allocator(
    module_path: Path, sizes: list[int], *, rounds: int, target: float, timeout: float
) -> dict[int, dict[str, float]] | str:
    """The seed's numpy candidates (no peers), each alone in a fresh process whose
    malloc keeps glibc's default policy: what a user calling it in a loop gets (the
    heap's state, and so the figure, depends on everything else that allocates, so
    these are not interleaved). Medians by size and candidate; or an error."""
    medians: dict[int, dict[str, float]] = {n: {} for n in sizes}
    for name in (FORWARD, GENERATED_FORWARD, GENERATED, CAREFUL, NAIVE):
        command = [sys.executable, "-m", "benchmarks.generated", str(module_path)]
        command += ["--sizes", *map(str, sizes), "--rounds", str(rounds)]
        command += ["--target", str(target), "--only", name]
        try:
            done = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return f"{name} timed out after {timeout:.0f} s"
        if done.returncode != 0:
            return (done.stderr.strip().splitlines() or ["no output"])[-1]
        for n, found in json.loads(done.stdout).items():
            medians[int(n)] |= found
    return medians


def main(argv: list[str] | None = None) -> None:
    """Child: time one candidate on the seed at each size, malloc left alone."""
    parser = argparse.ArgumentParser()
    parser.add_argument("module", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--target", type=float, required=True)
    parser.add_argument("--only", required=True, help="the candidate to time")
    args = parser.parse_args(argv)
    module = _import(args.module, "_eqc_bench_default_allocator")
    doc = Document("seed", args.module, "backprop")
    medians = {}
    for n in args.sizes:
        comparison = numpy_comparison(
            doc,
            module,
            n,
            rounds=args.rounds,
            target=args.target,
            threads=None,
            with_peers=False,
            only=args.only,
        )
        medians[n] = {name: t.median for name, t in comparison.timings.items()}
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
