"""What can go wrong when samspec calls a port: the exceptions the harness turns into verdicts or exit codes,
and the words for how a worker process ended."""

from __future__ import annotations

import signal


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
