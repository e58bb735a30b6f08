"""Score samspec's diagnosis on the held-out buggy ports (``bugs.py``), run the way a user runs them.

Each port is checked twice, in a subprocess, with the command a user types:
``samspec check MODULE:CLASS --profile P --report r.json`` (a default check: the adapter runs in
samspec's worker process and a few failing cases are traced), and the same with ``--no-trace``
(and ``--no-diagnosis``: only its verdicts are compared; the words are judged on the default run).
The second run is made only where the first traced something (a port without ``trace()`` was
already checked without tracing).
Per port: caught (an output fails or errors), the summary's first section
(``selftest.score.first_section``) and whether it is right (``judge_words``: its top-level section is
one of the bug's, or the dtype clause for a real precision bug), the known variants named that are
not the bug's, a false precision claim (made about a port whose bug rounds nothing), a missed one
(not made about a port whose bug does round), and whether the verdicts are identical with and
without tracing. A faithful port is right when every output passes.

    python -m tests.port_bugs.score [--out TABLE.md] [--json ROWS.json] [--only REGEX] [--jobs 2]
    python -m tests.port_bugs.score --rows ROWS.json [MORE.json ...] --out TABLE.md   # render saved rows

At most two ports run at a time (the machine's cores are shared).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

from samspec.conformance.selftest.score import first_section, judge_words

from .bugs import BUGS

ROOT = Path(__file__).resolve().parents[2]
FAILING = ("fail", "error")
MAX_JOBS = 2
TIMEOUT_S = 1800


def samspec_command() -> list:
    """The `samspec` console script beside this interpreter (what a user types), else ``-c main()``."""
    script = Path(sys.executable).with_name("samspec")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from samspec.conformance.cli import main; sys.exit(main())"]


def run_check(bug, trace: bool, folder: Path) -> dict:
    """One `samspec check` of ``bug``'s port; its exit code, JSON report, printed summary and time."""
    report = folder / f"{bug.name}.{'trace' if trace else 'notrace'}.json"
    command = [*samspec_command(), "check", bug.port, "--profile", bug.profile, "--report", str(report), "-q"]
    command += [] if trace else ["--no-trace", "--no-diagnosis"]  # verdicts only: the words are judged traced
    command += list(bug.extra_args)
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    loaded = json.loads(report.read_text(encoding="utf-8")) if report.exists() else None
    return {
        "rc": done.returncode,
        "report": loaded,
        "stdout": done.stdout,
        "stderr": done.stderr[-4000:],
        "seconds": time.monotonic() - started,
    }


def summary_lines(stdout: str) -> list:
    """The whole-run summary as printed: the `diagnosis:` block (with its continuation lines) and `trace:`."""
    lines, inside = [], False
    for line in stdout.splitlines():
        if line.startswith(("diagnosis:", "trace:")):
            inside = True
        elif inside and not line.startswith(" "):
            inside = False
        if inside:
            lines.append(line.rstrip())
    return lines


def verdicts(report) -> dict:
    return {r["id"]: r["verdict"] for r in (report or {}).get("results", [])}


def judge(bug, run: dict) -> dict:
    """The scores of one port's default run (see the module docstring)."""
    report = run["report"] or {}
    results = report.get("results", [])
    failing = [r for r in results if r["verdict"] in FAILING]
    overall = report.get("diagnosis")
    row = {
        "caught": bool(failing) or run["rc"] != 0,
        "outputs_failed": len(failing),
        "first_section": first_section(overall),
        "section": (overall or {}).get("section"),
    }
    named = [e["variant"] for e in overall.get("explained", [])] if overall else []
    row["named"] = named
    row["closest"] = [e["variant"] for e in overall.get("in_part", []) + overall.get("partly", [])] if overall else []
    row["wrong_names"] = [n for n in named if n not in bug.names]
    claimed = bool(overall and overall.get("precision"))
    row["precision_claim"] = claimed
    row["false_precision"] = claimed and not bug.precision
    row["missed_precision"] = bug.precision and not claimed
    words = [judge_words(overall, failing, SimpleNamespace(section=s, rounding=bug.precision)) for s in bug.sections]
    row["right_section"] = any(w["right_section"] for w in words)
    return row


