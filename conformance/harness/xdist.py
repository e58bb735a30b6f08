"""The whole run's diagnosis under pytest-xdist, reasoned once over every worker's results.

Each worker hands its results to the controller as plain JSON (``worker_payload``); the controller, which
runs no port, loads the same fixture cases and, for a built-in profile (data, never a port's or a user's
module), reconciles all results with one diagnoser (``whole_run_summary``): the summary a single-process
run prints, printed once. Where it cannot (a user profile, no diagnosis), it says nothing and the caller
falls back to each worker's own summary.
"""

from __future__ import annotations

import dataclasses
import json


def worker_payload(results, profile_spec, diagnoser=None) -> dict:
    """What a worker sends: its results and its diagnoser's record of each failing output, as JSON text
    (NumPy scalars made plain), and its profile's spec."""
    from ..reports.document import _strict

    rows = _strict([dataclasses.asdict(r) for r in results], "$", [])
    records = getattr(diagnoser, "records", {})
    kept = [
        [case, output, records[case, output].as_dict()]
        for case, output in {(r.case, r.output) for r in results}
        if (case, output) in records
    ]
    return {
        "results": json.dumps(rows),
        "records": json.dumps(_strict(kept, "$", [])),
        "profile": _builtin_name(profile_spec),
    }


def _builtin_name(profile) -> str | None:
    """The name of the built-in profile ``profile`` is: given by name, or as the data a port's worker sent
    back that equals that built-in profile's data; None for any other profile."""
    from ..profiles.profile import PROFILES
    from .isolation.conversion import profile_data

    if isinstance(profile, str):
        return profile
    name = getattr(profile, "name", None)
    if name in PROFILES and profile_data(profile) == profile_data(PROFILES[name]):
        return name
    return None


def whole_run_summary(settings, payloads) -> str:
    """The overall diagnosis of every worker's results together; "" where it cannot be made here."""
    from ..diagnosis.diagnoser import make_diagnoser
    from ..diagnosis.records import Diagnosis
    from ..profiles.profile import PROFILES
    from .check import Result, final_diagnosis
    from .session import CheckSession

    specs = {p.get("profile") for p in payloads}
    if settings.no_diagnosis or len(specs) != 1 or next(iter(specs)) not in PROFILES:
        return ""
    names = {field.name for field in dataclasses.fields(Result)}
    results = [
        Result(**{k: v for k, v in row.items() if k in names}) for p in payloads for row in json.loads(p["results"])
    ]
    if not results:
        return ""
    cases, _ = CheckSession(settings, "plugin").load_cases()
    ran = {r.case for r in results}
    diagnoser = make_diagnoser(PROFILES[next(iter(specs))], k=settings.k)
    for payload in payloads:
        for case, output, record in json.loads(payload.get("records") or "[]"):
            diagnoser.records[case, output] = Diagnosis.from_dict(record)
    overall = final_diagnosis(diagnoser, results, [c for c in cases if c.id in ran])
    return (overall or {}).get("summary") or ""
