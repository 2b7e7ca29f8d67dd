"""Generated code stays finite, without warnings, at extreme inputs (±1000)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import compile_latex, import_module_text
from hypothesis import given, settings
from hypothesis import strategies as st

STABLE = {
    "sigmoid": "$$y = \\sigma(z)$$",
    "sigmoid_by_hand": "$$y = \\frac{1}{1 + e^{-z}}$$",
    "softplus_by_hand": "$$y = \\log(1 + e^{z})$$",
    "softplus": "$$y = \\operatorname{softplus}(z)$$",
    "log_sigmoid": "$$p = \\sigma(z)$$\n$$y = \\log p$$",
    "cross_entropy": "$$p = \\sigma(z)$$\n$$y = -(t \\log p + (1 - t) \\log(1 - p))$$",
    "logsumexp": "$$y = \\log(e^{z} + e^{2z})$$",
}


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("name", sorted(STABLE))
def test_finite_at_extremes(name: str, backend: str, tmp_path):
    module = import_module_text(compile_latex(STABLE[name], backend), tmp_path)
    for z in (-1000.0, -30.0, 0.0, 30.0, 1000.0):
        inputs = {"z": z}
        if (
            "t"
            in module.forward.__code__.co_varnames[
                : module.forward.__code__.co_argcount
            ]
        ):
            inputs["t"] = 0.3
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="raise", divide="raise", invalid="raise"):
                value, gradients = module.value_and_grad(**inputs)
        assert math.isfinite(float(value)), (z, value)
        assert all(math.isfinite(float(g)) for g in gradients), (z, gradients)


def test_numpy_arrays_at_extremes(tmp_path):
    module = import_module_text(compile_latex(STABLE["sigmoid_by_hand"]), tmp_path)
    z = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value, gradients = module.value_and_grad(z=z)
    np.testing.assert_allclose(
        value, [0.0, 1 / (1 + math.e), 0.5, 1 / (1 + 1 / math.e), 1.0]
    )
    assert np.all(np.isfinite(gradients.z))


# Forms written by hand that eqcompiler computes stably (stable.py), at ±1000.
MORE_STABLE = {
    "sigmoid_ratio": "$$y = \\frac{e^{z}}{1 + e^{z}}$$",
    "sigmoid_exp_first": "$$y = \\frac{1}{e^{-z} + 1}$$",
    "softplus_ln_exp": "$$y = \\ln\\left(1 + \\exp(z)\\right)$$",
    "softplus_of_minus": "$$y = \\log(1 + e^{-z})$$",
    "log_of_sigmoid_inline": "$$y = -\\log \\sigma(z)$$",
    "log_one_minus_sigmoid": "$$y = \\log(1 - \\sigma(z))$$",
    "logsumexp_three": "$$y = \\log(e^{z} + e^{-z} + e^{2z})$$",
    "logsumexp_with_one": "$$y = \\log(1 + e^{z} + e^{-2z})$$",
    "softmax_of_two": "$$y = \\frac{e^{z}}{e^{z} + e^{-z}}$$",
    "tanh_by_hand": "$$y = \\frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}$$",
}


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("name", sorted(MORE_STABLE))
def test_more_forms_finite_at_extremes(name: str, backend: str, tmp_path):
    module = import_module_text(compile_latex(MORE_STABLE[name], backend), tmp_path)
    for z in (-1000.0, -30.0, 0.5, 30.0, 1000.0):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="raise", divide="raise", invalid="raise"):
                value, gradients = module.value_and_grad(z=z)
        assert math.isfinite(float(value)), (z, value)
        assert math.isfinite(float(gradients.z)), (z, gradients)


def test_stable_forms_keep_their_values(tmp_path):
    z = 0.7
    expected = {
        "logsumexp_three": math.log(math.exp(z) + math.exp(-z) + math.exp(2 * z)),
        "logsumexp_with_one": math.log(1 + math.exp(z) + math.exp(-2 * z)),
        "softmax_of_two": math.exp(z) / (math.exp(z) + math.exp(-z)),
        "tanh_by_hand": math.tanh(z),
    }
    for name, value in expected.items():
        for backend in ("numpy", "math"):
            code = compile_latex(MORE_STABLE[name], backend)
            module = import_module_text(code, tmp_path)
            assert float(module.forward(z=z)) == pytest.approx(value, rel=1e-14)


# ---- float32 ------------------------------------------------------------------------


def _operations():
    from test_rules import OPERATIONS

    return OPERATIONS


@pytest.mark.parametrize("name", sorted(_operations()))
def test_float32_stays_float32(name: str, tmp_path):
    """Values and gradients of float32 inputs are float32 (arrays and numpy scalars):
    constants are Python floats, indicators _step, constant gradients cast."""
    latex, expr, x_domain, z_domain = _operations()[name]
    module = import_module_text(compile_latex(f"$$y = {latex}$$\n"), tmp_path)
    names = module.forward.__code__.co_varnames[: module.forward.__code__.co_argcount]
    domains = {"x": x_domain, "z": z_domain}
    arrays = {n: np.linspace(*domains[n], 5, dtype=np.float32) for n in names}
    for inputs in (arrays, {n: a[1] for n, a in arrays.items()}):
        value, gradients = module.value_and_grad(**inputs)
        assert np.asarray(value).dtype == np.float32, name
        for field, gradient in gradients._asdict().items():
            assert np.asarray(gradient).dtype == np.float32, (name, field)


@pytest.mark.parametrize(
    "latex",
    [
        "y = \\log_{2} x + \\cos(\\pi) x",  # np.log(2): a float64 scalar
        "y = x + x",  # a constant gradient
        "y = \\mathbb{1}(x > 0) + 2 \\mathbb{1}(x > 1)",  # indicators
        "y = \\max(x - x, 1.5 x)",  # a constant times a truth value
        "y = \\sigma(3) x + \\sqrt[3]{e} x",  # constant calls
    ],
)
def test_float32_with_constants(latex: str, tmp_path):
    module = import_module_text(compile_latex(f"$${latex}$$\n"), tmp_path)
    x = np.array([0.5, 1.5, 2.5], dtype=np.float32)
    value, gradients = module.value_and_grad(x=x)
    assert np.asarray(value).dtype == np.float32
    assert gradients.x.dtype == np.float32


# ---- outside a function's domain (README, "Numerics") -----------------------------------

DOMAIN = {
    "log of 0": ("$$y = \\log x$$", 0.0),
    "log of -1": ("$$y = \\log x$$", -1.0),
    "sqrt of -1": ("$$y = \\sqrt{x}$$", -1.0),
    "arcsin of 2": ("$$y = \\arcsin(x)$$", 2.0),
    "division by 0": ("$$y = \\frac{1}{x}$$", 0.0),
    "negative power of 0": ("$$y = x^{-2}$$", 0.0),
    "fractional power of -1": ("$$y = x^{1.5}$$", -1.0),
    "power of -1 by a symbol": ("$$a = 2.5$$\n$$y = x^{a} + a$$", -1.0),
}


@pytest.mark.parametrize("case", sorted(DOMAIN))
def test_numpy_gives_nan_or_inf_with_a_warning(case: str, tmp_path):
    latex, x = DOMAIN[case]
    module = import_module_text(compile_latex(latex), tmp_path)
    with pytest.warns(RuntimeWarning):
        value, gradients = module.value_and_grad(x=np.array([x, 0.5]))
    assert not np.isfinite(value[0]) or not np.isfinite(gradients.x[0])
    assert np.isfinite(value[1]) and np.isfinite(gradients.x[1])


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_a_negative_number_to_a_fractional_power_is_never_complex(backend, tmp_path):
    """Python's `**` gives a complex number there (fuzz/regressions/
    fractional-power-of-a-negative-number.md): the generated code must not."""
    latex = "$$y = (x - t)^{a}$$"
    module = import_module_text(compile_latex(latex, backend), tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value, gradients = module.value_and_grad(x=0.5, t=2.0, a=2.7)
            forward = module.forward(x=0.5, t=2.0, a=2.7)
        except ValueError:  # math: a domain error
            assert backend == "math"
            return
    assert backend == "numpy"
    for number in (value, forward, *gradients):
        assert not np.iscomplexobj(number) and np.isnan(number)


@pytest.mark.parametrize("case", sorted(DOMAIN))
def test_math_raises(case: str, tmp_path):
    latex, x = DOMAIN[case]
    module = import_module_text(compile_latex(latex, "math"), tmp_path)
    with pytest.raises((ValueError, ZeroDivisionError)):
        module.value_and_grad(x=x)


# ---- kinks (DESIGN.md: the derivative at a kink is 0) ------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_relu_and_indicator_at_their_kinks(backend: str, tmp_path):
    code = compile_latex(
        "$$y = \\operatorname{ReLU}(a) + \\mathbb{1}(b > 0) + |c| + \\max(d, 0)$$\n",
        backend,
    )
    module = import_module_text(code, tmp_path)
    gradients = module.backward(a=0.0, b=0.0, c=0.0, d=0.0)
    assert [float(g) for g in gradients] == [0.0, 0.0, 0.0, 0.0]
    gradients = module.backward(a=1.0, b=1.0, c=-1.0, d=1.0)
    assert [float(g) for g in gradients] == [1.0, 0.0, -1.0, 1.0]


# ---- quotients written with a power -------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_a_quotient_written_with_a_power_reuses_the_quotient(backend: str, tmp_path):
    """`f = n \\cdot d^{-1}` is `n / d`: its derivative by d is `-f / d`, not a new
    power `d^{-2}` (a slow `np.power` call on arrays)."""
    latex = "$$d = x^{2} + 1$$\n$$f = (x + y) \\cdot d^{-1}$$"
    source = compile_latex(latex, backend)
    assert "** -2" not in source and "**-2" not in source
    module = import_module_text(source, tmp_path)
    x, y = 0.7, -0.3
    value, gradients = module.value_and_grad(x=x, y=y)
    d = x**2 + 1
    assert float(value) == pytest.approx((x + y) / d, rel=1e-15)
    assert float(gradients.x) == pytest.approx(1 / d - (x + y) * 2 * x / d**2)
    assert float(gradients.y) == pytest.approx(1 / d)


# ---- the helpers of the two backends agree -------------------------------------------

SPECIAL = [-math.inf, -1000.0, -30.0, -1.0, -0.0, 0.0, 0.5, 30.0, 1000.0, math.inf]


def _helpers(backend: str) -> dict:
    from eqcompiler.resources import data_dir

    text = (data_dir("templates") / f"helpers_{backend}.py").read_text("utf-8")
    namespace: dict = {}
    exec(compile(text, f"helpers_{backend}.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", ["_sigmoid", "_softplus", "_relu"])
def test_math_helpers_agree_with_numpy_helpers_at_special_values(name: str):
    """The scalar helpers branch instead of calling max/abs (a third of the time);
    they give numpy's values everywhere, and nan for nan."""
    scalar, array = _helpers("math")[name], _helpers("numpy")[name]
    with np.errstate(all="ignore"):
        expected = array(np.array(SPECIAL + [math.nan]))
    for z, want in zip(SPECIAL + [math.nan], expected, strict=True):
        got = scalar(z)
        assert type(got) is float, (z, got)
        if math.isnan(want):
            assert math.isnan(got), z
        else:
            assert got == pytest.approx(float(want), rel=1e-15, abs=0), z


