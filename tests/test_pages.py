"""Pages that hold many small programs (lecture notes in the CS231n style).

verify checks each claim against the definitions in force at its place; compile
picks a program by output, output@LINE or section, and its gradients match sympy.
"""

from __future__ import annotations

import random
import re

import pytest
import sympy
from conftest import ROOT, import_module_text
from test_invalid import run_cli

from eqcompiler.driver import Options, compile_text

PAGE = ROOT / "tests" / "pages" / "gates.md"
x, y, w0, w1, w2, x0, x1 = sympy.symbols("x y w_0 w_1 w_2 x_0 x_1", real=True)
sig = lambda z: 1 / (1 + sympy.exp(-z))  # noqa: E731

PROGRAMS = {
    # choice -> (inputs, sympy output)
    "f@15": ((x, y), x * y),
    "f@28": ((x, y), x + y),
    "f@34": ((x, y), sympy.Max(x, y)),
    "f@40": ((x, y), x - y),
    "f@46": ((w0, w1, w2, x0, x1), sig(w0 * x0 + w1 * x1 + w2)),
    "f@60": ((x, y), (x + sig(y)) / (sig(x) + (x + y) ** 2)),
    "f": ((x, y), (x + sig(y)) / (sig(x) + (x + y) ** 2)),
    "section:Sigmoid example": ((w0, w1, w2, x0, x1), sig(w0 * x0 + w1 * x1 + w2)),
    "section:Staged computation": ((x, y), (x + sig(y)) / (sig(x) + (x + y) ** 2)),
}


def test_verify_checks_each_claim_against_its_own_program():
    result = run_cli("verify", str(PAGE))
    assert result.returncode == 1
    assert re.findall(r":(\d+):\d+: error:", result.stderr) == ["40"]
    assert "f(x,y) = x - y gives -1" in result.stderr
    assert "12 claims checked, 1 wrong" in result.stdout


def test_list_shows_the_programs():
    result = run_cli("list", str(PAGE))
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].endswith("7 programs")
    assert (
        "output f@46  inputs w_0, w_1, w_2, x_0, x_1  [Sigmoid example]"
        in result.stdout
    )


def test_without_a_choice_several_programs_are_an_error_listing_them():
    result = run_cli("compile", str(PAGE), "-o", "-")
    assert result.returncode == 1
    assert ":28:1: error: conflicting definitions of f" in result.stderr
    assert "the document holds 7 programs" in result.stderr
    assert result.stderr.count("note: program ") == 7


def test_section_with_different_programs_is_an_error():
    result = run_cli("compile", str(PAGE), "--section", "Simple expressions", "-o", "-")
    assert result.returncode == 1
    assert "conflicting definitions of f in the section" in result.stderr


def test_unknown_section_and_line_are_usage_errors():
    assert run_cli("compile", str(PAGE), "--section", "Nope", "-o", "-").returncode == 2
    assert run_cli("compile", str(PAGE), "--output", "f@3", "-o", "-").returncode == 2


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("choice", sorted(PROGRAMS))
def test_compile_picks_the_program(choice: str, backend: str, tmp_path):
    inputs, expr = PROGRAMS[choice]
    text = PAGE.read_text()
    if choice.startswith("section:"):
        options = Options(backend=backend, section=choice.split(":", 1)[1])
    else:
        options = Options(backend=backend, output=choice)
    module = import_module_text(
        compile_text(text, str(PAGE), options, PAGE.name), tmp_path
    )
    assert module.Gradients._fields == tuple(s.name for s in inputs)
    value = sympy.lambdify(inputs, expr, "math")
    grads = [sympy.lambdify(inputs, sympy.diff(expr, s), "math") for s in inputs]
    rng = random.Random(choice)
    for _ in range(4):
        point = [rng.uniform(-2, 2) for _ in inputs]
        got, gradients = module.value_and_grad(*point)
        assert float(got) == pytest.approx(value(*point), rel=1e-9)
        for field, grad in zip(gradients, grads, strict=True):
            assert float(field) == pytest.approx(
                float(grad(*point)), rel=1e-7, abs=1e-10
            )


def test_front_matter_of_other_tools_is_ignored_and_ours_lives_under_eqcompiler(
    tmp_path,
):
    doc = tmp_path / "page.md"
    doc.write_text(
        "---\nlayout: page\ntitle: Notes\neqcompiler:\n  output: g\n---\n"
        "$$f = x y$$\n\n$$g = x + y$$\n"
    )
    result = run_cli("compile", str(doc), "-o", "-")
    assert result.returncode == 0, result.stderr
    assert "return g, Gradients(" in result.stdout


def test_what_authors_write_between_an_equation_and_its_derivatives():
    text = (
        "$$f = x y \\Rightarrow \\frac{\\partial f}{\\partial x} = y \\implies "
        "\\frac{\\partial f}{\\partial y} = x \\to \\frac{\\partial f}{\\partial y} = x,\\; "
        "\\frac{\\partial f}{\\partial x} = y \\text{and} \\frac{\\partial f}{\\partial x} = y"
        " \\qquad \\frac{\\partial f}{\\partial x} = \\mathbb{1}[x > 0] y + \\mathbb{1}[x \\le 0] y$$\n"
    )
    from eqcompiler.driver import load
    from eqcompiler.verify import verify

    loaded = load(text, "t.md")
    report = verify(loaded.statements, text, loaded.style)
    assert report.checked == 6 and not report.wrong


def test_relu_derivative_is_an_indicator():
    from eqcompiler.driver import load
    from eqcompiler.verify import verify

    text = (
        "$$h = \\max(0, z)$$\n$$\\frac{\\partial h}{\\partial z} = \\mathbb{1}(z > 0)$$\n"
        "$$\\frac{\\partial h}{\\partial z} = \\mathbb{1}(z < 0)$$\n"
    )
    loaded = load(text, "t.md")
    report = verify(loaded.statements, text, loaded.style)
    assert [e.span.start.line for e in report.wrong] == [3]
