"""Spec-clause coverage (issue 23 part 4, docs/coverage.md): every normative clause of docs/spec.md
that a port's outputs can show is exercised by a case that runs under every built-in profile held
to it; the table in docs/ is what `samspec report coverage` produces."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from samspec.conformance.adapters.reference import ReferenceAdapter
from samspec.conformance.cases.clauses import CLAUSES, SPEC_CLAUSES, CaseView
from samspec.conformance.cases.store import load_cases
from samspec.conformance.cli import main
from samspec.conformance.diagnosis.diagnoser import make_diagnoser
from samspec.conformance.harness.check import Checker
from samspec.conformance.profiles.builtin import PROFILES
from samspec.conformance.reports import coverage

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cases():
    return load_cases()


@pytest.fixture(scope="module")
def rows(cases):
    return coverage.measure(cases)


def test_every_clause_has_a_case_under_every_profile_held_to_it(rows):
    missing = coverage.gaps(rows)
    assert not missing, "spec clauses with no applicable case (§ of each clause, fixtures stage): " + ", ".join(
        f"{clause} under {profile}" for clause, profile in missing
    )


def test_every_clause_is_held_by_some_built_in_profile_and_exercised(rows):
    for row in rows:
        held = [name for name, count in row.per_profile.items() if count is not None]
        assert held, f"§{row.clause.section} {row.clause.id}: no built-in profile is held to it"
        assert row.cases, f"§{row.clause.section} {row.clause.id}: no fixture case exercises it"


def test_every_clause_cites_a_section_of_the_spec():
    text = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"(?m)^#{2,3} (\d+(?:\.\d+)?)\.?\s", text))
    for clause in CLAUSES:
        assert clause.section in headings, f"{clause.id}: § {clause.section} is not a heading of docs/spec.md"
        assert clause.id.startswith(f"{clause.section}."), f"{clause.id}: its id does not start with its §"
    assert len({clause.id for clause in CLAUSES}) == len(CLAUSES), "clause ids repeat"


def test_a_missing_case_is_a_gap(cases):
    """The gap check can fail: without the reversed-corner cases, §6.1's clause has no case anywhere."""
    without = [case for case in cases if not case.id.startswith("boxes.reversed")]
    missing = coverage.gaps(coverage.measure(without))
    assert {("6.1.reversed_x", name) for name in PROFILES} <= set(missing)
    assert all(clause.startswith("6.1.reversed") for clause, _ in missing)


def test_a_profile_excluding_a_divergence_is_not_held_to_the_clauses_it_contradicts():
    never_square = next(clause for clause in SPEC_CLAUSES if clause.id == "3.2.never_square")
    assert not never_square.implemented_by(PROFILES["hf"])  # hf excludes square_normalisation
    assert never_square.implemented_by(PROFILES["hf_layout"])  # hf_layout exposes it: its port must fail there
    corner_rows = next(clause for clause in SPEC_CLAUSES if clause.id == "5.2.labels_2_3_corner_rows")
    assert [name for name, p in PROFILES.items() if corner_rows.implemented_by(p)] == [
        name for name, p in PROFILES.items() if p.semantics in ("sam2", "hf_sam2", "ort_sam2")
    ]


@pytest.mark.parametrize(
    "clause_id, case_id, exercised",
    [
        ("6.1.reversed_x", "boxes.reversed", True),
        ("6.1.reversed_x", "boxes.only", False),
        ("6.1.coincident_corners", "boxes.degenerate.square", True),
        ("3.2.outside", "points.outside", True),
        ("3.2.outside", "points.border", False),
        ("3.2.border", "points.border", True),
        ("11.1.batch_of_one", "all.batch_one", True),
        ("11.1.batch_of_one", "all.points_boxes_masks", False),
        ("9.2.variance_near_eps", "masks.near_zero_variance", True),
        ("9.2.variance_near_eps", "masks.random", False),
        ("2.1.sizes_unrelated", "config.unrelated_sizes", True),
        ("2.1.sizes_unrelated", "seed.points", False),
        ("9.5.integer_masks", "masks.integer_uint8.square", True),
        ("9.5.integer_masks", "masks.random", False),
    ],
)
def test_predicates_read_the_cases_inputs(cases, clause_id, case_id, exercised):
    clause = next(c for c in CLAUSES if c.id == clause_id)
    case = next(c for c in cases if c.id == case_id)
    assert clause.exercised(CaseView.of(case)) is exercised, f"§{clause.section} {clause_id} on {case_id}"


