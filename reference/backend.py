"""Array namespaces, dtypes and the one special function the reference needs (spec §1.3).

Every stage function takes its arrays from an *array namespace* ``xp`` that follows the
Python array API standard: NumPy >= 2, ``array_api_strict``, CuPy, or torch through
``array_api_compat``. Nothing here keeps state.
"""

from __future__ import annotations

import importlib
import math
from types import ModuleType

DTYPES = ("float64", "float32", "float16")


def resolve_namespace(xp=None) -> ModuleType:
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
            raise TypeError(
                f"xp: expected an array-API namespace (with {needed!r}); received {xp!r}"
            )
    return xp


def namespace_name(xp) -> str:
    """The plain name of a namespace: 'numpy', 'cupy', 'torch', 'array_api_strict', ..."""
    name = getattr(xp, "__name__", repr(xp))
    return name.removeprefix("array_api_compat.")


def float_dtype(xp, dtype: str):
    """The namespace's dtype object for one of ``DTYPES``; a clear error for anything else."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {list(DTYPES)}; received {dtype!r}")
    found = getattr(xp, dtype, None)
    if found is None:
        raise TypeError(f"dtype: the namespace {namespace_name(xp)!r} has no {dtype}")
    try:
        xp.zeros((1,), dtype=found)
    except Exception as exc:  # array_api_strict lists no float16, for instance
        raise TypeError(
            f"dtype: the namespace {namespace_name(xp)!r} does not support {dtype}: {exc}"
        ) from exc
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


# Where erf(|x|) rounds to exactly 1 in each dtype: erfc(6) = 2e-17, erfc(4) = 1.5e-8,
# erfc(3) = 2.2e-5 are below half an ulp of 1 in float64, float32 and float16.
_ERF_SATURATION = {8: 6.0, 4: 4.0, 2: 3.0}


def erf_series(x, xp):
    """erf by its all-positive series, using only array-API operations (spec §9.3).

        erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_{n>=0} 2^n x^(2n+1) / (1*3*...*(2n+1))

    Every term is positive, so the sum loses no digits to cancellation; |x| is clipped where
    erf saturates at 1 for the dtype, and the loop runs until the last term is negligible
    (about 2 x_max^2 + 30 terms).
    """
    limit = _ERF_SATURATION[xp.finfo(x.dtype).bits // 8]
    a = xp.clip(xp.abs(x), 0.0, limit)
    a2 = a * a
    term = a
    total = a
    for n in range(1, int(2 * limit * limit) + 30):
        term = term * (2.0 * a2 / (2 * n + 1))
        total = total + term
    value = (2.0 / math.sqrt(math.pi)) * xp.exp(-a2) * total
    value = xp.clip(value, 0.0, 1.0)
    return xp.where(x < 0, -value, value)


def erf(x, xp):
    """The error function in x's dtype: the namespace's own where it has one, else the series."""
    native = _native_erf(xp)
    if native is None:
        return erf_series(x, xp)
    return xp.astype(xp.asarray(native(x)), x.dtype)
