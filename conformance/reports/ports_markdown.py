"""The ports table's Markdown, section by section: the summary, the applicability coverage, the
divergences and one section per (port, profile) run. Numbers are printed to two significant
digits and nothing depends on the time or the machine."""

from __future__ import annotations

from samspec.reference import OUTPUT_KEYS
from samspec.reference import SHORT_NAMES as SHORT

from ..profiles.profile import PROFILES
from .applicability import COVERED_SECTIONS, uncovered


def two_digits(value) -> str:
    """Two significant digits, trailing zeros kept: 2.0, 0.46, 3.1e-06."""
    return "-" if value is None else f"{value:#.2g}"


def _difference(result) -> str:
    """How an output differs, in words that do not depend on the machine."""
    if result.verdict == "error":
        exception = result.message.split("adapter run failed: ", 1)[-1].split(":", 1)[0]
        return f"error ({exception})"
    if result.error is not None:
        return f"max abs err {two_digits(result.error)}"
    return result.message.split(";")[0]


def _cell(result, details) -> str:
    if result.verdict in ("pass", "xpass"):
        return "pass"
    if result.verdict == "n/a":
        return "n/a"
    return details.get((result.case, result.output)) or _difference(result)


def _by_case(results) -> dict:
    table = {}
    for r in results:
        table.setdefault(r.case, {})[r.output] = r
    return table


def summary_lines(runs) -> list:
    lines = [
        "## Summary",
        "",
        "| port | profile | pass | fail | error | n/a | verdict |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        c = run.counts
        lines.append(
            f"| {run.port} | `{run.profile.name}` | {c.get('pass', 0)} | {c.get('fail', 0)} | {c.get('error', 0)} "
            f"| {c.get('n/a', 0)} | {run.verdict()} |"
        )
    return lines


def coverage_lines(covered: dict, n_cases: int) -> list:
    lines = [
        "",
        "## Applicability coverage",
        "",
        "Per built-in profile, the cases that run under it (the reference computes them under the profile's "
        "semantics and no excluded divergence is exercised), and how many of them cite each section of "
        "docs/spec.md §3–§10 (a subsection counts for its section). Target: no 0.",
        "",
        "| profile | semantics | cases | " + " | ".join(f"§{s}" for s in COVERED_SECTIONS) + " |",
        "|---|---|---:|" + "---:|" * len(COVERED_SECTIONS),
    ]
    for name, row in covered.items():
        cells = [str(row[s]) if row[s] else "**0**" for s in COVERED_SECTIONS]
        lines.append(
            f"| `{name}` | `{PROFILES[name].semantics if name in PROFILES else '?'}` | "
            f"{row['cases']} of {n_cases} | " + " | ".join(cells) + " |"
        )
    gaps = uncovered(covered)
    lines += [
        "",
        "Every profile runs at least one case of every section."
        if not gaps
        else "Sections with no applicable case: " + ", ".join(f"`{p}` §{s}" for p, s in gaps) + ".",
    ]
    return lines


def _profiles_where(runs, name, attribute) -> str:
    """The profiles of ``runs`` whose ``attribute`` (converted, computed, excluded, exposed) holds ``name``."""
    names = []
    for run in runs:
        if name in getattr(run.profile, attribute) and f"`{run.profile.name}`" not in names:
            names.append(f"`{run.profile.name}`")
    return ", ".join(names) or "-"


def divergence_lines(runs) -> list:
    used, owner = [], {}
    for run in runs:
        for name in run.profile.known:
            if name not in used:
                used.append(name)
                owner[name] = run.profile
    lines = [
        "",
        "## Divergences",
        "",
        "| divergence | behaviour | converted by | computed under | n/a under | fails under |",
        "|---|---|---|---|---|---|",
    ]
    for name in used:
        where = [_profiles_where(runs, name, a) for a in ("converted", "computed", "excluded", "exposed")]
        lines.append(f"| `{name}` | {owner[name].divergence(name).summary} | " + " | ".join(where) + " |")
    return lines


def _not_applicable(run) -> dict:
    """reason -> the cases not applicable under the run's profile for it."""
    na = {}
    for r in run.results:
        if r.verdict == "n/a":
            if "(semantics " in r.message:  # the reference refuses the inputs under the profile's semantics
                reason = f"refused under semantics {run.profile.semantics!r}"
            elif r.message.endswith(")"):
                reason = r.message.rsplit("(", 1)[-1].rstrip(")")
            else:
                reason = r.message
            na.setdefault(reason, set()).add(r.case)
    return na


def _case_row(run, case_id, outputs) -> str:
    cells = [_cell(outputs[k], run.details) if k in outputs else "-" for k in OUTPUT_KEYS]
    why = []
    for key in OUTPUT_KEYS:
        for name in run.predicted.get((case_id, key), []):
            if f"`{name}`" not in why:
                why.append(f"`{name}`")
    unexplained = {(r.case, r.output) for r in run.unexplained()}
    unobserved = {(r.case, r.output) for r in run.predicted_but_passing()}
    marks = [f"UNEXPLAINED {SHORT[k]}" for k in OUTPUT_KEYS if (case_id, k) in unexplained] + [
        f"PREDICTED BUT AGREES {SHORT[k]}" for k in OUTPUT_KEYS if (case_id, k) in unobserved
    ]
    return f"| {case_id} | " + " | ".join(cells) + " | " + ", ".join(why + marks) + " |"


def run_lines(run) -> list:
    """One (port, profile) run: its verdict, what the profile converts and computes, the cases not
    applicable, and a row for every case where an output differs or is predicted to."""
    profile = run.profile
    lines = ["", f"### `{run.port}` under `{profile.name}`: {run.verdict()}", "", profile.description, ""]
    if profile.converted:
        lines.append("Converted: " + ", ".join(f"`{d}`" for d in profile.converted) + ".")
    if profile.computed:
        lines.append(
            f"Computed by the reference under semantics `{profile.semantics}`: "
            + ", ".join(f"`{d}`" for d in profile.computed)
            + "."
        )
    na = _not_applicable(run)
    for reason, case_ids in na.items():
        lines.append(f"Not applicable (`{reason}`): {len(case_ids)} cases: {', '.join(sorted(case_ids))}.")
    rows = [
        (case_id, outputs)
        for case_id, outputs in _by_case(run.results).items()
        if any(r.verdict in ("fail", "error") for r in outputs.values())
        or any(run.predicted.get((case_id, k)) for k in outputs)
    ]
    if not rows:
        if not profile.converted and not profile.computed and not na:
            lines.append("Nothing is converted.")
        return lines
    lines += ["", "| case | sparse | dense | dense_pe | why (divergences exercised) |", "|---|---|---|---|---|"]
    lines += [_case_row(run, case_id, outputs) for case_id, outputs in rows]
    if not run.unexplained() and not run.predicted_but_passing():
        lines += [
            "",
            f"All {len(run.differing())} differing outputs are predicted by the exposed divergences, and every "
            "predicted output differs (where the number of tokens differs, the tokens both have agree exactly when "
            "only `no_padding_point` is predicted).",
        ]
    return lines
