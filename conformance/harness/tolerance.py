"""The tolerance model (docs/tolerances.md).

A port computing in dtype D passes an output when

    max |port - expected| <= k * max |faithful_D - expected| + floor_D * max(1, max |expected|)

where ``expected`` is the float64 reference and ``faithful_D`` is the same reference run entirely
in D: the error a faithful lower-precision implementation of the same algorithm makes on this
very case. Where the case is ill-conditioned (two nearly equal channels before a LayerNorm), one
faithful run's rounding can be luckier than another's, so the faithful error is the larger of
that run's error and how far the float64 output moves when every input value moves by one unit
in the last place of D (``perturb``). ``k`` absorbs a different but equally faithful order of
operations; the floor covers outputs that D represents exactly (faithful error 0, e.g. a copied
embedding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_K = 4.0
# floor_D: a few units in the last place of D, relative to the output's magnitude
FLOORS = {"float16": 4 * 2.0**-10, "float32": 4 * 2.0**-23, "float64": 1e-12}


@dataclass
class Comparison:
    verdict: str  # "pass" or "fail"
    error: float | None = None
    budget: float | None = None
    worst_index: tuple | None = None
    expected_at_worst: float | None = None
    got_at_worst: float | None = None
    message: str = ""

    @property
    def ratio(self):
        if self.error is None or not self.budget:
            return None
        return self.error / self.budget


def dtype_name(array) -> str | None:
    dtype = np.asarray(array).dtype
    return dtype.name if dtype.name in FLOORS else None


def lower_precision(dtype: str, than: str) -> bool:
    """Whether ``dtype`` carries fewer significand bits than ``than`` (both names of FLOORS)."""
    return np.finfo(dtype).nmant < np.finfo(than).nmant


def perturb(inputs: dict, relative: float, seed: int = 0) -> dict:
    """Every floating input value times (1 +- relative), the signs from a seeded generator."""
    rng = np.random.default_rng(seed)
    out = dict(inputs)
    for key in ("points", "boxes", "masks"):
        if out.get(key) is not None:
            value = np.asarray(out[key], dtype=np.float64)
            out[key] = value * (1.0 + relative * rng.choice((-1.0, 1.0), value.shape))
    return out


def compare(got, expected, faithful, k: float = DEFAULT_K, judged: str | None = None) -> Comparison:
    """Compare one output of a port with the float64 expectation; ``faithful`` is the reference run
    in the port's dtype, or a list of such faithful estimates (the largest error counts). ``judged``:
    the dtype whose floor applies (the declared compute dtype), by default the output's own."""
    got = np.asarray(got)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return Comparison("fail", message=f"shape {got.shape}, expected {expected.shape}")
    if got.dtype.kind != "f":
        return Comparison("fail", message=f"dtype {got.dtype}, expected a floating dtype")
    name = dtype_name(got)
    if name is not None and judged is not None:
        name = judged
    if name is None:
        return Comparison("fail", message=f"dtype {got.dtype} has no faithful reference (float16/32/64)")
    if expected.size == 0:
        return Comparison("pass", error=0.0, budget=0.0, message="empty")
    got64 = got.astype(np.float64)
    finite = np.isfinite(got64)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        return Comparison(
            "fail",
            worst_index=index,
            got_at_worst=float(got64[index]),
            expected_at_worst=float(expected[index]),
            message=f"{int((~finite).sum())} NaN/inf value(s)",
        )
    difference = np.abs(got64 - expected)
    flat = int(np.argmax(difference))
    index = tuple(int(i) for i in np.unravel_index(flat, difference.shape))
    error = float(difference[index])
    runs = faithful if isinstance(faithful, (list, tuple)) else [faithful]
    faithful_error = max(
        float(np.max(np.abs(np.asarray(run, dtype=np.float64) - expected)))
        for run in runs
        if np.shape(run) == expected.shape
    )
    scale = max(1.0, float(np.max(np.abs(expected))))
    budget = k * faithful_error + FLOORS[name] * scale
    return Comparison(
        "pass" if error <= budget else "fail",
        error=error,
        budget=budget,
        worst_index=index,
        expected_at_worst=float(expected[index]),
        got_at_worst=float(got64[index]),
    )
