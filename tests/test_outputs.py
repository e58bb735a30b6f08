"""Ports in any language (spec §11.2 layouts, docs/other-languages.md): samspec judges the `.npy`
files a port wrote as `DIR/<case id>/<output key>.npy` with the outputs adapter
(conformance/adapters/outputs.py), and `run_exec` runs the port's program first.

Each hostile folder (a missing file, a symlink out, a pickle, a lying header) is a normal user: an
error verdict for that case naming the file, never a pass, never a traceback.
"""

import os
import sys

import numpy as np
import pytest

from samspec.conformance.adapters.outputs import OutputsAdapter, OutputsError, read_npy, run_exec
from samspec.conformance.cases.store import load_cases
from samspec.conformance.diagnosis.diagnoser import make_diagnoser
from samspec.conformance.harness.check import Checker
from samspec.conformance.profiles.profile import get_profile
from samspec.reference import SAMPromptEncoder

CASES = r"^(labels\.foreground|boxes\.only|masks\.random|empty\.tiny)$"


def judge(directory, cases, profile="sam"):
    """Every result of the outputs in ``directory``, judged as `samspec check --outputs` judges them."""
    profile = get_profile(profile)
    adapter = OutputsAdapter(directory, profile=profile.name)
    checker = Checker(adapter, profile, diagnose=make_diagnoser(profile))
    results = []
    for case in cases:
        adapter.begin_case(case.id)  # what the checker does before run() when the adapter has begin_case
        results += checker.run_case(case)
    return results


def write_reference_outputs(directory, cases, dtype="float32"):
    """A faithful port's files: the reference in ``dtype``, one folder per case."""
    for case in cases:
        outputs = SAMPromptEncoder(**case.config, params=case.params, dtype=dtype)(**case.inputs)
        (directory / case.id).mkdir(parents=True)
        for key, value in outputs.items():
            np.save(directory / case.id / f"{key}.npy", np.ascontiguousarray(value), allow_pickle=False)


@pytest.fixture(scope="module")
def cases():
    return load_cases(pattern=CASES)


def verdicts(results):
    return {(r.case, r.output): r.verdict for r in results}


def test_a_faithful_float32_port_passes_every_output(tmp_path, cases):
    write_reference_outputs(tmp_path, cases)
    results = judge(tmp_path, cases)
    assert len(results) == 3 * len(cases)
    assert {r.verdict for r in results} == {"pass"}
    assert {r.dtype for r in results} == {"float32"}  # judged in the dtype the port wrote


def test_a_missing_file_is_an_error_of_that_output_only(tmp_path, cases):
    """Issue 24.5: a missing file fails only the output it concerns; the case's other outputs are judged."""
    write_reference_outputs(tmp_path, cases)
    (tmp_path / "boxes.only" / "prompt_dense_embeddings.npy").unlink()
    found = verdicts(judge(tmp_path, cases))
    assert found.pop(("boxes.only", "prompt_dense_embeddings")) == "error"
    assert set(found.values()) == {"pass"}
    message = next(
        r.message for r in judge(tmp_path, cases) if r.output == "prompt_dense_embeddings" and r.case == "boxes.only"
    )
    assert "missing file boxes.only/prompt_dense_embeddings.npy" in message


def test_a_case_folder_that_is_absent_is_an_error_naming_its_files(tmp_path, cases):
    write_reference_outputs(tmp_path, cases[:1])
    results = judge(tmp_path, cases)
    assert {r.verdict for r in results if r.case != cases[0].id} == {"error"}
    assert all("missing file" in r.message for r in results if r.case != cases[0].id)