def misses(bug, row) -> set:
    """What samspec gets wrong on this port: a subset of {caught, false_alarm, section, name,
    precision, trace} (``missed_precision`` is reported, not counted: issue 23 does not require it)."""
    if bug.faithful:
        return {"false_alarm"} if row["caught"] else set()
    found = set()
    if not row["caught"]:
        found.add("caught")
    if row["caught"] and not row["right_section"]:
        found.add("section")
    if row["wrong_names"]:
        found.add("name")
    if row["false_precision"]:
        found.add("precision")
    if not row["same_verdicts"]:
        found.add("trace")
    return found


def traced_any(report) -> bool:
    """Whether a run traced anything: a whole-run trace line or a traced result (a failed trace counts)."""
    if not report:
        return True  # no report to tell: assume it may have, and run the comparison
    return bool((report.get("diagnosis") or {}).get("trace")) or any(r.get("trace") for r in report["results"])


def score_bug(bug, folder: Path) -> dict:
    traced = run_check(bug, True, folder)
    # Tracing can change verdicts only where it ran: a port without trace(), or a run with nothing to
    # trace, was already a run without tracing, and a second one would compare a run with itself.
    untraced = run_check(bug, False, folder) if traced_any(traced["report"]) else {**traced, "seconds": 0.0}
    row = {"bug": bug.name, **judge(bug, traced), "traced": traced_any(traced["report"])}
    first, second = verdicts(traced["report"]), verdicts(untraced["report"])
    row["same_verdicts"] = bool(first) and first == second and traced["rc"] == untraced["rc"]
    row["verdict_differences"] = sorted(k for k in set(first) | set(second) if first.get(k) != second.get(k))[:10]
    row["outputs_failed_no_trace"] = sum(v in FAILING for v in second.values())
    row["rc"], row["rc_no_trace"] = traced["rc"], untraced["rc"]
    row["lines"] = summary_lines(traced["stdout"])
    row["error"] = traced["report"]["error"] if traced["report"] else traced["stderr"][-2000:]
    row["seconds"] = round(traced["seconds"] + untraced["seconds"], 1)
    row["misses"] = sorted(misses(bug, row))
    return row


def score(bugs, jobs: int = MAX_JOBS, log=print) -> list:
    """Score every bug, at most ``jobs`` (≤ 2) at a time; rows in the order of ``bugs``."""
    jobs = max(1, min(MAX_JOBS, jobs))
    with tempfile.TemporaryDirectory(prefix="port-bugs-") as tmp, ThreadPoolExecutor(jobs) as pool:
        futures = {bug.name: pool.submit(score_bug, bug, Path(tmp)) for bug in bugs}
        rows = []
        for bug in bugs:
            row = futures[bug.name].result()
            log(f"{bug.name}: {', '.join(row['misses']) or 'right'} ({row['seconds']} s)")
            rows.append(row)
    return rows


def totals(bugs, rows) -> dict:
    pairs = [(b, r) for b, r in zip(bugs, rows) if not b.faithful]
    faithful = [r for b, r in zip(bugs, rows) if b.faithful]
    return {
        "bugs": len(pairs),
        "caught": sum(r["caught"] for _, r in pairs),
        "right": sum(r["caught"] and r["right_section"] for _, r in pairs),
        "wrong_names": sum(bool(r["wrong_names"]) for _, r in pairs),
        "false_precision": sum(r["false_precision"] for _, r in pairs),
        "missed_precision": sum(r["missed_precision"] for _, r in pairs),
        "precision_bugs": sum(b.precision for b, _ in pairs),
        "same_verdicts": sum(r["same_verdicts"] for _, r in pairs),
        "faithful": len(faithful),
        "false_alarms": sum(r["caught"] for r in faithful),
    }


def _cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    return str(value).replace("|", "\\|")


