"""Stage localisation: compare a port's intermediate values with the reference's, stage by stage
(`samspec check --trace`, docs/diagnosis.md).

An adapter may implement ``trace(points, labels, boxes, masks) -> {stage name: array}`` with the
reference's stage names (``SAMPromptEncoder.trace``, docs/fixtures.md: ``points.normalised``,
``points.positional_encoding``, ``points.tokens``, ``boxes.tokens``, ``dense_pe.grid``,
``mask.conv1`` ... ``mask.conv3``, and the three outputs) and layouts (token stages (B, N, C), mask
stages channels last (B, y, x, C), the grid (h, w, C)). A port need not give every stage: the
ones it gives are compared. For a Meta-style torch module, ``trace_hooks.meta_trace`` does it in
one line.

Each stage is judged with the tolerance model of docs/tolerances.md, the stage in place of an
output: budget = k * max |faithful_D - reference| + floor_D * max(1, max |reference|), where the
faithful runs are the reference traced in the port's dtype D and the float64 reference traced on
inputs moved by one unit in the last place of D. The first stage (in computation order) over its
budget is where the port departs; the stages before it agree.
"""

from __future__ import annotations

import math
import re

import numpy as np

from samspec.reference import SAMPromptEncoder, registry

from .tolerance import DEFAULT_K, FLOORS, perturb

SECTIONS = {name: section for name, (section, _) in registry.trace_sections().items()}  # trace entry -> its §
section_of = registry.section_of  # any stage name -> its §, "" when none


def _port_dtype(port_stages) -> str:
    for value in port_stages.values():
        name = getattr(getattr(value, "dtype", None), "name", None)
        if name in ("float16", "float32", "float64"):
            return name
    return "float32"


def _align(value, shape):
    """The port's stage as an array of the reference's shape: singleton axes may differ, nothing else."""
    if not isinstance(value, np.ndarray):
        return None, f"{type(value).__name__}, not an array"
    if value.dtype.kind not in "fiub":
        return None, f"dtype {value.dtype}"
    if value.shape == tuple(shape):
        return value.astype(np.float64), None
    if [d for d in value.shape if d != 1] == [d for d in shape if d != 1]:
        return value.astype(np.float64).reshape(shape), None
    return None, f"shape {value.shape}, expected {tuple(shape)}"


def _traces(case, semantics, dtype):
    config, params, inputs = case.config, case.params, case.inputs
    truth = SAMPromptEncoder(**config, params=params, dtype="float64", profile=semantics)
    reference = {k: np.asarray(v) for k, v in truth.trace(**inputs).items()}
    faithful = [SAMPromptEncoder(**config, params=params, dtype=dtype, profile=semantics).trace(**inputs)]
    if dtype != "float64":
        faithful.append(truth.trace(**perturb(inputs, float(np.finfo(dtype).eps))))
    return reference, faithful


# a point's position stages (§3, §4): a row whose label is −1 carries no position (§5.2: its token is
# not_a_point_embed alone), so its value there is not compared: the §5.1 padding point, at (0, 0) after
# the shift in the reference, is at (0.5, 0.5) where the caller pads before the shift (`no_padding_point`)
POSITION_STAGES = ("points.shifted", "points.normalised", "points.fourier_argument", "points.positional_encoding")


def _positioned_rows(stage, reference):
    """For a position stage, the (B, N') mask of the rows that carry a position; else None (all rows)."""
    labels = reference.get("points.labels")
    if stage not in POSITION_STAGES or labels is None or labels.shape != reference[stage].shape[:2]:
        return None
    return np.asarray(labels) != -1


def _budget(stage, expected, faithful, k, dtype, keep) -> float:
    """k x the faithful runs' largest distance from ``expected`` (float64, already ``keep``-selected) +
    the dtype's floor x its scale: the tolerance model of docs/tolerances.md for one stage."""
    shape = np.shape(next((run[stage] for run in faithful if stage in run), expected))
    with np.errstate(all="ignore"):
        runs = [keep(np.asarray(run[stage], dtype=np.float64)) for run in faithful if np.shape(run.get(stage)) == shape]
        own = max(
            (float(np.max(np.abs(r - expected))) for r in runs if r.shape == expected.shape and r.size),
            default=0.0,
        )
        scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    return k * own + FLOORS[dtype] * scale


