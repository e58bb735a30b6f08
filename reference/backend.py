"""Array namespaces, dtypes and the one special function the reference needs (spec §1.3).

Every stage function takes its arrays from an *array namespace* ``xp`` that follows the
Python array API standard: NumPy >= 2, ``array_api_strict``, CuPy, or torch through
``array_api_compat``. Nothing here keeps state.
"""

from __future__ import annotations

import importlib
import math
from types import ModuleType
from typing import Any

# Type names for the array-API world (typing cannot say more without a protocol per library):
Array = Any  # an array of the namespace in use (NumPy, CuPy, torch, array_api_strict, ...)
Namespace = Any  # an array-API namespace (``resolve_namespace``)
DType = Any  # a dtype object of that namespace

DTYPES = ("float64", "float32", "float16")


def resolve_namespace(xp: Namespace = None) -> ModuleType:
    """Return an array-API namespace for ``xp`` (``None`` means NumPy).

    Namespaces that are not themselves array-API compliant (torch, older CuPy) are wrapped by
    ``array_api_compat`` when it is installed.
    """
    if xp is None:
        import numpy

        xp = numpy
    name = getattr(xp, "__name__", "")
    if name in ("torch", "cupy") or (name == "numpy" and not hasattr(xp, "permute_dims")):
        try:
            xp = importlib.import_module(f"array_api_compat.{name}")
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise TypeError(
                f"xp: the namespace {name!r} needs the package array-api-compat to be used "
                f"as an array-API namespace; install it (pip install array-api-compat)"
            ) from exc
    for needed in ("asarray", "matmul", "concat", "permute_dims", "take", "isdtype"):
        if not hasattr(xp, needed):
            raise TypeError(f"xp: expected an array-API namespace (with {needed!r}); received {xp!r}")
    return xp


def namespace_name(xp: Namespace) -> str:
    """The plain name of a namespace: 'numpy', 'cupy', 'torch', 'array_api_strict', ..."""
    name = getattr(xp, "__name__", repr(xp))
    return name.removeprefix("array_api_compat.")


def float_dtype(xp: Namespace, dtype: str) -> DType:
    """The namespace's dtype object for one of ``DTYPES``; a clear error for anything else."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {list(DTYPES)}; received {dtype!r}")
    found = getattr(xp, dtype, None)
    if found is None:
        raise TypeError(f"dtype: the namespace {namespace_name(xp)!r} has no {dtype}")
    try:
        xp.zeros((1,), dtype=found)
    except Exception as exc:  # array_api_strict lists no float16, for instance
        raise TypeError(f"dtype: the namespace {namespace_name(xp)!r} does not support {dtype}: {exc}") from exc
    return found


def _native_erf(xp):
    """The namespace's own erf, where it has one (fast, correctly rounded in float64)."""
    name = namespace_name(xp)
    if name == "numpy":
        from scipy.special import erf

        return erf
    if name == "cupy":
        from cupyx.scipy.special import erf

        return erf
    if name == "torch":
        import torch

        return torch.special.erf
    return None


def erf_series(x, xp):
    """erf using only array-API operations (spec §1.3), for namespaces without one of their own.

    For |x| < 1.5, the all-positive series (no cancellation):
        erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_{n>=0} 2^n x^(2n+1) / (1*3*...*(2n+1))
    For |x| >= 1.5, erf(x) = 1 - erfc(x) with erfc's continued fraction, evaluated backwards:
        erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
    80 terms of each reach a few ulp in float64 (checked against math.erf over [-7, 7]). Lower
    precisions are evaluated in float64 and rounded once, as a correctly rounded erf would be.
    """
    wide = x if x.dtype == xp.float64 else xp.astype(x, xp.float64)
    a = xp.abs(wide)
    small = xp.minimum(a, 1.5)  # each branch sees only arguments in its own range
    large = xp.maximum(a, 1.5)
    term, total = small, small
    for n in range(1, 80):
        term = term * (2.0 * small * small / (2 * n + 1))
        total = total + term
    series = (2.0 / math.sqrt(math.pi)) * xp.exp(-small * small) * total
    fraction = large
    for k in range(80, 0, -1):
        fraction = large + (k / 2.0) / fraction
    complement = xp.exp(-large * large) / math.sqrt(math.pi) / fraction
    value = xp.where(a < 1.5, series, 1.0 - complement)
    return xp.astype(xp.where(wide < 0, -value, value), x.dtype)


def erf(x, xp):
    """The error function in x's dtype: the namespace's own where it has one, else the series."""
    native = _native_erf(xp)
    if native is None:
        return erf_series(x, xp)
    return xp.astype(xp.asarray(native(x)), x.dtype)
