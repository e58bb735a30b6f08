"""`samspec check`: run a port over the fixtures and compare every output with the reference.

case -> profile.to_port -> adapter.run -> profile.from_port -> compare (tolerance model)
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from samspec.reference import OUTPUT_KEYS, SHORT_NAMES, SAMPromptEncoder

from ..port_text import cap_text, describe_exception
from ..profiles.profile import NotApplicable
from .isolation import (
    OUTPUT_FACTOR,
    OUTPUT_SLACK,
    ConversionError,
    MissingDependency,
    PortFailure,
    time_limit,
    wrap_adapter,
)
from .tolerance import DEFAULT_K, compare, dtype_name, lower_precision, perturb
from .xfail import match

TRACE_PER_SECTION = 3  # failing cases traced per spec section by default (`--no-trace`: none)
SHORT = SHORT_NAMES  # the short output names, from samspec.reference (old import path)


@dataclass
class Result:
    case: str
    output: str
    verdict: str  # pass, fail, error, n/a, xfail, xpass
    sections: list = field(default_factory=list)
    error: float | None = None
    budget: float | None = None
    ratio: float | None = None
    worst_index: list | None = None
    expected_at_worst: float | None = None
    got_at_worst: float | None = None
    dtype: str | None = None
    message: str = ""
    diagnosis: dict | None = None
    captured: str = ""  # what the port printed while this case ran (shared by the case's outputs)
    duration_s: float = 0.0  # this output's share of the case's time (port, comparison, diagnosis)
    fixture_error: bool = False  # the fixture case itself is broken: the run exits 2
    trace: dict | None = None  # stage by stage comparison (`check --trace`)
    judged_dtype: str | None = None  # the dtype whose faithful error and floor made the budget

    @property
    def test_id(self) -> str:
        return f"{self.case}::{self.output}"


def _all_outputs(case, verdict, message, **extra):
    return [Result(case.id, key, verdict, list(case.sections), message=message, **extra) for key in OUTPUT_KEYS]


def semantics_of(profile) -> str:
    """The reference conventions whose outputs a profile's port must reproduce (default `sam`)."""
    return getattr(profile, "semantics", None) or "sam"


def expected_outputs(case, semantics: str = "sam") -> dict:
    """The float64 reference on the case's stored inputs and parameters under ``semantics``: what a
    port is judged against. Never the stored expected values (the fixture self-check compares those
    with this same computation). Raises ValueError when the inputs mean nothing under ``semantics``."""
    stored = getattr(case, "reference", None)
    if stored and semantics == getattr(case, "semantics", "sam"):  # case.reference follows the case's semantics
        return stored
    encoder = SAMPromptEncoder(**case.config, params=case.params, dtype="float64", profile=semantics)
    return {k: np.asarray(v) for k, v in encoder(**case.inputs).items()}


def _faithful(case, dtype, cache, semantics="sam"):
    """The tolerance model's yardsticks for this case in ``dtype`` (docs/tolerances.md): the
    reference run entirely in ``dtype``, and the float64 reference on inputs moved by one unit in
    the last place of ``dtype``. Returns {output key: [run, ...]}."""
    key = (case.id, dtype, semantics)
    if key not in cache:
        low = SAMPromptEncoder(**case.config, params=case.params, dtype=dtype, profile=semantics)(**case.inputs)
        runs = {k: [np.asarray(v)] for k, v in low.items()}
        if dtype != "float64":
            truth = SAMPromptEncoder(**case.config, params=case.params, dtype="float64", profile=semantics)
            moved = truth(**perturb(case.inputs, float(np.finfo(dtype).eps)))
            for k, v in moved.items():
                runs[k].append(np.asarray(v))
        cache[key] = runs
    return cache[key]


def _case_limit(expected) -> int:
    """How many values a port's outputs may hold before the runner refuses to transfer them."""
    return OUTPUT_FACTOR * sum(int(np.size(v)) for v in expected.values()) + OUTPUT_SLACK


