# Helper functions a generated math module may need; eqcompiler copies the ones it uses.
import math


def _sigmoid(z: float) -> float:
    """The logistic function 1 / (1 + e^-z), without overflow for any z."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    t = math.exp(z)
    return t / (1.0 + t)


def _softplus(z: float) -> float:
    """log(1 + e^z), without overflow for any z."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _relu(z: float) -> float:
    """max(0, z)."""
    return max(z, 0.0)


def _sign(z: float) -> float:
    """-1.0, 0.0 or 1.0, the sign of z."""
    return float((z > 0) - (z < 0))


def _logaddexp(a: float, b: float) -> float:
    """log(e^a + e^b), without overflow."""
    top = max(a, b)
    return top + math.log1p(math.exp(-abs(a - b)))
