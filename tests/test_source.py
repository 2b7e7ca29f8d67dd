"""Tests of extraction: which math a document holds, and where each line of it is."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from eqcompiler.errors import EqError, EqErrors, Pos, Span
from eqcompiler.source import Heading, Settings, extract

ROOT = Path(__file__).resolve().parents[1]
# The document the project started from (DESIGN.md: `seed/backprop.md`).
SEED_PLACES = (
    ROOT / "tests" / "seed" / "backprop.md",
    ROOT.parent / "shared" / "seed" / "backprop.md",
)

Located = list[tuple[str, list[tuple[int, int]]]]


def located(source: str, path: str = "doc.md") -> Located:
    """Each block's text and origins, after checking that the origins hold."""
    doc = extract(source, path)
    assert_origins_hold(doc.text, doc.blocks)
    return [
        (block.text, [(pos.line, pos.col) for pos in block.origins])
        for block in doc.blocks
    ]


def assert_origins_hold(text: str, blocks: tuple) -> None:
    """Every line of a block's text sits in the document where its origin says."""
    lines = text.split("\n")
    for block in blocks:
        pieces = block.text.split("\n")
        assert len(block.origins) == len(pieces)
        for piece, origin in zip(pieces, block.origins, strict=True):
            line = lines[origin.line - 1]
            assert line[origin.col - 1 : origin.col - 1 + len(piece)] == piece


def error_of(source: str, path: str = "doc.md") -> EqError:
    with pytest.raises(EqError) as caught:
        extract(source, path)
    return caught.value


def where(error: EqError) -> str:
    return f"{error.span.start.line}:{error.span.start.col}"


# ---- Markdown: what is math, and where -------------------------------------------