def test_a_symlink_out_of_the_folder_is_refused(tmp_path, cases):
    outside = tmp_path / "outside"
    write_reference_outputs(outside, cases)
    inside = tmp_path / "out"
    inside.mkdir()
    for case in cases:
        os.symlink(outside / case.id, inside / case.id)  # the files are right, but not in DIR
    results = judge(inside, cases)
    assert {r.verdict for r in results} == {"error"}
    assert "leads out of the outputs folder" in results[0].message


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a numpy file at all", "no \\x93NUMPY magic"),
        (
            b"\x93NUMPY\x01\x00"
            + (70).to_bytes(2, "little")
            + b"{'descr': '|O', 'fortran_order': False, 'shape': (3,), }".ljust(70),
            "is not numeric",
        ),
        (
            b"\x93NUMPY\x01\x00"
            + (70).to_bytes(2, "little")
            + b"{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000000,), }".ljust(70)
            + b"\0" * 16,
            "the header says shape (4000000000000,)",
        ),
        (
            b"\x93NUMPY\x01\x00" + (70).to_bytes(2, "little") + b"__import__('os').system('true')".ljust(70),
            "unreadable .npy header",
        ),
        (b"\x93NUMPY\x09\x00\x10\x00", "format version 9.0"),
    ],
)
def test_hostile_npy_files_are_refused_before_allocating(tmp_path, content, message):
    path = tmp_path / "x.npy"
    path.write_bytes(content)
    with pytest.raises(OutputsError) as caught:
        read_npy(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_npy_round_trip_keeps_dtype_shape_and_order(tmp_path):
    for array in (
        np.arange(24, dtype="<f4").reshape(2, 3, 4),
        np.asfortranarray(np.eye(3)),
        np.zeros((1, 0, 8)),
        np.arange(6, dtype=">f8").reshape(3, 2),
    ):
        np.save(tmp_path / "a.npy", array)
        back = read_npy(tmp_path / "a.npy")
        assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)


def test_a_hostile_file_in_a_case_is_an_error_verdict_not_a_crash(tmp_path, cases):
    write_reference_outputs(tmp_path, cases)
    np.save(
        tmp_path / "masks.random" / "prompt_dense_embeddings.npy", np.array([object()], dtype=object), allow_pickle=True
    )
    results = [r for r in judge(tmp_path, cases) if r.case == "masks.random"]
    assert {r.verdict for r in results} == {"error"}
    assert "is not numeric" in results[0].message


def test_float64_files_are_judged_as_float64(tmp_path, cases):
    """A port that writes float64 is held to the float64 budget: the float32 reference written as
    float64 fails (docs/tolerances.md: say what you compute in)."""
    write_reference_outputs(tmp_path, cases)
    for path in tmp_path.glob("*/*.npy"):
        np.save(path, np.load(path).astype(np.float64))
    results = judge(tmp_path, cases)
    assert {r.dtype for r in results} == {"float64"}
    assert "fail" in {r.verdict for r in results}


def test_run_exec_substitutes_the_folders_without_a_shell(tmp_path):
    out = tmp_path / "out dir; rm -rf x"  # a space and a shell metacharacter stay one argument
    script = "import sys, pathlib; pathlib.Path(sys.argv[2]).mkdir(); print('fixtures', sys.argv[1])"
    rc, captured = run_exec(f'"{sys.executable}" -c "{script}" {{fixtures}} {{out}}', "/some/fixtures", out, timeout=60)
    assert rc == 0 and out.is_dir()
    assert "fixtures /some/fixtures" in captured


def test_run_exec_reports_a_missing_program_a_failure_and_a_timeout(tmp_path):
    assert run_exec("no-such-program-samspec {out}", "f", tmp_path)[0] == 127
    rc, captured = run_exec(f'"{sys.executable}" -c "import sys; print(42); sys.exit(3)" {{out}}', "f", tmp_path)
    assert (rc, captured.strip()) == (3, "42")
    rc, captured = run_exec(f'"{sys.executable}" -c "import time; time.sleep(30)" {{out}}', "f", tmp_path, timeout=1)
    assert rc == 124 and "still running after 1 s" in captured


@pytest.mark.parametrize(
    "template, message",
    [("", "empty command"), ("prog {fixtures}", "no {out}"), ('prog "unclosed {out}', "No closing quotation")],
)
def test_run_exec_refuses_a_bad_template(tmp_path, template, message):
    with pytest.raises(ValueError, match=message):
        run_exec(template, "f", tmp_path)
