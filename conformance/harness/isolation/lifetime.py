"""A worker never outlives samspec: it dies with its parent, and the parent kills its whole process group.

- ``die_with_parent``: on Linux the kernel sends the worker SIGKILL when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``); everywhere, a watch thread sees the parent gone (the worker's parent
  process id changes) within ``WATCH_SECONDS`` and kills the worker's process group, the worker included.
- ``kill_group``: SIGKILL to a worker (or an ``--exec`` program) and every process it started in its group;
  ``track`` / ``untrack`` keep the live ones, which ``kill_tracked`` ends (samspec's exit, its signal handlers).
- ``marked_env`` / ``kill_marked``: a worker or program starts with an environment variable unique to it,
  which its descendants inherit; on Linux, ``kill_marked`` also ends those that left its process group
  (``setsid``), found by that mark in ``/proc/<pid>/environ``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import uuid

WATCH_SECONDS = 0.5
MARK = "SAMSPEC_PROCESS_MARK"  # the environment variable a worker or program and its descendants carry
_TRACKED = {}  # Popen -> its mark: the process groups samspec started and has not yet ended
PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> None:
    """Linux: SIGKILL when the parent dies. Elsewhere (or without libc) the watch thread alone."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _end_group() -> None:
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(1)


def die_with_parent(parent_pid: int) -> None:
    """From now on this process (and its process group) ends within seconds of ``parent_pid``'s death."""
    _parent_death_signal()
    if parent_pid and os.getppid() != parent_pid:  # the parent died before the signal was asked for
        _end_group()

    def watch():
        while True:
            time.sleep(WATCH_SECONDS)
            if os.getppid() != parent_pid:
                _end_group()

    if parent_pid:
        threading.Thread(target=watch, name="samspec-parent-watch", daemon=True).start()


def kill_group(process) -> None:
    """SIGKILL ``process`` (a Popen started with ``start_new_session``) and every process in its group."""
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, OSError):
        process.kill()


def new_mark() -> str:
    return uuid.uuid4().hex


def marked_env(mark: str) -> dict:
    """This process's environment plus the mark a child and its descendants will carry."""
    return {**os.environ, MARK: mark}


def kill_marked(mark: str) -> None:
    """SIGKILL every process of this user that carries ``mark`` (Linux /proc; elsewhere nothing to read)."""
    needle = f"{MARK}={mark}".encode()
    try:
        entries = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return
    for name in entries:
        if int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                marked = needle in environ.read().split(b"\0")
        except OSError:  # gone meanwhile, or another user's
            continue
        if marked:
            with contextlib.suppress(OSError):
                os.kill(int(name), signal.SIGKILL)


def track(process, mark: str | None = None) -> None:
    _TRACKED[process] = mark


def untrack(process) -> None:
    _TRACKED.pop(process, None)


def kill_tracked() -> None:
    """Kill every tracked process group, and what carries its mark (an --exec program still running when
    samspec ends)."""
    for process, mark in list(_TRACKED.items()):
        kill_group(process)
        if mark:
            kill_marked(mark)
        untrack(process)
