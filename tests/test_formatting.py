"""The formatting worker: black in a forked process gives the bytes black gives here,
and anything wrong with the worker falls back to black in this process."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import black
import pytest
from conftest import ROOT
from test_invalid import run_cli

from eqcompiler import formatting
from eqcompiler.formatting import black_mode, format_python, laid_out, laid_out_parts

pytestmark = pytest.mark.skipif(
    not formatting._can_fork(), reason="the worker is forked; black runs in process"
)

TEXTS = [
    "x=1\n",
    "def f(a,b):\n  return a**2+b  # a comment\n",
    "y = call(first_argument, second_argument, third_argument, "
    "fourth_argument, fifth_argument)\n",
    's = "caf\\u00e9 ünïcode €"\n',
    (ROOT / "samples" / "backprop.py").read_text(encoding="utf-8"),
]


@pytest.fixture
def worker() -> Iterator[formatting._Worker]:
    started = formatting._Worker.start()
    assert started is not None
    yield started
    started.close()


@pytest.fixture
def installed(worker: formatting._Worker) -> Iterator[formatting._Worker]:
    """`worker` as the one format_python uses."""
    assert formatting._worker is None
    formatting._worker = worker
    yield worker
    formatting._worker = None


@pytest.mark.parametrize("text", TEXTS)
def test_the_worker_formats_as_black_does_here(worker, text: str):
    assert worker.format(text) == black.format_str(text, mode=black_mode())


def test_one_worker_formats_one_request_after_another(worker):
    for text in TEXTS * 2:
        assert worker.format(text) == black.format_str(text, mode=black_mode())


def test_what_black_cannot_parse_is_formatted_here_and_raises_blacks_error(installed):
    assert installed.format("def (:\n") is None  # the worker says it failed
    with pytest.raises(black.InvalidInput):
        format_python("def (:\n")
    assert formatting._worker is None  # black runs here from now on
    assert format_python("x=1\n") == "x = 1\n"


def test_a_worker_that_died_is_replaced_by_black_here(installed):
    os.kill(installed.pid, signal.SIGKILL)
    os.waitpid(installed.pid, 0)
    assert format_python("x=1\n") == "x = 1\n"
    assert formatting._worker is None


def test_the_worker_leaves_the_standard_streams_alone(worker):
    """A caller reading the command's output to its end (a pre-commit hook, a pipe)
    must not wait for the worker as well: the worker holds none of the three."""
    worker.format("x = 1\n")  # the worker is set up once it has answered
    fds = Path(f"/proc/{worker.pid}/fd")
    if not fds.exists():
        pytest.skip("no /proc here")
    for fd in (0, 1, 2):
        assert os.readlink(fds / str(fd)) == os.devnull


def test_start_worker_runs_none_where_black_is_imported_already():
    assert "black" in __import__("sys").modules
    formatting.start_worker()
    assert formatting._worker is None


def test_the_command_line_writes_what_the_pipeline_makes():
    """`eqcompiler compile` formats in its worker: the module is byte for byte the
    committed sample, which tests/test_golden.py checks the pipeline makes here."""
    result = run_cli("compile", "two_layer_tanh.md", "-o", "-", cwd=ROOT / "samples")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "samples" / "two_layer_tanh.py").read_text()


# ---- laid_out: long lines as black splits them, so that black needs one pass ---------

LONG = ", ".join(f"argument_{i}" for i in range(12))  # too long for one line
LONGER = ", ".join(f"argument_{i}" for i in range(30))  # too long for one more line


@pytest.mark.parametrize(
    "line, indent",
    [
        (f"grad = _sum_product({LONG})", 4),
        (f"grad = np.multiply({LONG}, out=_spare(y_minus_y_star, reuse))", 4),
        (f"size = _array_size({LONG})  # per array input; 0: they differ", 4),
        (f"size = _array_size({LONGER})  # per array input; 0: they differ", 4),
        (f"size, arrays = _array_size({LONG})", 4),
        (f"size, arrays = _array_size({LONGER})", 4),
        (f"return _in_blocks(value_and_grad, {LONG})", 8),
        (f"return value_and_grad({LONGER})[1]", 4),
        (f"return E, Gradients({LONGER})", 4),
        (
            f"def forward({LONG.replace(',', ': ArrayLike,')}: ArrayLike) -> ArrayLike:",
            0,
        ),
        (f"def f({LONGER.replace(',', ': float,')}: float) -> tuple[float, G]:", 0),
    ],
)
def test_a_long_line_is_laid_out_as_black_lays_it_out(line: str, indent: int):
    laid = laid_out(line, indent)
    assert "\n" in laid  # it was split
    around = {  # where a line of this indent stands in a module
        0: "{}\n    pass\n",
        4: "def _():\n    {}\n",
        8: "def _():\n    if x:\n        {}\n",
    }
    text = around[indent].format(laid)
    assert black.format_str(text, mode=black_mode()) == text
    assert black.format_str(around[indent].format(line), mode=black_mode()) == text


@pytest.mark.parametrize(
    "target, parts",
    [
        ("grad_x", ["d_x", "if usual", "else _sum_to(d_x, x, out_shape)"]),
        (
            "grad_x",
            ["np.multiply(d_v, w * 2.0, out=d_v)", "if usual", "else _sum_to(d_v)"],
        ),
        (
            "grad_x",
            [
                "np.multiply(d_v, w * 2.0, out=d_v)",
                "if usual",
                "else _sum_product(d_v, w, x, out_shape, 2.0, out=_spare(d_v, reuse))",
            ],
        ),
        (
            "grad_y_star",
            [
                "np.multiply(y_minus_y_star, -2.0, out=y_minus_y_star)",
                "if usual",
                f"else _sum_to(y_minus_y_star, y_star, out_shape, -2.0, {LONG})",
            ],
        ),
        ("usual", ["size > 1", "and arrays == 2", "and type(x) is np.ndarray"]),
        (
            "usual",
            [
                "size > 1",
                "and arrays == 4",
                "and type(x_1) is type(x_2) is type(x_3) is type(y) is np.ndarray",
            ],
        ),
    ],
)
def test_parts_are_laid_out_as_black_lays_them_out(target: str, parts: list[str]):
    laid = laid_out_parts(target, parts, 4)
    text = f"def _():\n    {laid}\n"
    assert black.format_str(text, mode=black_mode()) == text


@pytest.mark.parametrize(
    "line",
    [
        "grad = _sum_product(d_v, x, w, out_shape, 2.0)",  # short
        f"loss = a * f({LONG}) + b * g({LONG})",  # not a call alone
        f"label = text('{LONG}')",  # a string
        f"grad = _sum_product({LONG})[0][1]",  # another trailer
        "grad = f(" + "x" * 90 + ")",  # an argument too long for any line
    ],
)
def test_any_other_line_is_left_to_black(line: str):
    assert laid_out(line, 4) == line


def test_black_gets_every_piece_of_a_module_as_it_leaves_it(monkeypatch):
    """What codegen gives black is already laid out as black would (laid_out, `**`
    between simple operands, blank lines): black formats each piece once, not
    twice, on the samples and on documents with many inputs."""
    from conftest import compile_latex

    from benchmarks.compiler import document

    pieces = []
    format_str = black.format_str
    monkeypatch.setattr(
        black,
        "format_str",
        lambda text, mode: pieces.append(text) or format_str(text, mode=mode),
    )
    texts = [(ROOT / "samples" / f"{name}.md").read_text() for name in SAMPLES]
    texts += [document("chain", 20), document("wide", 20)]
    for text in texts:
        compile_latex(text)
    assert len(pieces) >= 3 * len(texts)
    changed = [p for p in pieces if format_str(p, mode=black_mode()) != p]
    assert not changed, changed[0]


SAMPLES = ["backprop", "logistic_regression", "staged_function", "two_layer_tanh"]


def test_black_runs_with_the_process_frozen_and_leaves_the_collector_as_it_was():
    import gc

    before = gc.get_freeze_count()
    assert formatting._format("x  =  1\n") == "x = 1\n"
    assert gc.get_freeze_count() == before  # unfrozen again, or left as it was
    gc.freeze()  # someone else's frozen objects stay frozen
    try:
        frozen = gc.get_freeze_count()
        assert formatting._format("y  =  2\n") == "y = 2\n"
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
