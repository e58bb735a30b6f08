"""Spec §9.3: the activation of the mask downscaler, selectable by name as in the seed API.

Each activation is written in the dtype of its input; "gelu" is the exact (erf) GELU that
SAM v1, transformers and keras-hub use.
"""

from __future__ import annotations

import math

import numpy as np

from .backend import erf, namespace_name
from .normal_tail import normal_upper_tail


def gelu(x, xp):
    """GELU(x) = x/2 * (1 + erf(x / sqrt(2)))  (exact form)."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0), xp))


def gelu_from_upper_tail(x, xp, out=None):
    """The exact GELU from the normal upper tail Q(|x|) = Phi(-|x|) (``normal_tail``), for finite
    float32 or float64 x.

        GELU(x) = x * Phi(x) = max(x, 0) - |x| * Q(|x|)
        out: None, or (NumPy only) the array to write the result into, which may be x itself

    Why this equals ``gelu``: x/2 * (1 + erf(x/sqrt 2)) = x * Phi(x), and by the symmetry of the
    normal density Phi(x) = 1 - Q(|x|) for x >= 0 and Q(|x|) for x < 0; max(x, 0) is x or 0
    accordingly (exactly), so one expression covers both signs with no branch or mask. For x < 0
    it is -|x| * Q exactly, which keeps GELU's relative accuracy where 1 + erf cancels (below
    about x = -4 in float32). It is computed as max(x - t, -t) with t = |x| Q(|x|) >= 0, the same
    value (t moved inside the max) from two whole arrays: NumPy's maximum against a scalar 0 is
    three times slower.
    """
    a = xp.abs(x)
    tail = normal_upper_tail(a, xp)
    tail *= a  # t = |x| Q(|x|)
    if out is None:
        return xp.maximum(x - tail, xp.negative(tail))
    np.subtract(x, tail, out=out)  # (NumPy, in place)
    return np.maximum(out, np.negative(tail, out=tail), out=out)


def gelu_tanh(x, xp):
    """GELU's tanh approximation: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + xp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def relu(x, xp):
    """ReLU(x) = max(x, 0)."""
    return xp.maximum(x, xp.zeros_like(x))


def sigmoid(x, xp):
    """sigmoid(x) = 1 / (1 + exp(-x))."""
    return 1.0 / (1.0 + xp.exp(-x))


def tanh(x, xp):
    """tanh(x)."""
    return xp.tanh(x)


def silu(x, xp):
    """SiLU / swish: x * sigmoid(x)."""
    return x * sigmoid(x, xp)


def softplus(x, xp):
    """softplus(x) = log(1 + exp(x)), computed as logaddexp(0, x) so it never overflows."""
    return xp.logaddexp(xp.zeros_like(x), x)


def mish(x, xp):
    """mish(x) = x * tanh(softplus(x))."""
    return x * xp.tanh(softplus(x, xp))


def elu(x, xp):
    """ELU(x) = x for x > 0, exp(x) - 1 otherwise (alpha = 1)."""
    return xp.where(x > 0, x, xp.expm1(xp.minimum(x, xp.zeros_like(x))))


def linear(x, xp):
    """The identity."""
    return x


ACTIVATIONS = {
    "gelu": gelu,
    "gelu_tanh": gelu_tanh,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "silu": silu,
    "swish": silu,
    "softplus": softplus,
    "mish": mish,
    "elu": elu,
    "linear": linear,
}


def fast_activation(name: str, dtype, xp):
    """The activation the encoder's fast composition (reference/fast.py) evaluates: the same
    function, computed faster where that pays. Only NumPy's GELU is replaced (``gelu_from_upper_tail``):
    NumPy has no erf and SciPy's is a scalar loop (~10 ns a value, 20 times the rest of the mask
    path's arithmetic);
    CuPy's and torch's erf are vectorised kernels, and other dtypes keep the definition.
    """
    activation = get_activation(name)
    if activation is gelu and namespace_name(xp) == "numpy" and dtype in (xp.float32, xp.float64):
        return gelu_from_upper_tail
    return activation


def get_activation(name: str):
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}; received {name!r}")
    return ACTIVATIONS[name]
