"""Property tests: random programs of equations against an independent oracle (sympy).

`fuzz/programs.py` builds each program twice: as sympy expressions and as a Markdown
document written in one of many styles. Compiled on both backends, the module must
give the values and gradients sympy gives at random points in the functions'
domains, be valid and black-stable Python that imports only its backend, and be the
same bytes when compiled again. This is the bounded run; `python fuzz/programs.py`
is the long one (fuzz/RESULTS.md).
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest
import sympy
from conftest import compile_latex, import_module_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz.programs import HypothesisDraw, check, random_program  # noqa: E402

BOUNDED = settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@BOUNDED
@given(st.data())
def test_random_programs_match_sympy(data):
    program = random_program(HypothesisDraw(data))
    rng = random.Random(program.document)
    for backend in ("numpy", "math"):
        problems = check(program, backend, rng, points=3)
        assert not problems, f"{backend}:\n{program.document}\n" + "\n".join(problems)


q, x, w = sympy.symbols("q x w", real=True)

# What the random programs found wrong: (document, output, sympy expression).
REGRESSIONS = {
    # the gradient of w and q, summed straight from `d_x * (...)` where the
    # gradients are made, read d_x after `h = \cos(x)` had added to it (codegen.py,
    # _fuse_reductions: fused only if nothing later changes what it reads)
    "fused gradient read an adjoint that grew later": (
        "$$h = \\cos(x)$$\n$$L = \\arctan(x + w^{q}) + h$$\n",
        sympy.atan(x + w**q) + sympy.cos(x),
    ),
    # `_share` named the adjoint of `q + x` d_q; x's gradient became an alias of d_q,
    # and d_q grew later when q was used again (adjoint.py, _Sweep._accumulate)
    "alias of an adjoint that grows later": (
        "$$L = \\sqrt{\\sigma((q + x) w) + \\sin(q)}$$\n",
        sympy.sqrt(1 / (1 + sympy.exp(-(q + x) * w)) + sympy.sin(q)),
    ),
    # visiting `\sin(q) \cos(q)` added to d_q while its own contribution still read
    # d_q (adjoint.py, _Sweep._share)
    "shared adjoint read after it grew": (
        "$$y = (q + \\sin(q) \\cos(q))^{2}$$\n",
        (q + sympy.sin(q) * sympy.cos(q)) ** 2,
    ),
    "both at once": (
        "$$u = (q + x + q x)^{3}$$\n$$y = u + q$$\n",
        (q + x + q * x) ** 3 + q,
    ),
    # `\log \sigma(z)` was "\log needs an argument" (lower.py, _Lowerer._apply)
    "a function of a function without parentheses": (
        "$$y = -\\log \\sigma(q) + \\sin \\cos x$$\n",
        sympy.log(1 + sympy.exp(-q)) + sympy.sin(sympy.cos(x)),
    ),
    # `\max(a, b)^2` was "a list of values cannot take a power" (lower.py, _piece)
    "power of a call with two arguments": (
        "$$y = \\max(q, x)^{2}$$\n",
        sympy.Max(q, x) ** 2,
    ),
    # `e^{(a + 1)^{2}}` and `e^{(a + 1)}` were read as decorated names e_ap12
    # (lower.py, _is_mark, _piece, _script)
    "parenthesised exponents": (
        "$$y = e^{(q + 1)^{2}} + e^{(x)} w$$\n",
        sympy.exp((q + 1) ** 2) + sympy.exp(x) * w,
    ),
    # an indicator inside a function was "a comparison only goes inside an
    # indicator" (lower.py, _call)
    "indicator as an argument": (
        "$$y = \\sin(\\mathbb{1}(q > 0) x)$$\n",
        sympy.sin(sympy.Piecewise((1, q > 0), (0, True)) * x),
    ),
}


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regressions(name: str, backend: str, tmp_path):
    document, expr = REGRESSIONS[name]
    module = import_module_text(compile_latex(document, backend), tmp_path)
    inputs = [s for s in (q, x, w) if s in expr.free_symbols]
    names = module.forward.__code__.co_varnames[: module.forward.__code__.co_argcount]
    assert sorted(names) == sorted(s.name for s in inputs)
    rng = random.Random(name)
    for _ in range(5):
        point = {s: rng.uniform(0.1, 1.5) for s in inputs}
        value, gradients = module.value_and_grad(
            **{s.name: v for s, v in point.items()}
        )
        assert math.isclose(float(value), float(expr.subs(point)), rel_tol=1e-9)
        for s in inputs:
            exact = float(sympy.diff(expr, s).subs(point))
            got = float(getattr(gradients, s.name))
            assert math.isclose(got, exact, rel_tol=1e-9, abs_tol=1e-12), (
                s,
                got,
                exact,
            )
