"""`samspec selftest`: every catalogue variant is caught and diagnosed as itself; every bug outside the
catalogue (conformance/selftest/novel_bugs.py) is caught, localised to its spec section (>= 80%) and never named
as a known variant; the committed table (docs/selftest.md) is exactly what a fresh run generates."""

import argparse
import re
from pathlib import Path

import pytest

from samspec.conformance.cases.store import load_cases
from samspec.conformance.diagnosis.variants import CATALOGUE, VARIANTS
from samspec.conformance.selftest import suite as selftest
from samspec.conformance.selftest.novel_bugs import NOVEL, NOVEL_BUGS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_committed_table_is_current_and_both_sets_meet_their_targets(capsys):
    """CI's check: regenerate, compare with docs/selftest.md, and fail on any escape or misdiagnosis."""
    args = argparse.Namespace(out=None, check=True, fixtures=None, quiet=True, jobs=None)
    status = selftest.run(args)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    n = len(CATALOGUE)
    assert f"{n} of {n} variants caught, {n} diagnosed as themselves" in captured.out
    found = re.search(
        r"(\d+) of (\d+) bugs outside the catalogue caught, (\d+) localised to the right section, "
        r"(\d+) wrong names",
        captured.out,
    )
    caught, total, right, wrong = map(int, found.groups())
    assert total == len(NOVEL) >= 20
    assert caught == total  # 100% caught
    assert right >= 0.8 * total  # >= 80% localised to the right section
    assert wrong == 0  # no bug outside the catalogue is named as a known variant
    text = (DOCS / "selftest.md").read_text(encoding="utf-8")
    assert "**NO**" not in text and "(wrong)" not in text
    for name in [v.name for v in CATALOGUE] + [b.name for b in NOVEL]:
        assert f"| `{name}`" in text


def test_the_second_set_is_outside_the_catalogue_and_spans_every_section():
    assert not set(NOVEL_BUGS) & set(VARIANTS)
    tops = {bug.section.split(".")[0] for bug in NOVEL}
    assert {f"§{n}" for n in range(3, 11)} <= tops
    assert {"weight conversion", "ordering", "layout"} <= {bug.group for bug in NOVEL}


def test_a_variant_the_fixtures_cannot_see_is_reported():
    """With only the empty-prompt cases, a point-only bug escapes: the self-test says so."""
    cases = [c for c in load_cases() if c.id.startswith("empty.")]
    evaluation = selftest.evaluate(
        cases,
        variants=[VARIANTS["no_pixel_shift"], VARIANTS["channels_last"]],
        novel=[NOVEL_BUGS["no_mask_negated"], NOVEL_BUGS["shift_by_one"]],
    )
    problems = selftest.problems_of(evaluation)
    assert (
        "variant no_pixel_shift passes samspec check: extend the fixtures (conformance/cases/catalogue.py)" in problems
    )
    assert "bug shift_by_one (outside the catalogue) passes samspec check: extend the fixtures" in problems
    text = selftest.render(evaluation)
    assert "| `no_pixel_shift` |" in text and "**NO**" in text


@pytest.fixture(scope="module")
def small():
    return [c for c in load_cases() if c.id.startswith(("labels.foreground", "labels.background", "masks.random"))]


def test_generation_is_deterministic_and_the_same_with_two_workers(small):
    variants = [VARIANTS["tanh_gelu"], VARIANTS["labels_swapped"]]
    novel = [NOVEL_BUGS["background_gets_foreground"], NOVEL_BUGS["conv1_bias_dropped"]]
    first = selftest.render(selftest.evaluate(small, variants=variants, novel=novel, jobs=1))
    second = selftest.render(selftest.evaluate(small, variants=variants, novel=novel, jobs=2))
    assert first == second
    assert "2 of 2 variants caught; 2 of 2 diagnosed as themselves" in first
    assert "2 of 2 caught; 2 of 2 localised to the right section; 0 wrong names" in first


def test_selftest_writes_only_where_told(tmp_path, monkeypatch, small, capsys):
    """No file appears in the current folder without --out; --out writes there; --check never writes."""
    evaluation = selftest.evaluate(small, variants=[VARIANTS["tanh_gelu"]], novel=[NOVEL_BUGS["no_mask_negated"]])
    monkeypatch.setattr(selftest, "evaluate", lambda cases, **kwargs: evaluation)
    monkeypatch.chdir(tmp_path)
    base = dict(check=False, fixtures=None, quiet=True, jobs=1)
    assert selftest.run(argparse.Namespace(out=None, **base)) == 0
    assert list(tmp_path.iterdir()) == []
    target = tmp_path / "out" / "table.md"
    assert selftest.run(argparse.Namespace(out=str(target), **base)) == 0
    assert target.read_text(encoding="utf-8") == selftest.render(evaluation)
    target.write_text("stale", encoding="utf-8")
    assert selftest.run(argparse.Namespace(out=str(target), **dict(base, check=True))) == 1
    assert target.read_text(encoding="utf-8") == "stale"
    assert "is out of date" in capsys.readouterr().err
