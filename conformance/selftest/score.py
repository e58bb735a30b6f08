"""The self-test judges the words (docs/selftest.md, issue 23.5): for each bug, whether the
whole-run diagnosis of a default `samspec check` caught it, whether the section its summary leads
with is the bug's, whether it names a known variant that is not the bug, and whether it claims a
precision problem (spec §11.3, "only float16-accurate") about a bug that rounds nothing.

*First section*: the first § of the summary's first line (the line a reader acts on), else the
JSON ``section``. It is *right* when its top-level section is the bug's, or, for a bug that rounds
to a lower precision on purpose (``Variant.rounding``), when it is the dtype clause (§11.3, §1.3).
"""

from __future__ import annotations

import re

from ..diagnosis.measures import top_section as _top

SECTION = re.compile(r"§\d+(?:\.\d+)*")
PRECISION_SECTIONS = ("§11.3", "§1.3")
TARGETS = {"right": 0.9, "wrong_names": 0, "false_precision": 0}  # besides every bug caught

# What the words get wrong today, bug by bug, as measured (docs/selftest.md): "section" (the summary
# leads with another section), "name" (a known variant is named), "precision" (a false precision
# claim). Strict both ways, like an xfail list: a new miss fails the self-test, and so does a listed
# miss that no longer happens (remove it here). The diagnosis's words are being improved (issue 23.1);
# this list is what is left to do, not an allowance.
KNOWN_MISSES: dict[str, set] = {}


def first_section(overall) -> str | None:
    """The section the whole-run summary leads with (see the module docstring)."""
    if not overall:
        return None
    lines = overall.get("lines") or []
    found = SECTION.search(lines[0]) if lines else None
    return found.group(0) if found else overall.get("section")


def judge_words(overall, failing, bug, itself: str | None = None) -> dict:
    """The four scores of one bug's run: ``overall`` is its whole-run diagnosis, ``failing`` its
    failing results, ``bug`` the Variant, ``itself`` the name a right diagnosis may give (catalogue)."""
    first = first_section(overall)
    named = [entry["variant"] for entry in overall["explained"]] if overall else []
    claimed = bool(overall and overall.get("precision"))
    rounding = bool(getattr(bug, "rounding", None))
    right = bool(first) and (_top(first) == _top(bug.section) or (rounding and first in PRECISION_SECTIONS))
    return {
        "caught": bool(failing),
        "first_section": first,
        "right_section": right,
        "wrong_names": [name for name in named if name != itself],
        "precision_claim": claimed,
        "false_precision": claimed and not rounding,
    }


def misses_of(row) -> set:
    """What one bug's words get wrong: a subset of {"section", "name", "precision"}."""
    found = set()
    if not row["right_section"]:
        found.add("section")
    if row["wrong_names"]:
        found.add("name")
    if row["false_precision"]:
        found.add("precision")
    return found


def unexpected(name: str, row, known=None) -> list:
    """Problems with one bug's words against ``known`` (default ``KNOWN_MISSES``): a miss not
    listed, or a listed miss that no longer happens."""
    known = KNOWN_MISSES if known is None else known
    found, listed = misses_of(row), set(known.get(name, ()))
    problems = (
        [f"bug {name}: the words miss {', '.join(sorted(found - listed))} (not a known miss)"] if found - listed else []
    )
    if listed - found:
        problems.append(
            f"bug {name}: now right on {', '.join(sorted(listed - found))}: remove it from score.KNOWN_MISSES"
        )
    return problems


def totals(rows) -> dict:
    """Counts over one set's rows: bugs, caught, right first section, wrong names, false precision claims."""
    return {
        "bugs": len(rows),
        "caught": sum(r["caught"] for r in rows),
        "right": sum(r["right_section"] for r in rows),
        "wrong_names": sum(bool(r["wrong_names"]) for r in rows),
        "false_precision": sum(r["false_precision"] for r in rows),
    }


def totals_line(t) -> str:
    return (
        f"{t['caught']} of {t['bugs']} caught; {t['right']} of {t['bugs']} localised to the right section; "
        f"{t['wrong_names']} wrong names; {t['false_precision']} false precision claims"
    )


def target_misses(name: str, t) -> list:
    """The targets this set misses, in words (printed and shown in docs/selftest.md)."""
    found = []
    if t["caught"] < t["bugs"]:
        found.append(f"{name}: {t['bugs'] - t['caught']} bugs not caught (target: all)")
    if t["bugs"] and t["right"] < TARGETS["right"] * t["bugs"]:
        found.append(
            f"{name}: {t['right']} of {t['bugs']} summaries lead with the right section (target {TARGETS['right']:.0%})"
        )
    if t["wrong_names"] > TARGETS["wrong_names"]:
        found.append(f"{name}: {t['wrong_names']} bugs with wrong names (target 0)")
    if t["false_precision"] > TARGETS["false_precision"]:
        found.append(f"{name}: {t['false_precision']} false precision claims (target 0)")
    return found
