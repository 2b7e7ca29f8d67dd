"""Generated code stays finite, without warnings, at extreme inputs (±1000)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import compile_latex, import_module_text

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
