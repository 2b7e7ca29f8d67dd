"""share.share_exponentials: on floats, the sigmoids and softpluses of ±z read one
e^{-|z|} (and one log(1 + e^{-|z|})), and give the helpers' values to the bit; on
arrays, the softpluses of ±z read one log(1 + e^{-|z|}), and sigmoids that share an
argument with a softplus read its e^{-|z|}."""

from __future__ import annotations

import math
import random
import struct

import numpy as np
import pytest
from conftest import compile_latex, import_module_text

from eqcompiler.backends import MATH, NUMPY
from eqcompiler.codegen import _helper_sources
from eqcompiler.ir import SIGMOID_GIVEN, SOFTPLUS_GIVEN, Add, Call, Mul, Neg, Sym
from eqcompiler.memory import Statement
from eqcompiler.resources import data_dir
from eqcompiler.share import share_exponentials

VALUES = [-math.inf, -1000.0, -710.0, -40.0, -1.0, -1e-300, -5e-324, -0.0]
VALUES += [-v for v in reversed(VALUES)] + [math.nan, 0.3, 17.5, 709.7]
random.seed(6)
VALUES += [random.gauss(0.0, 10.0) for _ in range(200)]


def _helpers() -> dict:
    text = (data_dir("templates") / "helpers_math.py").read_text("utf-8")
    namespace: dict = {}
    exec(compile(text, "helpers_math.py", "exec"), namespace)
    return namespace


def _bits(value: float) -> bytes:
    return b"nan" if math.isnan(value) else struct.pack("<d", value)


def _sigmoid(z, e):
    return Call(SIGMOID_GIVEN, (z, e))


def _softplus(z, logarithm):
    return Call(SOFTPLUS_GIVEN, (z, logarithm))


@pytest.mark.parametrize("negated", [False, True])
@pytest.mark.parametrize("helper", ["_sigmoid", "_softplus"])
def test_the_printed_forms_give_the_helpers_bits(helper: str, negated: bool):
    z, e, ell = Sym("z"), Sym("e"), Sym("ell")
    argument = Neg(z) if negated else z
    if helper == "_sigmoid":
        code = MATH.code(_sigmoid(argument, e))
    else:
        code = MATH.code(_softplus(argument, ell))
    printed = eval(f"lambda z, e, ell: {code}", {"math": math})
    function = _helpers()[helper]
    for value in VALUES:
        shared = math.exp(-abs(value))
        got = printed(value, shared, math.log1p(shared))
        want = function(-value if negated else value)
        assert type(got) is float
        assert _bits(got) == _bits(want), (helper, value, got, want)


def _share(*statements: Statement):
    shared = share_exponentials(list(statements), lambda wanted: wanted)
    return list(shared.statements), [
        [(s.target, MATH.code(s.value)) for s, _ in before] for before in shared.before
    ]


def test_one_call_of_an_argument_is_left_alone():
    z = Sym("z")
    body = (Statement("p", Call("sigmoid", (z,))), Statement("q", Call("exp", (z,))))
    statements, before = _share(*body)
    assert statements == list(body)
    assert before == [[], []]


def test_sigmoid_and_softplus_of_z_and_minus_z_share_one_exponential():
    z, y = Sym("z"), Sym("y")
    sigmoid = Statement("p", Call("sigmoid", (z,)))
    loss = Statement(
        "L",
        Add(
            Mul(y, Call("softplus", (Neg(z),))),
            Call("softplus", (z,)),
        ),
    )
    statements, before = _share(sigmoid, loss)
    assert before == [
        [("e_z", "math.exp(-abs(z))")],
        [("log1p_e_z", "math.log1p(e_z)")],
    ]
    assert MATH.code(statements[0].value) == "(1.0 if z >= 0 else e_z) / (1.0 + e_z)"
    assert MATH.code(statements[1].value) == (
        "y * ((-z if -z > 0 else 0.0) + log1p_e_z) + ((z if z > 0 else 0.0) + log1p_e_z)"
    )


