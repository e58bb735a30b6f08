"""The whole-suite budgets (issue "Performance", item 4): `samspec check segment-anything` and
`samspec fixtures generate`, each timed as a subprocess pinned to two cores, against 60 s."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time

SUITE_BUDGET_S = 60.0


def suite_budgets(timeout_s: float = 900.0, cores: int = 2) -> list:
    """Time `samspec check segment-anything` and `samspec fixtures generate --out TMPDIR` as
    subprocesses pinned to ``cores`` cores, against a budget of 60 s each.

    A row is 'not available' when the module behind the command is missing
    (samspec.conformance.harness.check / samspec.conformance.cases.store) or the command exits with 2 as an
    unknown command or usage error."""
    print(f"\nwhole-suite budgets ({SUITE_BUDGET_S:g} s each, on {cores} cores):")
    with tempfile.TemporaryDirectory() as tmp:
        commands = [
            ("samspec check segment-anything", "samspec.conformance.harness.check", ["check", "segment-anything"]),
            (
                "samspec fixtures generate",
                "samspec.conformance.cases.store",
                ["fixtures", "generate", "--out", os.path.join(tmp, "fixtures")],
            ),
        ]
        return [time_command(label, module, argv, timeout_s, cores) for label, module, argv in commands]


def time_command(label: str, module: str, argv: list, timeout_s: float, cores: int) -> dict:
    """One row of the whole-suite budgets: `samspec ARGV` timed on ``cores`` cores, printed and returned."""
    row = {"command": label, "budget_s": SUITE_BUDGET_S}
    if importlib.util.find_spec(module) is None:
        row.update(available=False, note=f"not available: {module} does not exist yet")
        print(f"  {label:<34} not available ({module} does not exist yet)")
        return row
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pinned = usable[:cores]
    start = time.perf_counter()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "samspec.conformance.cli", *argv],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            preexec_fn=(lambda: os.sched_setaffinity(0, pinned)) if pinned else None,
        )
    except subprocess.TimeoutExpired:
        row.update(available=True, seconds=timeout_s, exit_code=None, within=False, note="timed out")
        print(f"  {label:<34} timed out after {timeout_s:g} s")
        return row
    seconds = time.perf_counter() - start
    last = (completed.stderr.strip().splitlines() or [""])[-1]
    if completed.returncode == 2:
        row.update(available=False, exit_code=2, note=f"not available: {last}")
        print(f"  {label:<34} not available (exit 2: {last})")
        return row
    within = seconds < SUITE_BUDGET_S
    row.update(
        available=True, seconds=seconds, exit_code=completed.returncode, within=within, cores=len(pinned) or None
    )
    print(f"  {label:<34} {seconds:7.1f} s  exit {completed.returncode}  {'within' if within else 'OVER'} budget")
    return row
