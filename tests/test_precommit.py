"""The pre-commit hooks of .pre-commit-hooks.yaml, for real.

A temporary git repository is made from this working tree (so that uncommitted work
is what gets tested); a user's repository points its .pre-commit-config.yaml at it;
pre-commit installs eqcompiler from it into its own environment and runs the hooks
as `git commit` would. A stale module fails the hook and is regenerated; the next
run passes. The verify hook fails on a wrong stated derivative.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

SAMPLE = ROOT / "samples" / "backprop.md"
HOOKS = ROOT / ".pre-commit-hooks.yaml"


def test_hook_definitions():
    hooks = {h["id"]: h for h in yaml.safe_load(HOOKS.read_text())}
    assert set(hooks) == {"eqcompiler", "eqcompiler-verify"}
    compile_hook, verify_hook = hooks["eqcompiler"], hooks["eqcompiler-verify"]
    assert compile_hook["entry"] == "eqcompiler compile --changed"
    assert verify_hook["entry"] == "eqcompiler verify"
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook.get("pass_filenames", True)
        assert {"markdown", "tex"} <= set(hook["types_or"])
    assert "python" in compile_hook["types_or"]  # a module edited by hand is restored
    assert compile_hook["require_serial"] is True  # one process writes each module


def _git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _snapshot_of_this_tree(target: Path) -> str:
    """This working tree (tracked and untracked, not ignored files) as a new
    repository at `target`; the commit's sha."""
    listed = _git(
        "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT
    )
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    _git("init", "-q", cwd=target)
    _git("add", "-A", cwd=target)
    _git("commit", "-q", "-m", "snapshot", cwd=target)
    return _git("rev-parse", "HEAD", cwd=target).strip()


def _pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_pre_commit_catches_a_stale_module_and_regenerates_it(tmp_path: Path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no working tree to snapshot")
    hooks_repo = tmp_path / "eqcompiler"
    hooks_repo.mkdir()
    rev = _snapshot_of_this_tree(hooks_repo)

    user = tmp_path / "user"
    (user / "docs").mkdir(parents=True)
    doc = user / "docs" / "neuron.md"
    shutil.copy(SAMPLE, doc)
    module = doc.with_suffix(".py")
    # a module generated from an older version of the document
    old = SAMPLE.read_text().replace("$$v = u + b$$", "$$v = u - b$$")
    old_doc = tmp_path / "neuron.md"
    old_doc.write_text(old)
    compiled = subprocess.run(
        [sys.executable, "-m", "eqcompiler", "compile", str(old_doc), "-o", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    module.write_text(compiled.stdout)
    (user / "README.md").write_text("# My project\n\nProse, and $x$ inline.\n")
    (user / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hooks_repo.as_posix()}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: eqcompiler\n"
        "      - id: eqcompiler-verify\n"
    )
    _git("init", "-q", cwd=user)
    _git("add", "-A", cwd=user)
    home = tmp_path / "pre-commit-home"

    first = _pre_commit("run", "--all-files", cwd=user, home=home)
    output = first.stdout + first.stderr
    assert first.returncode == 1, output
    assert "regenerated docs/neuron.py" in output and "1 file regenerated" in output
    assert "v = np.add(u, b, out=_spare(u, reuse))  # v = u + b" in module.read_text()
    assert "eqcompiler verify" in output and "Passed" in output  # the verify hook

    _git("add", "-A", cwd=user)
    second = _pre_commit("run", "--all-files", cwd=user, home=home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert not (user / "README.py").exists()

    # what `git commit` runs: only the staged files
    _git("commit", "-q", "-m", "documents", "--no-verify", cwd=user)
    doc.write_text(doc.read_text() + "\nA sentence more changes the source's hash.\n")
    _git("add", "docs/neuron.md", cwd=user)
    staged = _pre_commit("run", cwd=user, home=home)
    assert staged.returncode == 1, staged.stdout + staged.stderr
    assert "regenerated docs/neuron.py" in staged.stdout
    _git("add", "-A", cwd=user)
    assert _pre_commit("run", cwd=user, home=home).returncode == 0

    # the verify hook: a wrong stated derivative fails it
    with doc.open("a") as stream:
        stream.write("\n$$\\frac{\\partial v}{\\partial b} = 2$$\n")
    _git("add", "-A", cwd=user)
    verify = _pre_commit("run", "eqcompiler-verify", cwd=user, home=home)
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "docs/neuron.md:" in verify.stdout and "1 wrong" in verify.stdout