def test_one_softplus_takes_the_logarithm_inline():
    z = Sym("z")
    body = (
        Statement("p", Call("sigmoid", (z,))),
        Statement("s", Call("softplus", (z,))),
    )
    statements, before = _share(*body)
    assert before == [[("e_z", "math.exp(-abs(z))")], []]
    assert MATH.code(statements[1].value) == "(z if z > 0 else 0.0) + math.log1p(e_z)"


def test_a_name_bound_to_minus_z_is_read_as_z():
    z = Sym("z")
    body = (
        Statement("p", Call("sigmoid", (z,))),
        Statement("t", Neg(z)),
        Statement("q", Call("sigmoid", (Sym("t"),))),
    )
    statements, before = _share(*body)
    assert before == [[("e_z", "math.exp(-abs(z))")], [], []]
    assert MATH.code(statements[2].value) == "(1.0 if t >= 0 else e_z) / (1.0 + e_z)"


def test_a_name_bound_again_is_another_argument():
    z = Sym("z")
    body = (
        Statement("p", Call("sigmoid", (z,))),
        Statement("z", Mul(z, z)),
        Statement("q", Call("sigmoid", (z,))),
    )
    statements, before = _share(*body)
    assert statements == list(body)
    assert before == [[], [], []]


def test_an_alias_of_minus_z_goes_stale_when_z_is_bound_again():
    z, t = Sym("z"), Sym("t")
    body = (
        Statement("t", Neg(z)),
        Statement("p", Call("sigmoid", (t,))),
        Statement("z", Mul(z, z)),
        Statement("q", Call("sigmoid", (z,))),
    )
    statements, before = _share(*body)
    assert statements == list(body)


def test_different_arguments_each_get_their_own_and_a_nested_call_keeps_its_helper():
    a, b = Sym("a"), Sym("b")
    inner = Call("sigmoid", (a,))
    body = (
        Statement("p", Add(Call("sigmoid", (inner,)), Call("softplus", (b,)))),
        Statement("q", Mul(Call("sigmoid", (inner,)), Call("sigmoid", (Neg(b),)))),
        Statement("r", Call("softplus", (a,))),
    )
    statements, before = _share(*body)
    # σ(σ(a)) would need σ(a) first; the compiler names a repeated σ(a) anyway
    assert before == [
        [("e_a", "math.exp(-abs(a))"), ("e_b", "math.exp(-abs(b))")],
        [],
        [],
    ]
    assert [MATH.code(s.value) for s in statements] == [
        "_sigmoid((1.0 if a >= 0 else e_a) / (1.0 + e_a))"
        " + ((b if b > 0 else 0.0) + math.log1p(e_b))",
        "_sigmoid((1.0 if a >= 0 else e_a) / (1.0 + e_a))"
        " * ((1.0 if -b >= 0 else e_b) / (1.0 + e_b))",
        "(a if a > 0 else 0.0) + math.log1p(e_a)",
    ]


LOGISTIC = r"""
$$z = w x + b$$
$$p = \sigma(z)$$
$$L = -\left( y \log p + (1 - y) \log(1 - p) \right)$$
"""

SOFTPLUSES = r"""
$$z = w x + b$$
$$a = \sigma(z) \sigma(-z)$$
$$L = y \operatorname{softplus}(z) + \operatorname{softplus}(-z) + a$$
"""


