"""How much judging an output in a lower dtype widens its budget: `samspec report dtypes`.

For every fixture case and output, the tolerance model's budget (docs/tolerances.md) when the output
is judged as float16 divided by its budget when judged as float32. This is why a port must declare the
dtype it computes in: casting float32 outputs to float16 would widen the budget by this factor.
"""

from __future__ import annotations

import statistics

import numpy as np

from samspec.reference import OUTPUT_KEYS
from samspec.reference import SHORT_NAMES as SHORT

from ..harness.check import _faithful, expected_outputs
from ..harness.tolerance import DEFAULT_K, FLOORS


def budget(case, key, dtype, cache, k=DEFAULT_K) -> float:
    """The budget of output ``key`` of ``case`` judged in ``dtype``: k · faithful error + floor · scale."""
    expected = np.asarray(expected_outputs(case)[key], dtype=np.float64)
    if expected.size == 0:
        return 0.0
    faithful = max(
        float(np.max(np.abs(np.asarray(run, dtype=np.float64) - expected)))
        for run in _faithful(case, dtype, cache)[key]
    )
    return k * faithful + FLOORS[dtype] * max(1.0, float(np.max(np.abs(expected))))


def widening(cases, low="float16", high="float32") -> dict:
    """{short output name: [budget in ``low`` / budget in ``high``, one per case with a non-empty output]},
    over the cases the `sam` conventions accept."""
    cache, ratios = {}, {SHORT[key]: [] for key in OUTPUT_KEYS}
    for case in cases:
        try:
            expected_outputs(case)
        except ValueError:  # a case the `sam` conventions refuse (n/a): it has no budget
            continue
        for key in OUTPUT_KEYS:
            wide, narrow = budget(case, key, low, cache), budget(case, key, high, cache)
            if narrow > 0:
                ratios[SHORT[key]].append(wide / narrow)
    return ratios


def render(ratios, low="float16", high="float32") -> str:
    """The Markdown table docs/tolerances.md shows."""
    lines = [
        f"| output | cases | budget in {low} / budget in {high}: smallest | median | largest |",
        "|---|---|---|---|---|",
    ]
    for name, values in ratios.items():
        if values:
            lines.append(
                f"| {name} | {len(values)} | {min(values):,.0f}× | {statistics.median(values):,.0f}× | "
                f"{max(values):,.0f}× |"
            )
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("--fixtures", metavar="DIR", help="a fixture folder (default: the shipped one)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from ..cases.store import load_cases

    print(render(widening(load_cases(args.fixtures))))
    return 0
