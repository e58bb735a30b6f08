"""The adapter contract (issue 24, item 2; docs/adapters.md, "How samspec calls an adapter"): adapters written in
several styles. One that can take samspec's calls runs; one that cannot gets ONE clear error before any case runs
(exit 2, one line on stderr, a report saying why), naming the call samspec makes and the method's own signature."""

from __future__ import annotations

import pytest
from test_hostile_adapters import assert_one_line_error, assert_verdicts, check

FITS = ["Good", "RunKeywordsOnly", "RunDefaults"]


@pytest.mark.parametrize("name", FITS)
def test_an_adapter_that_takes_samspecs_calls_runs(name, tmp_path):
    run = check(name, "--no-diagnosis", tmp_path=tmp_path)
    assert run.rc == 0, run.stdout[-2000:] + run.stderr
    assert_verdicts(run, {})


REFUSED = {
    "RunStarArgs": r"the adapter's run\(\*args\) cannot be called as samspec calls it: "
    r"run\(points=\.\.\., labels=\.\.\., boxes=\.\.\., masks=\.\.\.\), keyword arguments",
    "RunOtherNames": r"the adapter's run\(pts, lbls, bxs, msks\) cannot be called as samspec calls it: run\(points=",
    "BuildOneArgument": r"the adapter's build\(config\) cannot be called as samspec calls it: build\(config, params\)",
    "TraceOtherNames": r"the adapter's trace\(coords, labels, boxes, masks\) cannot be called .*trace\(points=",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_signature_that_cannot_take_samspecs_calls_is_one_error_before_any_case(name, tmp_path):
    run = check(name, "--no-diagnosis", tmp_path=tmp_path)
    assert_one_line_error(run, REFUSED[name])
    assert "docs/adapters.md" in run.stderr
    assert run.document["error"] and run.document["results"] == []


def test_the_names_follow_the_profile(tmp_path):
    """Under profile `hf` samspec calls run(input_points=..., ...): a `sam`-named run is refused, naming them."""
    run = check("Good", "--profile", "hf", "--no-diagnosis", tmp_path=tmp_path)
    assert_one_line_error(
        run, r"run\(input_points=\.\.\., input_labels=\.\.\., input_boxes=\.\.\., input_masks=\.\.\.\)"
    )