def _fingerprint(params) -> str:
    """The parameters' identity by content: cases that share them (each case holds its own copy)
    share one build of the port."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(params):
        array = np.ascontiguousarray(params[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class Checker:
    """Runs one port under one profile over fixture cases; the port is built once per (config, params).

    ``adapter`` is a port from ``runner.open_port`` (a worker process, or in process) or any adapter
    object, which is then called in this process. Verdicts are decided here, never by the port.
    """

    DIAGNOSIS_SECONDS = 60.0

    def __init__(
        self, adapter, profile, k=DEFAULT_K, xfails=(), diagnose=None, trace=False, on_failure=None, dtype=None
    ):
        self.port = wrap_adapter(adapter, profile)
        self.profile = profile
        self.semantics = semantics_of(profile)
        self.k = k
        self.xfails = list(xfails)
        self.diagnose = diagnose
        # True or "all": trace every case (`--trace`); "failing": the failing cases, at most
        # TRACE_PER_SECTION per spec section the cases exercise (the default); None or False: never
        self.trace = "all" if trace is True else trace or None
        self._traced_sections = {}
        self.trace_limit = TRACE_PER_SECTION  # traced failing cases per section under "failing"; None: every one
        self.on_failure = on_failure  # (case, key, got, expected, result): e.g. draw a heat map for --html
        self.dtype = dtype  # the compute dtype the port declared (None: each output is judged in its own)
        self.interrupted = False
        self.not_run = 0  # cases left when -x / --maxfail stopped the run
        self._built = None
        self._faithful_cache = {}

    def _build(self, case):
        key = (json.dumps(case.config, sort_keys=True, default=list), _fingerprint(case.params))
        if self._built != key:
            self._built = None
            self.port.build(dict(case.config), {k: np.array(v) for k, v in case.params.items()})
            self._built = key

    def _diagnosis(self, case, key, got, expected, outputs):
        try:  # quietly: NaN/inf in a port's output must not print NumPy warnings between the rows
            with time_limit(self.DIAGNOSIS_SECONDS), np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self.diagnose(case, key, got, expected=expected, outputs=outputs)
        except Exception as exc:  # the verdict stands; say that the diagnosis itself failed
            return {
                "summary": f"diagnosis failed: {type(exc).__name__}: {cap_text(str(exc), 400)}",
                "verdict": "failed",
            }

    def run_case(self, case) -> list:
        """The case's three results. The port's outputs live only while this runs."""
        started = time.perf_counter()
        try:
            results = self._run_case(case)
        finally:
            self.port.end_case()
        captured = self.port.take_captured()
        share = (time.perf_counter() - started) / max(len(results), 1)
        for result in results:
            result.captured = captured
            result.duration_s = share
        return results

    def _run_case(self, case) -> list:
        if getattr(case, "fixture_error", None):
            return _all_outputs(case, "error", f"fixture error: {case.fixture_error}", fixture_error=True)
        try:
            expected = expected_outputs(case, self.semantics)
        except ValueError as exc:
            return _all_outputs(
                case,
                "n/a",
                f"not applicable under profile {self.profile.name!r} "
                f"(semantics {self.semantics!r}): {cap_text(str(exc), 300)}",
            )
        try:  # the profile's to_port runs where the port runs (its worker), never here; then the clock starts
            self.port.begin_case(case.id, case.inputs, case.config)
        except NotApplicable as exc:
            return _all_outputs(case, "n/a", f"not applicable under profile {self.profile.name!r}: {exc}")
        except ConversionError as exc:
            return _all_outputs(case, "error", str(exc))
        except MissingDependency:
            raise
        except PortFailure as exc:
            return _all_outputs(case, "error", f"adapter build failed: {exc}")
        try:
            self._build(case)
        except MissingDependency:
            raise  # the port's library is not installed here: a usage error, not a verdict
        except PortFailure as exc:
            return _all_outputs(case, "error", f"adapter build failed: {exc}")
        try:  # the port gets copies: a port that mutates its inputs must not corrupt the fixture
            outputs = self.port.run_case(case.inputs, case.config, limit=_case_limit(expected))
        except (NotApplicable, ConversionError) as exc:
            return _all_outputs(case, "error", str(exc))
        except PortFailure as exc:
            return _all_outputs(case, "error", f"adapter run failed: {exc}")
        results = [self._judge(case, key, outputs, expected) for key in OUTPUT_KEYS]
        del outputs
        if self._should_trace(case, results):
            trace = self._trace(case)
            for result in results:
                result.trace = trace
        return results

    def _should_trace(self, case, results) -> bool:
        """Whether to trace this case: always under "all"; under "failing", a case with a failing
        output while one of its sections has been traced fewer than ``trace_limit`` times."""
        if not self.trace or not self.port.has_trace:
            return False
        if self.trace == "all":
            return True
        if not any(r.verdict == "fail" for r in results):
            return False
        sections = list(case.sections) or [""]
        limit = self.trace_limit
        if limit is not None and all(self._traced_sections.get(s, 0) >= limit for s in sections):
            return False
        for section in sections:
            self._traced_sections[section] = self._traced_sections.get(section, 0) + 1
        return True

    def _judge(self, case, key, outputs, expected) -> Result:
        result = Result(case.id, key, "fail", list(case.sections))
        if key not in outputs and key in getattr(self.port, "missing", {}):  # --outputs: that file is missing
            result.verdict, result.message = "error", self.port.missing[key]
            return result
        if key not in outputs:
            result.message = f"missing output {key!r} (the adapter returned {sorted(outputs)})"
            return result
        got = outputs[key]
        if got is None or not isinstance(got, np.ndarray):
            result.message = f"output {key!r} is {type(got).__name__}, expected an array"
            return result
        dtype = dtype_name(got)
        if dtype and self.dtype and lower_precision(dtype, self.dtype):
            result.verdict, result.dtype = "error", str(got.dtype)
            result.message = (
                f"the output is {dtype}, a lower precision than the declared compute dtype {self.dtype} "
                f"(a port that computes in {self.dtype} returns {self.dtype}; judging {dtype} would widen the budget)"
            )
            return result
        judged = self.dtype if dtype and self.dtype else dtype
        faithful = _faithful(case, judged, self._faithful_cache, self.semantics)[key] if judged else None
        k = case.tolerance.get(key, {}).get("k", self.k)
        comparison = compare(got, expected[key], faithful, k=k, judged=judged)
        result.judged_dtype = judged
        result.verdict = comparison.verdict
        result.error, result.budget, result.ratio = comparison.error, comparison.budget, comparison.ratio
        result.worst_index = list(comparison.worst_index) if comparison.worst_index else None
        result.expected_at_worst = comparison.expected_at_worst
        result.got_at_worst = comparison.got_at_worst
        result.dtype = str(got.dtype)
        result.message = comparison.message
        if result.verdict == "fail" and self.diagnose is not None:
            result.diagnosis = self._diagnosis(case, key, got, expected[key], outputs)
        if result.verdict == "fail" and self.on_failure is not None and got.shape == expected[key].shape:
            self.on_failure(case, key, got, expected[key], result)
        return result

    def _trace(self, case) -> dict:
        try:
            limit = _case_limit(expected_outputs(case, self.semantics))
            stages = self.port.trace_case(case.inputs, case.config, limit)
            from .stages import compare_trace

            return compare_trace(case, stages, self.semantics, self.k)
        except PortFailure as exc:  # the verdicts stand; the summary names the stage the port was computing
            from .stages import trace_failure

            return trace_failure(str(exc))
        except Exception as exc:
            return {"summary": f"trace comparison failed: {describe_exception(exc)}"}

    def _apply_xfail(self, case, result):
        entry = match(self.xfails, case.id, result.output)
        if entry is None or result.fixture_error:
            return
        if result.verdict in ("fail", "error"):
            result.verdict = "xfail"
            result.message = f"expected failure ({entry.reason}); {result.message}".rstrip("; ")
        elif result.verdict == "pass":
            result.verdict = "xpass"
            result.message = f"passes although listed as expected to fail ({entry.reason})"

    def run(self, cases, on_result=None, maxfail: int | None = None) -> list:
        """Every case in turn; ``on_result(result)`` as each output is decided. Stops after ``maxfail``
        failing outputs (``not_run``: the cases left), and on Ctrl-C (``interrupted`` is then True)."""
        results = []
        failures = 0
        try:
            for index, case in enumerate(cases):
                for result in self.run_case(case):
                    self._apply_xfail(case, result)
                    results.append(result)
                    failures += result.verdict in ("fail", "error")
                    if on_result is not None:
                        on_result(result)
                if maxfail and failures >= maxfail:
                    self.not_run = len(cases) - index - 1
                    break
        except KeyboardInterrupt:
            self.interrupted = True
        return results


def final_diagnosis(diagnose, results, cases) -> dict | None:
    """One diagnosis per output: the whole-run reasoning applied back to the rows (``reconcile``).
    Returns the run's overall diagnosis, with the traced cases' first departing stage (``trace``,
    one more summary line); a failure inside it is said, never raised."""
    from .stages import with_trace_summary

    try:
        overall = diagnose.reconcile(results, cases)
    except Exception as exc:
        overall = {"summary": f"diagnosis failed: {type(exc).__name__}: {cap_text(str(exc), 400)}"}
    return with_trace_summary(overall, results)


def summarise(results) -> dict:
    counts = {}
    for result in results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    return counts


def exit_code(results, interrupted: bool = False) -> int:
    """130 interrupted, 2 a fixture case is broken, 1 an output failed or nothing was checked, else 0."""
    if interrupted:
        return 130
    if any(r.fixture_error for r in results):
        return 2
    counts = summarise(results)
    if counts.get("fail") or counts.get("error"):
        return 1
    if not counts.get("pass") and not counts.get("xpass"):
        return 1  # nothing was checked: never a silent green
    return 0


def result_dicts(results) -> list:
    return [asdict(r) for r in results]
