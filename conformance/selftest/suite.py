"""`samspec selftest`: the suite checks itself with two sets of bugs (docs/selftest.md).

1. **The catalogue.** Every variant of ``variants.CATALOGUE``, wrapped as a float32 port, is run
   through the same ``Checker`` as ``samspec check``, with the diagnosis on. A variant must fail
   (else the fixtures are too weak: add a case to ``conformance/cases/catalogue.py``) and the whole-run
   diagnosis must name the variant itself.
2. **Bugs outside the catalogue** (``novel_bugs.NOVEL``). The diagnosis has never heard of them:
   each must fail, no known variant may be named as explaining it, and the summary must lead with
   its spec section.

Both sets are scored on the words (``score.py``): caught, right first section, wrong names, false
precision claims. Targets: all caught, >= 90% right first section, 0 wrong names, 0 false
precision claims (``score.TARGETS``). The checks run without the trace, so the words judged are the
diagnosis's own; ``--trace`` also traces every failing case of the second set and adds where the
trace places each bug (a table the committed docs/selftest.md does not hold).

The faithful references (float32, float16) must pass everything. The result is the table in
docs/selftest.md, which CI regenerates and compares (``samspec selftest --check``). The table
holds counts and names only (no timings, versions or error values), so it is the same on every
machine.

Cost: the ports are checked case by case (every port on one case, then the next case), so each
variant's outputs on a case are computed once for all ports and only one case's arrays are alive;
the cases are split between worker processes (``--jobs``, default: the CPUs, at most 2 by default).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from samspec.reference import OUTPUT_KEYS

from ..diagnosis.diagnoser import REFERENCE, Diagnoser
from ..diagnosis.variants import CATALOGUE
from ..harness.check import Checker
from ..harness.progress import progress
from ..harness.stages import trace_summary, with_trace_summary
from ..profiles.profile import get_profile
from .novel_bugs import NOVEL
from .ports import SharedRunAdapter, TracedVariantAdapter
from .score import _top, judge_words, target_misses, totals, unexpected
from .table import render

CHUNKS = 3  # chunks of cases per worker process


def repository_table() -> Path:
    """The repository's docs/selftest.md (``--check`` compares with it)."""
    return Path(__file__).resolve().parents[2] / "docs" / "selftest.md"


# -- checking many ports, case by case ---------------------------------------------------------------------


def _limit_blas():
    """One BLAS thread per worker while it runs (restored on exit), where threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def check_cases(ports, cases, profile, cache=None, diagnose=True, bar=False, traced=()):
    """Check each port (name -> adapter) over ``cases``, case by case; the ports named in ``traced``
    trace every failing case (as a default check does for a few per section).

    Returns (results, records, scalars): per port its Result list and its diagnoser's records, and
    the diagnosers' scalar cache (each variant's distance from the reference on every case, so that
    the whole-run diagnosis can count contradictions without re-running the variants).
    """
    cache = cache if cache is not None else {}
    faithful = {}
    diagnosers = {name: Diagnoser(profile, cache=cache) if diagnose else None for name in ports}
    checkers = {name: Checker(adapter, profile, diagnose=diagnosers[name]) for name, adapter in ports.items()}
    for checker in checkers.values():
        checker._faithful_cache = faithful  # the same reference runs for every port
    for name in traced:
        checkers[name].trace, checkers[name].trace_limit = "failing", None
    results = {name: [] for name in ports}
    probe = next((d for d in diagnosers.values() if d is not None), None)
    for case in progress(cases, desc="samspec selftest", unit="case") if bar else cases:
        faithful.clear()  # one case's arrays at a time
        for name, checker in checkers.items():
            if isinstance(ports[name], SharedRunAdapter):
                ports[name].case = case
            results[name].extend(checker.run([case]))
        if probe is not None:  # every variant's distance from the reference (contradictions, reconcile)
            for variant in probe.variants:
                for key in probe.touches(case, variant):
                    probe.distance(case, variant, REFERENCE, key)
    records = {name: (d.records if d is not None else {}) for name, d in diagnosers.items()}
    return results, records, cache.get("scalars", {})


def _ports(variants, novel, with_faithful, diagnoser=None):
    from ..adapters.reference import ReferenceAdapter

    make = (lambda v: SharedRunAdapter(v, diagnoser)) if diagnoser is not None else TracedVariantAdapter
    ports = {("catalogue", v.name): make(v) for v in variants}
    ports.update({("novel", b.name): make(b) for b in novel})
    if with_faithful:
        ports.update({("faithful", dtype): ReferenceAdapter(dtype) for dtype in ("float32", "float16")})
    return ports


def _chunk(task, bar=False):
    """A worker's share: the given cases, every port (module-level so that a process pool can call it)."""
    case_ids, variant_names, novel_names, with_faithful, trace = task
    # grouped by configuration and parameters, so that the variants' encoders are reused case after case
    cases = sorted(
        (c for c in _WORKER["cases"] if c.id in case_ids),
        key=lambda c: (json.dumps(c.config, sort_keys=True, default=list), getattr(c, "params_variant", "")),
    )
    variants = [v for v in _WORKER["variants"] if v.name in variant_names]
    novel = [b for b in _WORKER["novel"] if b.name in novel_names]
    profile = get_profile("sam")
    cache = _WORKER.setdefault("cache", {})  # the encoders of a worker serve all its chunks
    cache["scalars"] = {}
    ports = _ports(variants, novel, with_faithful, Diagnoser(profile, cache=cache))
    traced = [("novel", b.name) for b in novel] if trace else []
    with _limit_blas():
        return check_cases(ports, cases, profile, cache, bar=bar, traced=traced)


