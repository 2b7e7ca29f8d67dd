"""Run eqcompiler's benchmarks and write benchmarks/RESULTS.md.

    python benchmarks/run.py                  # everything (about 10 minutes)
    python benchmarks/run.py --quick          # fewer rounds and sizes (about a minute)
    python benchmarks/run.py --suite numpy --suite math

Suites: `numpy` (generated value_and_grad on arrays against careful and naive
hand-written numpy, jax.jit, PyTorch and HIPS autograd), `math` (the math backend on
floats against hand-written math and peers), `compiler` (synthetic documents of K
equations, end to end and per stage, against sympy and black).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

SUITES = ("numpy", "math", "compiler")
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
UNSET_MARK = "EQCOMPILER_BENCH_UNSET"  # what the re-exec removed, for the report
PACKAGES = (
    "numpy",
    "jax",
    "jaxlib",
    "torch",
    "autograd",
    "sympy",
    "antlr4-python3-runtime",
    "lark",
    "black",
    "threadpoolctl",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--suite",
        action="append",
        choices=SUITES,
        help="run only this suite (repeatable; default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="a fast, rougher run")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for BLAS, PyTorch and XLA (default 1; 0 leaves each library's "
        "default)",
    )
    parser.add_argument(
        "--max-k",
        type=int,
        default=10_000,
        help="largest synthetic document for the compiler suite (default 10000)",
    )
    parser.add_argument(
        "--cli-max-k",
        type=int,
        default=1_000,
        help="largest K also compiled by the command line as its own process "
        "(default 1000; above it the stage-timing process, which does the same "
        "work, stands for it: this halves the suite's time)",
    )
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "RESULTS.md",
        help="the Markdown report (default benchmarks/RESULTS.md)",
    )
    return parser


def _reexec_without_blas_overrides() -> None:
    """OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE force a BLAS kernel: run without both."""
    found = {name: os.environ[name] for name in BLAS_OVERRIDES if name in os.environ}
    if not found:
        return
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env[UNSET_MARK] = ", ".join(f"{k}={v}" for k, v in found.items())
    print(f"re-running without {env[UNSET_MARK]}", file=sys.stderr)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _pin_threads(threads: int) -> str:
    """Set the thread counts before numpy, torch or jax load (children inherit them)."""
    if threads <= 0:
        return "each library's default"
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))
    xla = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in xla:
        extra = (
            f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}"
        )
        os.environ["XLA_FLAGS"] = f"{xla} {extra}".strip()
    return (
        f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
        f"torch.set_num_threads({threads}), XLA intra-op threads {threads}"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _reexec_without_blas_overrides()
    threads_note = _pin_threads(args.threads)
    from benchmarks import timing

    allocator = timing.pin_allocator()  # before anything allocates large arrays
    suites = args.suite or list(SUITES)
    started = time.perf_counter()
    context = _context(args, threads_note, allocator)
    notes: list[str] = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="eqcompiler-bench-") as tmp:
        workdir = Path(tmp)
        if "numpy" in suites or "math" in suites:
            results |= _generated_suites(args, suites, workdir, notes)
        if "compiler" in suites:
            results["compiler"] = _compiler_suite(args, workdir)
    context["load_end"] = os.getloadavg()
    context["duration"] = time.perf_counter() - started
    from benchmarks import report

    args.out.write_text(report.render(context, results, notes), encoding="utf-8")
    print(f"wrote {args.out} in {context['duration']:.0f} s")
    return 0


_START = time.perf_counter()


def _say(message: str) -> None:
    print(
        f"[{time.perf_counter() - _START:5.0f} s] {message}",
        file=sys.stderr,
        flush=True,
    )


def _generated_suites(
    args: argparse.Namespace, suites: list[str], workdir: Path, notes: list[str]
) -> dict[str, Any]:
    from benchmarks import generated

    threads = args.threads if args.threads > 0 else None
    docs = generated.documents(notes)
    results: dict[str, Any] = {"documents": docs}
    if "numpy" in suites:
        sizes = [10**6, 10**4, 10**2]
        rounds, target = (5, 0.004) if args.quick else (25, 0.01)
        modules = generated.compile_all(docs, workdir, "numpy")
        numpy_results: dict[str, dict[int, Any]] = {}
        for doc in docs:
            numpy_results[doc.label] = {}
            for n in sizes:
                _say(f"numpy: {doc.label}, N = {n}")
                numpy_results[doc.label][n] = generated.numpy_comparison(
                    doc,
                    modules[doc.label],
                    n,
                    rounds=rounds,
                    target=target,
                    threads=threads,
                )
        results["numpy"] = {"sizes": sizes, "rounds": rounds, "by_doc": numpy_results}
    if "numpy" in suites and not args.quick:
        _say("numpy: seed, glibc's default malloc policy")
        results["numpy"]["default_allocator"] = generated.default_allocator(
            Path(modules["seed"].__file__),
            [10**6, 10**4],
            rounds=rounds,
            target=target,
            timeout=300.0,
        )
    if "math" in suites:
        rounds, target = (5, 0.004) if args.quick else (41, 0.01)
        modules = generated.compile_all(docs, workdir, "math")
        by_doc = {}
        for doc in docs:
            _say(f"math: {doc.label}")
            by_doc[doc.label] = generated.math_comparison(
                doc, modules[doc.label], rounds=rounds, target=target, threads=threads
            )
        results["math"] = {"rounds": rounds, "by_doc": by_doc}
    return results


def _compiler_suite(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from benchmarks import compiler

    ks = [k for k in (100, 1_000, 10_000) if k <= args.max_k]
    if args.quick:
        ks = [k for k in ks if k <= 100]
    folder = workdir / "compiler"
    folder.mkdir()
    results = compiler.run(
        ks,
        folder,
        process_repeat={100: 1 if args.quick else 3},
        timeout=900.0,
        sympy_k=None if args.quick else 100,
        sympy_timeout=240.0,
        black_final_max_k=1_000,
        cli_max_k=args.cli_max_k,
        log=_say,
    )
    _say("compiler: small document as a process")
    results["small"] = compiler.small_document(3 if args.quick else 9, timeout=120.0)
    return results


def _context(args: argparse.Namespace, threads: str, allocator: str) -> dict[str, Any]:
    """What the report's header says about this run and this machine."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    unset = os.environ.get(UNSET_MARK)
    blas_env = (
        f"{unset} were set and are unset for this run"
        if unset
        else "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE not set"
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/run.py " + " ".join(sys.argv[1:]),
        "quick": args.quick,
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "versions": versions,
        "blas": _blas(),
        "blas_env": blas_env,
        "threads": threads,
        "allocator": allocator,
        "load_start": os.getloadavg(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def _blas() -> str:
    """The BLAS numpy uses, and the kernel threadpoolctl reports."""
    import numpy as np

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"numpy {np.__version__}; threadpoolctl not installed (kernel unknown)"
    found = [
        f"{i.get('internal_api')} {i.get('version')}, kernel {i.get('architecture')}, "
        f"{i.get('num_threads')} thread(s)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return "; ".join(found) or "no BLAS found by threadpoolctl"


if __name__ == "__main__":
    sys.exit(main())
