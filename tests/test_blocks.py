"""Large arrays run in blocks (`_in_blocks` in templates/helpers_numpy.py): the same
numbers as one pass over the whole arrays, shaped and typed as the inputs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, compile_source, import_module_text

SAMPLES = sorted((ROOT / "samples").glob("*.md"))
SEED = ROOT / "tests" / "seed" / "backprop.md"


def _module(path: Path, tmp_path: Path):
    return import_module_text(compile_source(path), tmp_path)


def _inputs(module, size: int | tuple, numbers: bool, dtype=np.float64, seed=0):
    """Random inputs for every parameter of `module.forward`: arrays of `size`, or,
    if `numbers`, every other one a Python float (the first among them)."""
    rng = np.random.default_rng(seed)
    names = _inputs_of(module.forward)
    return {
        name: (
            float(rng.normal())
            if numbers and i % 2 == 0
            else rng.normal(size=size).astype(dtype)
        )
        for i, name in enumerate(names)
    }


def _inputs_of(function) -> list[str]:
    """The document's inputs: the parameters but `_into` (_in_blocks's, keyword only)."""
    parameters = inspect.signature(function).parameters.values()
    return [p.name for p in parameters if p.kind is not p.KEYWORD_ONLY]


def _usual_inputs(module, size: int) -> dict:
    """Inputs in the usual layout its value_and_grad names (`# the usual: x and
    y_star float64 arrays ...`): those arrays of `size`, the other inputs floats."""
    source = inspect.getsource(module.value_and_grad)
    listed = re.search(r"# the usual: (.*?) float64 array", source)[1]
    data = set(re.split(r", | and ", listed))
    rng = np.random.default_rng(5)
    return {
        name: rng.normal(size=size) if name in data else float(rng.normal())
        for name in _inputs_of(module.forward)
    }


def _in_one_pass(module, monkeypatch, function: str, inputs: dict):
    with monkeypatch.context() as patch:
        patch.setattr(module, "_IN_CACHE", 10**15)  # no body holds that much
        return getattr(module, function)(**inputs)


@pytest.fixture
def small_cache(monkeypatch):
    """A cache of 2**18 elements: arrays of more than _BLOCK elements (2**17) run in
    blocks, so that the tests need no arrays of millions."""

    def shrink(module):
        monkeypatch.setattr(module, "_IN_CACHE", 2**18)
        return module

    return shrink


def _assert_same(blocked, whole, rtol: float) -> None:
    """Elementwise results bit for bit; a number's gradient, a sum, up to rounding."""
    assert type(blocked) is type(whole)
    assert np.shape(blocked) == np.shape(whole)
    assert np.result_type(blocked) == np.result_type(whole)
    if np.ndim(whole) == 0:
        np.testing.assert_allclose(blocked, whole, rtol=rtol, atol=0)
    else:
        np.testing.assert_array_equal(blocked, whole)


@pytest.mark.parametrize("numbers", [True, False], ids=["numbers", "arrays"])
@pytest.mark.parametrize("path", [SEED, *SAMPLES], ids=lambda p: p.stem)
def test_blocks_give_what_one_pass_gives(
    path, numbers, tmp_path, monkeypatch, small_cache
):
    module = small_cache(_module(path, tmp_path))
    size = 2 * module._BLOCK + 1  # three blocks, give or take one element
    inputs = _inputs(module, size, numbers)
    value, gradients = module.value_and_grad(**inputs)
    whole_value, whole_gradients = _in_one_pass(
        module, monkeypatch, "value_and_grad", inputs
    )
    _assert_same(value, whole_value, 0)
    assert type(gradients) is module.Gradients
    for got, want in zip(gradients, whole_gradients, strict=True):
        _assert_same(got, want, 1e-12)
    _assert_same(module.forward(**inputs), whole_value, 0)


def test_the_seed_in_blocks_against_its_closed_form(tmp_path, small_cache):
    module = small_cache(_module(SEED, tmp_path))
    rng = np.random.default_rng(1)
    x, y_star = rng.normal(size=(2, 300_007))
    w, b = 0.3, -0.1
    value, gradients = module.value_and_grad(w=w, x=x, b=b, y_star=y_star)
    y = np.exp(w * x + b)
    np.testing.assert_allclose(value, (y - y_star) ** 2, rtol=1e-14)
    d_v = 2 * (y - y_star) * y
    np.testing.assert_allclose(gradients.w, np.sum(d_v * x), rtol=1e-12)
    np.testing.assert_allclose(gradients.b, np.sum(d_v), rtol=1e-12)
    np.testing.assert_allclose(gradients.x, d_v * w, rtol=1e-14)
    np.testing.assert_allclose(gradients.y_star, -2 * (y - y_star), rtol=1e-14)


