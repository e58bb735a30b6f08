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


@pytest.mark.slow
@pytest.mark.parametrize(
    "port, clauses",
    [
        (SortedCorners, ("6.1.reversed_x", "6.1.reversed_y")),
        (ClippedBoxes, ("6.1.outside",)),
        (WidenedDegenerateBoxes, ("6.1.coincident_corners", "6.1.zero_width")),
        (GridFromImageSize, ("2.1.sizes_unrelated",)),
    ],
)
def test_a_port_breaking_one_clause_fails_exactly_the_cases_exercising_it(cases, port, clauses):
    exercising = {case.id for case in cases for c in CLAUSES if c.id in clauses and c.exercised(CaseView.of(case))}
    results = Checker(port(), PROFILES["sam"]).run(cases)
    failing = {r.case for r in results if r.verdict in ("fail", "error")}
    section = next(c.section for c in CLAUSES if c.id == clauses[0])
    assert failing, f"{port.__name__} breaks §{section} ({', '.join(clauses)}) and passed every case"
    assert failing <= exercising, f"{port.__name__}: cases failing outside {clauses}: {sorted(failing - exercising)}"
