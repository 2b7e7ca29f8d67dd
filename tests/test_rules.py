"""Every derivative rule, against sympy and against central finite differences.

Each operation gets a one-equation document `y = <op>`; both backends must give
the value and gradients sympy gives, and gradients must match finite differences.
"""

from __future__ import annotations

import random

import pytest
import sympy
from conftest import central_difference, compile_latex, import_module_text

from eqcompiler.rules import FUNCTIONS

x, z = sympy.symbols("x z", real=True)
POS = (0.2, 3.0)
ANY = (-3.0, 3.0)
UNIT = (-0.9, 0.9)
MODULES = [{"Heaviside": lambda v, *_: float(v > 0)}, "math"]

# name: (LaTeX right side, sympy expression, domain of x, domain of z)
OPERATIONS = {
    "add": ("x + z", x + z, ANY, ANY),
    "sub": ("x - z", x - z, ANY, ANY),
    "mul": ("x z", x * z, ANY, ANY),
    "div": ("\\frac{x}{z}", x / z, ANY, POS),
    "neg": ("-x + z", -x + z, ANY, ANY),
    "pow_const": ("x^{3} + z", x**3 + z, ANY, ANY),
    "pow_negative": ("x^{-2} + z", x**-2 + z, POS, ANY),
    "pow_var": ("x^{z}", x**z, POS, ANY),
    "root": ("\\sqrt[3]{x} + z", x ** sympy.Rational(1, 3) + z, POS, ANY),
    "exp": ("e^{x z}", sympy.exp(x * z), ANY, ANY),
    "log": ("\\log(x z)", sympy.log(x * z), POS, POS),
    "log_base": ("\\log_{2} x + z", sympy.log(x, 2) + z, POS, ANY),
    "sqrt": ("\\sqrt{x + z}", sympy.sqrt(x + z), POS, POS),
    "sin": ("\\sin(x z)", sympy.sin(x * z), ANY, ANY),
    "cos": ("\\cos(x z)", sympy.cos(x * z), ANY, ANY),
    "tan": ("\\tan(x) z", sympy.tan(x) * z, UNIT, ANY),
    "sinh": ("\\sinh(x) z", sympy.sinh(x) * z, ANY, ANY),
    "cosh": ("\\cosh(x) z", sympy.cosh(x) * z, ANY, ANY),
    "tanh": ("\\tanh(x z)", sympy.tanh(x * z), ANY, ANY),
    "arcsin": ("\\arcsin(x) z", sympy.asin(x) * z, UNIT, ANY),
    "arccos": ("\\arccos(x) z", sympy.acos(x) * z, UNIT, ANY),
    "arctan": ("\\arctan(x) z", sympy.atan(x) * z, ANY, ANY),
    "sigmoid": ("\\sigma(x z)", 1 / (1 + sympy.exp(-x * z)), ANY, ANY),
    "softplus": (
        "\\operatorname{softplus}(x) z",
        sympy.log(1 + sympy.exp(x)) * z,
        ANY,
        ANY,
    ),
    "relu": ("\\operatorname{ReLU}(x) z", sympy.Max(0, x) * z, ANY, ANY),
    "abs": ("|x| z", sympy.Abs(x) * z, ANY, ANY),
    "logaddexp": (
        "\\log(e^{x} + e^{z})",
        sympy.log(sympy.exp(x) + sympy.exp(z)),
        ANY,
        ANY,
    ),
    "sigmoid_by_hand": (
        "\\frac{1}{1 + e^{-x z}}",
        1 / (1 + sympy.exp(-x * z)),
        ANY,
        ANY,
    ),
    "softplus_by_hand": (
        "\\log(1 + e^{x}) z",
        sympy.log(1 + sympy.exp(x)) * z,
        ANY,
        ANY,
    ),
    "max": ("\\max(x, z)", sympy.Max(x, z), ANY, ANY),
    "min": ("\\min(x, z)", sympy.Min(x, z), ANY, ANY),
    "indicator": ("\\mathbb{1}(x > 0) z", sympy.Heaviside(x) * z, ANY, ANY),
    "constants": ("\\pi x + e z", sympy.pi * x + sympy.E * z, ANY, ANY),
}

# Which IR function each operation exercises; every FUNCTIONS entry must appear.
COVERS = {
    "exp": "exp", "log": "log", "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsin": "arcsin",
    "arccos": "arccos", "arctan": "arctan", "sigmoid": "sigmoid", "softplus": "softplus",
    "relu": "relu", "abs": "abs", "max": "max", "min": "min", "logaddexp": "logaddexp",
}  # fmt: skip


def test_every_function_has_a_rule_and_a_test():
    untested = (
        set(FUNCTIONS) - set(COVERS.values()) - {"sign"}
    )  # sign: only inside abs'
    assert not untested, f"functions without a rule test: {sorted(untested)}"


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_rule(name: str, backend: str, tmp_path):
    latex, expr, x_domain, z_domain = OPERATIONS[name]
    inputs = [s for s in (x, z) if s in expr.free_symbols]
    module = import_module_text(compile_latex(f"$$y = {latex}$$\n", backend), tmp_path)
    value = sympy.lambdify(inputs, expr, MODULES)
    derivatives = {
        s.name: sympy.lambdify(
            inputs, sympy.diff(expr, s).subs(sympy.DiracDelta(x), 0), MODULES
        )
        for s in inputs
    }
    rng = random.Random(name)
    for _ in range(6):
        point = {"x": rng.uniform(*x_domain), "z": rng.uniform(*z_domain)}
        point = {s.name: point[s.name] for s in inputs}
        args = list(point.values())
        got, gradients = module.value_and_grad(**point)
        assert float(got) == pytest.approx(value(*args), rel=1e-10, abs=1e-12)
        for s in inputs:
            exact = float(derivatives[s.name](*args))
            numeric = central_difference(module.forward, point, s.name)
            assert float(getattr(gradients, s.name)) == pytest.approx(
                exact, rel=1e-8, abs=1e-10
            )
            assert float(getattr(gradients, s.name)) == pytest.approx(
                numeric, rel=1e-5, abs=1e-6
            )


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_kinks_have_derivative_zero(backend: str, tmp_path):
    """DESIGN.md: at the kink of max, min and |z| the derivative is 0."""
    module = import_module_text(
        compile_latex("$$y = \\max(0, a) + \\min(b, 0) + |c|$$\n", backend), tmp_path
    )
    gradients = module.backward(a=0.0, b=0.0, c=0.0)
    assert [float(g) for g in gradients] == [0.0, 0.0, 0.0]
