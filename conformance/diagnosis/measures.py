"""Measures the diagnosis takes of arrays: the largest difference (with its cheap lower bound on a
sample), an output's scale, and the inspection of a port's output before anything is converted."""

from __future__ import annotations

import math

import numpy as np

from ..harness.tolerance import FLOORS
from .dense_structure import sample_view

SAMPLE = 1 << 16  # arrays larger than this are first compared on a strided sample (a lower bound)
SIZE_FACTOR = 4  # an output with more than this many times the expected values (+ SIZE_SLACK) is not diagnosed
SIZE_SLACK = 4096


def max_abs_difference(a, b) -> float:
    """max |a - b| over finite positions; inf if the shapes or the non-finite positions differ."""
    if a is b:
        return 0.0
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        largest = float(np.max(np.abs(a - b)))
    if math.isfinite(largest):  # the common case: everything finite
        return largest
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(finite_a, finite_b) or not np.array_equal(a[~finite_a], b[~finite_b]):
        return math.inf
    if not finite_a.any():
        return 0.0
    return float(np.max(np.abs(a[finite_a] - b[finite_a])))


def exceeds(a, b, limit) -> bool:
    """Whether max |a - b| surely exceeds ``limit``, judged on a strided sample of a large array:
    the sample's maximum is a lower bound of the whole one, so True is exact and cheap."""
    if a.shape != b.shape or a.size <= SAMPLE or math.isinf(limit):
        return False
    with np.errstate(all="ignore"):
        return bool(np.any(np.abs(sample_view(a, SAMPLE) - sample_view(b, SAMPLE)) > limit))


def scale(array) -> float:
    """max(1, max |array|) over its finite values: what the dtype floor is relative to."""
    array = np.asarray(array)
    with np.errstate(all="ignore"):
        largest = float(np.max(np.abs(array))) if array.size else 0.0
    if not math.isfinite(largest):
        finite = array[np.isfinite(array)]
        largest = float(np.max(np.abs(finite))) if finite.size else 0.0
    return max(1.0, largest)


def top_section(section) -> str | None:
    """§9.2 -> §9 (the spec's top-level section)."""
    return section.split(".")[0].split(",")[0].strip() if section else None


def has_positions(inputs) -> bool:
    """Whether the sparse output holds a token that depends on a coordinate."""
    labels = inputs.get("labels")
    return inputs.get("boxes") is not None or (
        labels is not None and np.size(labels) > 0 and bool(np.any(np.asarray(labels) != -1))
    )


def inspect_output(got, expected_shape) -> tuple:
    """(array as float64, port dtype name, None) or (None, None, why it cannot be diagnosed), checked
    before any conversion: the type, the dtype and the size of the port's output."""
    if not isinstance(got, np.ndarray):
        return None, None, f"the output is a {type(got).__name__}, not an array: nothing to diagnose"
    if got.dtype.kind not in "fiub":
        return None, None, f"the output's dtype is {got.dtype} (not real numbers): nothing to diagnose"
    if got.dtype.kind == "f" and got.dtype.name not in FLOORS:
        return (
            None,
            None,
            (
                f"the output's dtype is {got.dtype}, which samspec does not judge: return float16, float32 "
                "or float64 (the dtype you compute in)"
            ),
        )
    if got.dtype.kind == "f" and not np.all(np.isfinite(got)):
        bad = np.argwhere(~np.isfinite(got))
        return (
            None,
            None,
            (
                f"{len(bad)} of {got.size} values are NaN or infinite (first at {tuple(int(i) for i in bad[0])}): "
                "find the stage that makes them (the trace of a failing case, on by default; `--trace` traces "
                "every case; docs/diagnosis.md)"
            ),
        )
    expected_size = int(np.prod(expected_shape)) if expected_shape is not None else 0
    if got.size > SIZE_FACTOR * expected_size + SIZE_SLACK:
        return (
            None,
            None,
            (
                f"the output holds {got.size} values (shape {got.shape}) where {expected_size} are "
                f"expected (shape {tuple(expected_shape)}): too large to diagnose"
            ),
        )
    dtype = got.dtype.name if got.dtype.name in FLOORS else "float32"
    return np.array(got, dtype=np.float64, order="C"), dtype, None
