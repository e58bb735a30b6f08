"""Running a port's adapter where it cannot touch the verdict (docs/ci.md, "What samspec guarantees").

`samspec check` and the pytest plugin run the adapter in a **worker process** by default. The parent
alone compares outputs, decides verdicts and picks the exit code; the worker only imports the adapter,
calls ``build`` / ``run`` / ``trace`` and sends plain arrays back.

- A worker that exits (any code: ``sys.exit``, ``os._exit``), is killed by a signal (a segfault, the
  OOM killer) or does not answer within the per-case ``timeout`` raises ``PortFailure`` naming what
  happened; the next call starts a fresh worker and replays the last ``build``.
- ``SystemExit`` raised by adapter code is an error of that call, in the worker and in process alike.
- Everything the adapter writes to stdout/stderr (Python or C level) goes to a capture file, handed
  back per case by ``take_captured()``, so that it can never interleave with samspec's table.
- The parent reads the worker's answers with a restricted unpickler: NumPy arrays of plain dtypes,
  numbers, strings and containers only. An output larger than the case can need is refused in the
  worker, before it is sent.

``InProcessPort`` is the same interface without the process (``--in-process``, for debuggers).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import pickle
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

import numpy as np

from ..port_text import CAPTURE_LIMIT, describe_exception, safe_text

DEFAULT_TIMEOUT = 60.0  # seconds per case (build + run)
ANSWER_SLACK = 1 << 20  # bytes of an answer beyond its arrays' values (pickle framing, keys)
LARGEST_ANSWER = 1 << 30  # bytes: the largest answer without a case limit (build, trace)
OUTPUT_FACTOR = 8  # an output may hold at most 8x the values the case's expected outputs hold ...
OUTPUT_SLACK = 1 << 20  # ... plus this many, before the worker refuses to send it


class PortFailure(Exception):
    """The port could not answer: an exception, an exit, a signal, a timeout. The message says which."""


class MissingDependency(PortFailure):
    """The adapter's ``build`` raised ModuleNotFoundError: the port's library is not installed here.
    Not a verdict on the port: ``samspec check`` exits 2 naming the module (and the adapter's hint)."""

    def __init__(self, message: str, module: str = ""):
        super().__init__(message)
        self.module = module


class PortLoadError(Exception):
    """The adapter could not be loaded at all (import, factory, protocol): a usage error, exit 2."""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(code) -> str:
    """What a worker's exit code means, for a verdict message."""
    if code is None:
        return "the worker stopped answering"
    if code < 0:
        name = _signal_name(-code)
        hint = {
            "SIGKILL": " (killed; out of memory?)",
            "SIGSEGV": " (a segmentation fault in native code)",
            "SIGABRT": " (aborted by native code)",
            "SIGBUS": " (a bus error in native code)",
        }.get(name, "")
        return f"the worker process was killed by {name}{hint}"
    return (
        f"the worker process exited with code {code} (sys.exit or os._exit in adapter or library code); "
        "samspec never takes an exit from adapter code"
    )


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


# -- arrays across the process boundary -----------------------------------------------------------

_PLAIN_KINDS = "biufc"  # bool, ints, floats, complex: never strings, objects or structured records


def to_plain_outputs(raw, limit: int | None) -> dict:
    """The adapter's ``run`` result as {key: ndarray or None}: checked before anything is converted.

    Raises TypeError/ValueError with a message for the verdict when the result is not a mapping of
    arrays, or an output is larger than ``limit`` values (checked on the declared shape first).
    """
    if not hasattr(raw, "items"):
        raise TypeError(f"run() returned {type(raw).__name__}, expected a dict of output arrays")
    outputs = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise TypeError(
                f"run() returned a dict with key {key!r} of type {type(key).__name__}; keys are output names"
            )
        if value is None:
            outputs[key] = None
            continue
        shape = getattr(value, "shape", None)
        if shape is not None and limit is not None:
            try:
                size = math.prod(int(n) for n in shape)
            except (TypeError, ValueError):
                size = None
            if size is not None and size > limit:
                raise ValueError(
                    f"output {key!r} has shape {tuple(int(n) for n in shape)} ({size:,} values), more than "
                    f"{limit:,} that this case can need; it was not transferred"
                )
        try:
            array = np.asarray(value)
        except Exception as exc:  # e.g. a torch tensor that requires grad
            raise TypeError(
                f"output {key!r} ({type(value).__name__}) is not convertible to a NumPy array: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if array.dtype.kind not in _PLAIN_KINDS:
            raise TypeError(
                f"output {key!r} has dtype {array.dtype} ({type(value).__name__}); expected a numeric array"
            )
        if limit is not None and array.size > limit:
            raise ValueError(
                f"output {key!r} has shape {array.shape} ({array.size:,} values), more than {limit:,} "
                "that this case can need; it was not transferred"
            )
        outputs[key] = np.ascontiguousarray(array)
    return outputs


def to_plain_trace(raw) -> dict:
    """A ``trace`` result as {stage name: ndarray}; no size limit beyond the arrays' own."""
    return to_plain_outputs(raw, None)


class _SafeUnpickler(pickle.Unpickler):
    """Only what the worker legitimately sends: NumPy arrays and dtypes, builtin containers."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.dtypes", None),  # dtype classes: numpy.dtypes.Float64DType, ...
        ("builtins", "complex"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED or (module, None) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the worker sent a {module}.{name}, which samspec does not accept")


class _TooLarge(Exception):
    pass


def _receive(connection, largest: int = LARGEST_ANSWER):
    """The worker's next answer, unpickled with the restricted unpickler; an answer of more than
    ``largest`` bytes is refused from its length header, before it is read."""
    try:
        data = connection.recv_bytes(largest)
    except OSError as exc:
        if "bad message length" in str(exc):
            raise _TooLarge() from None
        raise
    try:
        return _SafeUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # a forbidden class (named), a truncated or forged pickle
        if str(exc).startswith("the worker sent"):
            raise
        raise pickle.UnpicklingError(
            f"the worker sent an answer samspec cannot read ({type(exc).__name__}: {safe_text(exc, 200)})"
        ) from None


# -- the worker (child process) -------------------------------------------------------------------


def _profile_spec(adapter):
    """The adapter's declared profile as something the parent can load: a name or "module:attr"."""
    profile = getattr(adapter, "profile", None)
    if profile is None or isinstance(profile, str):
        return profile
    from ..adapters.registry import AdapterError

    if not callable(getattr(profile, "to_port", None)) or not callable(getattr(profile, "from_port", None)):
        raise AdapterError(
            f"the adapter's profile is {safe_text(repr(profile), 200)} ({type(profile).__name__}); "
            "expected a profile name such as 'sam', 'module:attr', or a Profile (docs/profiles.md)"
        )
    for module_name in {type(adapter).__module__, getattr(type(profile), "__module__", "")}:
        module = sys.modules.get(module_name)
        for attr, value in vars(module).items() if module else ():
            if value is profile:
                return f"{module_name}:{attr}"
    raise AdapterError(
        "the adapter's profile is an object that is not a module-level attribute; give it a name "
        "(PROFILE = Profile(...) at module level) or pass --profile module:attr"
    )


def _worker_entry(fd: int) -> None:
    """The worker's main: ``python -c`` calls this with the socket it shares with the parent.
    stdout and stderr are already the capture file (the parent opened the process that way)."""
    import socket
    from multiprocessing.connection import Connection

    connection = Connection(socket.socket(fileno=fd).detach())
    port, sys_path, cwd, profile = pickle.loads(connection.recv_bytes())
    sys.path[:] = sys_path
    os.chdir(cwd)
    try:
        _serve(connection, port, profile)
    except (OSError, EOFError):  # the parent went away (it ended the run): nothing to tell anyone
        pass


def _set_profile(adapter, profile):
    """``--profile NAME`` is also told to the adapter (the reference adapters follow any profile)."""
    if isinstance(profile, str) and ":" not in profile:
        with contextlib.suppress(AttributeError):
            adapter.profile = profile


def _serve(connection, port, profile=None):
    def send(message):
        connection.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    from ..adapters.registry import AdapterError, resolve_adapter

    try:
        adapter = resolve_adapter(port)
        _set_profile(adapter, profile)
        meta = {
            "name": safe_text(getattr(adapter, "name", "") or port, 200),
            "profile": _profile_spec(adapter),
            "trace": callable(getattr(adapter, "trace", None)),
            "begin_case": callable(getattr(adapter, "begin_case", None)),
        }
    except AdapterError as exc:
        send(("load_error", str(exc)))
        return
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from adapter code included
        send(("load_error", f"loading port {port!r} failed: {describe_exception(exc)}"))
        return
    send(("ready", meta))
    while True:
        try:
            operation, arguments = pickle.loads(connection.recv_bytes())
        except EOFError:
            return
        try:
            if operation == "build":
                answer = adapter.build(*arguments)
            elif operation == "run":
                inputs, limit = arguments
                answer = adapter.run(**inputs)
            elif operation == "trace":
                answer = adapter.trace(**arguments)
            elif operation == "begin_case":
                answer = adapter.begin_case(arguments)
            else:
                raise ValueError(f"unknown operation {operation!r}")
        except ModuleNotFoundError as exc:  # the port's library is missing here: not a verdict
            status = "missing" if operation == "build" else "error"
            send((status, describe_exception(exc) if status == "error" else (exc.name or "", safe_text(exc))))
            continue
        except BaseException as exc:  # SystemExit, KeyboardInterrupt, MemoryError, ... from adapter code
            send(("error", describe_exception(exc)))
            continue
        try:  # what the adapter returned breaks the protocol: say so, without pointing into samspec
            if operation == "run":
                answer = to_plain_outputs(answer, limit)
            elif operation == "trace":
                answer = to_plain_trace(answer)
            else:
                answer = None
        except (TypeError, ValueError) as exc:
            send(("error", safe_text(exc)))
        except BaseException as exc:  # the returned object's own code (__array__, items) failed
            send(("error", describe_exception(exc)))
        else:
            send(("ok", answer))


# -- the parent's side ----------------------------------------------------------------------------


class _Captured:
    """What the port printed: the worker's stdout and stderr share one pipe, which the parent drains
    while it waits for an answer. Only the first and the last ``CAPTURE_LIMIT // 2`` bytes since the
    last ``take`` are kept (and how many went between): a port that prints without end costs time
    until its timeout, never memory or disk."""

    def __init__(self):
        self.fd = None
        self._reset()

    def _reset(self):
        self.head, self.tail, self.total = bytearray(), bytearray(), 0

    def attach(self, fd: int) -> None:
        self.detach()
        os.set_blocking(fd, False)
        self.fd = fd

    def detach(self) -> None:
        """Keep what is left in the pipe, then close it."""
        if self.fd is not None:
            self.drain()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _keep(self, data: bytes) -> None:
        half = CAPTURE_LIMIT // 2
        self.total += len(data)
        room = half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail = (self.tail + data[-half:])[-half:]

    def drain(self, most: int = 1 << 22) -> None:
        """Read what the pipe holds now (at most ``most`` bytes: a writer faster than this reader
        must not keep it here), without waiting; close it at end of file."""
        start = self.total
        while self.fd is not None and self.total - start < most:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                os.close(self.fd)
                self.fd = None
                return
            self._keep(data)

    def take(self) -> str:
        self.drain()
        head, tail, cut = bytes(self.head), bytes(self.tail), self.total - len(self.head) - len(self.tail)
        self._reset()
        text = head.decode("utf-8", errors="replace")
        if cut > 0:
            text += f"\n[... {cut:,} bytes cut ...]\n"
        return text + tail.decode("utf-8", errors="replace")


def _kill_group(process) -> None:
    """SIGKILL the worker and every process it started (its session's group), where still alive."""
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, OSError):
        process.kill()


class IsolatedPort:
    """A port's adapter in a worker process; the same ``build``/``run``/``trace`` interface.

    ``begin_case(case_id)`` starts a case's clock: build and run together get ``timeout`` seconds.
    """

    isolated = True

    def __init__(self, port: str, timeout: float = DEFAULT_TIMEOUT, profile: str | None = None):
        self.port = port
        self.profile_override = profile
        self.timeout = float(timeout)
        self._captured = _Captured()
        self._process = None
        self._connection = None
        self._last_build = None
        self._built = False
        self._deadline = None
        self._expired = False  # the watchdog killed the worker at the deadline
        self.meta = self._start(load=True)
        self.name = self.meta["name"]
        self.profile = self.meta["profile"]

    # -- process management ------------------------------------------------------------------

    def _start(self, load=False) -> dict:
        parent, child = socket.socketpair()
        code = (
            "import sys; from samspec.conformance.harness.runner import _worker_entry; _worker_entry(int(sys.argv[1]))"
        )
        read_end, write_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-u", "-c", code, str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,  # -u: prints arrive with their case
                start_new_session=True,  # Ctrl-C in the terminal reaches the parent only
            )
        finally:
            os.close(write_end)
            child.close()
        self._captured.attach(read_end)
        self._connection = Connection(parent.detach())
        self._expired = False
        self._connection.send_bytes(pickle.dumps((self.port, list(sys.path), os.getcwd(), self.profile_override)))
        self._built = False
        try:
            status, payload = self._answer(self.timeout, "loading the port")
        except PortFailure as exc:
            if load:
                raise PortLoadError(f"loading port {self.port!r} failed: {exc}") from None
            raise
        if status == "load_error":
            self.close()
            if load:
                raise PortLoadError(payload)
            raise PortFailure(f"a fresh worker could not load the port again: {payload}")
        return payload

    def close(self):
        process, self._process = self._process, None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if process is not None:
            _kill_group(process)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        self._captured.detach()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def _wait(self, deadline: float) -> str:
        """ "answer" when an answer (or the end of the connection) can be read before ``deadline``,
        "exited" when the worker is gone although its connection stays open (a child it started
        holds it), else "timeout". Drains what the worker prints meanwhile."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._connection.fileno(), selectors.EVENT_READ, "answer")
            while True:
                if self._captured.fd is not None and self._captured.fd not in selector.get_map():
                    selector.register(self._captured.fd, selectors.EVENT_READ, "output")
                remaining = deadline - time.monotonic()
                events = selector.select(min(max(remaining, 0.0), 0.5))
                if any(key.data == "answer" for key, _ in events):
                    return "answer"
                if events:
                    fd = self._captured.fd
                    self._captured.drain()
                    if self._captured.fd is None:  # end of file: stop watching the closed pipe
                        selector.unregister(fd)
                elif self._process.poll() is not None:
                    return "exited"
                elif remaining <= 0:
                    return "timeout"

    def _answer(self, seconds: float, doing: str, largest: int = LARGEST_ANSWER):
        connection, process = self._connection, self._process
        deadline = time.monotonic() + max(seconds, 0.0)
        timed_out = f"timed out after {max(self.timeout, seconds):g} s while {doing} (--timeout); the worker was killed"
        try:
            state = self._wait(deadline)
        except (EOFError, OSError, ValueError):
            state = "answer"
        if state == "timeout":
            self.close()
            raise PortFailure(timed_out)
        if state == "exited":
            code = process.poll()
            self.close()
            raise PortFailure(f"{describe_exit(code)} while {doing}")
        watchdog = self._watchdog(deadline - time.monotonic())  # an answer that starts but never ends
        try:
            return _receive(connection, largest)
        except _TooLarge:
            self.close()
            raise PortFailure(
                f"the worker sent an answer larger than {largest:,} bytes while {doing}; it was not read"
            ) from None
        except (EOFError, OSError, ConnectionError):
            try:
                code = process.wait(5)
            except subprocess.TimeoutExpired:
                code = None
            self.close()
            if self._expired:
                raise PortFailure(timed_out) from None
            raise PortFailure(f"{describe_exit(code)} while {doing}") from None
        except pickle.UnpicklingError as exc:
            self.close()
            raise PortFailure(f"{exc} while {doing}") from None
        finally:
            watchdog.cancel()

    def _watchdog(self, seconds: float) -> threading.Timer:
        """Kill the worker after ``seconds`` (at least 1) unless cancelled: a blocking read or write
        on the connection must not outlive the case's deadline."""
        process = self._process

        def expire():
            self._expired = True
            _kill_group(process)

        watchdog = threading.Timer(max(seconds, 1.0), expire)
        watchdog.daemon = True
        watchdog.start()
        return watchdog

    def _call(self, operation, arguments, doing):
        if self._process is None:  # after a crash or a timeout: a fresh worker, the last build replayed
            self._start()
        if operation not in ("build",) and not self._built and self._last_build is not None:
            self._built = True  # replay once; a failing replay is reported like the original call
            self._call("build", self._last_build, "building the port again in a fresh worker")
        remaining = self.timeout if self._deadline is None else self._deadline - time.monotonic()
        watchdog = self._watchdog(remaining)  # a worker that stopped reading must not block the send
        try:
            self._connection.send_bytes(pickle.dumps((operation, arguments), protocol=pickle.HIGHEST_PROTOCOL))
        except (OSError, ValueError):
            pass  # a dead worker: _answer says how it died
        finally:
            watchdog.cancel()
        remaining = self.timeout if self._deadline is None else self._deadline - time.monotonic()
        largest = LARGEST_ANSWER
        if operation == "run" and arguments[1] is not None:  # the values the case can need, at 16 bytes each
            largest = 16 * int(arguments[1]) + ANSWER_SLACK
        status, payload = self._answer(remaining, doing, largest)
        if status == "missing":
            module, message = payload
            raise MissingDependency(str(message), str(module))
        if status == "error":
            raise PortFailure(payload)
        return payload

    # -- the adapter interface ----------------------------------------------------------------

    def begin_case(self, case_id):
        self._deadline = time.monotonic() + self.timeout
        if self.meta.get("begin_case"):
            self._call("begin_case", case_id, f"starting case {case_id!r}")

    def end_case(self):
        """The case is over: later calls (e.g. the property checks) get ``timeout`` each."""
        self._deadline = None

    def build(self, config, params):
        self._last_build = (config, params)
        self._built = True
        self._call("build", (config, params), "building the port")

    def run(self, limit=None, **inputs):
        return self._call("run", (inputs, limit), "running the port")

    @property
    def has_trace(self) -> bool:
        return bool(self.meta.get("trace"))

    def trace(self, **inputs):
        return self._call("trace", inputs, "tracing the port")

    def take_captured(self) -> str:
        return self._captured.take()


