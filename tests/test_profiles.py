"""Convention profiles (conformance/profiles/profile.py, docs/profiles.md): conversions, n/a reasons and the
divergence predicates. NumPy only: the real ports are exercised in tests/test_ports.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from samspec.conformance.adapters.reference import ReferenceAdapter
from samspec.conformance.cases.store import load_cases
from samspec.conformance.harness.check import Checker, exit_code, summarise
from samspec.conformance.profiles.profile import (
    DENSE,
    DENSE_PE,
    DIVERGENCES,
    PROFILES,
    SPARSE,
    Divergence,
    NotApplicable,
    Profile,
    get_profile,
    resolve_profile,
)
from samspec.reference import PROFILES as REFERENCE_PROFILES
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
        assert set(profile.computed) <= set(profile.divergences) and not set(profile.computed) & set(profile.excluded)
        assert not set(profile.divergences) & set(profile.exposed), profile.name
        assert profile.semantics in REFERENCE_PROFILES, f"{profile.name}: semantics {profile.semantics!r}"
        for name in profile.excluded:
            assert name in profile.notes, f"{profile.name}: n/a reason for {name}"


def test_every_profile_is_documented():
    """docs/profiles.md's tables say what each profile converts, excludes, exposes and computes."""
    text = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    names = lambda cell: tuple(re.findall(r"`([a-z0-9_]+)`", cell))  # noqa: E731
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`[a-z0-9_]+`", cells[0]):
            rows[names(cells[0])[0]] = cells
    assert set(rows) == set(PROFILES), set(PROFILES) ^ set(rows)
    for name, (_, _, converted, excluded, exposed) in rows.items():
        profile = PROFILES[name]
        assert (names(converted), names(excluded), names(exposed)) == (
            profile.converted,
            profile.excluded,
            profile.exposed,
        ), name
    documented = set()
    for line in text.splitlines():  # the semantics table
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if (
            len(cells) == 3
            and cells[0].startswith("`")
            and names(cells[1])
            and names(cells[1])[0] in REFERENCE_PROFILES
        ):
            for name in names(cells[0]):
                assert PROFILES[name].semantics == names(cells[1])[0] and PROFILES[name].computed == names(cells[2]), (
                    name
                )
                documented.add(name)
    assert {p.name for p in PROFILES.values() if p.semantics != "sam"} <= documented


def test_layout_profiles_keep_the_layout_and_expose_every_semantic_divergence():
    """docs/profiles.md's rule: the twin keeps `sam` semantics, converts a subset of the layout, and
    exposes whatever its own profile computes, excludes or converts semantically, except a
    divergence that gives meaning to inputs SAM v1 refuses (n/a under `sam` semantics) or that no
    layout of the port can express (several boxes in one sequence: n/a under the twin too)."""
    twins = [p for p in PROFILES.values() if p.layout_of]
    assert {p.layout_of for p in twins} == {p.name for p in PROFILES.values() if p.port and not p.layout_of} - {"sam"}
    for profile in twins:
        own = get_profile(profile.layout_of)
        assert profile.semantics == "sam" and not profile.computed, profile.name
        assert profile.port == own.port and set(profile.known) == set(own.known)
        assert set(profile.converted) <= set(own.converted)
        semantic = set(own.excluded) | set(own.computed) | (set(own.converted) - set(profile.converted))
        outside = {d for d in semantic if DIVERGENCES[d].outside_sam or DIVERGENCES[d].inexpressible}
        assert set(profile.exposed) == semantic - outside, profile.name
        assert set(profile.excluded) == outside, profile.name


def test_keras_hub_conversion():
    out = get_profile("keras_hub").to_port(prompt(POINTS, LABELS, masks=np.zeros((2, 1, 32, 24))), PORTRAIT)
    assert out["points"].shape == (2, 3, 2) and out["labels"][:, -1].tolist() == [-1, -1]  # padding appended
    assert np.array_equal(out["points"][:, :2], POINTS) and out["masks"].shape == (2, 1, 32, 24, 1)
    out = get_profile("keras_hub").to_port(prompt(POINTS, LABELS, BOXES), PORTRAIT)
    assert out["points"].shape == (2, 2, 2)  # with boxes: no padding
    assert np.array_equal(out["boxes"], BOXES.reshape(2, 1, 2, 2))
    layout = get_profile("keras_hub_layout").to_port(prompt(POINTS, LABELS), PORTRAIT)
    assert np.array_equal(layout["points"], POINTS) and np.array_equal(layout["labels"], LABELS)
    back = get_profile("keras_hub").from_port(
        {DENSE: np.zeros((2, 8, 6, 32)), DENSE_PE: np.zeros((1, 8, 6, 32))}, PORTRAIT
    )
    assert back[DENSE].shape == (2, 32, 8, 6) and back[DENSE_PE].shape == (1, 32, 8, 6)


