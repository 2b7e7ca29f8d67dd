"""Emitted tests: a pytest file that checks a generated module's gradients.

`eqcompiler compile --emit-tests` writes `test_<module>.py` beside the module. The
test loads the module from the file beside it (whatever the folder's package
layout), and compares each field of `backward` with central differences of
`forward` at a few fixed points. The points are drawn once, here, from a seeded
generator and written into the file, so the file is the same on every run.
Everything this module needs to know (inputs, gradient fields, backend) it reads
from the generated module's own text.
"""

from __future__ import annotations

import ast
import random
import re

from .codegen import protect, render_template
from .formatting import format_python

LOW, HIGH = 0.1, 0.9  # inside the domain of log, sqrt, arcsin, 1/x ... of an input
POINTS = 3


def generate_tests(module: str, name: str) -> str:
    """The pytest file for the generated module `module`, saved as `name`.py."""
    tree = ast.parse(module)
    inputs = _forward_inputs(tree)
    numpy = any(
        isinstance(node, ast.Import) and any(a.name == "numpy" for a in node.names)
        for node in tree.body
    )
    draw = random.Random(f"eqcompiler {name}")  # str seeds are stable across Pythons
    points = [
        "{" + ", ".join(f'"{i}": {draw.uniform(LOW, HIGH):.3f}' for i in inputs) + "}"
        for _ in range(POINTS)
    ]
    header = [line for line in module.splitlines()[:3] if line.startswith("# ")]
    text = render_template(
        "test_module.py.j2",
        header=header,
        module=name,
        module_var=_variable(name),
        numpy=numpy,
        points=points,
        low=LOW,
        high=HIGH,
    )
    return protect(format_python(text))


def _forward_inputs(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "forward":
            return [a.arg for a in node.args.args]
    raise AssertionError("a generated module without forward()")


def _variable(name: str) -> str:
    """A module-level name for the loaded module that its own names cannot shadow."""
    reserved = {"STEP", "POINTS", "math", "np", "pytest", "importlib"}
    reserved |= {"Callable", "Path", "ModuleType"}
    variable = re.sub(r"\W|^(?=\d)", "_", name)
    return variable if variable not in reserved else f"{variable}_module"
