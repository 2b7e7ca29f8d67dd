"""The compiler on synthetic documents: end to end as a process, and stage by stage.

Two kinds of document of K equations:
- chain: `v_{i} = \\tanh(a_{i} v_{i-1} + b_{i})` for i = 1..K-1, then a loss;
- wide: K/2 units `h_{i} = \\tanh(w_{i} x + c_{i} y)` fanning out of the shared inputs
  x and y, summed pairwise in a tree of `s_{j}`, then a loss.

Stage timings, peak memory and the sympy pipeline each run in a fresh child process
(`python -m benchmarks.compiler stages|sympy DOC`, printing JSON), so that one
document's memory and caches never touch another's figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def chain_equations(k: int) -> list[str]:
    equations = [
        f"v_{{{i}}} = \\tanh(a_{{{i}}} v_{{{i - 1}}} + b_{{{i}}})" for i in range(1, k)
    ]
    return [*equations, f"L = (v_{{{k - 1}}} - t)^{{2}}"]


def wide_equations(k: int) -> list[str]:
    units = max(2, k // 2)
    equations = [
        f"h_{{{i}}} = \\tanh(w_{{{i}}} x + c_{{{i}}} y)" for i in range(1, units + 1)
    ]
    level = [f"h_{{{i}}}" for i in range(1, units + 1)]
    node = 0
    while len(level) > 1:
        merged = []
        for left, right in zip(level[::2], level[1::2], strict=False):
            node += 1
            equations.append(f"s_{{{node}}} = {left} + {right}")
            merged.append(f"s_{{{node}}}")
        level = merged + level[len(merged) * 2 :]
    return [*equations, f"L = {level[0]}^{{2}}"]


KINDS: dict[str, Callable[[int], list[str]]] = {
    "chain": chain_equations,
    "wide": wide_equations,
}


def document(kind: str, k: int) -> str:
    """A Markdown document: a heading, then one display equation per paragraph."""
    blocks = [f"$${eq}$$" for eq in KINDS[kind](k)]
    return f"# A {kind} of {k} equations\n\n" + "\n\n".join(blocks) + "\n"


# --- child processes


def _max_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: the
    latter keeps the forking parent's peak across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@contextlib.contextmanager
def _clock(times: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    times[name] = times.get(name, 0.0) + time.perf_counter() - start


class _Spy:
    """Replace `owner.name` by a wrapper adding up the seconds spent in it."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name = owner, name
        self.original = getattr(owner, name, None)
        self.seconds = 0.0
        self.calls = 0

    def __enter__(self) -> _Spy:
        original = self.original
        if original is None:
            return self

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        setattr(self.owner, self.name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.original is not None:
            setattr(self.owner, self.name, self.original)


def _stages(path: str, black_final: bool) -> dict[str, Any]:
    """Each stage of `eqcompiler compile` on one document, called directly."""
    start = time.perf_counter()
    import black

    # what the command line imports, timed here (the stages import them again)
    from eqcompiler import (  # noqa: F401
        backends,
        codegen,
        driver,
        formatting,
        lower,
        parse,
        source,
        verify,
    )

    times: dict[str, float] = {"imports": time.perf_counter() - start}
    rss_imports = _max_rss_mib()
    with driver.cycles_collected_after():  # as compile_document runs them
        result = _timed_stages(path, times, rss_imports)
    if black_final:
        # black alone on the module as written (without the `# fmt: off` line,
        # which would make black skip the rest of the file), as black runs
        plain = "".join(
            line
            for line in result.pop("module").splitlines(keepends=True)
            if line != "# fmt: off\n"
        )
        start = time.perf_counter()
        black.format_str(plain, mode=formatting.black_mode())
        result["black_final"] = time.perf_counter() - start
    result.pop("module", None)
    return result


def _timed_stages(
    path: str, times: dict[str, float], rss_imports: float
) -> dict[str, Any]:
    import hashlib

    import black

    from eqcompiler import codegen, driver
    from eqcompiler import parse as parsing
    from eqcompiler.backends import BACKENDS
    from eqcompiler.lower import Parsed, lower, read_notation, readings
    from eqcompiler.source import extract
    from eqcompiler.verify import verify

    text = Path(path).read_text(encoding="utf-8")
    with _clock(times, "extract"):
        doc = extract(text, path)
    with _clock(times, "parser build"):
        parsing.parser()
    with _clock(times, "parse"):
        parsed = [Parsed(block, parsing.parse(block)) for block in doc.blocks]
    with _clock(times, "lower"):
        notation = read_notation(parsed, doc.settings)
        statements = lower(parsed, notation)
        notes = readings(parsed, notation)
    loaded = driver.Loaded(doc, statements, notation, notes)
    options = driver.Options()
    with _clock(times, "program"):  # select, build (order, inputs), stabilize
        program = driver.program_of(loaded, options)
    backend = BACKENDS[driver.backend_of(loaded, options)]
    digest = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
    source = codegen.SourceInfo(Path(path).name, digest)
    # generate() = reverse sweep + rendering + black; the first and last are timed
    # where generate calls them, so the rendering is what remains.
    with _Spy(codegen, "reverse") as reverse, _Spy(black, "format_str") as formatter:
        with _clock(times, "generate"):
            module = codegen.generate(program, backend, source)
    times["reverse"] = reverse.seconds
    times["black"] = formatter.seconds
    times["emit"] = times.pop("generate") - reverse.seconds - formatter.seconds
    with _clock(times, "verify"):
        verify(statements, doc.text, loaded.style)
    result: dict[str, Any] = {
        "times": times,
        "reverse_timed": reverse.calls > 0,
        "black_calls": formatter.calls,
        "lines": module.count("\n"),
        "equations": len(statements),
        "rss_imports_mib": rss_imports,
        "rss_peak_mib": _max_rss_mib(),
        "module": module,
    }
    return result


def _sympy(path: str) -> dict[str, Any]:
    """The sympy pipeline: parse_latex each equation, differentiate it by each of
    its operands, lambdify each derivative."""
    text = Path(path).read_text(encoding="utf-8")
    equations = re.findall(r"\$\$(.+?)\$\$", text)
    import sympy
    from sympy.parsing.latex import parse_latex

    backend, note = "antlr", ""
    try:
        parse_latex(equations[0])
    except ImportError as error:
        backend, note = "lark", f"ANTLR parser unavailable ({error}); lark backend"
    times: dict[str, float] = {}
    parsed, failed = [], 0
    with _clock(times, "parse_latex"):
        for equation in equations:
            try:
                parsed.append(parse_latex(equation, backend=backend))
            except Exception:  # noqa: BLE001 - count what sympy cannot read
                failed += 1
    derivatives = []
    with _clock(times, "diff"):
        for relation in parsed:
            rhs = relation.rhs if isinstance(relation, sympy.Equality) else relation
            for symbol in sorted(rhs.free_symbols, key=str):
                derivatives.append(sympy.diff(rhs, symbol))
    with _clock(times, "lambdify"):
        for derivative in derivatives:
            sympy.lambdify(sorted(derivative.free_symbols, key=str), derivative, "math")
    return {
        "times": times,
        "backend": backend,
        "note": note,
        "failed": failed,
        "equations": len(equations),
        "derivatives": len(derivatives),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=("stages", "sympy"))
    parser.add_argument("doc")
    parser.add_argument("--black-final", action="store_true")
    args = parser.parse_args(argv)
    if args.what == "stages":
        result = _stages(args.doc, args.black_final)
    else:
        result = _sympy(args.doc)
    print(json.dumps(result))


# --- the parent's side


def child(args: list[str], timeout: float) -> dict[str, Any]:
    """Run `python -m benchmarks.compiler ARGS`; its JSON, or {"error": ...}."""
    command = [sys.executable, "-m", "benchmarks.compiler", *args]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {last}"}
    result = json.loads(done.stdout)
    # start to exit, less the extra measurement of black alone the child may make
    result["wall"] = wall - result.get("black_final", 0.0)
    return result


def process_seconds(
    command: list[str],
    cwd: Path,
    timeout: float,
    repeat: int,
    env: dict[str, str] | None = None,
) -> list[float] | str:
    """Wall-clock seconds of `repeat` runs of `command`, start to exit; or an error.
    `env` is added to this process's environment."""
    seconds = []
    environment = {**os.environ, **(env or {})}
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command, cwd=cwd, capture_output=True, timeout=timeout, env=environment
            )
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout:.0f} s"
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            return f"exit {done.returncode}: {(lines or ['no output'])[-1]}"
    return seconds


