"""Property checks (docs/properties.md) and the exported hypothesis strategies.

Faithful ports must pass every property (no false alarms); each property must catch a port that
breaks its rule; a failure comes with a repro that reproduces it.
"""

import numpy as np
import pytest
from conftest import require
from hypothesis import given, settings
from hypothesis import strategies as st

from samspec.conformance.adapters.registry import resolve_adapter
from samspec.conformance.diagnosis.variants import VariantAdapter
from samspec.conformance.profiles.profile import get_profile
from samspec.conformance.properties import strategies as sst
from samspec.conformance.properties.checks import PROPERTIES, PropertyFailure, reproduce, run_properties, run_property
from samspec.reference import OUTPUT_KEYS, SAMPromptEncoder

SAM = get_profile("sam")


class Reference32:
    """The reference in float32 (a faithful port)."""

    name, profile = "reference32", "sam"

    def build(self, config, params):
        self.encoder = SAMPromptEncoder(**config, params=params, dtype="float32")

    def run(self, points, labels, boxes, masks):
        return {
            k: np.asarray(v) for k, v in self.encoder(points=points, labels=labels, boxes=boxes, masks=masks).items()
        }


class GridFollowsPrompt(Reference32):
    """The dense positional grid is shifted by the first point: it depends on the prompt."""

    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        if points is not None and points.shape[1]:
            out["prompt_dense_positional_embeddings"] = out["prompt_dense_positional_embeddings"] + 1e-3 * float(
                points[0, 0, 0] > 0
            )
        return out


class Noisy(Reference32):
    """Adds run-to-run noise (e.g. an uninitialised buffer)."""

    calls = 0

    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        Noisy.calls += 1
        out["prompt_sparse_embeddings"] = out["prompt_sparse_embeddings"] + np.float32(1e-3 * (Noisy.calls % 2))
        return out


class Mutates(Reference32):
    """Shifts its inputs in place (transformers#42172)."""

    def run(self, points, labels, boxes, masks):
        if boxes is not None:
            boxes += 0.5
            result = super().run(points, labels, boxes, masks)
            boxes -= 0.25  # leaves them changed
            return result
        if points is not None:
            points += 0.0
            points[..., 0] = np.floor(points[..., 0])
        return super().run(points, labels, boxes, masks)


class Float16OnFloat64(Reference32):
    """Silently rounds float64 inputs (only those) to float16."""

    def run(self, points, labels, boxes, masks):
        def narrow(a):
            return a.astype(np.float16) if a is not None and a.dtype == np.float64 else a

        return super().run(narrow(points), labels, narrow(boxes), narrow(masks))


class UnclearRefusal(Reference32):
    def run(self, points, labels, boxes, masks):
        if any(a is not None and a.dtype == np.float64 for a in (points, boxes, masks)):
            raise RuntimeError("expected scalar type Float")
        return super().run(points, labels, boxes, masks)


class ClearRefusal(Reference32):
    def run(self, points, labels, boxes, masks):
        for name, a in (("points", points), ("boxes", boxes), ("masks", masks)):
            if a is not None and a.dtype == np.float64:
                raise TypeError(f"{name}: float64 is not supported, pass float32")
        return super().run(points, labels, boxes, masks)


def test_properties_cover_the_issue_list():
    assert set(PROPERTIES) >= {
        "permute_points",
        "batch_independence",
        "box_equals_corners",
        "grid_prompt_independent",
        "no_mask_broadcast",
        "scale_invariance",
        "padding_rule",
        "deterministic",
        "no_input_mutation",
        "float64_inputs",
    }


@pytest.mark.parametrize(
    "port, profile", [("reference-f32", "sam"), ("reference-f16", "sam"), ("reference-f32", "keras_hub")]
)
def test_faithful_reference_ports_pass_every_property(port, profile):
    adapter = resolve_adapter(port)
    adapter.profile = profile
    results = run_properties(adapter, get_profile(profile), max_examples=15, seed=1)
    assert [r.case for r in results if r.verdict != "pass"] == [], [r.message for r in results if r.verdict != "pass"]
    assert all(r.examples > 0 for r in results)


@pytest.mark.slow
@pytest.mark.sam
def test_segment_anything_passes_every_property():
    require("torch")
    from samspec.conformance.adapters.segment_anything import load_prompt_encoder_class

    require("segment_anything", load=load_prompt_encoder_class)
    results = run_properties(resolve_adapter("segment-anything"), SAM, max_examples=15, seed=2)
    assert [(r.case, r.message) for r in results if r.verdict != "pass"] == []


