"""Golden files: tests/cases/NAME.md compiles to NAME.py, or fails with NAME.err.

Run `pytest tests/test_golden.py --update-goldens` to rewrite them, then review the
diff: these files are the generated code users read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from test_invalid import run_cli

CASES = sorted((ROOT / "tests" / "cases").glob("*.md"))


@pytest.mark.parametrize("source", CASES, ids=[c.stem for c in CASES])
def test_golden(source: Path, update_goldens: bool):
    result = run_cli("compile", source.name, "-o", "-", cwd=source.parent)
    module, errors = source.with_suffix(".py"), source.with_suffix(".err")
    if update_goldens:
        module.unlink(missing_ok=True)
        errors.unlink(missing_ok=True)
        if result.returncode == 0:
            module.write_text(result.stdout)
        else:
            errors.write_text(result.stderr)
    if module.exists():
        assert result.returncode == 0, result.stderr
        assert result.stdout == module.read_text()
    else:
        assert (
            errors.exists()
        ), f"no golden for {source.name}: run with --update-goldens"
        assert result.returncode == 1
        assert result.stderr == errors.read_text()
