"""Diagnosis: when a port fails an output, say which known divergence it matches, or where in the
algorithm it departs (docs/diagnosis.md).

For a failing output, the reference is re-run on the same case with each variant of the catalogue
(``variants``) switched on, and the port's output is judged against each variant with the
conformance tolerance model itself: the variant in float64 is the expectation and the variant run
in the port's dtype is the faithful run, so

    error  = max |port - variant_float64|
    budget = k * max |variant_D - variant_float64| + floor_D * max(1, max |variant_float64|)

and the port *matches* the variant when error <= budget.

The concerns live in their own modules: the variant runs and their caches (``runs``), judging one
output (``judge``; pairs of variants in ``pairs``), the whole-run reconcile (``reconcile``), the
records (``records``) and the English (``wording``); every failing output also gets an
error-structure localisation (``localise``). The ``Diagnoser`` holds them together:

- ``diagnoser(case, output_key, got, expected=None, outputs=None) -> dict`` judges one failing
  output; it never raises (a failure inside it is returned as "diagnosis failed: ..."); it keeps at
  most one case's arrays (the variant outputs of the case being judged) and small per-output
  evidence (names and numbers) for the whole-run summary; each call stops trying variants after
  ``seconds``.
- ``diagnoser.reconcile(results, cases)`` looks at the whole run and gives each failing row the
  diagnosis the whole-run summary gives it, so that every report agrees.
"""

from __future__ import annotations

from samspec.reference.conventions import PROFILES, Conventions

from ..harness.tolerance import DEFAULT_K
from . import wording
from .judge import OutputJudge
from .reconcile import RunReconciler
from .records import Diagnosis
from .runs import REFERENCE, VariantRuns
from .variants import CATALOGUE

SECONDS = 20.0  # per failing output: variants are no longer tried after this

__all__ = ["REFERENCE", "SECONDS", "Diagnoser", "make_diagnoser"]


class Diagnoser:
    """``diagnoser(case, output_key, got, expected=None, outputs=None) -> dict``; see the module docstring.

    ``profile``: the port's profile; divergences it declares are not offered as explanations, and
    variants are built on its reference conventions (``profile.semantics``, default `sam`).
    ``cache``: a dict shared between diagnosers of the same semantics (the self-test shares one).
    ``compute_dtype``: the dtype the port declares it computes in; no output is then said to be only
    as accurate as a lower one.
    """

    def __init__(
        self,
        profile=None,
        variants=None,
        k: float = DEFAULT_K,
        cache=None,
        semantics=None,
        seconds=SECONDS,
        compute_dtype=None,
    ):
        declared = {getattr(d, "name", d) for d in getattr(profile, "divergences", ()) or ()}  # names or Divergences
        self.variants = [v for v in (variants if variants is not None else CATALOGUE) if v.name not in declared]
        # a name of the reference's conventions, or a user's Conventions object (issue 15: user profiles)
        semantics = semantics or getattr(profile, "semantics", None) or "sam"
        self.problem = None  # a diagnoser that cannot work says so on every call, never raises
        if not isinstance(semantics, Conventions) and semantics not in PROFILES:
            self.problem = (
                f"semantics: expected one of {sorted(PROFILES)} or a Conventions object; received {semantics!r}"
            )
            semantics = "sam"
        self.semantics = semantics
        self.cache = cache if cache is not None else {}
        self.runs = VariantRuns(self.variants, k, self.cache, semantics)
        self.judge = OutputJudge(self.runs, seconds, compute_dtype)
        self.records = {}  # (case id, output) -> Diagnosis (small: names and numbers)

    def __call__(self, case, output_key, got, expected=None, outputs=None) -> dict:
        """The diagnosis of one failing output; never raises (a failure is reported in "summary")."""
        try:
            if self.problem:
                raise ValueError(self.problem)
            diagnosis = self.judge.diagnose(case, output_key, got, expected, outputs)
        except Exception as exc:  # the verdict stands; the report says the diagnosis failed
            diagnosis = Diagnosis(summary=wording.failed(exc), verdict="failed")
        try:
            self.records[(case.id, output_key)] = diagnosis
        except Exception:
            pass
        return diagnosis.as_dict()

    def reconcile(self, results, cases=None) -> dict | None:
        """The whole-run diagnosis (``reconcile.RunReconciler``); sets each failing result's
        ``diagnosis`` to the one the summary gives it. Returns {"summary", "lines", "explained",
        "in_part", "partly", "precision", "unexplained", "failing", "section", "localisation"}, or
        None without failures."""
        return RunReconciler(self.runs, self.records, results, cases).reconcile()

    # the variant runs, for the self-test and the tests

    def variant_outputs(self, case, variant, dtype: str):
        return self.runs.variant_outputs(case, variant, dtype)

    def distance(self, case, a, b, output_key, dtype="float64", other_dtype="float64") -> float:
        return self.runs.distance(case, a, b, output_key, dtype, other_dtype)

    def touches(self, case, variant) -> frozenset:
        return self.runs.touches(case, variant)


def make_diagnoser(profile=None, k: float = DEFAULT_K, cache=None, compute_dtype=None) -> Diagnoser:
    """The diagnoser `samspec check` uses: every catalogue variant not declared by ``profile``."""
    return Diagnoser(profile, k=k, cache=cache, compute_dtype=compute_dtype)
