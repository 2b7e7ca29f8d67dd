"""Keeping outputs current: --check, --diff, --changed (the hook's mode), --emit-tests.

--check and --diff write nothing; --check exits 1 on a missing or stale output and
names it. compile leaves a current file untouched. --changed picks the equation
documents among changed files and exits 1 when it regenerated something.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from eqcompiler.cli import main

SAMPLES = sorted((ROOT / "samples").glob("*.md"))
SAMPLE = ROOT / "samples" / "backprop.md"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`eqcompiler ARGS` in this process (the parser is built once): like run_cli."""
    out, err = io.StringIO(), io.StringIO()
    before = Path.cwd()
    try:
        os.chdir(cwd or before)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as stop:  # argparse
                code = stop.code if isinstance(stop.code, int) else 2
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture
def docs(tmp_path: Path) -> list[Path]:
    """Two documents in a folder of their own (a repository root for config search)."""
    (tmp_path / ".git").mkdir()
    paths = []
    for name in ("backprop", "logistic_regression"):
        paths.append(tmp_path / f"{name}.md")
        shutil.copy(ROOT / "samples" / f"{name}.md", paths[-1])
    return paths


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in folder.iterdir()
        if p.is_file()
    }


# ---- --check -------------------------------------------------------------------------


def test_check_fails_on_missing_outputs_and_writes_nothing(docs: list[Path]):
    result = cli("compile", "--check", *map(str, docs))
    assert result.returncode == 1
    for doc in docs:
        assert f"would regenerate {doc.with_suffix('.py')} (missing)" in result.stderr
        assert not doc.with_suffix(".py").exists()
    assert "2 files would be regenerated, 0 files current." in result.stderr


def test_check_passes_on_fresh_output(docs: list[Path]):
    assert cli("compile", *map(str, docs)).returncode == 0
    before = snapshot(docs[0].parent)
    result = cli("compile", "--check", *map(str, docs))
    assert result.returncode == 0, result.stderr
    assert "0 files would be regenerated, 2 files current." in result.stderr
    assert snapshot(docs[0].parent) == before


def test_check_names_each_stale_output_and_leaves_it(docs: list[Path]):
    assert cli("compile", *map(str, docs)).returncode == 0
    docs[1].write_text(docs[1].read_text() + "\nOne more sentence.\n")
    before = snapshot(docs[0].parent)
    result = cli("compile", "--check", *map(str, docs))
    assert result.returncode == 1
    assert (
        f"would regenerate {docs[1].with_suffix('.py')} (out of date)" in result.stderr
    )
    assert str(docs[0].with_suffix(".py")) not in result.stderr
    assert snapshot(docs[0].parent) == before


def test_check_catches_a_hand_edited_output(docs: list[Path]):
    assert cli("compile", str(docs[0])).returncode == 0
    out = docs[0].with_suffix(".py")
    out.write_text(out.read_text().replace("u = w * x", "u = w * x * 1.01"))
    assert cli("compile", "--check", str(docs[0])).returncode == 1


def test_an_output_with_crlf_line_endings_is_current(docs: list[Path]):
    """What git's autocrlf makes of a checked-in module on Windows."""
    assert cli("compile", str(docs[0])).returncode == 0
    out = docs[0].with_suffix(".py")
    out.write_bytes(out.read_bytes().replace(b"\n", b"\r\n"))
    docs[0].write_bytes(docs[0].read_bytes().replace(b"\n", b"\r\n"))
    assert cli("compile", "--check", str(docs[0])).returncode == 0


def test_compile_leaves_a_current_file_untouched(docs: list[Path]):
    assert cli("compile", str(docs[0])).returncode == 0
    out = docs[0].with_suffix(".py")
    os.utime(out, ns=(1_000_000_000, 1_000_000_000))
    assert cli("compile", str(docs[0])).returncode == 0
    assert out.stat().st_mtime_ns == 1_000_000_000


def test_check_on_a_broken_document_exits_1_and_reports(tmp_path: Path):
    bad = tmp_path / "bad.md"
    bad.write_text("$$y = \\frac{1}$$\n")
    result = cli("compile", "--check", str(bad))
    assert result.returncode == 1
    assert "bad.md:1:" in result.stderr and "1 document with errors" in result.stderr
    assert not bad.with_suffix(".py").exists()


def test_check_with_stdout_is_usage_error(docs: list[Path]):
    result = cli("compile", "--check", str(docs[0]), "-o", "-")
    assert result.returncode == 2


