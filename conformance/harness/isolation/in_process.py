"""The adapter called in samspec's own process (``--in-process``, for debuggers): the same interface as the
worker, without its containment of native crashes, hangs and exits."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

from .capture import Captured, CaptureWriter
from .conversion import CallFailed, MissingModule, ProfiledAdapter
from .errors import MissingDependency, PortFailure


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


class InProcessPort:
    """The adapter called in this process (``--in-process``): ``SystemExit`` and any other exception
    from adapter or profile code is still an error of that call (only Ctrl-C's ``KeyboardInterrupt`` ends
    the run). What the adapter prints at Python level is captured per case (bounded, as in the worker),
    except where stdin is a terminal: there a debugger's prompt (``breakpoint()``) must be seen.
    ``timeout`` (per case) interrupts Python code with SIGALRM, in the main thread and where stdin is
    not a terminal (a debugging session takes its time). Native writes to file descriptors 1 and 2,
    crashes and hangs in native code are not contained: that needs the worker process.
    ``profile``: the Profile whose conversions ``check_inputs`` / ``run_case`` / ``trace_case`` use
    (``use_profile`` sets it; the Checker does)."""

    isolated = False

    def __init__(self, adapter, timeout: float | None = None, profile=None):
        self.adapter = adapter
        self.name = getattr(adapter, "name", None)
        self.profile = profile if profile is not None else getattr(adapter, "profile", None)
        self._profiled = ProfiledAdapter(adapter, self.profile, (KeyboardInterrupt, _InProcessTimeout))
        self.compute_dtype = getattr(adapter, "compute_dtype", None)
        self.runtime = getattr(adapter, "runtime", None)
        self.timeout = timeout
        self.mutated = []
        self.missing = {}
        self._deadline = None
        self._captured = Captured()
        self._writer = CaptureWriter(self._captured)

    def use_profile(self, profile) -> None:
        self.profile = self._profiled.profile = profile

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
        except MissingModule as exc:
            raise MissingDependency(str(exc), exc.module) from None
        except CallFailed as exc:
            raise PortFailure(str(exc)) from None

    def begin_case(self, case_id, inputs=None, config=None):
        """Start the case's clock; with the case's `sam` ``inputs``, convert them first (NotApplicable or
        ConversionError), then call the adapter's ``begin_case``."""
        self._deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self._call(self._profiled.begin_case, case_id, inputs, config)

    def end_case(self):
        self._deadline = None

    def build(self, config, params):
        self._call(self._profiled.build, config, params)

    def run(self, limit=None, **inputs):
        return self._call(self._profiled.run, inputs, limit)

    def check_inputs(self, inputs, config) -> None:
        """NotApplicable or ConversionError when the profile cannot give the port this case."""
        self._call(self._profiled.port_inputs, inputs, config)

    def run_case(self, inputs, config, limit=None) -> dict:
        """The port's outputs for a case's `sam` inputs, converted back to `sam` layout."""
        outputs, self.mutated, self.missing = self._call(self._profiled.run_case, inputs, config, limit)
        return outputs

    def trace_case(self, inputs, config, limit=None) -> dict:
        return self._call(self._profiled.trace_case, inputs, config, limit)

    @property
    def has_trace(self) -> bool:
        return callable(getattr(self.adapter, "trace", None))

    def trace(self, **inputs):
        return self._call(self._profiled.trace, inputs)

    def take_captured(self) -> str:
        return self._captured.take()

    def close(self):
        pass
