"""Shared test helpers.

Optional libraries (torch, segment-anything, CuPy, ...) are skipped with a reason when missing,
except in the tox environments that exist to exercise them: they list the modules in
SAMSPEC_REQUIRE (comma-separated), and a missing one is then a failure, never a silent skip.
"""

import importlib
import os

import pytest


def require(module: str, load=None):
    """Import ``module`` (or call ``load()`` to get it); skip, or fail where SAMSPEC_REQUIRE names it."""
    required = {m.strip() for m in os.environ.get("SAMSPEC_REQUIRE", "").split(",") if m.strip()}
    try:
        return load() if load is not None else importlib.import_module(module)
    except Exception as exc:  # ImportError, or a library that fails on import
        if module in required:
            pytest.fail(f"{module} is required in this environment (SAMSPEC_REQUIRE) but failed to import: {exc}")
        pytest.skip(f"{module} is not installed ({exc}); run the matching tox environment")


def require_cupy_gpu():
    """CuPy with a usable CUDA device: skipped with the reason where there is none (no GPU, no
    driver), failed instead where SAMSPEC_REQUIRE names cupy (tox -e gpu, on a GPU machine)."""
    cupy = require("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device")
    except Exception as exc:
        if "cupy" in {m.strip() for m in os.environ.get("SAMSPEC_REQUIRE", "").split(",")}:
            pytest.fail(f"cupy is required in this environment (SAMSPEC_REQUIRE) but no GPU is usable: {exc}")
        pytest.skip(f"CuPy is installed but no GPU is usable here: {exc}")
    return cupy
