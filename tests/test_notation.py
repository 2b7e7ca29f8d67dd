"""How notation is read (DESIGN.md, "Reading notation"): LaTeX in, Python out.

Each row is one display block and the assignments it must give, written as the
numpy backend prints them. Rows cover every parser path: operators, implicit
products, functions with and without parentheses, decorated names, environments,
separators, continuations, and the document-dependent readings of sigma, e and pi.
"""

from __future__ import annotations

import pytest

from eqcompiler.backends import NUMPY
from eqcompiler.driver import load
from eqcompiler.ir import Assign, Claim
from eqcompiler.parse import parser

TABLE = [
    # products and operators
    ("y = wx", [("y", "w * x")]),
    ("y = 2xy", [("y", "2 * x * y")]),
    ("y = 3.5x", [("y", "3.5 * x")]),
    ("y = a \\cdot b \\times c * d", [("y", "a * b * c * d")]),
    ("y = a \\times b / c", [("y", "a * b / c")]),
    ("y = a - b - c", [("y", "a - b - c")]),
    ("y = a - (b - c)", [("y", "a - (b - c)")]),
    ("y = b \\cdot -c", [("y", "b * -c")]),
    ("y = -x^2", [("y", "-x**2")]),
    ("y = \\alpha\\beta", [("y", "alpha * beta")]),
    ("y = x(1 - x)", [("y", "x * (1 - x)")]),
    ("y = \\tau(a - q)", [("y", "tau * (a - q)")]),
    ("y = \\delta\\,(a - q)", [("y", "delta * (a - q)")]),
    ("y = [a + b] c", [("y", "(a + b) * c")]),
    ("y = \\left( a + b \\right)^2", [("y", "(a + b) ** 2")]),
    ("y = \\bigl( a \\bigr) \\Big[ b \\Big]", [("y", "a * b")]),
    ("y = {a + b} c", [("y", "(a + b) * c")]),
    # fractions and powers
    ("y = \\frac12 x", [("y", "1 / 2 * x")]),
    ("y = \\tfrac{1}{2}x", [("y", "1 / 2 * x")]),
    ("y = \\dfrac{a}{b}", [("y", "a / b")]),
    ("y = \\frac ab", [("y", "a / b")]),
    ("y = x^{-1}", [("y", "1 / x")]),
    ("y = x^{-2}", [("y", "x**-2.0")]),
    ("y = x^23", [("y", "x**2 * 3")]),
    ("y = x^{z}", [("y", "np.power(x, z)")]),
    # a right-nested sum keeps its parentheses: without them it rounds otherwise
    ("y = a + (b + c) - (a - b)", [("y", "a + (b + c) - (a - b)")]),
    ("y = \\sqrt[3]{x} + \\sqrt x", [("y", "np.power(x, 1 / 3) + np.sqrt(x)")]),
    # functions
    (
        "y = e^{v} + \\exp(v) + \\exp v + e^v",
        [("y", "np.exp(v) + np.exp(v) + np.exp(v) + np.exp(v)")],
    ),
    ("y = \\log x y", [("y", "np.log(x * y)")]),
    ("y = \\log_{2} x + \\ln x", [("y", "np.log(x) / float(np.log(2)) + np.log(x)")]),
    ("y = \\sin 2x", [("y", "np.sin(2 * x)")]),
    ("y = \\sin x \\cos y", [("y", "np.sin(x) * np.cos(y)")]),
    ("y = \\tanh 2z", [("y", "np.tanh(2 * z)")]),
    ("y = \\sin^2 x", [("y", "np.sin(x) ** 2")]),
    ("y = \\sin^{-1} x", [("y", "np.arcsin(x)")]),
    ("y = \\log(x)^2", [("y", "np.log(x) ** 2")]),
    ("y = \\sigma(z)", [("y", "_sigmoid(z)")]),
    (
        "y = \\max(0, z) + \\min(a, b, c)",
        [("y", "np.maximum(0, z) + np.minimum(np.minimum(a, b), c)")],
    ),
    (
        "y = |x| + \\lvert z \\rvert + \\left| w \\right|",
        [("y", "np.abs(x) + np.abs(z) + np.abs(w)")],
    ),
    ("y = |a|b|c|", [("y", "np.abs(a) * b * np.abs(c)")]),
    ("y = 2|x - 1|", [("y", "2 * np.abs(x - 1)")]),
    (
        "y = \\mathrm{lr} \\cdot \\operatorname{softplus}(z)",
        [("y", "lr * _softplus(z)")],
    ),
    ("y = \\operatorname{ReLU}(z) + \\mathrm{relu}(w)", [("y", "_relu(z) + _relu(w)")]),
    ("y = \\mathbb{1}(x \\ge 0) x", [("y", "_step(x, 1.0) * x")]),
    ("y = x \\mathbb{1}[x > 0]", [("y", "x * (x > 0)")]),
    ("y = \\pi r^2", [("y", "np.pi * r**2")]),
    # names
    ("y = y^{*} + y^* + y^\\star", [("y", "y_star + y_star + y_star")]),
    (
        "y = x^{(i)} + \\hat{y} + \\bar{x} + \\tilde{x} + z'",
        [("y", "x_i + y_hat + x_bar + x_tilde + z_prime")],
    ),
    ("y = \\lambda_1 + \\lambda", [("y", "lambda_1 + lambda_")]),
    ("y = w_{12} + h_{t} + h_t + h_{t-1}", [("y", "w_12 + h_t + h_t + h_tm1")]),
    ("y = \\hat y_1 + \\hat{y}_{2}", [("y", "y_hat_1 + y_hat_2")]),
    ("y = x^{2}_{1} + x_1^2", [("y", "x_1**2 + x_1**2")]),
    ("y = \\mathbf{x} + \\boldsymbol{\\theta} + \\text{lr}", [("y", "x + theta + lr")]),
    ("\\ell = \\ell_{\\mathrm{reg}} + \\Sigma", [("ell", "ell_reg + Sigma")]),
    # statements, separators, environments
    ("f(x, y) = x y", [("f", "x * y")]),
    ("a := b", [("a", "b")]),
    ("a \\gets b + 1", [("a", "b + 1")]),
    ("a = b \\\\ c = d", [("a", "b"), ("c", "d")]),
    ("a = b, \\quad c = d;", [("a", "b"), ("c", "d")]),
    ("a = b \\qquad c = d.", [("a", "b"), ("c", "d")]),
    ("a = b,\\; c = d", [("a", "b"), ("c", "d")]),
    ("a = b \\text{ and } c = d", [("a", "b"), ("c", "d")]),
    ("a = b \\hspace{1cm} c = d", [("a", "b"), ("c", "d")]),
    ("a = b \\implies c = d \\Rightarrow e = f", [("a", "b"), ("c", "d"), ("e", "f")]),
    (
        "\\begin{align} a &= b & c &= d \\\\ e &= f \\end{align}",
        [("a", "b"), ("c", "d"), ("e", "f")],
    ),
    (
        "\\begin{align*} a &= b \\nonumber \\\\ c &= d \\label{eq:c} \\end{align*}",
        [("a", "b"), ("c", "d")],
    ),
    (
        "\\begin{equation} \\begin{split} a &= b \\\\ &\\quad + c \\end{split} \\end{equation}",
        [("a", "b + c")],
    ),
    ("\\begin{gather} a = b \\\\ c = d \\end{gather}", [("a", "b"), ("c", "d")]),
    ("\\begin{aligned} a &= b \\\\ &= c \\end{aligned}", [("a", "b")]),
    ("a = b % a comment", [("a", "b")]),
    ("y = x \\quad (x > 0)", [("y", "x")]),
]


