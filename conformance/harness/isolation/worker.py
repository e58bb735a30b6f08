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
from .contract import ContractError, check_contract
from .conversion import CallFailed, ConversionError, MissingModule, ProfiledAdapter, profile_data


def _adapter_profile(adapter, requested):
    """The profile the port runs under, resolved here in the worker: ``--profile`` (a name or module:attr,
    imported here), else the adapter's ``profile`` attribute (a name, module:attr or a Profile), else `sam`."""
    from ...adapters.registry import AdapterError
    from ...profiles.model import Profile
    from ...profiles.resolve import resolve_profile

    spec = requested or getattr(adapter, "profile", None) or "sam"
    if not requested and not isinstance(spec, (str, Profile)):
        raise AdapterError(
            f"the adapter's profile is {safe_text(repr(spec), 200)} ({type(spec).__name__}); "
            "expected a profile name such as 'sam', 'module:attr', or a Profile (docs/profiles.md)"
        )
    try:
        return resolve_profile(spec, "--profile" if requested else "the adapter's profile")
    except ValueError as exc:
        raise AdapterError(safe_text(exc, 2000)) from None


def worker_entry(fd: int, parent_pid: int = 0) -> None:
    """The worker's main: ``python -c`` calls this with the socket it shares with the parent.
    stdout and stderr are already the capture file (the parent opened the process that way)."""
    import socket
    from multiprocessing.connection import Connection

    from .lifetime import die_with_parent

    connection = Connection(socket.socket(fileno=fd).detach())
    die_with_parent(parent_pid)
    port, sys_path, cwd, profile, outputs = pickle.loads(connection.recv_bytes())
    sys.path[:] = sys_path
    os.chdir(cwd)
    try:
        _serve(connection, port, profile, outputs)
    except (OSError, EOFError):  # the parent went away (it ended the run): nothing to tell anyone
        pass


def set_profile(adapter, profile):
    """``--profile NAME`` is also told to the adapter (the reference adapters follow any profile)."""
    if isinstance(profile, str) and ":" not in profile:
        with contextlib.suppress(AttributeError):
            adapter.profile = profile


def load(port, profile=None, outputs=None, passthrough=()):
    """The adapter (``--outputs DIR``: the outputs folder's reader) under its profile, and what the
    parent may know of it. Raises AdapterError, or whatever the port's code raised."""
    from ...adapters.registry import AdapterError, resolve_adapter

    if outputs is not None:
        from ...adapters.outputs import OutputsAdapter

        adapter = OutputsAdapter(outputs, name=port)
    else:
        adapter = resolve_adapter(port)
    set_profile(adapter, profile)
    profiled = ProfiledAdapter(adapter, _adapter_profile(adapter, profile), passthrough)
    try:
        check_contract(adapter, profiled.profile)
    except ContractError as exc:
        raise AdapterError(str(exc)) from None
    meta = {
        "name": safe_text(getattr(adapter, "name", "") or port, 200),
        "profile": profile_data(profiled.profile),
        "trace": callable(getattr(adapter, "trace", None)),
        "begin_case": callable(getattr(adapter, "begin_case", None)),
        "compute_dtype": safe_text(getattr(adapter, "compute_dtype", None) or "", 40) or None,
        "runtime": safe_text(getattr(adapter, "runtime", None) or "", 200) or None,  # e.g. backend, version, mode
    }
    return profiled, meta


def _perform(profiled, operation, arguments):
    """One request of the parent; what it answers (plain data only)."""
    if operation == "build":
        return profiled.build(*arguments)
    if operation == "begin_case":
        return profiled.begin_case(*arguments)
    if operation == "check_inputs":
        profiled.port_inputs(*arguments)
        return None
    if operation == "run_case":
        return profiled.run_case(*arguments)
    if operation == "trace_case":
        return profiled.trace_case(*arguments)
    if operation == "run":
        inputs, limit = arguments
        return profiled.run(inputs, limit)
    if operation == "trace":
        return profiled.trace(arguments)
    raise CallFailed(f"unknown operation {safe_text(operation, 80)!r}")


def _serve(connection, port, profile=None, outputs=None):
    from ...adapters.registry import AdapterError
    from ...profiles.model import NotApplicable

    def send(message):
        connection.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    try:
        profiled, meta = load(port, profile, outputs)
    except AdapterError as exc:
        send(("load_error", str(exc)))
        return
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from adapter or profile code included
        send(("load_error", f"loading port {port!r} failed: {describe_exception(exc)}"))
        return
    send(("ready", meta))
    while True:
        try:
            operation, arguments = pickle.loads(connection.recv_bytes())
        except EOFError:
            return
        try:
            send(("ok", _perform(profiled, operation, arguments)))
        except NotApplicable as exc:  # only ever from the profile's to_port (conversion.py)
            send(("n/a", str(exc)))
        except ConversionError as exc:
            send(("convert_error", str(exc)))
        except MissingModule as exc:  # the port's library is missing here: not a verdict
            send(("missing", (exc.module, str(exc))))
        except CallFailed as exc:
            send(("error", str(exc)))
        except (OSError, EOFError):
            raise
        except BaseException as exc:  # samspec's own side failed (a copy out of memory): an error of the call
            send(("error", describe_exception(exc)))
