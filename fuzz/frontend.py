"""Front-end fuzzing: mutated and random documents through the whole pipeline.

Every input must end in one of the allowed outcomes: success (a module that is valid
Python and imports nothing but its backend), a located error (`EqError` /
`EqErrors`, exit 1) or a usage error (`UsageError`, exit 2). Anything else is a
crash: another exception (a traceback at the command line, exit 3), a
`RecursionError`, an input that takes longer than the time limit (a hang), or a
module that does not compile.

Inputs are realistic documents (samples/, tests/docs/, tests/cases/, documents of
`fuzz/programs.py`) changed by `mutate`: deleted, duplicated and injected characters,
braces, `$`, `&`, `\\\\`, unknown commands, unicode, NUL bytes, huge numbers, deep
nesting, front matter, line endings, splices of other documents; and documents of
random tokens.

    python fuzz/frontend.py random  --inputs 1000000 --seed 1
    python fuzz/frontend.py atheris --inputs 1000000      # coverage-guided (atheris)
    python fuzz/frontend.py stress                        # huge and deep documents
    python fuzz/frontend.py replay fuzz/crashes/*.md      # run saved crash inputs

Most inputs run in process through extract, parse, lower, build, stabilize, reverse
and code generation without black (fast, and the unformatted module must still be
valid Python); a sample runs the full `compile_document` (black, claims checked) and
checks that the module is black-stable, deterministic and importable, and runs it.
Each new kind of crash is saved to fuzz/crashes/ with its traceback. The summary at
the end is what fuzz/RESULTS.md records.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzz.checks import (  # noqa: E402
    Timeout,
    backend_of_module,
    module_problem,
    time_limit,
)

CRASHES = ROOT / "fuzz" / "crashes"

# ---- what the pipeline may do -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one input ended: ok, located, usage, or crash / slow / broken."""

    kind: str
    detail: str = ""
    signature: str = ""

    @property
    def bad(self) -> bool:
        return self.kind in ("crash", "slow", "broken")


@dataclasses.dataclass(frozen=True)
class Mode:
    """How far one input goes through the pipeline."""

    backend: str | None = None  # None: as the document says (default numpy)
    output: str | None = None
    wrt: tuple[str, ...] | None = None
    black: bool = False  # full compile_document (black, claims) and module checks
    run: bool = False  # also import and call the generated module
    explain: bool = False  # also explain and graph the program


@contextlib.contextmanager
def _without_black() -> Iterator[None]:
    """Generate modules without formatting them (fast); they must still be Python."""
    from eqcompiler import codegen

    original = codegen.format_python
    codegen.format_python = lambda text: text
    try:
        yield
    finally:
        codegen.format_python = original


def run_pipeline(text: str, mode: Mode, path: str = "doc.md") -> str:
    """The generated module for `text`; raises what the pipeline raises."""
    from eqcompiler.driver import Options, compile_document

    options = Options(backend=mode.backend, output=mode.output, wrt=mode.wrt)
    if mode.black:
        module = compile_document(text, path, options, path).module
    else:
        from eqcompiler.backends import BACKENDS
        from eqcompiler.codegen import SourceInfo, generate
        from eqcompiler.driver import backend_of, load, program_of

        with _without_black():
            loaded = load(text, path)
            program = program_of(loaded, options)
            backend = BACKENDS[backend_of(loaded, options)]
            module = generate(program, backend, SourceInfo(path, "0" * 64))
    if mode.explain:
        _explain_and_graph(text, mode, path)
    return module


def _explain_and_graph(text: str, mode: Mode, path: str) -> None:
    from eqcompiler.diagram import dot_source
    from eqcompiler.driver import Options, load, program_of
    from eqcompiler.explain import explain

    loaded = load(text, path)
    program = program_of(loaded, Options(output=mode.output, wrt=mode.wrt))
    settings = loaded.document.settings
    declarations = {"functions": settings.functions, "variables": settings.variables}
    explain(program, loaded.style, path, declarations)
    dot_source(program, loaded.style)


