"""Signals at the front-end: SIGINT, SIGTERM and SIGHUP end a check the way Ctrl-C does.

While ``catching_signals()`` is active, each of these signals raises ``KeyboardInterrupt`` in the main
thread, so that every ``except KeyboardInterrupt`` of the run (the checker stops between cases, the
reports are written with ``interrupted: true``, the worker's process group is killed on the way out)
applies to all three; ``exit_code()`` then gives the shell's convention, 128 + the signal's number:
130 for SIGINT, 143 for SIGTERM (what CI sends on cancel or timeout), 129 for SIGHUP.
"""

from __future__ import annotations

import contextlib
import signal
import threading

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Received:
    """The first of SIGNALS that arrived (None: none did)."""

    def __init__(self):
        self.signum = None

    def __call__(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        raise KeyboardInterrupt(signal.Signals(signum).name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum or signal.SIGINT).name

    def exit_code(self) -> int:
        """128 + the signal's number; 130 (SIGINT) for a KeyboardInterrupt raised otherwise."""
        return 128 + int(self.signum or signal.SIGINT)


@contextlib.contextmanager
def catching_signals():
    """Yield a ``Received``; SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt meanwhile (main thread only)."""
    received = Received()
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {number: signal.signal(number, received) for number in SIGNALS}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
