"""Peers: each document's function in JAX, PyTorch and HIPS autograd.

Each peer is imported only when asked for; a missing one is reported with a note
instead of failing the run. A peer computes the same thing as the generated
`value_and_grad`: the output, elementwise, and the gradients of its sum with respect
to the inputs the generated `Gradients` lists.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

# --- the documents' functions, written once for every array library `o`


def backprop(o: Any, w: Any, x: Any, b: Any, y_star: Any) -> Any:
    return (o.exp(w * x + b) - y_star) ** 2


def logistic_regression(
    o: Any, w_1: Any, x_1: Any, w_2: Any, x_2: Any, b: Any, y: Any
) -> Any:
    z = w_1 * x_1 + w_2 * x_2 + b
    return o.softplus(z) - y * z


def staged_function(o: Any, x: Any, y: Any) -> Any:
    return (x + o.sigmoid(y)) / (o.sigmoid(x) + (x + y) ** 2)


def two_layer_tanh(
    o: Any,
    w_11: Any,
    x_1: Any,
    w_12: Any,
    x_2: Any,
    b_1: Any,
    w_21: Any,
    w_22: Any,
    b_2: Any,
    v_1: Any,
    v_2: Any,
    c: Any,
    y: Any,
) -> Any:
    h_1 = o.tanh(w_11 * x_1 + w_12 * x_2 + b_1)
    h_2 = o.tanh(w_21 * x_1 + w_22 * x_2 + b_2)
    return 0.5 * (v_1 * h_1 + v_2 * h_2 + c - y) ** 2


FORMULAS: dict[str, Callable[..., Any]] = {
    "backprop": backprop,
    "logistic_regression": logistic_regression,
    "staged_function": staged_function,
    "two_layer_tanh": two_layer_tanh,
}

Result = tuple[np.ndarray, tuple[np.ndarray, ...]]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A peer bound to its inputs: the call to time, and its result as numpy."""

    call: Callable[[], Any]
    as_numpy: Callable[[Any], Result]
    first_call: float | None = None  # seconds of a first, compiling call


def missing(peer: str) -> str | None:
    """Why `peer` ("jax", "torch", "autograd") cannot run here, or None."""
    try:
        importlib.import_module(peer)
    except Exception as error:  # noqa: BLE001 - any import failure skips the peer
        return f"{peer} not importable ({type(error).__name__}: {error})"
    return None


def version(package: str) -> str:
    try:
        return importlib.import_module(package).__version__
    except Exception:  # noqa: BLE001
        return "not installed"


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach()
    return np.asarray(value)


def _as_numpy(result: Any) -> Result:
    value, grads = result
    return _numpy(value), tuple(_numpy(g) for g in grads)


# --- JAX: jax.jit(jax.value_and_grad(...)) with 64-bit floats


def _jax() -> Any:
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def jax_jit(
    stem: str, inputs: Mapping[str, Any], wrt: tuple[str, ...], *, device: bool
) -> Prepared:
    """The jitted value_and_grad; `device` keeps inputs and results as jax arrays,
    otherwise numpy arrays (or floats) go in and numpy arrays come out."""
    jax = _jax()
    import jax.numpy as jnp

    ops = SimpleNamespace(
        exp=jnp.exp,
        tanh=jnp.tanh,
        sigmoid=jax.nn.sigmoid,
        softplus=jax.nn.softplus,
    )
    formula = FORMULAS[stem]

    def loss(active: tuple[Any, ...], rest: dict[str, Any]) -> tuple[Any, Any]:
        out = formula(ops, **dict(zip(wrt, active, strict=True)), **rest)
        return jnp.sum(out), out

    compiled = jax.jit(jax.value_and_grad(loss, has_aux=True))
    convert = jnp.asarray if device else (lambda v: v)
    active = tuple(convert(inputs[name]) for name in wrt)
    rest = {k: convert(v) for k, v in inputs.items() if k not in wrt}

    if device:

        def call() -> Any:
            (_, out), grads = compiled(active, rest)
            return jax.block_until_ready((out, grads))

    else:

        def call() -> Any:
            (_, out), grads = compiled(active, rest)
            return np.asarray(out), tuple(np.asarray(g) for g in grads)

    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    return Prepared(call, _as_numpy, first)


# --- PyTorch: eager mode, torch.autograd.grad


def _torch(threads: int | None) -> Any:
    import torch

    if threads:
        torch.set_num_threads(threads)
    return torch


def torch_eager(
    stem: str,
    inputs: Mapping[str, Any],
    wrt: tuple[str, ...],
    *,
    scalars: bool,
    threads: int | None = None,
) -> Prepared:
    """Eager autograd. With `scalars`, the inputs are 0-d tensors made once (the
    peer's best case); otherwise numpy arrays go in and come out, shared not copied."""
    torch = _torch(threads)
    ops = SimpleNamespace(
        exp=torch.exp,
        tanh=torch.tanh,
        sigmoid=torch.sigmoid,
        softplus=torch.nn.functional.softplus,
    )
    formula = FORMULAS[stem]

    def tensor(name: str, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            t = torch.from_numpy(value)
        else:
            t = torch.tensor(value, dtype=torch.float64)
        return t.requires_grad_(name in wrt)

    if scalars:
        leaves = {name: tensor(name, v) for name, v in inputs.items()}
        active = [leaves[name] for name in wrt]

        def call() -> Any:
            out = formula(ops, **leaves)
            return out, torch.autograd.grad(out, active)

    else:

        def call() -> Any:
            leaves = {name: tensor(name, v) for name, v in inputs.items()}
            out = formula(ops, **leaves)
            grads = torch.autograd.grad(out.sum(), [leaves[name] for name in wrt])
            return out.detach().numpy(), tuple(g.numpy() for g in grads)

    return Prepared(call, _as_numpy)


# --- HIPS autograd


def autograd_grad(
    stem: str, inputs: Mapping[str, Any], wrt: tuple[str, ...]
) -> Prepared:
    """autograd's grad_and_aux over the tuple of differentiated inputs."""
    import autograd
    import autograd.numpy as anp

    ops = SimpleNamespace(
        exp=anp.exp,
        tanh=anp.tanh,
        sigmoid=lambda z: 0.5 * anp.tanh(0.5 * z) + 0.5,
        softplus=lambda z: anp.logaddexp(0.0, z),
    )
    formula = FORMULAS[stem]

    def loss(active: tuple[Any, ...], rest: dict[str, Any]) -> tuple[Any, Any]:
        out = formula(ops, **dict(zip(wrt, active, strict=True)), **rest)
        return anp.sum(out), out

    grad_and_aux = autograd.grad_and_aux(loss)
    active = tuple(inputs[name] for name in wrt)
    rest = {k: v for k, v in inputs.items() if k not in wrt}

    def call() -> Any:
        grads, out = grad_and_aux(active, rest)
        return out, grads

    return Prepared(call, _as_numpy)
