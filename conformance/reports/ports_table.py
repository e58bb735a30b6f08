"""`samspec report ports`: run every built-in port under its profiles and write the divergence
table (docs/ports.md).

Each port runs over the whole fixture catalogue under its own profile, where it must pass, and
under the layout-only variant of that profile, which converts layout and names only and keeps SAM
v1's semantics: there it must fail on exactly the outputs that the profile's exposed divergences
predict (`Profile.expected_divergences`), no more and no fewer. The output is deterministic:
errors are printed to two significant digits, and nothing depends on the time or the machine.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from samspec.reference import OUTPUT_KEYS

from ..harness.check import SHORT, Checker, summarise
from ..profiles.profile import PROFILES, NotApplicable, get_profile

# (port, profiles) in the order of the table: the port's own profile first, then its layout-only one
RUNS = (
    ("reference-f32", ("sam", "keras_hub", "sam2")),
    ("reference-f16", ("sam",)),
    ("segment-anything", ("sam",)),
    ("transformers", ("hf", "hf_layout")),
    ("keras-hub", ("keras_hub", "keras_hub_layout")),
    ("onnxruntime", ("sam_onnx", "sam_onnx_layout")),
    ("sam2", ("sam2", "sam2_layout")),
    ("ultralytics", ("sam2", "sam2_layout")),
    ("transformers-sam2", ("hf_sam2", "hf_sam2_layout")),
)
# the versions the tox environment `ports` pins (tox.ini); the table describes these
VERSIONS = (
    "segment-anything 1.0, transformers 5.24.0, keras-hub 0.32.0 (Keras 3.15.1, `KERAS_BACKEND=torch`), "
    "onnxruntime 1.32.0, sam2 1.1.0, ultralytics 8.4.190, torch 2.13.0 (CPU)"
)
DEFAULT_OUT = "docs/ports.md"
# the spec sections whose coverage the report counts (docs/spec.md §3-§10: the computation)
COVERED_SECTIONS = tuple(str(n) for n in range(3, 11))


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
    return f"{head}; the first {shared} differ: max abs err {_g(comparison.error)}"


def run_all(cases, runs=RUNS, log=None) -> list:
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


# -- applicability coverage -----------------------------------------------------------------------


def applicable(profile, case):
    """None when ``case`` runs under ``profile``, else why not: the reference refuses its inputs
    under the profile's semantics (label −10 under `sam`), or an excluded divergence is exercised.
    The same two tests as the checker's, without running a port."""
    from ..harness.check import expected_outputs

    try:
        expected_outputs(case, profile.semantics)
    except ValueError as exc:
        return f"semantics {profile.semantics!r}: {str(exc).splitlines()[0]}"
    try:
        profile.to_port(case.inputs, case.config)
    except NotApplicable as exc:
        return str(exc)
    return None


def _top_section(section) -> str:
    return str(section).lstrip("§").split(".")[0]


def coverage(cases, profiles=None) -> dict:
    """profile name -> {"cases": applicable case count, section: applicable cases citing it (or a
    subsection of it)} for the sections of COVERED_SECTIONS."""
    table = {}
    for profile in profiles or PROFILES.values():
        row = {"cases": 0, **{section: 0 for section in COVERED_SECTIONS}}
        for case in cases:
            if getattr(case, "fixture_error", None) or applicable(profile, case) is not None:
                continue
            row["cases"] += 1
            for section in {_top_section(s) for s in case.sections} & set(COVERED_SECTIONS):
                row[section] += 1
        table[profile.name] = row
    return table


def uncovered(table) -> list:
    """(profile, section) pairs with no applicable case."""
    return [(name, section) for name, row in table.items() for section in COVERED_SECTIONS if not row[section]]


# -- rendering ------------------------------------------------------------------------------------


def _g(value) -> str:
    """Two significant digits, trailing zeros kept: 2.0, 0.46, 3.1e-06."""
    return "-" if value is None else f"{value:#.2g}"


def _difference(result) -> str:
    """How an output differs, in words that do not depend on the machine."""
    if result.verdict == "error":
        exception = result.message.split("adapter run failed: ", 1)[-1].split(":", 1)[0]
        return f"error ({exception})"
    if result.error is not None:
        return f"max abs err {_g(result.error)}"
    return result.message.split(";")[0]


