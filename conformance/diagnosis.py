"""Diagnosis: when a port fails a case, say which known divergence it matches (docs/diagnosis.md).

For a failing output, the reference is re-run on the same case with each variant of the catalogue
(``variants.py``) switched on, and the port's output is judged against each variant with the
conformance tolerance model itself: the variant in float64 is the expectation and the variant run
in the port's dtype is the faithful run, so

    error  = max |port - variant_float64|
    budget = k * max |variant_D - variant_float64| + floor_D * max(1, max |variant_float64|)

and the port *matches* the variant when error <= budget. Variant outputs are cached per (case,
variant, dtype), so a port that fails every case costs one run of each variant per case.

A variant with ``rounding`` (float16 on purpose) is also allowed k times what that rounding
itself changes, since a port rounding in another order rounds differently: that change is the
faithful error of a float16 computation. When no single variant
matches but one or two come close (they leave at most half of the error), those are tried in
pairs with every other variant (``variants.compose``): a port with two bugs.

``Diagnoser.port_diagnosis(results, cases)`` then looks at the whole run: the variant that
explains the most failing outputs (ties broken by agreement with the outputs that passed), then
the next one for what remains, and so on; outputs no variant matches are then attributed to the
variant that explains most of their error, if any.
"""

from __future__ import annotations

import math

import numpy as np

from .tolerance import DEFAULT_K, FLOORS
from .variants import CATALOGUE, Variant, compose

REFERENCE = Variant("reference", "the reference itself", "", "none")  # for variants with `rounding`

PARTIAL = 0.1  # a variant that leaves at most this fraction of the reference's error "explains most of it"
PAIR = 0.5  # variants leaving at most this fraction are tried in pairs with every other variant (two bugs)


def _spell(name: str) -> str:
    """`a` or, for two variants at once, `a` + `b`."""
    return " + ".join(f"`{part}`" for part in name.split("+"))


