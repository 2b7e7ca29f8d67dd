"""Where a good compiler should point for each invalid document in this folder.

Each document has exactly one problem. ``line`` and ``col`` are 1-based, the
column counted in characters of the file's line (the column of the offending
token, not of the math block). ``phrase`` is a short piece of text the error
message should contain (compare case-insensitively). ``alternatives`` lists
other positions that are equally acceptable (for example any equation of a
cycle); ``notes`` lists the positions that ``note:`` lines should point at, where
DESIGN.md asks for them (the first of two conflicting definitions, the other
equations of a cycle, the first of two colliding names).

All problems are errors: ``compile`` must exit 1 on each document and print
``PATH:LINE:COL: error: MESSAGE`` with no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Expected:
    line: int
    col: int
    phrase: str
    alternatives: tuple[tuple[int, int], ...] = ()
    notes: tuple[tuple[int, int], ...] = ()

    def accepts(self, line: int, col: int) -> bool:
        return (line, col) == (self.line, self.col) or (line, col) in self.alternatives


EXPECTED: dict[str, Expected] = {
    # `h` assigned `wx + b` (5:3) and later `wx - b` inside aligned (11:3).
    "conflicting_definitions": Expected(11, 3, "conflicting", notes=((5, 3),)),
    # a = b + 1, b = 2a.
    "cycle": Expected(6, 3, "cycle", alternatives=((8, 3),), notes=((8, 3),)),
    # `w = w - \eta g` uses itself (and g uses w): an update written as `=`.
    "update_as_equation": Expected(8, 3, "cycle", alternatives=((6, 3),)),
    # `\operatorname{act}(z)`: a named function eqcompiler does not know.
    "undefined_function": Expected(7, 7, "undefined function"),
    # `\sum_{i}`: sums are not supported (yet).
    "unsupported_sum": Expected(7, 19, "unsupported"),
    # `\int_{0}^{a}`.
    "unsupported_integral": Expected(5, 7, "unsupported"),
    # `\frac{1}{1 + e^{-z}`: the `{` of the second argument is never closed.
    # Pointing at the end of the block's content is also acceptable.
    "unbalanced_brace": Expected(5, 15, "unclosed", alternatives=((5, 26),)),
    # `u^{2}} + 1`: the second `}` closes nothing.
    "stray_brace": Expected(5, 12, "unmatched"),
    # Prose, inline math and a fenced code block containing $$, but no display math.
    "no_equation": Expected(1, 1, "no equation"),
    # L and q are both unused; nothing says which is the output.
    # Pointing at either candidate or at 1:1 is acceptable.
    "two_outputs": Expected(9, 3, "output", alternatives=((7, 3), (1, 1))),
    # `\frac{r^{2}}` has one argument.
    "missing_frac_argument": Expected(5, 7, "\\frac"),
    # `y = ` with nothing after the equals sign; pointing just past it is acceptable.
    "empty_right_side": Expected(7, 5, "expression", alternatives=((7, 7),)),
    # A NUL byte (U+0000) between `w` and `x`.
    "nul_byte": Expected(5, 8, "character"),
    # Front matter `backend: torch` (only numpy and math exist): point at the value.
    "bad_backend": Expected(2, 10, "backend"),
    # Front matter `wrt: [w, u]`, but u is computed (u = wx): point at `u`.
    "wrt_not_input": Expected(2, 10, "not an input"),
    # `x_1` (5:11) and `x^{(1)}` (7:11) both become the Python name `x_1`.
    "name_collision": Expected(7, 11, "x_1", notes=((5, 11),)),
    # `\begin{aligned}` with no `\end{aligned}` before the closing `$$`.
    "unterminated_environment": Expected(4, 1, "aligned"),
    # Front matter `output: loss`, but the document assigns L, not loss.
    "output_not_assigned": Expected(2, 9, "output"),
    # `(u - t^{2}`: the `(` is never closed.
    "unclosed_parenthesis": Expected(5, 7, "unclosed"),
}
