"""Benchmarks of eqcompiler: generated code against hand-written code and peers, and
the compiler itself. Run `python benchmarks/run.py` (see its --help)."""