@pytest.mark.parametrize("document", [LOGISTIC, SOFTPLUSES])
def test_a_compiled_module_takes_one_exponential_and_keeps_every_value(
    document: str, tmp_path
):
    code = compile_latex(document, backend="math")
    for function in ("def forward", "def value_and_grad"):
        body = code[code.index(function) :].split("\ndef ")[0]
        assert body.count("math.exp(") == 1, body
        assert "math.log" not in body.replace("math.log1p(e_z)", ""), body
    module = import_module_text(code, tmp_path)
    reference = import_module_text(compile_latex(document, backend="numpy"), tmp_path)
    for z in [-1000.0, -30.0, -1.0, -0.0, 0.0, 0.25, 3.0, 30.0, 1000.0]:
        inputs = {"w": 2.0, "x": z / 2.0, "b": 0.0, "y": 0.75}
        value, gradients = module.value_and_grad(**inputs)
        assert _bits(module.forward(**inputs)) == _bits(value)
        want, want_gradients = reference.value_and_grad(
            **{k: np.float64(v) for k, v in inputs.items()}
        )
        assert value == pytest.approx(float(want), rel=1e-14, abs=1e-300)
        for got, expected in zip(gradients, want_gradients, strict=True):
            assert got == pytest.approx(float(expected), rel=1e-14, abs=1e-300)
        for name, got in zip(gradients._fields, gradients, strict=True):
            step = 1e-6 * max(1.0, abs(inputs[name]))
            up, down = dict(inputs), dict(inputs)
            up[name] += step
            down[name] -= step
            slope = (module.forward(**up) - module.forward(**down)) / (2 * step)
            assert got == pytest.approx(slope, rel=1e-5, abs=1e-7), (name, z)


# ---- on arrays (numpy): the softpluses of ±z share log(1 + e^{-|z|}); sigmoids
# share e^{-|z|} and 1 + e^{-|z|} with them, never alone


def _shared_on_arrays(*body: Statement) -> tuple[list[str], list[list[tuple]]]:
    shared = share_exponentials(list(body), lambda wanted: wanted, arrays=True)
    before = [[(s.target, NUMPY.code(s.value)) for s, _ in b] for b in shared.before]
    return [NUMPY.code(s.value) for s in shared.statements], before


def test_on_arrays_the_sigmoids_and_softpluses_of_one_argument_share_e():
    z, y, t = Sym("z"), Sym("y"), Sym("t")
    statements, before = _shared_on_arrays(
        Statement("p", Call("sigmoid", (z,))),
        Statement("t", Neg(z)),
        Statement("L", Add(Mul(y, Call("softplus", (t,))), Call("softplus", (z,)))),
        Statement("q", Call("sigmoid", (t,))),
    )
    assert before == [
        [("e_z", "np.exp(-np.abs(z))"), ("one_plus_e_z", "1 + e_z")],
        [],
        [("log1p_e_z", "np.log1p(e_z)")],
        [],
    ]
    assert statements == [
        "np.maximum(e_z, (z >= 0)) / one_plus_e_z",
        "-z",
        "y * (np.maximum(t, 0) + log1p_e_z) + (np.maximum(z, 0) + log1p_e_z)",
        "np.maximum(e_z, (t >= 0)) / one_plus_e_z",
    ]


def test_on_arrays_one_sigmoid_and_one_softplus_read_e_inline():
    z = Sym("z")
    statements, before = _shared_on_arrays(
        Statement("p", Call("sigmoid", (z,))),
        Statement("s", Call("softplus", (Neg(z),))),
    )
    assert before == [[("e_z", "np.exp(-np.abs(z))")], []]
    assert statements == [
        "np.maximum(e_z, (z >= 0)) / (1 + e_z)",
        "np.maximum(-z, 0) + np.log1p(e_z)",
    ]


def test_on_arrays_softpluses_alone_share_the_logarithm():
    z, y, t = Sym("z"), Sym("y"), Sym("t")
    statements, before = _shared_on_arrays(
        Statement("t", Neg(z)),
        Statement("L", Add(Mul(y, Call("softplus", (t,))), Call("softplus", (z,)))),
    )
    assert before == [[], [("log1p_e_t", "np.log1p(np.exp(-np.abs(t)))")]]
    assert statements[1] == (
        "y * (np.maximum(t, 0) + log1p_e_t) + (np.maximum(z, 0) + log1p_e_t)"
    )


