"""The golden cases: the catalogue that defines them (catalogue), the spec clauses they exercise
(clauses), their checksummed ``.npy`` files and manifest (npy, folder, manifest, load, verify,
generate; store re-exports them), and the optional real-checkpoint cases (weights). Data path, step 1.

(The package is named ``cases``, not ``fixtures``: ``samspec.fixtures`` is the data folder itself.)"""

from importlib import import_module

from .store import FixtureError, default_dir, load_cases, manifest_sha256

__all__ = ["FixtureError", "default_dir", "load_cases", "manifest_sha256"]


def __getattr__(name):
    """The catalogue's names (CASES, CONFIGS, ...), as ``samspec.conformance.cases`` held them before
    it became this package."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(import_module(".catalogue", __name__), name)
