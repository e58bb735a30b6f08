"""The failing outputs no variant explains, grouped by where their evidence points: the first
departing stage of a trace where there is one, else the error structure's section (``localise``).
Sparse tokens and dense grid outputs whose positions both differ (§4) are one cause seen in two
outputs: their group names the earliest stage both outputs come from (the registry)."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from samspec.reference import DENSE, DENSE_PE, SPARSE, registry


class Group(NamedTuple):
    """Failing outputs whose evidence points to one section."""

    section: str | None  # None: nothing structural was found
    line: str  # the localisation line that says why (may be empty)
    keys: list  # (case id, output) of its outputs
    traced: bool = False  # the section is a trace's first departing stage


def earliest_shared_stage(outputs):
    """The first stage of the registry that feeds every one of ``outputs`` (or None)."""
    return next((stage for stage in registry.STAGES if set(outputs) <= set(stage.outputs)), None)


BOX_COORDINATE_STAGES = ("boxes.shifted", "boxes.normalised", "boxes.fourier_argument", "boxes.positional_encoding")


def _box_corners(trace, points_right) -> str | None:
    """The line when a trace's first departing stage is a box stage before the tokens, no earlier box
    stage agrees, and the points' same computation is right (that stage of the points agrees in this
    trace, or ``points_right`` cases with points pass): the corners (§6.1) are read differently; else None."""
    stage, rows = trace.get("first_departing"), trace.get("rows") or []
    if stage not in BOX_COORDINATE_STAGES:
        return None
    verdicts = {row.get("stage"): row.get("verdict") for row in rows if isinstance(row, dict)}
    if any(verdicts.get(earlier) == "pass" for earlier in BOX_COORDINATE_STAGES[: BOX_COORDINATE_STAGES.index(stage)]):
        return None
    twin = stage.replace("boxes.", "points.")
    if verdicts.get(twin) == "pass":
        why = f"{twin} agrees in the same cases"
    elif points_right:
        why = f"{points_right} cases with points pass"
    else:
        return None
    return (
        f"the first traced stage that departs is {stage} ({trace.get('section')}), before any box stage agrees, "
        f"while {why}: the shared shift, normalisation and encoding are right, so the box corners are read or "
        f"changed before they are encoded (§6.1)"
    )


def _pointer(record, trace, points_right=0):
    """(section, line, traced) of one output: its trace's first departing stage, else its localisation."""
    if trace is not None and trace.get("section"):
        corners = _box_corners(trace, points_right)
        if corners:
            return "§6.1", corners, False
        return trace["section"], f"`--trace`: {trace['first_departing']}", True
    section = record.localised_section if record is not None else None
    if not section:
        return None, "", False
    return section, next((line for line in record.localisation or [] if section in line), ""), False


def points_right(results, cases_by_id) -> int:
    """How many cases with positioned points (a label of 0 or more) have their sparse output pass (their
    points' coordinates are right); 0 when a traced failing case departs at a point stage."""
    traces = [r.trace for r in results if isinstance(getattr(r, "trace", None), dict)]
    if any(str(trace.get("first_departing")).startswith("points.") for trace in traces):
        return 0
    passing = {r.case for r in results if r.output == SPARSE and r.verdict == "pass"}
    with_points = (cases_by_id.get(case_id) for case_id in passing)
    return sum(1 for c in with_points if c is not None and _positioned(c.inputs))


def _positioned(inputs) -> bool:
    labels = inputs.get("labels")
    return np.size(inputs.get("points", None)) > 1 and labels is not None and bool(np.any(np.asarray(labels) >= 0))


def group(records, keys, traced, run=((), {})) -> list:
    """The groups of ``keys`` (failing outputs no variant explains), largest first. ``run``: the run's
    (results, cases by id), whose passing cases with points show their coordinates (§3) right."""
    found, lines, points = {}, {}, points_right(*run)
    for key in sorted(keys):
        section, line, traced_here = _pointer(records.get(key), traced.get(key), points)
        entry = found.setdefault((section, traced_here), Group(section, line, [], traced_here))
        entry.keys.append(key)
        said = lines.setdefault((section, traced_here), {})
        said[line] = said.get(line, 0) + 1
    for where, entry in list(found.items()):  # the line most of the group's outputs say
        found[where] = entry._replace(line=max(lines[where], key=lines[where].get))
    groups = _merge_shared(_fold_box_only(list(found.values()), records, points))
    return sorted(groups, key=lambda g: (-len(g.keys), g.section is None, g.section or ""))


