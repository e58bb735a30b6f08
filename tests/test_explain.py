"""`samspec explain` (conformance/teaching/explain.py): the trace of one prompt, stage by stage (spec §3-§11)."""

import json
import subprocess
import sys

from samspec.conformance.cli import main

EXAMPLE = ["explain", "--points", "500,375", "--labels", "1", "--box", "100,100,700,600", "--demo-mask"]


def test_json_to_stdout_is_the_json_alone_and_summarised(capsys):
    assert main(EXAMPLE + ["--json", "-"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)  # nothing else on stdout
    assert "points.shifted" in err and not document["full"]
    stages = {stage["name"]: stage for stage in document["stages"]}
    assert stages["points.shifted"]["values"] == [[[500.5, 375.5]]]  # small arrays: every value (§3.1)
    grid = stages["mask.conv1"]
    assert grid["shape"] == [1, 128, 128, 4] and "values" not in grid
    assert grid["summary"]["all_values"] == "rerun with --full" and len(grid["summary"]["first"]) == 8
    assert len(out) < 100_000, f"the summarised trace is {len(out)} bytes"


def test_full_writes_every_value_to_a_file(tmp_path, capsys):
    path = tmp_path / "trace.json"
    assert (
        main(
            [
                "explain",
                "--points",
                "10,20",
                "--labels",
                "0",
                "--hidden-size",
                "8",
                "--image-embedding-size",
                "4,4",
                "--input-image-size",
                "64,64",
                "--mask-in-channels",
                "4",
                "--json",
                str(path),
                "--full",
            ]
        )
        == 0
    )
    document = json.loads(path.read_text())
    grid = next(s for s in document["stages"] if s["name"] == "dense_pe.grid")
    assert document["full"] and len(grid["values"]) == 4 and len(grid["values"][0][0]) == 8
    assert f"full trace written to {path}" in capsys.readouterr().out


def test_points_without_labels_is_a_usage_error_naming_the_flag():
    done = subprocess.run(
        [sys.executable, "-m", "samspec.conformance.cli", "explain", "--points", "500,375"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "--points: expected --labels as well" in done.stderr and "Traceback" not in done.stderr