def run_module(module: str, rng: random.Random) -> str | None:
    """Import `module` and call it at a random point; what went wrong, or None."""
    namespace: dict = {"__name__": "generated_fuzz"}
    try:
        exec(compile(module, "<generated>", "exec"), namespace)
    except Exception as problem:  # noqa: BLE001
        return f"import failed: {type(problem).__name__}: {problem}"
    forward = namespace["forward"]
    names = forward.__code__.co_varnames[: forward.__code__.co_argcount]
    point = {name: rng.uniform(0.1, 2.0) for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value, gradients = namespace["value_and_grad"](**point)
            again = forward(**point)
            namespace["backward"](**point)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None  # the math backend outside a function's domain
        except Exception as problem:  # noqa: BLE001
            return f"calling it failed: {type(problem).__name__}: {problem}"
    try:
        same = (math.isnan(float(value)) and math.isnan(float(again))) or float(
            value
        ) == float(again)
    except (TypeError, ValueError):
        return f"value is not a number: {value!r}"
    if not same:
        return f"forward and value_and_grad disagree: {again!r} != {value!r}"
    if tuple(type(gradients)._fields) != tuple(
        n for n in names if n in type(gradients)._fields
    ):
        return f"gradient fields out of input order: {type(gradients)._fields}"
    for name, gradient in zip(type(gradients)._fields, gradients, strict=True):
        if isinstance(gradient, complex) or getattr(gradient, "dtype", None) in (
            "complex64",
            "complex128",
        ):
            return f"gradient is not a real number: {name}={gradient!r}"
    return None


# twice the slowest measured: 4,000 short equations (170 kB) compile in 8 s
SECONDS_PER_BYTE = 1e-4


def classify(
    text: str, mode: Mode, time_limit_s: float = 10.0, rng: random.Random | None = None
) -> Outcome:
    """Run one input and say how it ended.

    The time limit grows with the input: a document of short equations compiles
    at about 50 µs a byte, so a mutation that grows a document to a megabyte is
    slow, not hung; it gets `time_limit_s` plus 100 µs a byte for each pass over
    it (a full compile runs twice to check determinism; explaining is another).
    """
    from eqcompiler.errors import EqError, EqErrors, UsageError

    rng = rng or random.Random(0)
    passes = 1 + mode.black + mode.explain  # a full compile runs twice
    limit = time_limit_s + SECONDS_PER_BYTE * passes * len(text)
    try:
        with time_limit(limit):
            module = run_pipeline(text, mode)
            backend = backend_of_module(module)
            problem = module_problem(module, backend, formatted=mode.black)
            if problem is None and mode.black:
                if run_pipeline(text, mode) != module:
                    problem = "compiling twice gives different bytes"
            if problem is None and mode.run:
                problem = run_module(module, rng)
    except (EqError, EqErrors) as error:
        return Outcome("located", str(error).split("\n")[0])
    except UsageError as error:
        return Outcome("usage", str(error))
    except Timeout as error:
        return Outcome("slow", f"{error} ({len(text):,} characters)", "Timeout")
    except Exception as error:  # noqa: BLE001 - anything else is a crash
        return Outcome("crash", _describe(error), _signature(error))
    if problem is not None:
        return Outcome("broken", problem, "broken: " + problem.split(":")[0])
    return Outcome("ok")


def _describe(error: BaseException) -> str:
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    text = "".join(lines)
    return text[-4000:]


def _signature(error: BaseException) -> str:
    """The kind of a crash: the exception and the innermost eqcompiler frame."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "eqcompiler" in f.filename]
    where = f"{Path(ours[-1].filename).name}:{ours[-1].name}" if ours else "?"
    return f"{type(error).__name__} at {where}"


# ---- inputs ----------------------------------------------------------------------------


def seeds() -> list[str]:
    """Realistic documents: the samples, the test documents, random programs."""
    texts = []
    for pattern in (
        "samples/*.md",
        "tests/cases/*.md",
        "tests/docs/*.md",
        "tests/docs/invalid/*",
        "tests/seed/*.md",
    ):
        for path in sorted(ROOT.glob(pattern)):
            if path.is_file():
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
    texts += EXTRA_SEEDS
    try:
        from fuzz.programs import random_program
    except ImportError:  # programs.py not there yet
        return texts
    rng = random.Random(20261128)
    for _ in range(40):
        texts.append(random_program(rng).document)
    return texts


EXTRA_SEEDS = [
    "",
    "\n",
    "$$y = x$$\n",
    "---\noutput: y\nwrt: [x]\nbackend: math\n---\n$$u = 2x$$\n$$y = u^{2}$$\n",
    "\\[ a = b + c \\]\n",
    "```math\nh = \\tanh(W x + b)\n```\n",
    "$$\n\\begin{align}\nu &= wx \\\\\nv &= u + b \\\\\n\\ell &= (v - y^{*})^{2}\n\\end{align}\n$$\n",
    "$$\\frac{\\partial \\ell}{\\partial w} = 2(y - y^{*}) x$$\n$$\\ell = (wx - y^{*})^{2}$$\n",
    "$$f(x, y) = x^{y} + \\log_{2} x$$\n",
    "$$p = \\sigma(z), \\quad L = -(t \\log p + (1 - t) \\log(1 - p)).$$\n",
    "$$y = \\max(0, z) + |a| + \\mathbb{1}(z > 0) b$$\n",
    "\\documentclass{article}\n\\begin{document}\n\\begin{equation}\ny = \\sin x\n\\end{equation}\n\\end{document}\n",
]

SPECIAL = list("{}()[]$&\\^_|,;.=+-*/'!:<>~%#@ \t\n0123456789")
TOKENS = [
    "\\frac",
    "\\frac{",
    "\\sqrt",
    "\\sqrt[",
    "\\left(",
    "\\right)",
    "\\left|",
    "\\right|",
    "\\lvert",
    "\\rvert",
    "\\begin{align}",
    "\\end{align}",
    "\\begin{aligned}",
    "\\end{aligned}",
    "\\begin{split}",
    "\\begin{cases}",
    "\\end{matrix}",
    "\\\\",
    "&",
    "&=",
    "$",
    "$$",
    "\\[",
    "\\]",
    "\\(",
    "\\)",
    "```math\n",
    "```\n",
    "\n---\n",
    "\\unknown",
    "\\foo{x}",
    "\\text{",
    "\\text{and}",
    "\\mathrm{",
    "\\operatorname{",
    "\\operatorname{foo}",
    "^{",
    "_{",
    "^",
    "_",
    "'",
    "^{*}",
    "^{(i)}",
    "\\hat{",
    "\\partial",
    "\\frac{\\partial y}{\\partial x}",
    "d",
    "\\sigma",
    "e^{",
    "e",
    "\\pi",
    "\\log",
    "\\log_{2}",
    "\\exp",
    "\\max(",
    "\\min(",
    "\\mathbb{1}(",
    "\\sin^{-1}",
    "\\tanh",
    "|",
    ">",
    "\\ge",
    ":=",
    "\\gets",
    "=",
    "==",
    "\\quad",
    "\\qquad",
    ",\\quad",
    ";",
    "\\label{eq}",
    "\\tag{1}",
    "\\nonumber",
    "%",
    "\\,",
    "\\!",
    "\\displaystyle",
    "\\cdot",
    "\\times",
    "\\lambda",
    "\\ell",
    "\\alpha",
    "f(x, y) = ",
    "x(",
    "(1 - x)",
    "y = ",
    "\\begin{",
    "\\end{",
    "}{",
    "\\\\[2pt]",
    "\\implies",
    "\\text{ where }",
    "1e400",
    "0.",
    ".5",
    "\\\\\\\\",
    "\\$",
    "\\{",
    "\\}",
    "\\text{Gradients}",
    "\\mathrm{float}",
    "\\text{value_and_grad}",
    "\\mathrm{np}",
    "\\mathrm{math}",
    "\\mathrm{max}",
    "\\hat 1",
    "\\mathrm{2x}",
    "\\mathrm{t_1}",
    "\\mathrm{d_x}",
]
UNICODE = [
    "é",
    "−",
    "×",
    "·",
    "∂",
    "σ",
    "α",
    "𝑥",
    "😀",
    "\u200b",
    "\u200d",
    "\u202e",
    "\u0301",
    "\ufeff",
    "\ufffd",
    "\u2028",
    "\u00a0",
    "\x00",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x7f",
    "\r",
    "\r\n",
    "中",
    "ℓ",
    "½",
    "²",
    "\U0010ffff",
]
FRONT_MATTER = [
    "---\noutput: y\n---\n",
    "---\noutput: [1, 2]\n---\n",
    "---\nwrt: x\n---\n",
    "---\nwrt: [nope]\n---\n",
    "---\ninputs: [b, a]\n---\n",
    "---\nbackend: fortran\n---\n",
    "---\nbackend: math\n---\n",
    "---\nvariables: ['\\sigma', e]\n---\n",
    "---\nfunctions: [f]\n---\n",
    "---\n: : :\n---\n",
    "---\n[unclosed\n---\n",
    "---\n- a\n- b\n---\n",
    "---\neqcompiler:\n  output: u\n---\n",
    "---\ntitle: x\n---\n",
    "---\n",
    "---\noutput: !!python/object:os.system ls\n---\n",
    "---\n&a [*a]\n---\n",
]


def _huge_number(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return "1" + "0" * rng.randrange(300, 700)
    if kind == 1:
        return "9" * rng.randrange(15, 40)
    if kind == 2:
        return "0." + "0" * rng.randrange(300, 700) + "1"
    if kind == 3:
        return "1" + "0" * rng.randrange(300, 400) + "." + "5" * rng.randrange(1, 50)
    return rng.choice(["10^{400}", "e^{1000}", "2^{10000}", "10^{-400}", "x^{1e3}"])


def _nest(rng: random.Random, inner: str, depth: int) -> str:
    pairs = [
        ("(", ")"),
        ("{", "}"),
        ("[", "]"),
        ("\\left(", "\\right)"),
        ("\\frac{1}{", "}"),
        ("\\sqrt{", "}"),
        ("e^{", "}"),
        ("\\sin(", ")"),
        ("|", "|"),
        ("-", ""),
        ("x + ", ""),
        ("x \\cdot ", ""),
    ]
    opener, closer = rng.choice(pairs)
    return opener * depth + inner + closer * depth


def _randomstring(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        pick = rng.random()
        if pick < 0.4:
            out.append(rng.choice(SPECIAL))
        elif pick < 0.7:
            out.append(rng.choice("abcdexyzwuvtABLW"))
        elif pick < 0.9:
            out.append(rng.choice(TOKENS))
        else:
            code = rng.randrange(0x110000)
            if 0xD800 <= code < 0xE000:
                code = 0xFFFD
            out.append(chr(code))
    return "".join(out)


def mutate(text: str, rng: random.Random, others: list[str] | None = None) -> str:
    """`text` with 1 to 4 random changes."""
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        text = _mutate_once(text, rng, others or [])
    return text


def _mutate_once(text: str, rng: random.Random, others: list[str]) -> str:
    n = len(text)
    at = rng.randrange(n + 1)
    pick = rng.randrange(22)
    if pick == 0 and n:  # delete a character
        return text[:at] + text[at + 1 :]
    if pick == 1 and n:  # delete a range
        end = min(n, at + rng.randrange(1, 40))
        return text[:at] + text[end:]
    if pick == 2 and n:  # duplicate a range
        end = min(n, at + rng.randrange(1, 40))
        return text[:end] + text[at:end] + text[end:]
    if pick in (3, 4):  # inject a special character
        return text[:at] + rng.choice(SPECIAL) + text[at:]
    if pick in (5, 6, 7):  # inject a LaTeX token
        return text[:at] + rng.choice(TOKENS) + text[at:]
    if pick == 8:  # inject unicode or a NUL byte
        return text[:at] + rng.choice(UNICODE) + text[at:]
    if pick == 9:  # a huge number
        return text[:at] + _huge_number(rng) + text[at:]
    if pick == 10 and n:  # nest a range
        end = min(n, at + rng.randrange(1, 20))
        depth = rng.choice((2, 5, 20, 100, 300, 1000))
        return text[:at] + _nest(rng, text[at:end], depth) + text[end:]
    if pick == 11 and others:  # splice in part of another document
        other = rng.choice(others)
        if other:
            start = rng.randrange(len(other))
            piece = other[start : start + rng.randrange(1, 200)]
            return text[:at] + piece + text[at:]
    lines = text.split("\n")
    if pick == 12 and len(lines) > 1:  # swap two lines
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines)
    if pick == 13 and lines:  # repeat a line
        i = rng.randrange(len(lines))
        lines[i : i + 1] = [lines[i]] * rng.choice((2, 3, 10, 100))
        return "\n".join(lines)
    if pick == 14:  # line endings, BOM, tabs
        return rng.choice(
            [
                text.replace("\n", "\r\n"),
                text.replace("\n", "\r"),
                "\ufeff" + text,
                text.replace(" ", "\t"),
                text.replace("\n", "\n\n"),
            ]
        )
    if pick == 15:  # front matter
        return rng.choice(FRONT_MATTER) + text
    if pick == 16:  # dollars
        return rng.choice(
            [
                text.replace("$$", "$", 1),
                text.replace("$$", "$$$", 1),
                text.replace("$$", "", 1),
                text[:at] + "$$" + text[at:],
                text[:at] + "\n$$\n" + text[at:],
            ]
        )
    if pick == 17:  # rename a command
        index = text.find("\\", at)
        if index >= 0:
            end = index + 1
            while end < n and text[end].isalpha():
                end += 1
            name = rng.choice(["\\frak", "\\foo", "\\", "\\sigmoid", "\\mathcal"])
            return text[:index] + name + text[end:]
    if pick == 18 and n:  # truncate
        return text[:at]
    if pick == 19:  # random garbage
        return text[:at] + _randomstring(rng, rng.randrange(1, 20)) + text[at:]
    if pick == 20 and n:  # replace a character by a brace or separator
        return text[:at] + rng.choice("{}()&|$\\^_") + text[at + 1 :]
    if pick == 21:  # an environment around a range
        env = rng.choice(["align", "aligned", "split", "gather", "equation*", "foo"])
        end = min(n, at + rng.randrange(1, 80))
        return (
            text[:at]
            + f"\\begin{{{env}}}"
            + text[at:end]
            + f"\\end{{{rng.choice([env, 'align'])}}}"
            + text[end:]
        )
    return text[:at] + rng.choice(TOKENS) + text[at:]


def random_document(rng: random.Random) -> str:
    """A document of random tokens in display math (or none)."""
    parts = []
    for _ in range(rng.randrange(1, 5)):
        body = _randomstring(rng, rng.randrange(1, 40))
        parts.append(
            rng.choice(["$$%s$$\n", "\\[%s\\]\n", "```math\n%s\n```\n", "%s\n"]) % body
        )
    return "".join(parts)


def random_mode(rng: random.Random, text: str, black_rate: float) -> Mode:
    backend = rng.choice([None, None, "numpy", "math"])
    output = wrt = None
    if rng.random() < 0.1:
        output = rng.choice(["y", "L", "ell", "u", "\\ell", "nope", "y@3", ""])
    if rng.random() < 0.1:
        wrt = tuple(
            rng.sample(["x", "w", "b", "z", "y_star", "nope"], rng.randrange(1, 3))
        )
    black = rng.random() < black_rate
    return Mode(
        backend=backend,
        output=output,
        wrt=wrt,
        black=black,
        run=black and rng.random() < 0.5,
        explain=rng.random() < 0.05,
    )


# ---- campaigns -----------------------------------------------------------------------------


@dataclasses.dataclass
class Tally:
    inputs: int = 0
    outcomes: Counter = dataclasses.field(default_factory=Counter)
    crashes: dict = dataclasses.field(default_factory=dict)  # signature -> count
    slowest: float = 0.0
    started: float = dataclasses.field(default_factory=time.time)

    def add(self, text: str, mode: Mode, outcome: Outcome, seconds: float) -> None:
        self.inputs += 1
        self.outcomes[outcome.kind] += 1
        self.slowest = max(self.slowest, seconds)
        if outcome.bad:
            first = outcome.signature not in self.crashes
            self.crashes[outcome.signature] = self.crashes.get(outcome.signature, 0) + 1
            if first:
                _save_crash(text, mode, outcome)

    def summary(self, engine: str, seed: int | None) -> dict:
        return {
            "engine": engine,
            "seed": seed,
            "inputs": self.inputs,
            "outcomes": dict(self.outcomes),
            "crash_kinds": len(self.crashes),
            "crashes": self.crashes,
            "slowest_input_s": round(self.slowest, 2),
            "seconds": round(time.time() - self.started),
            "date": datetime.date.today().isoformat(),
            "commit": _commit(),
        }


def _save_crash(text: str, mode: Mode, outcome: Outcome) -> None:
    CRASHES.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    (CRASHES / f"{digest}.md").write_text(
        text, encoding="utf-8", errors="surrogatepass"
    )
    info = {
        "mode": dataclasses.asdict(mode),
        "kind": outcome.kind,
        "signature": outcome.signature,
    }
    (CRASHES / f"{digest}.txt").write_text(
        json.dumps(info, indent=1) + "\n\n" + outcome.detail, encoding="utf-8"
    )
    print(
        f"new crash {outcome.signature}: fuzz/crashes/{digest}.md",
        file=sys.stderr,
        flush=True,
    )


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return "?"


# Mutants kept as seeds stay document-sized (the largest seed is 3.7 kB): splicing
# and duplicating kept mutants otherwise grows them over a long run, to megabytes at
# no limit and to tens of kB at 64 kB, and the campaign slows from 190 inputs a second
# to under 100; one mutation still makes huge documents, and `stress` covers them.
MAX_KEPT_MUTANT = 8_000


def next_input(rng: random.Random, corpus: list[str]) -> str:
    if rng.random() < 0.1:
        return random_document(rng)
    return mutate(rng.choice(corpus), rng, corpus)


def campaign_random(
    inputs: int, seed: int, black_rate: float, limit: float, report: int
) -> dict:
    """Mutation fuzzing with a seeded generator: `inputs` documents."""
    rng = random.Random(seed)
    corpus = seeds()
    tally = Tally()
    for i in range(inputs):
        text = next_input(rng, corpus)
        mode = random_mode(rng, text, black_rate)
        start = time.perf_counter()
        outcome = classify(text, mode, limit, rng)
        tally.add(text, mode, outcome, time.perf_counter() - start)
        if (
            outcome.kind == "ok"
            and rng.random() < 0.02
            and len(corpus) < 5000
            and len(text) <= MAX_KEPT_MUTANT
        ):
            corpus.append(text)  # keep some mutants that still compile
        if report and (i + 1) % report == 0:
            _progress(tally)
    return tally.summary("random", seed)


def _progress(tally: Tally) -> None:
    rate = tally.inputs / max(1e-9, time.time() - tally.started)
    print(
        f"{tally.inputs} inputs, {rate:.0f}/s, {dict(tally.outcomes)}, "
        f"crash kinds {len(tally.crashes)}",
        file=sys.stderr,
        flush=True,
    )


def campaign_atheris(inputs: int, black_rate: float, limit: float, report: int) -> dict:
    """Coverage-guided fuzzing with atheris (libFuzzer); text-aware custom mutator."""
    import atheris

    with atheris.instrument_imports(include=["eqcompiler"]):
        import eqcompiler.driver  # noqa: F401

    corpus = seeds()
    tally = Tally()
    done = {"n": 0}

    def one_input(data: bytes) -> None:
        if done["n"] >= inputs:
            _finish(tally, "atheris", None)
        done["n"] += 1
        flags = data[0] if data else 0
        text = data[1:].decode("utf-8", "replace")
        rng = random.Random(data)
        mode = Mode(
            backend=(None, "numpy", "math", None)[flags & 3],
            black=(flags >> 2) % 64 < black_rate * 64,
            run=bool(flags & 0x80) and (flags >> 2) % 64 < black_rate * 64,
            output=None,
        )
        start = time.perf_counter()
        outcome = classify(text, mode, limit, rng)
        tally.add(text, mode, outcome, time.perf_counter() - start)
        if report and tally.inputs % report == 0:
            _progress(tally)

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5:
            return atheris.Mutate(data, max_size)
        flags = data[:1] or bytes([rng.randrange(256)])
        text = data[1:].decode("utf-8", "replace")
        if rng.random() < 0.1:
            text = rng.choice(corpus)
        text = mutate(text, rng, corpus)
        return (flags + text.encode("utf-8", "surrogatepass"))[:max_size]

    folder = Path(os.environ.get("EQ_FUZZ_CORPUS", "/tmp/eqcompiler-fuzz-corpus"))
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(corpus):
        (folder / f"seed{i:04d}").write_bytes(bytes([i % 256]) + text.encode("utf-8"))
    atheris.Setup(
        [
            sys.argv[0],
            str(folder),
            "-max_len=20000",
            "-timeout=0",
            "-rss_limit_mb=4096",
        ],
        one_input,
        custom_mutator=mutator,
    )
    atheris.Fuzz()
    return tally.summary("atheris", None)  # pragma: no cover - Fuzz() exits


def _finish(tally: Tally, engine: str, seed: int | None) -> None:
    print(json.dumps(tally.summary(engine, seed), indent=1), flush=True)
    os._exit(0 if not tally.crashes else 1)


# ---- huge and deep documents -----------------------------------------------------------


def stress_documents() -> Iterator[tuple[str, str]]:
    """(name, document): the large inputs the issue names, each run once."""
    yield "empty file", ""
    yield "only whitespace", " \n\t\n"
    yield "NUL bytes", "$$y = x\x00 + 1$$\n\x00\x00"
    for depth in (10_000,):
        for name, (opener, closer) in {
            "parentheses": ("(", ")"),
            "braces": ("{", "}"),
            "brackets": ("[", "]"),
            "\\left( \\right)": ("\\left(", "\\right)"),
            "fractions": ("\\frac{1}{", "}"),
            "square roots": ("\\sqrt{", "}"),
            "exponentials": ("e^{", "}"),
            "sines": ("\\sin(", ")"),
            "absolute values": ("\\lvert ", "\\rvert"),
            "unclosed parentheses": ("(", ""),
            "unopened parentheses": ("", ")"),
            "environments": ("\\begin{aligned}", "\\end{aligned}"),
        }.items():
            yield (
                f"{depth:,}-deep {name}",
                f"$$y = {opener * depth}x{closer * depth}$$\n",
            )
        yield f"{depth:,} minus signs", f"$$y = {'-' * depth}x$$\n"
        yield f"{depth:,}-deep blockquotes", "> " * depth + "$$y = x$$\n"
        yield f"{depth:,}-deep lists", "".join("  " * i + "- a\n" for i in range(depth))
    for terms in (150, 600, 10_000):
        yield (
            f"a sum of {terms:,} terms",
            "$$y = " + " + ".join(f"x_{{{i}}}" for i in range(terms)) + "$$\n",
        )
        yield (
            f"a product of {terms:,} factors",
            "$$y = " + " ".join(f"x_{{{i}}}" for i in range(terms)) + "$$\n",
        )
    yield "a 100,000-digit number", "$$y = " + "9" * 100_000 + "x$$\n"
    yield "a 400-digit number", "$$y = 1" + "0" * 400 + "x$$\n"
    yield "x^{10^{400}}", "$$y = x^{1" + "0" * 400 + "}$$\n"
    yield "a 1 MB line", "$$y = x$$ " + "a" * 1_000_000 + "\n"
    yield (
        "100,000 equations (a chain)",
        "".join(f"$$a_{{{i + 1}}} = a_{{{i}}} + 1$$\n" for i in range(100_000)),
    )
    yield "100,000 repeats of one equation", "$$y = wx + b$$\n" * 100_000
    yield (
        "100,000 equations in one block",
        "$$\n"
        + " \\\\\n".join(f"u_{{{i}}} = {i} x" for i in range(100_000))
        + "\n$$\n",
    )
    yield (
        "100,000 independent equations",
        "".join(f"$$u_{{{i}}} = w x_{{{i}}}$$\n" for i in range(100_000)),
    )


def campaign_stress(limit: float) -> dict:
    results = {}
    tally = Tally()
    for name, text in stress_documents():
        start = time.perf_counter()
        outcome = classify(text, Mode(black=True), limit)
        seconds = time.perf_counter() - start
        tally.add(text, Mode(black=True), outcome, seconds)
        results[name] = {
            "outcome": outcome.kind,
            "seconds": round(seconds, 1),
            "detail": outcome.detail.split("\n")[0][:120],
        }
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    summary = tally.summary("stress", None)
    summary["documents"] = results
    return summary


def replay(paths: list[str], limit: float) -> int:
    status = 0
    for path in paths:
        text = Path(path).read_text(encoding="utf-8", errors="surrogatepass")
        info_path = Path(path).with_suffix(".txt")
        mode = Mode(black=True, run=True)
        if info_path.exists():
            info = json.loads(info_path.read_text(encoding="utf-8").split("\n\n")[0])
            fields = info["mode"]
            fields["wrt"] = tuple(fields["wrt"]) if fields["wrt"] else None
            mode = Mode(**fields)
        outcome = classify(text, mode, limit)
        print(f"{path}: {outcome.kind} {outcome.signature} {outcome.detail[:300]}")
        status |= outcome.bad
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("engine", choices=("random", "atheris", "stress", "replay"))
    parser.add_argument("paths", nargs="*", help="for replay: saved crash inputs")
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--black-rate", type=float, default=0.02, help="share of full compiles"
    )
    parser.add_argument(
        "--time-limit", type=float, default=10.0, help="seconds per input (a hang)"
    )
    parser.add_argument("--report", type=int, default=10_000, help="progress every N")
    args = parser.parse_args(argv)
    sys.setrecursionlimit(1000)  # what the command line runs with
    if args.engine == "replay":
        return replay(args.paths, args.time_limit)
    if args.engine == "stress":
        summary = campaign_stress(max(args.time_limit, 600.0))
    elif args.engine == "atheris":
        summary = campaign_atheris(
            args.inputs, args.black_rate, args.time_limit, args.report
        )
    else:
        summary = campaign_random(
            args.inputs, args.seed, args.black_rate, args.time_limit, args.report
        )
    print(json.dumps(summary, indent=1))
    return 1 if summary["crash_kinds"] else 0


if __name__ == "__main__":
    sys.exit(main())
