"""Hostile profiles (issue 22, item 1; docs/ci.md "What samspec guarantees", "A profile's code is port code").

A profile's ``to_port`` / ``from_port`` and the module a ``--profile module:attr`` names run in the port's
worker process, under the per-case timeout, output capture and error handling of the adapter's own calls.
samspec's process never imports the adapter's module nor the profile's. Each test asserts the verdicts, the
exit code, the message, no traceback, a valid report (test_hostile_adapters.Run) and no process left behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import hostile_adapters as H
import pytest
from test_hostile_adapters import HERE, KEYS, assert_one_line_error, assert_verdicts, processes_with, samspec

ARGS = ("--cases", H.CASES, "--timeout", "2", "--no-diagnosis")


def run_profile(profile, tmp_path, port="hostile_adapters:Good", **env):
    token = uuid.uuid4().hex
    run = samspec("check", port, "--profile", profile, *ARGS, tmp_path=tmp_path, env={"HOSTILE_RUN": token, **env})
    assert processes_with(token) == [], "a process of the run is still alive"
    return run


def importers(marker: Path) -> dict:
    """module name -> parent process ids of the processes that imported it."""
    found = {}
    for line in marker.read_text().splitlines() if marker.exists() else ():
        module, _, parent = line.split()
        found.setdefault(module, set()).add(int(parent))
    return found


def test_profile_and_adapter_modules_are_imported_in_the_worker_only(tmp_path):
    """§ guarantees, 'A profile's code is port code': the importers of both modules are workers (children of
    samspec), never samspec itself (a child of this test process)."""
    marker = tmp_path / "imports.txt"
    run = run_profile("hostile_profiles:CONVERTS_IN_WORKER", tmp_path, HOSTILE_IMPORTS=str(marker))
    assert run.rc == 0, run.stdout[-2000:]
    assert_verdicts(run, {})
    found = importers(marker)
    assert set(found) == {"hostile_adapters", "hostile_profiles"}, found
    for module, parents in found.items():
        assert os.getpid() not in parents, f"samspec's own process imported {module}"


HOSTILE_FROM_PORT = {
    "OS_EXIT_FROM_PORT": r"the worker process exited with code 0 .*while running the port",
    "HANG_FROM_PORT": r"timed out after 2 s while running the port \(--timeout\); the worker was killed",
    "BASE_EXCEPTION_FROM_PORT": r"the port's outputs do not convert under profile 'base_exception_from_port': "
    r"CustomBaseException: from from_port",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FROM_PORT))
def test_hostile_from_port_is_an_error_of_its_case(name, tmp_path):
    """§ guarantees: an exit, a hang or a BaseException in a profile's from_port is an error verdict of
    that case (the run goes on, exit 1), never an exit 0, a hang or a traceback."""
    run = run_profile(f"hostile_profiles:{name}", tmp_path)
    assert run.rc == 1, (run.stdout[-2000:], run.stderr)
    assert_verdicts(run, {(H.BAD, key): "error" for key in KEYS})
    message = run.result(H.BAD)["message"]
    assert re.search(HOSTILE_FROM_PORT[name], message, re.S), message


def test_profile_cannot_tamper_with_the_comparison(tmp_path):
    """§ guarantees: a from_port that replaces samspec's comparison and exit code by passing ones, and
    gets every output wrong, fails: its patch lands in the worker, the verdict is decided here."""
    run = run_profile("hostile_profiles:TAMPERS", tmp_path)
    assert run.rc == 1, run.stdout[-2000:]
    assert set(run.verdicts.values()) == {"fail"}, run.verdicts


def test_profile_module_that_exits_at_import(tmp_path):
    """§ guarantees: a --profile module:attr whose module ends the process at import is a load error of the
    port (exit 2, one line, a report saying why), not an exit 0."""
    run = run_profile("exits_at_import:PROFILE", tmp_path)
    assert_one_line_error(run, r"the worker process exited with code 0 .*while loading the port")
    assert run.document["error"], run.document


def test_plugin_runs_profile_code_in_the_worker(tmp_path):
    """The same under the pytest plugin: the tampering profile's outputs fail (exit 1)."""
    token = uuid.uuid4().hex
    env = {**os.environ, "PYTHONPATH": str(HERE), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "HOSTILE_RUN": token}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "samspec.conformance.pytest_plugin", "-p", "no:cacheprovider"]
        + ["--samspec-port", "hostile_adapters:Good", "--samspec-profile", "hostile_profiles:TAMPERS"]
        + ["--samspec-cases", H.CASES, "-q", "--samspec-timeout", "5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert completed.returncode == 1, completed.stdout[-3000:] + completed.stderr[-2000:]
    assert "9 failed" in completed.stdout, completed.stdout[-3000:]
    assert processes_with(token) == []
