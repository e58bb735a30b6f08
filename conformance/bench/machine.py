"""The machine a bench runs on, in facts: CPU model, cores, platform, library versions, and how many
threads NumPy's BLAS uses (and how that was found)."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
import sys


def blas_threads():
    """(threads, how it was found) for NumPy's BLAS: threadpoolctl, else the loaded OpenBLAS/MKL
    library asked through ctypes, else the environment or the core count (then 'assumed')."""
    try:
        import numpy  # noqa: F401  (loads the BLAS library)
        from threadpoolctl import threadpool_info

        for entry in threadpool_info():
            if entry.get("user_api") == "blas":
                return int(entry["num_threads"]), f"threadpoolctl ({entry.get('internal_api')})"
    except Exception:
        pass
    try:
        import numpy  # noqa: F401

        with open("/proc/self/maps", encoding="utf-8") as maps:
            libraries = sorted(
                {line.split()[-1] for line in maps if "blas" in line.lower() or "mkl_rt" in line.lower()}
            )
        for path in libraries:
            library = ctypes.CDLL(path)
            for symbol in (
                "scipy_openblas_get_num_threads64_",
                "scipy_openblas_get_num_threads",
                "openblas_get_num_threads64_",
                "openblas_get_num_threads",
                "MKL_Get_Max_Threads",
            ):
                if hasattr(library, symbol):
                    return int(getattr(library, symbol)()), f"{os.path.basename(path)}:{symbol}"
    except Exception:
        pass
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name]), f"assumed from {name}"
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(), "assumed: one per core"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(threads: int) -> dict:
    import numpy

    info = {
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "libc": " ".join(platform.libc_ver()),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "threads": threads,
    }
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        info["blas"] = "unknown"
    info["blas_threads"], info["blas_threads_source"] = blas_threads()
    for module in ("scipy", "torch", "segment_anything"):
        if not installed(module):
            info[module] = None
        elif module == "segment_anything":
            info[module] = distribution_version("segment-anything")
        else:
            info[module] = distribution_version(module)
    return info


def installed(module: str) -> bool:
    """Whether ``module`` can be imported. (A module already loaded without its package's
    ``__init__``, as the segment-anything adapter loads ``segment_anything.modeling``, has no
    ``__spec__``, and find_spec raises ValueError for it.)"""
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ValueError, ImportError):
        return False


def distribution_version(name):
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "installed"
