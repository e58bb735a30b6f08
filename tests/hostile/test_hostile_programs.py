"""Hostile programs, outputs folders and signals (issue 22, items 4, 5, 6; issue 24, item 5; docs/ci.md "What
samspec guarantees", "A program and its files are contained like an adapter", "No worker outlives samspec").

Each test runs the real command line and asserts the verdicts, the exit code, the message, no traceback and no
raw control character (test_hostile_adapters.Run), a valid report, and that no process of the run is left.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import hostile_adapters as H
import numpy as np
import pytest
from test_hostile_adapters import KEYS, assert_one_line_error, assert_verdicts, processes_with, samspec

from samspec.conformance.cases.store import load_cases
from samspec.reference import SAMPromptEncoder

ARGS = ("--cases", H.CASES, "--no-diagnosis")


def program(source: str) -> str:
    """An --exec command running ``source`` with this Python; the script gets {out} as sys.argv[1]."""
    return f'"{sys.executable}" -c "{source}" {{out}}'


def run_exec(source, tmp_path, *extra, timeout=120):
    token = uuid.uuid4().hex
    started = time.monotonic()
    run = samspec(
        "check",
        "--exec",
        program(source),
        *ARGS,
        *extra,
        tmp_path=tmp_path,
        env={"HOSTILE_RUN": token},
        timeout=timeout,
    )
    run.seconds = time.monotonic() - started
    assert processes_with(token) == [], "a process the program started is still alive"
    return run


def test_exec_wait_ends_when_the_program_exits(tmp_path):
    """§ guarantees: a program that exits at once, leaving a child that holds its output open, is not
    waited for beyond its own exit; the child is killed with the program's group."""
    source = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])"
    run = run_exec(source, tmp_path, "--timeout", "30")
    assert run.seconds < 60, f"samspec waited {run.seconds:.0f} s for a program that exited at once"
    assert run.rc == 1  # it wrote nothing: every output is an error naming its file
    assert set(run.verdicts.values()) == {"error"}
    assert "missing file" in run.result(H.FIRST)["message"]


def test_exec_child_in_a_session_of_its_own_is_killed_too(tmp_path):
    """A child the program starts with setsid (outside its process group) does not outlive the run."""
    source = (
        "import subprocess, sys; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)"
    )
    run = run_exec(source, tmp_path, "--timeout", "30")  # run_exec asserts that no process of the run is left
    assert run.rc == 1 and run.seconds < 60


def test_exec_hang_is_killed_at_its_overall_timeout(tmp_path):
    run = run_exec("import time; time.sleep(600)", tmp_path, "--exec-timeout", "2")
    assert run.rc == 1 and run.seconds < 60
    assert "still running after 2 s (--exec-timeout): killed with its group" in run.stderr


@pytest.mark.slow
def test_exec_output_is_bounded_and_escaped(tmp_path):
    """§ guarantees: 50 MB of output with terminal escapes and a fake table row: a few KB on stderr, escaped."""
    fake = H.FAKE_ROW.replace("'", "")
    source = (
        "import sys; w = sys.stdout.write; w('\\x1b[2J\\x1b[H' + chr(10) + '" + fake + "' + chr(10)); "
        "[w('x' * 1000 + chr(10)) for _ in range(50000)]; w('\\x1b]0;title\\x07 the end' + chr(10))"
    )
    run = run_exec(source, tmp_path)
    assert run.rc == 1
    assert len(run.stderr) < 20000, f"{len(run.stderr):,} characters on stderr"
    assert "\\x1b" in run.stderr and "bytes cut" in run.stderr and "the end" in run.stderr


def test_exec_temporary_folder_is_removed(tmp_path):
    record = tmp_path / "out.txt"
    run = run_exec(f"import sys; open(r'{record}', 'w').write(sys.argv[1])", tmp_path)
    assert run.rc == 1
    assert not os.path.exists(record.read_text()), "the --exec temporary folder was left behind"


def test_exec_refuses_a_placeholder_inside_a_shell_script(tmp_path):
    """A `sh -c '... {out}'` form would let the shell parse a path again: exit 2, one line, the safe form."""
    run = samspec("check", "--exec", "sh -c 'prog {fixtures} {out}'", *ARGS, tmp_path=tmp_path)
    assert_one_line_error(run, r"would be parsed again by the shell; pass the paths as the script's arguments")


