"""Spec §9.3: the activation of the mask downscaler, selectable by name as in the seed API.

Each activation is written in the dtype of its input; "gelu" is the exact (erf) GELU that
SAM v1, transformers and keras-hub use.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .backend import Array, erf


def gelu(x, xp):
    """GELU(x) = x/2 * (1 + erf(x / sqrt(2)))  (exact form)."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0), xp))


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


def get_activation(name: str) -> Callable[..., Array]:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}; received {name!r}")
    return ACTIVATIONS[name]