def test_check_notes_options_the_output_was_made_with(docs: list[Path]):
    assert cli("compile", str(docs[0]), "--backend", "math").returncode == 0
    result = cli("compile", "--check", str(docs[0]))
    assert result.returncode == 1
    assert "was generated with '--backend math'" in result.stderr
    # repeated, the options make it current
    assert cli("compile", "--check", str(docs[0]), "--backend", "math").returncode == 0


# ---- --diff --------------------------------------------------------------------------


def test_diff_prints_a_unified_diff_and_writes_nothing(docs: list[Path]):
    assert cli("compile", str(docs[0])).returncode == 0
    docs[0].write_text(docs[0].read_text().replace("$$v = u + b$$", "$$v = u - b$$"))
    before = snapshot(docs[0].parent)
    result = cli("compile", "--diff", str(docs[0]))
    assert result.returncode == 0  # like black: --diff alone is not a failure
    out = docs[0].with_suffix(".py")
    assert result.stdout.startswith(f"--- a/{out.as_posix()}\n+++ b/{out.as_posix()}\n")
    assert "-    v = np.add(u, b, out=_spare(u, reuse))  # v = u + b (line 13)" in (
        result.stdout
    )
    assert (
        "+    v = np.subtract(u, b, out=_spare(u, reuse))  # v = u - b (line 13)"
        in (result.stdout)
    )
    assert snapshot(docs[0].parent) == before
    checked = cli("compile", "--diff", "--check", str(docs[0]))
    assert checked.returncode == 1 and checked.stdout == result.stdout


def test_diff_of_a_missing_output_is_from_dev_null(docs: list[Path]):
    result = cli("compile", "--diff", str(docs[0]))
    assert result.stdout.startswith("--- /dev/null\n")
    assert not docs[0].with_suffix(".py").exists()


