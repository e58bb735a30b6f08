"""`samspec selftest`: every catalogue variant is caught and diagnosed as itself, and the committed
table (docs/selftest.md) is exactly what a fresh run generates."""

import argparse
from pathlib import Path

from samspec.conformance import selftest
from samspec.conformance.fixtures import load_cases
from samspec.conformance.variants import CATALOGUE, VARIANTS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_committed_table_is_current_and_every_variant_is_caught_and_named(capsys):
    """CI's check: regenerate, compare with docs/selftest.md, and fail on any escape or misdiagnosis."""
    args = argparse.Namespace(out=str(DOCS / "selftest.md"), check=True, fixtures=None, quiet=True)
    status = selftest.run(args)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"{len(CATALOGUE)} of {len(CATALOGUE)} variants caught, {len(CATALOGUE)} diagnosed as themselves" in captured.out
    text = (DOCS / "selftest.md").read_text(encoding="utf-8")
    assert "**NO**" not in text and "(wrong)" not in text
    for variant in CATALOGUE:
        assert f"| `{variant.name}` |" in text


def test_a_variant_the_fixtures_cannot_see_is_reported(tmp_path, capsys):
    """With only the empty-prompt cases, a point-only bug escapes: the self-test says so and exits 1."""
    cases = [c for c in load_cases() if c.id.startswith("empty.")]
    evaluation = selftest.evaluate(cases, variants=[VARIANTS["no_pixel_shift"], VARIANTS["channels_last"]])
    problems = selftest.problems_of(evaluation)
    assert problems == ["variant no_pixel_shift passes samspec check: extend the fixtures (conformance/cases.py)"]
    text = selftest.render(evaluation)
    assert "| `no_pixel_shift` |" in text and "**NO**" in text


def test_generation_is_deterministic_and_writes_where_asked(tmp_path, capsys):
    cases = [c for c in load_cases() if c.id.startswith(("labels.foreground", "masks.random"))]
    variants = [VARIANTS["tanh_gelu"], VARIANTS["labels_swapped"]]
    first = selftest.render(selftest.evaluate(cases, variants=variants))
    second = selftest.render(selftest.evaluate(cases, variants=variants))
    assert first == second
    assert "2 of 2 variants caught; 2 of 2 diagnosed as themselves" in first
