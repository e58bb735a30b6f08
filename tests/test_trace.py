"""Tracing is read-only (docs/diagnosis.md, issue 23.2): `samspec check` with the trace gives the same
verdicts as without it, for every catalogue variant, every bug outside the catalogue and Meta-style
torch ports that set their own instance attributes; the trace hooks restore exactly what was there;
a port whose trace fails keeps its verdicts and the failure names the stage (spec §11.4)."""

import numpy as np
import pytest
from conftest import require

from samspec.conformance.cases.store import load_cases
from samspec.conformance.diagnosis.variants import CATALOGUE
from samspec.conformance.harness.check import Checker
from samspec.conformance.profiles.profile import get_profile
from samspec.conformance.selftest.novel_bugs import NOVEL
from samspec.conformance.selftest.ports import TracedVariantAdapter

pytest_plugins = ["pytester"]
SAM = get_profile("sam")
CASES = r"^(all\.tiny|labels\.all_values|points\.mixed_batch|boxes\.with_points|masks\.random)$"


@pytest.fixture(scope="module")
def cases():
    return load_cases(pattern=CASES)


def prompt(case):
    return {key: case.inputs.get(key) for key in ("points", "labels", "boxes", "masks")}


def verdicts(adapter, cases, trace):
    results = Checker(adapter, SAM, trace=trace).run(cases)
    return [(r.case, r.output, r.verdict, r.error) for r in results], results


@pytest.mark.slow
def test_spec11_4_every_variant_and_bug_outside_the_catalogue_has_the_same_verdicts_traced(cases):
    """§11.4 trace stage: tracing each case after its run changes no verdict of a later case."""
    assert len(cases) == 5
    for variant in CATALOGUE + NOVEL:
        plain, _ = verdicts(TracedVariantAdapter(variant), cases, trace=False)
        traced, results = verdicts(TracedVariantAdapter(variant), cases, trace=True)
        assert traced == plain, f"§11.4 trace: tracing changed the verdicts of {variant.name}"
        failing = [r for r in results if r.verdict == "fail"]
        assert all(r.trace and "summary" in r.trace for r in failing), variant.name


@pytest.fixture(scope="module")
def meta():
    torch = require("torch")
    from samspec.conformance.adapters.segment_anything import SegmentAnythingAdapter, load_prompt_encoder_class

    require("segment_anything", load=load_prompt_encoder_class)
    return torch, SegmentAnythingAdapter


def _instance_patched(meta, patch):
    """A Meta port that sets ``patch(encoder)`` on its own instance after loading."""
    torch, base = meta

    class Patched(base):
        def build(self, config, params):
            super().build(config, params)
            patch(self.encoder, torch)

    return Patched


def _double_box_tokens(encoder, torch):
    original = encoder._embed_boxes
    encoder._embed_boxes = lambda boxes: 2 * original(boxes)  # a monkeypatch on the instance


def _shifted_pe(encoder, torch):
    original = encoder.pe_layer._pe_encoding
    encoder.pe_layer._pe_encoding = lambda coords: original(coords + 0.25)


def _compiled_points(encoder, torch):
    original = encoder._embed_points
    encoder._embed_points = torch.compile(
        lambda points, labels, pad: original(points + 1.0, labels, pad), backend="eager"
    )


@pytest.mark.slow
@pytest.mark.sam
def test_spec11_4_a_ports_own_instance_attributes_survive_the_trace(meta, cases):
    """§11.4 trace stage: monkeypatches and torch.compile-wrapped methods on the port's instance stay
    (the same objects), and its verdicts are those without tracing."""
    for patch in (_double_box_tokens, _shifted_pe, _compiled_points):
        port = _instance_patched(meta, patch)()
        port.build(cases[0].config, cases[0].params)
        before = dict(vars(port.encoder)), dict(vars(port.encoder.pe_layer))
        stages = port.trace(**prompt(cases[0]))
        assert "prompt_sparse_embeddings" in stages
        after = dict(vars(port.encoder)), dict(vars(port.encoder.pe_layer))
        for old, new in zip(before, after):
            assert set(old) == set(new) and all(old[k] is new[k] for k in old), patch.__name__
        plain, _ = verdicts(_instance_patched(meta, patch)(), cases, trace=False)
        traced, _ = verdicts(_instance_patched(meta, patch)(), cases, trace=True)
        assert traced == plain, f"§11.4 trace: tracing changed the verdicts of {patch.__name__}"
        assert any(v[2] == "fail" for v in plain), patch.__name__


@pytest.mark.sam
def test_spec11_4_a_class_level_port_is_left_without_instance_attributes(meta, cases):
    """§11.4 trace stage: a port without instance overrides has none after tracing."""
    torch, base = meta
    port = base()
    port.build(cases[0].config, cases[0].params)
    names = set(vars(port.encoder)), set(vars(port.encoder.pe_layer))
    port.trace(**prompt(cases[0]))
    assert (set(vars(port.encoder)), set(vars(port.encoder.pe_layer))) == names


