"""The C99 port in ports/c/ (docs/other-languages.md): a port in another language, judged by samspec
from the `.npy` files it writes. Built with the system `cc`; skipped with the reason where there is none.

It passes every output of every fixture case in float64, and the build with one planted bug
(`make BUG=no_pixel_shift`, spec §3.1) fails exactly the outputs that bug changes, each diagnosed as
`no_pixel_shift` by name.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_outputs import judge

from samspec.conformance.adapters.outputs import run_exec
from samspec.conformance.cases.store import default_dir, load_cases

PORT = Path(__file__).resolve().parents[1] / "ports" / "c"


def build(tmp_path, bug=None) -> Path:
    """ports/c built into tmp_path with the Makefile's own command (never into the source tree)."""
    compiler = shutil.which("cc")
    if compiler is None or shutil.which("make") is None:
        pytest.skip("no C compiler (cc) or make on this machine: the C port cannot be built")
    out = tmp_path / ("samspec_c_" + (bug or "ok"))
    command = ["make", "-s", "-C", str(PORT), f"OUT={out}"] + ([f"BUG={bug}"] if bug else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"
    assert "warning" not in done.stderr, done.stderr  # -Wall -Wextra -pedantic stays clean
    return out


@pytest.fixture(scope="module")
def cases():
    return load_cases()


def run_port(program, tmp_path):
    out = tmp_path / "outputs"
    rc, captured = run_exec(f"{program} {{fixtures}} {{out}}", default_dir(), out, timeout=120)
    assert rc == 0, captured
    assert f"wrote {len(load_cases())} of {len(load_cases())} cases" in captured
    return out


def test_the_c_port_passes_every_case_in_float64(tmp_path, cases):
    results = judge(run_port(build(tmp_path), tmp_path), cases)
    assert len(results) == 3 * len(cases)
    # n/a: cases the `sam` profile cannot express (labels of other ports' semantics, several boxes per image)
    failing = [f"{r.case}::{r.output} {r.verdict} {r.message}" for r in results if r.verdict not in ("pass", "n/a")]
    assert not failing, "\n".join(failing)
    several_boxes = sum(np.ndim(case.inputs.get("boxes")) == 3 for case in cases)
    assert sum(r.verdict == "pass" for r in results) >= 3 * (len(cases) - 2 - several_boxes)
    assert {r.dtype for r in results if r.verdict == "pass"} == {"float64"}


@pytest.mark.slow
def test_the_planted_bug_fails_and_is_named(tmp_path, cases):
    results = judge(run_port(build(tmp_path, bug="no_pixel_shift"), tmp_path), cases)
    failed = [r for r in results if r.verdict == "fail"]
    # §3.1 moves every point and corner, so exactly the sparse outputs with a real point or a box fail
    assert failed and {r.output for r in failed} == {"prompt_sparse_embeddings"}
    assert {r.verdict for r in results if r.output != "prompt_sparse_embeddings"} <= {"pass", "n/a"}
    for r in failed:
        assert "matches variant `no_pixel_shift`" in r.diagnosis["summary"], (r.case, r.diagnosis)


def test_the_c_port_orders_several_boxes_per_image_as_the_reference(tmp_path, cases):
    """§6.1–§6.2 from the fixture files alone: boxes (B, M, 4) give 2M tokens per image, tl0, br0, tl1, br1, ...
    (n/a under the `sam` profile, whose port takes one box per image: compared here with the reference directly)."""
    out = run_port(build(tmp_path), tmp_path)
    several = [case for case in cases if np.ndim(case.inputs.get("boxes")) == 3]
    assert several, "no fixture case has several boxes per image"
    for case in several:
        got = np.load(out / case.id / "prompt_sparse_embeddings.npy")
        want = case.reference["prompt_sparse_embeddings"]
        assert got.shape == want.shape, f"§6.2 {case.id}: sparse {got.shape}, expected {want.shape}"
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=f"§6.2 box tokens, {case.id}")


def test_a_bad_fixture_folder_is_exit_2_with_the_reason(tmp_path):
    program = build(tmp_path)
    rc, captured = run_exec(f"{program} {{fixtures}} {{out}}", tmp_path / "nowhere", tmp_path / "out")
    assert rc == 2 and "cannot open" in captured and "manifest.json" in captured
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text('{"schema_version": 2, "cases": []}')
    rc, captured = run_exec(f"{program} {{fixtures}} {{out}}", tmp_path / "bad", tmp_path / "out")
    assert rc == 2 and "schema_version must be 1" in captured


def test_a_broken_input_file_skips_that_case_only(tmp_path):
    """A truncated .npy or a mask of the wrong size: that case is named and skipped (exit 1), its
    files are absent (samspec then reports them missing), every other case is written."""
    program = build(tmp_path)
    fixtures = tmp_path / "fixtures"
    shutil.copytree(default_dir(), fixtures)
    points = fixtures / "cases" / "labels.foreground" / "input.points.npy"
    points.write_bytes(points.read_bytes()[:-8])
    masks = fixtures / "cases" / "masks.random" / "input.masks.npy"
    np.save(masks, np.zeros((2, 1, 4, 4)))
    rc, captured = run_exec(f"{program} {{fixtures}} {{out}}", fixtures, tmp_path / "out")
    assert rc == 1
    assert "case labels.foreground skipped" in captured and "does not match the file's size" in captured
    assert "case masks.random skipped: masks must be (B, 1, 4h, 4w)" in captured
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert len(written) == len(load_cases()) - 2 and not {"labels.foreground", "masks.random"} & written


def test_usage_without_arguments(tmp_path):
    done = subprocess.run([str(build(tmp_path))], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "usage:" in done.stderr


@pytest.mark.slow
def test_samspec_check_exec_judges_the_c_port(tmp_path):
    program = build(tmp_path)
    ok = subprocess.run(
        [sys.executable, "-m", "samspec.conformance.cli", "check", "--exec", f"{program} {{fixtures}} {{out}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    buggy = subprocess.run(
        [
            sys.executable,
            "-m",
            "samspec.conformance.cli",
            "check",
            "--exec",
            f"{build(tmp_path, 'no_pixel_shift')} {{fixtures}} {{out}}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert buggy.returncode == 1 and "no_pixel_shift" in buggy.stdout
    # docs/other-languages.md quotes this run's first failing row and its summary line: they are what it prints
    docs = (PORT.parents[1] / "docs" / "other-languages.md").read_text(encoding="utf-8")
    summary = next(line for line in buggy.stdout.splitlines() if line.startswith("diagnosis: "))
    first = next(line for line in buggy.stdout.splitlines() if line.startswith("fail "))
    assert summary in docs, f"docs/other-languages.md: the summary line is now\n{summary}"
    assert " ".join(first.split()) in {" ".join(line.split()) for line in docs.splitlines()}, first
