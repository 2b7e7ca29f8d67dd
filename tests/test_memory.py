"""memory.plan: results go only into arrays nothing reads again, never the caller's;
memory.unnest: one operation per statement."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import compile_latex, import_module_text

from eqcompiler.backends import NUMPY
from eqcompiler.ir import Add, Call, Expr, Mul, Num, Pow, Sub, Sym
from eqcompiler.memory import Statement, place, plan, unnest


def _always(statement: Statement) -> bool:
    return not isinstance(statement.value, Sym)


def s(target: str, value: Expr) -> Statement:
    return Statement(target, value)


def test_a_chain_reuses_its_own_array():
    x, w, b = Sym("x"), Sym("w"), Sym("b")
    body = [
        s("u", Mul(w, x)),
        s("v", Add(Sym("u"), b)),
        s("y", Call("exp", (Sym("v"),))),
    ]
    assert plan(body, ["w", "x", "b"], ["y"], _always) == (None, "u", "v")


def test_never_an_input_nor_a_value_read_later_nor_a_kept_one():
    x = Sym("x")
    body = [
        s("a", Mul(x, x)),  # read again by c: not free at b
        s("b", Add(Sym("a"), x)),
        s("c", Add(Sym("a"), Sym("b"))),  # a and b die here: c may take one
        s("d", Call("exp", (Sym("c"),))),  # kept below: never reused
        s("e", Call("sin", (Sym("d"),))),
    ]
    into = plan(body, ["x"], ["d", "e"], _always)
    assert into[0] is None and into[1] is None  # only x (an input) and a (live)
    assert into[2] == "a"  # its first operand's
    assert into[3] == "c"
    assert into[4] == "b"  # the one array still spare (d, kept, is never reused)


def test_an_alias_of_an_input_is_the_input():
    x = Sym("x")
    body = [s("u", x), s("v", Call("exp", (Sym("u"),)))]
    assert plan(body, ["x"], ["v"], _always) == (None, None)


def test_a_name_bound_again_accumulates_in_place():
    x, t = Sym("x"), Sym("t")
    body = [
        s("d", Mul(x, x)),
        s("t", Call("sin", (x,))),
        s("d", Add(Sym("d"), t)),
        s("d", Add(Sym("d"), x)),
    ]
    assert plan(body, ["x"], ["d"], _always) == (None, None, "d", "d")


def test_statements_that_cannot_write_take_no_array():
    x = Sym("x")
    body = [s("a", Mul(x, x)), s("b", Call("sigmoid", (Sym("a"),)))]
    assert plan(body, ["x"], ["b"], lambda statement: False) == (None, None)


DOCUMENT = r"""
$$u = w x + b$$
$$h = \tanh(u)$$
$$q = h^{2} + \sin(u) h$$
$$L = (q - t)^{2} + \log(1 + q^{2})$$
"""


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_spare_arrays_give_the_same_numbers_and_leave_inputs_alone(dtype, tmp_path):
    module = import_module_text(compile_latex(DOCUMENT), tmp_path)
    source = compile_latex(DOCUMENT)
    assert "out=_spare(" in source
    rng = np.random.default_rng(0)
    arrays = {n: rng.normal(size=50).astype(dtype) for n in ("x", "t")}
    numbers = {"w": 0.75, "b": -0.2}  # w: exact in float16 too
    copies = {n: a.copy() for n, a in arrays.items()}
    value, gradients = module.value_and_grad(**arrays, **numbers)
    assert all(np.array_equal(arrays[n], copies[n]) for n in arrays)  # untouched
    assert value.dtype == dtype
    # w as a numpy scalar of the arrays' type (`theta[0]`): results go into spare
    # arrays alike; of another type (float64 with float32 arrays), it would change
    # the results' type, so every result is a new array
    for w, reused in ((dtype(0.75), True), (np.float16(0.75), False)):
        assert module._array_size(w, arrays["x"]) == (50 if reused else 0, 1)
        value_new, gradients_new = module.value_and_grad(**arrays, w=w, b=-0.2)
        assert value_new.dtype == np.result_type(w, arrays["x"])
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(value, value_new, rtol=rtol)
        for got, want in zip(gradients, gradients_new, strict=True):
            np.testing.assert_allclose(got, want, rtol=rtol)
    # outputs are distinct arrays: changing one changes no other
    value[...] = 0
    assert not np.shares_memory(gradients.x, gradients.t)
    assert np.any(module.forward(**arrays, **numbers) != 0)


def test_broadcast_shapes_do_not_reuse(tmp_path):
    module = import_module_text(compile_latex(DOCUMENT), tmp_path)
    x = np.linspace(-1, 1, 4).reshape(4, 1)
    t = np.linspace(0, 1, 3).reshape(1, 3)
    value, gradients = module.value_and_grad(x=x, t=t, w=0.7, b=-0.2)
    assert value.shape == (4, 3)
    assert gradients.x.shape == (4, 1) and gradients.t.shape == (1, 3)
    assert gradients.w.shape == ()


def test_unnest_makes_a_nested_expression_a_chain_on_its_target():
    w_1, x_1, w_2, x_2, b = (Sym(n) for n in ("w_1", "x_1", "w_2", "x_2", "b"))
    z = Sym("z")
    nested = s("z", Add(Add(Mul(w_1, x_1), Mul(w_2, x_2)), b))
    assert unnest(nested, NUMPY.ufunc_operands) == [
        s("z", Mul(w_1, x_1)),
        s("z", Add(z, Mul(w_2, x_2))),
        s("z", Add(z, b)),
    ]
    # the operand of a division written `a / b` is b, not the b^{-1} the IR holds
    d = Sym("d")
    quotient = s("q", Mul(Sym("a"), Pow(Add(d, Num(1.0)), Num(-1.0))))
    assert unnest(quotient, NUMPY.ufunc_operands) == [
        s("q", Add(d, Num(1.0))),
        s("q", Mul(Sym("a"), Pow(Sym("q"), Num(-1.0)))),
    ]


def test_unnest_leaves_alone_what_it_cannot_chain():
    x, y = Sym("x"), Sym("y")
    accumulating = s("x_acc", Add(Sym("x_acc"), Mul(x, y)))  # reads its target
    whole_power = s("p", Pow(Add(x, y), Num(2.0)))  # `**`: no out=
    constant = s("c", Add(Call("exp", (Num(2.0),)), Num(1.0)))  # reads no name
    flat = s("f", Add(x, y))
    for statement in (accumulating, whole_power, constant, flat):
        assert unnest(statement, NUMPY.ufunc_operands) == [statement]


def _names(*names: str):
    """A `fresh` that hands out `names` in order."""
    given = iter(names)
    return lambda wanted: next(given)


def test_a_statement_reading_its_target_chains_a_nested_operand_on_a_name():
    """`d_x = d_x - d_d (s (1 - s))`: the operand's three operations on `d_x_term`
    (one array), then one subtraction; a one-operation operand gets a term too."""
    d_x, d_d, sx = Sym("d_x"), Sym("d_d"), Sym("s")
    term = Sym("d_x_term")
    nested = s("d_x", Sub(d_x, Mul(d_d, Mul(sx, Sub(Num(1.0), sx)))))
    assert unnest(nested, NUMPY.ufunc_operands, _names("d_x_term")) == [
        s("d_x_term", Sub(Num(1.0), sx)),
        s("d_x_term", Mul(sx, term)),
        s("d_x_term", Mul(d_d, term)),
        s("d_x", Sub(d_x, term)),
    ]
    single = s("d_x", Add(d_x, Mul(d_d, sx)))
    assert unnest(single, NUMPY.ufunc_operands, _names("d_x_term")) == [
        s("d_x_term", Mul(d_d, sx)),
        s("d_x", Add(d_x, term)),
    ]


def test_every_nested_operand_after_the_first_gets_a_term():
    """`z = w_1 x_1 + w_2 x_2 + b`: the chain on z, with `w_2 x_2` on a term; an
    operand read twice (one node) is one term."""
    w_1, x_1, w_2, x_2, b = (Sym(n) for n in ("w_1", "x_1", "w_2", "x_2", "b"))
    z, term = Sym("z"), Sym("z_term")
    nested = s("z", Add(Add(Mul(w_1, x_1), Mul(w_2, x_2)), b))
    assert unnest(nested, NUMPY.ufunc_operands, _names("z_term")) == [
        s("z", Mul(w_1, x_1)),
        s("z_term", Mul(w_2, x_2)),
        s("z", Add(z, term)),
        s("z", Add(z, b)),
    ]
    product = Mul(Sym("d"), w_1)  # reads the target: no chain on it
    twice = s("d", Mul(product, product))
    assert unnest(twice, NUMPY.ufunc_operands, _names("d_term")) == [
        s("d_term", product),
        s("d", Mul(Sym("d_term"), Sym("d_term"))),
    ]


def _place(body, inputs, kept, terms):
    return place(body, inputs, kept, _always, terms)


def test_a_term_that_gets_no_array_and_leaves_none_goes_back():
    """`d_x_term` finds no free array and nothing reuses its own: written inline,
    it makes the same array, so it goes back into `d_x = d_x + d_x_term`."""
    x, w = Sym("x"), Sym("w")
    body = [
        s("d_x", Mul(w, x)),
        s("d_x_term", Mul(x, x)),
        s("d_x", Add(Sym("d_x"), Sym("d_x_term"))),
    ]
    placed, into = _place(body, ["w", "x"], ["d_x"], {"d_x_term"})
    assert placed == [body[0], None, s("d_x", Add(Sym("d_x"), Mul(x, x)))]
    assert into == (None, None, "d_x")


def test_a_term_stays_where_it_takes_an_array_or_gives_one():
    x, w = Sym("x"), Sym("w")
    body = [
        s("a_term", Mul(w, x)),  # a new array, which a takes
        s("a", Add(x, Sym("a_term"))),
        s("b_term", Mul(Sym("a"), x)),  # takes a's array
        s("b", Add(x, Sym("b_term"))),
    ]
    placed, into = _place(body, ["w", "x"], ["b"], {"a_term", "b_term"})
    assert placed == body
    assert (
        into
        == plan(body, ["w", "x"], ["b"], _always)
        == (
            None,
            "a_term",
            "a",
            "b_term",
        )
    )
    # a term of more than one operation (assigned twice) never goes back
    chained = [
        s("t", Mul(x, x)),
        s("t", Mul(w, Sym("t"))),
        s("y", Add(x, Sym("t"))),
    ]
    placed, _ = _place(chained, ["w", "x"], ["y"], {"t"})
    assert placed == chained


def test_an_accumulation_with_a_nested_term_keeps_its_numbers(tmp_path):
    """The staged function's d_x: the chained term gives the same gradients as the
    nested expression, and the caller's arrays are left alone."""
    text = "$$s = \\sigma(x)$$\n$$f = (x + s) (x y)^{-1} + s$$\n"
    code = compile_latex(text)
    assert "_term = " in code
    module = import_module_text(code, tmp_path)
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=40), rng.normal(size=40) + 3.0
    kept = x.copy(), y.copy()
    _, gradients = module.value_and_grad(x, y)
    assert np.array_equal(x, kept[0]) and np.array_equal(y, kept[1])
    sx = 1 / (1 + np.exp(-x))
    want_x = (1 + sx * (1 - sx)) / (x * y) - (x + sx) / (x * x * y)
    want_x += sx * (1 - sx)
    assert np.allclose(gradients.x, want_x, rtol=1e-12)
    assert np.allclose(gradients.y, -(x + sx) / (x * y * y), rtol=1e-12)