@pytest.mark.sam
def test_spec11_4_a_trace_that_fails_keeps_the_verdicts_and_names_the_stage(meta, cases):
    """§11.4 trace stage: a port whose mask path raises only while traced keeps its verdicts, and the
    row's trace says the stage it was computing (mask.conv1, §9.1)."""
    torch, base = meta

    class FailsTraced(base):
        def build(self, config, params):
            super().build(config, params)
            conv = self.encoder.mask_downscaling[0]

            def refuse(module, inputs):
                if module._forward_hooks:  # only while the trace's hooks are on
                    raise ValueError("batch handling differs")

            conv.register_forward_pre_hook(refuse)

    case = [c for c in cases if c.id == "all.tiny"]
    plain, _ = verdicts(base(), case, trace=False)
    traced, results = verdicts(FailsTraced(), case, trace=True)
    assert traced == plain
    for result in results:
        assert result.trace["first_departing"] is None
        assert result.trace["failed_stage"] == "mask.conv1", result.trace["summary"]
        assert result.trace["summary"].startswith("trace failed at stage mask.conv1 (§9.1): "), result.trace["summary"]
        assert "ValueError: batch handling differs" in result.trace["summary"]


@pytest.mark.sam
def test_spec11_4_a_stage_in_another_layout_is_compared_not_fatal(meta, cases):
    """§11.4 trace stage: a box layout the hooks cannot reshape stays as the port gave it; the
    comparison names its shape instead of failing the whole trace."""
    from samspec.conformance.adapters.trace_hooks import _reshape_boxes

    stages = {"boxes.normalised": np.zeros((3, 2, 2)), "boxes.positional_encoding": np.zeros((3, 2, 8))}
    _reshape_boxes(stages, 2)
    assert stages["boxes.normalised"].shape == (3, 2, 2)
    _reshape_boxes(stages, 3)
    assert stages["boxes.positional_encoding"].shape == (3, 1, 2, 8)


# -- localisation by default (issue 23.3) ------------------------------------------------------------------


def test_spec11_4_a_failing_check_traces_a_few_failing_cases_per_section():
    """§11.4 trace stage, default check (a GELU bug, §9.3): only failing cases are traced, while a section
    they exercise has fewer than TRACE_PER_SECTION traced cases; each traced failing row and the summary
    name the first departing stage and its §."""
    from samspec.conformance.diagnosis.diagnoser import make_diagnoser
    from samspec.conformance.diagnosis.variants import VARIANTS
    from samspec.conformance.harness.check import TRACE_PER_SECTION, final_diagnosis
    from samspec.conformance.harness.stages import departure_note

    cases = load_cases(pattern=r"^(masks\.|labels\.foreground$|all\.tiny$)")
    adapter = TracedVariantAdapter(VARIANTS["tanh_gelu"])
    diagnose = make_diagnoser(SAM)
    checker = Checker(adapter, SAM, diagnose=diagnose, trace="failing")
    results = checker.run(cases)
    failing_cases = {r.case for r in results if r.verdict == "fail"}
    traced_cases = {r.case for r in results if r.trace}
    assert traced_cases <= failing_cases and "labels.foreground" not in traced_cases
    by_id = {c.id: c for c in cases}
    sections = {s for c in failing_cases for s in by_id[c].sections}
    assert len(traced_cases) <= TRACE_PER_SECTION * len(sections)
    for section in sections:  # each section the failing cases exercise is traced up to the bound
        failing = sum(section in by_id[c].sections for c in failing_cases)
        assert sum(section in by_id[c].sections for c in traced_cases) >= min(TRACE_PER_SECTION, failing), section
    assert len(traced_cases) < len(failing_cases)  # bounded: some failing cases are not traced
    for result in results:
        if result.case in traced_cases and result.verdict == "fail":
            assert departure_note(result) in ("departs at mask.act1 (§9.3)", "departs at mask.act2 (§9.3)")
    overall = final_diagnosis(diagnose, results, cases)
    assert overall["trace"]["first_departing"] in ("mask.act1", "mask.act2") and overall["trace"]["section"] == "§9.3"
    assert sum(overall["trace"]["stages"].values()) == overall["trace"]["traced"] == len(traced_cases)
    assert f"trace: the first stage that departs is {overall['trace']['first_departing']} (§9.3)" in overall["summary"]
    assert overall["summary"].splitlines()[0].startswith("diagnosis: all failures are explained by variant")
    from dataclasses import asdict

    from samspec.conformance.reports.document import failure_text

    traced_row = next(r for r in results if r.case in traced_cases and r.verdict == "fail")
    assert "\nstages: trace: the first stage that departs is mask.act" in failure_text(asdict(traced_row))  # JUnit
    untraced = Checker(TracedVariantAdapter(VARIANTS["tanh_gelu"]), SAM, trace=None).run(cases)
    assert not any(r.trace for r in untraced)
    assert [(r.case, r.output, r.verdict) for r in untraced] == [(r.case, r.output, r.verdict) for r in results]


