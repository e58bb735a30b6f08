"""Pairs of variants worth trying when no single variant matches an output (a port with two bugs):
each variant that removes at least half of the error with every other one whose own change is of
the size of what is left; the few variants that reduce the error most, and those that matched
earlier outputs of the run, with each other; and, for a shape mismatch (the reference error is
infinite), the variants that change the shape, with every other one."""

from __future__ import annotations

import math

from .runs import REFERENCE

PAIR = 0.5  # a variant must remove at least half of the error to be named as closest, or tried in pairs


def _firsts(runs, case, output_key, by_error, reference_error):
    """The variants that start a pair, and the partners each is tried with."""
    yardstick = reference_error if math.isfinite(reference_error) else math.inf
    firsts = [s.variant for s in by_error if s.error <= PAIR * yardstick][:2]
    partners = runs.variants
    if math.isinf(reference_error) and not firsts:  # a shape mismatch that no single variant gives:
        # only two shape-changing variants together can give a third shape
        partners = [
            v
            for v in runs.variants
            if output_key in runs.touches(case, v) and math.isinf(runs.distance(case, v, REFERENCE, output_key))
        ]
        firsts = partners[:3]
    return firsts, partners


def pair_candidates(runs, case, output_key, scored, reference_error, suspects):
    """The composed pairs to score (see the module docstring); ``scored``: the single variants' Scores."""
    singles = [s for s in scored if "+" not in s.name]
    by_error = sorted(singles, key=lambda s: (s.error, s.order))
    firsts, partners = _firsts(runs, case, output_key, by_error, reference_error)
    left = {s.name: s.error for s in singles}
    among = [s.variant for s in by_error if s.error <= 0.9 * reference_error][:3]  # each removes a tenth at least
    among += [
        runs.by_name[n]
        for n in suspects
        if n in runs.by_name and runs.by_name[n] not in among and left.get(n, math.inf) < reference_error
    ][:3]
    pairs = []
    for first in firsts:
        for other in partners:
            if other is first or output_key not in runs.touches(case, other):
                continue
            # what ``other`` changes must be of the size of what ``first`` leaves (an upper bound
            # when the two change different stages): 1/2 to 2 times, or any size for a shape mismatch
            change = runs.distance(case, other, REFERENCE, output_key)
            rest = left.get(first.name, math.inf)
            if change == 0.0 or not (math.isinf(rest) or math.isinf(change) or rest / 2 <= change <= 2 * rest):
                continue
            pairs.append((first, other))
    for i, a in enumerate(among):
        for b in among[i + 1 :]:
            pairs.append((a, b))
    out, seen = [], set()
    for a, b in pairs:
        combined = runs.compose(a, b)
        if combined is not None and combined.name not in seen:
            seen.add(combined.name)
            out.append(combined)
    return out
