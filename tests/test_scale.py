"""scale: constant factors of adjoints carried to the gradients, and the numpy
helpers that apply them (`_sum_to`, `_sum_product`, `_times`)."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
import sympy
from conftest import compile_latex, import_module_text

from eqcompiler.adjoint import Step
from eqcompiler.codegen import _helper_sources
from eqcompiler.ir import Add, Assign, Call, Mul, Neg, Num, Pow, Sub, Sym
from eqcompiler.scale import scale

ORIGIN = Assign(Sym("L"), Num(0.0))
y, r, h, x, w = Sym("y"), Sym("r"), Sym("h"), Sym("x"), Sym("w")


def step(target: str, value) -> Step:
    return Step(target, value, ORIGIN)


def test_the_seed_keeps_its_2_for_the_gradients():
    # d_y = 2 r; d_y_star = -d_y; d_v = d_y y; then the gradients of w, x and y*
    steps = [
        step("d_y", Mul(Num(2.0), r)),
        step("d_y_star", Neg(Sym("d_y"))),
        step("d_v", Mul(Sym("d_y"), y)),
    ]
    gradients = [(Sym("w"), Sym("d_v")), (Sym("y_star"), Sym("d_y_star"))]
    scaled = scale(steps, gradients)
    assert [(s.target, s.value) for s in scaled.steps] == [("d_v", Mul(r, y))]
    assert scaled.factors == (2.0,)
    assert [(g.factor, g.value) for g in scaled.gradients] == [
        (2.0, Sym("d_v")),
        (-2.0, r),
    ]
    folded = [(i, s.target, s.value) for i, s in scaled.folded]
    assert folded == [(0, "d_y", Mul(Num(2.0), r)), (0, "d_y_star", Mul(Num(-2.0), r))]


def test_like_factors_add_and_opposite_ones_subtract():
    steps = [
        step("a", Mul(Num(3.0), Mul(x, y))),
        step("b", Mul(Num(3.0), Mul(h, y))),
        step("c", Add(Sym("a"), Sym("b"))),  # 3 (x y + h y)
        step("d", Sub(Sym("a"), Mul(Num(-3.0), h))),  # 3 (x y + h)
    ]
    scaled = scale(steps, [(x, Sym("c")), (y, Sym("d"))])
    values = {
        s.target: (s.value, f)
        for s, f in zip(scaled.steps, scaled.factors, strict=True)
    }
    assert values["c"] == (Add(Sym("a"), Sym("b")), 3.0)
    assert values["d"] == (Add(Sym("a"), h), 3.0)
    assert [g.factor for g in scaled.gradients] == [3.0, 3.0]


def test_a_factor_needed_in_two_places_is_applied_where_it_is_made():
    # d_t = -2 (x y) feeds two sums with unlike terms: carried, it would cost a
    # multiplication in each; applied once, in d_t itself, it costs one
    steps = [
        step("d_t", Mul(Num(-2.0), Mul(x, y))),
        step("d_x", Add(Sym("d_t"), h)),
        step("d_y", Add(Sym("d_t"), w)),
    ]
    scaled = scale(steps, [(x, Sym("d_x")), (y, Sym("d_y"))])
    assert scaled.factors == (1.0, 1.0, 1.0)
    assert scaled.steps[0].value == Mul(Num(-2.0), Mul(x, y))
    assert scaled.steps[1].value == Add(Sym("d_t"), h)


def test_a_factor_stops_at_a_function_and_at_a_sum_of_unlike_terms():
    steps = [
        step("a", Mul(Num(2.0), x)),  # a name times 2: folded
        step("b", Call("exp", (Sym("a"),))),  # exp(2 x): the 2 is applied inside
        step("c", Add(Sym("b"), Num(1.0))),
    ]
    scaled = scale(steps, [(x, Sym("c"))])
    assert [s.value for s in scaled.steps] == [
        Call("exp", (Mul(Num(2.0), x),)),
        Add(Sym("b"), Num(1.0)),
    ]
    assert scaled.factors == (1.0, 1.0)


def test_powers_carry_their_factor_and_odd_numbers_are_applied():
    steps = [
        step("a", Mul(Num(2.0), Mul(x, y))),
        step("b", Pow(Sym("a"), Num(3.0))),  # 8 a^3
        step("c", Mul(Num(1e300), Sym("b"))),  # too large to carry
    ]
    scaled = scale(steps, [(x, Sym("c"))])
    assert scaled.factors[1] == 8.0
    assert scaled.steps[2].value == Mul(Num(8e300), Sym("b"))
    assert scaled.factors[2] == 1.0


def test_an_alias_of_a_name_assigned_again_stays_a_statement():
    steps = [
        step("d_a", Mul(Num(2.0), Mul(x, y))),
        step("d_b", Neg(Sym("d_a"))),  # -2 d_a: an alias of d_a...
        step("d_a", Add(Sym("d_a"), h)),  # ...which changes here
    ]
    scaled = scale(steps, [(x, Sym("d_b")), (y, Sym("d_a"))])
    assert [s.target for s in scaled.steps] == ["d_a", "d_b", "d_a"]
    assert scaled.gradients[0].factor == -2.0


def test_without_carrying_nothing_changes():
    steps = [step("d_y", Mul(Num(2.0), r))]
    scaled = scale(steps, [(y, Sym("d_y"))], carry=False)
    assert scaled.steps == tuple(steps) and scaled.factors == (1.0,)
    assert scaled.gradients[0].factor == 1.0


# ---- generated code: factors give the same gradients as sympy ----------------------

DOCUMENT = r"""
$$u = 3 w x - \frac{b}{2}$$
$$v = -(u^{3}) + 2 \sin(u)$$
$$q = \frac{-v}{4} - 5 v^{2}$$
$$L = (q - t)^{2} + 7 \cdot 10^{-3} w^{2}$$
"""
SYMBOLS = sympy.symbols("w x b t", real=True)


def _sympy_loss():
    w_, x_, b_, t_ = SYMBOLS
    u = 3 * w_ * x_ - b_ / 2
    v = -(u**3) + 2 * sympy.sin(u)
    q = -v / 4 - 5 * v**2
    return (q - t_) ** 2 + sympy.Rational(7, 1000) * w_**2


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_factors_reach_every_gradient(backend: str, tmp_path):
    source = compile_latex(DOCUMENT, backend)
    module = import_module_text(source, tmp_path)
    loss = _sympy_loss()
    point = {"w": 0.3, "x": -0.7, "b": 0.4, "t": 0.2}
    subs = dict(zip(SYMBOLS, point.values(), strict=True))
    value, gradients = module.value_and_grad(**point)
    assert float(value) == pytest.approx(float(loss.subs(subs)), rel=1e-12)
    for symbol, name in zip(SYMBOLS, point, strict=True):
        want = float(sympy.diff(loss, symbol).subs(subs))
        assert float(getattr(gradients, name)) == pytest.approx(want, rel=1e-10)
    if backend == "numpy":
        assert "# times " in source  # some factor was carried


def test_factors_on_arrays_of_every_layout(tmp_path):
    module = import_module_text(compile_latex(DOCUMENT), tmp_path)
    rng = np.random.default_rng(1)
    layouts = [
        {"w": 0.3, "x": rng.normal(size=6), "b": 0.4, "t": rng.normal(size=6)},
        {"w": rng.normal(size=6), "x": -0.7, "b": rng.normal(size=6), "t": 0.2},
        {
            "w": rng.normal(size=(3, 1)),
            "x": rng.normal(size=(1, 4)),
            "b": 0.4,
            "t": 0.2,
        },
    ]
    for point in layouts:
        value, gradients = module.value_and_grad(**point)
        shape = np.broadcast_shapes(*(np.shape(v) for v in point.values()))
        assert np.shape(value) == shape
        for name, given in point.items():
            got = getattr(gradients, name)
            assert np.shape(got) == np.shape(given), name
            # against the same module on one element at a time
            want = np.zeros(shape)
            for index in np.ndindex(shape):
                one = {k: np.broadcast_to(v, shape)[index] for k, v in point.items()}
                one = {k: float(v) for k, v in one.items()}
                want[index] = getattr(module.value_and_grad(**one)[1], name)
            reduced = _summed_to(want, np.shape(given))
            np.testing.assert_allclose(got, reduced, rtol=1e-12, atol=1e-14)


def _summed_to(values: np.ndarray, shape: tuple) -> np.ndarray:
    """`values` summed over the axes that broadcasting added to `shape`."""
    lead = values.ndim - len(shape)
    values = values.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1)
    return values.sum(axis=axes, keepdims=True).reshape(shape)


# ---- the helpers themselves ---------------------------------------------------------


@pytest.fixture(scope="module")
def helpers() -> dict:
    namespace: dict = {"np": np, "ArrayLike": object}
    source = "\n\n".join(_helper_sources("numpy").values())
    exec(compile(ast.parse(source), "helpers_numpy.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_to_scales_reduces_and_writes_into_out(helpers, dtype):
    sum_to = helpers["_sum_to"]
    g = np.arange(1.0, 7.0, dtype=dtype).reshape(2, 3)
    total = sum_to(g, 0.5, (2, 3), 2.0)
    assert total.shape == () and total.dtype == dtype and total == 42.0
    rows = sum_to(g, np.zeros((2, 1), dtype), (2, 3), -1.0)
    np.testing.assert_array_equal(rows, [[-6.0], [-15.0]])
    assert rows.dtype == dtype
    out = np.empty((2, 3), dtype)
    same = sum_to(g, np.zeros((2, 3), dtype), (2, 3), 3.0, out=out)
    assert same is out and np.array_equal(out, 3 * g)
    assert sum_to(g, np.zeros((2, 3)), (2, 3)) is g
    copied = sum_to(g, np.zeros((2, 3)), (2, 3), copy=True)
    assert copied is not g and np.array_equal(copied, g)
    broadcast = sum_to(np.asarray(2.0, dtype), np.zeros((2, 3), dtype), (2, 3), 0.5)
    assert np.array_equal(broadcast, np.ones((2, 3))) and broadcast.flags.writeable


def test_sum_product_of_numbers_and_arrays(helpers):
    sum_product = helpers["_sum_product"]
    a, b = np.arange(20000.0), np.linspace(0, 1, 20000)
    assert sum_product(a, b, 0.5, (20000,), -2.0) == pytest.approx(-2 * a @ b)
    out = np.empty(20000)
    got = sum_product(a, 3.0, b, (20000,), 2.0, out=out)
    assert got is out and np.allclose(out, 6 * a)
    both = sum_product(a, b, b, (20000,), 0.5)
    assert np.allclose(both, 0.5 * a * b)
    # two numbers, for an array input: the product broadcast to the output's shape
    spread = sum_product(2.0, 3.0, np.zeros(4), (4,), 0.5)
    assert spread.shape == (4,) and np.all(spread == 3.0)


@pytest.mark.parametrize(
    "n", [10_001, 8192 * 3, 8192 * 3 + 5, 131_072, 1_000_003], ids=lambda n: f"n={n}"
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda t: t.__name__)
def test_a_long_dot_is_the_sum_of_products_whatever_blas_threads(helpers, n, dtype):
    """Over more than 10,000 elements, rows of _ROW: BLAS's one-thread path."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=(2, n)).astype(dtype)
    exact = math.fsum((a.astype(np.float64) * b.astype(np.float64)).tolist())
    results = []
    for threads in (1, 2, None):
        with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
            results.append(helpers["_dot"](a, b))
            results.append(helpers["_sum_product"](a, b, 0.5, (n,)))
    total = results[0]
    assert np.asarray(total).dtype == dtype
    assert all(r == total and np.asarray(r).dtype == dtype for r in results)
    scale = math.sqrt(n) if dtype == np.float64 else math.sqrt(n) * 1e8
    assert abs(float(total) - exact) < 1e-12 * scale * float(np.abs(a * b).sum() / n)
    # a 2-d product: the same rows; a strided one: the same sum, rounded alike
    square = helpers["_sum_product"](
        a[: 1000 * 10].reshape(1000, 10), b[:10_000].reshape(1000, 10), 0.5, (1000, 10)
    )
    assert square == helpers["_sum_product"](a[:10_000], b[:10_000], 0.5, (10_000,))
    strided = helpers["_dot"](np.repeat(a, 2)[::2], b)  # numpy's own loop
    assert strided == pytest.approx(total, rel=1e-12 if dtype == np.float64 else 1e-5)


