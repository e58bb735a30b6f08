"""Signals sent to a real `samspec check` (docs/ci.md, "Exit codes"): SIGINT, SIGTERM and SIGHUP end the run
with 130/143/129, kill the port's worker and leave reports that say `interrupted`; a report from an earlier
run never survives looking like this run's result."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

HANGS = """
import os, time

class Hangs:
    name = "hangs"

    def build(self, config, params):
        pass

    def run(self, points, labels, boxes, masks):
        with open(os.environ["SAMSPEC_TEST_PIDFILE"], "w") as out:
            out.write(str(os.getpid()))
        time.sleep(600)
"""
pytestmark = pytest.mark.slow  # real processes, real signals: seconds each
GREEN = {"schema": "samspec-report/2", "summary": {"pass": 153}, "interrupted": False, "results": []}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return False


def _start(tmp_path):
    (tmp_path / "hang_port.py").write_text(HANGS)
    (tmp_path / "r.json").write_text(json.dumps(GREEN))  # an earlier run's green report
    pidfile = tmp_path / "worker.pid"
    command = [sys.executable, "-m", "samspec.conformance.cli", "check", "hang_port:Hangs"]
    command += ["--cases", r"^labels\.foreground$", "--timeout", "300"]
    command += ["--report", "r.json", "--junit", "r.xml", "--html", "r.html"]
    env = dict(os.environ, SAMSPEC_TEST_PIDFILE=str(pidfile))
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the hanging port never started"
        time.sleep(0.1)
    return process, int(pidfile.read_text())


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_ends_the_run_kills_the_worker_and_marks_the_reports(signum, code, tmp_path):
    process, worker = _start(tmp_path)
    try:
        during = json.loads((tmp_path / "r.json").read_text())
        assert during["in_progress"] is True and during["summary"] == {}, "the earlier green report was left in place"
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
        err = err.decode()
        assert process.returncode == code, f"{signal.Signals(signum).name} should exit {code}: {err[-2000:]}"
        assert "Traceback" not in err and f"interrupted by {signal.Signals(signum).name}" in err
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["interrupted"] is True and not report["in_progress"]
        ET.parse(tmp_path / "r.xml")
        assert "interrupted" in (tmp_path / "r.html").read_text()
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the port's worker was left running"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)
        if process.poll() is None:
            process.kill()


def test_sigkill_leaves_an_in_progress_report_never_the_earlier_green_one(tmp_path):
    process, worker = _start(tmp_path)
    try:
        process.kill()
        process.communicate(timeout=30)
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["in_progress"] is True and report["error"] and report["summary"] == {}
        junit = ET.parse(tmp_path / "r.xml").getroot()
        assert junit.find("testsuite").get("errors") == "1", "a killed run's JUnit must not read green"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)


def test_sigterm_ends_a_pytest_session_and_kills_the_worker(tmp_path):
    """Under the plugin, SIGTERM ends the session as Ctrl-C does (pytest's "Interrupted", exit 2)."""
    (tmp_path / "hang_port.py").write_text(HANGS)
    pidfile = tmp_path / "worker.pid"
    command = [sys.executable, "-m", "pytest", "-p", "samspec.conformance.pytest_plugin", "-p", "no:cacheprovider"]
    command += ["--samspec-port", "hang_port:Hangs", "--samspec-cases", r"^labels\.foreground$"]
    env = dict(os.environ, SAMSPEC_TEST_PIDFILE=str(pidfile), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    env.pop("PYTEST_ADDOPTS", None)
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the hanging port never started"
            time.sleep(0.1)
        worker = int(pidfile.read_text())
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        assert process.returncode == 2  # pytest.ExitCode.INTERRUPTED
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the port's worker was left running"
    finally:
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