_WORKER = {}


def _worker_init():
    """A worker process's allocator keeps freed memory for reuse (glibc ``mallopt``: no mmap for arrays
    below 32 MiB, no trimming), so that the seed cases' large arrays cost no page faults each time:
    about a sixth of the CPU time. Only in the self-test's own worker processes, which end with it."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, (1 << 31) - 1)  # M_TRIM_THRESHOLD
        libc.mallopt(-2, 256 << 20)  # M_TOP_PAD
    except (OSError, AttributeError):  # not glibc: the default allocator
        pass


def _split(cases, jobs):
    """Cases in ``jobs`` groups of about equal cost (the size of their expected outputs)."""
    # measured: about 0.35 s per case plus 1.7 us per expected value (the seed cases' 1M-value grids)
    cost = lambda c: sum(int(getattr(v, "size", 1)) for v in (getattr(c, "expected", None) or {}).values()) + 200_000
    groups = [[] for _ in range(jobs)]
    totals = [0] * jobs
    for case in sorted(cases, key=cost, reverse=True):
        i = totals.index(min(totals))
        groups[i].append(case.id)
        totals[i] += cost(case)
    return [g for g in groups if g]


def default_jobs() -> int:
    return max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def _run_chunks(cases, variants, novel, jobs, trace=False) -> list:
    """Each worker's (results, records, scalars) over its share of the cases (one share with one job)."""
    task = ({c.id for c in cases}, {v.name for v in variants}, {b.name for b in novel}, True, trace)
    _WORKER.update(cases=list(cases), variants=variants, novel=novel)
    groups = _split(cases, CHUNKS * jobs) if jobs > 1 else []
    try:
        if len(groups) <= 1:
            return [_chunk(task, bar=True)]
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init) as pool:
            futures = [pool.submit(_chunk, (set(g),) + task[1:]) for g in groups]
            done = progress(as_completed(futures), desc="samspec selftest", total=len(futures), unit="chunk")
            return [f.result() for f in done]  # a few chunks per worker: the faster takes more, the bar moves
    finally:
        _WORKER.clear()


def _merge(parts, cases):
    """The workers' parts as one (results, records, scalars), each port's results in case order."""
    order = {c.id: i for i, c in enumerate(cases)}
    results, records, scalars = {}, {}, {}
    for part_results, part_records, part_scalars in parts:
        for name, rows in part_results.items():
            results.setdefault(name, []).extend(rows)
        for name, found in part_records.items():
            records.setdefault(name, {}).update(found)
        scalars.update(part_scalars)
    for rows in results.values():
        rows.sort(key=lambda r: (order.get(r.case, 0), OUTPUT_KEYS.index(r.output) if r.output in OUTPUT_KEYS else 0))
    return results, records, scalars