def test_spec11_4_trace_and_no_trace_together_are_refused(capsys):
    """§11.4 trace stage: `--trace --no-trace` is a usage error naming both flags (exit 2)."""
    from samspec.conformance.cli import main

    assert main(["check", "reference-f32", "--trace", "--no-trace", "--cases", "^all.tiny$"]) == 2
    assert "--trace and --no-trace contradict each other" in capsys.readouterr().err


def test_spec11_4_the_plugin_refuses_trace_with_no_trace(pytester, monkeypatch):
    """§11.4 trace stage, under pytest: `--samspec-trace --samspec-no-trace` is a usage error too."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess(
        "-p",
        "samspec.conformance.pytest_plugin",
        "--samspec-port",
        "reference-f32",
        "--samspec-trace",
        "--samspec-no-trace",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--samspec-trace and --samspec-no-trace contradict each other" in result.stderr.str() + result.stdout.str()


@pytest.mark.sam
@pytest.mark.slow
def test_spec11_4_every_meta_style_buggy_port_has_the_same_verdicts_traced(meta, cases):
    """§11.4 trace stage: the independently written Meta subclasses (tests/meta_bugs.py: bugs in
    subclasses, replaced modules, after-load edits) give the same verdicts traced case after case."""
    import meta_bugs

    ports = {name: cls for name, (cls, _) in {**meta_bugs.BUGS, **meta_bugs.TWO_BUGS}.items()}
    ports.update(meta_bugs.FAITHFUL)
    for name, port in ports.items():
        plain, _ = verdicts(port(), cases, trace=False)
        traced, _ = verdicts(port(), cases, trace=True)
        assert traced == plain, f"§11.4 trace: tracing changed the verdicts of meta_bugs.{name}"


@pytest.mark.sam
def test_spec11_4_a_port_laid_out_otherwise_traces_what_it_has(meta, cases):
    """§11.4 trace stage: a Meta port whose pe_layer has no ``_pe_encoding`` and whose mask path is three
    nested blocks traces without error; the stages it has agree with the reference, the others are absent."""
    from torch import nn

    from samspec.conformance.harness.stages import compare_trace

    torch, base = meta

    class PE(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, size):
            return self.inner(size)

        def forward_with_coords(self, coords, size):
            return self.inner.forward_with_coords(coords, size)

    class Regrouped(base):
        def build(self, config, params):
            super().build(config, params)
            old = self.encoder.mask_downscaling
            self.encoder.pe_layer = PE(self.encoder.pe_layer)
            self.encoder.mask_downscaling = nn.Sequential(nn.Sequential(*old[:3]), nn.Sequential(*old[3:6]), old[6])

    case = next(c for c in cases if c.id == "all.tiny")
    port = Regrouped()
    port.build(case.config, case.params)
    stages = port.trace(**prompt(case))
    assert "mask.input" in stages and "points.tokens" in stages and "mask.conv1" not in stages
    assert "points.positional_encoding" not in stages
    compared = compare_trace(case, stages, "sam")
    assert compared["first_departing"] is None and len(compared["rows"]) >= 5, compared["summary"]


def test_spec11_an_output_departing_after_its_last_stage_agrees_is_a_batch_or_layout_departure():
    """§11 trace stage: the dense embedding of a mask batch returned in another image order departs at the
    output while mask.conv3 agrees: the section is §11 (batch, layout), not the mask path's."""
    from samspec.conformance.harness.stages import compare_trace
    from samspec.conformance.selftest.novel_bugs import NOVEL_BUGS

    case = next(c for c in load_cases(pattern=r"^masks\.random$"))
    for name in ("mask_batch_reversed", "dense_channels_reversed"):
        port = TracedVariantAdapter(NOVEL_BUGS[name])
        port.build(case.config, case.params)
        compared = compare_trace(case, port.trace(**prompt(case)))
        assert compared["first_departing"] == "prompt_dense_embeddings" and compared["section"] == "§11", name
        assert "mask.conv3" in compared["summary"], compared["summary"]
    port = TracedVariantAdapter(NOVEL_BUGS["layer_norm_over_batch"])  # a departure inside the mask path stays there
    port.build(case.config, case.params)
    assert compare_trace(case, port.trace(**prompt(case)))["section"] == "§9.2"