def test_exec_terminated_kills_the_program_group(tmp_path):
    """SIGTERM to samspec while its program runs: exit 143, the program's group is gone."""
    token = uuid.uuid4().hex
    command = [
        sys.executable,
        "-m",
        "samspec.conformance.cli",
        "check",
        "--exec",
        program("import time; time.sleep(600)"),
    ]
    process = subprocess.Popen(
        [*command, *ARGS],
        cwd=tmp_path,
        env={**os.environ, "HOSTILE_RUN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while len(processes_with(token)) < 2 and time.monotonic() < deadline:  # samspec and its program
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err.decode(errors="replace")
    assert b"Traceback" not in err
    time.sleep(0.5)
    assert processes_with(token) == []


# -- --outputs folders ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faithful(tmp_path_factory):
    """A faithful port's files for the three cases (the float32 reference)."""
    folder = tmp_path_factory.mktemp("faithful")
    for case in load_cases(pattern=H.CASES):
        (folder / case.id).mkdir()
        for key, value in SAMPromptEncoder(**case.config, params=case.params, dtype="float32")(**case.inputs).items():
            np.save(folder / case.id / f"{key}.npy", np.ascontiguousarray(value))
    return folder


def copy_of(folder, tmp_path):
    import shutil

    return shutil.copytree(folder, tmp_path / "outputs")


def check_outputs(folder, tmp_path, *extra):
    token = uuid.uuid4().hex
    run = samspec(
        "check",
        "--outputs",
        str(folder),
        *ARGS,
        "--timeout",
        "5",
        *extra,
        tmp_path=tmp_path,
        env={"HOSTILE_RUN": token},
    )
    assert processes_with(token) == []
    return run


def test_outputs_faithful_files_pass(faithful, tmp_path):
    run = check_outputs(faithful, tmp_path)
    assert run.rc == 0, run.stdout[-2000:]
    assert_verdicts(run, {})


def test_outputs_fifo_is_an_error_not_a_hang(faithful, tmp_path):
    folder = copy_of(faithful, tmp_path)
    target = folder / H.BAD / f"{KEYS[1]}.npy"
    target.unlink()
    os.mkfifo(target)
    run = check_outputs(folder, tmp_path)
    assert run.rc == 1
    assert_verdicts(run, {(H.BAD, key): "error" for key in KEYS})
    assert re.search(r"a FIFO, not a regular file; refused", run.result(H.BAD)["message"])


def test_outputs_sparse_file_with_a_huge_header_is_refused_before_reading(faithful, tmp_path):
    """A 1 GiB .npy that is sparse on disk: refused from its header, before any data is read."""
    folder = copy_of(faithful, tmp_path)
    target = folder / H.BAD / f"{KEYS[0]}.npy"
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    with open(target, "wb") as handle:
        handle.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
        handle.truncate(handle.tell() + (1 << 30))
    run = check_outputs(folder, tmp_path)
    assert run.rc == 1
    assert (
        "more than" in run.result(H.BAD)["message"]
        and "refused before reading its data" in run.result(H.BAD)["message"]
    )


def test_outputs_missing_file_fails_only_its_output(faithful, tmp_path):
    folder = copy_of(faithful, tmp_path)
    (folder / H.BAD / f"{KEYS[2]}.npy").unlink()
    run = check_outputs(folder, tmp_path)
    assert run.rc == 1
    assert_verdicts(run, {(H.BAD, KEYS[2]): "error"})
    assert f"missing file {H.BAD}/{KEYS[2]}.npy" in run.result(H.BAD, KEYS[2])["message"]


def test_outputs_unknown_file_is_a_warning_and_an_error_under_strict(faithful, tmp_path):
    folder = copy_of(faithful, tmp_path)
    (folder / H.BAD / "prompt_sparse_embedings.npy").write_bytes(b"misspelt")
    run = check_outputs(folder, tmp_path)
    assert run.rc == 0
    assert re.search(rf"warning: .*{re.escape(H.BAD)}/prompt_sparse_embedings.npy", run.stderr)
    (tmp_path / "strict").mkdir()
    strict = check_outputs(folder, tmp_path / "strict", "--strict")
    assert_one_line_error(strict, r"prompt_sparse_embedings\.npy .*refused under --strict")


@pytest.mark.parametrize("what", ["missing folder", "a file"])
def test_outputs_that_is_no_folder_is_a_usage_error(what, tmp_path):
    path = tmp_path / "nothing" if what == "missing folder" else tmp_path / "file.npy"
    if what == "a file":
        path.write_bytes(b"")
    run = check_outputs(path, tmp_path)
    assert_one_line_error(run, re.escape(f"--outputs {path}: ") + "(no such folder|not a folder)")


# -- the worker when samspec itself dies ------------------------------------------------------------------------


def test_worker_dies_with_samspec(tmp_path):
    """§ guarantees: SIGKILL to samspec while its worker hangs: the worker is gone within seconds."""
    token = uuid.uuid4().hex
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "samspec.conformance.cli",
            "check",
            "hostile_adapters:RunHang",
            *ARGS,
            "--timeout",
            "600",
        ],
        cwd=H.__file__.rpartition("/")[0],
        env={**os.environ, "HOSTILE_RUN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(processes_with(token)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(processes_with(token)) >= 2, "the worker never started"
    time.sleep(3)  # the worker is in the hanging case
    process.kill()
    process.wait()
    deadline = time.monotonic() + 5
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(token) == [], "the worker outlived samspec"
