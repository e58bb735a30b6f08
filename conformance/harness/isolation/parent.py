"""samspec's side of the worker: spawning it, waiting with deadlines, killing its process group.

A worker that exits (any code: ``sys.exit``, ``os._exit``), is killed by a signal (a segfault, the OOM killer)
or does not answer within the per-case ``timeout`` raises ``PortFailure`` naming what happened; the next call
starts a fresh worker and replays the last ``build``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import selectors
import socket
import subprocess
import sys
import threading
import time
import weakref
from multiprocessing.connection import Connection

from ...profiles.model import NotApplicable
from .capture import Captured
from .conversion import ConversionError, profile_from_data
from .errors import MissingDependency, PortFailure, PortLoadError, describe_exit
from .lifetime import kill_group, kill_marked, kill_tracked, marked_env, new_mark
from .wire import ANSWER_SLACK, LARGEST_ANSWER, TooLarge, receive

DEFAULT_TIMEOUT = 60.0  # seconds per case (build + run)
_OPEN = weakref.WeakSet()  # every IsolatedPort with a worker: close_all() ends them (signal handlers, exit)


def close_all() -> None:
    """Kill every worker this process started, with its process group, and any --exec program still running:
    for the front-ends' signal handlers and exit paths (a worker also dies by itself within seconds of
    samspec's death)."""
    for port in list(_OPEN):
        with contextlib.suppress(Exception):
            port.close()
    kill_tracked()


atexit.register(close_all)


def wait_for_answer(connection, process, captured, deadline: float) -> str:
    """ "answer" when an answer (or the end of the connection) can be read before ``deadline``,
    "exited" when the worker is gone although its connection stays open (a child it started
    holds it), else "timeout". Drains what the worker prints meanwhile into ``captured``."""
    with selectors.DefaultSelector() as selector:
        selector.register(connection.fileno(), selectors.EVENT_READ, "answer")
        while True:
            if captured.fd is not None and captured.fd not in selector.get_map():
                selector.register(captured.fd, selectors.EVENT_READ, "output")
            remaining = deadline - time.monotonic()
            events = selector.select(min(max(remaining, 0.0), 0.5))
            if any(key.data == "answer" for key, _ in events):
                return "answer"
            if events:
                fd = captured.fd
                captured.drain()
                if captured.fd is None:  # end of file: stop watching the closed pipe
                    selector.unregister(fd)
            elif process.poll() is not None:
                return "exited"
            elif remaining <= 0:
                return "timeout"


