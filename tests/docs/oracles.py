"""Independent oracles for the valid documents in tests/docs/ (and samples/).

Each entry says, for one document, what a correct compiler must produce:

- ``inputs``: the Python names of the inputs, in the order DESIGN.md prescribes
  (first appearance in assignments, in document order and left to right; or the
  order fixed by the function form ``f(x, y)`` or by the front matter).
- ``output``: the Python name of the output.
- ``expr``: the output as a sympy expression string over the input names, fully
  substituted, written by hand from the document (not by the compiler).
- ``domain``: per-input sampling interval; inputs not listed use ``DEFAULT_DOMAIN``.
  Intervals keep logarithms, roots and divisions away from their singularities.
- ``wrt``: the inputs whose gradients the document's front matter selects, or
  ``None`` for all inputs.

Conventions of the expressions: ``exp``/``log`` are natural, ``pi`` is the
constant, the sigmoid is written out as ``1/(1 + exp(-z))``, ``|z|`` is ``Abs``,
``\\max``/``\\min`` are ``Max``/``Min``. Use ``Oracle.sympy_expr()`` rather than
bare ``sympy.sympify``: input names such as ``beta``, ``gamma`` or ``lambda_`` must be
plain symbols, not sympy functions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

DEFAULT_DOMAIN = (-2.0, 2.0)


@dataclass(frozen=True)
class Oracle:
    inputs: tuple[str, ...]
    output: str
    expr: str
    domain: dict[str, tuple[float, float]] = field(default_factory=dict)
    wrt: tuple[str, ...] | None = None

    def symbols(self):
        """The inputs as sympy symbols, in input order (all real)."""
        import sympy

        return tuple(sympy.Symbol(name, real=True) for name in self.inputs)

    def sympy_expr(self):
        """The output as a sympy expression over `symbols()`."""
        import sympy

        names = {s.name: s for s in self.symbols()}
        return sympy.sympify(self.expr, locals=names)

    def interval(self, name: str) -> tuple[float, float]:
        return self.domain.get(name, DEFAULT_DOMAIN)

    def sample(self, rng: random.Random) -> dict[str, float]:
        """A random point inside the domain, keyed by input name."""
        return {name: rng.uniform(*self.interval(name)) for name in self.inputs}

    def gradient_names(self) -> tuple[str, ...]:
        """The fields of `backward`'s result, in order."""
        return self.inputs if self.wrt is None else self.wrt


_SIG = "1/(1 + exp(-({})))"


def _sigmoid(arg: str) -> str:
    return _SIG.format(arg)