def _assignments(latex: str) -> list[tuple[str, str]]:
    loaded = load(f"$${latex}$$\n", "t.md")
    return [
        (s.target.name, NUMPY.code(s.value))
        for s in loaded.statements
        if isinstance(s, Assign)
    ]


@pytest.mark.parametrize("latex, expected", TABLE, ids=[row[0] for row in TABLE])
def test_reading(latex: str, expected: list[tuple[str, str]]):
    assert _assignments(latex) == expected


def test_sigma_assigned_is_a_variable():
    loaded = load("$$\\sigma = 2$$\n$$y = \\sigma(z)$$\n", "t.md")
    assert NUMPY.code(loaded.statements[1].value) == "sigma * z"


def test_sigma_used_unapplied_is_a_variable():
    loaded = load("$$y = \\sigma(z) + \\sigma x$$\n", "t.md")
    assert NUMPY.code(loaded.statements[0].value) == "sigma * z + sigma * x"


def test_e_assigned_is_a_variable():
    loaded = load("$$e = y - t$$\n$$L = e^{2}$$\n", "t.md")
    assert NUMPY.code(loaded.statements[1].value) == "e**2"


def test_pi_assigned_is_a_variable():
    loaded = load("$$\\pi = \\sigma(z)$$\n$$L = \\log \\pi$$\n", "t.md")
    assert NUMPY.code(loaded.statements[1].value) == "np.log(pi)"


