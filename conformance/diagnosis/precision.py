"""Dtype awareness (spec §11.3): whether a failing output is only as accurate as the next lower
precision, and whether its error looks like that precision's rounding at all.

A claim "your outputs are float32 but only float16-accurate" needs three things:

- the size: the error is within the lower dtype's budget (k x the reference's own error in that
  dtype + its floor), as for any faithful run in that dtype;
- the pattern: the error is spread over the output like rounding, element by element, not a
  structured difference. It is compared with the reference's own rounding error in the lower dtype,
  e = reference_lower - reference_float64: the port's typical error (median of |error|) and its
  large ones (90th percentile) are at most ``HIGH`` times those of e, its large ones at least ``LOW``
  times e's (a port that rounds only part of its computation to the lower dtype has less of its
  error, as measured on the self-test's precision bugs: 0.02 to 1.25 times), and as many of its
  elements differ as of e's (at least ``COVERAGE`` of that share). A logic bug whose error is of
  the size of float16's budget is several times e where it differs (2.3 to 11 times on the
  self-test's coordinate bugs); a difference confined to some elements, or one far below the lower
  dtype's rounding (an unstable float32 formula), fails too;
- no declaration against it: a port that declares a compute dtype higher than the claimed one
  (the adapter's ``compute_dtype``, ``--dtype``) is never told it computes lower.

The whole run then makes the claim only for most of its failing outputs (``claimed_outputs``).
"""

from __future__ import annotations

import numpy as np

LOWER = {"float64": "float32", "float32": "float16"}  # the precision one step down
RANK = {"float16": 0, "float32": 1, "float64": 2}
HIGH = 2.0  # the port's median and 90th-percentile |error| at most this many times the rounding's
LOW = 0.05  # and its 90th percentile at least this many times the rounding's
COVERAGE = 0.5  # at least this share of the elements the rounding changes must differ in the port


def declared_higher(declared, lower) -> bool:
    """Whether a declared compute dtype is higher than ``lower`` (then no claim of ``lower`` is made)."""
    return declared in RANK and lower in RANK and RANK[declared] > RANK[lower]


def rounding_pattern(port_error, rounding_error) -> bool:
    """Whether ``port_error`` (port - reference, elementwise) is spread like ``rounding_error`` (the
    reference in the lower dtype - the reference); see the module docstring."""
    port = np.abs(np.asarray(port_error, dtype=np.float64)).ravel()
    rounding = np.abs(np.asarray(rounding_error, dtype=np.float64)).ravel()
    if port.shape != rounding.shape or not port.size:
        return False
    changed = float(np.mean(rounding > 0))
    if changed == 0.0 or float(np.mean(port > 0)) < COVERAGE * changed:
        return False
    smallest = float(np.min(rounding[rounding > 0]))
    median, large = (max(float(np.quantile(rounding, q)), smallest) for q in (0.5, 0.9))
    ours_median, ours_large = (float(np.quantile(port, q)) for q in (0.5, 0.9))
    return ours_median <= HIGH * median and LOW * large <= ours_large <= HIGH * large


def claimed_outputs(records, failing, variants) -> list:
    """The failing outputs (keys of ``records``, Diagnosis records) the whole run's precision claim
    covers: those only as accurate as a lower precision, when they are most of the failing outputs;
    with them, the outputs that a variant rounding on purpose matches (``variants``: name -> Variant)
    and that pass the same test, where outputs of another kind (sparse, dense, grid) than those also
    fail only to rounding: the whole port rounds, not only that variant's stage."""
    precise = [key for key in failing if records[key].verdict == "precision"]
    rounding = [key for key in failing if _rounds(records[key], variants)]
    if not {output for _, output in precise} - {output for _, output in rounding}:
        rounding = []  # the rounding variants' own outputs: their stage rounds, not the whole port
    if 2 * (len(precise) + len(rounding)) <= len(failing):
        return []  # a precision claim needs most of the failing outputs behind it
    return precise + rounding


def _rounds(record, variants) -> bool:
    """Whether the output passes the precision test and its best match is a variant that rounds."""
    parts = record.matching[0].split("+") if record.verdict == "matches" and record.matching else []
    found = [variants.get(part) for part in parts]
    return bool(getattr(record, "precision", None) and found and all(v is not None and v.rounding for v in found))