def test_docs_coverage_md_is_what_the_command_produces(cases, rows):
    committed = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert committed == coverage.render(rows, len(cases)), (
        "docs/coverage.md is stale: run `samspec report coverage --out docs/coverage.md`"
    )


@pytest.mark.slow
def test_check_exits_1_on_a_stale_table(tmp_path, capsys):
    stale = tmp_path / "coverage.md"
    stale.write_text("# an old table\n", encoding="utf-8")
    assert main(["report", "coverage", "--check", str(stale)]) == 1
    assert "is stale" in capsys.readouterr().err
    assert main(["report", "coverage", "--out", str(stale)]) == 0
    assert main(["report", "coverage", "--check", str(stale)]) == 0


# -- ports that break one clause: before these clauses had cases, each passed every case ------------


class SortedCorners(ReferenceAdapter):
    """Reorders each box to (min x, min y, max x, max y): §6.1 says corners are never reordered."""

    def run(self, points, labels, boxes, masks):
        if boxes is not None:
            b = np.asarray(boxes, dtype=np.float64)
            lo, hi = np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])
            boxes = np.concatenate([lo, hi], axis=1)
        return super().run(points, labels, boxes, masks)


class ClippedBoxes(ReferenceAdapter):
    """Clips boxes into the image: §6.1 accepts out-of-image boxes as given."""

    def build(self, config, params):
        super().build(config, params)
        height, width = config["input_image_size"]
        self.last = [width - 1, height - 1] * 2

    def run(self, points, labels, boxes, masks):
        if boxes is not None:
            boxes = np.clip(np.asarray(boxes, dtype=np.float64), 0, self.last)
        return super().run(points, labels, boxes, masks)


class WidenedDegenerateBoxes(ReferenceAdapter):
    """Widens a box of zero width or height by one pixel: §6.1 accepts degenerate boxes as given."""

    def run(self, points, labels, boxes, masks):
        if boxes is not None:
            b = np.asarray(boxes, dtype=np.float64).copy()
            b[:, 2:] = np.where(b[:, 2:] == b[:, :2], b[:, :2] + 1, b[:, 2:])
            boxes = b
        return super().run(points, labels, boxes, masks)