def test_front_matter_declares_sigma_a_variable():
    loaded = load("---\nvariables: ['\\sigma']\n---\n$$y = \\sigma(z)$$\n", "t.md")
    assert NUMPY.code(loaded.statements[0].value) == "sigma * z"


@pytest.mark.parametrize(
    "latex, of, wrt, sides",
    [
        ("\\frac{\\partial u}{\\partial w} = x", "u", "w", ["x"]),
        ("\\frac{du}{dw} = x", "u", "w", ["x"]),
        ("\\frac{\\mathrm{d}u}{\\mathrm{d}w} = x", "u", "w", ["x"]),
        ("\\partial u / \\partial w = x", "u", "w", ["x"]),
        ("\\frac{\\partial y}{\\partial v} = e^{v} = y.", "y", "v", ["np.exp(v)", "y"]),
        (
            "\\frac{\\partial \\ell}{\\partial y^{*}} = -2(y - y^{*})",
            "ell",
            "y_star",
            ["-(2 * (y - y_star))"],
        ),
    ],
)
def test_claims(latex: str, of: str, wrt: str, sides: list[str]):
    (claim,) = load(f"$${latex}$$\n", "t.md").statements
    assert isinstance(claim, Claim)
    assert (claim.derivative.of.name, claim.derivative.wrt.name) == (of, wrt)
    assert [NUMPY.code(s) for s in claim.sides] == sides


def test_claims_in_a_chain_rule_line():
    text = "$$\\frac{\\partial \\ell}{\\partial w} = \\frac{\\partial \\ell}{\\partial y} \\frac{\\partial y}{\\partial w}$$\n"
    (claim,) = load(text, "t.md").statements
    assert claim.derivative.of.name == "ell" and len(claim.sides) == 1


def test_several_claims_per_line():
    text = "$$\\frac{\\partial v}{\\partial b} = 1, \\quad \\frac{\\partial v}{\\partial u} = 1$$\n"
    statements = load(text, "t.md").statements
    assert [s.derivative.wrt.name for s in statements] == ["b", "u"]


def test_positions_point_into_the_document():
    text = "# Title\n\n$$\n\\begin{aligned}\nu &= wx \\\\\n  y &= u^{2}\n\\end{aligned}\n$$\n"
    statements = load(text, "t.md").statements
    assert [(s.span.start.line, s.span.start.col) for s in statements] == [
        (5, 1),
        (6, 3),
    ]
    assert statements[1].value.span.start.col == 8


def test_grammar_has_no_conflicts():
    """Built with strict=True, any shift/reduce conflict or terminal collision fails."""
    assert parser(strict=True) is not None
