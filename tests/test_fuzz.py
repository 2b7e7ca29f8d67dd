"""Fuzzing the front end: whatever the document, a module, a located error or a usage error.

Mutated realistic documents and documents of random tokens run in process through
the whole pipeline (`fuzz/frontend.py`); bad command lines run through
`eqcompiler.cli.main`. Never a traceback, a RecursionError, a hang, a broken module,
a partial output, or an existing output changed on error. The long campaign is
`python fuzz/frontend.py` (fuzz/RESULTS.md); each crash it found is a test here.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eqcompiler.cli import main  # noqa: E402
from fuzz.frontend import (  # noqa: E402
    SPECIAL,
    TOKENS,
    UNICODE,
    Mode,
    classify,
    mutate,
    seeds,
)

FAST = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SEEDS = seeds()
FUZZ_TIME_LIMIT = 20.0  # seconds: more is a hang


def _allowed(text: str, mode: Mode | None = None) -> None:
    outcome = classify(text, mode or Mode(), FUZZ_TIME_LIMIT)
    assert not outcome.bad, f"{outcome.kind}: {outcome.signature}\n{outcome.detail}"


@FAST
@given(
    st.integers(0, len(SEEDS) - 1),
    st.integers(0, 2**32),
    st.sampled_from([None, "numpy", "math"]),
)
def test_mutated_documents(index: int, seed: int, backend: str | None):
    rng = random.Random(seed)
    text = mutate(SEEDS[index], rng, SEEDS)
    _allowed(text, Mode(backend=backend, black=rng.random() < 0.1))


_PIECES = st.sampled_from(SPECIAL + TOKENS + UNICODE + list("abcxyzuvw"))


@FAST
@given(
    st.lists(_PIECES, max_size=40),
    st.sampled_from(["$$%s$$\n", "\\[%s\\]\n", "```math\n%s\n```\n", "%s"]),
)
def test_documents_of_random_tokens(pieces: list[str], frame: str):
    _allowed(frame % "".join(pieces))


@settings(derandomize=True, max_examples=30, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str):
    _allowed(text)


def test_mutants_that_compile_give_modules_that_run():
    """A sample of full compiles: black-stable, deterministic, importable, callable."""
    rng = random.Random(5)
    for _ in range(25):
        text = mutate(rng.choice(SEEDS), rng, SEEDS)
        _allowed(text, Mode(black=True, run=True, explain=True))


# ---- large and deep inputs ---------------------------------------------------------------

DEEP = {
    "parentheses": ("(", ")"),
    "braces": ("{", "}"),
    "\\left( \\right)": ("\\left(", "\\right)"),
    "fractions": ("\\frac{1}{", "}"),
    "square roots": ("\\sqrt{", "}"),
    "exponents": ("e^{", "}"),
    "calls": ("\\sin(", ")"),
    "absolute values": ("\\lvert ", "\\rvert"),
    "minus signs": ("-", ""),
    "unclosed parentheses": ("(", ""),
    "environments": ("\\begin{aligned}", "\\end{aligned}"),
}


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_10000_deep_nesting_is_a_located_error(kind: str):
    opener, closer = DEEP[kind]
    text = f"$$y = {opener * 10_000}x{closer * 10_000}$$\n"
    outcome = classify(text, Mode(), FUZZ_TIME_LIMIT)
    assert outcome.kind == "located", outcome


@pytest.mark.parametrize("terms", [150, 600, 10_000])
@pytest.mark.parametrize("joiner", [" + ", " ", " / "])
def test_long_sums_and_products(terms: int, joiner: str):
    """Left-nested chains passed the parser and overflowed the recursion of later
    passes (stable.rewrite, RecursionError); past ir.MAX_DEPTH they are a located error.
    """
    text = "$$y = " + joiner.join(f"x_{{{i}}}" for i in range(terms)) + "$$\n"
    outcome = classify(text, Mode(backend="math"), 60.0)
    if terms <= 200:
        assert outcome.kind == "ok", outcome
    else:
        assert outcome.kind == "located", outcome
        assert outcome.detail.startswith("doc.md:1:3: error: the expression is ")
        assert "too deeply" in outcome.detail


def test_long_max_is_an_error_not_a_recursion():
    text = "$$y = \\max(" + ", ".join(f"x_{{{i}}}" for i in range(1000)) + ")$$\n"
    assert classify(text, Mode(), 60.0).kind == "located"


def test_huge_numbers():
    for number in ("1" + "0" * 400, "9" * 100_000, "0." + "0" * 400 + "1"):
        _allowed(f"$$y = {number} x$$\n")
        _allowed(f"$$y = x^{{{number}}}$$\n")


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_constants_that_fold_to_infinity(backend: str):
    """10^{300} \\cdot 10^{300} folds to inf: printing it crashed (backends._number),
    then printed a bare `inf` (codegen, float_literal)."""
    big = "1" + "0" * 300
    _allowed(f"$$y = {big} \\cdot {big} x$$\n", Mode(backend, black=True, run=True))
    _allowed(
        f"$$y = x^{{-{big} \\cdot {big}}}$$\n", Mode(backend, black=True, run=True)
    )


def test_nul_bytes_unicode_and_empty_documents():
    for text in (
        "",
        "\n",
        "\x00",
        "$$y = x\x00$$",
        "$$\x00$$",
        "$$y = 𝑥 + é$$",
        "\ufeff$$y=x$$",
    ):
        _allowed(text)


def test_many_equations():
    """2,000 equations in one document (the campaign runs 100,000: fuzz/RESULTS.md)."""
    chain = "".join(f"$$a_{{{i + 1}}} = a_{{{i}}} + x$$\n" for i in range(2000))
    assert classify(chain, Mode(), 60.0).kind == "ok"
    block = (
        "$$\n" + " \\\\\n".join(f"u_{{{i}}} = {i} x" for i in range(2000)) + "\n$$\n"
    )
    assert classify(block, Mode(output="u_1999"), 60.0).kind in ("ok", "located")


def _stage_seconds(text: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """CPU seconds in each pass that code generation runs, for one compile."""
    from eqcompiler import codegen

    seconds: dict[str, float] = {}
    for name in ("reverse", "share", "scale", "place", "_fuse_reductions"):
        original = getattr(codegen, name)

        def timed(*args, _original=original, _name=name, **kwargs):
            start = time.process_time()
            try:
                return _original(*args, **kwargs)
            finally:
                spent = time.process_time() - start
                seconds[_name] = seconds.get(_name, 0.0) + spent

        monkeypatch.setattr(codegen, name, timed)
    gc.disable()  # as compile_document runs: a collection is not the pass's time
    try:
        assert classify(text, Mode(), 120.0).kind == "ok"
    finally:
        gc.enable()
        monkeypatch.undo()
    return seconds


def test_each_pass_is_linear_when_every_equation_shares_a_part(monkeypatch):
    """`u_{i} = \\sin(u_{i-1}) x + w`: the backward pass reads `\\sin(u_{i-1})`,
    so every equation has a named shared part. Hoisting them looked at every part
    for every equation (quadratic: 4,000 equations took 20 s, half of it there);
    no pass may take 16 times as long for 4 times the equations."""

    def fan_out(n: int) -> str:
        equations = "".join(
            f"$$u_{{{i}}} = \\sin(u_{{{i - 1}}}) x + w$$\n" for i in range(1, n)
        )
        return f"$$u_{{0}} = x$$\n{equations}$$y = u_{{{n - 1}}}^{{2}}$$\n"

    def fastest(n: int) -> dict[str, float]:
        runs = [_stage_seconds(fan_out(n), monkeypatch) for _ in range(2)]
        return {name: min(run[name] for run in runs) for name in runs[0]}

    small, large = fastest(400), fastest(1600)
    slow = {
        name: (round(small[name], 3), round(large[name], 3))
        for name in small
        if large[name] > 10 * small[name] + 0.05
    }
    assert not slow, slow


# ---- crashes the campaigns found ---------------------------------------------------------

SAVED = sorted(
    (Path(__file__).resolve().parent.parent / "fuzz" / "regressions").glob("*.md")
)


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
def test_saved_crash_inputs(path: Path):
    """Inputs the campaigns found (fuzz/regressions/, named after the bug)."""
    text = path.read_text(encoding="utf-8")
    for mode in (Mode(), Mode(backend="math"), Mode(black=True, run=True)):
        _allowed(text, mode)


def test_error_inside_a_with_block_keeps_its_traceback():
    """EqError, a frozen dataclass, could not take `__traceback__`: contextlib (and
    `add_note`) failed with FrozenInstanceError (errors.py, EqError.__setattr__)."""
    import contextlib

    from eqcompiler.errors import EqError, Span

    @contextlib.contextmanager
    def block():
        yield

    with pytest.raises(EqError):
        with block():
            raise EqError("m", Span.point("p", 1, 1))
    error = EqError("m", Span.point("p", 1, 1))
    error.add_note("a note")
    assert error.__notes__ == ["a note"]
    with pytest.raises(AttributeError):
        error.message = "changed"  # still frozen


@pytest.mark.parametrize(
    "latex",
    [
        "y = (a, b)",
        "y = x (a, b)",
        "y = (a, b) x",
        "y = \\log x (a, b)",
        "y = \\frac{(a, b)}{2}",
        "y = |(a, b)|",
        "y = (a, b)^2",
    ],
)
def test_a_list_of_values_as_a_value_is_a_located_error(latex: str):
    """The list `(a, b)` became a None in the IR and crashed code generation
    (lower.py, _value_of)."""
    outcome = classify(f"$${latex}$$\n", Mode(), FUZZ_TIME_LIMIT)
    assert outcome.kind == "located" and "list of values" in outcome.detail, outcome


# ---- command lines -----------------------------------------------------------------------


def _run(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


@pytest.fixture
def folder(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.md").write_text("$$y = wx$$\n", encoding="utf-8")
    (tmp_path / "broken.md").write_text("$$y = \\frac{w$$\n", encoding="utf-8")
    return tmp_path


def test_missing_file_and_directory(folder: Path, capsys):
    assert _run(["compile", "nope.md"], capsys)[0] == 2
    (folder / "dir.md").mkdir()
    assert _run(["compile", "dir.md"], capsys)[0] == 2
    assert _run(["verify", "dir.md"], capsys)[0] == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_not_read_forever(folder: Path, capsys):
    os.mkfifo(folder / "pipe.md")
    code, err = _run(["compile", "pipe.md"], capsys)
    assert code == 2 and "not a regular file" in err


def test_unreadable_file(folder: Path, capsys, monkeypatch):
    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)  # root reads anything
    code, err = _run(["compile", "good.md"], capsys)
    assert code == 2 and "cannot read" in err


def test_not_utf8_and_empty(folder: Path, capsys):
    (folder / "latin1.md").write_bytes(b"$$y = \xe9$$\n")
    assert _run(["compile", "latin1.md"], capsys)[0] == 1
    (folder / "empty.md").write_bytes(b"")
    assert _run(["compile", "empty.md"], capsys)[0] == 1


@pytest.mark.parametrize(
    "out",
    ["missing/out.py", "dir", "good.md/out.py", "good.md"],
    ids=["no folder", "a directory", "under a file", "the source"],
)
def test_unwritable_outputs(folder: Path, capsys, out: str):
    (folder / "dir").mkdir()
    before = (folder / "good.md").read_bytes()
    code, _ = _run(["compile", "good.md", "-o", out], capsys)
    assert code == 2
    assert (folder / "good.md").read_bytes() == before
    assert not list(folder.glob("**/.*.tmp"))


def test_an_existing_output_is_unchanged_on_error(folder: Path, capsys):
    out = folder / "broken.py"
    out.write_bytes(b"# the old module\n")
    code, err = _run(["compile", "broken.md"], capsys)
    assert code == 1 and "broken.md:1:" in err
    assert out.read_bytes() == b"# the old module\n"
    assert sorted(p.name for p in folder.iterdir()) == [
        "broken.md",
        "broken.py",
        "good.md",
    ]


@FAST
@given(
    st.lists(
        st.sampled_from(
            [
                "compile",
                "verify",
                "explain",
                "graph",
                "list",
                "-o",
                "-",
                "--backend",
                "math",
                "numpy",
                "--wrt",
                "w",
                ",",
                "--output",
                "y",
                "q",
                "good.md",
                "broken.md",
                "nope.md",
                "--check",
                "--diff",
                "-q",
                "--section",
                "x",
                "",
            ]
        ),
        max_size=7,
    )
)
def test_random_command_lines(args: list[str]):
    """Any command line: exit 0, 1 or 2, and never a traceback."""
    import contextlib
    import io
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "good.md").write_text("$$y = wx$$\n", encoding="utf-8")
        (Path(folder) / "broken.md").write_text("$$y = (w$$\n", encoding="utf-8")
        cwd = os.getcwd()
        os.chdir(folder)
        err, out = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    code = main(args)
                except SystemExit as stop:  # argparse
                    code = stop.code
        finally:
            os.chdir(cwd)
    assert code in (0, 1, 2), (args, code, err.getvalue())
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue()


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_nesting_within_what_python_parses(backend: str):
    """Python parses at most 200 nested parentheses: a constant `\\sin(\\sin(...))`
    was wrapped in float(...) at every level and printed 200 deep (not valid Python).
    Up to ir.MAX_NESTING calls deep compiles; deeper is a located error."""
    for inner in ("x", "2"):
        ok = "\\sin(" * 140 + inner + ")" * 140
        _allowed(f"$$y = {ok} + x$$\n", Mode(backend, black=True, run=True))
        assert classify(f"$$y = {ok} + x$$\n", Mode(backend)).kind == "ok"
        deep = "\\sin(" * 170 + inner + ")" * 170
        outcome = classify(f"$$y = {deep} + x$$\n", Mode(backend))
        assert outcome.kind == "located", outcome
        assert "too deeply" in outcome.detail