class IsolatedPort:
    """A port's adapter in a worker process; the same ``build``/``run``/``trace`` interface.

    ``begin_case(case_id)`` starts a case's clock: build and run together get ``timeout`` seconds.
    The worker resolves the profile (``profile``: a --profile name or module:attr; else the adapter's own)
    and runs its conversions: ``check_inputs`` / ``run_case`` / ``trace_case`` take a case's `sam` inputs
    and give `sam` outputs. This process holds the profile as data only (``profile``, a ProfileData).
    ``outputs``: judge the files in that folder (--outputs), read in the worker.
    """

    isolated = True

    def __init__(self, port: str, timeout: float = DEFAULT_TIMEOUT, profile: str | None = None, outputs=None):
        self.port = port
        self.outputs = None if outputs is None else str(outputs)
        self.mark = new_mark()  # in the environment of the worker and all it starts (lifetime.kill_marked)
        self.mutated = []  # the port's inputs that the last run_case modified in place
        self.missing = {}  # output -> why the last run_case lacks it (the --outputs reader's missing files)
        self.profile_override = profile
        self.timeout = float(timeout)
        self._captured = Captured()
        self._process = None
        self._connection = None
        self._last_build = None
        self._built = False
        self._deadline = None
        self._expired = False  # the watchdog killed the worker at the deadline
        self.meta = self._start(load=True)
        self.name = self.meta["name"]
        try:
            self.profile = profile_from_data(self.meta["profile"])
        except ValueError as exc:
            self.close()
            raise PortLoadError(f"loading port {self.port!r} failed: {exc}") from None
        self.compute_dtype = self.meta.get("compute_dtype")  # the dtype the adapter says its port computes in
        self.runtime = self.meta.get("runtime")  # what the port runs on, in the adapter's words (data, not code)

    # -- process management ------------------------------------------------------------------

    def _start(self, load=False) -> dict:
        parent, child = socket.socketpair()
        code = "import sys; from samspec.conformance.harness.isolation.worker import worker_entry; "
        code += "worker_entry(int(sys.argv[1]), int(sys.argv[2]))"
        read_end, write_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-u", "-c", code, str(child.fileno()), str(os.getpid())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,  # -u: prints arrive with their case
                start_new_session=True,  # Ctrl-C in the terminal reaches the parent only
                env=marked_env(self.mark),
            )
        finally:
            os.close(write_end)
            child.close()
        _OPEN.add(self)
        self._captured.attach(read_end)
        self._connection = Connection(parent.detach())
        self._expired = False
        hello = (self.port, list(sys.path), os.getcwd(), self.profile_override, self.outputs)
        self._connection.send_bytes(pickle.dumps(hello))
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
            kill_group(process)
            kill_marked(self.mark)  # what the worker started that left its group (setsid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        self._captured.detach()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def _answer(self, seconds: float, doing: str, largest: int = LARGEST_ANSWER):
        connection, process = self._connection, self._process
        deadline = time.monotonic() + max(seconds, 0.0)
        timed_out = f"timed out after {max(self.timeout, seconds):g} s while {doing} (--timeout); the worker was killed"
        try:
            state = wait_for_answer(self._connection, process, self._captured, deadline)
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
            return receive(connection, largest)
        except TooLarge:
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
            kill_group(process)

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
        limit = {"run": 1, "run_case": 2}.get(operation)
        if limit is not None and arguments[limit] is not None:  # the values the case can need, at 16 bytes each
            largest = 16 * int(arguments[limit]) + ANSWER_SLACK
        status, payload = self._answer(remaining, doing, largest)
        if status == "n/a":
            raise NotApplicable(str(payload))
        if status == "convert_error":
            raise ConversionError(str(payload))
        if status == "missing":
            module, message = payload
            raise MissingDependency(str(message), str(module))
        if status == "error":
            raise PortFailure(payload)
        return payload

    # -- the adapter interface ----------------------------------------------------------------

    def begin_case(self, case_id, inputs=None, config=None):
        """Start the case's clock; with the case's `sam` ``inputs``, the worker first converts them (the
        profile's ``to_port``: NotApplicable or ConversionError), then calls the adapter's ``begin_case``."""
        self._deadline = time.monotonic() + self.timeout
        if inputs is not None:
            self._call("begin_case", (case_id, inputs, config), f"starting case {case_id!r} (converting its inputs)")
        elif self.meta.get("begin_case"):
            self._call("begin_case", (case_id, None, None), f"starting case {case_id!r}")

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

    def use_profile(self, profile) -> None:
        """The Checker's profile must be the one the worker resolved (its conversions run there)."""
        if getattr(profile, "name", None) != self.profile.name:
            raise ValueError(
                f"profile: the port's worker converts under profile {self.profile.name!r}, not "
                f"{getattr(profile, 'name', profile)!r}; open the port with profile={getattr(profile, 'name', '')!r}"
            )

    def check_inputs(self, inputs, config) -> None:
        """NotApplicable or ConversionError when the profile cannot give the port this case."""
        self._call("check_inputs", (inputs, config), "converting the case's inputs")

    def run_case(self, inputs, config, limit=None) -> dict:
        """The port's outputs for a case's `sam` inputs, converted back to `sam` layout in the worker."""
        answer = self._call("run_case", (inputs, config, limit), "running the port")
        if not (isinstance(answer, tuple) and len(answer) == 3 and all(map(isinstance, answer, (dict, list, dict)))):
            raise PortFailure(f"the worker sent a {type(answer).__name__} for a case's outputs; samspec cannot read it")
        outputs, self.mutated = answer[0], [str(name) for name in answer[1]]
        self.missing = {str(k): str(v) for k, v in answer[2].items()}
        return outputs

    def trace_case(self, inputs, config, limit=None) -> dict:
        return self._call("trace_case", (inputs, config, limit), "tracing the port")

    def take_captured(self) -> str:
        return self._captured.take()