def _cell(result, details) -> str:
    if result.verdict in ("pass", "xpass"):
        return "pass"
    if result.verdict == "n/a":
        return "n/a"
    return details.get((result.case, result.output)) or _difference(result)


def _by_case(results) -> dict:
    table = {}
    for r in results:
        table.setdefault(r.case, {})[r.output] = r
    return table


def render(runs, n_cases: int, covered: dict | None = None) -> str:
    lines = [
        "# Ports under test: the divergence table",
        "",
        "<!-- Generated by `samspec report ports --out docs/ports.md`; do not edit. "
        "CI regenerates it and fails when this copy is stale. -->",
        "",
        f"Every built-in port is run over the whole fixture catalogue ({n_cases} cases, three outputs each) "
        "under its own profile, where it must pass against the reference run under that profile's semantics "
        "(`sam`, `hf`, `sam2` or `hf_sam2`: the conventions its port follows), and under the layout-only variant "
        "of that profile, which "
        "converts layouts and names only and keeps SAM v1's semantics (padding rule, label meaning, empty "
        "prompts, image sizes), so that the port fails on exactly the outputs that its documented divergences "
        "predict (docs/profiles.md; divergence names from docs/spec.md §12.2). Counts are per output "
        f"(case × output). Versions: {VERSIONS}.",
        "",
        "## Summary",
        "",
        "| port | profile | pass | fail | error | n/a | verdict |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        c = run.counts
        lines.append(
            f"| {run.port} | `{run.profile.name}` | {c.get('pass', 0)} | {c.get('fail', 0)} | {c.get('error', 0)} "
            f"| {c.get('n/a', 0)} | {run.verdict()} |"
        )
    if covered:
        lines += [
            "",
            "## Applicability coverage",
            "",
            "Per built-in profile, the cases that run under it (the reference computes them under the profile's "
            "semantics and no excluded divergence is exercised), and how many of them cite each section of "
            "docs/spec.md §3–§10 (a subsection counts for its section). Target: no 0.",
            "",
            "| profile | semantics | cases | " + " | ".join(f"§{s}" for s in COVERED_SECTIONS) + " |",
            "|---|---|---:|" + "---:|" * len(COVERED_SECTIONS),
        ]
        for name, row in covered.items():
            cells = [str(row[s]) if row[s] else "**0**" for s in COVERED_SECTIONS]
            lines.append(
                f"| `{name}` | `{PROFILES[name].semantics if name in PROFILES else '?'}` | "
                f"{row['cases']} of {n_cases} | " + " | ".join(cells) + " |"
            )
        gaps = uncovered(covered)
        lines += [
            "",
            "Every profile runs at least one case of every section."
            if not gaps
            else "Sections with no applicable case: " + ", ".join(f"`{p}` §{s}" for p, s in gaps) + ".",
        ]
    used, owner = [], {}
    for run in runs:
        for name in run.profile.known:
            if name not in used:
                used.append(name)
                owner[name] = run.profile
    lines += [
        "",
        "## Divergences",
        "",
        "| divergence | behaviour | converted by | computed under | n/a under | fails under |",
        "|---|---|---|---|---|---|",
    ]
    for name in used:

        def profiles_where(attribute):
            names = []
            for run in runs:
                if name in getattr(run.profile, attribute) and f"`{run.profile.name}`" not in names:
                    names.append(f"`{run.profile.name}`")
            return ", ".join(names) or "-"

        lines.append(
            f"| `{name}` | {owner[name].divergence(name).summary} | {profiles_where('converted')} | "
            f"{profiles_where('computed')} | {profiles_where('excluded')} | {profiles_where('exposed')} |"
        )

    current = None
    for run in runs:
        if run.port != current:
            current = run.port
            lines += ["", f"## {run.port}"]
        profile = run.profile
        lines += ["", f"### `{run.port}` under `{profile.name}`: {run.verdict()}", "", profile.description, ""]
        if profile.converted:
            lines.append("Converted: " + ", ".join(f"`{d}`" for d in profile.converted) + ".")
        if profile.computed:
            lines.append(
                f"Computed by the reference under semantics `{profile.semantics}`: "
                + ", ".join(f"`{d}`" for d in profile.computed)
                + "."
            )
        na = {}
        for r in run.results:
            if r.verdict == "n/a":
                if "(semantics " in r.message:  # the reference refuses the inputs under the profile's semantics
                    reason = f"refused under semantics {run.profile.semantics!r}"
                elif r.message.endswith(")"):
                    reason = r.message.rsplit("(", 1)[-1].rstrip(")")
                else:
                    reason = r.message
                na.setdefault(reason, set()).add(r.case)
        for reason, case_ids in na.items():
            lines.append(f"Not applicable (`{reason}`): {len(case_ids)} cases: {', '.join(sorted(case_ids))}.")
        rows = [
            (case_id, outputs)
            for case_id, outputs in _by_case(run.results).items()
            if any(r.verdict in ("fail", "error") for r in outputs.values())
            or any(run.predicted.get((case_id, k)) for k in outputs)
        ]
        if not rows:
            if not profile.converted and not profile.computed and not na:
                lines.append("Nothing is converted.")
            continue
        lines += [
            "",
            "| case | sparse | dense | dense_pe | why (divergences exercised) |",
            "|---|---|---|---|---|",
        ]
        for case_id, outputs in rows:
            cells = [_cell(outputs[k], run.details) if k in outputs else "-" for k in OUTPUT_KEYS]
            why = []
            for key in OUTPUT_KEYS:
                for name in run.predicted.get((case_id, key), []):
                    if f"`{name}`" not in why:
                        why.append(f"`{name}`")
            unexplained = {(r.case, r.output) for r in run.unexplained()}
            unobserved = {(r.case, r.output) for r in run.predicted_but_passing()}
            marks = [f"UNEXPLAINED {SHORT[k]}" for k in OUTPUT_KEYS if (case_id, k) in unexplained] + [
                f"PREDICTED BUT AGREES {SHORT[k]}" for k in OUTPUT_KEYS if (case_id, k) in unobserved
            ]
            lines.append(f"| {case_id} | " + " | ".join(cells) + " | " + ", ".join(why + marks) + " |")
        differing = len(run.differing())
        if not run.unexplained() and not run.predicted_but_passing():
            lines += [
                "",
                f"All {differing} differing outputs are predicted by the exposed divergences, and every predicted "
                "output differs (where the number of tokens differs, the tokens both have agree exactly when only "
                "`no_padding_point` is predicted).",
            ]
    lines.append("")
    return "\n".join(lines)


def generate(fixtures=None, log=None) -> tuple:
    """(markdown text, runs) for the fixture set (default: the shipped one)."""
    from ..cases.store import load_cases

    cases = load_cases(fixtures, strict=True)
    runs = run_all(cases, log=log)
    own = [name for _, profiles in RUNS for name in profiles]
    covered = coverage(cases, [get_profile(name) for name in dict.fromkeys(own)])
    return render(runs, len(cases), covered), runs


# -- command line ---------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument("--out", metavar="FILE", help=f"write the table here (e.g. {DEFAULT_OUT}); default: print it")
    parser.add_argument(
        "--check",
        metavar="FILE",
        nargs="?",
        const=DEFAULT_OUT,
        help=f"regenerate and compare with FILE (default {DEFAULT_OUT}); exit 1 if it is stale",
    )
    parser.add_argument(
        "--fixtures", metavar="DIR", help="a fixture folder (default: the fixtures shipped with samspec)"
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    text, runs = generate(getattr(args, "fixtures", None), log=lambda line: print(line, file=sys.stderr))
    bad = [r for r in runs if r.verdict().startswith("**")]
    for r in bad:
        print(f"samspec report ports: {r.port} under {r.profile.name}: {r.verdict().strip('*')}", file=sys.stderr)
    if getattr(args, "check", None):
        path = Path(args.check)
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        if committed != text:
            diff = difflib.unified_diff(
                committed.splitlines(), text.splitlines(), f"{path} (committed)", f"{path} (regenerated)", lineterm=""
            )
            print("\n".join(list(diff)[:80]), file=sys.stderr)
            print(
                f"samspec report ports: {path} is stale; regenerate it with `samspec report ports --out {path}`",
                file=sys.stderr,
            )
            return 1
        print(f"{path} is up to date")
        return 1 if bad else 0
    if getattr(args, "out", None):
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 1 if bad else 0


def main(argv=None) -> int:
    """`python -m samspec.conformance.reports.ports_table [--out FILE | --check [FILE]]` (= `samspec report ports`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="samspec report ports", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