def _catalogue_row(variant, results, overall, failing, cases) -> dict:
    named = overall["explained"][0]["variant"] if overall and overall["explained"] else None
    row = {
        "variant": variant.name,
        "section": variant.section,
        "group": variant.group,
        "cases_failed": len({r.case for r in failing}),
        "outputs_failed": len(failing),
        "outputs": len(results),
        "diagnosed_as": named,
        "itself": named == variant.name,
        "rows_naming_it": sum(
            1 for r in failing if r.diagnosis and variant.name in (r.diagnosis.get("variant") or "").split("+")
        ),
    }
    row.update(judge_words(overall, failing, variant, itself=variant.name))
    return row


def _novel_row(bug, overall, failing) -> dict:
    row = {
        "bug": bug.name,
        "section": bug.section,
        "group": bug.group,
        "what": bug.explanation,
        "cases_failed": len({r.case for r in failing}),
        "outputs_failed": len(failing),
        "named": [e["variant"] for e in overall["explained"]] if overall else [],
        "closest": [e["variant"] for e in overall["in_part"] + overall["partly"]] if overall else [],
        "localised_to": overall["section"] if overall else None,
        "localisation": (overall.get("localisation") or [""])[0] if overall else "",
    }
    row.update(judge_words(overall, failing, bug))
    traced = trace_summary(failing)
    if traced is not None:  # `--trace`: where the trace places the bug, and the summary a default check prints
        shown = judge_words(with_trace_summary(overall, failing), failing, bug)
        row.update(
            traced_section=traced["section"],
            trace_right=_top(traced["section"]) == _top(bug.section),
            first_with_trace=shown["first_section"],
            right_with_trace=shown["right_section"],
        )
    return row


def evaluate(cases, log=None, variants=None, novel=None, jobs=1, trace=False) -> dict:
    """Every variant (or those given), every bug outside the catalogue (or those given) and the
    faithful references, checked over ``cases``; ``jobs`` worker processes split the cases.
    ``trace``: the bugs outside the catalogue also trace every failing case, and each row says
    where the trace places the bug (``traced_section``, ``trace_right``)."""
    variants = list(CATALOGUE if variants is None else variants)
    novel = list(NOVEL if novel is None else novel)
    results, records, scalars = _merge(_run_chunks(cases, variants, novel, jobs, trace), cases)
    profile, cache = get_profile("sam"), {"scalars": scalars}

    def reconciled(key):
        return _reconcile(results[key], records[key], cases, profile, cache)

    catalogue_rows = [
        _catalogue_row(v, results[("catalogue", v.name)], *reconciled(("catalogue", v.name)), cases) for v in variants
    ]
    novel_rows = [_novel_row(b, *reconciled(("novel", b.name))) for b in novel]
    if log:
        for row in catalogue_rows + novel_rows:
            log(f"{row.get('variant') or row.get('bug')}: caught {row['caught']}, first section {row['first_section']}")
    faithful = [
        {
            "port": f"reference-f{dtype[5:]}",
            "outputs": sum(r.verdict != "n/a" for r in results[("faithful", dtype)]),
            "false_alarms": sum(r.verdict in ("fail", "error") for r in results[("faithful", dtype)]),
        }
        for dtype in ("float32", "float16")
    ]
    return {"rows": catalogue_rows, "novel": novel_rows, "faithful": faithful, "cases": len(cases)}


def check_ports(ports, cases, profile=None, cache=None) -> dict:
    """Check several ports (name -> adapter) over ``cases`` case by case, each with its own diagnosis;
    returns {name: (results, whole-run diagnosis)}. Cheaper than one ``Checker.run`` per port: each
    variant runs once per case for all ports, and only one case's arrays are alive."""
    profile = profile or get_profile("sam")
    cache = cache if cache is not None else {}
    results, records, _ = check_cases(ports, cases, profile, cache)
    return {name: (results[name], _reconcile(results[name], records[name], cases, profile, cache)[0]) for name in ports}