ORACLES: dict[str, Oracle] = {
    "implicit_product": Oracle(
        inputs=("x", "y", "w", "z"),
        output="ell",
        expr="(2*x*y + w*z)**2/2",
    ),
    "operators": Oracle(
        inputs=("w", "x", "s", "t"),
        output="ell",
        expr="(w*x*s/t)**2/2",
        domain={"t": (0.5, 2.0)},
    ),
    "fractions": Oracle(
        inputs=("a", "b"),
        output="r",
        expr="((a + b)/2 - 2*a*b/(a + b))**2/2/a + ((a + b)/2 - 2*a*b/(a + b))**2/2/b",
        domain={"a": (0.5, 2.0), "b": (0.5, 2.0)},
    ),
    "powers": Oracle(
        inputs=("c_0", "c_1", "x", "c_2", "c_3", "n"),
        output="s",
        expr="((c_0 + c_1*x + c_2*x**2 + c_3*x**3)/x)**n",
        domain={
            "c_0": (0.1, 1.0),
            "c_1": (0.1, 1.0),
            "c_2": (0.1, 1.0),
            "c_3": (0.1, 1.0),
            "x": (0.5, 2.0),
            "n": (0.5, 2.0),
        },
    ),
    "exponentials": Oracle(
        inputs=("t", "k"),
        output="y",
        expr="exp(k)*exp(-t**2) + exp(-k*t)",
    ),
    "logarithms": Oracle(
        inputs=("q", "p", "c"),
        output="J",
        expr=(
            "-q*log(p)/log(2) - (1 - q)*log(1 - p)/log(2)"
            " + c*(p*log(p/q) + (1 - p)*log((1 - p)/(1 - q)))"
        ),
        domain={"q": (0.1, 0.9), "p": (0.1, 0.9), "c": (0.0, 1.0)},
    ),
    "roots": Oracle(
        inputs=("x_1", "x_2", "y_1", "y_2", "v"),
        output="s",
        expr="sqrt((x_1 - x_2)**2 + (y_1 - y_2)**2)/v**(1/3)",
        domain={"x_1": (1.0, 2.0), "x_2": (-2.0, -1.0), "v": (0.5, 2.0)},
    ),
    "trigonometry": Oracle(
        inputs=("t", "z"),
        output="y",
        expr="(sin(2*t) + cos(t))*tan(t) + sinh(z)*cosh(z) - tanh(2*z)",
        domain={"t": (-1.0, 1.0)},
    ),
    "polar": Oracle(
        inputs=("r", "theta", "a", "b"),
        output="d",
        expr="(r*cos(theta) - a)**2 + (r*sin(theta) - b)**2",
        domain={"r": (0.5, 2.0)},
    ),
    "sigmoid_gate": Oracle(
        inputs=("w_g", "x", "b_g", "c", "u"),
        output="c_prime",
        expr="{g}*c + (1 - {g})*tanh(u*x)".format(g=_sigmoid("w_g*x + b_g")),
    ),
    "hinge_relu": Oracle(
        inputs=("w", "x", "b", "t"),
        output="L",
        expr="Max(0, 1 - t*(w*x + b)) + Min(Max(0, w*x + b), 6)/10",
    ),
    "absolute_value": Oracle(
        inputs=("w", "x", "y", "c"),
        output="L",
        expr="Abs(w*x - y) + c*Abs(w)",
    ),
    "greek_letters": Oracle(
        inputs=("y", "theta", "x", "alpha", "beta", "lambda_"),
        output="ell",
        expr="(y - theta*x)**2 + lambda_*(alpha*Abs(theta) + beta*theta**2)",
    ),
    "decorated_names": Oracle(
        inputs=("x_i", "epsilon", "x_bar", "w", "y_star"),
        output="ell",
        expr=(
            "(w*(x_i + epsilon - x_bar) - y_star)**2/2"
            " + Abs(w*(x_i + epsilon - x_bar) - y_star)/10"
        ),
    ),
    "named_symbols": Oracle(
        inputs=("w", "x", "y", "decay", "lr"),
        output="loss",
        expr="(((1 - decay)*w - lr*2*(w*x - y)*x)*x - y)**2",
        domain={"decay": (0.0, 0.1), "lr": (0.0, 0.5)},
    ),
    "separators": Oracle(
        inputs=("x", "y"),
        output="f",
        expr="(3*((x + y)*(x - y) + (x + y)**2) - (x - y))**2",
    ),
    "chained_claims": Oracle(
        inputs=("w", "x", "b", "t"),
        output="L",
        expr="(tanh(w*x + b) - t)**2/2",
    ),
    "trailing_punctuation": Oracle(
        inputs=("w", "x", "b", "t"),
        output="L",
        expr="(exp(w*x - b) - t)**2/2",
    ),
    "align_env": Oracle(
        inputs=("w", "x", "b", "y"),
        output="C",
        expr="({} - y)**2/2".format(_sigmoid("w*x + b")),
    ),
    "align_star": Oracle(
        inputs=("w_1", "x", "w_2"),
        output="o",
        expr="(tanh(w_1*x) + tanh(w_2*x))**2",
    ),
    "aligned_env": Oracle(
        inputs=("z_1", "z_2"),
        output="L",
        expr="-log(exp(z_1)/(exp(z_1) + exp(z_2)))",
    ),
    "split_equation": Oracle(
        inputs=("sigma", "x", "mu"),
        output="ell",
        expr="log(2*pi*sigma**2)/2 + (x - mu)**2/(2*sigma**2)",
        domain={"sigma": (0.5, 2.0)},
    ),
    "gather_env": Oracle(
        inputs=("alpha", "x"),
        output="q",
        expr="sqrt(log(1 + exp(alpha*x))**2 + 1)",
    ),
    "math_fence": Oracle(
        inputs=("w_1", "x", "b_1", "w_2", "b_2", "y"),
        output="L",
        expr="(w_2*tanh(w_1*x + b_1) + b_2 - y)**2",
    ),
    "bracket_display": Oracle(
        inputs=("x", "y", "rho_star"),
        output="J",
        expr="(log(1 + sqrt(x**2 + y**2)) - rho_star)**2",
        domain={"x": (0.5, 2.0)},
    ),
    "multiline_dollars": Oracle(
        inputs=("w_11", "x_1", "w_12", "x_2", "b", "t"),
        output="E",
        expr="({} - t)**2/2".format(_sigmoid("w_11*x_1 + w_12*x_2 + b")),
    ),
    "function_form": Oracle(
        inputs=("x", "y"),
        output="f",
        expr="y**2 + 3*x*y*sin(x)",
    ),
    "out_of_order": Oracle(
        inputs=("t", "w", "x", "b"),
        output="L",
        expr="({} - t)**2".format(_sigmoid("w*x + b")),
    ),
    "repeated_assignments": Oracle(
        inputs=("w", "x", "y_star"),
        output="ell",
        expr="(exp(w*x) - y_star)**2",
    ),
    "front_matter_output": Oracle(
        inputs=("w", "x"),
        output="L",
        expr="-log({})".format(_sigmoid("w*x")),
    ),
    "front_matter_inputs": Oracle(
        inputs=("x", "w", "b"),
        output="y",
        expr="(w*x + b)**2 + log(1 + (w*x + b)**2)",
        wrt=("w",),
    ),
    "code_and_inline": Oracle(
        inputs=("w", "x", "b"),
        output="L",
        expr="log(1 + exp(-(w*x + b)))",
    ),
    "brackets_unary": Oracle(
        inputs=("w", "x", "b", "c"),
        output="L",
        expr="-(-(b - w*x)**2 + (c - (b - w*x))**2 + (-(b - w*x))**3)/2",
    ),
    "error_term_e": Oracle(
        inputs=("w", "x", "b", "y"),
        output="J",
        expr="(w*x + b - y)**2/2",
    ),
    "batch_norm": Oracle(
        inputs=("v", "epsilon", "x", "m", "gamma", "beta", "t"),
        output="ell",
        expr="(gamma*(x - m)/sqrt(v + epsilon) + beta - t)**2",
        domain={"v": (0.5, 2.0), "epsilon": (0.001, 0.1)},
    ),
    "juxtaposed_parentheses": Oracle(
        inputs=("x", "tau", "a", "delta", "q"),
        output="L",
        expr="(tau*(a - x*(1 - x)) + delta*(a - q))**2",
    ),
    "assignment_operators": Oracle(
        inputs=("w", "x", "b", "t"),
        output="L",
        expr="(tanh(w*x + b) - t)**2",
    ),
    "recurrent_step": Oracle(
        inputs=("w_hh", "h_0", "w_xh", "x_t", "b_h", "w_hy", "d_t"),
        output="E",
        expr="(w_hy*tanh(w_hh*h_0 + w_xh*x_t + b_h) - d_t)**2/2",
    ),
    "empty_block": Oracle(
        inputs=("theta", "x"),
        output="ell",
        expr="log(1 + (theta*x)**2)",
    ),
    "claims_first": Oracle(
        inputs=("beta", "x", "alpha"),
        output="L",
        expr="(beta*x + alpha)**2",
    ),
    "lambda_names": Oracle(
        inputs=("y", "w", "x", "lambda_1", "lambda_2", "lambda_"),
        output="ell",
        expr="(y - w*x)**2 + lambda_*(lambda_1*Abs(w) + lambda_2*w**2)",
    ),
}