MARKDOWN = [
    # $$ on one line, on many, with content on the delimiter lines
    ("one line", "$$u = wx$$", [("u = wx", [(1, 3)])]),
    (
        "delimiters alone",
        "$$\nu = wx\n$$",
        [("\nu = wx\n", [(1, 3), (2, 1), (3, 1)])],
    ),
    (
        "content on delimiter lines",
        "$$u = wx\nv = u$$",
        [("u = wx\nv = u", [(1, 3), (2, 1)])],
    ),
    (
        "consecutive lines",
        "$$a = b$$\n$$c = d$$",
        [("a = b", [(1, 3)]), ("c = d", [(2, 3)])],
    ),
    (
        "two on one line",
        "$$a = 1$$ and $$b = 2$$",
        [("a = 1", [(1, 3)]), ("b = 2", [(1, 17)])],
    ),
    ("with label", "$$u = wx$$ (1)", [("u = wx", [(1, 3)])]),
    ("after heading", "# Loss\n$$u = wx$$", [("u = wx", [(2, 3)])]),
    # $$ inside a paragraph is display math (kramdown)
    ("inline double", "We set $$u = wx$$ and go.", [("u = wx", [(1, 10)])]),
    (
        "inline doubles",
        "text $$a$$ $$b$$ end",
        [("a", [(1, 8)]), ("b", [(1, 14)])],
    ),
    (
        "inline double over lines",
        "Let\n$$\nu = wx\n$$\nnow",
        [("\nu = wx\n", [(2, 3), (3, 1), (4, 1)])],
    ),
    (
        "indented paragraph",
        "  We set\n   $$u\n  = wx$$  ",
        [("u\n  = wx", [(2, 6), (3, 1)])],
    ),
    ("currency is not math", "costs $5 and $$u = wx$$", [("u = wx", [(1, 16)])]),
    ("in a link", "[$$u = wx$$](http://x)", [("u = wx", [(1, 4)])]),
    # prose math, code and markup are not math
    ("inline dollar", "with $u = wx$ inline", []),
    ("inline parens", r"with \(u = wx\) inline", []),
    ("inline code", "`$$u = wx$$` and ``$$v$$``", []),
    ("other fence", "```python\n$$u = wx$$\n```", []),
    ("indented code", "    $$u = wx$$", []),
    ("tab-indented code", "\t\\[ u = wx \\]", []),
    ("html comment", "<!-- $$u = wx$$ -->", []),
    ("image alt text", "![$$u$$](x.png)", []),
    ("heading text", "# Loss $$u = wx$$", []),
    ("empty", "$$ $$", []),
    ("empty lines", "$$\n$$", []),
    ("unclosed", "$$\nu = wx\n\nmore", []),
    ("escaped brackets", r"\[1\] Smith et al.", []),
    # \[ ... \]
    ("brackets", r"\[ u = wx \]", [(" u = wx ", [(1, 3)])]),
    (
        "brackets over lines",
        "\\[\nu = wx\n\\]",
        [("\nu = wx\n", [(1, 3), (2, 1), (3, 1)])],
    ),
    (
        "brackets end a paragraph",
        "We have\n\\[ u = wx \\]\nso",
        [(" u = wx ", [(2, 3)])],
    ),
    (
        "two brackets on one line",
        r"\[ a \] and \[ b \]",
        [(" a ", [(1, 3)]), (" b ", [(1, 15)])],
    ),
    # fences
    (
        "math fence",
        "```math\nu = wx\nv = u + b\n```",
        [("u = wx\nv = u + b", [(2, 1), (3, 1)])],
    ),
    ("tilde math fence", "~~~math\nx = 1\n~~~", [("x = 1", [(2, 1)])]),
    ("empty math fence", "```math\n```", []),
    # amsmath environments at top level
    (
        "align",
        "\\begin{align}\nu &= wx\n\\end{align}",
        [("\\begin{align}\nu &= wx\n\\end{align}", [(1, 1), (2, 1), (3, 1)])],
    ),
    (
        "align ends a paragraph",
        "a\n\\begin{align}x = 1\\end{align}",
        [("\\begin{align}x = 1\\end{align}", [(2, 1)])],
    ),
    (
        "split inside $$",
        "$$\\begin{split} a &= b \\end{split}$$",
        [("\\begin{split} a &= b \\end{split}", [(1, 3)])],
    ),
    # containers
    ("blockquote", "> $$u = wx$$", [("u = wx", [(1, 5)])]),
    (
        "blockquote lines",
        "> $$\n> u = wx\n> $$",
        [("\nu = wx\n", [(1, 5), (2, 3), (3, 3)])],
    ),
    (
        "blockquote brackets",
        "> \\[\n> u = wx\n> \\]",
        [("\nu = wx\n", [(1, 5), (2, 3), (3, 3)])],
    ),
    ("blockquote fence", "> ```math\n> u = wx\n> ```", [("u = wx", [(2, 3)])]),
    ("lazy continuation", "> a $$u\nv$$", [("u\nv", [(1, 7), (2, 1)])]),
    ("list", "- item\n\n  $$u = wx$$", [("u = wx", [(3, 5)])]),
    ("ordered list", "1. $$u = wx$$", [("u = wx", [(1, 6)])]),
    ("quoted list", "> - $$u = wx$$", [("u = wx", [(1, 7)])]),
    ("list brackets", "- a\n\\[ x \\]", [(" x ", [(2, 3)])]),
    (
        "list align",
        "- \\begin{align}\n  u &= wx\n  \\end{align}",
        [("\\begin{align}\nu &= wx\n\\end{align}", [(1, 3), (2, 3), (3, 3)])],
    ),
    # tabs are one column
    ("tab after marker", "-\t$$u = wx$$", [("u = wx", [(1, 5)])]),
    (
        "tab in blockquote",
        ">\t$$\n>\tu = wx\n>\t$$",
        [("\n\tu = wx\n\t", [(1, 5), (2, 2), (3, 2)])],
    ),
    (
        "tab-indented list block",
        "- a\n\n\t$$\n\tu = wx\n\t$$",
        [("\n\tu = wx\n\t", [(3, 4), (4, 1), (5, 1)])],
    ),
    # odd bytes
    (
        "CRLF",
        "$$u = wx$$\r\n\r\n$$v = u$$\r\n",
        [("u = wx", [(1, 3)]), ("v = u", [(3, 3)])],
    ),
    ("BOM", "\ufeff$$u = wx$$", [("u = wx", [(1, 3)])]),
    ("NUL", "$$u\0 = wx$$", [("u\ufffd = wx", [(1, 3)])]),
    ("unicode", "é $$ℓ = wx$$ ü", [("ℓ = wx", [(1, 5)])]),
    ("empty file", "", []),
    ("prose only", "# Title\n\nNo equations here.", []),
]


