"""The adapter called in samspec's own process (``--in-process``, for debuggers): the same interface as the
worker, without its containment of native crashes, hangs and exits."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

from ...port_text import describe_exception, safe_text
from .capture import Captured, CaptureWriter
from .errors import MissingDependency, PortFailure
from .wire import to_plain_outputs, to_plain_trace


class _InProcessTimeout(BaseException):
    """--timeout expired in process (a BaseException: adapter code's ``except Exception`` lets it through)."""


@contextlib.contextmanager
def time_limit(seconds, error=TimeoutError):
    """Raise ``error`` in the main thread after ``seconds`` (POSIX); elsewhere no limit."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise error(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Missing(Exception):
    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


def _reraise_missing(method):
    """``method`` with ModuleNotFoundError carried past the in-process error handling as _Missing."""

    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except ModuleNotFoundError as exc:
            raise _Missing(exc) from None

    return call


class InProcessPort:
    """The adapter called in this process (``--in-process``): ``SystemExit`` and any other exception
    from adapter code is still an error of that call (only Ctrl-C's ``KeyboardInterrupt`` ends the
    run). What the adapter prints at Python level is captured per case (bounded, as in the worker),
    except where stdin is a terminal: there a debugger's prompt (``breakpoint()``) must be seen.
    ``timeout`` (per case) interrupts Python code with SIGALRM, in the main thread and where stdin is
    not a terminal (a debugging session takes its time). Native writes to file descriptors 1 and 2,
    crashes and hangs in native code are not contained: that needs the worker process."""

    isolated = False

    def __init__(self, adapter, timeout: float | None = None):
        self.adapter = adapter
        self.name = getattr(adapter, "name", None)
        self.profile = getattr(adapter, "profile", None)
        self.compute_dtype = getattr(adapter, "compute_dtype", None)
        self.runtime = getattr(adapter, "runtime", None)
        self.timeout = timeout
        self._deadline = None
        self._captured = Captured()
        self._writer = CaptureWriter(self._captured)

    def _interactive(self) -> bool:
        try:
            return sys.stdin is not None and sys.stdin.isatty()
        except (AttributeError, ValueError, OSError):
            return False

    def _call(self, method, *args, **kwargs):
        guard = contextlib.ExitStack()
        if not self._interactive():
            guard.enter_context(contextlib.redirect_stdout(self._writer))
            guard.enter_context(contextlib.redirect_stderr(self._writer))
            if self.timeout is not None:
                remaining = self.timeout if self._deadline is None else self._deadline - time.monotonic()
                guard.enter_context(time_limit(max(remaining, 0.001), _InProcessTimeout))
        try:
            with guard:
                return method(*args, **kwargs)
        except _InProcessTimeout:
            raise PortFailure(
                f"timed out after {self.timeout:g} s (--timeout; in this process, Python code only)"
            ) from None
        except (KeyboardInterrupt, _Missing):
            raise
        except BaseException as exc:  # SystemExit, MemoryError, a BaseException subclass of the port
            raise PortFailure(describe_exception(exc)) from None

    def begin_case(self, case_id):
        self._deadline = None if self.timeout is None else time.monotonic() + self.timeout
        if callable(getattr(self.adapter, "begin_case", None)):
            self._call(self.adapter.begin_case, case_id)

    def end_case(self):
        self._deadline = None

    def build(self, config, params):
        try:
            self._call(_reraise_missing(self.adapter.build), config, params)
        except _Missing as missing:
            raise MissingDependency(safe_text(missing.error), missing.error.name or "") from None

    def run(self, limit=None, **inputs):
        return self._plain(to_plain_outputs, self._call(self.adapter.run, **inputs), limit)

    def _plain(self, convert, raw, *limit):
        """``convert(raw)``, where a result that breaks the protocol is an error of the call."""
        try:
            return convert(raw, *limit)
        except (TypeError, ValueError) as exc:
            raise PortFailure(safe_text(exc)) from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise PortFailure(describe_exception(exc)) from None

    @property
    def has_trace(self) -> bool:
        return callable(getattr(self.adapter, "trace", None))

    def trace(self, **inputs):
        return self._plain(to_plain_trace, self._call(self.adapter.trace, **inputs))

    def take_captured(self) -> str:
        return self._captured.take()

    def close(self):
        pass