@pytest.mark.parametrize(
    "profile, inputs, reason",
    [
        ("keras_hub", prompt(POINTS, np.array([[2, 1], [0, 3]])), "labels_2_3_foreground"),
        ("keras_hub", prompt(), "empty_prompt_crash"),
        ("hf", prompt(POINTS, LABELS), "square_normalisation"),
        ("hf", prompt(masks=np.zeros((1, 1, 32, 24))), "square_embedding_grid"),
        ("sam_onnx", prompt(POINTS, LABELS), "square_normalisation"),
        ("hf_sam2", prompt(POINTS, LABELS), "square_normalisation"),
        ("hf_sam2", prompt(masks=np.zeros((1, 1, 32, 24))), "square_embedding_grid"),
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
        {
            "sparse_embeddings": np.ones((2, 1, 4, 32)),
            "dense_embeddings": np.zeros((2, 32, 16, 16)),
            "image_positional_embeddings": np.zeros((1, 32, 16, 16)),
        },
        SQUARE,
    )
    assert back[SPARSE].shape == (2, 4, 32) and back[DENSE_PE].shape == (1, 32, 16, 16)
    # empty_prompt_none: None -> (B, 0, C) under hf, left alone under hf_layout
    raw = {
        "sparse_embeddings": np.asarray(None),
        "dense_embeddings": np.zeros((3, 32, 16, 16), np.float32),
        "image_positional_embeddings": np.zeros((1, 32, 16, 16)),
    }
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
    assert (
        get_profile("sam_onnx_layout").to_port(prompt(POINTS, LABELS), SQUARE)["point_labels"].tolist()
        == LABELS.tolist()
    )
    out = onnx.to_port(prompt(masks=np.ones((1, 1, 64, 64))), SQUARE)
    assert out["point_coords"].shape == (1, 0, 2) and out["has_mask_input"].tolist() == [1.0]
    out = onnx.to_port(prompt(), SQUARE)
    assert out["point_coords"].shape == (1, 0, 2) and out["mask_input"].shape == (1, 1, 64, 64)


SEVERAL_BOXES = np.array(
    [[[1.0, 2.0, 50.0, 60.0], [3.0, 4.0, 10.0, 12.0]], [[5.0, 6.0, 7.0, 8.0], [9.0, 1.0, 2.0, 3.0]]]
)


def test_several_boxes_per_image_convert_box_by_box():
    """§6.1–§6.2: `sam` boxes (B, M, 4) become keras-hub's (B, M, 2, 2), and the ONNX layouts' labelled points
    tl0, br0, tl1, br1 (labels 2, 3, 2, 3) after the points."""
    keras = get_profile("keras_hub").to_port(prompt(POINTS, LABELS, SEVERAL_BOXES), PORTRAIT)
    assert np.array_equal(keras["boxes"], SEVERAL_BOXES.reshape(2, 2, 2, 2))
    for name in ("sam_onnx", "sam_onnx_layout"):
        out = get_profile(name).to_port(prompt(POINTS, LABELS, SEVERAL_BOXES), SQUARE)
        assert out["point_labels"].tolist() == [[1, 0, 2, 3, 2, 3], [0, -1, 2, 3, 2, 3]], name
        assert np.array_equal(out["point_coords"][:, 2:], SEVERAL_BOXES.reshape(2, 4, 2)), name


@pytest.mark.parametrize("name", ["sam", "sam2", "sam2_layout", "hf", "hf_layout", "hf_sam2", "ort_sam2"])
def test_one_box_per_prompt_ports_cannot_take_several_boxes(name):
    """§6.1: a port taking one box per prompt gives n/a, with the reason, for boxes (B, M, 4) with M = 2 (and
    M = 0), never for (B, 4) or (B, 1, 4)."""
    for boxes in (SEVERAL_BOXES, SEVERAL_BOXES[:, :0]):
        with pytest.raises(NotApplicable, match=r"box.*\(one_box_per_prompt\)$"):
            get_profile(name).to_port(prompt(boxes=boxes), SQUARE)
    for boxes in (BOXES, BOXES[:, None]):
        assert get_profile(name).not_applicable(prompt(boxes=boxes), SQUARE) is None, name


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
    """transformers' conventions emulated on the reference (float32) under ``semantics`` (`hf` for
    SamPromptEncoder, `hf_sam2` for Sam2PromptEncoder): a test of the hf profiles' plumbing."""

    name, profile = "emulated-hf", "hf"

    def __init__(self, semantics="hf"):
        self.semantics = semantics

    def build(self, config, params):
        self.encoder = SAMPromptEncoder(**config, params=params, dtype="float32", profile=self.semantics)

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
    assert exit_code(results) == 0 and counts["pass"] >= 80 and not counts.get("error"), counts
    assert {r.verdict for r in results if r.case.startswith("labels.minus_10")} == {"pass"}  # semantics hf
    layout = summarise(Checker(EmulatedHF(), get_profile("hf_layout")).run(cases))
    # under hf_layout only the None sparse output differs here (the emulation has no square-only limits)
    assert layout.get("fail") == sum(
        1 for c in cases if c.inputs.get("points") is None and c.inputs.get("boxes") is None
    ), layout


# -- semantics, SAM 2 profiles and coverage --------------------------------------------------------


def test_a_port_with_hf_sam2_conventions_passes_under_hf_sam2_and_fails_as_predicted_under_its_layout(cases):
    """Labels 2/3, label -10 and the per-box not_a_point token are computed by the reference under
    `hf_sam2`; under `hf_sam2_layout` (sam semantics) exactly the predicted outputs fail (the emulation
    has no square-only limit, so square_* predictions alone do not fail here)."""
    port = EmulatedHF("hf_sam2")
    results = Checker(port, get_profile("hf_sam2")).run(cases)
    counts = summarise(results)
    assert exit_code(results) == 0 and not counts.get("error"), counts
    ran = {r.case for r in results if r.verdict == "pass"}
    assert {"labels.minus_10", "labels.minus_10_box", "labels.corner_2.square", "boxes.only.square"} <= ran
    layout = get_profile("hf_sam2_layout")
    results = Checker(port, layout).run(cases)
    failing = {(r.case, r.output) for r in results if r.verdict in ("fail", "error")}
    predicted = set()
    by_id = {c.id: c for c in cases}
    for r in results:
        names = layout.expected_divergences(by_id[r.case].inputs, by_id[r.case].config).get(r.output, [])
        if r.verdict != "n/a" and set(names) - {"square_normalisation", "square_embedding_grid"}:
            predicted.add((r.case, r.output))
    assert failing == predicted, (sorted(failing - predicted), sorted(predicted - failing))
    assert ("boxes.only.square", SPARSE) in failing and ("labels.corner_3.square", SPARSE) in failing
    assert {r.verdict for r in results if r.case.startswith("labels.minus_10")} == {"n/a"}


def test_semantics_decide_which_label_cases_run(cases):
    from samspec.conformance.reports.ports_table import applicable

    by_id = {c.id: c for c in cases}
    corner, minus_10 = by_id["labels.corner_2.square"], by_id["labels.minus_10"]
    assert applicable(get_profile("sam2"), corner) is None and applicable(get_profile("sam_onnx"), corner) is None
    assert applicable(get_profile("sam2_layout"), corner) is None  # runs, and must fail:
    assert get_profile("sam2_layout").expected_divergences(corner.inputs, corner.config) == {SPARSE: ["corner_labels"]}
    assert "corner_labels" in get_profile("sam_onnx_layout").expected_divergences(corner.inputs, corner.config)[SPARSE]
    assert applicable(get_profile("hf_sam2"), minus_10) is None and applicable(get_profile("hf"), minus_10) is None
    for name in ("sam", "sam2", "hf_layout", "hf_sam2_layout", "keras_hub", "sam_onnx"):
        reason = applicable(get_profile(name), minus_10)
        assert reason and ("-10" in reason or "hf_minus_10_label" in reason), (name, reason)
    assert minus_10.semantics == "hf_sam2" and corner.semantics == "sam"


def test_every_built_in_profile_runs_every_section_of_3_to_10(cases):
    """Square twins and the label -10 cases: no built-in profile leaves a section of §3-§10 without
    an applicable case (the coverage table of docs/ports.md)."""
    from samspec.conformance.reports.ports_table import COVERED_SECTIONS, coverage, uncovered

    assert COVERED_SECTIONS == ("3", "4", "5", "6", "7", "8", "9", "10")
    table = coverage(cases)
    assert set(table) == set(PROFILES)
    assert not uncovered(table), uncovered(table)
    assert table["hf"]["cases"] >= 25 and table["hf_sam2"]["cases"] >= 27, {k: v["cases"] for k, v in table.items()}
    square_only = [
        c
        for c in cases
        if c.config["input_image_size"][0] == c.config["input_image_size"][1]
        and c.config["image_embedding_size"][0] == c.config["image_embedding_size"][1]
    ]
    for case in cases:  # every case class (prefix) exists on a square configuration
        assert any(s.id.split(".")[0] == case.id.split(".")[0] for s in square_only), case.id
    for case in cases:
        if case.id.startswith("labels."):
            assert any(s.id in (case.id, case.id + ".square") for s in square_only), case.id


# -- user-declared profiles -------------------------------------------------------------------------


def test_resolve_profile_takes_a_name_a_profile_or_module_attr(tmp_path, monkeypatch):
    assert resolve_profile("hf_sam2") is PROFILES["hf_sam2"]
    assert resolve_profile(PROFILES["sam2"]) is PROFILES["sam2"]
    (tmp_path / "user_profiles.py").write_text(
        "from samspec.conformance.profiles.profile import Profile\n"
        "MINE = Profile(name='mine', description='nothing converted')\n"
        "def make():\n    return Profile(name='made', description='from a factory')\n"
        "NOT_A_PROFILE = 3\n"
        "def exits():\n    raise SystemExit(0)\n",
        encoding="utf-8",
    )
    (tmp_path / "exits_on_import.py").write_text("raise SystemExit(0)\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_profile("user_profiles:MINE").name == "mine"
    assert resolve_profile("user_profiles:make").name == "made"
    for spec, words in [
        ("nope", "expected one of"),
        ("user_profiles:MISSING", "no attribute 'MISSING'"),
        ("user_profiles:NOT_A_PROFILE", "is a int, expected a samspec.conformance.profiles.profile.Profile"),
        ("no_such_module_here:X", "cannot import 'no_such_module_here'"),
        ("exits_on_import:X", "cannot import 'exits_on_import' for 'exits_on_import:X': SystemExit"),
        ("user_profiles:exits", "calling user_profiles:exits failed: SystemExit"),
        (3, "received 3"),
    ]:
        with pytest.raises(ValueError, match=re.escape(words)) as raised:
            resolve_profile(spec, argument="--profile")
        assert str(raised.value).startswith("--profile: "), raised.value


def test_a_profile_refuses_an_unknown_divergence_naming_the_field():
    with pytest.raises(ValueError, match=r"Profile 'p' exposed: 'not_a_divergence' is neither"):
        Profile(name="p", description="", exposed=("not_a_divergence",))
    with pytest.raises(ValueError, match=r"Profile 'p' excluded: \['corner_labels'\] must also be in divergences"):
        Profile(name="p", description="", excluded=("corner_labels",))
    with pytest.raises(ValueError, match=r"Profile 'p' divergences: expected a tuple"):
        Profile(name="p", description="", divergences="corner_labels")
    with pytest.raises(ValueError, match=r"Profile 'p' semantics: expected one of \[.*'sam2'.*received 'sam3'"):
        Profile(name="p", description="", semantics="sam3")


def test_from_port_functions_take_the_inputs_or_not():
    seen = {}

    def three(outputs, config, inputs):
        seen.update(inputs)
        return outputs

    outputs = {SPARSE: np.zeros((1, 2, 4))}
    Profile(name="three", description="", from_port_fn=three).from_port(outputs, SQUARE, {"boxes": BOXES})
    assert set(seen) == {"points", "labels", "boxes", "masks"} and seen["boxes"] is BOXES
    two = Profile(name="two", description="", from_port_fn=lambda outputs, config: {"two": outputs})
    assert two.from_port(outputs, SQUARE, {"boxes": BOXES}) == {"two": outputs}
    own = Divergence("mine", "a user's own divergence", lambda i, c: frozenset({DENSE}))
    profile = Profile(name="user", description="", exposed=(own,))
    assert profile.exposed == ("mine",) and profile.expected_divergences({}, SQUARE) == {DENSE: ["mine"]}


def _docs_example() -> str:
    text = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(# my_nhwc_port\.py\n.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "docs/profiles.md: the my_nhwc_port.py example"
    return blocks[0]


def test_the_user_profile_of_docs_profiles_md_runs(cases, tmp_path, monkeypatch, capsys):
    """The NHWC example, copied as a user would: it passes under its own profile (given by the
    adapter or by --profile module:attr), and fails under `sam`, whose layout it does not follow."""
    (tmp_path / "my_nhwc_port.py").write_text(_docs_example(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("my_nhwc_port")
    profile = resolve_profile("my_nhwc_port:MY_PROFILE")
    assert profile is module.MY_PROFILE and module.MyNHWCPort.profile is profile
    results = Checker(module.MyNHWCPort(), profile).run(cases)
    counts = summarise(results)
    empty = [c.id for c in cases if all(c.inputs.get(k) is None for k in ("points", "boxes", "masks"))]
    minus_10 = [
        c.id for c in cases if c.inputs.get("labels") is not None and (np.asarray(c.inputs["labels"]) == -10).any()
    ]
    na = {r.case for r in results if r.verdict == "n/a"}
    assert exit_code(results) == 0 and na == set(empty) | set(minus_10) and empty and minus_10, counts
    assert exit_code(Checker(module.MyNHWCPort(), get_profile("sam")).run(cases[:3])) == 1

    from samspec.conformance.cli import main

    assert main(["check", "my_nhwc_port:MyNHWCPort", "--no-diagnosis"]) == 0
    assert main(["check", "my_nhwc_port:MyNHWCPort", "--profile", "my_nhwc_port:MY_PROFILE", "--no-diagnosis"]) == 0
    capsys.readouterr()
    assert main(["check", "my_nhwc_port:MyNHWCPort", "--profile", "my_nhwc_port:NOPE", "--no-diagnosis"]) == 2
    assert "NOPE" in capsys.readouterr().err


def test_a_user_profile_whose_functions_fail_gives_error_verdicts(cases):
    """A broken to_port_fn or from_port_fn is an error on every output of the case (exit 1), never a
    traceback and never a pass."""

    def broken(*args):
        raise KeyError("my conversion")

    for profile in (
        Profile(name="bad_in", description="", to_port_fn=broken),
        Profile(name="bad_out", description="", from_port_fn=broken),
    ):
        results = Checker(ReferenceAdapter("float32"), profile).run(cases[:2])
        assert {r.verdict for r in results} == {"error"} and exit_code(results) == 1, profile.name
        assert all(profile.name in r.message and "my conversion" in r.message for r in results), results[0].message


def test_profiles_hand_integer_masks_to_the_port_unchanged(cases):
    """§9.5 (mask downscaler input): integer masks are accepted and cast, and the cast is the port's
    (its adapter's, docs/adapters.md): every built-in profile's conversion hands the case's integer
    mask over with its dtype and values, so the `masks.integer_*` cases reach the port as integers."""
    integer = [c for c in cases if c.inputs.get("masks") is not None and c.inputs["masks"].dtype.kind in "iu"]
    assert integer, "§9.5: no fixture case stores an integer mask"
    for profile in PROFILES.values():
        for case in integer:
            try:
                out = profile.to_port(case.inputs, case.config)
            except NotApplicable:
                continue
            mask = case.inputs["masks"]
            handed = [np.asarray(v) for v in out.values() if v is not None and np.asarray(v).dtype == mask.dtype]
            assert any(np.array_equal(v.ravel(), mask.ravel()) for v in handed), (
                f"§9.5 {profile.name}.to_port on {case.id}: the {mask.dtype} mask does not reach the port unchanged"
            )
