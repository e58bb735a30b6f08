"""The worker process's side: import the adapter, call it, send plain arrays back (wire.py).

``python -c`` starts ``worker_entry`` with one end of a socket pair; stdout and stderr are already the
parent's capture pipe. Everything the adapter does (import, ``build``, ``run``, ``trace``, any exit or
exception) happens here, never in samspec's own process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys

from ...port_text import describe_exception, safe_text
from .wire import to_plain_outputs, to_plain_trace


def _profile_spec(adapter):
    """The adapter's declared profile as something the parent can load: a name or "module:attr"."""
    profile = getattr(adapter, "profile", None)
    if profile is None or isinstance(profile, str):
        return profile
    from ...adapters.registry import AdapterError

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


def worker_entry(fd: int) -> None:
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


def set_profile(adapter, profile):
    """``--profile NAME`` is also told to the adapter (the reference adapters follow any profile)."""
    if isinstance(profile, str) and ":" not in profile:
        with contextlib.suppress(AttributeError):
            adapter.profile = profile


def _serve(connection, port, profile=None):
    def send(message):
        connection.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    from ...adapters.registry import AdapterError, resolve_adapter

    try:
        adapter = resolve_adapter(port)
        set_profile(adapter, profile)
        meta = {
            "name": safe_text(getattr(adapter, "name", "") or port, 200),
            "profile": _profile_spec(adapter),
            "trace": callable(getattr(adapter, "trace", None)),
            "begin_case": callable(getattr(adapter, "begin_case", None)),
            "compute_dtype": safe_text(getattr(adapter, "compute_dtype", None) or "", 40) or None,
            "runtime": safe_text(getattr(adapter, "runtime", None) or "", 200) or None,  # e.g. backend, version, mode
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
