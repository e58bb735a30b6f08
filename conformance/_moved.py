"""Old module paths of samspec.conformance, from before it was split into packages by concern.

``import samspec.conformance.check`` (and every other old path below) still works: this finder
hands back the module under its new name, so both names are one module object (patching one
patches the other). New code imports the new paths."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    "fixtures": "cases.store",
    "weights": "cases.weights",
    "registry": "adapters.registry",
    "trace_hooks": "adapters.trace_hooks",
    "check": "harness.check",
    "tolerance": "harness.tolerance",
    "stages": "harness.stages",
    "progress": "harness.progress",
    "runner": "harness.isolation",
    "harness.runner": "harness.isolation",
    "expectations": "harness.xfail",
    "localise": "diagnosis.localise",
    "variants": "diagnosis.variants",
    "strategies": "properties.strategies",
    "novel_bugs": "selftest.novel_bugs",
    "report": "reports.document",
    "html_report": "reports.html",
    "ports_report": "reports.ports_table",
    "explain": "teaching.explain",
    "figures": "teaching.figures",
    "bench_gpu": "bench.gpu",
    "install_hint": "reports.install_hint",
}


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``samspec.conformance.<old>`` and loads it as ``samspec.conformance.<new>``."""

    def __init__(self, package: str):
        self.old = {f"{package}.{old}": f"{package}.{new}" for old, new in MOVED.items()}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.old:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return importlib.import_module(self.old[spec.name])

    def exec_module(self, module) -> None:
        """Nothing to run: the module was imported under its new name."""


def install(package: str) -> None:
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules(package))