def _max_abs_difference(a, b) -> float:
    """max |a - b| over finite positions; inf if the shapes or the non-finite positions differ."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    largest = float(np.max(np.abs(a - b)))
    if math.isfinite(largest):  # the common case: everything finite
        return largest
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(finite_a, finite_b):
        return math.inf
    if not finite_a.any():
        return 0.0
    return float(np.max(np.abs(a[finite_a] - b[finite_a])))


def _scale(array) -> float:
    array = np.asarray(array, dtype=np.float64)
    finite = array[np.isfinite(array)]
    return max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0


def _fmt(value) -> str:
    return "inf" if value is None or math.isinf(value) else f"{value:.2g}"


class Diagnoser:
    """``diagnose(case, output_key, got) -> dict``; see the module docstring.

    ``profile``: the port's profile; divergences it declares are not offered as explanations.
    ``cache``: a dict shared between diagnosers (the self-test shares one across all variants).
    """

    def __init__(self, profile=None, variants=None, k: float = DEFAULT_K, cache=None):
        declared = set(getattr(profile, "divergences", ()) or ())
        self.variants = [v for v in (variants if variants is not None else CATALOGUE) if v.name not in declared]
        self.k = k
        self.cache = cache if cache is not None else {}
        self.records = {}  # (case id, output) -> the diagnosis dict
        self._failures = {}  # (case id, output) -> what was judged: (case, port output, dtype, reference error)
        self._cases = self.cache.setdefault("cases", {})  # keeps every cached case alive: id(case) stays unique
        self._same = self.cache.setdefault("unchanged", {})

    # -- variant outputs ------------------------------------------------------------------------

    def variant_outputs(self, case, variant, dtype: str):
        """The variant's three outputs on this case in ``dtype`` (None if the variant cannot run)."""
        key = (id(case), variant.name, dtype)
        if key not in self.cache:
            self._cases[id(case)] = case
            try:
                self.cache[key] = variant.run(case.config, case.params, case.inputs, dtype)
            except Exception:  # a variant that does not apply to this case (e.g. W - 1 = 0)
                self.cache[key] = None
        return self.cache[key]

    def _unchanged(self, case, variant, output_key, high) -> bool:
        """Whether the variant's float64 output equals the reference's here (cached)."""
        key = (id(case), variant.name, output_key)
        if key not in self._same:
            reference = self.variant_outputs(case, REFERENCE, "float64")
            self._same[key] = bool(
                reference is not None
                and high[output_key].shape == reference[output_key].shape
                and np.array_equal(high[output_key], reference[output_key])
            )
        return self._same[key]

    def judge(self, case, output_key, got, variant, dtype, reference_error=math.inf):
        """(error, budget) of the port's output against one variant."""
        high = self.variant_outputs(case, variant, "float64")
        if high is None or output_key not in high:
            return math.inf, None
        if self._unchanged(case, variant, output_key, high):  # the variant does not touch this output
            return reference_error, None
        error = _max_abs_difference(got, high[output_key])
        if math.isinf(error) or error > reference_error:  # no closer than the reference itself
            return error, None
        low = self.variant_outputs(case, variant, dtype) if dtype != "float64" else high
        if low is None:
            return error, None
        faithful = _max_abs_difference(low[output_key], high[output_key])
        faithful = 0.0 if math.isinf(faithful) else faithful
        budget = self.k * faithful + FLOORS.get(dtype, FLOORS["float32"]) * _scale(high[output_key])
        if variant.rounding:  # it rounds on purpose; another order of operations rounds otherwise:
            # allow what that rounding itself changes (the rounding variant alone against the reference)
            reference = self.variant_outputs(case, REFERENCE, dtype)
            for part in variant.name.split("+"):
                single = self._variant(part)
                if single.rounding and reference is not None:
                    alone = self.variant_outputs(case, single, dtype)
                    own = _max_abs_difference(alone[output_key], reference[output_key]) if alone else math.inf
                    budget += 0.0 if math.isinf(own) else self.k * own  # k x its error, as for any faithful run
        return error, budget

    # -- one failing output ------------------------------------------------------------------------

    def _score(self, case, output_key, got, dtype, reference_error, variants):
        scored = []
        for order, variant in enumerate(variants):
            error, budget = self.judge(case, output_key, got, variant, dtype, reference_error)
            if math.isinf(error):
                continue
            ratio = error / budget if budget else math.inf
            scored.append((ratio, error, order, variant, budget))
        scored.sort(key=lambda s: (s[0], s[1], s[2]))
        return scored

    def _pairs(self, first):
        """``first`` composed with every other variant it can be combined with (cached)."""
        pairs = self.cache.setdefault("pairs", {})
        if first.name not in pairs:
            order = {v.name: i for i, v in enumerate(self.variants)}
            pairs[first.name] = [
                c for v in self.variants if v is not first
                for c in [compose(*sorted((first, v), key=lambda x: order[x.name]))] if c is not None
            ]  # named in catalogue order, so that a+b and b+a are one name
        return pairs[first.name]

    def __call__(self, case, output_key, got) -> dict:
        got = np.asarray(got)
        dtype = got.dtype.name if got.dtype.name in FLOORS else "float32"
        got = got.astype(np.float64)
        reference_error = _max_abs_difference(got, case.expected[output_key])
        scored = self._score(case, output_key, got, dtype, reference_error, self.variants)
        matching = [s for s in scored if s[0] <= 1.0]
        partial = [s for s in sorted(scored, key=lambda s: (s[1], s[2])) if s[1] <= PARTIAL * reference_error]
        closest = [s for s in sorted(scored, key=lambda s: (s[1], s[2])) if s[1] <= PAIR * reference_error][:2]
        if not matching and closest:  # two bugs at once? each of the closest variants with every other one
            combined = [c for s in closest for c in self._pairs(s[3])]
            pairs = self._score(case, output_key, got, dtype, reference_error, combined)
            matching = [s for s in pairs if s[0] <= 1.0]
            if matching:
                scored = pairs
        diagnosis = {
            "verdict": "none",
            "variant": None,
            "explanation": None,
            "section": None,
            "error": None,
            "budget": None,
            "ratio": None,
            "reference_error": reference_error,
            "matching": [s[3].name for s in matching],
            # variants that leave at most PARTIAL of the reference's error (used by the whole-run summary)
            "partial": [s[3].name for s in partial],
            "candidates": [
                {"variant": s[3].name, "error": s[1], "ratio": None if math.isinf(s[0]) else s[0]} for s in scored[:3]
            ],
        }
        if not matching:  # rank by how much of the error is left, not by budget; only what reduces it
            scored = sorted((s for s in scored if s[1] < reference_error), key=lambda s: (s[1], s[2]))
        if scored:
            ratio, error, _, best, budget = scored[0]
            diagnosis.update(variant=best.name, explanation=best.explanation, section=best.section,
                             error=error, budget=budget, ratio=None if math.isinf(ratio) else ratio)
        if matching:
            others = [name for name in diagnosis["matching"] if name != diagnosis["variant"]]
            also = f" (equally: {', '.join(_spell(n) for n in others[:2])}{', ...' if len(others) > 2 else ''})" if others else ""
            together = " together" if "+" in diagnosis["variant"] else ""
            diagnosis["verdict"] = "matches"
            diagnosis["summary"] = (
                f"matches variant {_spell(diagnosis['variant'])}{together} (ratio {diagnosis['ratio']:.2g} of budget){also}: "
                f"{diagnosis['explanation']} ({diagnosis['section']})"
            )
        elif scored and diagnosis["error"] <= PARTIAL * reference_error:
            diagnosis["verdict"] = "partial"
            diagnosis["summary"] = (
                f"closest known variant is `{diagnosis['variant']}`, which leaves max|err| {_fmt(diagnosis['error'])} of "
                f"{_fmt(reference_error)} (still over budget: something else differs too): "
                f"{diagnosis['explanation']} ({diagnosis['section']})"
            )
        else:
            closest = f"; closest: `{diagnosis['variant']}`, max|err| {_fmt(diagnosis['error'])}" if scored else ""
            diagnosis["summary"] = (
                f"no known variant explains this (max|err| {_fmt(reference_error)} against the reference{closest})"
            )
        for key in ("reference_error", "error", "budget"):  # strict JSON has no Infinity
            if diagnosis[key] is not None and not math.isfinite(diagnosis[key]):
                diagnosis[key] = None
        self.records[(case.id, output_key)] = diagnosis
        self._failures[(case.id, output_key)] = (case, got, dtype, reference_error)
        return diagnosis

    # -- the whole run ---------------------------------------------------------------------------

    def _variant(self, name):
        by_name = {v.name: v for v in self.variants}
        parts = [by_name[part] for part in name.split("+")]
        return parts[0] if len(parts) == 1 else compose(*parts)

    def _contradictions(self, name, results, cases_by_id) -> int:
        """How many passing outputs the variant would have failed (it differs from the reference there)."""
        variant = self._variant(name)
        count = 0
        for result in results:
            case = cases_by_id.get(result.case)
            if result.verdict != "pass" or case is None or result.budget is None:
                continue
            outputs = self.variant_outputs(case, variant, "float64")
            if outputs is None or _max_abs_difference(outputs[result.output], case.expected[result.output]) > result.budget:
                count += 1
        return count

    def _greedy(self, keys, field, results, cases_by_id):
        """Cover ``keys`` (failing outputs) with variants listed in each record's ``field``: the one in
        the most records first; ties go to the one that is the closest match in more records, then to
        the one that contradicts fewer passing outputs, then to catalogue order."""
        order = {v.name: i for i, v in enumerate(self.variants)}
        order_of = lambda name: (name.count("+"), order.get(name.split("+")[0], 0))  # single variants first
        remaining, chosen = set(keys), []
        while remaining:
            counts, firsts = {}, {}
            for key in remaining:
                names = self.records[key][field]
                for name in names:
                    counts[name] = counts.get(name, 0) + 1
                if names:
                    firsts[names[0]] = firsts.get(names[0], 0) + 1
            if not counts:
                break
            top = max(counts.values())
            tied = [n for n, c in counts.items() if c == top]
            best_first = max(firsts.get(n, 0) for n in tied)
            tied = sorted((n for n in tied if firsts.get(n, 0) == best_first), key=order_of)
            if len(tied) > 1 and cases_by_id:
                tied.sort(key=lambda n: (self._contradictions(n, results, cases_by_id), order_of(n)))
            best = tied[0]
            covered = {key for key in remaining if best in self.records[key][field]}
            if "+" in best and field == "matching":  # rows one part explains alone may fit both parts too
                parts = set(best.split("+"))
                for key in remaining - covered:
                    if parts & set(self.records[key][field]) and key in self._failures:
                        case, got, dtype, reference_error = self._failures[key]
                        error, budget = self.judge(case, key[1], got, self._variant(best), dtype, reference_error)
                        if budget and error <= budget:
                            covered.add(key)
            parts = [next(v for v in self.variants if v.name == part) for part in best.split("+")]
            chosen.append({"variant": best, "count": len(covered), "explanation": "; and ".join(p.explanation for p in parts),
                           "section": ", ".join(p.section for p in parts), "tied_with": tied[1:]})
            remaining -= covered
        return chosen, remaining

    def port_diagnosis(self, results, cases=None) -> dict | None:
        """Which variants explain the run's failures (``_greedy``): first those the failing outputs
        match within budget, then, for what remains, those that explain most of the error."""
        failing = [(r.case, r.output) for r in results if r.verdict == "fail" and (r.case, r.output) in self.records]
        if not failing:
            return None
        cases_by_id = {c.id: c for c in cases or ()}
        explained, remaining = self._greedy(failing, "matching", results, cases_by_id)
        partly, remaining = self._greedy(remaining, "partial", results, cases_by_id)
        total = len(failing)
        lines = []
        named = set()
        for entry in explained:
            name = entry["variant"]
            parts = name.split("+")
            spelled = f"variants {_spell(name)} together" if "+" in name else f"variant {_spell(name)}"
            if len(parts) > 1 and named & set(parts):  # one part was named above
                new = [p for p in parts if p not in named] or parts
                spelled = f"variant {_spell('+'.join(new))} on top of {_spell('+'.join(p for p in parts if p not in new))}"
            named.update(parts)
            if not lines:
                verb = ("all failures are" if entry["count"] == total else
                        "most failures are" if 2 * entry["count"] > total else "the largest share of failures is")
                lines.append(f"diagnosis: {verb} explained by {spelled} ({entry['count']} of {total}): "
                             f"{entry['explanation']} ({entry['section']})")
            else:
                lines.append(f"           then {spelled} ({entry['count']} of {total}): {entry['explanation']}")
        for entry in partly:
            lead = "diagnosis:" if not lines else "          "
            lines.append(f"{lead} closest known variant for {entry['count']} of {total} is `{entry['variant']}`, but not "
                         f"within tolerance (something else differs too): {entry['explanation']} ({entry['section']})")
        if not lines:
            lines.append(f"diagnosis: no known variant explains any of the {total} failing outputs")
        elif remaining:
            lines.append(f"           {len(remaining)} of {total} failing outputs are explained by no known variant")
        return {"summary": "\n".join(lines), "explained": explained, "partly": partly,
                "unexplained": sorted(remaining), "failing": total}

    def port_summary(self, results, cases=None) -> str | None:
        overall = self.port_diagnosis(results, cases)
        return overall["summary"] if overall else None


def make_diagnoser(profile=None, k: float = DEFAULT_K, cache=None) -> Diagnoser:
    """The diagnoser `samspec check` uses: every catalogue variant not declared by ``profile``."""
    return Diagnoser(profile, k=k, cache=cache)