def test_a_chain_gives_the_numbers_of_the_nested_expression(tmp_path):
    """Each operation runs once on the same operands: the same bits."""
    text = "$$z = w_1 x_1 + w_2 x_2 + b$$\n\n$$L = (1 - \\tanh(z)^{2}) z$$\n"
    module = import_module_text(compile_latex(text), tmp_path)
    rng = np.random.default_rng(3)
    x_1, x_2 = rng.normal(size=50), rng.normal(size=50)
    w_1, w_2, b = 0.3, -1.7, 0.25
    z = w_1 * x_1 + w_2 * x_2 + b
    assert np.array_equal(
        module.forward(w_1, x_1, w_2, x_2, b), (1 - np.tanh(z) ** 2) * z
    )


def test_the_gradient_of_a_number_is_a_numpy_scalar_like_np_sum(tmp_path):
    """A parameter passed as a Python float gets the sum numpy gives (np.float64,
    shape ()), exactly np.dot or np.sum of the elementwise gradient, scale applied."""
    module = import_module_text(
        compile_latex(
            "$$u = wx$$\n$$v = u + b$$\n$$y = e^{v}$$\n$$L = (y - t)^{2}$$\n"
        ),
        tmp_path,
    )
    rng = np.random.default_rng(3)
    x, t = rng.normal(size=50), rng.normal(size=50)
    _, gradients = module.value_and_grad(w=0.5, x=x, b=0.25, t=t)
    y = np.exp(0.5 * x + 0.25)
    d_v = 2.0 * (y - t) * y
    for name, want in (("w", np.dot(d_v, x)), ("b", np.sum(d_v))):
        got = getattr(gradients, name)
        assert type(got) is np.float64 and np.shape(got) == ()
        assert got == pytest.approx(want, rel=1e-14)
    assert gradients.x.shape == x.shape and gradients.t.shape == t.shape


