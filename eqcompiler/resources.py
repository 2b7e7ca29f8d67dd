"""Where the grammar and the code templates live, installed or in a source tree.

A wheel carries them inside the package (`eqcompiler/grammars`, `eqcompiler/templates`);
a source checkout or an editable install keeps them at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder `name` ("grammars" or "templates") as shipped with this package."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"eqcompiler is installed without its {name}/ folder")
