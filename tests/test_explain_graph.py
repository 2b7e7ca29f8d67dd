"""explain writes a derivation verify accepts; graph draws the document's symbols."""

from __future__ import annotations

import html
import os
import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from test_invalid import run_cli

DOCUMENTS = [
    *sorted((ROOT / "samples").glob("*.md")),
    *sorted((ROOT / "tests" / "docs").glob("*.md")),
    ROOT / "tests" / "seed" / "backprop.md",
]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.parent.name + "/" + p.stem)
def test_explain_then_verify_is_clean(path: Path, tmp_path: Path):
    out = tmp_path / "derivation.md"
    result = run_cli("explain", str(path), "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "## Forward pass" in text and "## Gradients" in text
    checked = run_cli("verify", str(out))
    assert checked.returncode == 0, checked.stderr
    assert re.search(
        r": [1-9]\d* claims checked, 0 wrong", checked.stdout
    ), checked.stdout
    # and it compiles to the same computation
    assert run_cli("compile", str(out), "-o", str(tmp_path / "m.py")).returncode == 0


def test_explain_states_the_closed_form(tmp_path: Path):
    result = run_cli("explain", str(ROOT / "samples" / "backprop.md"))
    assert result.returncode == 0
    assert (
        "$$\\frac{\\partial \\ell}{\\partial w} = 2(y - y^{*})\\, y\\, x$$"
        in result.stdout
    )
    assert (
        "\\frac{\\partial \\ell}{\\partial w} = \\frac{\\partial \\ell}{\\partial y}"
        in (result.stdout)
    )


def test_graph_svg_has_a_node_per_symbol(tmp_path: Path):
    out = tmp_path / "g.svg"
    result = run_cli("graph", str(ROOT / "samples" / "backprop.md"), "-o", str(out))
    if result.stderr and "not installed" in result.stderr:
        pytest.skip("Graphviz's dot is not installed here")
    assert result.returncode == 0, result.stderr
    svg = out.read_text()
    titles = set(
        re.findall(r'<g id="node\d+" class="node">\s*<title>([^<]+)</title>', svg)
    )
    assert titles == {"w", "x", "b", "y_star", "u", "v", "y", "ell"}
    assert "2(y - y*)" in html.unescape(svg)  # an edge label: the local partial


def test_graph_without_graphviz_writes_dot_and_says_how_to_install(tmp_path: Path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))
    import subprocess

    out = tmp_path / "g.svg"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "eqcompiler",
            "graph",
            str(ROOT / "samples" / "backprop.md"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0
    assert "install Graphviz" in result.stderr
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith("digraph computation") and "y_star -> ell" in dot


def test_graph_dot_output(tmp_path: Path):
    result = run_cli("graph", str(ROOT / "samples" / "backprop.md"), "-o", "-")
    assert result.returncode == 0
    assert "u -> v" in result.stdout


def test_compile_warns_about_wrong_claims_and_quiet_silences(tmp_path: Path):
    doc = tmp_path / "doc.md"
    doc.write_text("$$y = 3x$$\n\n$$\\frac{dy}{dx} = 4$$\n")
    result = run_cli("compile", str(doc))
    assert result.returncode == 0
    assert (
        ":3:3: warning: \\frac{dy}{dx} is stated as 4, but y = 3x gives 3"
        in result.stderr
    )
    quiet = run_cli("compile", "--quiet", str(doc))
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_notes_on_ambiguous_readings(tmp_path: Path):
    doc = tmp_path / "doc.md"
    doc.write_text("$$s = \\sigma_1 + \\sigma(x)$$\n\n$$y = \\log x z + 2e + s$$\n")
    result = run_cli("compile", str(doc))
    assert result.returncode == 0
    assert ":1:18: note: \\sigma(...) is read as the logistic sigmoid" in result.stderr
    assert ":3:7: note: \\log applies to the whole product after it" in result.stderr
    assert ":3:19: note: e is read as Euler's number" in result.stderr