TWO_UNITS = r"""
$$a_1 = w_{11} x_1 + w_{12} x_2 + b_1, \quad a_2 = w_{21} x_1 + w_{22} x_2 + b_2$$
$$h_1 = \tanh(a_1), \quad h_2 = \tanh(a_2)$$
$$\hat{y} = v_1 h_1 + v_2 h_2 + c$$
$$E = \frac{1}{2}\left(\hat{y} - y\right)^{2}$$
"""


def _line_of(source: str, start: str) -> int:
    body = source[source.index("def value_and_grad(") :].splitlines()
    return next(i for i, line in enumerate(body) if line.strip().startswith(start))


def test_a_likely_numbers_gradient_is_summed_before_its_array_is_reused():
    """grad_w_21 = sum(d_a_2 x_1) goes as soon as d_a_2 is final, so d_a_2's last
    reader (d_x_2 = d_a_2 w_22) may write into it; grad_x_1 (data: an array) goes
    after the last reader of d_x_1 and may take its array."""
    source = compile_latex(TWO_UNITS)
    assert _line_of(source, "grad_w_21 =") < _line_of(source, "d_x_2 =")
    assert "d_x_2 = np.multiply(d_a_2, w_22, out=_spare(d_a_2, reuse))" in source
    assert "else _sum_product(d_a_2, x_1, w_21, out_shape)\n" in source
    # a square is np.square, which may go into a spare array: here h_2's, in place
    assert "d_a_2 = np.square(h_2, out=_spare(h_2, reuse))" in source
    assert _line_of(source, "grad_x_1 =") > _line_of(source, "d_x_1 = np.add(")
    # grad_c would be y_hat_minus_y's array if c were one: it copies, which lets
    # grad_y (y: data) be written into that array
    assert "else _sum_to(y_hat_minus_y, c, out_shape, copy=True)" in source
    assert "-1.0, out=_spare(y_hat_minus_y, reuse)" in source