def test_spec4_tokens_and_grid_departing_together_are_summarised_by_the_section_they_share():
    """§4 trace stage: a positional-encoding bug departs at the point tokens' encoding where there are
    points and at the grid where there are none; the run's trace line names what they share (§4)."""
    from samspec.conformance.diagnosis.variants import VARIANTS
    from samspec.conformance.harness.stages import trace_summary

    cases = load_cases(pattern=r"^(labels\.foreground|empty\.tiny)$")
    results = Checker(TracedVariantAdapter(VARIANTS["cos_sin_order"]), SAM, trace="failing").run(cases)
    summary = trace_summary(results)
    assert summary["stages"] == {"points.positional_encoding": 1, "dense_pe.grid": 1}, summary
    assert summary["section"] == "§4" and summary["line"].endswith("both depart (2 cases): they share §4")
    grid_only = trace_summary([r for r in results if r.case == "empty.tiny"])
    assert grid_only["section"] == "§8.2" and "share" not in grid_only["line"]


def test_spec10_a_dense_output_departing_without_a_mask_is_left_to_the_error_structure():
    """§10 trace stage: with no mask the dense output is no_mask_embed's, laid out (§11): the trace
    cannot tell which departs, so it names no section and the diagnosis keeps its structure's (§10)."""
    from samspec.conformance.diagnosis.diagnoser import make_diagnoser
    from samspec.conformance.harness.check import final_diagnosis
    from samspec.conformance.harness.stages import compare_trace, departure_note
    from samspec.conformance.selftest.novel_bugs import NOVEL_BUGS

    cases = load_cases(pattern=r"^(labels\.foreground|empty\.tiny)$")
    port = TracedVariantAdapter(NOVEL_BUGS["no_mask_embed_not_loaded"])
    port.build(cases[0].config, cases[0].params)
    compared = compare_trace(cases[0], port.trace(**prompt(cases[0])))
    assert compared["first_departing"] == "prompt_dense_embeddings" and compared["section"] is None
    assert "(after its traced stages)" in compared["summary"]
    diagnose = make_diagnoser(SAM)
    adapter = TracedVariantAdapter(NOVEL_BUGS["no_mask_embed_not_loaded"])
    results = Checker(adapter, SAM, diagnose=diagnose, trace="failing").run(cases)
    assert departure_note(next(r for r in results if r.verdict == "fail")).endswith("(after its traced stages)")
    assert final_diagnosis(diagnose, results, cases)["section"] == "§10"


def test_spec11_a_sparse_output_with_the_right_tokens_in_another_batch_or_layout_is_placed_in_section_11():
    """§11.1 / §11.2 trace stage: the right tokens given to other images are a batch departure, the right
    tokens laid out (B, C, N) a layout departure; tokens out of order within an image get no section."""
    from samspec.conformance.harness.stages import compare_trace
    from samspec.conformance.selftest.novel_bugs import NOVEL_BUGS

    case = next(c for c in load_cases(pattern=r"^points\.mixed_batch$"))
    expected = {
        "first_prompt_for_every_image": "§11.1",
        "sparse_batch_rolled": "§11.1",
        "sparse_channels_first": "§11.2",
        "point_tokens_reversed": None,  # §7's assembly or §11's layout: the trace cannot tell
        "sparse_zero_padded": None,
    }
    for name, section in expected.items():
        port = TracedVariantAdapter(NOVEL_BUGS[name])
        port.build(case.config, case.params)
        compared = compare_trace(case, port.trace(**prompt(case)))
        assert compared["first_departing"] == "prompt_sparse_embeddings", (name, compared["summary"])
        assert compared["section"] == section, (name, compared["summary"])


def test_spec3_the_traced_departure_closes_the_summary_once():
    """§3.1 trace stage: a shift bug no known variant explains; the default check's summary keeps the
    diagnosis's order of evidence and closes with one trace line (its first departing stage, §3.1)."""
    from samspec.conformance.diagnosis.diagnoser import make_diagnoser
    from samspec.conformance.harness.check import final_diagnosis
    from samspec.conformance.selftest.novel_bugs import NOVEL_BUGS

    cases = load_cases(pattern=r"^(labels\.(foreground|background)|points\.border)$")
    diagnose = make_diagnoser(SAM)
    results = Checker(TracedVariantAdapter(NOVEL_BUGS["shift_by_one"]), SAM, diagnose=diagnose, trace="failing").run(
        cases
    )
    overall = final_diagnosis(diagnose, results, cases)
    assert not overall["explained"] and overall["lines"][0].startswith("diagnosis: ")
    last = overall["summary"].splitlines()[-1]
    assert last.startswith("trace: the first stage that departs is points.shifted (§3.1)"), overall["summary"]
    assert overall["lines"][-1] == last and sum("first stage that departs" in line for line in overall["lines"]) == 1
