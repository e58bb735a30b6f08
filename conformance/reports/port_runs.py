"""Running every built-in port under its profiles for the ports table: the results of each (port,
profile), the divergences its profile predicts per output, and where a sparse output has a
different number of tokens, whether the tokens both have agree."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..harness.check import Checker, summarise
from ..profiles.profile import get_profile
from .ports_markdown import two_digits


@dataclass
class Run:
    port: str
    profile: object
    results: list
    predicted: dict = field(default_factory=dict)  # (case, output) -> [divergence names]
    details: dict = field(default_factory=dict)  # (case, output) -> how a differently shaped output differs

    @property
    def counts(self) -> dict:
        return summarise(self.results)

    @property
    def own(self) -> bool:
        return not self.profile.layout_of

    def differing(self) -> list:
        return [r for r in self.results if r.verdict in ("fail", "error")]

    def _values_predicted(self, result) -> bool:
        """Whether a divergence other than a change in the number of rows is predicted for this output."""
        names = self.predicted.get((result.case, result.output), ())
        return any(not self.profile.divergence(name).changes_rows for name in names)

    def _shared_tokens(self, result):
        detail = self.details.get((result.case, result.output), "")
        return "agree" if "agree" in detail else "differ" if "differ" in detail else None

    def unexplained(self) -> list:
        """Differing outputs that no exposed divergence predicts (including shared tokens that
        differ where only a missing padding row is predicted)."""
        return [
            r
            for r in self.differing()
            if not self.predicted.get((r.case, r.output))
            or (self._shared_tokens(r) == "differ" and not self._values_predicted(r))
        ]

    def predicted_but_passing(self) -> list:
        """Outputs predicted to differ that agree (including shared tokens that agree where a
        change of values is predicted)."""
        return [
            r
            for r in self.results
            if (r.verdict == "pass" and self.predicted.get((r.case, r.output)))
            or (self._shared_tokens(r) == "agree" and self._values_predicted(r))
        ]

    def verdict(self) -> str:
        counts = self.counts
        if self.own:
            if counts.get("fail") or counts.get("error"):
                return "**fails**"
            return "passes" if counts.get("pass") else "**nothing checked**"
        if self.unexplained() or self.predicted_but_passing():
            return "**differs from the prediction**"
        return "fails exactly where predicted" if self.differing() else "passes (no divergence exercised)"


class _Recording:
    """A profile that remembers the outputs it converted back, per case (for the report's details);
    everything else is the profile's."""

    def __init__(self, profile):
        self.profile = profile
        self.current = None
        self.outputs = {}

    def __getattr__(self, name):
        return getattr(self.profile, name)

    def from_port(self, outputs, config, inputs=None):
        converted = self.profile.from_port(outputs, config, inputs)
        self.outputs[self.current] = converted
        return converted


def _token_detail(case, key, got, expected, cache, semantics="sam") -> str | None:
    """For a sparse output with a different number of tokens: compare the tokens both have, under
    the tolerance model, so that a missing padding row is told apart from different values."""
    import numpy as np

    from samspec.reference import SAMPromptEncoder

    from ..harness.tolerance import compare, dtype_name

    expected = np.asarray(expected[key])
    got = np.asarray(got)
    if got.dtype == object or got.ndim != 3 or expected.ndim != 3 or got.shape[::2] != expected.shape[::2]:
        return None
    shared = min(got.shape[1], expected.shape[1])
    head = f"{got.shape[1]} tokens, expected {expected.shape[1]}"
    if shared == 0 or dtype_name(got) is None:
        return head
    dtype = dtype_name(got)
    if (case.id, dtype) not in cache:
        encoder = SAMPromptEncoder(**case.config, params=case.params, dtype=dtype, profile=semantics)
        cache[(case.id, dtype)] = np.asarray(encoder(**case.inputs)[key])
    comparison = compare(got[:, :shared], expected[:, :shared], cache[(case.id, dtype)][:, :shared])
    if comparison.verdict == "pass":
        return f"{head}; the first {shared} agree"
    return f"{head}; the first {shared} differ: max abs err {two_digits(comparison.error)}"


def run_all(cases, runs, log=None) -> list:
    """Every (port, profile) of ``runs`` over ``cases``; a port that cannot be loaded errors on every case."""
    from ..adapters.registry import resolve_adapter
    from ..harness.check import expected_outputs

    out = []
    for port, profiles in runs:
        for name in profiles:
            profile = get_profile(name)
            adapter = resolve_adapter(port)
            adapter.profile = name
            if log:
                log(f"samspec report ports: {port} under {name}")
            recording = _Recording(profile)
            checker = Checker(adapter, recording)
            results, predicted, details, cache = [], {}, {}, {}
            for case in cases:
                recording.current = case.id
                case_results = checker.run_case(case)
                results += case_results
                for key, names in profile.expected_divergences(case.inputs, case.config).items():
                    predicted[(case.id, key)] = names
                for r in case_results:
                    if r.verdict == "fail" and r.error is None and case.id in recording.outputs:
                        expected = expected_outputs(case, profile.semantics)
                        got = recording.outputs[case.id].get(r.output)
                        detail = _token_detail(case, r.output, got, expected, cache, profile.semantics)
                        if detail:
                            details[(case.id, r.output)] = detail
            out.append(Run(port, profile, results, predicted, details))
    return out