def test_a_gradient_copies_only_where_that_frees_an_array():
    """Here d_y's array is not needed after grad_y: d_num's serves d_x_term as
    well, so grad_y shares d_y (no copy) and no statement makes one more array."""
    source = compile_latex(r"""
$$s_x = \sigma(x), \quad s_y = \sigma(y)$$
$$n = x + s_y, \quad q = x + y, \quad d = s_x + q^{2}$$
$$f = n d^{-1}$$
""")
    assert "copy=True" not in source


@pytest.mark.parametrize("layout", ["weights as numbers", "every input an array"])
def test_reordered_and_copied_gradients_keep_their_numbers(layout, tmp_path):
    """Against central differences, with the weights as numbers and with every input
    an array (a copied gradient then really is a copy): no gradient shares memory
    with another, the output or an input."""
    module = import_module_text(compile_latex(TWO_UNITS), tmp_path)
    rng = np.random.default_rng(5)
    names = [f for f in module.Gradients._fields]
    data = {"x_1", "x_2", "y"}
    point = {
        n: (
            rng.normal(size=40)
            if n in data or layout != "weights as numbers"
            else float(rng.normal())
        )
        for n in names
    }
    copies = {n: np.copy(v) for n, v in point.items()}
    value, gradients = module.value_and_grad(**point)
    assert all(np.array_equal(point[n], copies[n]) for n in names)
    eps = 1e-6
    for name in names:
        up = dict(point, **{name: point[name] + eps})
        down = dict(point, **{name: point[name] - eps})
        change = (module.forward(**up) - module.forward(**down)) / (2 * eps)
        want = change if np.ndim(point[name]) else np.sum(change)
        np.testing.assert_allclose(getattr(gradients, name), want, rtol=1e-6, atol=1e-8)
    arrays = [value, *point.values(), *gradients]
    arrays = [a for a in arrays if isinstance(a, np.ndarray) and a.ndim]
    for i, a in enumerate(arrays):
        assert not any(np.shares_memory(a, b) for b in arrays[i + 1 :])


