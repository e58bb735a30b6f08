"""The whole-run reconcile: which variants explain the run's failing outputs, in what order, what
the summary says, and the diagnosis each failing row then carries (docs/diagnosis.md).

The variant that explains the most failing outputs first (ties broken by agreement with the
outputs that passed), then the next one for what remains, and so on; then a variant that matches
outputs although the port passes others it changes (the port does it in part); then the variants
that explain most of the error of the rest; the rest by the section their error structure points
to. Each failing result's ``diagnosis`` is then replaced by the one the whole-run summary gives it,
so that the table, JSON, JUnit and HTML reports agree."""

from __future__ import annotations

import dataclasses

from . import unexplained, wording
from .precision import claimed_outputs
from .records import Cause
from .runs import REFERENCE


def trace_line(traced) -> str:
    """The summary line of the traced stage most outputs depart at."""
    stages = {}
    for trace in traced.values():
        stages[trace["first_departing"]] = stages.get(trace["first_departing"], 0) + 1
    stage = max(stages, key=stages.get)
    example = next(t for t in traced.values() if t["first_departing"] == stage)
    return wording.traced(stage, example.get("section"), stages[stage], len(traced))


class RunReconciler:
    """One whole-run reconcile over ``results`` (and their ``cases``), from the per-output ``records``
    (``(case id, output) -> Diagnosis``) and the variant runs ``runs``."""

    def __init__(self, runs, records, results, cases):
        self.runs = runs
        self.records = records
        self.results = results
        self.cases_by_id = {c.id: c for c in cases or ()}
        self.verdicts = {}  # variant name -> consistent with the outputs that passed (this run)

    # -- agreement with the outputs that passed ---------------------------------------------------------

    def contradictions(self, names) -> dict:
        """For each name, how many passing outputs the variant would have failed (it differs from the
        reference there by more than that output's budget). Case by case: one case's arrays at a time."""
        counts = {name: 0 for name in names}
        passing = {}
        for result in self.results:
            if result.verdict == "pass" and result.budget is not None and result.case in self.cases_by_id:
                passing.setdefault(result.case, []).append(result)
        for case_id, rows in passing.items():
            case = self.cases_by_id[case_id]
            for name in names:
                variant = self.runs.variant(name)
                for result in rows:
                    if (
                        result.output in self.runs.touches(case, variant)
                        and self.runs.distance(case, variant, REFERENCE, result.output) > result.budget
                    ):
                        counts[name] += 1
        return counts

    def failing_contradictions(self, name, field="matching") -> int:
        """How many failing outputs the variant changes but does not match (alone or in a pair; or, for
        ``field`` "partial", explain most of): outputs where the port does something else than it would."""
        parts = name.split("+")
        if not self.cases_by_id or any(part not in self.runs.by_name for part in parts):
            return 0
        variant, count = self.runs.variant(name), 0
        for key in self.failing():
            record, case = self.records[key], self.cases_by_id.get(key[0])
            if case is None or record.verdict in ("failed", "not diagnosed", "precision"):
                continue
            explaining = record.matching + (record.partial if field == "partial" else [])
            if any(set(parts) <= set(m.split("+")) or set(m.split("+")) <= set(parts) for m in explaining):
                continue  # the variant alone or in a pair, or a part of this pair alone, explains it
            if key[1] in self.runs.touches(case, variant) and self.runs.distance(case, variant, REFERENCE, key[1]) > 0:
                count += 1
        return count

    def consistent(self, name) -> bool:
        """Whether the variant agrees with every output the port passed (a variant that would fail an
        output the port passes is not the port's bug, however many failing outputs it matches)."""
        if not self.cases_by_id or any(part not in self.runs.by_name for part in name.split("+")):
            return True
        if "+" in name:  # a pair agrees with what passed when each of its parts does
            return all(self.consistent(part) for part in name.split("+"))
        known = self.verdicts.get(name)
        if known is None:
            known = self.verdicts[name] = self.contradictions([name])[name] == 0
        return known

    # -- covering the failing outputs with variants -----------------------------------------------------

    def _order_of(self, name):
        return (name.count("+"), self.runs.order.get(name.split("+")[0], 0))  # single variants first

    def _most_common(self, remaining, field, allowed):
        """(best name, how many records list it, the names tied with it), or (None, 0, [])."""
        counts, firsts = {}, {}
        for key in remaining:
            names = [n for n in getattr(self.records[key], field) or [] if allowed(n)]
            for name in names:
                counts[name] = counts.get(name, 0) + 1
            if names:
                firsts[names[0]] = firsts.get(names[0], 0) + 1
        if not counts:
            return None, 0, []
        top = max(counts.values())
        tied = [n for n, c in counts.items() if c == top]
        best_first = max(firsts.get(n, 0) for n in tied)
        tied = sorted((n for n in tied if firsts.get(n, 0) == best_first), key=self._order_of)
        if len(tied) > 1 and self.cases_by_id:
            contradictions = self.contradictions(tied)
            tied.sort(key=lambda n: (contradictions[n], self._order_of(n)))
        return tied[0], top, tied[1:]

    def _one_part_alone(self, best, rows, field, covered, cover) -> None:
        """Rows one part of the pair ``best`` explains alone, where the pair gives the same output."""
        parts = best.split("+")
        pair = self.runs.variant(best)
        for key in sorted(rows):
            case = self.cases_by_id.get(key[0])
            alone = [p for p in parts if p in (getattr(self.records[key], field) or [])]
            if (
                case is not None
                and alone
                and pair is not None
                and self.runs.distance(case, pair, self.runs.variant(alone[0]), key[1]) == 0.0
            ):
                covered.add(key)
                cover[key] = (best, alone[0])

    def greedy(self, keys, field, strict=True, total=None):
        """Cover ``keys`` (failing outputs) with variants listed in each record's ``field``: the one in
        the most records first; ties go to the one that is the closest match in more records, then to
        the one that contradicts fewer passing outputs, then to catalogue order. ``strict``: only
        variants consistent with every passing output; otherwise an inconsistent one too, if it covers
        at least half of the ``total`` failing outputs (the port does it for some inputs only).
        Returns (causes, the keys left, {key: (name, name whose numbers the row shows)})."""
        remaining, chosen, cover, refuted = set(keys), [], {}, set()
        allowed = (lambda n: n not in refuted and self.consistent(n)) if strict else (lambda n: True)
        while remaining:
            best, top, tied_with = self._most_common(remaining, field, allowed)
            if best is None:
                break
            if not strict and 2 * top < (total or len(keys)):
                break  # an inconsistent variant that explains a minority is a coincidence, not a diagnosis
            covered = {key for key in remaining if best in (getattr(self.records[key], field) or [])}
            if strict and self.failing_contradictions(best, field) > len(covered):
                refuted.add(best)  # it changes more failing outputs than it explains, and those not as the port
                continue
            for key in covered:
                cover[key] = (best, best)
            if "+" in best and field == "matching":
                self._one_part_alone(best, remaining - covered, field, covered, cover)
            parts = [self.runs.by_name[part] for part in best.split("+") if part in self.runs.by_name]
            contradicted = 0 if strict or not self.cases_by_id else self.contradictions([best])[best]
            chosen.append(
                Cause(
                    variant=best,
                    count=len(covered),
                    explanation="; and ".join(p.explanation for p in parts),
                    section=", ".join(p.section for p in parts),
                    tied_with=tied_with,
                    contradicts=contradicted,
                )
            )
            remaining -= covered
        return chosen, remaining, cover

    # -- the run ----------------------------------------------------------------------------------------

    def failing(self) -> list:
        return [(r.case, r.output) for r in self.results if r.verdict == "fail" and (r.case, r.output) in self.records]

    def reconcile(self) -> dict | None:
        """The whole-run diagnosis; sets each failing result's ``diagnosis``. None without failures."""
        failing = self.failing()
        if not failing:
            return None
        total = len(failing)
        precise = claimed_outputs(self.records, failing, self.runs.by_name)
        undiagnosed = {key for key in failing if self.records[key].verdict in ("failed", "not diagnosed")}
        usable = [key for key in failing if key not in precise and key not in undiagnosed]
        explained, remaining, cover = self.greedy(usable, "matching")
        in_part, remaining, in_part_cover = self.greedy(remaining, "matching", strict=False, total=total)
        in_part = [unexplained.where_in_part(c, self.records, in_part_cover, self.cases_by_id) for c in in_part]
        partly, remaining, partly_cover = self.greedy(remaining, "partial")
        remaining |= undiagnosed
        traced = self.traced(remaining)
        groups = unexplained.group(self.records, remaining, traced, (self.results, self.cases_by_id))
        findings = self.findings(precise, explained, in_part, partly, groups)
        lines = self.lines(total, findings)
        if traced:
            lines.append(trace_line(traced))
        self.apply(failing, traced, cover, in_part_cover, partly_cover, set(precise))
        return {
            "summary": "\n".join(lines),
            "lines": lines,
            "explained": [c.as_dict() for c in explained],
            "in_part": [c.as_dict() for c in in_part],
            "partly": [c.as_dict() for c in partly],
            "precision": len(precise),
            "unexplained": sorted(remaining),
            "failing": total,
            "section": findings[0][2] if findings else None,
            "localisation": [g.line for g in groups if g.section and g.line],
        }

    def findings(self, precise, explained, in_part, partly, groups) -> list:
        """(count, rank, section, kind, evidence) for each line of the summary, the best supported first:
        by how many failing outputs it covers, then by the strength of the evidence (rank)."""
        found = [(c.count, 0, c.section, "explained", c) for c in explained]
        found += [(c.count, 1, (c.localised or (c.section,))[0], "in part", c) for c in in_part]
        found += [(c.count, 2, c.section, "partly", c) for c in partly]
        if precise:
            found.append((len(precise), 3, self.records[precise[0]].section, "precision", precise))
        found += [(len(g.keys), 4, g.section, "unexplained", g) for g in groups]
        return sorted(found, key=lambda f: (-f[0], f[1]))

    def lines(self, total, findings) -> list:
        """The summary's lines (``wording``), in the order of the findings."""
        lines, named = [], set()
        for count, _, _, kind, evidence in findings:
            if kind == "explained":
                lines.append(wording.explained(evidence, total, named, first=not lines))
            elif kind == "in part":
                lines.append(wording.in_part(evidence, total, lines))
            elif kind == "partly":
                lines.append(wording.partly(evidence, total, lines))
            elif kind == "precision":
                lines.append(wording.precision_share(count, total, self.records[evidence[0]], lines))
            else:
                lines.append(wording.unexplained_group(count, total, evidence, lines))
        return lines

    def traced(self, remaining) -> dict:
        """The first departing stage of `check --trace`, for outputs no variant explains."""
        traced = {}
        for result in self.results:
            trace = getattr(result, "trace", None)
            if (result.case, result.output) in remaining and isinstance(trace, dict) and trace.get("first_departing"):
                traced[(result.case, result.output)] = trace
        return traced

    def apply(self, failing, traced, cover, in_part_cover, partly_cover, claimed=()) -> None:
        """Each failing row's diagnosis becomes the one the whole run gives it (``claimed``: the rows
        whose precision claim the run makes)."""
        for result in self.results:
            key = (result.case, result.output)
            if key not in failing:
                continue
            record = dataclasses.replace(self.records[key])
            if key in traced:  # the reports print the trace itself; the diagnosis takes its section
                record.localised_section = traced[key].get("section") or record.localised_section
            if key in cover:
                record.name(cover[key][0], "matches", numbers=cover[key][1])
            elif key in in_part_cover:
                record.name(in_part_cover[key][0], "matches", numbers=in_part_cover[key][1])
                record.verdict = "in part"
                record.summary += wording.IN_PART
            elif key in partly_cover:
                record.name(partly_cover[key][0], "partial")
            elif key in claimed:
                record.imprecise()
            elif record.verdict in ("matches", "partial", "none", "precision"):
                record.closest = None  # only the whole run names variants
                record.unexplained()
            result.diagnosis = record.as_dict()
