"""Shared test helpers: compile a document and import the generated module."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

_counter = itertools.count()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite the expected files of the golden tests",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def import_module_text(code: str, folder: Path) -> ModuleType:
    """Import generated code as a fresh module."""
    name = f"generated_{next(_counter)}"
    path = folder / f"{name}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_source(path: Path, backend: str = "numpy", **options) -> str:
    from eqcompiler.driver import Options, compile_text

    text = path.read_text(encoding="utf-8")
    return compile_text(text, str(path), Options(backend=backend, **options), path.name)


def compile_latex(
    text: str, backend: str = "numpy", path: str = "doc.md", **options
) -> str:
    from eqcompiler.driver import Options, compile_text

    return compile_text(text, path, Options(backend=backend, **options), path)


@pytest.fixture
def build(tmp_path: Path):
    """build(markdown, backend="numpy", **options) -> imported generated module."""

    def _build(text: str, backend: str = "numpy", **options) -> ModuleType:
        return import_module_text(compile_latex(text, backend, **options), tmp_path)

    return _build


def central_difference(
    function, point: dict[str, float], name: str, eps: float = 1e-6
) -> float:
    """∂function/∂name at point, by central differences in float64."""
    up = dict(point, **{name: point[name] + eps})
    down = dict(point, **{name: point[name] - eps})
    return (float(function(**up)) - float(function(**down))) / (2 * eps)