class _CaptureWriter(io.TextIOBase):
    """A text stream that keeps what is written in a ``_Captured`` (head and tail, bounded)."""

    def __init__(self, captured):
        super().__init__()
        self.captured = captured

    def writable(self):
        return True

    def write(self, text):
        self.captured._keep(str(text).encode("utf-8", errors="replace"))
        return len(text)


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
        self.timeout = timeout
        self._deadline = None
        self._captured = _Captured()
        self._writer = _CaptureWriter(self._captured)

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


def open_port(port: str, *, isolated: bool = True, timeout: float = DEFAULT_TIMEOUT, profile: str | None = None):
    """The port named on the command line, ready to ``build``/``run``: in a worker process unless
    ``isolated`` is False. ``profile`` (a --profile name) is also set on the adapter. Raises
    PortLoadError (exit 2) when it cannot be loaded."""
    if isolated:
        return IsolatedPort(port, timeout=timeout, profile=profile)
    from ..adapters.registry import AdapterError, resolve_adapter

    try:
        adapter = resolve_adapter(port)
        _set_profile(adapter, profile)
        return InProcessPort(adapter, timeout=timeout)
    except AdapterError as exc:
        raise PortLoadError(str(exc)) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit and BaseException subclasses from the adapter's import or factory
        raise PortLoadError(f"loading port {port!r} failed: {describe_exception(exc)}") from None


def wrap_adapter(adapter):
    """An adapter object already in hand (tests, the self-test, the plugin's in-process mode)."""
    return adapter if isinstance(adapter, (IsolatedPort, InProcessPort)) else InProcessPort(adapter)