def test_integer_arrays_are_scaled_without_truncation(helpers):
    total = helpers["_sum_to"](np.arange(4), 1.0, (4,), 0.5)
    assert total == 3.0


@pytest.mark.parametrize(
    "values",
    [
        np.linspace(-1.0, 3.0, 10_000),  # a dot with ones
        np.linspace(-1.0, 3.0, 7),
        np.linspace(-1.0, 3.0, 20_000)[::2],  # strided: still a dot
        np.linspace(-1.0, 3.0, 10_001),  # longer than the ones: numpy's sum
        np.linspace(-1.0, 3.0, 12).reshape(3, 4),  # not flat: numpy's sum
        np.linspace(-1.0, 3.0, 100, dtype=np.float32),  # float32 stays float32
        np.zeros(0),
    ],
    ids=["block", "short", "strided", "long", "2d", "float32", "empty"],
)
def test_sum_is_numpys_sum_of_every_array(helpers, values: np.ndarray):
    total = helpers["_sum"](values)
    assert np.ndim(total) == 0 and np.asarray(total).dtype == values.dtype
    assert total == pytest.approx(float(np.sum(values, dtype=np.float64)), rel=1e-6)
    assert np.all(helpers["_ONES"] == 1.0)  # never written into


@pytest.mark.parametrize("at_zero", [0.0, 1.0])
@pytest.mark.parametrize(
    "z",
    [
        np.array([-np.inf, -2.0, -5e-324, -0.0, 0.0, 5e-324, 3.0, np.inf, np.nan]),
        np.array([-1.5, 0.0, 2.5, np.nan], dtype=np.float32),
        np.array([[-1.0, 0.0], [1.0, 2.0]]),  # no nan
        np.arange(-2, 3),  # integers: float64, as heaviside
        np.array(0.0),
        np.float32(-0.5),
        np.float64(np.nan),
        0.0,
        -3.0,
    ],
    ids=repr,
)
def test_step_is_heaviside(helpers, z, at_zero):
    """An indicator's value (_step): np.heaviside's, to the bit and the float type."""
    got, want = helpers["_step"](z, at_zero), np.heaviside(z, at_zero)
    assert type(got) is type(want) and np.asarray(got).dtype == want.dtype
    np.testing.assert_array_equal(got, want)
