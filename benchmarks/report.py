"""The Markdown report (benchmarks/RESULTS.md): header, targets, then each suite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .generated import (
    AUTOGRAD,
    AUTOGRAD_FLOATS,
    CAREFUL,
    FORWARD,
    GENERATED,
    GENERATED_FORWARD,
    JAX_DEVICE,
    JAX_FLOATS,
    JAX_NUMPY,
    MATH,
    NAIVE,
    TORCH,
    TORCH_SCALAR,
    Comparison,
)
from .timing import format_seconds

NUMPY_ROWS = (
    FORWARD,
    GENERATED_FORWARD,
    GENERATED,
    CAREFUL,
    NAIVE,
    JAX_DEVICE,
    JAX_NUMPY,
    TORCH,
    AUTOGRAD,
)
MATH_PEERS = (TORCH_SCALAR, JAX_FLOATS, AUTOGRAD_FLOATS)
OWN_STAGES = (
    "parser build",
    "extract",
    "parse",
    "lower",
    "program",
    "reverse",
    "emit",
    "verify",
)
STAGE_LABELS = {
    "imports": "imports (eqcompiler, black, lark)",
    "parser build": "parser build (Lark grammar, once per process)",
    "extract": "extract (Markdown to math blocks)",
    "parse": "parse (every block)",
    "lower": "lower (notation, statements, readings)",
    "program": "program (select, build, stabilize)",
    "reverse": "reverse (adjoint sweep)",
    "emit": "emit (render the template, without black)",
    "verify": "verify (the document's claims)",
}


def _power(n: int) -> str:
    exponent = len(str(n)) - 1
    return f"10^{exponent}" if n == 10**exponent else f"{n:,}"


def _median(c: Comparison | None, name: str) -> float | None:
    if c is None or name not in c.timings:
        return None
    return c.timings[name].median


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or bottom is None or bottom == 0 else top / bottom


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "**pass**" if ok else "**FAIL**"


def _x(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _gen_careful(c: Comparison | None) -> float | None:
    return _ratio(_median(c, GENERATED), _median(c, CAREFUL))


def _jax_best(c: Comparison | None) -> float | None:
    found = [
        m for m in (_median(c, JAX_DEVICE), _median(c, JAX_NUMPY)) if m is not None
    ]
    return min(found) if found else None


# --- targets


def _targets(results: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, str, bool | None]] = []
    numpy = results.get("numpy")
    if numpy:
        for label, by_n in numpy["by_doc"].items():
            parts, oks = [], []
            for n in (10**6, 10**4):
                r = _ratio(
                    _median(by_n.get(n), GENERATED), _median(by_n.get(n), CAREFUL)
                )
                parts.append(f"N={_power(n)}: {_x(r)}")
                oks.append(None if r is None else r <= 1.1)
            rows.append(
                (
                    f"numpy `value_and_grad` ≤ 1.1 × careful hand-written, {label}",
                    ", ".join(parts),
                    _all(oks),
                )
            )
        for label, by_n in numpy["by_doc"].items():
            worst: tuple[float, str] | None = None
            oks = []
            for n, c in by_n.items():
                gen = _median(c, GENERATED)
                for peer, t in (
                    ("jax.jit", _jax_best(c)),
                    ("torch", _median(c, TORCH)),
                    ("autograd", _median(c, AUTOGRAD)),
                ):
                    r = _ratio(gen, t)
                    if r is None:
                        continue
                    oks.append(r < 1.0)
                    if worst is None or r > worst[0]:
                        worst = (r, f"{peer}, N={_power(n)}")
            measured = (
                "n/a"
                if worst is None
                else f"worst generated/peer {worst[0]:.2f} ({worst[1]})"
            )
            rows.append(
                (
                    f"numpy ahead of jax.jit, torch, autograd at every N, {label}",
                    measured,
                    _all(oks),
                )
            )
    math = results.get("math")
    if math:
        for label, c in math["by_doc"].items():
            gen = _median(c, GENERATED)
            hand = _ratio(gen, _median(c, MATH))
            torch = _ratio(_median(c, TORCH_SCALAR), gen)
            jax = _ratio(_median(c, JAX_FLOATS), gen)
            rows.append(
                (
                    f"math ≤ 1.2 × hand-written math (NamedTuple), {label}",
                    _x(hand),
                    None if hand is None else hand <= 1.2,
                )
            )
            rows.append(
                (
                    f"math ≥ 100× faster than torch 0-d and jitted JAX, {label}",
                    f"torch {_x(torch, 0)}×, jax {_x(jax, 0)}×",
                    _all([None if r is None else r >= 100 for r in (torch, jax)]),
                )
            )
    compiler = results.get("compiler")
    if compiler:
        for kind, by_k in compiler["kinds"].items():
            big, small = _pipeline(by_k.get(10_000)), _pipeline(by_k.get(1_000))
            r = _ratio(big, small)
            process = _ratio(
                ((by_k.get(10_000) or {}).get("stages") or {}).get("wall"),
                ((by_k.get(1_000) or {}).get("stages") or {}).get("wall"),
            )
            rows.append(
                (
                    f"compile time t(10,000)/t(1,000) ≤ 12, {kind}",
                    f"in-process total {_x(r)}; process wall {_x(process)}",
                    None if r is None else r <= 12,
                )
            )
        for kind, by_k in compiler["kinds"].items():
            parts, oks = [], []
            for k, row in by_k.items():
                times = row["stages"].get("times")
                if not times:
                    continue
                own, black = _own(times), times.get("black", 0.0)
                parser = times.get("parser build", 0.0)
                parts.append(
                    f"K={k:,}: {own:.2f} s ({parser:.2f} of it the parser build) "
                    f"vs {black:.2f} s"
                )
                oks.append(own < black)
            rows.append(
                (
                    f"eqcompiler's own stages faster than black at every K, {kind}",
                    "; ".join(parts) or "n/a",
                    _all(oks),
                )
            )
        small = compiler.get("small", {})
        median = small.get("median")
        rows.append(
            (
                "small document as a process ≤ 0.5 s",
                small.get("error") or f"{median:.2f} s",
                None if median is None else median <= 0.5,
            )
        )
    lines = ["| target | measured (same run) | result |", "| --- | --- | --- |"]
    lines += [f"| {t} | {m} | {_verdict(ok)} |" for t, m, ok in rows]
    return lines


def _all(oks: list[bool | None]) -> bool | None:
    """False if any failed, True if all were measured and passed, else None."""
    if any(ok is False for ok in oks):
        return False
    return True if oks and all(ok is not None for ok in oks) else None


def _own(times: dict[str, float]) -> float:
    return sum(times.get(stage, 0.0) for stage in OWN_STAGES)


def _pipeline(row: dict[str, Any] | None) -> float | None:
    """In-process compile time: every stage but the imports."""
    if not row or "times" not in row["stages"]:
        return None
    times = row["stages"]["times"]
    return _own(times) + times.get("black", 0.0)


# --- sections


def _header(context: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in context["versions"].items())
    memory = context["memory_gib"]
    load = " / ".join(f"{x:.2f}" for x in context["load_start"])
    load_end = " / ".join(f"{x:.2f}" for x in context["load_end"])
    return [
        "# eqcompiler benchmarks",
        "",
        f"Written by `{context['command'].strip()}` on {context['date']}"
        f"{' (--quick: fewer rounds, K = 100 only)' if context['quick'] else ''}, "
        f"in {context['duration']:.0f} s.",
        "",
        f"- Machine: {context['cpu']}, {context['cores']} cores"
        + (f", {memory:.0f} GiB" if memory else "")
        + f"; load average (1/5/15 min) {load} at the start, {load_end} at the end.",
        f"- Python {context['python']}; {versions}.",
        f"- BLAS: {context['blas']}. {context['blas_env']}.",
        f"- Threads: {context['threads']}.",
        f"- Allocator: {context['allocator']}.",
        "- Method: candidates of one comparison run interleaved in one process, their "
        "order rotating each round; each figure is the median over rounds of the time "
        "per call; ratios are of medians from the same run. Every candidate's value and "
        "gradients were checked against the generated module (np.allclose, same shapes) "
        "before timing; one that disagreed is listed under Notes and not timed.",
        "",
    ]


def _numpy_section(numpy: dict[str, Any], docs: list[Any]) -> list[str]:
    sizes = numpy["sizes"]
    lines = [
        "## Generated code, numpy backend",
        "",
        "Ratio to the hand-written numpy forward alone (median time per call in "
        f"parentheses), {numpy['rounds']} rounds. Data inputs are arrays of N float64, "
        "parameters Python floats; gradients of sum(output) with respect to every "
        "input the generated `Gradients` lists.",
        "",
    ]
    paths = {doc.label: doc.path for doc in docs}
    for label, by_n in numpy["by_doc"].items():
        lines += [f"### {label} (`{_short(paths.get(label))}`)", ""]
        lines.append(
            "| candidate | " + " | ".join(f"N = {_power(n)}" for n in sizes) + " |"
        )
        lines.append("| --- |" + " --- |" * len(sizes))
        for name in NUMPY_ROWS:
            cells = []
            for n in sizes:
                c = by_n.get(n)
                t, base = _median(c, name), _median(c, FORWARD)
                r = _ratio(t, base)
                cells.append("-" if t is None else f"{_x(r)} ({format_seconds(t)})")
            if any(cell != "-" for cell in cells):
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
        gen_careful = [
            _x(_ratio(_median(by_n.get(n), GENERATED), _median(by_n.get(n), CAREFUL)))
            for n in sizes
        ]
        lines.append("| *generated / careful* | " + " | ".join(gen_careful) + " |")
        firsts = []
        for n in sizes:
            c = by_n.get(n)
            if c and c.first_calls:
                shown = ", ".join(
                    f"{'device' if k == JAX_DEVICE else 'numpy'} {v:.2f} s"
                    for k, v in c.first_calls.items()
                )
                firsts.append(f"N={_power(n)}: {shown}")
        if firsts:
            lines += [
                "",
                "jax.jit first call (trace + compile): " + "; ".join(firsts) + ".",
            ]
        lines.append("")
    twins = [numpy["by_doc"].get(label) for label in ("seed", "backprop")]
    if all(twins):
        pairs = ", ".join(
            f"{_x(_gen_careful(twins[0].get(n)))} and "
            f"{_x(_gen_careful(twins[1].get(n)))} at N={_power(n)}"
            for n in sizes
        )
        lines += [
            "The seed and samples/backprop.md compile to the same program, so the "
            f"difference between their generated/careful ratios ({pairs}) is this "
            "run's noise.",
            "",
        ]
    default = numpy.get("default_allocator")
    if default is not None:
        lines += _default_allocator(default)
    return lines


def _default_allocator(default: dict[int, dict[str, float]] | str) -> list[str]:
    lines = [
        "### seed, glibc's default malloc policy",
        "",
        "Each candidate alone in a fresh process that leaves malloc alone (what a user "
        "calling it in a loop gets): freed temporaries at the top of the heap are "
        "trimmed back to the system, large ones are fresh mmap'ed pages, and calls "
        "page-fault. Ratio to the hand-written forward in its own process.",
        "",
    ]
    if isinstance(default, str):
        return [*lines, f"Not measured: {default}.", ""]
    sizes = sorted(default, reverse=True)
    lines.append(
        "| candidate | " + " | ".join(f"N = {_power(n)}" for n in sizes) + " |"
    )
    lines.append("| --- |" + " --- |" * len(sizes))
    for name in (FORWARD, GENERATED_FORWARD, GENERATED, CAREFUL, NAIVE):
        cells = []
        for n in sizes:
            t, base = default[n].get(name), default[n].get(FORWARD)
            cells.append(
                "-" if t is None else f"{_x(_ratio(t, base))} ({format_seconds(t)})"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _math_section(math: dict[str, Any]) -> list[str]:
    lines = [
        "## Generated code, math backend (Python floats)",
        "",
        f"µs per call, median of {math['rounds']} rounds. Peers get their best case: "
        "PyTorch's 0-d tensors are made once, outside the timing; jax.jit takes the "
        "floats and its results are converted with np.asarray.",
        "",
        "| document | generated | hand-written math | generated / hand-written | "
        + " | ".join(f"{p} (× generated)" for p in MATH_PEERS)
        + " |",
        "| --- |" + " --- |" * (3 + len(MATH_PEERS)),
    ]
    by_doc = math["by_doc"]
    for label, c in by_doc.items():
        gen, hand = _median(c, GENERATED), _median(c, MATH)
        cells = [_us(gen), _us(hand), _x(_ratio(gen, hand))]
        for peer in MATH_PEERS:
            t = _median(c, peer)
            cells.append("-" if t is None else f"{_us(t)} ({_x(_ratio(t, gen), 0)}×)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    if "seed" in by_doc and "backprop" in by_doc:
        twins = [
            _ratio(_median(by_doc[k], GENERATED), _median(by_doc[k], MATH))
            for k in ("seed", "backprop")
        ]
        lines += [
            f"The seed and backprop rows are the same program: {_x(twins[0])} and "
            f"{_x(twins[1])} show this run's noise.",
            "",
        ]
    return lines


def _us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:.2f}"


def _compiler_section(compiler: dict[str, Any]) -> list[str]:
    ks = compiler["ks"]
    lines = [
        "## Compiler",
        "",
        "Synthetic documents of K equations. *chain*: "
        "`v_{i} = \\tanh(a_{i} v_{i-1} + b_{i})`, then `L = (v_{K-1} - t)^{2}`. *wide*: "
        "K/2 units `h_{i} = \\tanh(w_{i} x + c_{i} y)` from the shared x and y, summed "
        "pairwise in a tree of `s_{j}`, then `L = s^{2}`. Stages are timed by calling "
        "the pipeline's functions in a fresh process (`python -m benchmarks.compiler "
        "stages DOC`); reverse and black are timed where `codegen.generate` calls them, "
        "emit is the rest of generate. Each K but the largest is timed twice, before "
        "and after the largest (the machine's speed drifts meanwhile), and its stages "
        "are the median of the two. The command line's own process (start to "
        "exit; median of 3 at K = 100, one run above) runs up to --cli-max-k; above "
        "it, the stage-timing process, which does the same work (imports, parser, "
        "every stage, black), stands for it, also in the targets' process ratio.",
        "",
    ]
    for kind, by_k in compiler["kinds"].items():
        lines += [f"### {kind}", "", *_stage_table(by_k, ks), ""]
        sympy_rows = [(k, r["sympy"]) for k, r in by_k.items() if "sympy" in r]
        for k, sympy in sympy_rows:
            if "error" in sympy:
                lines += [f"sympy pipeline at K = {k:,}: {sympy['error']}.", ""]
                continue
            t = sympy["times"]
            total = sum(t.values())
            lines.append(
                f"sympy pipeline at K = {k:,} ({sympy['backend']} `parse_latex`, "
                f"{sympy['failed']} of {sympy['equations']} lines unparsed; "
                f"{sympy['derivatives']} derivatives): parse_latex {_sec(t['parse_latex'])}, "
                f"diff {_sec(t['diff'])}, lambdify {_sec(t['lambdify'])}, total "
                f"{_sec(total)} against eqcompiler's {_sec(_pipeline(by_k[k]))} in process"
                f"{'; ' + sympy['note'] if sympy['note'] else ''}."
            )
            lines.append("")
    small = compiler.get("small")
    if small:
        if "error" in small:
            lines += [f"Small document: `{small['command']}`: {small['error']}.", ""]
        else:
            runs = ", ".join(f"{s:.2f}" for s in small["runs"])
            lines += [
                f"Small document as a process: `{small['command']}`, median "
                f"{small['median']:.2f} s of {len(small['runs'])} runs ({runs} s), "
                "the package byte-compiled as `pip install .` installs it.",
            ]
            if "uncompiled_median" in small:
                plain = ", ".join(f"{s:.2f}" for s in small["uncompiled_runs"])
                lines.append(
                    f"Without bytecode (an editable install with "
                    f"PYTHONDONTWRITEBYTECODE=1: Python compiles each module at "
                    f"every run): median {small['uncompiled_median']:.2f} s ({plain} s)."
                )
            lines.append("")
    return lines


Cell = Callable[[dict[str, Any], dict[str, Any]], str]


def _stage_rows() -> list[tuple[str, Cell]]:
    """Each row of a compiler table: its label, and its cell from (stages, row)."""
    rows: list[tuple[str, Cell]] = [
        ("equations / lines of output", lambda s, _: f"{s['equations']} / {s['lines']}")
    ]
    for stage, label in STAGE_LABELS.items():
        rows.append((label, lambda s, _, st=stage: _sec(s["times"].get(st))))
    rows += [
        (
            "**eqcompiler's own stages** (all above but imports)",
            lambda s, _: _sec(_own(s["times"])),
        ),
        (
            "**black** (format_str inside generate)",
            lambda s, _: _sec(s["times"].get("black")),
        ),
        ("black alone on the final module", lambda s, _: _sec(s.get("black_final"))),
        ("in-process total (own + black)", lambda s, r: _sec(_pipeline(r))),
        (
            "`python -m eqcompiler compile DOC -o OUT --quiet`, process wall",
            lambda s, r: (
                _sec(r["process"])
                if "process" in r
                else r.get("process_error", "not run")
            ),
        ),
        (
            "the stage-timing process, wall (start to exit, less black alone)",
            lambda s, _: _sec(s.get("wall")),
        ),
        (
            "peak RSS, MiB (after imports)",
            lambda s, _: f"{s['rss_peak_mib']:.0f} ({s['rss_imports_mib']:.0f})",
        ),
    ]
    return rows


def _stage_table(by_k: dict[int, dict[str, Any]], ks: list[int]) -> list[str]:
    lines = [
        "| seconds | " + " | ".join(f"K = {k:,}" for k in ks) + " |",
        "| --- |" + " --- |" * len(ks),
    ]
    for label, cell in _stage_rows():
        cells = []
        for k in ks:
            row = by_k[k]
            stages = row["stages"]
            if "times" in stages:
                cells.append(cell(stages, row))
            else:
                cells.append(stages.get("error", "-"))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _sec(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _short(path: Any) -> str:
    if path is None:
        return "?"
    parts = str(path).split("/")
    return "/".join(parts[-3:]) if "shared" in parts else "/".join(parts[-2:])


def render(context: dict[str, Any], results: dict[str, Any], notes: list[str]) -> str:
    lines = _header(context)
    lines += ["## Targets", "", *_targets(results), ""]
    if "numpy" in results:
        lines += _numpy_section(results["numpy"], results["documents"])
    if "math" in results:
        lines += _math_section(results["math"])
    if "compiler" in results:
        lines += _compiler_section(results["compiler"])
    all_notes = list(notes)
    for suite in ("numpy", "math"):
        if suite not in results:
            continue
        for label, value in results[suite]["by_doc"].items():
            comparisons = value.values() if isinstance(value, dict) else [value]
            for c in comparisons:
                all_notes += [f"{suite}, {label}: {note}" for note in c.notes]
    if all_notes:
        lines += [
            "## Notes",
            "",
            *[f"- {note}" for note in dict.fromkeys(all_notes)],
            "",
        ]
    return "\n".join(lines)