@pytest.mark.parametrize(
    "layout", ["2-d", "float32", "fortran order", "strided", "numpy scalars"], ids=str
)
def test_blocks_keep_the_inputs_shape_and_type(
    layout, tmp_path, monkeypatch, small_cache
):
    module = small_cache(_module(SEED, tmp_path))
    dtype = np.float32 if layout == "float32" else np.float64
    shape = (513, 512) if layout in ("2-d", "fortran order") else 300_001
    inputs = _inputs(module, shape, numbers=True, dtype=dtype)
    if layout == "fortran order":
        inputs = {k: np.asfortranarray(v) for k, v in inputs.items()}
    if layout == "strided":  # every other element of a longer array
        inputs = {
            k: np.repeat(v, 2)[::2] if isinstance(v, np.ndarray) else v
            for k, v in inputs.items()
        }
    if layout == "numpy scalars":  # parameters as `theta[0]` gives them
        inputs = {
            k: np.float64(v) if type(v) is float else v for k, v in inputs.items()
        }
        assert module._array_size(*inputs.values()) == (300_001, 2)
    value, gradients = module.value_and_grad(**inputs)
    assert value.shape == np.shape(inputs["x"]) and value.dtype == dtype
    whole_value, whole_gradients = _in_one_pass(
        module, monkeypatch, "value_and_grad", inputs
    )
    _assert_same(value, whole_value, 0)
    for got, want in zip(gradients, whole_gradients, strict=True):
        _assert_same(got, want, 1e-5 if dtype == np.float32 else 1e-12)
    assert gradients.x.shape == np.shape(inputs["x"])
    assert gradients.x.dtype == gradients.w.dtype == dtype


def test_blocks_leave_the_inputs_alone_and_hand_out_arrays_of_their_own(
    tmp_path, small_cache
):
    module = small_cache(_module(SAMPLES[-1], tmp_path))  # two_layer_tanh
    inputs = _inputs(module, 2 * module._BLOCK + 5, numbers=True)
    copies = {k: np.copy(v) for k, v in inputs.items()}
    value, gradients = module.value_and_grad(**inputs)
    assert all(np.array_equal(inputs[k], copies[k]) for k in inputs)
    results = [value, *(g for g in gradients if isinstance(g, np.ndarray))]
    assert len(results) > 2
    for i, result in enumerate(results):
        assert not any(np.shares_memory(result, v) for v in inputs.values())
        assert not any(np.shares_memory(result, r) for r in results[i + 1 :])


def test_large_arrays_that_broadcast_are_taken_whole(tmp_path, small_cache):
    module = small_cache(_module(SEED, tmp_path))
    rng = np.random.default_rng(2)
    x = rng.normal(size=300_000)
    y_star = np.array([0.5])  # shape (1,): it broadcasts, so no blocks
    assert module._array_size(0.3, x, -0.1, y_star) == (0, 2)
    value, gradients = module.value_and_grad(w=0.3, x=x, b=-0.1, y_star=y_star)
    full = np.full_like(x, 0.5)
    want_value, want = module.value_and_grad(w=0.3, x=x, b=-0.1, y_star=full)
    np.testing.assert_array_equal(value, want_value)
    assert gradients.y_star.shape == (1,)
    np.testing.assert_allclose(gradients.y_star, [want.y_star.sum()], rtol=1e-12)
    np.testing.assert_array_equal(gradients.x, want.x)


def test_array_size_says_when_arrays_share_a_shape_and_a_float_type(tmp_path):
    module = _module(SEED, tmp_path)
    a, b = np.zeros(7), np.ones(7)

    def size(*inputs):
        elements, arrays = module._array_size(*inputs)
        assert arrays == sum(type(v) is np.ndarray for v in inputs), inputs
        return elements

    assert module._array_size(a, 1.5, b, 2) == (7, 2)
    assert module._array_size(1.5, 2) == (1, 0)  # numbers only: one element
    assert size(a, np.zeros(6)) == 0  # shapes differ
    assert size(a, np.zeros(7, np.float32)) == 0  # float types differ
    assert size(np.arange(7), 1.0) == 0  # integers: results would be new arrays
    assert size(a, np.float64(1.0), 2.0) == 7  # a numpy scalar of the arrays' type
    assert size(a, np.float32(1.0)) == 0  # of another type: float32 results
    assert size(np.zeros(7, np.float32), np.float64(1.0)) == 0  # float64 results
    assert size(a, np.int64(1)) == 0
    assert size(a, True) == 0
    assert size(np.zeros((3, 4)), np.ones((3, 4))) == 12


def _calls_in_blocks(module, monkeypatch, function: str, inputs: dict) -> int:
    """How many times `function` hands its inputs to _in_blocks."""
    calls = []
    in_blocks = module._in_blocks

    def spy(*args):
        calls.append(args)
        return in_blocks(*args)

    monkeypatch.setattr(module, "_in_blocks", spy)
    getattr(module, function)(**inputs)
    monkeypatch.setattr(module, "_in_blocks", in_blocks)
    return len(calls)