def test_on_arrays_the_sigmoids_of_plus_and_minus_z_alone_keep_their_helper():
    """e^{-|z|} would cost two passes (abs, negation) more than it saves."""
    z = Sym("z")
    body = (
        Statement("p", Call("sigmoid", (z,))),
        Statement("q", Call("sigmoid", (Neg(z),))),
    )
    shared = share_exponentials(list(body), lambda wanted: wanted, arrays=True)
    assert list(shared.statements) == list(body)
    assert shared.before == ((), ())


def _exact_sigmoid(z: float) -> float:
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(60):
        return float(1 / (1 + mpmath.exp(-mpmath.mpf(z))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_shared_sigmoid_on_arrays_is_right_to_a_few_ulps_for_every_z(dtype):
    """maximum(e, z >= 0) / (1 + e): _sigmoid's bits for z >= 0; for z < 0 within two
    ulps of the exact value (three in float32), subnormal results too
    (where _sigmoid's e^{-z} overflows and it gives 0); the float type kept."""
    values = np.array(
        [v for v in VALUES if not math.isnan(v)] + [-708.0, -730.0, -744.0, -746.0]
    ).astype(dtype)
    code = _shared_on_arrays(
        Statement("p", Call("sigmoid", (Sym("z"),))),
        Statement("s", Call("softplus", (Sym("z"),))),
    )[0][0]
    printed = eval(f"lambda z, e_z: {code}", {"np": np})
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(values))
        got = printed(values, e)
    assert got.dtype == dtype
    helpers: dict = {"np": np, "ArrayLike": object}
    exec(_helper_sources("numpy")["_sigmoid"], helpers)
    with np.errstate(under="ignore"):
        helper = helpers["_sigmoid"](values)
    positive = values >= 0
    np.testing.assert_array_equal(got[positive], helper[positive])
    exact = np.array([_exact_sigmoid(float(v)) for v in values]).astype(dtype)
    tiny = np.finfo(dtype).smallest_subnormal
    ulps = 2 if dtype == np.float64 else 3
    assert np.all(np.abs(got - exact) <= np.maximum(ulps * np.spacing(exact), tiny))
    deep = values.astype(np.float64) < -709  # e^{-z} overflows: _sigmoid says 0
    if dtype == np.float64:
        assert np.all(got[deep & (values > -744)] > 0)
    assert np.isnan(printed(np.array([np.nan], dtype), np.array([np.nan], dtype)))[0]


@pytest.mark.parametrize("document", [LOGISTIC, SOFTPLUSES])
def test_a_numpy_module_takes_one_logarithm_for_the_softpluses_to_the_bit(
    document: str, tmp_path
):
    code = compile_latex(document)
    for function in ("def forward", "def value_and_grad"):
        body = code[code.index(function) :].split("\ndef ")[0]
        assert "_softplus(" not in body, body
        assert body.count("np.log1p(") == 1 and body.count("np.exp(") == 1, body
    module = import_module_text(code, tmp_path)
    helpers: dict = {"np": np, "ArrayLike": object}
    for name in ("_sigmoid", "_softplus"):
        exec(_helper_sources("numpy")[name], helpers)
    z = np.array([-1000.0, -30.0, -1.0, -0.0, 0.0, 0.25, 3.0, 30.0, 1000.0])
    inputs = {"w": 2.0, "x": z / 2.0, "b": 0.0, "y": np.full_like(z, 0.75)}
    value, _ = module.value_and_grad(**inputs)
    assert np.array_equal(module.forward(**inputs), value)
    y = inputs["y"]
    if document is LOGISTIC:  # y softplus(-z) + (1 - y) softplus(z), by the helper
        want = y * helpers["_softplus"](-z) + (1 - y) * helpers["_softplus"](z)
    else:
        sigmoid = helpers["_sigmoid"]
        want = y * helpers["_softplus"](z) + helpers["_softplus"](-z)
        want = want + sigmoid(z) * sigmoid(-z)
    np.testing.assert_array_equal(value, want)
