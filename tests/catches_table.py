"""The table "What it catches" of docs/tolerances.md: how many outputs of the fixture catalogue each
deliberately broken copy of Meta's PromptEncoder (tests/meta_bugs.py, float32) fails under
`samspec check`'s default tolerance (k = 4, no diagnosis).

    python tests/catches_table.py      # prints the table (needs torch and segment-anything)

tests/test_generated_docs.py regenerates it and compares it with the copy in docs/tolerances.md.
"""

from __future__ import annotations

import warnings

# row of the table -> the broken port of tests/meta_bugs.py it measures
ROWS = {
    "no +0.5 pixel-centre shift": "NoShift",
    "tanh-approximate GELU in the mask path": "TanhGELU",
    "LayerNorm eps 1e-5 instead of 1e-6": "Eps1e5",
    "square normalisation (x/S, y/S)": "Square",
    "x and y normalisation swapped": "SwapXY",
    "no padding point": "NoPad",
    "foreground / background swapped": "FgBg",
    "unbiased variance in LayerNorm": "Unbiased",
    "grid without the half-cell offset": "GridCorners",
    "positional encoding in float16": "HalfWholePE",
    "cos before sin": "CosSin",
    "box corners swapped": "BoxCornersSwapped",
    "labels 2/3 given the foreground embedding": "Labels23",
}
FEW = 2  # at most this many failing cases: name them


def failing(cases) -> dict:
    """row -> (failing outputs, failing case ids, outputs checked) of its broken port over ``cases``."""
    import meta_bugs

    from samspec.conformance.harness.check import Checker
    from samspec.conformance.profiles.profile import get_profile

    counts = {}
    for row, name in ROWS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's var() of one channel
            results = Checker(meta_bugs.BUGS[name][0](), get_profile("sam")).run(cases)
        bad = [r for r in results if r.verdict in ("fail", "error")]
        counts[row] = (len(bad), sorted({r.case for r in bad}), len(results))
    return counts


def table(cases) -> str:
    counts = failing(cases)
    outputs = {total for _, _, total in counts.values()}
    if len(outputs) != 1:
        raise ValueError(f"every broken port should check the same outputs; checked {sorted(outputs)}")
    lines = [f"| bug | failing outputs (of {outputs.pop()}) |", "|---|---|"]
    for row, (n, case_ids, _) in counts.items():
        where = f" (caught by {', '.join(f'`{c}`' for c in case_ids)})" if 0 < len(case_ids) <= FEW else ""
        lines.append(f"| {row} | {n}{where} |")
    return "\n".join(lines)


if __name__ == "__main__":
    from samspec.conformance.cases.store import load_cases

    print(table(load_cases(strict=True)))
