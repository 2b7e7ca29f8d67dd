"""`python -m eqcompiler` runs the command line."""

from .cli import run

run()