class GridFromImageSize(ReferenceAdapter):
    """Builds its grid as (H / 16, W / 16): §2.1 assumes no relation between the two sizes."""

    def build(self, config, params):
        sizes = tuple(max(1, n // 16) for n in config["input_image_size"])
        super().build(dict(config, image_embedding_size=sizes), params)


# -- §9.5 "integer masks are accepted and cast": ports that mishandle integer masks ------------------


def _integer(masks) -> bool:
    return masks is not None and np.asarray(masks).dtype.kind in "iu"


class IntegerMasksDropped(ReferenceAdapter):
    """Takes an integer mask for "no mask" (only floating masks count as mask logits): the no-mask
    outputs, at the batch the masks gave (§11.1)."""

    def run(self, points, labels, boxes, masks):
        if not _integer(masks):
            return super().run(points, labels, boxes, masks)
        out = super().run(points, labels, boxes, None)
        batch = len(masks)
        return {
            key: value if key == "prompt_dense_positional_embeddings" else np.repeat(value, batch // len(value), 0)
            for key, value in out.items()
        }


class Uint8MasksRescaled(ReferenceAdapter):
    """Divides a uint8 mask by 255, as for an 8-bit image: §9.5 casts, it does not rescale."""

    def run(self, points, labels, boxes, masks):
        if masks is not None and np.asarray(masks).dtype == np.uint8:
            masks = np.asarray(masks) / 255.0
        return super().run(points, labels, boxes, masks)


class IntegerMasksAsFlags(ReferenceAdapter):
    """Reads an integer mask as 0/1 flags (value > 0): §9.5 keeps the integers' values."""

    def run(self, points, labels, boxes, masks):
        if _integer(masks):
            masks = (np.asarray(masks) > 0).astype(np.float64)
        return super().run(points, labels, boxes, masks)


def _integer_masks_where(test):
    """The ids of the cases with an integer mask that passes ``test`` (its array)."""
    return lambda cases: {c.id for c in cases if _integer(c.inputs.get("masks")) and test(c.inputs["masks"])}


@pytest.mark.slow
@pytest.mark.parametrize(
    "port, clauses",
    [
        (SortedCorners, ("6.1.reversed_x", "6.1.reversed_y")),
        (ClippedBoxes, ("6.1.outside",)),
        (WidenedDegenerateBoxes, ("6.1.coincident_corners", "6.1.zero_width")),
        (GridFromImageSize, ("2.1.sizes_unrelated",)),
        (IntegerMasksDropped, ("9.5.integer_masks",)),
    ],
)
def test_a_port_breaking_one_clause_fails_exactly_the_cases_exercising_it(cases, port, clauses):
    exercising = {case.id for case in cases for c in CLAUSES if c.id in clauses and c.exercised(CaseView.of(case))}
    results = Checker(port(), PROFILES["sam"]).run(cases)
    failing = {r.case for r in results if r.verdict in ("fail", "error")}
    section = next(c.section for c in CLAUSES if c.id == clauses[0])
    assert failing, f"{port.__name__} breaks §{section} ({', '.join(clauses)}) and passed every case"
    assert failing <= exercising, f"{port.__name__}: cases failing outside {clauses}: {sorted(failing - exercising)}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "port, failing_cases",
    [
        (IntegerMasksDropped, _integer_masks_where(lambda m: True)),
        (Uint8MasksRescaled, _integer_masks_where(lambda m: m.dtype == np.uint8)),
        (IntegerMasksAsFlags, _integer_masks_where(lambda m: not np.isin(m, (0, 1)).all())),
    ],
)
def test_a_port_mishandling_integer_masks_fails_exactly_those_cases(cases, port, failing_cases):
    """§9.5, mask downscaler input: a port that drops, rescales or thresholds integer masks passed every
    case before the integer-mask cases; it fails exactly the cases whose integer mask it changes, on the
    dense output only, and the clause's cases include them."""
    expected = failing_cases(cases)
    clause = next(c for c in CLAUSES if c.id == "9.5.integer_masks")
    assert expected and expected <= {c.id for c in cases if clause.exercised(CaseView.of(c))}
    results = Checker(port(), PROFILES["sam"]).run(cases)
    failing = {(r.case, r.output) for r in results if r.verdict in ("fail", "error")}
    dense = "prompt_dense_embeddings"
    assert failing == {(case, dense) for case in expected}, (
        f"§9.5 integer masks, {port.__name__}: failing {sorted(failing)}; "
        f"expected the dense output of {sorted(expected)}"
    )


# -- §6.2 "interleaved per box: tl0, br0, tl1, br1, ...": a port that stacks the corners instead ----------------


class BoxCornersStackedOnBoxAxis(ReferenceAdapter):
    """keras-hub's conventions (boxes (B, M, 2, 2)), its box tokens ordered tl0, tl1, ..., br0, br1, ...
    (the corners stacked on the box axis): §6.2 interleaves them per box. Equal with one box per image."""

    def __init__(self):
        super().__init__(profile="keras_hub")

    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        boxes_per_image = 0 if boxes is None else np.shape(boxes)[1]
        if boxes_per_image:
            sparse = out["prompt_sparse_embeddings"].copy()
            batch, channels = sparse.shape[0], sparse.shape[-1]
            tokens = sparse[:, -2 * boxes_per_image :].reshape(batch, boxes_per_image, 2, channels)
            sparse[:, -2 * boxes_per_image :] = tokens.transpose(0, 2, 1, 3).reshape(batch, -1, channels)
            out["prompt_sparse_embeddings"] = sparse
        return out


@pytest.mark.slow
def test_a_port_stacking_box_corners_fails_exactly_the_several_box_cases(cases):
    """§6.2, box tokens: before the cases with several boxes per image, this port passed every case under
    `keras_hub`; it fails exactly the sparse output of the cases exercising `6.2.interleaved`, and the
    diagnosis points to §6.2."""
    clause = next(c for c in CLAUSES if c.id == "6.2.interleaved")
    exercising = {case.id for case in cases if clause.exercised(CaseView.of(case))}
    profile = PROFILES["keras_hub"]
    results = Checker(BoxCornersStackedOnBoxAxis(), profile, diagnose=make_diagnoser(profile)).run(cases)
    failing = {(r.case, r.output): r for r in results if r.verdict in ("fail", "error")}
    assert exercising and set(failing) == {(case, "prompt_sparse_embeddings") for case in exercising}, (
        f"§6.2 interleaved box tokens, sparse assembly: failing {sorted(failing)}; expected the sparse output of "
        f"{sorted(exercising)}"
    )
    for (case, _), result in failing.items():
        assert result.diagnosis["summary"].endswith("points to §6.2"), (case, result.diagnosis["summary"])
