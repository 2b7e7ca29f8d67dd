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
    if z > 0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


def _relu(z: float) -> float:
    """max(0, z); nan stays nan."""
    return 0.0 if z < 0 else z


def _sign(z: float) -> float:
    """-1.0, 0.0 or 1.0, the sign of z."""
    return float((z > 0) - (z < 0))


def _logaddexp(a: float, b: float) -> float:
    """log(e^a + e^b), without overflow."""
    if a > b:
        return a + math.log1p(math.exp(b - a))
    if a < b:
        return b + math.log1p(math.exp(a - b))
    if a == b:  # infinities too
        return a + 0.6931471805599453  # log 2
    return a + b  # nan
