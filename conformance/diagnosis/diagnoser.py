"""Diagnosis: when a port fails an output, say which known divergence it matches, or where in the
algorithm it departs (docs/diagnosis.md).

For a failing output, the reference is re-run on the same case with each variant of the catalogue
(``variants.py``) switched on, and the port's output is judged against each variant with the
conformance tolerance model itself: the variant in float64 is the expectation and the variant run
in the port's dtype is the faithful run, so

    error  = max |port - variant_float64|
    budget = k * max |variant_D - variant_float64| + floor_D * max(1, max |variant_float64|)

and the port *matches* the variant when error <= budget.

- A variant that matches nothing is named as "closest" only when it removes at least half of the
  error (``PAIR``), and only when the error's structure does not point elsewhere.
- Pairs of variants (a port with two bugs, ``variants.compose``) are tried when nothing matches:
  each variant that removes at least half of the error with every other one; the few variants
  that reduce the error most, and those that matched earlier outputs of the run, with each other;
  and, for a shape mismatch (the reference error is infinite), the variants that give the port's
  shape, or else those that change the shape, with every other one.
- Every failing output also gets an error-structure localisation (``localise.py``): which tokens,
  channels or cells differ and the spec section that points to.
- Dtype awareness: a float64 output that is only float32-accurate (or a float32 one only
  float16-accurate) is said to be so, with what to do.

Robustness: the port's output is inspected (type, dtype, shape, size) before anything is converted;
``__call__`` never raises (a failure inside it is returned as "diagnosis failed: ..."); it keeps at
most one case's arrays (the variant outputs of the case being judged) and small per-output evidence
(names and numbers) for the whole-run summary; each call stops trying variants after ``seconds``.

``Diagnoser.reconcile(results, cases)`` then looks at the whole run: the variant that explains the
most failing outputs (ties broken by agreement with the outputs that passed), then the next one for
what remains, and so on; then the variants that explain most of the error of the rest; the rest by
the section their error structure points to. Each failing result's ``diagnosis`` is then replaced by
the one the whole-run summary gives it, so that the table, JSON, JUnit and HTML reports agree.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict

import numpy as np

from samspec.reference import OUTPUT_KEYS, SAMPromptEncoder
from samspec.reference.conventions import PROFILES, Conventions

from ..harness.tolerance import DEFAULT_K, FLOORS
from .localise import DENSE_PE, SPARSE, Evidence, localise, sample_view
from .variants import CATALOGUE, Variant, compose, conventions_of

REFERENCE = Variant("reference", "the reference itself", "", "none")  # for variants with `rounding`

PARTIAL = 0.1  # a variant that leaves at most this fraction of the reference's error "explains most of it"
PAIR = 0.5  # a variant must remove at least half of the error to be named as closest, or tried in pairs
SIZE_FACTOR = 4  # an output with more than this many times the expected values (+ SIZE_SLACK) is not diagnosed
SIZE_SLACK = 4096
SECONDS = 20.0  # per failing output: variants are no longer tried after this
ENCODERS = 512  # variant encoders kept across cases (parameters only; a few MB)
LOWER = {"float64": "float32", "float32": "float16"}  # dtype awareness: the precision one step down


def _spell(name: str) -> str:
    """`a` or, for two variants at once, `a` + `b`."""
    return " + ".join(f"`{part}`" for part in name.split("+"))


def _max_abs_difference(a, b) -> float:
    """max |a - b| over finite positions; inf if the shapes or the non-finite positions differ."""
    if a is b:
        return 0.0
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        largest = float(np.max(np.abs(a - b)))
    if math.isfinite(largest):  # the common case: everything finite
        return largest
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(finite_a, finite_b) or not np.array_equal(a[~finite_a], b[~finite_b]):
        return math.inf
    if not finite_a.any():
        return 0.0
    return float(np.max(np.abs(a[finite_a] - b[finite_a])))


SAMPLE = 1 << 16  # arrays larger than this are first compared on a strided sample (a lower bound)


def _exceeds(a, b, limit) -> bool:
    """Whether max |a - b| surely exceeds ``limit``, judged on a strided sample of a large array:
    the sample's maximum is a lower bound of the whole one, so True is exact and cheap."""
    if a.shape != b.shape or a.size <= SAMPLE or math.isinf(limit):
        return False
    with np.errstate(all="ignore"):
        return bool(np.any(np.abs(sample_view(a, SAMPLE) - sample_view(b, SAMPLE)) > limit))


def _scale(array) -> float:
    array = np.asarray(array)
    with np.errstate(all="ignore"):
        largest = float(np.max(np.abs(array))) if array.size else 0.0
    if not math.isfinite(largest):
        finite = array[np.isfinite(array)]
        largest = float(np.max(np.abs(finite))) if finite.size else 0.0
    return max(1.0, largest)


def _fmt(value) -> str:
    return "inf" if value is None or math.isinf(value) else f"{value:.2g}"