def test_diff_applies_with_patch(docs: list[Path]):
    """The diff is a real one: applying it gives the regenerated file."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    folder = docs[0].parent
    assert cli("compile", str(docs[0])).returncode == 0
    docs[0].write_text(docs[0].read_text().replace("$$y = e^{v}$$", "$$y = e^{2v}$$"))
    result = cli("compile", "--diff", docs[0].name, cwd=folder)
    patch = folder / "change.patch"
    patch.write_text(result.stdout)
    subprocess.run(["git", "apply", "change.patch"], cwd=folder, check=True)
    assert cli("compile", "--check", docs[0].name, cwd=folder).returncode == 0


# ---- --changed (what the pre-commit hook runs) ---------------------------------------


def test_changed_regenerates_and_fails_like_black(docs: list[Path]):
    result = cli("compile", "--changed", *map(str, docs))
    assert result.returncode == 1
    assert "2 files regenerated" in result.stderr
    assert all(d.with_suffix(".py").exists() for d in docs)
    again = cli("compile", "--changed", *map(str, docs))
    assert again.returncode == 0, again.stderr
    assert "0 files regenerated, 2 files current." in again.stderr


def test_changed_skips_markdown_without_display_math(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    readme = tmp_path / "README.md"
    readme.write_text("# A project\n\nProse, and $x$ inline math, and `$$code$$`.\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("$$y = 2x$$\n")
    result = cli("compile", "--changed", str(readme), str(notes))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".git",
        "README.md",
        "notes.txt",
    ]


def test_changed_with_project_sources_compiles_only_those(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.eqcompiler]\nsources = ["docs/*.md"]\n'
    )
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "model.md"
    shutil.copy(SAMPLE, doc)
    readme = tmp_path / "README.md"
    readme.write_text("# Notes\n\n$$\\sum_{i=1}^{n} x_i \\quad \\text{(not ours)}$$\n")
    result = cli("compile", "--changed", "README.md", "docs/model.md", cwd=tmp_path)
    assert result.returncode == 1
    assert "regenerated docs/model.py" in result.stderr
    assert "1 file regenerated" in result.stderr
    assert not (tmp_path / "README.py").exists()


def test_changed_regenerates_a_module_edited_by_hand(docs: list[Path]):
    assert cli("compile", str(docs[0])).returncode == 0
    out = docs[0].with_suffix(".py")
    fresh = out.read_text()
    out.write_text(fresh.replace("u = w * x", "u = x * w"))
    result = cli("compile", "--changed", str(out))
    assert result.returncode == 1
    assert out.read_text() == fresh


def test_changed_regenerates_an_emitted_test_edited_by_hand(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.eqcompiler]\nemit-tests = true\n")
    shutil.copy(SAMPLE, tmp_path / "2-layer.md")
    assert cli("compile", "2-layer.md", cwd=tmp_path).returncode == 0
    test = tmp_path / "test_2-layer.py"
    fresh = test.read_text()
    assert "_2_layer = _load()" in fresh
    test.write_text(fresh.replace("rel=1e-4", "rel=1e-1"))
    result = cli("compile", "--changed", "test_2-layer.py", cwd=tmp_path)
    assert result.returncode == 1
    assert test.read_text() == fresh
    assert run_pytest(tmp_path).returncode == 0


def test_changed_ignores_python_files_eqcompiler_did_not_write(tmp_path: Path):
    script = tmp_path / "script.py"
    script.write_text("print('hello')\n")
    orphan = tmp_path / "orphan.py"
    orphan.write_text(
        "# Generated by eqcompiler 0.1.0 from gone.md; edit the document, not this file.\n"
    )
    result = cli(
        "compile", "--changed", str(script), str(orphan), str(tmp_path / "deleted.md")
    )
    assert result.returncode == 0, result.stderr
    assert "generated from" in result.stderr and "which does not exist" in result.stderr


def test_changed_reports_a_broken_document(tmp_path: Path):
    bad = tmp_path / "bad.md"
    bad.write_text("$$y = \\frac{1}$$\n")
    result = cli("compile", "--changed", str(bad))
    assert result.returncode == 1
    assert "bad.md:1:" in result.stderr


# ---- --emit-tests ----------------------------------------------------------------------


def run_pytest(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            str(folder),
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_emitted_tests_pass_on_every_sample(tmp_path: Path, backend: str):
    for sample in SAMPLES:
        shutil.copy(sample, tmp_path / sample.name)
    sources = [str(tmp_path / s.name) for s in SAMPLES]
    result = cli("compile", "--emit-tests", "--backend", backend, *sources)
    assert result.returncode == 0, result.stderr
    for sample in SAMPLES:
        test = tmp_path / f"test_{sample.stem}.py"
        assert test.exists()
        assert "--emit-tests" in test.read_text().splitlines()[2]
    ran = run_pytest(tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"{3 * len(SAMPLES)} passed" in ran.stdout


def test_emitted_test_catches_a_wrong_gradient(tmp_path: Path):
    doc = tmp_path / "backprop.md"
    shutil.copy(SAMPLE, doc)
    assert cli("compile", "--emit-tests", str(doc)).returncode == 0
    module = tmp_path / "backprop.py"
    module.write_text(
        module.read_text().replace(
            "d_v = np.multiply(y_minus_y_star, y,",
            "d_v = np.multiply(y_minus_y_star, y * 1.01,",
        )
    )
    ran = run_pytest(tmp_path)
    assert ran.returncode == 1
    assert "3 failed" in ran.stdout


def test_emitted_test_skips_points_outside_the_domain(tmp_path: Path):
    """log(x - 1) is not defined on the sampled inputs: skipped, never passed."""
    doc = tmp_path / "outside.md"
    doc.write_text("$$y = \\log(x - 1) + w$$\n")
    for backend in ("numpy", "math"):
        assert (
            cli("compile", "--emit-tests", "--backend", backend, str(doc)).returncode
            == 0
        )
        ran = run_pytest(tmp_path)
        assert ran.returncode == 0, ran.stdout
        assert "3 skipped" in ran.stdout and "passed" not in ran.stdout


def test_emit_tests_from_the_project_and_check_covers_the_test_file(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.eqcompiler]\nsources = ["*.md"]\nemit-tests = true\nout-name = "{stem}_grad.py"\n'
    )
    shutil.copy(SAMPLE, tmp_path / "backprop.md")
    assert cli("compile", cwd=tmp_path).returncode == 0
    test = tmp_path / "test_backprop_grad.py"
    assert test.exists()
    assert cli("compile", "--check", cwd=tmp_path).returncode == 0
    test.write_text(test.read_text().replace("STEP = 1e-6", "STEP = 1e-3"))
    result = cli("compile", "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert "would regenerate test_backprop_grad.py (out of date)" in result.stderr
    assert run_pytest(tmp_path).returncode == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "-"], "not with -o -"),
    ],
)
def test_emit_tests_usage_errors(docs: list[Path], args: list[str], message: str):
    result = cli("compile", "--emit-tests", str(docs[0]), *args, cwd=docs[0].parent)
    assert result.returncode == 2
    assert message in result.stderr