@pytest.mark.parametrize(
    "prop, port",
    [
        ("permute_points", VariantAdapter("boxes_before_points")),
        ("batch_independence", VariantAdapter("no_mask_batch_1")),
        ("box_equals_corners", VariantAdapter("box_corners_swapped")),
        ("grid_prompt_independent", GridFollowsPrompt()),
        ("no_mask_broadcast", VariantAdapter("channels_last")),
        ("scale_invariance", VariantAdapter("no_pixel_shift")),
        ("point_matches_grid", VariantAdapter("grid_no_half_cell")),
        ("padding_rule", VariantAdapter("no_padding_point")),
        ("padding_rule", VariantAdapter("not_a_point_keeps_pe")),
        ("deterministic", Noisy()),
        ("no_input_mutation", Mutates()),
        ("float64_inputs", Float16OnFloat64()),
        ("float64_inputs", UnclearRefusal()),
    ],
)
def test_each_property_catches_a_port_that_breaks_it(prop, port):
    result = run_property(prop, port, SAM, max_examples=25, seed=0)
    assert result.verdict == "fail", result.message
    assert PROPERTIES[prop].description in result.message
    assert f"reproduce({prop!r}" in result.repro


def test_a_clear_refusal_of_float64_passes():
    assert run_property("float64_inputs", ClearRefusal(), SAM, max_examples=10).verdict == "pass"


def test_the_repro_reproduces_the_failure(monkeypatch, tmp_path):
    """The printed snippet is runnable as is and raises the same failure."""
    (tmp_path / "repro_port.py").write_text(
        "from samspec.conformance.diagnosis.variants import VariantAdapter\n"
        "def NoShift():\n    return VariantAdapter('no_pixel_shift')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = run_property(
        "scale_invariance", VariantAdapter("no_pixel_shift"), SAM, max_examples=25, port="repro_port:NoShift"
    )
    assert result.verdict == "fail"
    with pytest.raises(PropertyFailure, match="scaled by"):
        exec(result.repro, {})
    # and the same example passes on a faithful port
    namespace = {
        "reproduce": lambda name, port, profile, **kw: reproduce(name, "reference-f32", profile, **kw),
        "np": np,
    }
    exec(result.repro.split("\n", 2)[2], namespace)


def test_a_profile_that_expresses_nothing_is_not_a_pass():
    """Under keras_hub an empty prompt is an error: never a silent pass for a property that needs one."""
    adapter = resolve_adapter("reference-f32")
    adapter.profile = "keras_hub"
    result = run_property("no_mask_broadcast", adapter, get_profile("keras_hub"), max_examples=10)
    assert result.verdict == "pass" and result.examples > 0  # some examples have prompts


def test_cli_check_with_properties(capsys, monkeypatch):
    from samspec.conformance.cli import main

    assert main(["check", "reference-f32", "--cases", "labels.foreground", "--properties", "--max-examples", "5"]) == 0
    out = capsys.readouterr().out
    assert "property" in out and "permute_points" in out and " fail" not in out


# -- the exported strategies -----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_strategies_draw_valid_sam_prompts(data):
    """The documented example: configs, params and prompts the reference accepts, with the spec's shapes."""
    config, params, prompt = data.draw(sst.examples(), label="example")
    out = SAMPromptEncoder(**config, params=params, dtype="float32")(**prompt)
    c = config["hidden_size"]
    h, w = config["image_embedding_size"]
    batch = next((v.shape[0] for v in prompt.values()), 1)
    assert out["prompt_dense_embeddings"].shape == (batch, c, h, w)
    assert out["prompt_dense_positional_embeddings"].shape == (1, c, h, w)
    assert out["prompt_sparse_embeddings"].shape[0] == batch
    assert set(out) == set(OUTPUT_KEYS)
    assert all(np.isfinite(np.asarray(v)).all() for v in out.values())


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_prompt_specs_respect_their_arguments(data):
    config = data.draw(sst.configs(square=True), label="config")
    assert config["image_embedding_size"][0] == config["image_embedding_size"][1]
    assert config["input_image_size"][0] == config["input_image_size"][1]
    spec = data.draw(sst.prompt_specs(config, batch=2, points=True, boxes=False, min_prompts=1), label="spec")
    assert "boxes" not in spec and spec["points"].shape[0] == 2 and spec["labels"].dtype == np.int64
    assert set(np.unique(spec["labels"])) <= {-1, 0, 1}
    prompt = sst.materialise(config, spec)
    if "masks" in spec:
        h, w = config["image_embedding_size"]
        assert prompt["masks"].shape == (2, 1, 4 * h, 4 * w)
