"""`samspec selftest`: every catalogue variant is caught and diagnosed as itself; every bug outside the
catalogue (conformance/selftest/novel_bugs.py) is caught; the words are judged (the summary's first section,
wrong names, false precision claims) against the targets or, bug by bug, the listed known misses; the committed
table (docs/selftest.md) is exactly what a fresh run generates."""

import argparse
import re
from pathlib import Path

import pytest

from samspec.conformance.cases.store import load_cases
from samspec.conformance.diagnosis.variants import CATALOGUE, VARIANTS
from samspec.conformance.selftest import suite as selftest
from samspec.conformance.selftest.novel_bugs import NOVEL, NOVEL_BUGS
from samspec.conformance.selftest.score import KNOWN_MISSES, TARGETS

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.slow
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
    assert total == len(NOVEL) >= 40
    assert caught == total  # 100% caught
    # the words: the target (>= 90% right first section, 0 wrong names, 0 false precision claims) or,
    # bug by bug, exactly the misses listed in score.KNOWN_MISSES (strict both ways)
    known = {kind: sum(kind in misses for misses in KNOWN_MISSES.values()) for kind in ("section", "name", "precision")}
    assert right >= TARGETS["right"] * total or right == total - known["section"]
    assert wrong == known["name"]
    claims = re.search(r"bugs outside the catalogue caught, .*, (\d+) false precision claims", captured.out)
    assert int(claims.group(1)) == known["precision"]
    text = (DOCS / "selftest.md").read_text(encoding="utf-8")
    assert "**NO**" not in text
    for line in text.splitlines():
        if "(wrong)" in line or "**false**" in line:
            assert re.match(r"\| `(\w+)`", line).group(1) in KNOWN_MISSES, line
    for name in [v.name for v in CATALOGUE] + [b.name for b in NOVEL]:
        assert f"| `{name}`" in text


def test_the_second_set_is_outside_the_catalogue_and_spans_every_section():
    assert not set(NOVEL_BUGS) & set(VARIANTS)
    tops = {bug.section.split(".")[0] for bug in NOVEL}
    assert {f"§{n}" for n in range(3, 12)} <= tops
    kinds = {bug.group for bug in NOVEL}
    assert {"logic", "precision", "batching", "layout", "weight conversion", "ordering"} <= kinds
    assert all(sum(bug.group == kind for bug in NOVEL) >= 4 for kind in kinds - {"ordering"})
    assert not set(KNOWN_MISSES) - set(NOVEL_BUGS)  # the known misses name bugs of the set


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


def test_the_words_are_scored_first_section_names_and_precision_claims():
    """A summary leading with §11.3's precision claim is a false claim about a logic bug and a right one
    about a bug that rounds to float16; a named variant other than the bug itself is a wrong name."""
    from samspec.conformance.selftest import score

    precision = {
        "lines": ["diagnosis: 3 of 4 failing outputs: your outputs are float32 but only float16-accurate (§11.3)"],
        "explained": [{"variant": "tanh_gelu"}],
        "precision": 3,
        "section": "§9.3",
    }
    logic, rounding = NOVEL_BUGS["shift_by_one"], NOVEL_BUGS["gelu_in_float16"]
    judged = score.judge_words(precision, ["one failing result"], logic)
    assert judged["first_section"] == "§11.3" and not judged["right_section"]
    assert judged["false_precision"] and judged["wrong_names"] == ["tanh_gelu"]
    assert score.misses_of(judged) == {"section", "name", "precision"}
    judged = score.judge_words(precision, ["one failing result"], rounding, itself="tanh_gelu")
    assert judged["right_section"] and judged["precision_claim"] and not judged["false_precision"]
    assert not judged["wrong_names"]
    assert score.judge_words(None, [], logic) == dict(
        caught=False,
        first_section=None,
        right_section=False,
        wrong_names=[],
        precision_claim=False,
        false_precision=False,
    )
    assert score.unexpected("shift_by_one", judged, known={"shift_by_one": {"section"}}) == [
        "bug shift_by_one: now right on section: remove it from score.KNOWN_MISSES"
    ]


def test_selftest_trace_places_each_bug_outside_the_catalogue(small, capsys):
    """`samspec selftest --trace`: every failing case of the bugs outside the catalogue is traced and
    the table says where the trace places each; it is refused with --check (the committed table has none)."""
    evaluation = selftest.evaluate(small, variants=[], novel=[NOVEL_BUGS["layer_norm_over_batch"]], trace=True)
    row = evaluation["novel"][0]
    assert row["traced_section"] == "§9.2" and row["trace_right"]
    assert "| `layer_norm_over_batch` | §9.2 |" in selftest.render(evaluation).split("(`--trace`)")[1]
    args = argparse.Namespace(out=None, check=True, fixtures=None, quiet=True, jobs=1, trace=True)
    assert selftest.run(args) == 2
    assert "not with --check" in capsys.readouterr().err
