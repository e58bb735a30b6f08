"""Shared test helpers.

Optional libraries (torch, segment-anything, CuPy, ...) are skipped with a reason when missing,
except in the tox environments that exist to exercise them: they list the modules in
SAMSPEC_REQUIRE (comma-separated), and a missing one is then a failure, never a silent skip.

Each tox environment selects its tests by marker (pyproject.toml): a test that requires an optional
library must carry the marker of the environment that installs it (MARKERS), or ``require`` fails
it, wherever it runs; so no test can need torch and yet run only in `core`, where it would skip.
"""

import importlib
import os

import pytest

# optional library -> the markers of the tox environments that install it (tox.ini: sam, ports, keras),
# the one to mark a test with first
SAM, PORTS, KERAS = ("sam",), ("ports",), ("keras",)
MARKERS = {
    "torch": SAM + PORTS + KERAS,
    "segment_anything": SAM + PORTS,
    "array_api_compat": SAM,
    "matplotlib": SAM,
    "transformers": PORTS,
    "safetensors": PORTS,
    "keras_hub": PORTS + KERAS,
    "keras": PORTS + KERAS,
    "h5py": PORTS + KERAS,
    "jax": KERAS,
    "tensorflow": KERAS,
    "onnx": PORTS,
    "onnxruntime": PORTS,
    "sam2": PORTS,
    "ultralytics": PORTS,
}
_running = {"item": None}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _running["item"] = item  # before its fixtures are set up: they may call require() too


def pytest_runtest_teardown(item):
    _running["item"] = None


def markers_for(modules) -> list:
    """The marker of the one tox environment that installs every module of ``modules`` (none for
    modules MARKERS does not list; the first environment where several qualify)."""
    envs = [MARKERS[m] for m in modules if m in MARKERS]
    if not envs:
        return []
    common = [env for env in envs[0] if all(env in allowed for allowed in envs)]
    return [getattr(pytest.mark, (common or envs[-1])[0])]


def check_marker(module: str) -> None:
    """Fail the running test if it requires ``module`` without the marker of an environment that installs it."""
    item, wanted = _running["item"], MARKERS.get(module)
    if item is None or wanted is None or any(item.get_closest_marker(m) for m in wanted):
        return
    pytest.fail(
        f"{item.nodeid} requires {module}, which only the tox environment(s) {', '.join(wanted)} install: "
        f"mark the test @pytest.mark.{wanted[0]} (pyproject.toml's markers), or it never runs where it can pass"
    )


def require(module: str, load=None):
    """Import ``module`` (or call ``load()`` to get it); skip, or fail where SAMSPEC_REQUIRE names it.
    A test that requires an optional library must carry its marker (MARKERS)."""
    check_marker(module)
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
