"""`samspec check`: run a port over the fixtures and compare every output with the reference.

case -> profile.to_port -> adapter.run -> profile.from_port -> compare (tolerance model)
"""

from __future__ import annotations

import json
import traceback
from dataclasses import asdict, dataclass, field

import numpy as np

from samspec.reference import OUTPUT_KEYS, SAMPromptEncoder

from .expectations import match
from .profiles import NotApplicable
from .tolerance import DEFAULT_K, compare, dtype_name, perturb

SHORT = {
    "prompt_sparse_embeddings": "sparse",
    "prompt_dense_embeddings": "dense",
    "prompt_dense_positional_embeddings": "dense_pe",
}


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

    @property
    def test_id(self) -> str:
        return f"{self.case}::{self.output}"


def _all_outputs(case, verdict, message):
    return [Result(case.id, key, verdict, list(case.sections), message=message) for key in OUTPUT_KEYS]


def _faithful(case, dtype, cache):
    """The tolerance model's yardsticks for this case in ``dtype`` (docs/tolerances.md): the
    reference run entirely in ``dtype``, and the float64 reference on inputs moved by one unit in
    the last place of ``dtype``. Returns {output key: [run, ...]}."""
    key = (case.id, dtype)
    if key not in cache:
        low = SAMPromptEncoder(**case.config, params=case.params, dtype=dtype, profile="sam")(**case.inputs)
        runs = {k: [np.asarray(v)] for k, v in low.items()}
        if dtype != "float64":
            truth = SAMPromptEncoder(**case.config, params=case.params, dtype="float64", profile="sam")
            moved = truth(**perturb(case.inputs, float(np.finfo(dtype).eps)))
            for k, v in moved.items():
                runs[k].append(np.asarray(v))
        cache[key] = runs
    return cache[key]


def _describe_exception(exc) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


class Checker:
    """Runs one adapter under one profile; builds the adapter once per (config, params)."""

    def __init__(self, adapter, profile, k=DEFAULT_K, xfails=(), diagnose=None):
        self.adapter = adapter
        self.profile = profile
        self.k = k
        self.xfails = list(xfails)
        self.diagnose = diagnose
        self._built = None
        self._faithful_cache = {}

    def _build(self, case):
        key = (json.dumps(case.config, sort_keys=True, default=list), id(case.params))
        if self._built != key:
            self._built = None
            self.adapter.build(dict(case.config), {k: np.array(v) for k, v in case.params.items()})
            self._built = key

    def run_case(self, case) -> list:
        try:
            port_inputs = self.profile.to_port(case.inputs, case.config)
        except NotApplicable as exc:
            return _all_outputs(case, "n/a", f"not applicable under profile {self.profile.name!r}: {exc}")
        try:
            self._build(case)
        except Exception as exc:
            return _all_outputs(case, "error", f"adapter build failed: {_describe_exception(exc)}")
        try:
            # copies: a port that mutates its inputs must not corrupt the fixture
            raw = self.adapter.run(**{k: None if v is None else np.array(v) for k, v in port_inputs.items()})
            if not isinstance(raw, dict):
                raise TypeError(f"run() returned {type(raw).__name__}, expected a dict of output arrays")
            outputs = self.profile.from_port({k: np.asarray(v) for k, v in raw.items()}, case.config)
        except Exception as exc:
            return _all_outputs(case, "error", f"adapter run failed: {_describe_exception(exc)}")
        results = []
        for key in OUTPUT_KEYS:
            result = Result(case.id, key, "fail", list(case.sections))
            if key not in outputs:
                result.message = f"missing output {key!r} (the adapter returned {sorted(outputs)})"
            else:
                got = outputs[key]
                dtype = dtype_name(got)
                faithful = _faithful(case, dtype, self._faithful_cache)[key] if dtype else None
                k = case.tolerance.get(key, {}).get("k", self.k)
                comparison = compare(got, case.expected[key], faithful, k=k)
                result.verdict = comparison.verdict
                result.error, result.budget, result.ratio = comparison.error, comparison.budget, comparison.ratio
                result.worst_index = list(comparison.worst_index) if comparison.worst_index else None
                result.expected_at_worst = comparison.expected_at_worst
                result.got_at_worst = comparison.got_at_worst
                result.dtype = str(got.dtype)
                result.message = comparison.message
                if result.verdict == "fail" and self.diagnose is not None:
                    result.diagnosis = self.diagnose(case, key, got)
            results.append(result)
        return results

    def run(self, cases) -> list:
        results = []
        for case in cases:
            for result in self.run_case(case):
                entry = match(self.xfails, case.id, result.output)
                if entry is not None:
                    if result.verdict in ("fail", "error"):
                        result.verdict = "xfail"
                        result.message = f"expected failure ({entry.reason}); {result.message}".rstrip("; ")
                    elif result.verdict == "pass":
                        result.verdict = "xpass"
                        result.message = f"passes although listed as expected to fail ({entry.reason})"
                results.append(result)
        return results


def summarise(results) -> dict:
    counts = {}
    for result in results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    return counts


def exit_code(results) -> int:
    counts = summarise(results)
    if counts.get("fail") or counts.get("error"):
        return 1
    if not counts.get("pass") and not counts.get("xpass"):
        return 1  # nothing was checked: never a silent green
    return 0


def result_dicts(results) -> list:
    return [asdict(r) for r in results]
