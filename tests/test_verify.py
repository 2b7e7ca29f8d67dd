"""verify: every stated derivative classified right or wrong, wrong ones located."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT
from test_invalid import run_cli

from eqcompiler.driver import load
from eqcompiler.verify import verify

SEED = ROOT / "tests" / "seed" / "backprop.md"  # a copy of shared/seed/backprop.md
_ERROR = re.compile(r"^.+?:(\d+):(\d+): error: (.*)$", re.M)


def _report(text: str):
    loaded = load(text, "doc.md")
    return verify(loaded.statements, text, loaded.style)


def _wrong_lines(text: str) -> list[int]:
    return [e.span.start.line for e in _report(text).wrong]


def test_seed_has_exactly_four_wrong_claims():
    result = run_cli("verify", str(SEED))
    assert result.returncode == 1
    lines = [int(m[0]) for m in _ERROR.findall(result.stderr)]
    assert lines == [71, 73, 75, 85]
    assert "25 claims checked, 4 wrong" in result.stdout
    assert (
        "\\frac{\\partial v}{\\partial u} is stated as 0, but v = u + b gives 1"
        in result.stderr
    )
    assert "u = wx does not depend on b" in result.stderr


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "samples").glob("*.md"))
    + sorted((ROOT / "tests" / "docs").glob("*.md")),
    ids=lambda p: p.stem,
)
def test_documents_with_right_claims_verify_clean(path: Path):
    result = run_cli("verify", str(path))
    assert result.returncode == 0, result.stderr
    assert " 0 wrong" in result.stdout


DOC = """\
# Two paths to x

$$u = x^{2}$$
$$v = 3x$$
$$f = u v + u$$

$$\\frac{\\partial f}{\\partial u} = v + 1$$
$$\\frac{\\partial f}{\\partial v} = u$$
$$\\frac{\\partial f}{\\partial x} = 2x(v + 1) + 3u$$
$$\\frac{\\partial f}{\\partial x} = 2x(v + 1)$$
$$\\frac{\\partial f}{\\partial x} = \\frac{\\partial f}{\\partial u}\\frac{\\partial u}{\\partial x} + \\frac{\\partial f}{\\partial v}\\frac{\\partial v}{\\partial x}$$
$$\\frac{\\partial f}{\\partial x} = \\frac{\\partial f}{\\partial u}\\frac{\\partial u}{\\partial x}$$
$$\\frac{\\partial u}{\\partial v} = 0, \\quad \\frac{\\partial x}{\\partial x} = 1$$
"""


def test_several_paths_and_intermediates():
    assert _wrong_lines(DOC) == [10, 12]
    assert _report(DOC).checked == 8


def test_e_assigned_as_a_variable():
    text = (
        "$$e = y - t$$\n$$L = e^{2}$$\n"
        "$$\\frac{\\partial L}{\\partial e} = 2e$$\n"
        "$$\\frac{\\partial L}{\\partial y} = 2e = 2(y - t)$$\n"
        "$$\\frac{\\partial L}{\\partial t} = 2e$$\n"
    )
    assert _wrong_lines(text) == [5]


def test_functions_without_parentheses():
    text = (
        "$$h = \\tanh 2z$$\n$$g = \\log h x$$\n"
        "$$\\frac{\\partial h}{\\partial z} = 2(1 - h^{2})$$\n"
        "$$\\frac{\\partial g}{\\partial x} = \\frac{1}{x}$$\n"
        "$$\\frac{\\partial g}{\\partial h} = \\frac{1}{h} = \\frac{x}{h}$$\n"
    )
    assert _wrong_lines(text) == [5]


def test_chain_with_a_wrong_middle_side():
    text = "$$y = e^{v}$$\n$$\\frac{\\partial y}{\\partial v} = e^{v} = 2y = y$$\n"
    (error,) = _report(text).wrong
    assert "is stated as 2y" in error.message
    assert error.related and error.related[0].span.start.col == 43


def test_wrong_chain_rule_factor_is_named():
    text = (
        "$$z = wx + b$$\n$$h = \\tanh(z)$$\n$$L = (h - t)^{2}$$\n"
        "$$\\frac{\\partial L}{\\partial w} = 2(h - t) \\cdot (1 - h)^{2} \\cdot x$$\n"
    )
    (error,) = _report(text).wrong
    assert "the factor (1 - h)^{2} should be 1 - h^{2}, the derivative of \\tanh" in (
        error.message
    )
    assert "give 2(h - t)\\, (1 - h^{2})\\, x" in error.message


def test_unknown_symbol_is_a_located_error_not_wrong(tmp_path: Path):
    doc = tmp_path / "doc.md"
    doc.write_text("$$y = 2x$$\n\n$$\\frac{\\partial y}{\\partial q} = 0$$\n")
    result = run_cli("verify", str(doc))
    assert result.returncode == 1
    assert ":3:30: error: unknown symbol q" in result.stderr
    assert "0 claims checked, 0 wrong, 1 not checked" in result.stdout


def test_derivative_written_in_every_style():
    text = (
        "$$y = 3x$$\n"
        "$$\\frac{dy}{dx} = 3$$\n"
        "$$\\frac{\\mathrm{d}y}{\\mathrm{d}x} = 3$$\n"
        "$$\\partial y / \\partial x = 3$$\n"
        "$$\\frac{\\partial y}{\\partial x} = 4$$\n"
    )
    report = _report(text)
    assert report.checked == 4 and [e.span.start.line for e in report.wrong] == [5]


def test_indicator_of_max_and_relu():
    text = (
        "$$f = \\max(x, y)$$\n"
        "$$\\frac{\\partial f}{\\partial x} = \\mathbb{1}(x \\ge y)$$\n"
        "$$\\frac{\\partial f}{\\partial y} = \\mathbb{1}(y > x)$$\n"
        "$$\\frac{\\partial f}{\\partial y} = \\mathbb{1}(x > y)$$\n"
    )
    assert _wrong_lines(text) == [4]


def test_no_claims_exit_zero(tmp_path: Path):
    doc = tmp_path / "doc.md"
    doc.write_text("$$y = 2x$$\n")
    result = run_cli("verify", str(doc))
    assert result.returncode == 0
    assert "0 claims checked, 0 wrong" in result.stdout