def _stage_row(stage, expected, port_value, faithful, k, dtype, rows=None) -> dict:
    """One stage's row: the port's value against the reference's within the tolerance model
    (``rows``: a mask over the first two axes of the rows compared; default all). A value of another
    shape fails, with the stage's budget (for the arrangement checks of ``_after_its_last_stage``)."""
    row = {"stage": stage, "section": section_of(stage), "verdict": "fail", "error": None, "budget": None}
    row.update(ratio=None, message="")
    keep = (lambda a: a[rows]) if rows is not None else (lambda a: a)
    got, problem = _align(port_value, expected.shape)
    if problem:
        row.update(message=problem, budget=_budget(stage, expected.astype(np.float64), faithful, k, dtype, lambda a: a))
        return row
    got, expected = keep(got), keep(expected.astype(np.float64))
    with np.errstate(all="ignore"):
        error = float(np.max(np.abs(got - expected))) if got.size else 0.0
    budget = _budget(stage, expected, faithful, k, dtype, keep)
    finite = math.isfinite(error)
    row.update(
        error=error if finite else None,
        budget=budget,
        ratio=error / budget if budget and finite else None,
        verdict="pass" if finite and error <= budget else "fail",
        message="" if finite else "NaN or inf values",
    )
    return row


def _summary(rows, first, port_stages, ignored, dtype) -> str:
    if not rows:
        return (
            f"trace: none of the port's {len(port_stages)} stages has a reference stage name "
            f"(docs/fixtures.md lists them; got {', '.join(ignored[:6])})"
        )
    if first is None:
        return f"trace: every stage the port traced agrees with the reference ({len(rows)} stages, {dtype})"
    agreeing = [r["stage"] for r in rows[: rows.index(first)] if r["verdict"] == "pass"]
    numbers = (
        f"max|err| {first['error']:.2g}, budget {first['budget']:.2g}"
        if first["error"] is not None
        else first["message"]
    )
    return (
        f"trace: the first stage that departs is {first['stage']} ({first['section'] or AFTER_STAGES}): {numbers}"
        + (f"; before it, {', '.join(agreeing[-3:])} agree" if agreeing else "")
    )


# an output whose last stage is traced: when that stage agrees and the output departs, the departure is
# in the output's batch or layout (spec §11), not in the stage's own section
LAST_STAGE = {"prompt_dense_embeddings": "mask.conv3", "prompt_dense_positional_embeddings": "dense_pe.grid"}


def _sparse_arrangement(got, expected, tolerance):
    """(section, what) when the port's sparse output holds the right tokens in another batch or
    layout: every image's tokens are another image's (§11.1), or the tokens are laid out (B, C, N)
    (§11.2); else None. ``tolerance``: the largest difference that counts as equal."""
    if not isinstance(got, np.ndarray) or got.ndim != 3 or expected.ndim != 3 or not expected.size:
        return None
    with np.errstate(all="ignore"):
        got, expected = got.astype(np.float64), expected.astype(np.float64)
        if got.shape != expected.shape and got.shape == (expected.shape[0], expected.shape[2], expected.shape[1]):
            if np.max(np.abs(np.swapaxes(got, 1, 2) - expected)) <= tolerance:
                return "§11.2", "the right tokens laid out (B, C, N) instead of (B, N, C)"
        if got.shape != expected.shape or got.shape[0] < 2:
            return None
        batch = got.shape[0]
        same = [[bool(np.max(np.abs(got[b] - expected[c])) <= tolerance) for c in range(batch)] for b in range(batch)]
    if all(any(row) for row in same) and not all(same[b][b] for b in range(batch)):
        return "§11.1", "each image's tokens are those of another image of the batch"
    return None


AFTER_STAGES = "after its traced stages"  # how a departure the trace cannot place is spelled


