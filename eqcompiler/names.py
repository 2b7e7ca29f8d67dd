"""LaTeX symbols to Python names (the contract table in DESIGN.md), and the `Namer`.

`symbol_name` is the only place that decides how a document symbol is spelled in
generated code. The `Namer` hands out the names the generator adds (adjoints,
temporaries, module aliases) so they never collide with the document's names.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

# Decorations written over a letter, and the suffix each adds to the Python name.
ACCENTS = {
    "hat": "hat",
    "widehat": "hat",
    "bar": "bar",
    "overline": "bar",
    "tilde": "tilde",
    "widetilde": "tilde",
    "dot": "dot",
    "ddot": "ddot",
    "check": "check",
    "breve": "breve",
    "vec": "vec",
    "mathring": "ring",
}

_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]+")


def command_name(latex: str) -> str:
    """`\\alpha` -> `alpha`; `x` -> `x`."""
    return latex.lstrip("\\")


_FONT = re.compile(
    r"\\(mathrm|operatorname|text|mathit|mathsf|mathtt|textrm|textit|mathbf|boldsymbol|bm)\*?"
)


def sanitize(text: str) -> str:
    """Make arbitrary text from `\\mathrm{...}` or a subscript a name fragment."""
    text = _FONT.sub("", text).replace("\\", "")
    text = text.replace("-", "m").replace("+", "p")
    return _NOT_IDENTIFIER.sub("_", text).strip("_")


# Names a generated module uses for itself (its class and functions, and the builtins
# the math backend calls): a document symbol spelled so would hide them.
RESERVED = frozenset(
    "Gradients NamedTuple ArrayLike forward backward value_and_grad float abs max min".split()
)


def keyword_safe(name: str) -> str:
    """A Python keyword gets a trailing underscore (`lambda` -> `lambda_`), and so
    does a name the module uses (`float` -> `float_`); a leading digit gets a leading
    an `n` (`\\mathrm{2x}` -> `n2x`)."""
    name = _NOT_IDENTIFIER.sub("_", name)  # `\\hat 1.5`: a number under an accent
    name = name.lstrip("_")  # a NamedTuple field cannot start with `_`
    if name[:1].isdigit():
        name = "n" + name
    reserved = keyword.iskeyword(name) or keyword.issoftkeyword(name)
    return name + "_" if reserved or name in RESERVED else name


@dataclass
class Namer:
    """Unique names for generated code; user names are reserved first."""

    taken: set[str] = field(default_factory=set)
    # wanted name -> the last number tried for it (a program may ask for `t`
    # thousands of times: each search starts where the last one ended)
    _tried: dict[str, int] = field(default_factory=dict)

    def reserve(self, *names: str) -> None:
        self.taken.update(names)

    def fresh(self, wanted: str) -> str:
        """`wanted` if free, else `wanted_1`, `wanted_2`, ..."""
        name = wanted
        counter = self._tried.get(wanted, 0)
        if counter:
            name = f"{wanted}_{counter}"
        while name in self.taken or keyword.iskeyword(name):
            counter += 1
            name = f"{wanted}_{counter}"
        self._tried[wanted] = counter
        self.taken.add(name)
        return name
