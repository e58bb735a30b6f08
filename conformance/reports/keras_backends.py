"""The ports table's keras-hub rows per Keras backend and mode (docs/ports.md, docs/spec.md §12.3).

keras-hub's layer is one port per runtime: each built-in keras-hub port (eager, compiled) runs in a
worker process started with `KERAS_BACKEND` set to each backend, over the whole catalogue under the
`keras_hub` profile, with that runtime's known failures (conformance/adapters/known_failures) as
expected failures. A runtime passes, or fails exactly on its declared outputs; anything else (an
undeclared failure, a declared output that passes, an error) makes the row's verdict bold and
`samspec report ports` exit 1.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from ..harness.check import Checker, summarise
from ..profiles.profile import get_profile
from .ports_markdown import two_digits

# (port, KERAS_BACKEND) in the order of the table
BACKEND_RUNS = tuple(
    (port, backend) for backend in ("torch", "jax", "tensorflow") for port in ("keras-hub", "keras-hub-compiled")
)
PROFILE = "keras_hub"


@dataclass
class BackendRun:
    port: str
    backend: str
    runtime: str
    profile: object
    results: list
    declared: list  # the known failures' patterns (harness.xfail.Expectation)
    error: str = ""  # the port could not be loaded

    @property
    def counts(self) -> dict:
        return summarise(self.results)

    def declared_outputs(self) -> list:
        return sorted({f"{r.case} ({r.output})" for r in self.results if r.verdict == "xfail"})

    def verdict(self) -> str:
        counts = self.counts
        unused = [entry.pattern for entry in self.declared if not entry.used]
        if self.error or counts.get("fail") or counts.get("error") or counts.get("xpass") or unused:
            return "**differs from its declaration**"
        if counts.get("xfail"):
            return f"fails exactly where declared ({counts['xfail']} outputs, docs/spec.md §12.3)"
        return "passes" if counts.get("pass") else "**nothing checked**"


def _known_failures(port, backend) -> list:
    from ..adapters.keras_hub import known_failures_path
    from ..harness.xfail import read_xfails

    path = known_failures_path(port, backend)
    return read_xfails(path) if path.is_file() else []


@contextlib.contextmanager
def keras_backend_env(backend):
    """`KERAS_BACKEND` set to ``backend`` in this process's environment (so in the workers it starts),
    then put back as it was."""
    before = os.environ.get("KERAS_BACKEND")
    os.environ["KERAS_BACKEND"] = backend
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("KERAS_BACKEND", None)
        else:
            os.environ["KERAS_BACKEND"] = before


def run_backends(cases, runs=BACKEND_RUNS, log=None) -> list:
    """Each (port, backend) of ``runs`` over ``cases`` in its own worker, started (and restarted) with
    `KERAS_BACKEND` set to the backend; a port that cannot be loaded gets a row saying why."""
    from ..harness.isolation import MissingDependency, PortLoadError, open_port

    out = []
    profile = get_profile(PROFILE)
    for port, backend in runs:
        if log:
            log(f"samspec report ports: {port} with KERAS_BACKEND={backend}")
        declared = _known_failures(port, backend)
        with keras_backend_env(backend):
            try:
                worker = open_port(port, profile=PROFILE)
            except PortLoadError as exc:
                out.append(BackendRun(port, backend, "", profile, [], declared, error=str(exc)))
                continue
            try:
                results = Checker(worker, profile, xfails=declared).run(cases)
            except MissingDependency as exc:  # this backend's library is not installed here
                out.append(BackendRun(port, backend, worker.runtime or "", profile, [], declared, error=str(exc)))
                continue
            finally:
                worker.close()
        out.append(BackendRun(port, backend, worker.runtime or "", profile, results, declared))
    return out


def backend_lines(runs) -> list:
    """The section of docs/ports.md: one row per (port, backend)."""
    lines = [
        "",
        "## keras-hub on each Keras backend",
        "",
        "keras-hub's `SAMPromptEncoder` under each `KERAS_BACKEND`, called eagerly (`keras-hub`) and inside a "
        "`keras.Model` run by `predict` (`keras-hub-compiled`), each in its own worker, over the whole catalogue "
        f"under `{PROFILE}`. Declared failures are those of `conformance/adapters/known_failures` (docs/spec.md "
        "§12.3); the runtime column is the adapter's own (backend, version, mode).",
        "",
        "| port | `KERAS_BACKEND` | runtime | pass | fail | declared (xfail) | error | n/a | verdict |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        c = run.counts
        lines.append(
            f"| {run.port} | `{run.backend}` | {run.runtime or run.error} | {c.get('pass', 0)} | {c.get('fail', 0)} "
            f"| {c.get('xfail', 0)} | {c.get('error', 0)} | {c.get('n/a', 0)} | {run.verdict()} |"
        )
    failing = {}
    for run in runs:
        for result in run.results:
            if result.verdict in ("xfail", "fail"):
                failing.setdefault((result.case, result.output), []).append((run, result))
    if failing:
        lines += ["", "| case | output | max abs err (per failing runtime) |", "|---|---|---|"]
        for (case, output), found in sorted(failing.items()):
            errors = ", ".join(f"{r.port} `{r.backend}`: {two_digits(res.error)}" for r, res in found)
            lines.append(f"| {case} | {output} | {errors} |")
    return lines