def _top(section) -> str | None:
    """§9.2 -> §9 (the spec's top-level section)."""
    return section.split(".")[0].split(",")[0].strip() if section else None


def inspect_output(got, expected_shape) -> tuple:
    """(array as float64, port dtype name, None) or (None, None, why it cannot be diagnosed), checked
    before any conversion: the type, the dtype and the size of the port's output."""
    if not isinstance(got, np.ndarray):
        return None, None, f"the output is a {type(got).__name__}, not an array: nothing to diagnose"
    if got.dtype.kind not in "fiub":
        return None, None, f"the output's dtype is {got.dtype} (not real numbers): nothing to diagnose"
    if got.dtype.kind == "f" and got.dtype.name not in FLOORS:
        return (
            None,
            None,
            (
                f"the output's dtype is {got.dtype}, which samspec does not judge: return float16, float32 "
                "or float64 (the dtype you compute in)"
            ),
        )
    if got.dtype.kind == "f" and not np.all(np.isfinite(got)):
        bad = np.argwhere(~np.isfinite(got))
        return (
            None,
            None,
            (
                f"{len(bad)} of {got.size} values are NaN or infinite (first at {tuple(int(i) for i in bad[0])}): "
                "find the stage that makes them (samspec check --trace, docs/diagnosis.md)"
            ),
        )
    expected_size = int(np.prod(expected_shape)) if expected_shape is not None else 0
    if got.size > SIZE_FACTOR * expected_size + SIZE_SLACK:
        return (
            None,
            None,
            (
                f"the output holds {got.size} values (shape {got.shape}) where {expected_size} are "
                f"expected (shape {tuple(expected_shape)}): too large to diagnose"
            ),
        )
    dtype = got.dtype.name if got.dtype.name in FLOORS else "float32"
    return np.array(got, dtype=np.float64, order="C"), dtype, None