def markdown(bugs, rows) -> str:
    t = totals(bugs, rows)
    out = [
        "| port | profile | kind | bug's § | caught | first § | right | wrong names | precision claim | "
        "same verdicts ±trace | failing (trace / no trace) | misses |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for bug, row in zip(bugs, rows):
        claim = "-"
        if row["precision_claim"]:
            claim = "yes" if bug.precision else "**false**"
        elif bug.precision:
            claim = "missed"
        section = "faithful" if bug.faithful else " ".join(bug.sections)
        caught = ("**fails**" if row["caught"] else "passes") if bug.faithful else _cell(row["caught"])
        same = _cell(row["same_verdicts"]) if row.get("traced", True) else "no trace ran"
        out.append(
            f"| `{bug.name}` | {bug.profile} | {bug.kind or '-'} | {section} | {caught} | "
            f"{row['first_section'] or '-'} | {_cell(row['right_section']) if not bug.faithful else '-'} | "
            f"{', '.join(row['wrong_names']) or '-'} | {claim} | {same} | "
            f"{row['outputs_failed']} / {row['outputs_failed_no_trace']} | {', '.join(row['misses']) or '-'} |"
        )
    head = (
        f"**{t['caught']} of {t['bugs']} caught; {t['right']} of {t['bugs']} right first section "
        f"({t['right'] / max(t['bugs'], 1):.0%}); {t['wrong_names']} with wrong names; {t['false_precision']} false "
        f"precision claims; {t['missed_precision']} of {t['precision_bugs']} precision bugs without the claim; "
        f"{t['same_verdicts']} of {t['bugs']} identical verdicts with and without tracing; "
        f"{t['false_alarms']} false alarms on {t['faithful']} faithful ports.**"
    )
    return "\n".join([head, "", *out, ""])


def miss_details(bugs, rows) -> str:
    """For every port with a miss: what samspec printed (the summary) and what is wrong with it."""
    out = []
    for bug, row in zip(bugs, rows):
        if not row["misses"]:
            continue
        out += [f"### `{bug.name}` ({bug.port}, profile {bug.profile}): {', '.join(row['misses'])}", ""]
        out.append(f"The bug: {bug.what} (expected {' or '.join(bug.sections) or 'a pass'}; kind {bug.kind}).")
        out += ["", "```", *(row["lines"] or ["(no summary printed)"]), "```", ""]
        if "caught" in row["misses"]:
            out.append("Not caught: every output passes.")
        if "section" in row["misses"]:
            out.append(f"The summary leads with {row['first_section']}, not {' or '.join(bug.sections)}.")
        if "name" in row["misses"]:
            out.append(f"Names {', '.join(row['wrong_names'])}, which is not this port's bug.")
        if "precision" in row["misses"]:
            out.append("Claims a precision problem (§11.3) about a port that rounds nothing.")
        if "trace" in row["misses"]:
            out.append(f"Verdicts differ with and without tracing: {row['verdict_differences']}.")
        if "false_alarm" in row["misses"]:
            out.append(f"A faithful port fails {row['outputs_failed']} outputs. {row['error'] or ''}")
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.port_bugs.score", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="write the markdown table (and the misses) here")
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument("--only", help="only ports whose name matches this regex")
    parser.add_argument("--jobs", type=int, default=MAX_JOBS, help="ports checked at once (at most 2)")
    parser.add_argument("--rows", nargs="+", metavar="ROWS.json", help="run nothing: render rows saved by --json")
    args = parser.parse_args(argv)
    bugs = [b for b in BUGS if not args.only or re.search(args.only, b.name)]
    if args.rows:
        saved = {row["bug"]: row for path in args.rows for row in json.loads(Path(path).read_text(encoding="utf-8"))}
        bugs = [b for b in bugs if b.name in saved]
        rows = [saved[b.name] for b in bugs]
    else:
        rows = score(bugs, args.jobs, log=lambda line: print(line, flush=True))
    text = markdown(bugs, rows) + "\n" + miss_details(bugs, rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