@pytest.mark.parametrize("a", SPECIAL + [math.nan])
@pytest.mark.parametrize("b", [-1000.0, -0.5, 0.0, 2.0, 1000.0, math.inf, math.nan])
def test_math_logaddexp_agrees_with_numpy(a: float, b: float):
    with np.errstate(all="ignore"):
        want = float(np.logaddexp(a, b))
    got = _helpers("math")["_logaddexp"](a, b)
    if math.isnan(want):
        assert math.isnan(got), (a, b)
    else:
        assert got == pytest.approx(want, rel=1e-15, abs=0), (a, b)


# ---- negations moved and cancelled --------------------------------------------------


def _value_of(expr, env: dict[str, float]) -> float:
    from eqcompiler.ir import Add, Div, Mul, Neg, Sub, Sym

    match expr:
        case Sym(name=name):
            return env[name]
        case Neg(operand=operand):
            return -_value_of(operand, env)
        case Add(left=left, right=right):
            return _value_of(left, env) + _value_of(right, env)
        case Sub(left=left, right=right):
            return _value_of(left, env) - _value_of(right, env)
        case Mul(left=left, right=right):
            return _value_of(left, env) * _value_of(right, env)
        case Div(left=left, right=right):
            b = _value_of(right, env)
            return _value_of(left, env) / b if b else math.nan
    raise AssertionError(expr)