def _fold_box_only(groups, records, points_right=0) -> list:
    """Box corners whose positions differ in cases without points point to §3 (the shift or the
    normalisation, as far as such a case can tell). They are the box corners (§6.1) where cases with
    points showed that the boxes alone differ (they join that §6.1 group), or where every failing
    output's positional difference is in box corners and ``points_right`` cases with points pass (the
    same shift and normalisation are right for points)."""
    corners = next((g for g in groups if g.section == "§6.1" and not g.traced), None)
    coordinates = [key for g in groups if g.section == "§3" and not g.traced for key in g.keys]
    moved = [key for key in coordinates if _box_only(records.get(key))]
    if not moved:
        return groups
    if corners is None:
        if not points_right or len(moved) < len(coordinates):
            return groups
        corners = Group(
            "§6.1",
            f"box corner tokens differ in position in cases without points, while {points_right} cases with points "
            f"encode their points right (the same shift and normalisation, §3): the corners are read or changed "
            f"before they are encoded (§6.1)",
            [],
        )
    kept = [
        Group(g.section, g.line, [k for k in g.keys if k not in moved], g.traced) for g in groups if g is not corners
    ]
    return [g for g in kept if g.keys] + [Group("§6.1", corners.line, sorted(corners.keys + moved))]


def _box_only(record) -> bool:
    """Whether the output's positional finding (§3) names box corner tokens only."""
    line = next((text for text in (record.localisation if record is not None else []) if text.endswith("(§3)")), "")
    names = [name.strip() for name in line.split(":")[0].split(",")] if line else []
    return bool(names) and all(name.startswith("box ") for name in names)


# the sections the localisation gives the sparse tokens and the grid when both differ in position; not
# §3 (the tokens differ while the grid agrees) nor §8.1 (the grid differs while the tokens agree)
SHARED = ("§4", "§4.1")


def _merge_shared(groups) -> list:
    """Groups holding the sparse tokens' positional differences and groups holding the grid's are one
    cause seen in both outputs: they become one group at the earliest stage both outputs share."""
    sparse = [g for g in groups if SPARSE in _outputs(g) and g.section in SHARED]
    grid = [g for g in groups if DENSE_PE in _outputs(g) and g.section in SHARED]
    merged = sparse + [g for g in grid if g not in sparse]
    keys = sorted(key for g in merged for key in g.keys)
    counts = {output: sum(1 for _, o in keys if o == output) for output in (SPARSE, DENSE_PE)}
    stage = earliest_shared_stage((SPARSE, DENSE_PE))
    if not counts[SPARSE] or not counts[DENSE_PE] or stage is None:
        return groups
    line = (
        f"the sparse tokens ({counts[SPARSE]}) and the dense positional grid ({counts[DENSE_PE]}) differ in the "
        f"same run: the earliest stage they share is {stage.name} ({stage.section})"
    )
    return [g for g in groups if g not in merged] + [Group(stage.section, line, keys)]


def _outputs(group_) -> set:
    return {output for _, output in group_.keys}


def where_in_part(cause, records, cover, cases_by_id):
    """A variant matching outputs it would not explain elsewhere (``in part``: the port does it for some
    inputs only) with, where those outputs are all of one kind (the dense outputs of cases without a
    mask, §10, or with one, §9) or their error structure points to one section, of another top level
    than the variant's, that section and why (``Cause.localised``): those inputs are where it departs."""
    keys = [key for key, (name, _) in cover.items() if name == cause.variant]
    if not keys or "," in cause.section:
        return cause
    masks = {cases_by_id[case].inputs.get("masks") is not None for case, _ in keys if case in cases_by_id}
    if {output for _, output in keys} == {DENSE} and len(masks) == 1:
        section, line = (
            ("§9", "they are the dense outputs of cases with a mask (the mask path)")
            if masks == {True}
            else ("§10", "they are the dense outputs of cases without a mask (no_mask_embed's broadcast)")
        )
    else:
        sections = {records[key].localised_section for key in keys if key in records}
        section = next(iter(sections)) if len(sections) == 1 else None
        line = next((text for text in records[keys[0]].localisation or [] if section and section in text), section)
    if not section or section.split(".")[0] == cause.section.split(".")[0]:
        return cause
    return dataclasses.replace(cause, localised=(section, line))