@pytest.mark.parametrize(
    ("source", "expected"),
    [pytest.param(source, expected, id=name) for name, source, expected in MARKDOWN],
)
def test_markdown_math(source: str, expected: Located) -> None:
    assert located(source) == expected


def test_block_maps_its_positions_into_the_document() -> None:
    (block,) = extract("> $$\n> u = wx\n> $$", "doc.md").blocks
    assert block.pos(1, 1) == Pos(1, 5)
    assert block.pos(2, 3) == Pos(2, 5)
    assert block.span((2, 1), (2, 7)) == Span("doc.md", Pos(2, 3), Pos(2, 9))


def test_blocks_know_their_heading() -> None:
    source = "$$a = 1$$\n\n# First *part*\n\n$$b = 2$$\n\nSecond\n------\n\n$$c = 3$$"
    doc = extract(source, "doc.md")
    assert [block.heading for block in doc.blocks] == [None, "First part", "Second"]
    assert doc.headings == (Heading(3, 1, "First part"), Heading(7, 2, "Second"))


def test_document_keeps_normalized_text() -> None:
    doc = extract("\ufeff$$a$$\r\n", "doc.md")
    assert doc.text == "$$a$$\n"
    assert doc.path == "doc.md"


# ---- The seed document ------------------------------------------------------------


@pytest.fixture
def seed() -> str:
    for place in SEED_PLACES:
        if place.is_file():
            return place.read_text(encoding="utf-8")
    pytest.skip("seed/backprop.md not found")


def test_seed_blocks(seed: str) -> None:
    doc = extract(seed, "backprop.md")
    assert_origins_hold(doc.text, doc.blocks)
    assert len(doc.blocks) == 38
    starts = [block.origins[0] for block in doc.blocks]
    assert Pos(32, 3) in starts and Pos(33, 3) in starts  # consecutive lines
    by_line = {block.origins[0].line: block for block in doc.blocks}
    assert by_line[30].text == r"\frac{\partial y}{\partial v} = e^{v} = y."
    assert by_line[30].origins == (Pos(30, 3),)
    assert by_line[55].text.startswith(r"\begin{split} \frac{\partial y}")
    assert by_line[55].text.endswith(r"\end{split}")
    assert by_line[55].origins == (Pos(55, 3),)
    assert by_line[55].heading == "CHAIN RULE"
    assert by_line[7].heading == "FORWARD PASS"
    assert doc.headings == (
        Heading(2, 2, "FORWARD PASS"),
        Heading(35, 2, "CHAIN RULE"),
        Heading(59, 2, "BACKWARD PASS"),
    )


# ---- Front matter --------------------------------------------------------------------

SETTINGS = [
    (
        "our keys",
        "---\noutput: \\ell\nwrt: [w, b]\ninputs: w, x, b\nbackend: math\n"
        "functions: ['\\sigma', f]\nvariables: e\n---\n$$u = wx$$",
        Settings(
            output="\\ell",
            wrt=("w", "b"),
            inputs=("w", "x", "b"),
            backend="math",
            functions=("\\sigma", "f"),
            variables=("e",),
        ),
    ),
    ("jekyll only", "---\nlayout: page\ntitle: Backprop\n---\n", Settings()),
    ("jekyll and ours", "---\nlayout: page\noutput: y\n---", Settings(output="y")),
    (
        "eqcompiler key",
        "---\ntitle: x\neqcompiler:\n  output: y\n  wrt: w\n---",
        Settings(output="y", wrt=("w",)),
    ),
    (
        "eqcompiler key hides the top level",
        "---\noutput: a\neqcompiler:\n  wrt: w\n---",
        Settings(wrt=("w",)),
    ),
    ("empty eqcompiler key", "---\neqcompiler:\n---", Settings()),
    ("empty", "---\n---\n", Settings()),
    ("not a mapping", "---\n- a\n---", Settings()),
    ("YAML end marker", "---\noutput: y\n...\n", Settings(output="y")),
    ("after a BOM", "\ufeff---\noutput: y\n---", Settings(output="y")),
    ("unclosed is not front matter", "---\noutput: y\n", Settings()),
    ("stripped names", "---\nwrt: ' a ,, b ,'\n---", Settings(wrt=("a", "b"))),
    ("block list", "---\ninputs:\n  - x\n  - y\n---", Settings(inputs=("x", "y"))),
    ("null values", "---\noutput:\nfunctions:\n---", Settings()),
]