# The four documents in samples/, keyed by file stem.
SAMPLES: dict[str, Oracle] = {
    "backprop": Oracle(
        inputs=("w", "x", "b", "y_star"),
        output="ell",
        expr="(exp(w*x + b) - y_star)**2",
    ),
    "logistic_regression": Oracle(
        inputs=("w_1", "x_1", "w_2", "x_2", "b", "y"),
        output="L",
        expr="-(y*log({p}) + (1 - y)*log(1 - {p}))".format(
            p=_sigmoid("w_1*x_1 + w_2*x_2 + b")
        ),
        domain={"y": (0.0, 1.0)},
        wrt=("w_1", "w_2", "b"),
    ),
    "two_layer_tanh": Oracle(
        inputs=(
            "w_11",
            "x_1",
            "w_12",
            "x_2",
            "b_1",
            "w_21",
            "w_22",
            "b_2",
            "v_1",
            "v_2",
            "c",
            "y",
        ),
        output="E",
        expr=(
            "(v_1*tanh(w_11*x_1 + w_12*x_2 + b_1)"
            " + v_2*tanh(w_21*x_1 + w_22*x_2 + b_2) + c - y)**2/2"
        ),
    ),
    "staged_function": Oracle(
        inputs=("x", "y"),
        output="f",
        expr="(x + {sy})/({sx} + (x + y)**2)".format(
            sx=_sigmoid("x"), sy=_sigmoid("y")
        ),
    ),
}