def compile_command(doc: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "eqcompiler",
        "compile",
        str(doc),
        "-o",
        str(out),
        "--quiet",
    ]


def small_document(repeat: int, timeout: float) -> dict[str, Any]:
    """`eqcompiler compile samples/backprop.md -o OUT`, start to exit: with the
    package byte-compiled, as `pip install .` installs it (the figure the target is
    about), and without bytecode, as an editable install runs it where
    PYTHONDONTWRITEBYTECODE is set (Python then compiles every module at each run)."""
    script = shutil.which("eqcompiler")
    head = [script] if script else [sys.executable, "-m", "eqcompiler"]
    out = Path("/tmp") / "eqcompiler-bench-small.py"
    command = [*head, "compile", "samples/backprop.md", "-o", str(out)]
    shown = " ".join(
        ["eqcompiler" if script else "python -m eqcompiler", *command[len(head) :]]
    )
    package = ROOT / "eqcompiler"
    for cache in package.rglob("__pycache__"):
        shutil.rmtree(cache)
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    plain = process_seconds(command, ROOT, timeout, repeat, env)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(package)],
        check=True,
        capture_output=True,
    )
    compiled = process_seconds(command, ROOT, timeout, repeat, env)
    for seconds in (compiled, plain):
        if isinstance(seconds, str):
            return {"command": shown, "error": seconds}
    return {
        "command": shown,
        "median": statistics.median(compiled),
        "runs": compiled,
        "uncompiled_median": statistics.median(plain),
        "uncompiled_runs": plain,
    }


