"""Judging one failing output: each variant (then pairs) against the port's output with the
conformance tolerance model, the dtype-awareness check, and the error-structure localisation."""

from __future__ import annotations

import math
import time

import numpy as np

from ..harness.tolerance import FLOORS
from . import wording
from .localise import DENSE_PE, SPARSE, Evidence, localise
from .measures import exceeds, has_positions, inspect_output, max_abs_difference, scale, top_section
from .pairs import PAIR, pair_candidates
from .phase import systematic_argument
from .precision import LOWER, declared_higher, rounding_pattern
from .records import Diagnosis, Score
from .runs import REFERENCE
from .variants import conventions_of

PARTIAL = 0.1  # a variant that leaves at most this fraction of the reference's error "explains most of it"


class OutputJudge:
    """Judges one failing output at a time against the variants of ``runs`` (a ``VariantRuns``);
    stops trying variants after ``seconds`` per output."""

    def __init__(self, runs, seconds, compute_dtype=None):
        self.runs = runs
        self.seconds = seconds
        self.compute_dtype = compute_dtype  # the dtype the port declares it computes in (None: not declared)
        self.suspects = []  # variants that matched earlier outputs of this run (tried in pairs)
        self.truncated = False

    def judge(self, case, output_key, got, variant, dtype, reference_error=math.inf, rounds=True):
        """(error, budget) of the port's output against one variant (budget None: not a candidate)."""
        runs = self.runs
        if output_key not in runs.touches(case, variant):  # known without running it
            return reference_error, None
        high = runs.variant_outputs(case, variant, "float64")
        if high is None or output_key not in high:
            return math.inf, None
        if runs.distance(case, variant, REFERENCE, output_key) == 0.0:  # the variant does not change this output here
            return reference_error, None
        if exceeds(got, high[output_key], reference_error):  # farther than the reference: not a candidate
            return math.inf, None
        error = max_abs_difference(got, high[output_key])
        if math.isinf(error) or error > reference_error:  # no closer than the reference itself
            return error, None
        if dtype != "float64" and runs.variant_outputs(case, variant, dtype) is None:
            return error, None
        return error, runs.budget(case, variant, output_key, dtype, rounds)

    def score(self, case, output_key, got, dtype, reference_error, variants, deadline, rounds=True) -> list[Score]:
        """Each variant's Score on this output, best first (ratio, then error, then catalogue order);
        ``rounds``: the port's error may be rounding (``VariantRuns.budget``'s allowance)."""
        scored = []
        for order, variant in enumerate(variants):
            if time.monotonic() > deadline:
                self.truncated = True
                break
            error, budget = self.judge(case, output_key, got, variant, dtype, reference_error, rounds)
            if math.isinf(error):
                continue
            ratio = error / budget if budget else math.inf
            scored.append(Score(ratio, error, order, variant, budget))
        scored.sort(key=lambda s: (s.ratio, s.error, s.order))
        return scored

    def expected(self, case, output_key, expected):
        if expected is not None:
            return np.asarray(expected, dtype=np.float64)
        reference = self.runs.variant_outputs(case, REFERENCE, "float64")
        if reference is not None and output_key in reference:
            return np.asarray(reference[output_key], dtype=np.float64)
        return np.asarray(case.expected[output_key], dtype=np.float64)

    def diagnose(self, case, output_key, got, expected, outputs) -> Diagnosis:
        self.truncated = False
        deadline = time.monotonic() + self.seconds
        expected = self.expected(case, output_key, expected)
        got, dtype, problem = inspect_output(got, expected.shape)
        if problem:
            return Diagnosis(summary=problem, verdict="not diagnosed")
        reference_error = max_abs_difference(got, expected)
        diagnosis = Diagnosis(reference_error=reference_error, dtype=dtype)
        evidence, argument = self.evidence(case, output_key, got, expected, dtype, outputs)
        diagnosis.localisation, diagnosis.localised_section = self.localise(evidence, argument)
        # the right sinusoids of a systematically wrong argument are no rounding (phase.py)
        precision = None if argument else self.precision(case, output_key, got, dtype, expected, reference_error)
        if precision and dtype == "float64" and self.float64_witness(case, output_key, outputs, dtype):
            precision = None  # a positional output of the same case is float64-accurate: not computed in float32
        diagnosis.precision = precision  # kept for the whole run, also where a variant that rounds matches
        if precision and dtype == "float64":  # float32 accuracy is far below any bug's error: say it at once
            diagnosis.verdict, diagnosis.section, diagnosis.summary = "precision", "§11.3", precision
            return diagnosis.make_finite()
        rounds = argument is None  # rounding otherwise than a variant that rounds on purpose is allowed
        scored = self.score(case, output_key, got, dtype, reference_error, self.runs.variants, deadline, rounds)
        matching = [s for s in scored if s.ratio <= 1.0]
        if not matching:  # two bugs at once?
            combined = pair_candidates(self.runs, case, output_key, scored, reference_error, self.suspects)
            pairs = self.score(case, output_key, got, dtype, reference_error, combined, deadline, rounds)
            pair_matching = [s for s in pairs if s.ratio <= 1.0]
            if pair_matching:
                matching, scored = pair_matching, sorted(pairs + scored, key=lambda s: (s.ratio, s.error, s.order))
        # a shape mismatch makes the reference error infinite: then measure against the output's scale
        yardstick = reference_error if math.isfinite(reference_error) else scale(expected)
        self.conclude(diagnosis, scored, matching, yardstick, precision)
        if self.truncated:
            diagnosis.summary += wording.truncated(self.seconds)
        return diagnosis.make_finite()

    def conclude(self, diagnosis, scored, matching, yardstick, precision) -> None:
        """Record the evidence and name what it supports: a match, a partial explanation, the
        precision, or nothing (with the closest variant, when it removes at least half of the error)."""
        by_error = sorted(scored, key=lambda s: (s.error, s.order))
        partial = [s for s in by_error if s.error <= PARTIAL * yardstick]
        closest = [s for s in by_error if s.error <= PAIR * yardstick]
        section = diagnosis.localised_section
        if closest and section and top_section(closest[0].variant.section) != top_section(section) and not partial:
            closest = []  # the error's structure points elsewhere: do not name an unrelated stage
        diagnosis.matching = [s.name for s in matching]
        diagnosis.partial = [s.name for s in partial]  # used by the whole-run summary
        diagnosis.candidates = [
            {"variant": s.name, "error": s.error, "ratio": None if math.isinf(s.ratio) else s.ratio} for s in scored[:3]
        ]
        diagnosis.scores = {s.name: [s.error, s.budget] for s in matching + partial}
        diagnosis.explanations = {
            s.name: [s.variant.explanation, s.variant.section] for s in matching + partial + closest[:1]
        }
        if matching:
            best = matching[0].name
            for name in best.split("+"):
                if name not in self.suspects:
                    self.suspects.append(name)
            diagnosis.name(best, "matches", others=[s.name for s in matching[1:]])
        elif partial:
            diagnosis.name(partial[0].name, "partial")
        elif precision:  # float32 output within float16's budget, and no variant explains it
            diagnosis.verdict, diagnosis.section, diagnosis.summary = "precision", "§11.3", precision
        else:
            if closest:
                diagnosis.closest, diagnosis.closest_error = closest[0].name, closest[0].error
            diagnosis.unexplained()

    def precision(self, case, output_key, got, dtype, expected, reference_error):
        """The dtype-awareness line when the output agrees with the reference only to the next lower
        precision, in size (k x that precision's faithful error + its floor) and in pattern (spread
        like its rounding), and the port declares no higher compute dtype; else None (``precision``)."""
        lower = LOWER.get(dtype)
        if lower is None or math.isinf(reference_error) or declared_higher(self.compute_dtype, lower):
            return None
        faithful = self.runs.distance(case, REFERENCE, REFERENCE, output_key, lower)
        rounded = self.runs.variant_outputs(case, REFERENCE, lower)
        if math.isinf(faithful) or rounded is None or output_key not in rounded:
            return None
        budget = self.runs.k * faithful + FLOORS[lower] * scale(expected)
        if reference_error > budget:
            return None
        if not rounding_pattern(got - expected, np.asarray(rounded[output_key], dtype=np.float64) - expected):
            return None
        return wording.precision(dtype, lower, reference_error, budget)

    def float64_witness(self, case, output_key, outputs, dtype) -> bool:
        """Whether another output of the case that float32 would round (the grid's sinusoids, positioned
        tokens) passes in float64: the port computes those in float64, not its whole run in float32."""
        others = [k for k in (SPARSE, DENSE_PE) if k != output_key and isinstance(outputs, dict) and k in outputs]
        return any(self.status(case, k, outputs[k], dtype) == "pass" for k in others)

    def status(self, case, key, value, dtype) -> str:
        """pass / fail / missing / n/a (nothing position-dependent to compare) for another output
        (remembered for the case's other failing outputs: the same array, while the case lasts)."""
        known = self.runs.case_arrays(case).setdefault("status", {})
        if (key, id(value)) in known and known[(key, id(value))][0] is value:
            return known[(key, id(value))][1]
        status = self._judge_status(case, key, value, dtype)
        known[(key, id(value))] = (value, status)
        return status

    def _judge_status(self, case, key, value, dtype) -> str:
        reference = self.runs.variant_outputs(case, REFERENCE, "float64")
        if reference is None or key not in reference:
            return "n/a"
        if key == SPARSE and not has_positions(case.inputs):
            return "n/a"
        if value is None or not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            return "missing"
        expected = reference[key]
        if value.shape != expected.shape:
            return "fail"
        budget = self.runs.budget(case, REFERENCE, key, dtype)
        if exceeds(value, expected, budget):
            return "fail"
        return "pass" if max_abs_difference(value.astype(np.float64), expected) <= budget else "fail"

    def evidence(self, case, output_key, got, expected, dtype, outputs):
        """(the ``Evidence`` the localisation reads, the ``phase.ArgumentFit`` of the output's positional
        encodings or None); (a line saying why, None) when they cannot be built."""
        try:
            others = {}
            needed = {SPARSE: DENSE_PE, DENSE_PE: SPARSE}.get(output_key)  # what the localisation compares with
            if needed and isinstance(outputs, dict) and needed in outputs:
                others[needed] = self.status(case, needed, outputs[needed], dtype)
            evidence = Evidence(
                key=output_key,
                got=got,
                expected=expected,
                tol=self.runs.budget(case, REFERENCE, output_key, dtype),
                trace=self.runs.reference_trace(case) if output_key in (SPARSE, DENSE_PE) else {},
                params={k: np.asarray(v, dtype=np.float64) for k, v in case.params.items()},
                conventions=conventions_of(self.runs.semantics),
                inputs=case.inputs,
                others=others,
            )
            return evidence, systematic_argument(
                output_key, got, expected, evidence.trace, evidence.conventions, case.inputs
            )
        except Exception as exc:
            return f"localisation failed: {type(exc).__name__}: {str(exc)[:200]}", None

    @staticmethod
    def localise(evidence, argument):
        """(lines, section) of the error's structure (``localise.py``); a failure there is a line."""
        if isinstance(evidence, str):
            return [evidence], None
        try:
            return localise(evidence, argument)
        except Exception as exc:
            return [f"localisation failed: {type(exc).__name__}: {str(exc)[:200]}"], None
