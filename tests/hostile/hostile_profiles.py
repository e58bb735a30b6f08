"""Hostile profiles for tests/hostile/test_hostile_profiles.py (issue 22, item 1; docs/ci.md "What samspec
guarantees"): a profile's code is port code, and runs in the port's worker process, never in samspec's.

Loaded as ``--profile hostile_profiles:NAME`` with this folder as the working directory. A hostile
conversion strikes on its second call in a worker (the middle case, ``BAD``, of the three cases the tests
check); a fresh worker (after an exit or a timeout) starts counting again, so the case after it passes.
When ``$HOSTILE_IMPORTS`` is set, importing this module appends the importing process's id and its
parent's to that file.
"""

from __future__ import annotations

import os
import time

import numpy as np

from samspec.conformance.profiles.profile import Profile

if os.environ.get("HOSTILE_IMPORTS"):
    with open(os.environ["HOSTILE_IMPORTS"], "a") as marker:
        marker.write(f"hostile_profiles {os.getpid()} {os.getppid()}\n")

CALLS = {"from_port": 0}


class CustomBaseException(BaseException):
    """Neither an Exception nor SystemExit nor KeyboardInterrupt: ``except Exception`` lets it through."""


def _on_second_call(misbehave):
    def from_port(outputs, config, inputs):
        CALLS["from_port"] += 1
        if CALLS["from_port"] == 2:
            misbehave()
        return dict(outputs)

    return from_port


def _os_exit():
    os._exit(0)


def _hang():
    time.sleep(600)


def _raise_base():
    raise CustomBaseException("from from_port")


def _always_pass(*args, **kwargs):
    """samspec's comparison replaced by a pass, wherever the profile can reach it."""
    from samspec.conformance.harness.tolerance import Comparison

    return Comparison("pass", 0.0, 1.0)


def _scale(outputs, config, inputs):
    """A from_port that gets every output wrong (x 1.5)."""
    return {key: np.asarray(value) * 1.5 for key, value in outputs.items()}


def _tamper(outputs, config, inputs):
    """Replaces samspec's comparison and exit code by ones that always pass, then gets every output wrong:
    were this code run in samspec's process, the run would pass."""
    import samspec.conformance.harness.check as check
    import samspec.conformance.harness.tolerance as tolerance

    tolerance.compare = check.compare = _always_pass
    check.exit_code = lambda *args, **kwargs: 0
    return _scale(outputs, config, inputs)


OS_EXIT_FROM_PORT = Profile(name="os_exit_from_port", description="os._exit(0)", from_port_fn=_on_second_call(_os_exit))
HANG_FROM_PORT = Profile(name="hang_from_port", description="sleeps 600 s", from_port_fn=_on_second_call(_hang))
BASE_EXCEPTION_FROM_PORT = Profile(
    name="base_exception_from_port", description="raises a BaseException", from_port_fn=_on_second_call(_raise_base)
)
TAMPERS = Profile(name="tampers", description="patches samspec's comparison to pass", from_port_fn=_tamper)
WRONG = Profile(name="wrong", description="from_port scales every output", from_port_fn=_scale)
CONVERTS_IN_WORKER = Profile(name="converts_in_worker", description="a faithful profile", from_port_fn=lambda o, c: o)
