"""The diagnosis's records: a variant's score on one output, the diagnosis of one output, and a
cause of the whole run. Each is named; ``as_dict`` gives the JSON form the reports carry."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from . import wording
from .variants import VARIANTS, Variant


class Score(NamedTuple):
    """One variant judged against one failing output."""

    ratio: float  # error / budget (inf without a budget); <= 1 is a match
    error: float  # max |port - variant in float64|
    order: int  # the variant's place in the list tried (ties go to the earlier)
    variant: Variant
    budget: float | None  # the tolerance model around the variant (None: not a candidate)

    @property
    def name(self) -> str:
        return self.variant.name


def _finite(value):
    return None if value is not None and not math.isfinite(value) else value


def explain(name) -> tuple[str, str]:
    """(explanation, section) of a variant or a pair ``a+b`` of the catalogue."""
    parts = [VARIANTS[p] for p in name.split("+") if p in VARIANTS]
    return "; and ".join(p.explanation for p in parts), ", ".join(p.section for p in parts)


@dataclass
class Diagnosis:
    """The diagnosis of one failing output: its verdict ("matches", "partial", "in part", "precision",
    "none", "not diagnosed", "failed"), the variant named and its numbers, the evidence (variants
    matching or explaining most of the error, the best candidates, the localisation) and the sentence."""

    summary: str | None = None
    verdict: str = "none"
    variant: str | None = None
    explanation: str | None = None
    section: str | None = None
    error: float | None = None
    budget: float | None = None
    ratio: float | None = None
    reference_error: float | None = None
    matching: list = field(default_factory=list)  # variant names within budget, best first
    partial: list = field(default_factory=list)  # variant names leaving at most PARTIAL of the error
    candidates: list = field(default_factory=list)  # [{"variant", "error", "ratio"}] the three best
    scores: dict = field(default_factory=dict)  # name -> [error, budget]
    explanations: dict = field(default_factory=dict)  # name -> [explanation, section]
    localisation: list = field(default_factory=list)
    localised_section: str | None = None
    dtype: str | None = None
    closest: str | None = None
    closest_error: float | None = None
    precision: str | None = None  # the precision sentence where the output passes its test (not in the JSON)

    KEYS = tuple(
        (
            "verdict variant explanation section error budget ratio reference_error matching partial candidates "
            "scores explanations summary localisation localised_section dtype"
        ).split()
    )

    def as_dict(self) -> dict:
        """The JSON form (the keys the reports have always carried; `closest` only when there is one)."""
        out = {key: getattr(self, key) for key in self.KEYS}
        for key in ("closest", "closest_error"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Diagnosis:
        """The record back from its JSON form (``as_dict``; e.g. sent by a pytest-xdist worker)."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    def make_finite(self) -> Diagnosis:
        """Infinite numbers become None (strict JSON has no Infinity)."""
        for key in ("reference_error", "error", "budget", "ratio", "closest_error"):
            setattr(self, key, _finite(getattr(self, key)))
        for entry in self.candidates:
            entry["error"], entry["ratio"] = _finite(entry["error"]), _finite(entry["ratio"])
        self.scores = {n: [None if v is None else _finite(v) for v in pair] for n, pair in self.scores.items()}
        return self

    def name(self, name, verdict, others=(), numbers=None) -> None:
        """Name variant ``name`` as what this output "matches" or what explains most of it ("partial"),
        with the numbers recorded for ``numbers`` (default: ``name``)."""
        error, budget = self.scores.get(numbers or name, [None, None])
        explanation, section = self.explanations.get(name) or explain(name)
        ratio = error / budget if error is not None and budget else None
        self.verdict, self.variant, self.explanation, self.section = verdict, name, explanation, section
        self.error, self.budget, self.ratio = error, budget, ratio
        if verdict == "matches":
            self.summary = wording.matches(name, ratio, others, explanation, section)
        else:
            self.summary = wording.partial(name, error, self.reference_error, explanation, section)

    def imprecise(self) -> None:
        """The output is only as accurate as a lower precision (``precision``, spec §11.3); no variant."""
        self.verdict, self.variant, self.explanation, self.section = "precision", None, None, "§11.3"
        self.error = self.budget = self.ratio = None
        self.summary = self.precision or self.summary

    def unexplained(self) -> None:
        """No variant is named: the sentence gives the closest one (if any) and the localised section."""
        self.verdict, self.variant, self.explanation = "none", None, None
        self.error = self.budget = self.ratio = None
        self.section = self.localised_section
        self.summary = wording.unexplained(
            self.reference_error, self.closest, self.closest_error, self.localised_section
        )


@dataclass
class Cause:
    """A variant (or pair) that explains a set of the run's failing outputs."""

    variant: str
    count: int  # failing outputs it explains
    explanation: str
    section: str
    tied_with: list  # other variants that explain as many
    contradicts: int  # passing outputs it would fail
    localised: tuple | None = None  # (section, line): where every output it matches in part departs

    def as_dict(self) -> dict:
        return {
            "variant": self.variant,
            "count": self.count,
            "explanation": self.explanation,
            "section": self.section,
            "tied_with": self.tied_with,
            "contradicts": self.contradicts,
        }