class Diagnoser:
    """``diagnose(case, output_key, got, expected=None, outputs=None) -> dict``; see the module docstring.

    ``profile``: the port's profile; divergences it declares are not offered as explanations, and
    variants are built on its reference conventions (``profile.semantics``, default `sam`).
    ``cache``: a dict shared between diagnosers of the same semantics (the self-test shares one).
    """

    def __init__(
        self, profile=None, variants=None, k: float = DEFAULT_K, cache=None, semantics=None, seconds: float = SECONDS
    ):
        declared = {
            getattr(d, "name", d) for d in getattr(profile, "divergences", ()) or ()
        }  # names or Divergence objects
        self.variants = [v for v in (variants if variants is not None else CATALOGUE) if v.name not in declared]
        self.by_name = {v.name: v for v in self.variants}
        self.k = k
        self.seconds = seconds
        # a name of the reference's conventions, or a user's Conventions object (issue 15: user profiles)
        self.semantics = semantics or getattr(profile, "semantics", None) or "sam"
        self._problem = None  # a diagnoser that cannot work says so on every call, never raises
        if not isinstance(self.semantics, Conventions) and self.semantics not in PROFILES:
            self._problem = (
                f"semantics: expected one of {sorted(PROFILES)} or a Conventions object; received {self.semantics!r}"
            )
            self.semantics = "sam"
        self._semantics_key = (
            self.semantics if isinstance(self.semantics, str) else f"{self.semantics.name}@{id(self.semantics)}"
        )
        self.cache = cache if cache is not None else {}
        self._arrays = self.cache.setdefault("arrays", {"case": None, "values": {}})  # one case's arrays at a time
        self._scalars = self.cache.setdefault("scalars", {})  # (case, variant, dtype, output, what) -> float
        self.records = {}  # (case id, output) -> the diagnosis dict (small: names and numbers)
        self._suspects = []  # variants that matched earlier outputs of this run (tried in pairs)

    # -- variant outputs (one case's arrays at a time) ----------------------------------------------------

    def _case_arrays(self, case) -> dict:
        key = (case.id, self._semantics_key)
        if self._arrays["case"] != key:
            self._arrays["case"], self._arrays["values"] = key, {}
        return self._arrays["values"]

    def variant_outputs(self, case, variant, dtype: str):
        """The variant's three outputs on this case in ``dtype`` (None if the variant cannot run)."""
        values = self._case_arrays(case)
        key = (variant.name, dtype)
        if key not in values:
            try:
                encoder = self._encoder(case, variant, dtype)
                outputs = variant.run(
                    case.config, case.params, case.inputs, dtype, encoder=encoder, semantics=self.semantics
                )
            except Exception:  # a variant that does not apply to this case (e.g. W - 1 = 0)
                outputs = None
            if outputs is not None and variant is not REFERENCE:  # share the reference's arrays where equal
                reference = self.variant_outputs(case, REFERENCE, dtype)
                for name, value in (reference or {}).items():
                    if name in outputs and outputs[name].shape == value.shape and np.array_equal(outputs[name], value):
                        outputs[name] = value
            values[key] = outputs
        return values[key]

    def _encoder(self, case, variant, dtype):
        """The variant's encoder for this case's configuration and parameters; the last ENCODERS are
        kept (they hold parameters only), since many cases share a configuration."""
        fingerprints = self.cache.setdefault("fingerprints", {})
        if id(case.params) not in fingerprints:
            digest = hashlib.sha1(json.dumps(case.config, sort_keys=True, default=list).encode())
            for name in sorted(case.params):
                digest.update(name.encode() + np.ascontiguousarray(case.params[name], dtype=np.float64).tobytes())
            fingerprints[id(case.params)] = (digest.hexdigest(), case.params)  # the params stay alive: ids stay unique
        encoders = self.cache.setdefault("encoders", OrderedDict())
        key = (variant.name, dtype, self._semantics_key, fingerprints[id(case.params)][0])
        if key in encoders:
            encoders.move_to_end(key)
            return encoders[key]
        encoder = variant.encoder(case.config, case.params, dtype, self.semantics)
        encoders[key] = encoder
        if len(encoders) > ENCODERS:
            encoders.popitem(last=False)
        return encoder

    def reference_trace(self, case) -> dict:
        values = self._case_arrays(case)
        if "trace" not in values:
            encoder = SAMPromptEncoder(**case.config, params=case.params, dtype="float64", profile=self.semantics)
            values["trace"] = {k: np.asarray(v) for k, v in encoder.trace(**case.inputs).items()}
        return values["trace"]

    def _scalar(self, case, what, compute):
        key = (case.id, self._semantics_key) + what
        if key not in self._scalars:
            self._scalars[key] = compute()
        return self._scalars[key]

    def distance(self, case, a, b, output_key, dtype="float64", other_dtype="float64") -> float:
        """max |a in dtype - b in other_dtype| on this case's output (scalar, cached; inf: shapes differ)."""

        def compute():
            first, second = self.variant_outputs(case, a, dtype), self.variant_outputs(case, b, other_dtype)
            if first is None or second is None or output_key not in first or output_key not in second:
                return math.inf
            return _max_abs_difference(first[output_key], second[output_key])

        return self._scalar(case, (a.name, b.name, dtype, other_dtype, output_key, "distance"), compute)

    def _variant_scale(self, case, variant, output_key) -> float:
        def compute():
            high = self.variant_outputs(case, variant, "float64")
            return _scale(high[output_key]) if high is not None and output_key in high else 1.0

        return self._scalar(case, (variant.name, output_key, "scale"), compute)

    def budget(self, case, variant, output_key, dtype) -> float:
        """k x the variant's own error in ``dtype`` + floor: the tolerance model around the variant."""
        faithful = 0.0 if dtype == "float64" else self.distance(case, variant, variant, output_key, dtype)
        faithful = 0.0 if math.isinf(faithful) else faithful
        budget = self.k * faithful + FLOORS.get(dtype, FLOORS["float32"]) * self._variant_scale(
            case, variant, output_key
        )
        if variant.rounding:  # it rounds on purpose; another order of operations rounds otherwise:
            # allow what that rounding itself changes (the rounding variant alone against the reference)
            for part in variant.name.split("+"):
                single = self.by_name.get(part)
                if single is not None and single.rounding and dtype != "float64":
                    own = self.distance(case, single, REFERENCE, output_key, dtype, dtype)
                    budget += 0.0 if math.isinf(own) else self.k * own  # k x its error, as for any faithful run
        return budget

    def _touches(self, case, variant) -> frozenset:
        """The outputs the variant can change on this case (``Variant.touches``; every output for a pair)."""

        def compute():
            parts = [self.by_name.get(p, REFERENCE if p == "reference" else None) for p in variant.name.split("+")]
            if variant is REFERENCE or any(p is None for p in parts):
                return frozenset(OUTPUT_KEYS)
            found = frozenset()
            for part in parts:
                found |= part.touches(case.params, case.inputs)
            return found

        return self._scalar(case, (variant.name, "touches"), compute)

    def judge(self, case, output_key, got, variant, dtype, reference_error=math.inf):
        """(error, budget) of the port's output against one variant (budget None: not a candidate)."""
        if output_key not in self._touches(case, variant):  # known without running it
            return reference_error, None
        high = self.variant_outputs(case, variant, "float64")
        if high is None or output_key not in high:
            return math.inf, None
        if self.distance(case, variant, REFERENCE, output_key) == 0.0:  # the variant does not change this output here
            return reference_error, None
        if _exceeds(got, high[output_key], reference_error):  # farther than the reference: not a candidate
            return math.inf, None
        error = _max_abs_difference(got, high[output_key])
        if math.isinf(error) or error > reference_error:  # no closer than the reference itself
            return error, None
        if dtype != "float64" and self.variant_outputs(case, variant, dtype) is None:
            return error, None
        return error, self.budget(case, variant, output_key, dtype)

    # -- one failing output -------------------------------------------------------------------------------

    def _score(self, case, output_key, got, dtype, reference_error, variants, deadline):
        scored = []
        for order, variant in enumerate(variants):
            if time.monotonic() > deadline:
                self._truncated = True
                break
            error, budget = self.judge(case, output_key, got, variant, dtype, reference_error)
            if math.isinf(error):
                continue
            ratio = error / budget if budget else math.inf
            scored.append((ratio, error, order, variant, budget))
        scored.sort(key=lambda s: (s[0], s[1], s[2]))
        return scored

    def _compose(self, a, b):
        order = {v.name: i for i, v in enumerate(self.variants)}
        first, second = sorted((a, b), key=lambda v: order.get(v.name, 0))  # a+b and b+a are one name
        pairs = self.cache.setdefault("pairs", {})
        key = (first.name, second.name)
        if key not in pairs:
            pairs[key] = compose(first, second)
        return pairs[key]

    def _pair_candidates(self, case, output_key, scored, reference_error):
        """Pairs worth trying when no single variant matches (see the module docstring)."""
        singles = [s for s in scored if "+" not in s[3].name]
        by_error = sorted(singles, key=lambda s: (s[1], s[2]))
        yardstick = reference_error if math.isfinite(reference_error) else math.inf
        firsts = [s[3] for s in by_error if s[1] <= PAIR * yardstick][:2]
        partners = self.variants
        if math.isinf(reference_error) and not firsts:  # a shape mismatch that no single variant gives:
            # only two shape-changing variants together can give a third shape
            partners = [
                v
                for v in self.variants
                if output_key in self._touches(case, v) and math.isinf(self.distance(case, v, REFERENCE, output_key))
            ]
            firsts = partners[:3]
        left = {s[3].name: s[1] for s in singles}
        among = [s[3] for s in by_error if s[1] <= 0.9 * reference_error][:3]  # each removes a tenth at least
        among += [
            self.by_name[n]
            for n in self._suspects
            if n in self.by_name and self.by_name[n] not in among and left.get(n, math.inf) < reference_error
        ][:3]
        pairs, seen = [], set()
        for first in firsts:
            for other in partners:
                if other is first:
                    continue
                # what ``other`` changes must be of the size of what ``first`` leaves (an upper bound
                # when the two change different stages): 1/2 to 2 times, or any size for a shape mismatch
                if output_key not in self._touches(case, other):
                    continue
                change = self.distance(case, other, REFERENCE, output_key)
                rest = left.get(first.name, math.inf)
                if change == 0.0 or not (math.isinf(rest) or math.isinf(change) or rest / 2 <= change <= 2 * rest):
                    continue
                pairs.append((first, other))
        for i, a in enumerate(among):
            for b in among[i + 1 :]:
                pairs.append((a, b))
        out = []
        for a, b in pairs:
            combined = self._compose(a, b)
            if combined is not None and combined.name not in seen:
                seen.add(combined.name)
                out.append(combined)
        return out

    def __call__(self, case, output_key, got, expected=None, outputs=None) -> dict:
        """The diagnosis of one failing output; never raises (a failure is reported in "summary")."""
        try:
            if self._problem:
                raise ValueError(self._problem)
            diagnosis = self._diagnose(case, output_key, got, expected, outputs)
        except Exception as exc:  # the verdict stands; the report says the diagnosis failed
            diagnosis = _blank(f"diagnosis failed: {type(exc).__name__}: {str(exc)[:300]}")
            diagnosis["verdict"] = "failed"
        try:
            self.records[(case.id, output_key)] = diagnosis
        except Exception:
            pass
        return diagnosis

    def _expected(self, case, output_key, expected):
        if expected is not None:
            return np.asarray(expected, dtype=np.float64)
        reference = self.variant_outputs(case, REFERENCE, "float64")
        if reference is not None and output_key in reference:
            return np.asarray(reference[output_key], dtype=np.float64)
        return np.asarray(case.expected[output_key], dtype=np.float64)

    def _diagnose(self, case, output_key, got, expected, outputs) -> dict:
        self._truncated = False
        deadline = time.monotonic() + self.seconds
        expected = self._expected(case, output_key, expected)
        got, dtype, problem = inspect_output(got, expected.shape)
        if problem:
            diagnosis = _blank(problem)
            diagnosis["verdict"] = "not diagnosed"
            return diagnosis
        reference_error = _max_abs_difference(got, expected)
        diagnosis = _blank(None)
        diagnosis.update(reference_error=reference_error, dtype=dtype)
        precision = self._precision(case, output_key, got, dtype, expected, reference_error)
        if precision and dtype == "float64":  # float32 accuracy is far below any bug's error: say it at once
            diagnosis.update(verdict="precision", section="§11.3", summary=precision)
            return _finite(diagnosis)
        localisation, section = self._localise(case, output_key, got, expected, dtype, outputs)
        diagnosis.update(localisation=localisation, localised_section=section)
        scored = self._score(case, output_key, got, dtype, reference_error, self.variants, deadline)
        matching = [s for s in scored if s[0] <= 1.0]
        if not matching:  # two bugs at once?
            combined = self._pair_candidates(case, output_key, scored, reference_error)
            pairs = self._score(case, output_key, got, dtype, reference_error, combined, deadline)
            pair_matching = [s for s in pairs if s[0] <= 1.0]
            if pair_matching:
                matching, scored = pair_matching, sorted(pairs + scored, key=lambda s: (s[0], s[1], s[2]))
        by_error = sorted(scored, key=lambda s: (s[1], s[2]))
        # a shape mismatch makes the reference error infinite: then measure against the output's scale
        yardstick = reference_error if math.isfinite(reference_error) else _scale(expected)
        partial = [s for s in by_error if s[1] <= PARTIAL * yardstick]
        closest = [s for s in by_error if s[1] <= PAIR * yardstick]
        if closest and section and _top(closest[0][3].section.split(",")[0]) != _top(section) and not partial:
            closest = []  # the error's structure points elsewhere: do not name an unrelated stage
        diagnosis.update(
            matching=[s[3].name for s in matching],
            partial=[s[3].name for s in partial],  # used by the whole-run summary
            candidates=[
                {"variant": s[3].name, "error": s[1], "ratio": None if math.isinf(s[0]) else s[0]} for s in scored[:3]
            ],
            scores={s[3].name: [s[1], s[4]] for s in matching + partial},
            explanations={s[3].name: [s[3].explanation, s[3].section] for s in matching + partial + closest[:1]},
        )
        if matching:
            best = matching[0][3].name
            for name in best.split("+"):
                if name not in self._suspects:
                    self._suspects.append(name)
            _name(diagnosis, best, "matches", others=[s[3].name for s in matching[1:]])
        elif partial:
            _name(diagnosis, partial[0][3].name, "partial")
        elif precision:  # float32 output within float16's budget, and no variant explains it
            diagnosis.update(verdict="precision", section="§11.3", summary=precision)
        else:
            if closest:
                diagnosis["closest"] = closest[0][3].name
                diagnosis["closest_error"] = closest[0][1]
            _unexplained(diagnosis)
        if self._truncated:
            diagnosis["summary"] += f" (stopped trying variants after {self.seconds:g} s)"
        return _finite(diagnosis)

    def _precision(self, case, output_key, got, dtype, expected, reference_error):
        """The dtype-awareness line when the output agrees with the reference only to the next lower
        precision (k x that precision's faithful error + its floor), else None."""
        lower = LOWER.get(dtype)
        if lower is None or math.isinf(reference_error):
            return None
        faithful = self.distance(case, REFERENCE, REFERENCE, output_key, lower)
        if math.isinf(faithful):
            return None
        budget = self.k * faithful + FLOORS[lower] * _scale(expected)
        if reference_error > budget:
            return None
        return (
            f"your outputs are {dtype} but only {lower}-accurate (max|err| {_fmt(reference_error)}, within the "
            f"{lower} budget {_fmt(budget)}): return {lower} outputs, or compute in {dtype} (§11.3, docs/tolerances.md)"
        )

    def _status(self, case, key, value, dtype) -> str:
        """pass / fail / missing / n/a (nothing position-dependent to compare) for another output
        (remembered for the case's other failing outputs: the same array, while the case lasts)."""
        values = self._case_arrays(case)
        known = values.setdefault("status", {})
        if (key, id(value)) in known and known[(key, id(value))][0] is value:
            return known[(key, id(value))][1]
        status = self._judge_status(case, key, value, dtype)
        known[(key, id(value))] = (value, status)
        return status

    def _judge_status(self, case, key, value, dtype) -> str:
        reference = self.variant_outputs(case, REFERENCE, "float64")
        if reference is None or key not in reference:
            return "n/a"
        if key == SPARSE and not _has_positions(case.inputs):
            return "n/a"
        if value is None or not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            return "missing"
        expected = reference[key]
        if value.shape != expected.shape:
            return "fail"
        budget = self.budget(case, REFERENCE, key, dtype)
        if _exceeds(value, expected, budget):
            return "fail"
        return "pass" if _max_abs_difference(value.astype(np.float64), expected) <= budget else "fail"

    def _localise(self, case, output_key, got, expected, dtype, outputs):
        try:
            others = {}
            needed = {SPARSE: DENSE_PE, DENSE_PE: SPARSE}.get(output_key)  # what the localisation compares with
            if needed and isinstance(outputs, dict) and needed in outputs:
                others[needed] = self._status(case, needed, outputs[needed], dtype)
            evidence = Evidence(
                key=output_key,
                got=got,
                expected=expected,
                tol=self.budget(case, REFERENCE, output_key, dtype),
                trace=self.reference_trace(case) if output_key == SPARSE else {},
                params={k: np.asarray(v, dtype=np.float64) for k, v in case.params.items()},
                conventions=conventions_of(self.semantics),
                inputs=case.inputs,
                others=others,
            )
            return localise(evidence)
        except Exception as exc:
            return [f"localisation failed: {type(exc).__name__}: {str(exc)[:200]}"], None

    # -- the whole run ------------------------------------------------------------------------------------

    def _variant(self, name):
        parts = [self.by_name[part] for part in name.split("+")]
        return parts[0] if len(parts) == 1 else self._compose(*parts)

    def _contradictions(self, names, results, cases_by_id) -> dict:
        """For each name, how many passing outputs the variant would have failed (it differs from the
        reference there by more than that output's budget). Case by case: one case's arrays at a time."""
        counts = {name: 0 for name in names}
        passing = {}
        for result in results:
            if result.verdict == "pass" and result.budget is not None and result.case in cases_by_id:
                passing.setdefault(result.case, []).append(result)
        for case_id, rows in passing.items():
            case = cases_by_id[case_id]
            for name in names:
                variant = self._variant(name)
                for result in rows:
                    if (
                        result.output in self._touches(case, variant)
                        and self.distance(case, variant, REFERENCE, result.output) > result.budget
                    ):
                        counts[name] += 1
        return counts

    def _consistent(self, name, results, cases_by_id) -> bool:
        """Whether the variant agrees with every output the port passed (a variant that would fail an
        output the port passes is not the port's bug, however many failing outputs it matches)."""
        if not cases_by_id or any(part not in self.by_name for part in name.split("+")):
            return True
        if "+" in name:  # a pair agrees with what passed when each of its parts does
            return all(self._consistent(part, results, cases_by_id) for part in name.split("+"))
        known = self._verdicts.get(name)
        if known is None:
            known = self._verdicts[name] = self._contradictions([name], results, cases_by_id)[name] == 0
        return known

    def _greedy(self, keys, field, results, cases_by_id, strict=True, total=None):
        """Cover ``keys`` (failing outputs) with variants listed in each record's ``field``: the one in
        the most records first; ties go to the one that is the closest match in more records, then to
        the one that contradicts fewer passing outputs, then to catalogue order. ``strict``: only
        variants consistent with every passing output; otherwise an inconsistent one too, if it covers
        at least half of the ``total`` failing outputs (the port does it for some inputs only)."""
        order = {v.name: i for i, v in enumerate(self.variants)}
        order_of = lambda name: (name.count("+"), order.get(name.split("+")[0], 0))  # single variants first
        remaining, chosen, cover = set(keys), [], {}
        allowed = (lambda n: self._consistent(n, results, cases_by_id)) if strict else (lambda n: True)
        while remaining:
            counts, firsts = {}, {}
            for key in remaining:
                names = [n for n in self.records[key].get(field) or [] if allowed(n)]
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
                contradictions = self._contradictions(tied, results, cases_by_id)
                tied.sort(key=lambda n: (contradictions[n], order_of(n)))
            best = tied[0]
            if not strict and 2 * top < (total or len(keys)):
                break  # an inconsistent variant that explains a minority is a coincidence, not a diagnosis
            covered = {key for key in remaining if best in (self.records[key].get(field) or [])}
            for key in covered:
                cover[key] = (best, best)
            if (
                "+" in best and field == "matching"
            ):  # rows one part explains alone, where the pair gives the same output
                parts = best.split("+")
                pair = self._variant(best)
                for key in sorted(remaining - covered):
                    case = cases_by_id.get(key[0])
                    alone = [p for p in parts if p in (self.records[key].get(field) or [])]
                    if (
                        case is not None
                        and alone
                        and pair is not None
                        and self.distance(case, pair, self._variant(alone[0]), key[1]) == 0.0
                    ):
                        covered.add(key)
                        cover[key] = (best, alone[0])
            parts = [self.by_name[part] for part in best.split("+") if part in self.by_name]
            contradicted = (
                0 if strict else self._contradictions([best], results, cases_by_id)[best] if cases_by_id else 0
            )
            chosen.append(
                {
                    "variant": best,
                    "count": len(covered),
                    "explanation": "; and ".join(p.explanation for p in parts),
                    "section": ", ".join(p.section for p in parts),
                    "tied_with": tied[1:],
                    "contradicts": contradicted,
                }
            )
            remaining -= covered
        return chosen, remaining, cover

    def reconcile(self, results, cases=None) -> dict | None:
        """The whole-run diagnosis (see the module docstring); sets each failing result's ``diagnosis``
        to the one the summary gives it. Returns {"summary": text, "lines", "explained", "partly",
        "precision", "unexplained", "failing", "section", "localisation"}, or None without failures."""
        failing = [(r.case, r.output) for r in results if r.verdict == "fail" and (r.case, r.output) in self.records]
        if not failing:
            return None
        cases_by_id = {c.id: c for c in cases or ()}
        self._verdicts = {}  # variant name -> consistent with the outputs that passed (this run)
        total = len(failing)
        precise = [key for key in failing if self.records[key].get("verdict") == "precision"]
        usable = [
            key
            for key in failing
            if key not in precise and self.records[key].get("verdict") not in ("failed", "not diagnosed")
        ]
        explained, remaining, cover = self._greedy(usable, "matching", results, cases_by_id)
        # a variant that matches outputs although the port passes others it changes: the port does it in part
        in_part, remaining, in_part_cover = self._greedy(
            remaining, "matching", results, cases_by_id, strict=False, total=total
        )
        partly, remaining, partly_cover = self._greedy(remaining, "partial", results, cases_by_id)
        remaining |= set(failing) - set(usable) - set(precise)
        lines, named = [], set()
        if precise:
            lines.append(f"diagnosis: {len(precise)} of {total} failing outputs: {self.records[precise[0]]['summary']}")
        for entry in explained:
            name = entry["variant"]
            parts = name.split("+")
            spelled = f"variants {_spell(name)} together" if "+" in name else f"variant {_spell(name)}"
            if len(parts) > 1 and set(parts) <= named:  # both named above: these outputs need both at once
                spelled = f"both variants {_spell(name)} at once"
            elif len(parts) > 1 and named & set(parts):  # one part was named above
                new = [p for p in parts if p not in named]
                spelled = (
                    f"variant {_spell('+'.join(new))} on top of {_spell('+'.join(p for p in parts if p not in new))}"
                )
            named.update(parts)
            if not lines:
                verb = (
                    "all failures are"
                    if entry["count"] == total
                    else "most failures are"
                    if 2 * entry["count"] > total
                    else "the largest share of failures is"
                )
                lines.append(
                    f"diagnosis: {verb} explained by {spelled} ({entry['count']} of {total}): "
                    f"{entry['explanation']} ({entry['section']})"
                )
            else:
                lines.append(
                    f"           then {spelled} ({entry['count']} of {total}): {entry['explanation']} "
                    f"({entry['section']})"
                )
        for entry in in_part:
            lead = "diagnosis:" if not lines else "          "
            lines.append(
                f"{lead} closest known variant for {entry['count']} of {total} is `{entry['variant']}`, which "
                f"matches them but would also fail {entry['contradicts']} output(s) that pass: your port does "
                f"this for some inputs only: {entry['explanation']} ({entry['section']})"
            )
        for entry in partly:
            lead = "diagnosis:" if not lines else "          "
            lines.append(
                f"{lead} closest known variant for {entry['count']} of {total} is `{entry['variant']}`, but not "
                f"within tolerance (something else differs too): {entry['explanation']} ({entry['section']})"
            )
        where = _where(self.records, remaining)
        if remaining:
            lead = "diagnosis:" if not lines else "          "
            what = "no known variant explains any of the" if not lines else "no known variant explains"
            count = f"{total} failing outputs" if not lines else f"{len(remaining)} of {total} failing outputs"
            lines.append(
                f"{lead} {what} {count}"
                + (f"; their error structure points to {where[0]}: {where[1]}" if where else "")
            )
        section = (
            explained[0]["section"]
            if explained
            else in_part[0]["section"]
            if in_part
            else partly[0]["section"]
            if partly
            else self.records[precise[0]]["section"]
            if precise
            else where[0]
            if where
            else None
        )
        traced = {}  # the first departing stage of `check --trace`, for outputs no variant explains
        for result in results:
            trace = getattr(result, "trace", None)
            if (result.case, result.output) in remaining and isinstance(trace, dict) and trace.get("first_departing"):
                traced[(result.case, result.output)] = trace
        if traced:
            stages = {}
            for trace in traced.values():
                stages[trace["first_departing"]] = stages.get(trace["first_departing"], 0) + 1
            stage = max(stages, key=stages.get)
            example = next(t for t in traced.values() if t["first_departing"] == stage)
            lines.append(
                f"           `--trace`: the first stage that departs is {stage} ({example.get('section')}) "
                f"in {stages[stage]} of {len(traced)} traced outputs"
            )
            section = example.get("section") or section
        for result in results:
            key = (result.case, result.output)
            if key not in failing:
                continue
            record = dict(self.records[key])
            if key in traced:  # the reports print the trace itself; the diagnosis takes its section
                record["localised_section"] = traced[key].get("section") or record.get("localised_section")
            if key in cover:
                _name(record, cover[key][0], "matches", numbers=cover[key][1])
            elif key in in_part_cover:
                _name(record, in_part_cover[key][0], "matches", numbers=in_part_cover[key][1])
                record["verdict"] = "in part"
                record["summary"] += (
                    " (but your port passes outputs this variant would fail: it does this in part only)"
                )
            elif key in partly_cover:
                _name(record, partly_cover[key][0], "partial")
            elif record.get("verdict") in ("matches", "partial", "none"):
                record.pop("closest", None)  # only the whole run names variants
                _unexplained(record)
            result.diagnosis = record
        return {
            "summary": "\n".join(lines),
            "lines": lines,
            "explained": explained,
            "in_part": in_part,
            "partly": partly,
            "precision": len(precise),
            "unexplained": sorted(remaining),
            "failing": total,
            "section": section,
            "localisation": [where[1]] if where else [],
        }

    def port_diagnosis(self, results, cases=None) -> dict | None:
        """The whole-run diagnosis (``reconcile``), kept under its earlier name."""
        return self.reconcile(results, cases)

    def port_summary(self, results, cases=None) -> str | None:
        overall = self.reconcile(results, cases)
        return overall["summary"] if overall else None


