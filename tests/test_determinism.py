"""Deterministic, lint-clean output.

The same document gives the same bytes whatever the current folder, the hash seed,
the line endings of the checkout, or the user's own black configuration; every
generated module (and emitted test) passes `black --check` and `ruff check` with
default rules; the modules read like hand-written code (type hints, `__all__`, no
global state, an equation comment on each statement); and the checked-in samples
are current.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, compile_latex, import_module_text
from test_check import cli

SAMPLES = sorted((ROOT / "samples").glob("*.md"))
CASES = sorted(p for p in (ROOT / "tests" / "cases").glob("*.py"))
HOSTILE_BLACK = "[tool.black]\nline-length = 40\nskip-string-normalization = true\n"
HOSTILE_RUFF = 'line-length = 40\n[format]\nquote-style = "single"\n'


def tool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every sample compiled with both backends, with emitted tests, in a user's
    repository whose black and ruff settings differ from eqcompiler's."""
    repo = tmp_path_factory.mktemp("user_repo")
    (repo / ".git").mkdir()
    (repo / "pyproject.toml").write_text(HOSTILE_BLACK)
    for sample in SAMPLES:
        for backend in ("numpy", "math"):
            doc = repo / f"{sample.stem}_{backend}.md"
            shutil.copy(sample, doc)
            result = cli(
                "compile", "--emit-tests", "--backend", backend, doc.name, cwd=repo
            )
            assert result.returncode == 0, result.stderr
    return repo


def test_same_bytes_from_any_folder_and_any_user_black_config(tmp_path: Path):
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / ".git").mkdir()
    doc = project / "docs" / "backprop.md"
    shutil.copy(ROOT / "samples" / "backprop.md", doc)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pyproject.toml").write_text(HOSTILE_BLACK)
    (project / "docs" / "pyproject.toml").write_text(HOSTILE_BLACK)
    outputs = []
    for cwd, path in [
        (project / "docs", "backprop.md"),
        (project, "docs/backprop.md"),
        (elsewhere, "../project/docs/backprop.md"),
        (tmp_path, str(doc)),
    ]:
        result = cli("compile", path, cwd=cwd)
        assert result.returncode == 0, result.stderr
        outputs.append(doc.with_suffix(".py").read_bytes())
        doc.with_suffix(".py").unlink()
    assert all(o == outputs[0] for o in outputs)
    assert b"from backprop.md;" in outputs[0]  # no absolute path, no cwd in it


@pytest.mark.parametrize("seed", ["0", "1", "12345"])
def test_same_bytes_for_any_hash_seed(tmp_path: Path, seed: str):
    expected = (ROOT / "samples" / "staged_function.py").read_bytes()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "eqcompiler",
            "compile",
            "staged_function.md",
            "-o",
            "-",
        ],
        capture_output=True,
        cwd=ROOT / "samples",
        env={**os.environ, "PYTHONHASHSEED": seed},
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout == expected


def test_same_bytes_for_a_crlf_checkout(tmp_path: Path):
    doc = tmp_path / "backprop.md"
    doc.write_bytes(
        (ROOT / "samples" / "backprop.md").read_bytes().replace(b"\n", b"\r\n")
    )
    result = cli("compile", doc.name, "-o", "-", cwd=tmp_path)
    assert result.stdout == (ROOT / "samples" / "backprop.py").read_text()


