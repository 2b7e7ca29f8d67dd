"""eqcompiler: compile documents of equations into forward and backward Python code."""

__version__ = "0.1.0"