# -- diagnosis dicts ---------------------------------------------------------------------------------------


def _blank(summary) -> dict:
    return {
        "verdict": "none",
        "variant": None,
        "explanation": None,
        "section": None,
        "error": None,
        "budget": None,
        "ratio": None,
        "reference_error": None,
        "matching": [],
        "partial": [],
        "candidates": [],
        "scores": {},
        "explanations": {},
        "summary": summary,
        "localisation": [],
        "localised_section": None,
        "dtype": None,
    }


def _finite(diagnosis) -> dict:
    for key in ("reference_error", "error", "budget", "ratio", "closest_error"):  # strict JSON has no Infinity
        value = diagnosis.get(key)
        if value is not None and not math.isfinite(value):
            diagnosis[key] = None
    for entry in diagnosis.get("candidates", ()):
        for key in ("error", "ratio"):
            if entry[key] is not None and not math.isfinite(entry[key]):
                entry[key] = None
    diagnosis["scores"] = {
        n: [None if v is None or not math.isfinite(v) else v for v in pair]
        for n, pair in diagnosis.get("scores", {}).items()
    }
    return diagnosis


def _name(diagnosis, name, verdict, others=(), numbers=None):
    """Set the diagnosis to "matches"/"partial" variant ``name`` (numbers from record ``numbers``)."""
    error, budget = (diagnosis.get("scores") or {}).get(numbers or name, [None, None])
    explanation, section = (diagnosis.get("explanations") or {}).get(name) or _explain(name)
    ratio = error / budget if error is not None and budget else None
    diagnosis.update(
        verdict=verdict, variant=name, explanation=explanation, section=section, error=error, budget=budget, ratio=ratio
    )
    if verdict == "matches":
        also = (
            f" (equally: {', '.join(_spell(n) for n in others[:2])}{', ...' if len(others) > 2 else ''})"
            if others
            else ""
        )
        together = " together" if "+" in name else ""
        numbers_text = f" (ratio {ratio:.2g} of budget)" if ratio is not None else ""
        diagnosis["summary"] = (
            f"matches variant {_spell(name)}{together}{numbers_text}{also}: {explanation} ({section})"
        )
    else:
        diagnosis["summary"] = (
            f"closest known variant is {_spell(name)}, which leaves max|err| {_fmt(error)} of "
            f"{_fmt(diagnosis.get('reference_error'))} (still over budget: something else differs too): "
            f"{explanation} ({section})"
        )


