"""Convention profiles (conformance/profiles.py, docs/profiles.md): conversions, n/a reasons and the
divergence predicates. NumPy only: the real ports are exercised in tests/test_ports.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from samspec.conformance.check import Checker, exit_code, summarise
from samspec.conformance.fixtures import load_cases
from samspec.conformance.profiles import (
    DENSE,
    DENSE_PE,
    DIVERGENCES,
    PROFILES,
    SPARSE,
    NotApplicable,
    get_profile,
)
from samspec.reference import SAMPromptEncoder

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = dict(hidden_size=32, image_embedding_size=(8, 6), input_image_size=(128, 96), mask_in_channels=16)
SQUARE = dict(hidden_size=32, image_embedding_size=(16, 16), input_image_size=(256, 256), mask_in_channels=16)


@pytest.fixture(scope="module")
def cases():
    return load_cases()


def prompt(points=None, labels=None, boxes=None, masks=None):
    return {"points": points, "labels": labels, "boxes": boxes, "masks": masks}


POINTS = np.array([[[1.0, 2.0], [30.0, 40.0]], [[5.0, 6.0], [7.0, 8.0]]])
LABELS = np.array([[1, 0], [0, -1]])
BOXES = np.array([[1.0, 2.0, 50.0, 60.0], [3.0, 4.0, 10.0, 12.0]])


def test_every_declared_divergence_is_named_in_the_spec():
    table = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    spec_names = set(re.findall(r"^\| `([a-z0-9_]+)` \|", table, flags=re.M))
    for name in DIVERGENCES:
        assert name in spec_names, f"{name} is not in docs/spec.md §12.2"
    for profile in PROFILES.values():
        assert set(profile.divergences) <= set(DIVERGENCES), profile.name
        assert set(profile.excluded) <= set(profile.divergences) and set(profile.exposed) <= set(DIVERGENCES)
        assert not set(profile.divergences) & set(profile.exposed), profile.name
        for name in profile.excluded:
            assert name in profile.notes, f"{profile.name}: n/a reason for {name}"


def test_every_profile_is_documented():
    text = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    for name in PROFILES:
        assert f"`{name}`" in text, name


def test_layout_profiles_keep_the_layout_and_expose_every_semantic_divergence():
    for profile in PROFILES.values():
        if not profile.layout_of:
            continue
        own = get_profile(profile.layout_of)
        assert profile.port == own.port and set(profile.known) == set(own.known)
        assert not profile.excluded, "a layout-only profile marks nothing n/a"
        assert set(profile.converted) <= set(own.converted)
        assert set(profile.exposed) == set(own.excluded) | (set(own.converted) - set(profile.converted))


def test_keras_hub_conversion():
    out = get_profile("keras_hub").to_port(prompt(POINTS, LABELS, masks=np.zeros((2, 1, 32, 24))), PORTRAIT)
    assert out["points"].shape == (2, 3, 2) and out["labels"][:, -1].tolist() == [-1, -1]  # padding appended
    assert np.array_equal(out["points"][:, :2], POINTS) and out["masks"].shape == (2, 1, 32, 24, 1)
    out = get_profile("keras_hub").to_port(prompt(POINTS, LABELS, BOXES), PORTRAIT)
    assert out["points"].shape == (2, 2, 2)  # with boxes: no padding
    assert np.array_equal(out["boxes"], BOXES.reshape(2, 1, 2, 2))
    layout = get_profile("keras_hub_layout").to_port(prompt(POINTS, LABELS), PORTRAIT)
    assert np.array_equal(layout["points"], POINTS) and np.array_equal(layout["labels"], LABELS)
    back = get_profile("keras_hub").from_port({DENSE: np.zeros((2, 8, 6, 32)), DENSE_PE: np.zeros((1, 8, 6, 32))}, PORTRAIT)
    assert back[DENSE].shape == (2, 32, 8, 6) and back[DENSE_PE].shape == (1, 32, 8, 6)


@pytest.mark.parametrize(
    "profile, inputs, reason",
    [
        ("keras_hub", prompt(POINTS, np.array([[2, 1], [0, 3]])), "labels_2_3_foreground"),
        ("keras_hub", prompt(), "empty_prompt_crash"),
        ("hf", prompt(POINTS, LABELS), "square_normalisation"),
        ("hf", prompt(masks=np.zeros((1, 1, 32, 24))), "square_embedding_grid"),
        ("sam_onnx", prompt(POINTS, LABELS), "square_normalisation"),
        ("sam_onnx", prompt(POINTS, np.array([[2, 1], [0, 1]])), "onnx_corner_labels"),
    ],
)
def test_cases_a_profile_cannot_express_are_not_applicable(profile, inputs, reason):
    config = PORTRAIT if reason.startswith("square") else SQUARE
    with pytest.raises(NotApplicable, match=reason):
        get_profile(profile).to_port(inputs, config)
    layout = get_profile(profile + "_layout")
    layout.to_port(inputs, config)  # the layout-only profile passes it through...
    assert reason in sum(layout.expected_divergences(inputs, config).values(), [])  # ...and predicts its failure


def test_not_a_point_tokens_do_not_depend_on_coordinates():
    """All-(-1) points and the padding point are not_a_point_embed alone: no normalisation involved."""
    inputs = prompt(POINTS, -np.ones((2, 2), dtype=np.int64))
    assert get_profile("sam_onnx").not_applicable(inputs, PORTRAIT) is None
    assert DIVERGENCES["square_normalisation"].outputs(inputs, PORTRAIT) == frozenset()


def test_hf_conversion():
    hf = get_profile("hf")
    out = hf.to_port(prompt(POINTS, LABELS, BOXES, np.zeros((2, 1, 64, 64))), SQUARE)
    assert out["input_points"].shape == (2, 1, 2, 2) and out["input_labels"].shape == (2, 1, 2)
    assert out["input_boxes"].shape == (2, 1, 4) and out["input_masks"].shape == (2, 1, 64, 64)
    back = hf.from_port(
        {"sparse_embeddings": np.ones((2, 1, 4, 32)), "dense_embeddings": np.zeros((2, 32, 16, 16)),
         "image_positional_embeddings": np.zeros((1, 32, 16, 16))}, SQUARE)
    assert back[SPARSE].shape == (2, 4, 32) and back[DENSE_PE].shape == (1, 32, 16, 16)
    # empty_prompt_none: None -> (B, 0, C) under hf, left alone under hf_layout
    raw = {"sparse_embeddings": np.asarray(None), "dense_embeddings": np.zeros((3, 32, 16, 16), np.float32),
           "image_positional_embeddings": np.zeros((1, 32, 16, 16))}
    empty = hf.from_port(raw, SQUARE)[SPARSE]
    assert empty.shape == (3, 0, 32) and empty.dtype == np.float32
    assert get_profile("hf_layout").from_port(raw, SQUARE)[SPARSE].dtype == object


def test_sam_onnx_conversion():
    onnx = get_profile("sam_onnx")
    out = onnx.to_port(prompt(POINTS, LABELS, BOXES), SQUARE)
    assert out["point_coords"].shape == (2, 4, 2)  # two points, then the box's two corners; no padding
    assert out["point_labels"].tolist() == [[1, 0, 2, 3], [0, -1, 2, 3]]
    assert np.array_equal(out["point_coords"][:, 2:], BOXES.reshape(2, 2, 2))
    assert out["has_mask_input"].tolist() == [0.0] and out["mask_input"].shape == (2, 1, 64, 64)
    out = onnx.to_port(prompt(POINTS, LABELS), SQUARE)
    assert out["point_labels"].tolist() == [[1, 0, -1], [0, -1, -1]]  # padding appended explicitly
    assert get_profile("sam_onnx_layout").to_port(prompt(POINTS, LABELS), SQUARE)["point_labels"].tolist() == LABELS.tolist()
    out = onnx.to_port(prompt(masks=np.ones((1, 1, 64, 64))), SQUARE)
    assert out["point_coords"].shape == (1, 0, 2) and out["has_mask_input"].tolist() == [1.0]
    out = onnx.to_port(prompt(), SQUARE)
    assert out["point_coords"].shape == (1, 0, 2) and out["mask_input"].shape == (1, 1, 64, 64)


def test_own_profiles_mark_na_exactly_where_an_excluded_divergence_is_exercised(cases):
    for profile in PROFILES.values():
        for case in cases:
            excluded = profile.not_applicable(case.inputs, case.config)
            try:
                profile.to_port(case.inputs, case.config)
                applicable = True
            except NotApplicable as exc:
                applicable = False
                assert excluded and excluded[0] in str(exc)
            assert applicable == (excluded is None), (profile.name, case.id)


class EmulatedHF:
    """transformers' conventions emulated on the reference (float32): a test of the hf profile's plumbing."""

    name, profile = "emulated-hf", "hf"

    def build(self, config, params):
        self.encoder = SAMPromptEncoder(**config, params=params, dtype="float32")

    def run(self, input_points, input_labels, input_boxes, input_masks):
        out = self.encoder(
            points=None if input_points is None else input_points[:, 0],
            labels=None if input_labels is None else input_labels[:, 0],
            boxes=None if input_boxes is None else input_boxes[:, 0],
            masks=input_masks,
        )
        sparse = out[SPARSE] if (input_points is not None or input_boxes is not None) else None
        return {
            "sparse_embeddings": None if sparse is None else np.asarray(sparse)[:, None],
            "dense_embeddings": out[DENSE],
            "image_positional_embeddings": out[DENSE_PE],
        }


def test_a_port_with_hf_conventions_passes_under_hf(cases):
    results = Checker(EmulatedHF(), get_profile("hf")).run(cases)
    counts = summarise(results)
    assert exit_code(results) == 0 and counts["pass"] >= 18 and not counts.get("error"), counts
    layout = summarise(Checker(EmulatedHF(), get_profile("hf_layout")).run(cases))
    # under hf_layout only the None sparse output differs here (the emulation has no square-only limits)
    assert layout.get("fail") == sum(
        1 for c in cases if c.inputs.get("points") is None and c.inputs.get("boxes") is None
    ), layout
