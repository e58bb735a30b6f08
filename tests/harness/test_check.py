"""`samspec check`: verdicts, exit codes, reports and the xfail file (docs/adapters.md, docs/tolerances.md)."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from samspec.conformance.cli import main

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def toy_ports_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def check(*args):
    return main(["check", *args])


@pytest.mark.slow
@pytest.mark.parametrize("port", ["reference-f32", "reference-f16", "toy_ports:Faithful32"])
def test_faithful_ports_pass(port, capsys):
    assert check(port) == 0
    out = capsys.readouterr().out
    assert " fail" not in out and "error" not in out.split("\n")[-2]


@pytest.mark.slow
def test_a_real_bug_fails_and_the_row_says_where(capsys):
    assert check("toy_ports:NoShift") == 1
    out = capsys.readouterr().out
    rows = {tuple(line.split()[:3]): line.split()[0] for line in out.splitlines() if line.startswith(("pass", "fail"))}
    assert rows[("fail", "labels.foreground", "sparse")] == "fail"
    # the dense positional grid involves no +0.5 shift: it must still pass
    assert ("pass", "labels.foreground", "dense_pe") in rows


@pytest.mark.slow
@pytest.mark.parametrize(
    "port, verdict, text",
    [
        ("toy_ports:Crashes", "error", "RuntimeError: mask path not implemented"),
        ("toy_ports:MissingKey", "fail", "missing output 'prompt_dense_positional_embeddings'"),
        ("toy_ports:WrongShape", "fail", "shape"),
        ("toy_ports:IntegerOutput", "fail", "dtype int32"),
        ("toy_ports:NaNs", "fail", "NaN/inf"),
        ("toy_ports:broken_build", "error", "adapter build failed: ImportError: libfoo not found"),
    ],
)
def test_adapter_problems_fail_the_case_not_the_run(port, verdict, text, capsys):
    assert check(port) == 1
    out = capsys.readouterr().out
    assert any(line.startswith(verdict) and text in line for line in out.splitlines()), out[-3000:]
    if port != "toy_ports:broken_build":
        assert "pass" in out  # the other cases still ran


def test_a_port_that_mutates_its_inputs_cannot_corrupt_the_fixtures():
    """The port gets copies: in-place writes to its inputs never reach the loaded fixtures."""
    import numpy as np
    from toy_ports import MutatesInputs

    from samspec.conformance.cases.store import load_cases
    from samspec.conformance.harness.check import Checker
    from samspec.conformance.profiles.profile import get_profile

    cases = load_cases(pattern="points")
    before = {c.id: np.array(c.inputs["points"]) for c in cases}
    Checker(MutatesInputs(), get_profile("sam")).run(cases)
    for case in cases:
        assert np.array_equal(case.inputs["points"], before[case.id]), case.id


@pytest.mark.parametrize(
    "args, text",
    [
        (["no-such-port"], "unknown port 'no-such-port'"),
        (["no_such_module:Adapter"], "cannot import 'no_such_module'"),
        (["toy_ports:Nope"], "has no attribute 'Nope'"),
        (["reference-f32", "--profile", "klingon"], "profile"),
        (["reference-f32", "--cases", "zzz"], "matches no case"),
        (["reference-f32", "--fixtures", "/nonexistent"], "no such fixture folder"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, text, capsys):
    assert check(*args) == 2
    err = capsys.readouterr().err.strip()
    assert text in err and len(err.splitlines()) == 1
    if args == ["no-such-port"]:
        assert "reference-f32" in err and "segment-anything" in err


def test_json_and_junit_reports(tmp_path, capsys):
    report, junit = tmp_path / "r.json", tmp_path / "r.xml"
    assert check("toy_ports:NoShift", "--cases", "labels|empty", "--report", str(report), "--junit", str(junit)) == 1
    document = json.loads(report.read_text())
    assert document["profile"] == "sam" and document["environment"]["numpy"]
    failing = [r for r in document["results"] if r["verdict"] == "fail"]
    assert failing and all(r["error"] > r["budget"] > 0 and r["worst_index"] is not None for r in failing)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert int(suite.get("failures")) == len(failing)
    assert int(suite.get("tests")) == len(document["results"])


def test_xfail_file(tmp_path, capsys):
    xfail = tmp_path / "xfail.txt"
    xfail.write_text("# known\nlabels\\.  # forgot the pixel-centre shift, issue 7\nnever\\.matches  # stale entry\n")
    assert check("toy_ports:NoShift", "--cases", "labels", "--xfail", str(xfail)) == 0
    captured = capsys.readouterr()
    assert "xfail" in captured.out and "forgot the pixel-centre shift" in captured.out
    assert "pattern 'never\\\\.matches' matched nothing" in captured.err


def test_xfail_needs_a_reason(tmp_path, capsys):
    xfail = tmp_path / "xfail.txt"
    xfail.write_text("labels\\.\n")
    assert check("reference-f32", "--xfail", str(xfail)) == 2
    assert "needs a reason" in capsys.readouterr().err


def test_not_applicable_is_never_a_pass(capsys):
    """Under keras_hub, an empty prompt cannot be expressed: n/a with the reason, not a pass."""
    assert check("reference-f32", "--profile", "keras_hub", "--cases", "empty") == 1  # nothing was checked
    out = capsys.readouterr().out
    assert "n/a" in out and "batch size" in out and "pass " not in out


@pytest.mark.slow
def test_reference_under_its_own_keras_hub_profile_passes(capsys):
    assert check("reference-f32", "--profile", "keras_hub") == 0


@pytest.mark.slow
@pytest.mark.parametrize("stop", [("-x",), ("--maxfail", "1")])
def test_a_run_stopped_early_says_so_in_every_report(stop, tmp_path, capsys):
    """-x / --maxfail: the summary, the JSON, the JUnit and the HTML say the run stopped and what did not run."""
    reports = [
        "--report",
        str(tmp_path / "r.json"),
        "--junit",
        str(tmp_path / "r.xml"),
        "--html",
        str(tmp_path / "r.html"),
    ]
    assert (
        check("toy_ports:NoShift", "--cases", r"^(labels\.foreground|boxes\.only|masks\.random)$", *stop, *reports) == 1
    )
    out = capsys.readouterr().out
    assert "stopped early after 1 failing output (-x / --maxfail): 2 cases (6 outputs) did not run" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["stopped_early"] == {"maxfail": 1, "cases_not_run": 2, "outputs_not_run": 6}
    properties = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "r.xml").iter("property")}
    assert "2 cases (6 outputs) did not run" in properties["samspec.stopped_early"]
    assert "2 cases (6 outputs) did not run" in (tmp_path / "r.html").read_text()
