"""Project configuration: [tool.eqcompiler] in pyproject.toml.

Finding it (walking up from the documents, stopping at a repository's root), its
globs, where outputs go, precedence (command line, front matter, override, table),
and located errors for unknown keys and wrong values (exit 2).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT
from test_check import cli

from eqcompiler.config import ConfigError, _pattern, find, load

SAMPLE = ROOT / "samples" / "backprop.md"
_LOCATED = re.compile(
    r"^(?P<path>[^:\n]+):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.*)$", re.M
)


def project(root: Path, table: str, docs: dict[str, str] | None = None) -> Path:
    """A repository at `root` with `table` as its pyproject.toml and documents."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir(exist_ok=True)  # a repository's root, as far as search goes
    (root / "pyproject.toml").write_text(table)
    for name, text in (docs or {"docs/backprop.md": SAMPLE.read_text()}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def errors(stderr: str) -> list[tuple[str, int, int, str]]:
    return [
        (m["path"], int(m["line"]), int(m["col"]), m["msg"])
        for m in _LOCATED.finditer(stderr)
    ]


# ---- finding the configuration ----------------------------------------------------


def test_found_by_walking_up_from_the_document(tmp_path: Path):
    root = project(tmp_path / "repo", '[tool.eqcompiler]\nsources = ["docs/*.md"]\n')
    config = find(root / "docs" / "backprop.md")
    assert config is not None and config.root == root.resolve()
    assert config.sources == ("docs/*.md",)


def test_a_pyproject_without_the_table_is_passed_over(tmp_path: Path):
    root = project(tmp_path / "repo", '[tool.eqcompiler]\nbackend = "math"\n')
    (root / "docs" / "pyproject.toml").write_text("[tool.black]\nline-length = 40\n")
    config = find(root / "docs" / "backprop.md")
    assert config is not None and config.path == (root / "pyproject.toml").resolve()


def test_the_search_stops_at_the_repository_root(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.eqcompiler]\nbackend = "math"\n')
    inner = tmp_path / "inner"
    (inner / ".git").mkdir(parents=True)
    (inner / "doc.md").write_text("$$y = 2x$$\n")
    assert find(inner / "doc.md") is None


def test_a_broken_pyproject_of_another_tool_is_none_of_our_business(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.black\nline-length = \n")
    assert find(tmp_path) is None


# ---- globs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "glob, path, matches",
    [
        ("docs/*.md", "docs/a.md", True),
        ("docs/*.md", "docs/sub/a.md", False),
        ("docs/**/*.md", "docs/a.md", True),
        ("docs/**/*.md", "docs/sub/deeper/a.md", True),
        ("**/*.md", "a.md", True),
        ("**/*.md", "x/y/a.md", True),
        ("docs/**", "docs/x/y.tex", True),
        ("./docs/?.md", "docs/a.md", True),
        ("docs/?.md", "docs/ab.md", False),
        ("docs/[ab].md", "docs/b.md", True),
        ("docs/[!ab].md", "docs/b.md", False),
        ("*.md", "docs/a.md", False),
        ("a+b(1).md", "a+b(1).md", True),
    ],
)
def test_globs(glob: str, path: str, matches: bool):
    assert bool(_pattern(glob).match(path)) is matches


def test_documents_skips_hidden_and_tool_folders_and_excludes(tmp_path: Path):
    doc = SAMPLE.read_text()
    root = project(
        tmp_path,
        '[tool.eqcompiler]\nsources = ["**/*.md"]\nexclude = ["drafts/*"]\n',
        {
            "a.md": doc,
            "docs/b.md": doc,
            "drafts/c.md": doc,
            ".venv/lib/d.md": doc,
            "node_modules/pkg/e.md": doc,
        },
    )
    config = find(root)
    assert config is not None
    found = [p.relative_to(root.resolve()).as_posix() for p in config.documents()]
    assert found == ["a.md", "docs/b.md"]
    assert config.includes(root / "docs" / "b.md")
    assert not config.includes(root / "drafts" / "c.md")
    assert not config.includes(root / ".venv" / "lib" / "d.md")


# ---- where outputs go, and precedence -----------------------------------------------


def test_compile_with_no_source_compiles_the_projects_documents(tmp_path: Path):
    doc = SAMPLE.read_text()
    root = project(
        tmp_path,
        '[tool.eqcompiler]\nsources = ["docs/**/*.md"]\n',
        {"docs/a.md": doc, "docs/sub/b.md": doc, "notes/c.md": doc},
    )
    result = cli("compile", cwd=root)
    assert result.returncode == 0, result.stderr
    assert (root / "docs" / "a.py").exists() and (
        root / "docs" / "sub" / "b.py"
    ).exists()
    assert not (root / "notes" / "c.py").exists()
    # and from a folder below the project's root, the same
    result = cli("compile", "--check", cwd=root / "docs" / "sub")
    assert result.returncode == 0, result.stderr
    assert "0 files would be regenerated, 2 files current." in result.stderr


def test_out_name_and_out_dir(tmp_path: Path):
    root = project(
        tmp_path,
        '[tool.eqcompiler]\nsources = ["docs/*.md"]\n'
        'out-dir = "src/pkg/generated"\nout-name = "{stem}_grad.py"\n',
    )
    result = cli("compile", cwd=root)
    assert result.returncode == 0, result.stderr
    out = root / "src" / "pkg" / "generated" / "backprop_grad.py"
    assert out.exists()  # the folder is made
    head = out.read_text().splitlines()[0]
    assert (
        head.startswith("# Generated by eqcompiler")
        and "from ../../../docs/backprop.md;" in head
    )


def test_out_name_alone_puts_the_module_beside_the_document(tmp_path: Path):
    root = project(tmp_path, '[tool.eqcompiler]\nout-name = "{stem}_grad.py"\n')
    result = cli("compile", "docs/backprop.md", cwd=root)
    assert result.returncode == 0, result.stderr
    assert (root / "docs" / "backprop_grad.py").exists()


def test_dash_o_beats_the_project(tmp_path: Path):
    root = project(tmp_path, '[tool.eqcompiler]\nout-name = "{stem}_grad.py"\n')
    result = cli("compile", "docs/backprop.md", "-o", "mine.py", cwd=root)
    assert result.returncode == 0, result.stderr
    assert (root / "mine.py").exists() and not (
        root / "docs" / "backprop_grad.py"
    ).exists()


PRECEDENCE_TABLE = """\
[tool.eqcompiler]
backend = "numpy"
output = "y"

[[tool.eqcompiler.overrides]]
files = ["docs/*.md"]
backend = "math"
"""


@pytest.mark.parametrize(
    "front, args, backend, output",
    [
        ("", [], "math", "y"),  # the override beats the table
        ("---\nbackend: numpy\n---\n", [], "numpy", "y"),  # front matter beats both
        ("---\noutput: v\n---\n", [], "math", "v"),
        (
            "---\nbackend: numpy\n---\n",
            ["--backend", "math"],
            "math",
            "y",
        ),  # the CLI wins
        ("", ["--output", "u"], "math", "u"),
    ],
)
def test_precedence(
    tmp_path: Path, front: str, args: list[str], backend: str, output: str
):
    root = project(
        tmp_path, PRECEDENCE_TABLE, {"docs/d.md": front + SAMPLE.read_text()}
    )
    result = cli("compile", "docs/d.md", "-o", "-", *args, cwd=root)
    assert result.returncode == 0, result.stderr
    module = result.stdout
    assert ("import numpy as np" in module) is (backend == "numpy")
    assert f"Forward and backward pass of ``{output}``" in module


def test_later_overrides_win(tmp_path: Path):
    table = (
        '[tool.eqcompiler]\n[[tool.eqcompiler.overrides]]\nfiles = ["docs/*"]\nbackend = "math"\n'
        '[[tool.eqcompiler.overrides]]\nfiles = ["docs/backprop.md"]\nbackend = "numpy"\n'
    )
    root = project(tmp_path, table)
    result = cli("compile", "docs/backprop.md", "-o", "-", cwd=root)
    assert "import numpy as np" in result.stdout


def test_wrt_from_the_project_is_checked_where_it_is_written(tmp_path: Path):
    table = '[tool.eqcompiler]\n\n[[tool.eqcompiler.overrides]]\nfiles = ["docs/*.md"]\nwrt = ["w", "u"]\n'
    root = project(tmp_path, table)
    result = cli("compile", "docs/backprop.md", cwd=root)
    assert result.returncode == 1
    assert errors(result.stderr)[0][:3] == ("pyproject.toml", 5, 13)
    assert "not an input" in result.stderr
    assert '    wrt = ["w", "u"]' in result.stderr  # the line, and a caret under "u"
    assert result.stderr.splitlines()[2] == "    " + " " * 12 + "^~~"


def test_wrt_from_the_project_applies(tmp_path: Path):
    root = project(tmp_path, '[tool.eqcompiler]\nwrt = "w, b"\n')
    result = cli("compile", "docs/backprop.md", "-o", "-", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "class Gradients(NamedTuple):" in result.stdout
    fields = result.stdout.split("class Gradients(NamedTuple):")[1].split(
        "def forward"
    )[0]
    assert (
        "w: np.ndarray" in fields and "b: np.ndarray" in fields and "x:" not in fields
    )


def test_two_documents_writing_one_module_is_usage_error(tmp_path: Path):
    doc = SAMPLE.read_text()
    root = project(
        tmp_path,
        '[tool.eqcompiler]\nsources = ["**/*.md"]\nout-dir = "gen"\n',
        {"a/model.md": doc, "b/model.md": doc},
    )
    result = cli("compile", cwd=root)
    assert result.returncode == 2
    assert "both write gen/model.py" in result.stderr
    assert not (root / "gen").exists()


def test_no_source_and_no_sources_key_is_usage_error(tmp_path: Path):
    root = project(tmp_path, '[tool.eqcompiler]\nbackend = "math"\n')
    result = cli("compile", cwd=root)
    assert result.returncode == 2
    assert "pyproject.toml has no 'sources'" in result.stderr


def test_sources_matching_nothing_is_said(tmp_path: Path):
    root = project(tmp_path, '[tool.eqcompiler]\nsources = ["nowhere/*.md"]\n')
    result = cli("compile", cwd=root)
    assert result.returncode == 0
    assert "no document matches 'sources'" in result.stderr


# ---- located errors ------------------------------------------------------------------

BAD = """\
[project]
name = "demo"

[tool.eqcompiler]
sources = ["docs/*.md"]
line-length = 88
backend = "torch"

[[tool.eqcompiler.overrides]]
files = ["docs/a.md"]
emit-tests = "yes"
colour = "blue"

[[tool.eqcompiler.overrides]]
backend = "math"
  out-name = "gen/{name}.py"

[tool.eqcompiler.extra]
x = 1
"""


def test_every_problem_in_the_table_is_located(tmp_path: Path):
    root = project(tmp_path, BAD)
    (root / "docs" / "backprop.py").write_bytes(b"# an earlier output\n")
    result = cli("compile", "docs/backprop.md", cwd=root)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    found = {(line, col): msg for path, line, col, msg in errors(result.stderr)}
    assert all(path == "pyproject.toml" for path, *_ in errors(result.stderr))
    assert found[(6, 1)].startswith("unknown key 'line-length' in [tool.eqcompiler]")
    assert (
        found[(7, 11)]
        == "'backend' must be \"numpy\" or \"math\", not the text 'torch'"
    )
    assert found[(11, 14)].startswith("'emit-tests' must be true or false")
    assert found[(12, 1)].startswith(
        "unknown key 'colour' in [[tool.eqcompiler.overrides]]"
    )
    assert found[(14, 1)].startswith("[[tool.eqcompiler.overrides]] needs 'files'")
    assert found[(16, 14)] == "'out-name' is a file name; put the folder in 'out-dir'"
    assert found[(18, 18)].startswith("unknown key 'extra' in [tool.eqcompiler]")
    assert len(found) == 7
    # each with its line and a caret
    lines = result.stderr.splitlines()
    at = lines.index("    line-length = 88")
    assert lines[at + 1] == "    ^~~~~~~~~~~"
    assert (root / "docs" / "backprop.py").read_bytes() == b"# an earlier output\n"


def test_the_message_the_issue_asks_for(tmp_path: Path):
    root = project(tmp_path, '[tool.eqcompiler]\nsources = ["docs/*.md"]\n  x = 1\n')
    result = cli("compile", "--check", cwd=root)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "pyproject.toml:3:3: error: unknown key 'x' in [tool.eqcompiler]"
    )


def test_invalid_toml_is_located(tmp_path: Path):
    root = project(
        tmp_path, '[tool.eqcompiler]\nsources = ["docs/*.md"\nbackend = "math"\n'
    )
    result = cli("compile", cwd=root)
    assert result.returncode == 2
    path, line, col, message = errors(result.stderr)[0]
    assert (path, line) == ("pyproject.toml", 2) or (path, line) == (
        "pyproject.toml",
        3,
    )
    assert message.startswith("this is not valid TOML")


def test_dotted_keys_are_located_too(tmp_path: Path):
    root = project(
        tmp_path, '[tool]\neqcompiler.sources = ["docs/*.md"]\neqcompiler.colour = 1\n'
    )
    result = cli("compile", cwd=root)
    assert result.returncode == 2
    assert errors(result.stderr)[0][:3] == ("pyproject.toml", 3, 1)


def test_values_are_checked(tmp_path: Path):
    cases = {
        'sources = "docs/*.md"': None,  # one glob as a text is fine
        "sources = 3": "'sources' must be a list of globs",
        'sources = ["/abs/*.md"]': "is absolute",
        'out-name = "{stem}-{n}.py"': "knows only the placeholder {stem}, not {n}",
        "wrt = []": "'wrt' names no input",
        "overrides = 1": "must be an array of tables",
    }
    for line, expected in cases.items():
        path = tmp_path / line.split()[0] / "pyproject.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"[tool.eqcompiler]\n{line}\n")
        if expected is None:
            assert load(path) is not None
            continue
        with pytest.raises(ConfigError) as caught:
            load(path)
        (error,) = caught.value.errors.errors
        assert expected in error.message, error.message
        assert error.span.start.line == 2


def test_this_repositorys_table_names_the_samples():
    """`eqcompiler compile` with no SOURCE, here, regenerates the samples."""
    config = load(ROOT / "pyproject.toml")
    assert config is not None and config.sources == ("samples/*.md",)
    names = sorted(p.name for p in config.documents())
    assert names == sorted(p.name for p in (ROOT / "samples").glob("*.md"))