def run(
    ks: list[int],
    workdir: Path,
    *,
    process_repeat: dict[int, int],
    timeout: float,
    sympy_k: int | None,
    sympy_timeout: float,
    black_final_max_k: int,
    cli_max_k: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every measurement of the compiler suite, as plain data for the report."""
    results: dict[str, Any] = {"kinds": {}, "ks": ks}

    def stages(doc: Path, k: int) -> dict[str, Any]:
        extra = ["--black-final"] if k <= black_final_max_k else []
        return child(["stages", str(doc), *extra], timeout)

    for kind in KINDS:
        rows: dict[int, dict[str, Any]] = {}
        for k in ks:
            doc = workdir / f"{kind}_{k}.md"
            doc.write_text(document(kind, k), encoding="utf-8")
            log(f"compiler: {kind} K={k}: stages")
            row: dict[str, Any] = {"stages": stages(doc, k)}
            if k <= cli_max_k:
                log(f"compiler: {kind} K={k}: as a process")
                seconds = process_seconds(
                    compile_command(doc, workdir / f"{kind}_{k}.py"),
                    workdir,
                    timeout,
                    process_repeat.get(k, 1),
                )
                if isinstance(seconds, str):
                    row["process_error"] = seconds
                else:
                    row["process"] = statistics.median(seconds)
                    row["process_runs"] = len(seconds)
            if k == sympy_k:
                log(f"compiler: {kind} K={k}: sympy")
                row["sympy"] = child(["sympy", str(doc)], sympy_timeout)
            rows[k] = row
        # the smaller documents again, after the largest: the machine's speed drifts
        # over the minutes the largest takes, and t(10,000) / t(1,000) compares
        # them; each smaller K's stages are the median of its two runs
        for k in ks[:-1]:
            log(f"compiler: {kind} K={k}: stages, again")
            again = stages(workdir / f"{kind}_{k}.md", k)
            rows[k]["stages"] = _median_stages([rows[k]["stages"], again])
        results["kinds"][kind] = rows
    return results


def _median_stages(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several stage-timing runs of one document as one: the median of each time,
    the largest peak memory; a run that failed is left out (all failed: the first)."""
    good = [run for run in runs if "times" in run]
    if not good:
        return runs[0]
    merged = dict(good[0], runs=len(good))
    merged["times"] = {
        stage: statistics.median(run["times"][stage] for run in good)
        for stage in good[0]["times"]
    }
    for key in ("wall", "black_final"):
        if all(key in run for run in good):
            merged[key] = statistics.median(run[key] for run in good)
    merged["rss_peak_mib"] = max(run["rss_peak_mib"] for run in good)
    return merged


if __name__ == "__main__":
    main()
