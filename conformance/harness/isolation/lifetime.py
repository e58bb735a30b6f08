"""A worker never outlives samspec: it dies with its parent, and the parent kills its whole process group.

- ``die_with_parent``: on Linux the kernel sends the worker SIGKILL when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``); everywhere, a watch thread sees the parent gone (the worker's parent
  process id changes) within ``WATCH_SECONDS`` and kills the worker's process group, the worker included.
- ``kill_group``: SIGKILL to a worker (or an ``--exec`` program) and every process it started in its group;
  ``track`` / ``untrack`` keep the live ones, which ``kill_tracked`` ends (samspec's exit, its signal handlers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

WATCH_SECONDS = 0.5
_TRACKED = set()  # Popen objects of process groups samspec started and has not yet ended
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


def track(process) -> None:
    _TRACKED.add(process)


def untrack(process) -> None:
    _TRACKED.discard(process)


def kill_tracked() -> None:
    """Kill every tracked process group (an --exec program still running when samspec ends)."""
    for process in list(_TRACKED):
        kill_group(process)
        untrack(process)
