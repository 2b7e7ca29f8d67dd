"""Every valid document and sample compiles, and matches its independent sympy oracle.

For each document in tests/docs/ (and samples/), on both backends: the inputs and
gradient fields are in the order DESIGN.md prescribes, and at random points inside
the domain the value and every gradient equal sympy's (values from the oracle's
hand-written expression, derivatives by sympy.diff), and the numpy backend agrees
on arrays too: gradients of sum(output), each shaped like its input.
"""

from __future__ import annotations

import inspect
import random
from pathlib import Path

import numpy as np
import pytest
import sympy
from conftest import ROOT, compile_source, import_module_text
from docs.oracles import ORACLES, SAMPLES, Oracle

CASES = [
    (ROOT / "tests" / "docs" / f"{name}.md", oracle) for name, oracle in ORACLES.items()
]
CASES += [(ROOT / "samples" / f"{name}.md", oracle) for name, oracle in SAMPLES.items()]


def _reference(oracle: Oracle):
    symbols = oracle.symbols()
    expr = oracle.sympy_expr()
    value = sympy.lambdify(symbols, expr, "math")
    grads = {
        name: sympy.lambdify(symbols, sympy.diff(expr, symbol), "math")
        for name, symbol in zip(oracle.inputs, symbols, strict=True)
    }
    return value, grads


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("path, oracle", CASES, ids=[p.stem for p, _ in CASES])
def test_scalar_values_and_gradients(
    path: Path, oracle: Oracle, backend: str, tmp_path
):
    module = import_module_text(compile_source(path, backend), tmp_path)
    parameters = inspect.signature(module.forward).parameters.values()
    inputs = [p.name for p in parameters if p.kind is not p.KEYWORD_ONLY]
    assert inputs == list(oracle.inputs)
    assert module.Gradients._fields == oracle.gradient_names()
    value, grads = _reference(oracle)
    rng = random.Random(path.stem)
    for _ in range(5):
        point = oracle.sample(rng)
        args = [point[n] for n in oracle.inputs]
        expected = value(*args)
        got, gradients = module.value_and_grad(**point)
        assert float(module.forward(**point)) == pytest.approx(
            expected, rel=1e-9, abs=1e-12
        )
        assert float(got) == pytest.approx(expected, rel=1e-9, abs=1e-12)
        for name in oracle.gradient_names():
            want = grads[name](*args)
            assert float(getattr(gradients, name)) == pytest.approx(
                want, rel=1e-7, abs=1e-9
            ), name
        again = [float(g) for g in module.backward(**point)]
        assert again == pytest.approx([float(g) for g in gradients])


@pytest.mark.parametrize("path, oracle", CASES, ids=[p.stem for p, _ in CASES])
def test_numpy_arrays_broadcast(path: Path, oracle: Oracle, tmp_path):
    """Half the inputs are arrays of 7 points, half scalars: gradients of the sum."""
    module = import_module_text(compile_source(path, "numpy"), tmp_path)
    value, grads = _reference(oracle)
    rng = random.Random(path.stem + "arrays")
    points = [oracle.sample(rng) for _ in range(7)]
    as_array = {name: i % 2 == 0 for i, name in enumerate(oracle.inputs)}
    args = {
        name: np.array([p[name] for p in points]) if as_array[name] else points[0][name]
        for name in oracle.inputs
    }
    got, gradients = module.value_and_grad(**args)
    rows = [
        {n: (p[n] if as_array[n] else points[0][n]) for n in oracle.inputs}
        for p in points
    ]
    want_value = [value(*[r[n] for n in oracle.inputs]) for r in rows]
    np.testing.assert_allclose(got, want_value, rtol=1e-9, atol=1e-12)
    for name in oracle.gradient_names():
        per_row = [grads[name](*[r[n] for n in oracle.inputs]) for r in rows]
        want = np.array(per_row) if as_array[name] else sum(per_row)
        assert np.shape(getattr(gradients, name)) == np.shape(args[name]), name
        np.testing.assert_allclose(getattr(gradients, name), want, rtol=1e-7, atol=1e-9)