def _explain(name):
    from .variants import VARIANTS

    parts = [VARIANTS[p] for p in name.split("+") if p in VARIANTS]
    return "; and ".join(p.explanation for p in parts), ", ".join(p.section for p in parts)


def _unexplained(diagnosis):
    closest = diagnosis.get("closest")
    hint = ""
    if closest:
        hint = f"; closest: {_spell(closest)}, which leaves max|err| {_fmt(diagnosis.get('closest_error'))}"
    diagnosis.update(
        verdict="none",
        variant=None,
        explanation=None,
        error=None,
        budget=None,
        ratio=None,
        section=diagnosis.get("localised_section"),
    )
    section = diagnosis.get("localised_section")
    diagnosis["summary"] = (
        f"no known variant explains this (max|err| {_fmt(diagnosis.get('reference_error'))} against "
        f"the reference{hint})" + (f"; its structure points to {section}" if section else "")
    )


def _where(records, keys):
    """(section, line) that most of these outputs' localisations point to, or None."""
    counts, first_line = {}, {}
    for key in keys:
        record = records.get(key) or {}
        section = record.get("localised_section")
        if section:
            counts[section] = counts.get(section, 0) + 1
            first_line.setdefault(section, next((l for l in record.get("localisation") or [] if section in l), ""))
    if not counts:
        return None
    best = max(counts, key=lambda s: (counts[s], s))
    return best, first_line[best]


def _has_positions(inputs) -> bool:
    """Whether the sparse output holds a token that depends on a coordinate."""
    labels = inputs.get("labels")
    return inputs.get("boxes") is not None or (
        labels is not None and np.size(labels) > 0 and bool(np.any(np.asarray(labels) != -1))
    )


def make_diagnoser(profile=None, k: float = DEFAULT_K, cache=None) -> Diagnoser:
    """The diagnoser `samspec check` uses: every catalogue variant not declared by ``profile``."""
    return Diagnoser(profile, k=k, cache=cache)