@pytest.mark.parametrize(
    ("source", "expected"),
    [pytest.param(source, expected, id=name) for name, source, expected in SETTINGS],
)
def test_front_matter_settings(source: str, expected: Settings) -> None:
    assert extract(source, "doc.md").settings == expected


SPANS = [
    (
        "value",
        "---\nlayout: page\neqcompiler:\n  output: y\n---",
        {"output": (4, 11, 12)},
    ),
    (
        "flow list",
        "---\nwrt: [w, u]\n---",
        {"wrt": (2, 6, 12), "wrt:w": (2, 7, 8), "wrt:u": (2, 10, 11)},
    ),
    (
        "comma text",
        "---\nwrt: w,  u ,,x\n---",
        {
            "wrt": (2, 6, 15),
            "wrt:w": (2, 6, 7),
            "wrt:u": (2, 10, 11),
            "wrt:x": (2, 14, 15),
        },
    ),
    (
        "block list",
        "---\ninputs:\n  - x\n  - \\alpha\n---",
        {"inputs": (3, 3, 11), "inputs:x": (3, 5, 6), "inputs:\\alpha": (4, 5, 11)},
    ),
    ("quoted text", '---\nwrt: "w, u"\n---', {"wrt": (2, 6, 12)}),
    ("unset", "---\nwrt:\n---", {}),
]


@pytest.mark.parametrize(
    ("source", "expected"),
    [pytest.param(source, expected, id=name) for name, source, expected in SPANS],
)
def test_front_matter_spans_point_at_values(source: str, expected: dict) -> None:
    spans = extract(source, "d.md").settings.spans
    got = {key: (s.start.line, s.start.col, s.end.col) for key, s in spans.items()}
    assert got == expected


def test_span_of_falls_back_to_the_whole_value() -> None:
    settings = extract('---\nwrt: [w, u]\ninputs: "w, u"\n---', "d.md").settings
    assert settings.span_of("wrt", "u") == Span("d.md", Pos(2, 10), Pos(2, 11))
    assert settings.span_of("inputs", "u") == Span("d.md", Pos(3, 9), Pos(3, 15))
    assert settings.span_of("output") is None


def test_front_matter_is_not_math() -> None:
    doc = extract("---\nnote: $$x = 1$$\n---\n$$y = 2$$", "doc.md")
    assert [(block.text, block.origins) for block in doc.blocks] == [
        ("y = 2", (Pos(4, 3),))
    ]


KNOWN = "known keys: output, wrt, inputs, backend, functions, variables"
FRONT_MATTER_ERRORS = [
    (
        "unknown key",
        "---\ntitle: x\neqcompiler:\n  output: y\n  foo: 1\n---",
        "5:3",
        f"unknown front matter key 'foo'; {KNOWN}",
    ),
    (
        "bad YAML",
        "---\noutput: y\n  bad: x\n---",
        "3:6",
        "invalid YAML in the front matter: mapping values are not allowed here",
    ),
    (
        "unclosed list",
        "---\noutput: y\nwrt: [a, b\n---",
        "3:11",
        "invalid YAML in the front matter: expected ',' or ']', but got '<stream end>'",
    ),
    (
        "unknown escape",
        '---\noutput: "\\sigma"\n---',
        "2:11",
        "invalid YAML in the front matter: found unknown escape character 's' (in "
        "double quotes, YAML reads a backslash as an escape: write LaTeX bare or in "
        "single quotes)",
    ),
    (
        "control character",
        "---\nx: \x01\n---",
        "2:4",
        "invalid YAML in the front matter: character U+0001 is not allowed",
    ),
    (
        "python tag",
        "---\nx: !!python/object:os.system 1\n---",
        "2:4",
        "invalid YAML in the front matter: could not determine a constructor for the "
        "tag 'tag:yaml.org,2002:python/object:os.system'",
    ),
    (
        "list for a name",
        "---\noutput: [a, b]\n---",
        "2:9",
        "front matter key 'output' must be a name, not a list",
    ),
    (
        "escape read as a control character",
        '---\noutput: "\\ell"\n---',
        "2:9",
        "front matter key 'output' holds a control character (in double quotes, YAML "
        "reads a backslash as an escape: write LaTeX bare or in single quotes)",
    ),
    (
        "number in a list",
        "---\nwrt: [w, 1]\n---",
        "2:6",
        "front matter key 'wrt' must list names; the number 1 is not one",
    ),
    (
        "number for a list",
        "---\ninputs: 3\n---",
        "2:9",
        "front matter key 'inputs' must be a list of names, not the number 3",
    ),
    ("empty wrt", "---\nwrt: []\n---", "2:6", "front matter key 'wrt' names nothing"),
    ("empty name", "---\noutput: ''\n---", "2:9", "front matter key 'output' is empty"),
    (
        "unknown backend",
        "---\nbackend: torch\n---",
        "2:10",
        "unknown backend 'torch'; expected 'numpy' or 'math'",
    ),
    (
        "eqcompiler not a mapping",
        "---\neqcompiler: yes\n---",
        "2:13",
        "front matter key 'eqcompiler' must hold a mapping of settings",
    ),
    (
        "repeated key",
        "---\noutput: a\noutput: b\n---",
        "3:1",
        "front matter key 'output' is given twice",
    ),
    (
        "deep nesting",
        "---\nx: " + "[" * 5000 + "\n---",
        "2:1",
        "invalid YAML in the front matter: it is nested too deeply",
    ),
]