def test_a_square_rounds_alike_on_numpy_scalars_and_on_arrays(tmp_path):
    """np.square, in forward and in value_and_grad alike: on numpy scalars `x**2`
    would round as pow() does, 1 in 1,000 apart from the arrays' square."""
    source = compile_latex("$$u = w x$$\n$$L = (u - t)^{2}$$\n")
    assert "**" not in source.split("def _sum_to")[0] + source.split("def forward")[1]
    module = import_module_text(source, tmp_path)
    rng = np.random.default_rng(7)
    w, x, t = rng.normal(size=(3, 2000)) * 3
    whole = module.value_and_grad(w=w, x=x, t=t)
    for i in range(2000):
        one = dict(w=np.float64(w[i]), x=np.float64(x[i]), t=np.float64(t[i]))
        value, gradients = module.value_and_grad(**one)
        assert module.forward(**one) == value == whole[0][i]
        assert gradients.w == whole[1].w[i]


SEED_DOC = r"""
$$u = wx$$
$$v = u + b$$
$$y = e^{v}$$
$$\ell = (y - y^{*})^{2}$$
"""


def _seed_by_hand(w, x, b, y_star):
    y = np.exp(w * np.asarray(x) + b)
    d_v = 2 * (y - y_star) * y
    return (y - y_star) ** 2, d_v, y