def _after_its_last_stage(rows, first, reference, port_stages):
    """``first`` (the first departing row), placed where the trace can tell when it is an output: §11
    when the output's last stage was traced and agrees (the values are right, their arrangement is
    not), §11.1 or §11.2 for a sparse output holding the right tokens in another batch or layout.
    Otherwise an output departing after every traced stage agrees (its assembly, §7, or its layout,
    §11; without a mask, no_mask_embed, §10, or its layout) gets no section: the diagnosis then keeps
    the error structure's."""
    if first is None or first["stage"] not in (*LAST_STAGE, "prompt_sparse_embeddings"):
        return first
    if first["stage"] == "prompt_sparse_embeddings":
        tolerance = first["budget"] if first["budget"] is not None else 0.0
        found = _sparse_arrangement(port_stages.get(first["stage"]), reference[first["stage"]], tolerance)
        if found:
            first.update(section=found[0], message=f"{found[1]}; {first['message']}".rstrip("; "))
            return first
    else:
        last = next((row for row in rows if row["stage"] == LAST_STAGE[first["stage"]]), None)
        if last is not None and last["verdict"] == "pass":
            message = first["message"] or f"{last['stage']} agrees: the output's batch or layout"
            first.update(section="§11", message=message)
            return first
    first.update(section=None, message=first["message"] or f"the output departs {AFTER_STAGES}")
    return first


def trace_failure(text: str) -> dict:
    """The comparison's dict for a trace that could not be taken (the verdicts stand): the summary
    names the stage the port was computing, with its section, when the error says which."""
    found = re.search(r"stage '([\w.]+)'", text)
    stage = found.group(1) if found else None
    where = f" at stage {stage} ({section_of(stage) or 'no section'})" if stage else ""
    return {
        "summary": f"trace failed{where}: {text}",
        "first_departing": None,
        "section": None,
        "failed_stage": stage,
        "rows": [],
        "ignored": [],
        "dtype": None,
    }


IGNORED_SHOWN = 20  # port stage names without a reference stage kept in a report


def compare_trace(case, port_stages, semantics: str = "sam", k=DEFAULT_K, dtype: str | None = None) -> dict:
    """Compare ``port_stages`` ({stage name: array}, from ``adapter.trace``) with the reference's trace
    of ``case`` under ``semantics``, each stage within the tolerance model (see the module docstring).

    ``dtype``: the port's compute dtype (default: that of the first floating stage array). The
    signature ``compare_trace(case, port_stages, semantics, dtype, k)`` (a dtype name in fourth
    place) is accepted too. Returns {"summary": one line, "first_departing": stage or None,
    "section": its spec section or None, "rows": [{"stage", "section", "verdict", "error", "budget",
    "ratio", "message"}], "ignored": [port stage names the reference does not have], "dtype": dtype}.
    Never raises for a bad port stage: that stage's row says what is wrong with it.
    """
    if isinstance(k, str):  # compare_trace(case, stages, semantics, dtype, k)
        k, dtype = (dtype if isinstance(dtype, (int, float)) else DEFAULT_K), k
    if not isinstance(port_stages, dict):
        return dict(
            trace_failure(""), summary=f"trace() returned {type(port_stages).__name__}, expected a dict of stage arrays"
        )
    dtype = dtype if dtype in FLOORS else _port_dtype(port_stages)
    reference, faithful = _traces(case, semantics, dtype)
    rows = [
        _stage_row(stage, expected, port_stages[stage], faithful, k, dtype, _positioned_rows(stage, reference))
        for stage, expected in reference.items()
        if stage in port_stages and stage != "points.labels"
    ]
    first = next((row for row in rows if row["verdict"] == "fail"), None)
    first = _after_its_last_stage(rows, first, reference, port_stages)
    ignored = sorted(str(name) for name in port_stages if name not in reference)
    return {
        "summary": _summary(rows, first, port_stages, ignored, dtype),
        "first_departing": first["stage"] if first else None,
        "section": first["section"] if first else None,
        "rows": rows,
        "ignored": ignored[:IGNORED_SHOWN],  # a report stays small whatever the port names its stages
        "ignored_count": len(ignored),
        "dtype": dtype,
    }


