"""A worker never outlives samspec (docs/ci.md, "No worker outlives samspec"; harness/isolation/lifetime.py):
the watch thread alone (no parent-death signal, as off Linux) ends the worker's process group once its parent
is gone, and kill_tracked ends an --exec program's group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from samspec.conformance.harness.isolation import lifetime

# the "parent": starts a "worker" in its own session that relies on the watch thread only, then waits
PARENT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    worker = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())], start_new_session=True)
    print(worker.pid, flush=True)
    time.sleep(600)
    """
)
WORKER = textwrap.dedent(
    """
    import os, sys, time
    from samspec.conformance.harness.isolation import lifetime
    lifetime._parent_death_signal = lambda: None  # the watch thread alone, as where prctl is missing
    lifetime.die_with_parent(int(sys.argv[1]))
    os.fork() or time.sleep(600)  # a child of the worker, in its process group
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_the_watch_thread_ends_the_worker_group_when_the_parent_dies():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, WORKER], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    time.sleep(1.0)
    group = os.getpgid(worker)
    members = [int(p) for p in os.listdir("/proc") if p.isdigit() and _in_group(int(p), group)]
    assert len(members) == 2, members  # the worker and its child
    parent.kill()
    parent.wait()
    started = time.monotonic()
    while any(_alive(p) for p in members) and time.monotonic() - started < 5:
        time.sleep(0.05)
    gone_after = time.monotonic() - started
    left = [p for p in members if _alive(p)]
    for pid in left:  # leave nothing behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, "the worker's group outlived its parent"
    assert gone_after < 2 * lifetime.WATCH_SECONDS + 1.0, f"{gone_after:.1f} s"


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group and _alive(pid)
    except OSError:
        return False


def test_kill_tracked_ends_a_tracked_program_group():
    program = subprocess.Popen(
        [sys.executable, "-c", "import os, time; os.fork(); time.sleep(600)"], start_new_session=True
    )
    time.sleep(0.5)
    lifetime.track(program)
    lifetime.kill_tracked()
    assert program.wait(5) == -signal.SIGKILL
    time.sleep(0.2)
    assert not any(_in_group(int(p), program.pid) for p in os.listdir("/proc") if p.isdigit())