@pytest.mark.parametrize(
    "layout",
    [
        "usual",
        "weight an array",
        "target a number",
        "numpy scalar weights",
        "0-d arrays",
        "broadcast target",
        "float32",
        "integer weights",
        "2-d data",
        "strided data",
    ],
)
def test_the_usual_layout_takes_the_datas_gradients_without_the_helpers(
    layout, tmp_path
):
    """x and y_star float64 arrays of one shape, w and b floats: grad_x and
    grad_y_star are the elementwise products, grad_w and grad_b a dot and a sum
    (_Field.direct); any other layout goes through _sum_product and _sum_to, with
    the same numbers."""
    source = compile_latex(SEED_DOC)
    body = source[source.index("def value_and_grad") :]
    assert "        type(x) is type(y_star) is np.ndarray\n" in body
    assert "        and type(w) is type(b) is float\n" in body
    assert "        and x.dtype is y_star.dtype is _FLOAT64\n" in body
    assert "size, arrays = (x.size, 2) if usual else _array_size(" in body
    assert "np.multiply(d_v, w * 2.0, out=_into[2] if _into else d_v)\n" in body
    assert "grad_w = _dot(d_v, x) * 2.0 if usual else _sum_product(" in body
    module = import_module_text(source, tmp_path)
    rng = np.random.default_rng(8)
    x, y_star = rng.normal(size=(2, 30))
    w, b = 0.3, -0.2
    if layout == "weight an array":
        w = np.full_like(x, w)
    elif layout == "target a number":
        y_star = 0.5
    elif layout == "numpy scalar weights":
        w, b = np.float64(w), np.float64(b)
    elif layout == "0-d arrays":
        x, y_star = np.asarray(x[0]), np.asarray(y_star[0])
    elif layout == "broadcast target":
        y_star = y_star[:1]
    elif layout == "float32":
        x, y_star = x.astype(np.float32), y_star.astype(np.float32)
    elif layout == "integer weights":
        w, b = 2, -1
    elif layout == "2-d data":
        x, y_star = x.reshape(5, 6), y_star.reshape(5, 6)
    elif layout == "strided data":
        x, y_star = np.repeat(x, 2)[::2], np.repeat(y_star, 3)[::3]
    copies = [np.copy(v) for v in (w, x, b, y_star)]
    value, gradients = module.value_and_grad(w=w, x=x, b=b, y_star=y_star)
    for given, copy in zip((w, x, b, y_star), copies, strict=True):
        assert np.array_equal(given, copy)  # inputs untouched
    ell, d_v, y = _seed_by_hand(w, x, b, y_star)
    rtol = 1e-5 if layout == "float32" else 1e-13
    np.testing.assert_allclose(value, ell, rtol=rtol)
    np.testing.assert_allclose(gradients.x, d_v * w, rtol=rtol)
    assert np.shape(gradients.x) == np.shape(x)
    assert np.shape(gradients.y_star) == np.shape(y_star)
    d_y_star = -2 * (y - y_star)
    want = d_y_star if np.shape(y_star) == np.shape(d_y_star) else d_y_star.sum()
    np.testing.assert_allclose(np.ravel(gradients.y_star), np.ravel(want), rtol=rtol)
    assert np.shape(gradients.w) == np.shape(w)
    want_w = d_v * x if np.ndim(w) else np.sum(d_v * x)
    np.testing.assert_allclose(gradients.w, want_w, rtol=rtol)
    if layout == "float32":
        assert gradients.x.dtype == gradients.y_star.dtype == np.float32
    arrays = [value, *(g for g in gradients if isinstance(g, np.ndarray) and g.ndim)]
    for i, a in enumerate(arrays):
        assert not any(np.shares_memory(a, c) for c in arrays[i + 1 :])
        assert not any(np.shares_memory(a, v) for v in (w, x, b, y_star))


def test_the_usual_form_is_bit_for_bit_the_helpers(tmp_path):
    """The direct forms round as _sum_product and _sum_to do in that layout: the
    data's products, and the numbers' dots and sums."""
    module = import_module_text(compile_latex(TWO_UNITS), tmp_path)
    rng = np.random.default_rng(9)
    names = list(module.Gradients._fields)
    data = {"x_1", "x_2", "y"}
    point = {
        n: rng.normal(size=50) if n in data else float(rng.normal()) for n in names
    }
    _, usual = module.value_and_grad(**point)
    # one weight as an array of the data's shape leaves the usual layout: the
    # helpers' path, and the same products
    w = names[0] if names[0] not in data else names[1]
    _, general = module.value_and_grad(**dict(point, **{w: np.full(50, point[w])}))
    for name in data:
        np.testing.assert_array_equal(getattr(usual, name), getattr(general, name))
    # numpy scalars for the numbers leave it too: every gradient through the helpers
    scalars = {n: v if n in data else np.float64(v) for n, v in point.items()}
    _, helped = module.value_and_grad(**scalars)
    for name in names:
        assert type(getattr(usual, name)) is type(getattr(helped, name))
        np.testing.assert_array_equal(getattr(usual, name), getattr(helped, name))