def test_blocks_only_when_the_arrays_held_outgrow_the_cache(tmp_path, monkeypatch):
    module = _module(SEED, tmp_path)
    source = inspect.getsource(module.value_and_grad)
    own = int(re.search(r"size \* \(arrays \+ (\d+)\) > _IN_CACHE", source)[1])
    assert own == 3  # u (then v, y, d_v, grad_x), y_minus_y_star, ell
    x, y_star = np.ones((2, 2 * module._BLOCK))
    held = 2 + own  # x and y_star, and the body's
    for cache, blocks in ((x.size * held, 0), (x.size * held - 1, 1)):
        monkeypatch.setattr(module, "_IN_CACHE", cache)
        inputs = {"w": 0.5, "x": x, "b": 0.1, "y_star": y_star}
        assert _calls_in_blocks(module, monkeypatch, "value_and_grad", inputs) == blocks
        inputs["y_star"] = 1.0  # one array fewer: fits again
        assert _calls_in_blocks(module, monkeypatch, "value_and_grad", inputs) == 0
    # at the default, arrays of 10^6 fit: five of them are 5 of 2**23 elements
    monkeypatch.undo()
    inputs = {"w": 0.5, "x": np.ones(10**6), "b": 0.1, "y_star": np.ones(10**6)}
    assert _calls_in_blocks(module, monkeypatch, "value_and_grad", inputs) == 0


def test_a_body_of_many_arrays_takes_a_block_whole(tmp_path, monkeypatch):
    """With 70 arrays of its own, even one block outgrows the cache: a block, of
    at most _BLOCK elements, is taken whole (not split again, without end)."""
    links = "\n\n".join(f"$$v_{{{i}}} = \\tanh(v_{{{i - 1}}})$$" for i in range(1, 71))
    doc = tmp_path / "chain.md"
    doc.write_text(f"$$v_{{0}} = x$$\n\n{links}\n\n$$L = v_{{70}}^{{2}}$$\n")
    module = _module(doc, tmp_path)
    assert module._BLOCK * 70 > module._IN_CACHE
    x = np.random.default_rng(3).uniform(-1, 1, 2 * module._BLOCK + 3)
    assert _calls_in_blocks(module, monkeypatch, "value_and_grad", {"x": x}) == 1
    value, gradients = module.value_and_grad(x=x)
    whole_value, whole = _in_one_pass(module, monkeypatch, "value_and_grad", {"x": x})
    np.testing.assert_array_equal(value, whole_value)
    np.testing.assert_array_equal(gradients.x, whole.x)
    small = x[: module._BLOCK]  # not more than a block: whole
    assert _calls_in_blocks(module, monkeypatch, "value_and_grad", {"x": small}) == 0


@pytest.mark.parametrize("path", [SEED, *SAMPLES], ids=lambda p: p.stem)
def test_a_block_writes_its_results_where_in_blocks_says(path, tmp_path):
    """Given `_into` (as _in_blocks gives it after the first block), the body
    computes each array result into its array, where its last operation can, and
    the numbers are those of the call without it."""
    module = _module(path, tmp_path)
    inputs = _usual_inputs(module, 1000)
    value, gradients = module.value_and_grad(**inputs)
    results = [value, *gradients]
    into = [np.full(1000, np.nan) if np.ndim(r) else None for r in results]
    got_value, got_gradients = module.value_and_grad(**inputs, _into=into)
    got = [got_value, *got_gradients]
    for result, want in zip(got, results, strict=True):
        _assert_same(result, want, 0)
    places = enumerate(zip(got, into, strict=True))
    in_place = {i for i, (r, there) in places if r is there}
    source = inspect.getsource(module.value_and_grad)
    written = {int(i) for i in re.findall(r"out=_into\[(\d+)\] if _into", source)}
    assert 0 in written  # every sample's value is an operation's result
    assert in_place == written
    forward_into = [np.empty(1000)]
    forward = module.forward(**inputs, _into=forward_into)
    _assert_same(forward, value, 0)
    assert forward is forward_into[0]


def test_results_of_one_array_are_copied_not_shared(tmp_path, monkeypatch, small_cache):
    """x's and y's gradients are both d_s: one array goes into its result's place,
    the other result is a copy of it, in blocks as in one pass."""
    doc = tmp_path / "shared.md"
    doc.write_text("$$s = x + y$$\n\n$$L = \\tanh(s)^{2}$$\n")
    module = small_cache(_module(doc, tmp_path))
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(2, 2 * module._BLOCK + 7))
    assert _calls_in_blocks(module, monkeypatch, "value_and_grad", {"x": x, "y": y})
    value, gradients = module.value_and_grad(x=x, y=y)
    whole_value, whole = _in_one_pass(
        module, monkeypatch, "value_and_grad", {"x": x, "y": y}
    )
    np.testing.assert_array_equal(value, whole_value)
    np.testing.assert_array_equal(gradients.x, whole.x)
    np.testing.assert_array_equal(gradients.y, whole.y)
    assert not np.shares_memory(gradients.x, gradients.y)
    assert not np.shares_memory(value, gradients.x)