def _sign_forms():
    from eqcompiler.ir import Add, Div, Mul, Neg, Sub, Sym

    a, b = Sym("a"), Sym("b")
    for op in (Add, Sub, Mul, Div):
        yield op(Neg(a), b)
        yield op(a, Neg(b))
        yield op(Neg(a), Neg(b))
        yield Neg(op(Neg(a), Neg(b)))
    yield Neg(Neg(a))
    yield Neg(Sub(a, b))


@given(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True),
)
@settings(max_examples=300, derandomize=True)
def test_moving_negations_keeps_every_value(a: float, b: float):
    """Each rule of stable._signs gives the same number as the form it replaces, at
    any two floats (infinities and nan too; 0 and -0 are the same number)."""
    from eqcompiler.stable import rewrite

    env = {"a": a, "b": b}
    for form in _sign_forms():
        before, after = _value_of(form, env), _value_of(rewrite(form), env)
        assert before == after or (math.isnan(before) and math.isnan(after)), form


def test_a_cross_entropy_has_no_negation_left():
    """`-(y \\log p + (1 - y) \\log(1 - p))` with p = sigmoid(z) is
    `y softplus(-z) + (1 - y) softplus(z)`: no pass spent negating a logarithm or
    the sum. The two softpluses share log(1 + e^-|z|) (share_exponentials), whose
    e^-|z| is the one negation."""
    source = compile_latex(STABLE["cross_entropy"], "numpy")
    forward = source.split("def forward")[1].split("def backward")[0]
    assert "-_softplus" not in forward and "_softplus(" not in forward
    assert forward.count("np.negative(") == 1
    assert "log1p_e_z = np.negative(log1p_e_z" in forward
    assert "y = -z\n" in forward and "np.maximum(z, 0)" in forward


@pytest.mark.parametrize("power", ["-2", "2", "3"])
def test_forward_rounds_a_whole_power_as_value_and_grad_does(power: str, tmp_path):
    """Found by the program campaign: forward wrote `(\\cosh \\cos u)^{-2}` into a
    spare array as np.power(..., -2.0, out=...), value_and_grad as `t**-2.0`; on
    numpy scalars (Python float inputs) 1 in 20 differ in the last bit. A whole
    power is `**` wherever it is printed, a square np.square."""
    latex = f"$$u = \\pi - x - a$$\n$$v = (\\cosh \\cos(u))^{{{power}}}$$\n"
    module = import_module_text(compile_latex(latex, "numpy"), tmp_path)
    rng = np.random.default_rng(4375)
    for a, x in rng.uniform(0.05, 2.0, size=(400, 2)):
        assert module.forward(x=x, a=a) == module.value_and_grad(x=x, a=a)[0]