def test_same_bytes_with_the_template_cache_and_without_it(tmp_path: Path):
    from eqcompiler import codegen

    expected = (ROOT / "samples" / "backprop.py").read_bytes()
    command = [sys.executable, "-m", "eqcompiler", "compile", "backprop.md", "-o", "-"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # Jinja's cache goes under it
    for _ in range(2):  # the first run compiles the template and caches it
        result = subprocess.run(
            command, capture_output=True, cwd=ROOT / "samples", env=env, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected
    (entry,) = tmp_path.glob("_jinja2-cache-*/__jinja2_*.cache")
    # a truncated entry, and a cache that can be neither read nor written (its
    # folder is a file): the template is compiled as without a cache
    entry.write_bytes(entry.read_bytes()[:40])
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    plain = codegen._new_environment(None).get_template("module.py.j2")
    code = plain.root_render_func.__code__.co_code
    for folder in [str(entry.parent), str(not_a_folder)]:
        environment = codegen._new_environment(codegen._TemplateCache(folder))
        template = environment.get_template("module.py.j2")
        assert template.root_render_func.__code__.co_code == code
    assert not_a_folder.read_text() == ""


def test_samples_are_current():
    result = cli(
        "compile", "--check", *(str(s.relative_to(ROOT)) for s in SAMPLES), cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    # and through this repository's own [tool.eqcompiler] table
    result = cli("compile", "--check", cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_black_check_passes_with_default_and_with_the_users_settings(generated: Path):
    files = sorted(p.name for p in generated.glob("*.py"))
    assert len(files) == 4 * len(SAMPLES)  # a module and a test for each
    # the user's hostile pyproject.toml is in force here ...
    result = tool("black", "--check", *files, cwd=generated)
    assert result.returncode == 0, result.stderr
    # ... and black's defaults (the generated files are already in that style)
    result = tool("black", "--check", "--config", os.devnull, *files, cwd=generated)
    assert result.returncode == 0, result.stderr


def test_ruff_passes_with_default_rules_and_ruff_format_leaves_it(generated: Path):
    result = tool("ruff", "check", "--isolated", ".", cwd=generated)
    assert result.returncode == 0, result.stdout + result.stderr
    (generated / "ruff.toml").write_text(HOSTILE_RUFF)
    try:
        result = tool("ruff", "format", "--check", ".", cwd=generated)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        (generated / "ruff.toml").unlink()


def test_golden_cases_are_lint_clean():
    names = [p.name for p in CASES]
    assert names, "no golden modules"
    cwd = ROOT / "tests" / "cases"
    result = tool("ruff", "check", "--isolated", *names, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    result = tool("black", "--check", "--config", os.devnull, *names, cwd=cwd)
    assert result.returncode == 0, result.stderr


def test_the_emitted_tests_pass(generated: Path):
    result = tool("pytest", "-q", "-p", "no:cacheprovider", ".", cwd=generated)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- reads like hand-written code ------------------------------------------------------

MODULES = [pytest.param(p, id=p.stem) for p in sorted((ROOT / "samples").glob("*.py"))]
_LINE = re.compile(r"\(line \d+\)$")


@pytest.mark.parametrize("path", MODULES)
def test_module_shape(path: Path):
    text = path.read_text()
    tree = ast.parse(text)
    # no global state: imports, __all__, constants, functions and the Gradients class
    for node in tree.body:
        match node:
            case ast.Expr(value=ast.Constant(value=str())):
                assert node is tree.body[0], "a docstring only at the top"
            case ast.Import() | ast.ImportFrom() | ast.FunctionDef() | ast.ClassDef():
                pass
            case ast.Assign(targets=[ast.Name(id="__all__")]):
                pass
            case ast.Assign(targets=[ast.Name(id=name)], value=ast.Constant()):
                assert name.lstrip("_").isupper(), "a constant, named as one"
            case ast.Assign(
                targets=[ast.Name(id=name)],
                value=ast.Call(
                    func=ast.Attribute(value=ast.Name(id="np"), attr="ones"),
                    args=[ast.Constant()],
                ),
            ):  # a constant array (_sum's ones), which nothing writes into
                assert name.lstrip("_").isupper(), "a constant, named as one"
                assert f"{name}[" not in text.replace(f"{name}[:", ""), "read only"
            case ast.Assign(
                targets=[ast.Name(id=name)],
                value=ast.Call(
                    func=ast.Attribute(value=ast.Name(id="np"), attr="dtype"),
                    args=[ast.Attribute(value=ast.Name(id="np"))],
                ),
            ):  # a dtype (the usual layout's _FLOAT64)
                assert name.lstrip("_").isupper(), "a constant, named as one"
            case _:
                raise AssertionError(f"module-level statement: {ast.unparse(node)}")
    docstring = ast.get_docstring(tree)
    assert docstring and "Forward pass, as the document writes it" in docstring
    exported = ast.literal_eval(
        next(n.value for n in tree.body if isinstance(n, ast.Assign))  # __all__
    )
    assert exported == ["Gradients", "backward", "forward", "value_and_grad"]
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for function in functions.values():  # type hints everywhere
        assert function.returns is not None, function.name
        assert all(a.annotation is not None for a in function.args.args), function.name
        assert ast.get_docstring(function), function.name


@pytest.mark.parametrize("path", MODULES)
def test_each_statement_points_to_its_equation(path: Path):
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef) or function.name not in (
            "forward",
            "value_and_grad",
        ):
            continue
        chain = None  # the target of the equation the statement before cited
        for statement in function.body[1:-1]:  # after the docstring, before return
            first = lines[statement.lineno - 1]
            before = [c.strip() for c in lines[function.lineno : statement.lineno - 1]]
            target = _target(statement)
            if re.match(r"\s*((size, arrays|reuse|usual) = |if usual:$)", first):
                continue  # whether results may go into spare arrays, the layout
            if re.match(r"\s*if size > _BLOCK and size \* ", first):  # in blocks
                assert "return _in_blocks(" in lines[statement.lineno], first
                continue
            if re.match(r"\s*out_shape = ", first):  # the gradients' starting point
                continue
            if re.match(r"\s*grad_\w+ = ", first):  # a gradient, after the sweep
                assert any(c.startswith("# Backward sweep") for c in before), first
                continue
            if not any(c.startswith("# Backward sweep") for c in before):
                # a forward statement: its equation on its line or just above it,
                # or it continues the statements on its target that follow one
                # (`z = w_1 * x_1`, then `z = np.add(z, w_2 * x_2, out=...)`), or
                # computes one of their operands on a term (`z_term = w_2 * x_2`)
                cited = _LINE.search(first) or _LINE.search(before[-1])
                # or a value that equations share (share_exponentials), named above or
                # beside it
                shared = r"# (log\(1 \+ e|1 \+ e|for sigmoid)\S* .*"
                cited = cited or re.fullmatch(shared, before[-1])
                cited = cited or re.search("  " + shared + "$", first)
                term = chain and target and re.fullmatch(rf"{chain}_term\w*", target)
                assert cited or (target is not None and target == chain) or term, first
                if not term:
                    chain = target
            else:  # a backward step: under a "# from <equation> (line N)" comment
                origins = [c for c in before if c.startswith("# from ")]
                assert origins and _LINE.search(origins[-1]), first


def _target(statement: ast.stmt) -> str | None:
    if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id
    return None


def test_the_cycle_collector_is_paused_while_compiling_and_only_then(monkeypatch):
    """black and the IR make millions of objects; the collector would walk them
    over and over (driver.cycles_collected_after)."""
    import gc

    import black

    seen = []
    format_str = black.format_str
    monkeypatch.setattr(
        black,
        "format_str",
        lambda *a, **k: seen.append(gc.isenabled()) or format_str(*a, **k),
    )
    assert gc.isenabled()
    compile_latex("$$y = x^{2}$$")
    # the module, then the bodies of forward and value_and_grad (codegen._spliced)
    assert seen == [False, False, False] and gc.isenabled()


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_helpers_are_as_black_formats_them(backend: str):
    """codegen copies the helpers in after black has run (black formats only the
    rest): that is right only while they are black-formatted with its settings."""
    import black

    from eqcompiler.codegen import _helper_sources
    from eqcompiler.formatting import black_mode

    for name, source in _helper_sources(backend).items():
        assert black.format_str(source + "\n", mode=black_mode()) == source + "\n", name


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize(
    "source", SAMPLES + sorted((ROOT / "tests" / "cases").glob("*.md")), ids=str
)
def test_a_module_is_what_black_makes_of_it(source: Path, backend: str):
    import black

    from eqcompiler.errors import EqError, EqErrors
    from eqcompiler.formatting import black_mode

    try:
        module = compile_latex(source.read_text(), backend, path=source.name)
    except (EqError, EqErrors):  # a case that is an error has no module
        assert source.with_suffix(".err").exists()
        return
    plain = module.replace("# fmt: off\n", "", 1)
    assert black.format_str(plain, mode=black_mode()) == plain


def test_helpers_calling_a_renamed_numpy_are_formatted_with_the_rest():
    """A document naming a value `np` makes the module import numpy under another
    name: the helpers' lines change, and black formats them."""
    import black

    from eqcompiler.formatting import black_mode

    module = compile_latex(
        "$$\\mathrm{np} = \\sigma(x)$$\n\n$$L = \\log(1 + \\mathrm{np}) x$$\n"
    )
    assert "import numpy as np_" in module and "def _sigmoid" in module
    plain = module.replace("# fmt: off\n", "", 1)
    assert black.format_str(plain, mode=black_mode()) == plain


def test_bodies_formatted_in_pieces_are_what_black_makes_of_the_whole(monkeypatch):
    """codegen formats function bodies a few hundred lines at a time: the pieces
    joined must be what black makes of the whole module."""
    import black

    from eqcompiler import codegen
    from eqcompiler.formatting import black_mode

    equations = [
        f"$$v_{{{i}}} = \\tanh(a_{{{i}}} v_{{{i - 1}}} + b_{{{i}}})$$"
        for i in range(1, 30)
    ]
    text = "\n\n".join([*equations, "$$L = (v_{29} - t)^{2}$$"]) + "\n"
    whole = compile_latex(text)
    monkeypatch.setattr(codegen, "_BODY_LINES", 7)
    pieces = compile_latex(text)
    assert pieces == whole
    plain = whole.replace("# fmt: off\n", "", 1)
    assert black.format_str(plain, mode=black_mode()) == plain


@pytest.mark.parametrize(
    "document, arguments",
    [
        # d_b would be d_v: named d_b, and every gradient goes by position
        (r"$$u = w x$$ $$v = u + b$$ $$L = v^{2}$$", "d_w, d_x, d_b"),
        # the document has a d_b of its own: the gradient takes another name
        (r"$$d_{b} = w x$$ $$v = d_{b} + b$$ $$L = v^{2}$$", "d_w, d_x, b=d_b_2"),
    ],
)
def test_math_gradients_go_to_gradients_by_position_where_named_for_their_input(
    document, arguments, tmp_path
):
    """Gradients(...) by keyword takes half as long again as by position."""
    source = compile_latex(document.replace(" $$", "\n$$"), backend="math")
    assert f"return L, Gradients({arguments})" in source
    module = import_module_text(source, tmp_path)
    w, x, b = 0.7, -1.3, 0.4
    value, gradients = module.value_and_grad(w=w, x=x, b=b)
    v = w * x + b
    assert value == v * v
    assert gradients == (2 * v * x, 2 * v * w, 2 * v)