def _reconcile(results, records, cases, profile, cache):
    diagnoser = Diagnoser(profile, cache=cache)
    diagnoser.records.update(records)
    failing = [r for r in results if r.verdict in ("fail", "error")]
    return diagnoser.reconcile(results, cases), failing


# -- the table -------------------------------------------------------------------------------------------


def novel_totals(evaluation) -> dict:
    """The second set's counts (``score.totals``)."""
    return totals(evaluation.get("novel", []))


def problems_of(evaluation) -> list:
    problems = []
    for r in evaluation["rows"]:
        if not r["caught"]:
            problems.append(
                f"variant {r['variant']} passes samspec check: extend the fixtures (conformance/cases/catalogue.py)"
            )
        elif not r["itself"]:
            problems.append(f"variant {r['variant']} is diagnosed as {r['diagnosed_as']}")
    for r in evaluation.get("novel", []):
        if not r["caught"]:
            problems.append(f"bug {r['bug']} (outside the catalogue) passes samspec check: extend the fixtures")
        else:
            problems += unexpected(r["bug"], r)
    for r in evaluation["rows"]:
        if r["caught"] and r["itself"]:
            problems += unexpected(r["variant"], r, known={})
    for f in evaluation["faithful"]:
        if f["false_alarms"]:
            problems.append(f"faithful port {f['port']} fails {f['false_alarms']} outputs")
    return problems


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of worker processes; received {text!r}")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("--out", metavar="FILE.md", help="write the table there (default: write nothing)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write: fail if the repository's docs/selftest.md (or --out) differs from a fresh run",
    )
    parser.add_argument("--fixtures", metavar="DIR", help="a fixture folder (default: the shipped fixtures)")
    parser.add_argument(
        "--jobs",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes over the cases (default: the CPUs, at most 2)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="also trace every failing case of the bugs outside the catalogue and show where the trace places "
        "each (a table docs/selftest.md does not hold: not with --check)",
    )
    parser.add_argument("--quiet", action="store_true")


def run(args) -> int:
    from ..cases.store import load_cases

    started = time.perf_counter()
    cases = load_cases(getattr(args, "fixtures", None))
    quiet = getattr(args, "quiet", False)
    jobs = getattr(args, "jobs", None) or default_jobs()
    trace = getattr(args, "trace", False)
    if trace and getattr(args, "check", False):
        print(
            "samspec selftest: --trace adds a table docs/selftest.md does not hold; not with --check", file=sys.stderr
        )
        return 2
    evaluation = evaluate(cases, log=None, jobs=jobs, trace=trace)
    text = render(evaluation)
    out = Path(args.out) if getattr(args, "out", None) else None
    status = 0
    if getattr(args, "check", False):
        target = out or repository_table()
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != text:
            print(
                f"samspec selftest: {target} is out of date; run `samspec selftest --out {target}` and commit it",
                file=sys.stderr,
            )
            status = 1
    elif out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = out.with_name(out.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, out)
        if not quiet:
            print(f"wrote {out}")
    rows, c, t = evaluation["rows"], totals(evaluation["rows"]), novel_totals(evaluation)
    print(
        f"{c['caught']} of {c['bugs']} variants caught, {sum(r['itself'] for r in rows)} diagnosed as themselves, "
        f"{c['right']} with the right first section, {c['wrong_names']} wrong names, "
        f"{c['false_precision']} false precision claims"
    )
    print(
        f"{t['caught']} of {t['bugs']} bugs outside the catalogue caught, {t['right']} localised to the right section, "
        f"{t['wrong_names']} wrong names, {t['false_precision']} false precision claims"
    )
    if not quiet:
        print(f"({len(cases)} cases, {jobs} job(s), {time.perf_counter() - started:.1f} s)")
    for miss in target_misses("catalogue", totals(rows)) + target_misses("outside the catalogue", t):
        print(f"target missed: {miss}")
    for problem in problems_of(evaluation):
        print(f"SELFTEST: {problem}", file=sys.stderr)
        status = 1
    return status