@pytest.mark.parametrize(
    ("source", "place", "message"),
    [
        pytest.param(source, place, message, id=name)
        for name, source, place, message in FRONT_MATTER_ERRORS
    ],
)
def test_front_matter_errors(source: str, place: str, message: str) -> None:
    error = error_of(source)
    assert (where(error), error.message) == (place, message)
    assert str(error) == f"doc.md:{place}: error: {message}"


def test_repeated_key_notes_the_first() -> None:
    error = error_of("---\noutput: a\noutput: b\n---")
    assert [(note.message, note.span.start) for note in error.related] == [
        ("first given here", Pos(2, 1))
    ]


def test_unknown_keys_are_all_reported() -> None:
    with pytest.raises(EqErrors) as caught:
        extract("---\neqcompiler:\n  foo: 1\n  output: y\n  bar: 2\n---", "doc.md")
    assert [where(error) for error in caught.value.errors] == ["3:3", "5:3"]


# ---- TeX ----------------------------------------------------------------------------

TEX = [
    ("brackets", r"\[ u = wx \]", [(" u = wx ", [(1, 3)])]),
    ("dollars", "$$u = wx$$", [("u = wx", [(1, 3)])]),
    (
        "align with comment",
        "\\begin{align}\nu &= wx \\\\ % the product\nv &= u + b\n\\end{align}",
        [
            (
                "\\begin{align}\nu &= wx \\\\ \nv &= u + b\n\\end{align}",
                [(1, 1), (2, 1), (3, 1), (4, 1)],
            )
        ],
    ),
    (
        "equation*",
        r"\begin{equation*} y = e^{v} \end{equation*}",
        [(r"\begin{equation*} y = e^{v} \end{equation*}", [(1, 1)])],
    ),
    (
        "eqnarray*",
        "\\begin{eqnarray*}\na &=& b\n\\end{eqnarray*}",
        [("\\begin{eqnarray*}\na &=& b\n\\end{eqnarray*}", [(1, 1), (2, 1), (3, 1)])],
    ),
    (
        "gather",
        r"\begin{gather} a = b \end{gather}",
        [(r"\begin{gather} a = b \end{gather}", [(1, 1)])],
    ),
    (
        "multline",
        "x\n  \\begin{multline} a = b \\end{multline}",
        [(r"\begin{multline} a = b \end{multline}", [(2, 3)])],
    ),
    (
        "spaced environment",
        r"\begin {align} x \end {align}",
        [(r"\begin {align} x \end {align}", [(1, 1)])],
    ),
    (
        "nested environment",
        "\\begin{equation}\n\\begin{aligned} a &= b \\end{aligned}\n\\end{equation}",
        [
            (
                "\\begin{equation}\n\\begin{aligned} a &= b \\end{aligned}\n"
                "\\end{equation}",
                [(1, 1), (2, 1), (3, 1)],
            )
        ],
    ),
    ("inline is prose", r"Let $u = wx$ and \(v = u\) be.", []),
    ("commented out", "% \\[ u = wx \\]\n\\[ v = u \\]", [(" v = u ", [(2, 3)])]),
    ("escaped percent", r"50\% of $$u = wx$$", [("u = wx", [(1, 11)])]),
    (
        "comment inside",
        "\\[ a % \\]\n = b \\]",
        [(" a \n = b ", [(1, 3), (2, 1)])],
    ),
    ("verbatim", "\\begin{verbatim}\n\\[ u = wx \\]\n\\end{verbatim}", []),
    ("verb", r"\verb|$$| and \verb+\[+ $$y = 1$$", [("y = 1", [(1, 27)])]),
    (
        "other environment",
        r"\begin{itemize}\item $$x = 1$$\end{itemize}",
        [("x = 1", [(1, 24)])],
    ),
    ("BOM and CRLF", "\ufeff\\[x\\]\r\n", [("x", [(1, 3)])]),
    ("empty", "", []),
]


