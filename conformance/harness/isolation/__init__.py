"""Running a port where it cannot touch the verdict (docs/ci.md, "What samspec guarantees").

`samspec check` and the pytest plugin run the adapter in a **worker process** by default. The parent
alone compares outputs, decides verdicts and picks the exit code; the worker imports the adapter,
resolves its profile, calls ``to_port`` -> ``build`` / ``run`` / ``trace`` -> ``from_port`` and sends
plain arrays back. Everything a port supplies runs there: its adapter, its profile's code, a
``--profile module:attr`` module, the reading of an ``--outputs`` folder.

- ``wire``: what crosses the boundary (plain arrays, a restricted unpickler, size limits).
- ``worker``: the child's side; ``conversion``: the adapter under its profile, every call into port
  code wrapped; ``contract``: the adapter's signatures checked once at load.
- ``parent``: spawning, deadlines, killing the worker's process group (``close_all``);
  ``lifetime``: the worker dies with its parent, process groups killed as a whole.
- ``capture``: what the port prints, bounded; ``errors``: the exceptions the harness turns into
  verdicts or exit codes; ``in_process``: the same interface without the process (``--in-process``).

A worker that exits (any code), is killed by a signal or does not answer within the per-case
``timeout`` raises ``PortFailure`` naming what happened; the next call starts a fresh worker and
replays the last ``build``.
"""

from __future__ import annotations

from ...port_text import describe_exception
from .conversion import ConversionError, ProfileData
from .errors import MissingDependency, PortFailure, PortLoadError, describe_exit
from .in_process import InProcessPort, time_limit
from .parent import DEFAULT_TIMEOUT, IsolatedPort, close_all
from .wire import ANSWER_SLACK, LARGEST_ANSWER, OUTPUT_FACTOR, OUTPUT_SLACK, to_plain_outputs, to_plain_trace
from .worker import load

__all__ = [
    "ANSWER_SLACK",
    "DEFAULT_TIMEOUT",
    "LARGEST_ANSWER",
    "OUTPUT_FACTOR",
    "OUTPUT_SLACK",
    "ConversionError",
    "InProcessPort",
    "IsolatedPort",
    "MissingDependency",
    "PortFailure",
    "PortLoadError",
    "ProfileData",
    "close_all",
    "describe_exit",
    "open_port",
    "time_limit",
    "to_plain_outputs",
    "to_plain_trace",
    "wrap_adapter",
]


def open_port(
    port: str, *, isolated: bool = True, timeout: float = DEFAULT_TIMEOUT, profile: str | None = None, outputs=None
):
    """The port named on the command line, ready to ``build``/``run``: in a worker process unless
    ``isolated`` is False. ``profile`` (a --profile name or module:attr; default the adapter's own) is
    resolved where the port runs, and a name is also set on the adapter; ``port.profile`` is then the
    Profile (as data, for a worker). ``outputs``: the port is the files in that folder (--outputs),
    read in the worker. Raises PortLoadError (exit 2) when it cannot be loaded."""
    if isolated:
        return IsolatedPort(port, timeout=timeout, profile=profile, outputs=outputs)
    from ...adapters.registry import AdapterError

    try:
        profiled, _ = load(port, profile, outputs, passthrough=(KeyboardInterrupt,))
        return InProcessPort(profiled.adapter, timeout=timeout, profile=profiled.profile)
    except AdapterError as exc:
        raise PortLoadError(str(exc)) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit and BaseException subclasses from the adapter's import or factory
        raise PortLoadError(f"loading port {port!r} failed: {describe_exception(exc)}") from None


def wrap_adapter(adapter, profile=None):
    """An adapter object already in hand (tests, the self-test, the plugin's in-process mode), under
    ``profile`` (a Profile) when given."""
    port = adapter if isinstance(adapter, (IsolatedPort, InProcessPort)) else InProcessPort(adapter)
    if profile is not None:
        port.use_profile(profile)
    return port
