"""samspec.conformance: checking a port of SAM's prompt encoder against the reference.

The packages follow the data path of a check (docs/architecture.md):

    cases/      the golden cases (catalogue, spec clauses, checksummed .npy store, real-checkpoint weights)
    profiles/   a port's conventions and the known divergences between real ports
    adapters/   one module per port (conversion only), the registry that finds them, trace hooks
    harness/    the worker that isolates a port, the error budget, the comparison, xfail, stages
    diagnosis/  naming what is wrong: catalogue variants, localisation, the diagnoser
    reports/    terminal table, JSON, JUnit, HTML, the ports table
    properties/ property checks and hypothesis strategies
    selftest/   proof that every known bug is caught and named
    teaching/   `samspec explain` and `samspec figures`
    bench/      `samspec bench`

``cli`` (the ``samspec`` command) and ``pytest_plugin`` sit on top as the two front-ends.

The public API, importable from here:

    Checker, exit_code            harness.check: judging a port's outputs
    load_cases, default_dir       cases.store: the golden cases
    Profile, Divergence,          profiles.profile: a port's conventions
    get_profile, resolve_profile
    resolve_adapter               adapters.registry: a port by built-in name or module:attr
    open_port                     harness.isolation: a port in its isolated worker
    make_diagnoser                diagnosis.diagnoser

Old module paths (``samspec.conformance.check``, ``.runner``, ``.report``, ...) keep working
(_moved.py).
"""

from importlib import import_module

from . import _moved

_moved.install(__name__)

PUBLIC = {
    "Checker": "harness.check",
    "exit_code": "harness.check",
    "load_cases": "cases.store",
    "default_dir": "cases.store",
    "Profile": "profiles.profile",
    "Divergence": "profiles.profile",
    "get_profile": "profiles.profile",
    "resolve_profile": "profiles.profile",
    "resolve_adapter": "adapters.registry",
    "open_port": "harness.isolation",
    "make_diagnoser": "diagnosis.diagnoser",
}

__all__ = sorted(PUBLIC)


def __getattr__(name):
    """The public API, imported on first use (``import samspec.conformance`` stays light)."""
    if name not in PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{PUBLIC[name]}", __name__), name)