# -- the run's summary: where the traced failing cases depart -----------------------------------------------


def _stage_order(stage) -> int:
    order = list(SECTIONS)
    return order.index(stage) if stage in order else len(order)


POSITIONAL_TOKENS = {f"{p}.{s}" for p in ("points", "boxes") for s in ("fourier_argument", "positional_encoding")}
POSITIONAL_GRID = {"dense_pe.fourier_argument", "dense_pe.grid"}


def _departures(results) -> tuple:
    """The traced failing cases' traces (one per case), and {first departing stage: (cases, section)}."""
    traces = {}
    for result in results:
        if result.verdict == "fail" and isinstance(result.trace, dict) and result.trace.get("summary"):
            traces.setdefault(result.case, result.trace)
    stages = {}
    for trace in traces.values():
        stage = trace.get("first_departing")
        if stage:
            count, section = stages.get(stage, (0, trace.get("section")))
            stages[stage] = (count + 1, section)
    return traces, stages


def trace_summary(results) -> dict | None:
    """Where the traced failing cases depart (one trace per case, from ``Result.trace``), or None when
    no failing case was traced: {"first_departing", "section", "cases", "traced", "stages": {stage:
    cases}, "failed": traces that could not be taken, "line": one summary line}. The stage named is
    the one most cases depart at (ties: the earliest in computation order). When the tokens' and the
    grid's positional encodings both depart, the section is the Fourier features they share (§4)."""
    traces, stages = _departures(results)
    if not traces:
        return None
    failed = sum(1 for t in traces.values() if str(t.get("summary", "")).startswith("trace failed"))
    ranked = sorted(stages, key=lambda s: (-stages[s][0], _stage_order(s)))
    stage = ranked[0] if ranked else None
    section = stages[stage][1] if stage else None
    if stage:
        line = f"trace: the first stage that departs is {stage} ({section or AFTER_STAGES}) "
        line += f"in {stages[stage][0]} of {len(traces)} traced failing cases"
        line += "".join(f"; {s} ({stages[s][1] or AFTER_STAGES}) in {stages[s][0]}" for s in ranked[1:4])
    else:
        line = f"trace: no traced stage departs in the {len(traces)} traced failing cases"
    if set(stages) & POSITIONAL_TOKENS and set(stages) & POSITIONAL_GRID:
        shared = sum(stages[s][0] for s in stages if s in POSITIONAL_TOKENS | POSITIONAL_GRID)
        line += f"; the tokens' and the grid's positional encodings both depart ({shared} cases): they share §4"
        section = "§4"
    if failed:
        line += f"; the trace failed in {failed}"
    return {
        "first_departing": stage,
        "section": section,
        "cases": stages[stage][0] if stage else 0,
        "traced": len(traces),
        "stages": {s: stages[s][0] for s in sorted(stages, key=_stage_order)},
        "failed": failed,
        "line": line,
    }


def with_trace_summary(overall, results):
    """``overall`` (the whole-run diagnosis) with ``trace`` (``trace_summary``) added and its line closing
    the summary (the diagnosis orders its own lines by evidence, traced outputs included); a line of the
    diagnosis that already names the first departing stage gives way to it (it counts only the
    outputs no variant explains, this one every traced failing case)."""
    summary = trace_summary(results)
    if summary is None or not isinstance(overall, dict):
        return overall
    overall = dict(overall, trace=summary)
    lines = overall.get("lines")
    if lines is None:
        lines = str(overall.get("summary") or "").splitlines()
    lines = [line for line in lines if "first stage that departs" not in line] + [summary["line"]]
    overall.update(lines=lines, summary="\n".join(lines))
    return overall


def departure_note(result) -> str:
    """A failing row's note on where its case departs ("departs at mask.norm1 (§9.2)"), or ""."""
    trace = getattr(result, "trace", None)
    if result.verdict != "fail" or not isinstance(trace, dict):
        return ""
    if trace.get("first_departing"):
        return f"departs at {trace['first_departing']} ({trace.get('section') or AFTER_STAGES})"
    if trace.get("failed_stage"):
        return f"trace failed at {trace['failed_stage']}"
    return ""
