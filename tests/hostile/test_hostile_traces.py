"""Bounded trace reports (issue 22, item 7; docs/ci.md "What samspec guarantees"): whatever a port's trace()
returns, the JSON and HTML reports stay small, the verdicts stand, and the HTML stage table is a table."""

from __future__ import annotations

import re

import hostile_adapters as H
import pytest
from test_hostile_adapters import assert_verdicts, check

NOTES = {
    "TraceManyStages": r"trace failed: trace\(\) returned more than 200 stages",
    "TraceLongName": r"trace failed: trace\(\) returned a stage name of 100,000 characters \(at most 100\)",
}


@pytest.mark.parametrize("name", sorted(NOTES))
def test_an_unbounded_trace_is_refused_in_the_worker(name, tmp_path):
    run = check(name, "--trace", "--no-diagnosis", tmp_path=tmp_path)  # Run: the JSON report is under 100 KB
    assert run.rc == 0
    assert_verdicts(run, {})
    for result in run.document["results"]:
        assert re.search(NOTES[name], result["trace"]["summary"]), result["trace"]["summary"]


@pytest.mark.slow
def test_junk_stage_names_are_capped_in_the_reports_and_the_html_table_is_a_table(tmp_path):
    html = tmp_path / "report.html"
    run = check("TraceWithJunk", "--trace", "--no-diagnosis", "--html", str(html), tmp_path=tmp_path)
    assert run.rc == 1
    assert run.result(H.BAD)["verdict"] == "fail"
    trace = run.result(H.BAD)["trace"]
    assert trace["ignored_count"] == 150 and len(trace["ignored"]) == 20
    assert trace["rows"] and {row["verdict"] for row in trace["rows"]} == {"pass"}
    page = html.read_text()
    assert len(page) < 400_000, f"{len(page):,} characters of HTML"
    assert "<th>stage</th><th>section</th><th>verdict</th>" in page
    assert "and 130 more" in page
    assert "{&#x27;summary&#x27;" not in page and "{'summary'" not in page  # no raw dict
