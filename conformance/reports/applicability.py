"""Applicability coverage of the ports table: per profile, the cases that run under it and how many
of them cite each section of docs/spec.md §3-§10."""

from __future__ import annotations

from samspec.reference import registry

from ..profiles.profile import PROFILES, NotApplicable

# the spec sections whose coverage the report counts: the top-level ones holding a stage (reference/registry.py), §3-§10
COVERED_SECTIONS = tuple(sorted({stage.section[1:].split(".")[0] for stage in registry.STAGES}, key=int))


def applicable(profile, case):
    """None when ``case`` runs under ``profile``, else why not: the reference refuses its inputs
    under the profile's semantics (label −10 under `sam`), or an excluded divergence is exercised.
    The same two tests as the checker's, without running a port."""
    from ..harness.check import expected_outputs

    try:
        expected_outputs(case, profile.semantics)
    except ValueError as exc:
        return f"semantics {profile.semantics!r}: {str(exc).splitlines()[0]}"
    try:
        profile.to_port(case.inputs, case.config)
    except NotApplicable as exc:
        return str(exc)
    return None


def _top_section(section) -> str:
    return str(section).lstrip("§").split(".")[0]


def coverage(cases, profiles=None) -> dict:
    """profile name -> {"cases": applicable case count, section: applicable cases citing it (or a
    subsection of it)} for the sections of COVERED_SECTIONS."""
    table = {}
    for profile in profiles or PROFILES.values():
        row = {"cases": 0, **{section: 0 for section in COVERED_SECTIONS}}
        for case in cases:
            if getattr(case, "fixture_error", None) or applicable(profile, case) is not None:
                continue
            row["cases"] += 1
            for section in {_top_section(s) for s in case.sections} & set(COVERED_SECTIONS):
                row[section] += 1
        table[profile.name] = row
    return table


def uncovered(table) -> list:
    """(profile, section) pairs with no applicable case."""
    return [(name, section) for name, row in table.items() for section in COVERED_SECTIONS if not row[section]]
