"""Each invalid document: exit 1, a located error at the right place, no traceback,
and an existing output left byte for byte as it was."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from docs.invalid.expected import EXPECTED

INVALID = ROOT / "tests" / "docs" / "invalid"
_LOCATION = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.*)$", re.M
)
_NOTE = re.compile(r"^.+?:(?P<line>\d+):(?P<col>\d+): note: ", re.M)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "eqcompiler", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_document(name: str, tmp_path: Path):
    expected = EXPECTED[name]
    out = tmp_path / "out.py"
    out.write_bytes(b"# an earlier output\n")
    result = run_cli("compile", str(INVALID / f"{name}.md"), "-o", str(out))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    first = _LOCATION.search(result.stderr)
    assert first is not None, result.stderr
    line, col = int(first["line"]), int(first["col"])
    assert expected.accepts(line, col), (line, col, result.stderr)
    assert expected.phrase.lower() in first["msg"].lower(), result.stderr
    # the source line and a caret under the column follow the message
    lines = result.stderr.splitlines()
    caret = lines[2]
    assert (
        caret.strip().startswith("^") and caret.index("^") - 4 == col - 1
    ), result.stderr
    notes = [(int(m["line"]), int(m["col"])) for m in _NOTE.finditer(result.stderr)]
    for note in expected.notes:
        assert note in notes, result.stderr
    assert out.read_bytes() == b"# an earlier output\n"
    assert not [p for p in tmp_path.iterdir() if p.name != "out.py"]
