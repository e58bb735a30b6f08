"""The diagnosis in English: every sentence the diagnosis says, for one output and for the whole run.

Each function takes the evidence (names, numbers, sections) and returns the words; nothing here
decides what is true, only how it is said (docs/diagnosis.md shows the sentences)."""

from __future__ import annotations

import math

IN_PART = " (but your port passes outputs this variant would fail: it does this in part only)"


def spell(name: str) -> str:
    """`a` or, for two variants at once, `a` + `b`."""
    return " + ".join(f"`{part}`" for part in name.split("+"))


def number(value) -> str:
    """A number in two significant digits ("inf" for none or infinite)."""
    return "inf" if value is None or math.isinf(value) else f"{value:.2g}"


# -- one output ---------------------------------------------------------------------------------------------


def matches(name, ratio, others, explanation, section) -> str:
    also = (
        f" (equally: {', '.join(spell(n) for n in others[:2])}{', ...' if len(others) > 2 else ''})" if others else ""
    )
    together = " together" if "+" in name else ""
    numbers = f" (ratio {ratio:.2g} of budget)" if ratio is not None else ""
    return f"matches variant {spell(name)}{together}{numbers}{also}: {explanation} ({section})"


def partial(name, error, reference_error, explanation, section) -> str:
    return (
        f"closest known variant is {spell(name)}, which leaves max|err| {number(error)} of "
        f"{number(reference_error)} (still over budget: something else differs too): {explanation} ({section})"
    )


def unexplained(reference_error, closest, closest_error, section) -> str:
    hint = f"; closest: {spell(closest)}, which leaves max|err| {number(closest_error)}" if closest else ""
    return f"no known variant explains this (max|err| {number(reference_error)} against the reference{hint})" + (
        f"; its structure points to {section}" if section else ""
    )


def precision(dtype, lower, error, budget) -> str:
    return (
        f"your outputs are {dtype} but only {lower}-accurate (max|err| {number(error)}, within the "
        f"{lower} budget {number(budget)}): return {lower} outputs, or compute in {dtype} from {dtype} weights "
        f"(§11.3, docs/tolerances.md)"
    )


def truncated(seconds) -> str:
    return f" (stopped trying variants after {seconds:g} s)"


def failed(exc) -> str:
    return f"diagnosis failed: {type(exc).__name__}: {str(exc)[:300]}"


# -- the whole run ------------------------------------------------------------------------------------------


def lead(lines) -> str:
    """The first line of the summary starts with "diagnosis:"; the others are indented under it."""
    return "diagnosis:" if not lines else "          "


def explained(cause, total, named, first: bool) -> str:
    """One variant (or pair) that explains ``cause.count`` failing outputs; ``named``: the variants
    named on earlier lines (updated)."""
    name = cause.variant
    parts = name.split("+")
    spelled = f"variants {spell(name)} together" if "+" in name else f"variant {spell(name)}"
    if len(parts) > 1 and set(parts) <= named:  # both named above: these outputs need both at once
        spelled = f"both variants {spell(name)} at once"
    elif len(parts) > 1 and named & set(parts):  # one part was named above
        new = [p for p in parts if p not in named]
        spelled = f"variant {spell('+'.join(new))} on top of {spell('+'.join(p for p in parts if p not in new))}"
    named.update(parts)
    if first:
        verb = (
            "all failures are"
            if cause.count == total
            else "most failures are"
            if 2 * cause.count > total
            else "the largest share of failures is"
        )
        return (
            f"diagnosis: {verb} explained by {spelled} ({cause.count} of {total}): "
            f"{cause.explanation} ({cause.section})"
        )
    return f"           then {spelled} ({cause.count} of {total}): {cause.explanation} ({cause.section})"


def in_part(cause, total, lines) -> str:
    """A variant the port follows for some inputs only; led by where those outputs depart, when known."""
    if cause.localised:
        return (
            f"{lead(lines)} {cause.count} of {total} failing outputs point to {cause.localised[0]}: "
            f"{cause.localised[1]}; the closest known variant for them is `{cause.variant}`, which matches them "
            f"but {_refuted(cause)}, so your port does this there only: "
            f"{cause.explanation} ({cause.section})"
        )
    return (
        f"{lead(lines)} closest known variant for {cause.count} of {total} is `{cause.variant}`, which "
        f"matches them but {_refuted(cause)}: your port does this for some inputs only: {cause.explanation} "
        f"({cause.section})"
    )


def _refuted(cause) -> str:
    """Why a variant that matches outputs is not the port's bug: passing outputs it would fail, or
    (none) the failing outputs it changes, where the port's differ from it."""
    if cause.contradicts:
        return f"would also fail {cause.contradicts} output(s) that pass"
    return "changes other failing outputs, where the port's outputs are not the variant's"


def partly(cause, total, lines) -> str:
    return (
        f"{lead(lines)} closest known variant for {cause.count} of {total} is `{cause.variant}`, but not "
        f"within tolerance (something else differs too): {cause.explanation} ({cause.section})"
    )


def precision_share(count, total, record, lines) -> str:
    """The precision claim of the whole run, in the words of one of its outputs' records."""
    return f"{lead(lines)} {count} of {total} failing outputs: {record.precision or record.summary}"


def unexplained_group(count, total, group, lines) -> str:
    """Outputs no variant explains, with where their evidence points (``unexplained.Group``)."""
    what = "no known variant explains any of the" if not lines and count == total else "no known variant explains"
    counted = f"{total} failing outputs" if not lines and count == total else f"{count} of {total} failing outputs"
    pointer = ""
    if group.section and group.traced:
        pointer = f"; their first departing stage is in {group.section} ({group.line})"
    elif group.section:
        pointer = f"; their error structure points to {group.section}" + (f": {group.line}" if group.line else "")
    return f"{lead(lines)} {what} {counted}{pointer}"


def traced(stage, section, count, total) -> str:
    return (
        f"           `--trace`: the first stage that departs is {stage} ({section}) in {count} of {total} "
        "traced outputs"
    )