@pytest.mark.parametrize(
    ("source", "expected"),
    [pytest.param(source, expected, id=name) for name, source, expected in TEX],
)
def test_tex_math(source: str, expected: Located) -> None:
    assert located(source, "doc.tex") == expected


def test_tex_headings() -> None:
    source = (
        "\\section{Forward pass}\n\\[ u = wx \\]\n"
        "\\subsection*{The \\emph{chain} rule}\n"
        "\\begin{equation}\ny = e^{v}\n\\end{equation}\n"
        "% \\section{Not one}\n\\subsubsection[short]{Long}\n$$z = 1$$"
    )
    doc = extract(source, "doc.tex")
    assert doc.headings == (
        Heading(1, 1, "Forward pass"),
        Heading(3, 2, "The chain rule"),
        Heading(8, 3, "Long"),
    )
    assert [block.heading for block in doc.blocks] == [
        "Forward pass",
        "The chain rule",
        "Long",
    ]


TEX_ERRORS = [
    ("brackets", "text\n\\[ u = wx", "2:1", r"this '\[' is never closed"),
    (
        "environment",
        "\\begin{align}\nu &= wx",
        "1:1",
        r"this '\begin{align}' is never closed",
    ),
    ("inline", "costs $5", "1:7", "this '$' is never closed"),
]


@pytest.mark.parametrize(
    ("source", "place", "message"),
    [pytest.param(s, p, m, id=name) for name, s, p, m in TEX_ERRORS],
)
def test_tex_errors(source: str, place: str, message: str) -> None:
    error = error_of(source, "doc.tex")
    assert (where(error), error.message) == (place, message)


# ---- Robustness and speed ------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "\0\0$$\0$$",
        "> " * 2000 + "$$x$$",
        "- " * 2000 + "$$x$$",
        "*" * 10000 + "$$x$$",
        "$$" * 5000,
        "\\[" * 5000,
        "\u2028$$a\u2029b$$\x85\x1c\ufeff",
        "\ud800$$x$$",
    ],
    ids=[
        "nul",
        "quotes",
        "lists",
        "stars",
        "dollars",
        "brackets",
        "separators",
        "lone surrogate",
    ],
)
@pytest.mark.parametrize("path", ["doc.md", "doc.tex"])
def test_odd_input_does_not_crash(source: str, path: str) -> None:
    try:
        doc = extract(source, path)
    except (EqError, EqErrors):
        return
    assert_origins_hold(doc.text, doc.blocks)


@pytest.mark.parametrize(
    ("unit", "path"),
    [
        ("$$u_{1} = wx$$\n\n", "doc.md"),
        ("$$u = wx$$\n", "doc.md"),
        ("\\[ u = wx \\]\n\n", "doc.md"),
        ("\\section{A}\n\\[ u = wx \\] % c\n", "doc.tex"),
    ],
    ids=["blocks", "consecutive", "brackets", "tex"],
)
def test_hundred_thousand_equations_are_quick(unit: str, path: str) -> None:
    start = time.perf_counter()
    doc = extract(unit * 100_000, path)
    assert time.perf_counter() - start < 6
    assert len(doc.blocks) == 100_000
    assert doc.blocks[-1].origins[0].line >= 100_000