@pytest.mark.parametrize(
    "document, data",
    [
        (SEED_DOC, "x and y_star"),  # w x: x is data; y - y^{*}: y^{*} is
        (TWO_UNITS, "x_1, x_2 and y"),
        # no weight times data, nothing subtracted: a function evaluated at points
        (r"$$f = \frac{x + \sigma(y)}{\sigma(x) + (x + y)^{2}}$$", "x and y"),
    ],
)
def test_the_usual_layout_is_that_of_the_likely_data(document, data, tmp_path):
    source = compile_latex(document)
    assert f"    # the usual: {data} float64 arrays of one shape" in source
    module = import_module_text(source, tmp_path)
    rng = np.random.default_rng(10)
    point = {
        n: rng.normal(size=20) if n in data.replace(",", " ").split() else 0.5
        for n in module.Gradients._fields
    }
    _, usual = module.value_and_grad(**point)
    # the same values in another layout: numpy scalars, and float64 arrays whose
    # dtype is not the usual one (metadata): every gradient through the helpers
    tagged = np.dtype(np.float64, metadata={"tag": 1})
    other = {
        n: v.astype(tagged) if type(v) is np.ndarray else np.float64(v)
        for n, v in point.items()
    }
    _, helped = module.value_and_grad(**other)
    for name in module.Gradients._fields:
        np.testing.assert_array_equal(getattr(usual, name), getattr(helped, name))


def test_the_usual_check_of_many_numbers_is_one_call(tmp_path):
    """Past a dozen lines of `type(w) is ... is float`, one _floats(...) call: the
    same layout, the same gradients."""
    equations = [
        f"$$v_{{{i}}} = \\tanh(a_{{{i}}} v_{{{i - 1}}} + b_{{{i}}})$$"
        for i in range(1, 40)
    ]
    source = compile_latex("\n".join([*equations, "$$L = (v_{39} - t)^{2}$$"]))
    assert "        and _floats(\n            a_1,\n            b_1,\n" in source
    import black

    from eqcompiler.formatting import black_mode

    plain = source.replace("# fmt: off\n", "", 1)  # laid out as black lays it out
    assert black.format_str(plain, mode=black_mode()) == plain
    module = import_module_text(source, tmp_path)
    rng = np.random.default_rng(11)
    point = {
        n: rng.normal(size=25) if n in ("v_0", "t") else float(rng.normal(0, 0.5))
        for n in module.Gradients._fields
    }
    _, usual = module.value_and_grad(**point)
    one_int = dict(point, a_39=1)  # not every number a float: the helpers' path
    _, helped = module.value_and_grad(**one_int)
    _, floated = module.value_and_grad(**dict(point, a_39=1.0))
    for name in module.Gradients._fields:
        np.testing.assert_array_equal(getattr(helped, name), getattr(floated, name))
    assert np.shape(usual.v_0) == (25,) and np.ndim(usual.a_1) == 0


@pytest.mark.parametrize(
    "doc",
    [
        # softplus(0.5) twice: share_exponentials names log(1 + e^-|0.5|)
        "$$\\ell = (e^{\\theta} - \\operatorname{softplus}(0.5))"
        " \\cdot \\sigma(\\operatorname{softplus}(0.5) - x)$$\n",
        "$$a = \\log(3)$$\n\n$$b = a \\cdot a + a$$\n\n"
        "$$L = \\theta \\cdot (b + 1) + \\theta^{2} b - x b$$\n",
    ],
    ids=["shared constant", "constants named"],
)
def test_names_of_numbers_stay_python_floats_and_float32_stays(doc, tmp_path):
    """A name bound to a number computed from constants is a Python float: an
    operation on such names is no ufunc (`np.add(b, a)` of two floats is a float64
    numpy scalar, which made float32 results float64; a random program found it)."""
    source = compile_latex(doc)
    bodies = source[source.index("def forward") :]
    assert not re.search(r"np\.\w+\((a|b|log1p_e)\b, (a|b|log1p_e)\b", bodies)
    module = import_module_text(source, tmp_path)
    theta = np.linspace(-1, 1, 7, dtype=np.float32)
    x = theta[::-1].copy()
    value, gradients = module.value_and_grad(theta=theta, x=x)
    forward = module.forward(theta=theta, x=x)
    assert value.dtype == forward.dtype == np.float32
    assert [g.dtype for g in gradients] == [np.float32, np.float32]
    np.testing.assert_array_equal(value, forward)
    wide = module.forward(theta=theta.astype(float), x=x.astype(float))
    np.testing.assert_allclose(value, wide, rtol=1e-6)
