"""`samspec bench`: the reference (NumPy, float32 and float64) against Meta's SAM v1 PromptEncoder
(torch, float32, CPU), side by side in one run on one machine (docs/performance.md). With ``--gpu``,
the reference on CuPy against torch CUDA instead (bench_gpu).

Workloads, all in the seed configuration (hidden 256, embedding 64x64, image 1024x1024, mask_in 16):

- W1 sparse: a call with 64 images x 32 points and one box each; both sides return all three
  outputs (Meta: ``forward`` + ``get_dense_pe``, as SAM's predictor calls them together).
- W2 masks: a call with 16 masks of 256x256 through the downscaler (again all three outputs).
- W3 dense grid: the 64x64x256 positional grid (``dense_positional_grid`` / ``get_dense_pe``).
- W4 sweep: the positional encoding of every pixel centre of a 1024x1024 image, 1M points in
  chunks of 65536 (64 image rows): the reference encodes each chunk as a grid
  (``fourier_features_on_grid``), Meta as points (``pe_layer.forward_with_coords``). Checked once:
  every float32 value against the float64 definition, within k x the error of the direct float32
  form on the same points.

Times are the best of at least ``--repeat`` calls (short calls: as many as fit in half a second)
after two warm-up calls, with torch set to NumPy's BLAS thread count. Measurements run in child
processes, once per allocator setting: glibc's defaults,
and "steady" (freed memory is kept for reuse, so a warm call takes no page faults). Page faults
per call are reported because on a virtual machine they can cost as much as the arithmetic.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from ..harness.progress import progress

WORKLOADS = ("W1", "W2", "W3", "W4")
SEED_CONFIG = dict(hidden_size=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_channels=16)
IMPLEMENTATIONS = ("ref_f32", "ref_f64", "torch_f32")
TARGETS = {"ref_f32": 2.0, "ref_f64": 1.0}  # minimum torch/reference time ratio (issue "Performance", item 2)
# per allocator and workload, where a target differs (issue 17: W2 float32 >= 1.5x torch freed of its page faults)
TARGET_OVERRIDES = {"steady": {"W2": {"ref_f32": 1.5}}}
MEMORY_TARGET = 1.5  # W2: peak memory beyond the inputs < 1.5 x the output's size
W4_K = 2.0  # W4: float32 budget = k x the direct float32 form's max error against float64
SUITE_BUDGET_S = 60.0
ALLOCATORS = {
    "default": {},
    "steady": {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**30)},
}
DESCRIPTIONS = {
    "W1": "W1 sparse: 64 x 32 points + 1 box",
    "W2": "W2 masks: 16 x 256x256",
    "W3": "W3 dense grid 64x64x256",
    "W4": "W4 sweep 1024x1024 px, 64k chunks",
}


# -- the command line ------------------------------------------------------------------------------


def run(args, workloads: list[str]) -> int:
    """The CPU bench of ``workloads`` (validated by bench.command)."""
    threads = args.threads or blas_threads()[0]
    allocators = ["default", "steady"] if args.allocator == "both" else [args.allocator]

    report = {"machine": machine_info(threads), "repeat": args.repeat, "workloads": workloads, "configs": {}}
    print_machine(report["machine"], args.repeat)
    for index, allocator in enumerate(allocators):
        result = run_child(allocator, workloads, args.repeat, threads, args.chunk, check=(index == 0))
        report["configs"][allocator] = result
        print_config(allocator, result)
        if "w4_check" in result:
            report["w4_check"] = result["w4_check"]
    if "w4_check" in report:
        print_w4_check(report["w4_check"])
    if not args.no_suite:
        report["suite"] = suite_budgets()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1, sort_keys=True)
            handle.write("\n")
        print(f"\nwrote {args.json}")
    failed = "w4_check" in report and not report["w4_check"]["passed"]
    missed = any(
        not row.get("met", True) for config in report["configs"].values() for row in config.get("verdicts", [])
    )
    return 1 if failed or (args.strict and missed) else 0


# -- the machine -----------------------------------------------------------------------------------


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
        if not _installed(module):
            info[module] = None
        elif module == "segment_anything":
            info[module] = _distribution_version("segment-anything")
        else:
            info[module] = _distribution_version(module)
    return info


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported. (A module already loaded without its package's
    ``__init__``, as the segment-anything adapter loads ``segment_anything.modeling``, has no
    ``__spec__``, and find_spec raises ValueError for it.)"""
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ValueError, ImportError):
        return False


def _distribution_version(name):
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "installed"


def print_machine(machine: dict, repeat: int) -> None:
    print("samspec bench: reference (NumPy) vs Meta's SAM v1 PromptEncoder (torch, float32, CPU)")
    print(
        f"machine: {machine['cpu']}, {machine['nproc']} logical CPUs ({machine['usable_cores']} usable), "
        f"{machine['platform']}, {machine['libc']}"
    )
    print(
        f"software: Python {machine['python']}, numpy {machine['numpy']} ({machine['blas']}), scipy "
        f"{machine['scipy']}, "
        f"torch {machine['torch'] or 'not installed'}, segment-anything "
        f"{machine['segment_anything'] or 'not installed'}"
    )
    print(
        f"threads: {machine['threads']} for NumPy's BLAS and for torch (torch.set_num_threads); NumPy's BLAS reports "
        f"{machine['blas_threads']} ({machine['blas_threads_source']}). The reference's mask path (W2) runs "
        "on two lanes (elementwise stages on the calling thread, matrix products on a worker) and W4's sweep "
        "on a pool of one "
        f"thread per usable core, with one BLAS thread each; its other NumPy work runs on one thread."
    )
    print(
        f"times: best of at least {repeat} calls (short calls: as many as fit in 0.5 s) after 2 warm-up calls; "
        "ratio = torch time / reference time "
        f"(targets: float32 >= {TARGETS['ref_f32']:g}x, float64 >= {TARGETS['ref_f64']:g}x; "
        f"W2 float32 under the steady allocator >= {TARGET_OVERRIDES['steady']['W2']['ref_f32']:g}x)"
    )


# -- child processes -------------------------------------------------------------------------------


def run_child(allocator, workloads, repeat, threads, chunk, check) -> dict:
    env = dict(os.environ)
    env.update(ALLOCATORS[allocator])
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        command = [
            sys.executable,
            "-m",
            "samspec.conformance.bench.cpu",
            "--child",
            allocator,
            "--out",
            out,
            "--workloads",
            ",".join(workloads),
            "--repeat",
            str(repeat),
            "--threads",
            str(threads),
            "--chunk",
            str(chunk),
        ] + (["--check"] if check else [])
        completed = subprocess.run(command, env=env)
        if completed.returncode != 0 or not os.path.exists(out):
            raise OSError(f"the measuring process ({allocator} allocator) failed with exit code {completed.returncode}")
        with open(out, encoding="utf-8") as handle:
            return json.load(handle)


def child_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samspec.conformance.bench.cpu")
    parser.add_argument("--child", required=True, choices=sorted(ALLOCATORS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--workloads", required=True)
    parser.add_argument("--repeat", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--chunk", type=int, required=True)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    result = measure_all(args.child, args.workloads.split(","), args.repeat, args.threads, args.chunk, args.check)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


# -- measuring -------------------------------------------------------------------------------------


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _preemptions() -> int:
    """Involuntary context switches of this process: how often another process took its CPU."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


def time_calls(fn, repeat: int, warmup: int = 2, min_seconds: float = 0.5, synchronize=None) -> dict:
    """Best and median wall time of at least ``repeat`` calls, after ``warmup`` calls; short calls
    are repeated until ``min_seconds`` have passed (at most 50 x repeat calls), so that the best
    time is found between the interruptions of a busy machine. The result of each call is dropped
    at once. Also the minor page faults per call. ``synchronize`` (a GPU's: wait until the queued
    work is done) is called inside the timed region after each call."""
    if synchronize is not None:
        call = fn

        def fn():
            call()
            synchronize()

    for _ in range(warmup):
        fn()
    gc.collect()
    gc.disable()
    try:
        faults, preempted = _minor_faults(), _preemptions()
        times = []
        began = time.perf_counter()
        while len(times) < repeat or (time.perf_counter() - began < min_seconds and len(times) < 50 * repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        faults = (_minor_faults() - faults) / len(times)
        preempted = (_preemptions() - preempted) / len(times)
    finally:
        gc.enable()
    return {
        "best_ms": 1e3 * min(times),
        "median_ms": 1e3 * statistics.median(times),
        "calls": len(times),
        "faults_per_call": faults,
        "preemptions_per_call": preempted,
    }


def load_meta(params):
    """Meta's PromptEncoder with the reference's parameters, float32, eval mode; None without torch."""
    try:
        import torch  # noqa: F401

        from ..adapters.segment_anything import load_prompt_encoder_class

        load_prompt_encoder_class()
    except ImportError as exc:
        print(f"note: Meta's PromptEncoder is not available ({exc}); measuring the reference alone", file=sys.stderr)
        return None
    import torch

    from ..adapters.segment_anything import build_prompt_encoder

    return build_prompt_encoder(dict(SEED_CONFIG, activation="gelu"), params).to(dtype=torch.float32).eval()


def workload_inputs():
    import numpy as np

    rng = np.random.default_rng(0)
    height, width = SEED_CONFIG["input_image_size"]
    h, w = SEED_CONFIG["image_embedding_size"]
    corners = np.sort(rng.uniform(0, width, (64, 2, 2)), axis=1)  # x1 <= x2, y1 <= y2
    return {
        "W1": {
            "points": np.stack([rng.uniform(0, width, (64, 32)), rng.uniform(0, height, (64, 32))], axis=-1),
            "labels": rng.integers(-1, 2, (64, 32)),
            "boxes": np.stack([corners[:, 0, 0], corners[:, 0, 1], corners[:, 1, 0], corners[:, 1, 1]], axis=1),
        },
        "W2": {"masks": rng.normal(0, 4, (16, 1, 4 * h, 4 * w))},
    }


def seed_params():
    """The parameters every workload uses: ``init_params(256, 16, seed=0)``, float64 NumPy arrays."""
    from samspec.reference import init_params

    return init_params(SEED_CONFIG["hidden_size"], SEED_CONFIG["mask_in_channels"], seed=0)


def measure_all(allocator, workloads, repeat, threads, chunk, check) -> dict:
    from samspec.reference import SAMPromptEncoder

    meta = None
    params = seed_params()
    if _installed("torch"):
        import torch

        torch.set_num_threads(threads)
        meta = load_meta(params)
    encoders = {
        "ref_f32": SAMPromptEncoder(**SEED_CONFIG, params=params, dtype="float32"),
        "ref_f64": SAMPromptEncoder(**SEED_CONFIG, params=params, dtype="float64"),
    }
    inputs = workload_inputs()
    result = {
        "load_before": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "allocator": allocator,
        "allocator_env": ALLOCATORS[allocator],
        "threads": threads,
        "torch_threads": None if meta is None else torch.get_num_threads(),
        "blas_threads": blas_threads()[0],
        "rows": {},
    }
    for workload in progress(workloads, desc=f"samspec bench: {allocator} allocator", unit="workload"):
        calls = workload_calls(workload, encoders, meta, inputs, chunk)
        result["rows"][workload] = {name: time_calls(fn, repeat) for name, fn in calls.items()}
        if workload == "W2":
            result["w2_gelu"] = {name: time_calls(fn, repeat) for name, fn in gelu_calls(meta).items()}
            result["w2_gelu_definition"] = {
                name: time_calls(fn, repeat) for name, fn in gelu_calls(meta, definition=True).items()
            }
            result["w2_memory"] = w2_memory(encoders, meta, inputs["W2"])
    result["verdicts"] = verdicts(result["rows"], overrides=TARGET_OVERRIDES.get(allocator, {}))
    result["load_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    if check and "W4" in workloads:
        result["w4_check"] = w4_check(params, meta, chunk)
    return result


@dataclass(frozen=True)
class Device:
    """Where a measurement runs: the reference's array namespace ``xp`` and torch's device; the
    GPU's (bench_gpu.find_gpu) waits for queued work in ``synchronize`` and copies to the host in
    ``to_numpy``."""

    name: str
    xp: object
    torch_device: str
    synchronize: object = None
    to_numpy: object = None


def cpu_device() -> Device:
    import numpy as np

    return Device("cpu", np, "cpu", None, np.asarray)


def workload_calls(workload, encoders, meta, inputs, chunk, device=None) -> dict:
    """name -> a function of no arguments that performs one call of the workload on ``device``
    (default the CPU); inputs are made there before timing."""
    import numpy as np

    from samspec.reference.fast import chunk_map
    from samspec.reference.positional_encoding import dense_positional_grid, fourier_features_on_grid, grid_axes

    device = device or cpu_device()
    xp = device.xp
    calls = {}
    if workload in ("W1", "W2"):
        for name, encoder in encoders.items():
            dtype = np.float32 if name == "ref_f32" else np.float64
            args = {k: xp.asarray(v if k == "labels" else v.astype(dtype)) for k, v in inputs[workload].items()}
            calls[name] = (lambda e, a: lambda: e(**a))(encoder, args)
        if meta is not None:
            import torch

            t = {
                k: torch.as_tensor(v if k == "labels" else v.astype(np.float32)).to(device.torch_device)
                for k, v in inputs[workload].items()
            }
            prompt = (t["points"], t["labels"]) if "points" in t else None

            def meta_call():
                with torch.no_grad():
                    meta(points=prompt, boxes=t.get("boxes"), masks=t.get("masks"))
                    meta.get_dense_pe()

            calls["torch_f32"] = meta_call
    elif workload == "W3":
        for name, encoder in encoders.items():
            G = encoder.params["pe_layer.positional_encoding_gaussian_matrix"]
            calls[name] = (lambda g: lambda: dense_positional_grid(SEED_CONFIG["image_embedding_size"], g, xp))(G)
        if meta is not None:
            import torch

            def meta_call():
                with torch.no_grad():
                    meta.get_dense_pe()

            calls["torch_f32"] = meta_call
    elif workload == "W4":
        rows = chunk // 1024
        run = chunk_map(xp, 1024 // rows)  # the chunks on every usable core (one BLAS thread each)
        for name, encoder in encoders.items():
            G = encoder.params["pe_layer.positional_encoding_gaussian_matrix"]
            x, y = grid_axes((1024, 1024), G.dtype, xp)  # pixel centres (p + 0.5) / 1024

            def encode_rows(start, G=G, x=x, y=y):  # each chunk's result is dropped at once
                fourier_features_on_grid(x, y[start : start + rows], G, xp)

            calls[name] = (lambda encode: lambda: all(value is None for value in run(encode, range(0, 1024, rows))))(
                encode_rows
            )
        if meta is not None:
            import torch

            chunks = [torch.as_tensor(c).to(device.torch_device) for c in pixel_centre_chunks(rows, np.float32)]

            def meta_call():
                with torch.no_grad():
                    for coords in chunks:
                        meta.pe_layer.forward_with_coords(coords, (1024, 1024))

            calls["torch_f32"] = meta_call
    return calls


def pixel_centre_chunks(rows, dtype):
    """The pixel centres (x + 0.5, y + 0.5) of a 1024x1024 image as (1, rows*1024, 2) chunks, row-major."""
    import numpy as np

    xs = np.arange(1024, dtype=dtype) + 0.5
    chunks = []
    for start in range(0, 1024, rows):
        ys = np.arange(start, start + rows, dtype=dtype) + 0.5
        grid = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), axis=-1)  # (rows, 1024, 2) as (x, y)
        chunks.append(np.ascontiguousarray(grid.reshape(1, rows * 1024, 2)))
    return chunks


def gelu_calls(meta, definition=False) -> dict:
    """W2's two GELUs alone, to show what the activation costs: the reference's as its mask path
    runs it (``fast_activation``: one image's activations at a time), or with ``definition``
    its definition (SciPy's erf) on the whole batch; torch's ``F.gelu`` on the whole batch."""
    import numpy as np

    from samspec.reference import get_activation
    from samspec.reference.activations import fast_activation

    rng = np.random.default_rng(1)
    shapes = [(16, 4, 128, 128), (16, 16, 64, 64)]
    calls = {}
    for name, dtype in (("ref_f32", np.float32), ("ref_f64", np.float64)):
        arrays = [rng.normal(size=s).astype(dtype) for s in shapes]
        if definition:
            gelu = get_activation("gelu")
            calls[name] = (lambda a: lambda: [gelu(x, np) for x in a])(arrays)
        else:
            gelu = fast_activation("gelu", dtype, np)
            calls[name] = (lambda a: lambda: [gelu(x[i : i + 1], np) for x in a for i in range(x.shape[0])])(arrays)
    if meta is not None and not definition:
        import torch

        tensors = [torch.as_tensor(rng.normal(size=s).astype(np.float32)) for s in shapes]
        calls["torch_f32"] = lambda: [torch.nn.functional.gelu(t) for t in tensors]
    return calls


def _status_kb(field: str):
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_peak_bytes(fn):
    """Peak resident memory above the resident memory before the call, in bytes: freed heap is
    returned first (malloc_trim), then the kernel's high-water mark is reset (/proc/self/clear_refs,
    Linux). None where either is unavailable."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    gc.collect()
    trim(0)
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as handle:
            handle.write("5")
    except OSError:
        return None
    before = _status_kb("VmRSS")
    fn()
    peak = _status_kb("VmHWM")
    if before is None or peak is None:
        return None
    return 1024 * (peak - before)


def w2_memory(encoders, meta, inputs) -> dict:
    """W2's peak memory beyond the inputs: NumPy's own allocations (tracemalloc; NumPy reports to
    it) and, for both sides, the resident-memory high-water mark (rss_peak_bytes)."""
    import tracemalloc

    import numpy as np

    memory = {}
    for name, encoder in encoders.items():
        dtype = np.float32 if name == "ref_f32" else np.float64
        masks = inputs["masks"].astype(dtype)
        outputs = encoder(masks=masks)
        output_bytes = int(np.asarray(outputs["prompt_dense_embeddings"]).nbytes)
        del outputs
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        outputs = encoder(masks=masks)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        del outputs
        rss = rss_peak_bytes(lambda: encoder(masks=masks))
        memory[name] = {
            "output_bytes": output_bytes,
            "tracemalloc_peak_bytes": peak,
            "rss_peak_bytes": rss,
            "ratio": peak / output_bytes,
            "met": peak / output_bytes < MEMORY_TARGET,
        }
    if meta is not None:
        import torch

        masks = torch.as_tensor(inputs["masks"].astype(np.float32))

        def meta_call():
            with torch.no_grad():
                meta(points=None, boxes=None, masks=masks)
                meta.get_dense_pe()

        meta_call()
        with torch.no_grad():
            output_bytes = meta(points=None, boxes=None, masks=masks)[1].numel() * 4
        rss = rss_peak_bytes(meta_call)
        memory["torch_f32"] = {
            "output_bytes": output_bytes,
            "rss_peak_bytes": rss,
            "ratio": None if rss is None else rss / output_bytes,
        }
    return memory


def verdicts(rows, targets=TARGETS, workloads=WORKLOADS, overrides=None) -> list:
    """For each workload in ``workloads`` that torch ran and each implementation in ``targets``
    (name -> minimum torch/reference time ratio; ``overrides``: workload -> such a dict, where a
    workload's target differs): the ratio, the target and whether it is met."""
    out = []
    for workload, row in rows.items():
        if "torch_f32" not in row or workload not in workloads:
            continue
        for name, target in dict(targets, **(overrides or {}).get(workload, {})).items():
            if name in row:
                ratio = row["torch_f32"]["best_ms"] / row[name]["best_ms"]
                out.append(
                    {
                        "workload": workload,
                        "implementation": name,
                        "ratio": ratio,
                        "target": target,
                        "met": ratio >= target,
                    }
                )
    return out


def w4_check(params, meta, chunk, device=None) -> dict:
    """Every float32 value of W4 against the float64 definition (``fourier_features`` of the pixel
    centres, direct, with NumPy): the fast float32 path (on ``device``, default the CPU) must stay
    within W4_K x the direct float32 form's error. Meta's error on the same points and the float64
    fast path's distance from the definition are reported."""
    import numpy as np

    from samspec.reference.positional_encoding import fourier_features, fourier_features_on_grid, grid_axes

    device = device or cpu_device()
    xp = device.xp
    rows = chunk // 1024
    G64 = params["pe_layer.positional_encoding_gaussian_matrix"]
    G32 = G64.astype(np.float32)
    x64, y64 = grid_axes((1024, 1024), np.float64, np)
    on_device = {
        dtype: (*grid_axes((1024, 1024), getattr(xp, dtype), xp), xp.asarray(G))
        for dtype, G in (("float32", G32), ("float64", G64))
    }
    errors = {"fast_f32": 0.0, "direct_f32": 0.0, "torch_f32": 0.0, "fast_f64": 0.0}
    meta_chunks = pixel_centre_chunks(rows, np.float32) if meta is not None else None
    start_time = time.perf_counter()
    for index, start in enumerate(range(0, 1024, rows)):
        ys = slice(start, start + rows)
        centres = np.stack(np.broadcast_arrays(x64[None, :], y64[ys, None]), axis=-1)  # (rows, 1024, 2)
        truth = fourier_features(centres, G64, np)  # (rows, 1024, C), the definition in float64
        checks = {"direct_f32": fourier_features(centres.astype(np.float32), G32, np)}
        for name, dtype in (("fast_f32", "float32"), ("fast_f64", "float64")):
            x, y, G = on_device[dtype]
            checks[name] = np.moveaxis(device.to_numpy(fourier_features_on_grid(x, y[ys], G, xp)), 0, -1)
        if meta is not None:
            import torch

            with torch.no_grad():
                coords = torch.as_tensor(meta_chunks[index]).to(device.torch_device)
                got = meta.pe_layer.forward_with_coords(coords, (1024, 1024))
            checks["torch_f32"] = got.cpu().numpy().reshape(truth.shape)
        for name, value in checks.items():
            errors[name] = max(errors[name], float(np.max(np.abs(value.astype(np.float64) - truth))))
        del truth, checks
    budget = W4_K * errors["direct_f32"]
    return {
        "points": 1024 * 1024,
        "chunk": chunk,
        "k": W4_K,
        "max_error": errors if meta is not None else {k: v for k, v in errors.items() if k != "torch_f32"},
        "budget": budget,
        "passed": errors["fast_f32"] <= budget,
        "seconds": time.perf_counter() - start_time,
    }


# -- printing --------------------------------------------------------------------------------------


def _fmt_ms(entry):
    return f"{entry['best_ms']:.3f}" if entry else "-"


def _fmt_ratio(row, name):
    if "torch_f32" not in row or name not in row:
        return "-"
    return f"{row['torch_f32']['best_ms'] / row[name]['best_ms']:.2f}x"


def print_table(result, faults) -> None:
    """The table of times, ratios and verdicts, one row per workload; with ``faults``, the minor
    page faults per call (the CPU bench's)."""
    fault_header = f"  {'faults/call f32|f64|torch':>27}" if faults else ""
    header = (
        f"{'workload':<36} {'ref f32 ms':>10} {'ref f64 ms':>10} {'torch f32 ms':>12} "
        f"{'torch/f32':>9} {'torch/f64':>9}{fault_header}  targets"
    )
    print(header)
    print("-" * len(header))
    for workload, row in result["rows"].items():
        fault_column = ""
        if faults:
            counts = "|".join(f"{row[n]['faults_per_call']:.0f}" if n in row else "-" for n in IMPLEMENTATIONS)
            fault_column = f"  {counts:>27}"
        marks = []
        for verdict in result["verdicts"]:
            if verdict["workload"] == workload:
                marks.append(
                    ("f32" if verdict["implementation"] == "ref_f32" else "f64")
                    + (" met" if verdict["met"] else " MISSED")
                )
        print(
            f"{DESCRIPTIONS[workload]:<36} {_fmt_ms(row.get('ref_f32')):>10} {_fmt_ms(row.get('ref_f64')):>10} "
            f"{_fmt_ms(row.get('torch_f32')):>12} {_fmt_ratio(row, 'ref_f32'):>9} {_fmt_ratio(row, 'ref_f64'):>9}"
            f"{fault_column}  {', '.join(marks)}"
        )


def print_config(allocator, result) -> None:
    env = " ".join(f"{k}={v}" for k, v in result["allocator_env"].items()) or "glibc defaults"
    load = result.get("load_before"), result.get("load_after")
    loads = "" if None in load else f"; load average (1 min) {load[0][0]:.2f} before, {load[1][0]:.2f} after"
    print(
        f"\nallocator: {allocator} ({env}); threads: BLAS {result['blas_threads']}, torch "
        f"{result['torch_threads']}{loads}"
    )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if None not in load and max(load[0][0], load[1][0]) > 0.5 * cores + 1:
        print(
            f"warning: the machine was busy (load average above {0.5 * cores + 1:g} with {cores} cores): other "
            f"processes took CPU time during the measurement; torch's multi-threaded operations suffer most"
        )
    print_table(result, faults=True)
    if "w2_gelu" in result:
        row = result["w2_gelu"]
        print(
            f"{'  of W2: the two GELUs alone':<36} {_fmt_ms(row.get('ref_f32')):>10} {_fmt_ms(row.get('ref_f64')):>10} "
            f"{_fmt_ms(row.get('torch_f32')):>12}   (reference: gelu_from_upper_tail, an image at a time)"
        )
    if "w2_gelu_definition" in result:
        row = result["w2_gelu_definition"]
        print(
            f"{'  the same by the definition':<36} {_fmt_ms(row.get('ref_f32')):>10} {_fmt_ms(row.get('ref_f64')):>10} "
            f"{'':>12}   (gelu: scipy.special.erf, the whole batch)"
        )
    if "w2_memory" in result:
        print(f"W2 peak memory beyond the inputs (target: NumPy's peak < {MEMORY_TARGET:g} x the dense output's size):")
        for name, entry in result["w2_memory"].items():
            mib = lambda b: "n/a" if b is None else f"{b / 2**20:.1f} MiB"
            parts = [f"output {mib(entry['output_bytes'])}"]
            if "tracemalloc_peak_bytes" in entry:
                parts.append(
                    f"tracemalloc peak {mib(entry['tracemalloc_peak_bytes'])} = {entry['ratio']:.2f} x output "
                    f"({'met' if entry['met'] else 'MISSED'})"
                )
            rss = entry["rss_peak_bytes"]
            parts.append(
                f"RSS high-water {mib(rss)}" + ("" if rss is None else f" = {rss / entry['output_bytes']:.2f} x output")
            )
            print(f"  {name:<10} " + "; ".join(parts))


def print_w4_check(check) -> None:
    errors = check["max_error"]
    print(
        f"\nW4 check: {check['points']} pixel centres in chunks of {check['chunk']}, every value against the float64 "
        f"definition (fourier_features, direct):"
    )
    print(
        f"  max error: reference float32 (separable) {errors['fast_f32']:.3g}; direct float32 form "
        f"{errors['direct_f32']:.3g}"
        + (f"; Meta float32 {errors['torch_f32']:.3g}" if "torch_f32" in errors else "")
        + f"; reference float64 (separable) {errors['fast_f64']:.3g}"
    )
    print(
        f"  budget = {check['k']:g} x the direct float32 form's error = {check['budget']:.3g}: "
        f"{'PASSED' if check['passed'] else 'FAILED'}"
    )


# -- whole-suite budgets (issue "Performance", item 4) ---------------------------------------------


def suite_budgets(timeout_s: float = 900.0, cores: int = 2) -> list:
    """Time `samspec check segment-anything` and `samspec fixtures generate --out TMPDIR` as
    subprocesses pinned to ``cores`` cores, against a budget of 60 s each.

    A row is 'not available' when the module behind the command is missing
    (samspec.conformance.harness.check / samspec.conformance.cases.store) or the command exits with 2 as an
    unknown command or usage error."""
    rows = []
    print(f"\nwhole-suite budgets ({SUITE_BUDGET_S:g} s each, on {cores} cores):")
    with tempfile.TemporaryDirectory() as tmp:
        commands = [
            ("samspec check segment-anything", "samspec.conformance.harness.check", ["check", "segment-anything"]),
            (
                "samspec fixtures generate",
                "samspec.conformance.cases.store",
                ["fixtures", "generate", "--out", os.path.join(tmp, "fixtures")],
            ),
        ]
        for label, module, argv in commands:
            row = {"command": label, "budget_s": SUITE_BUDGET_S}
            if importlib.util.find_spec(module) is None:
                row.update(available=False, note=f"not available: {module} does not exist yet")
                rows.append(row)
                print(f"  {label:<34} not available ({module} does not exist yet)")
                continue
            usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
            pinned = usable[:cores]
            start = time.perf_counter()
            try:
                completed = subprocess.run(
                    [sys.executable, "-m", "samspec.conformance.cli", *argv],
                    capture_output=True,
                    text=True,
                    timeout=timeout_s,
                    preexec_fn=(lambda: os.sched_setaffinity(0, pinned)) if pinned else None,
                )
            except subprocess.TimeoutExpired:
                row.update(available=True, seconds=timeout_s, exit_code=None, within=False, note="timed out")
                rows.append(row)
                print(f"  {label:<34} timed out after {timeout_s:g} s")
                continue
            seconds = time.perf_counter() - start
            last = (completed.stderr.strip().splitlines() or [""])[-1]
            if completed.returncode == 2:
                row.update(available=False, exit_code=2, note=f"not available: {last}")
                print(f"  {label:<34} not available (exit 2: {last})")
            else:
                row.update(
                    available=True,
                    seconds=seconds,
                    exit_code=completed.returncode,
                    within=seconds < SUITE_BUDGET_S,
                    cores=len(pinned) or None,
                )
                print(
                    f"  {label:<34} {seconds:7.1f} s  exit {completed.returncode}  "
                    f"{'within' if seconds < SUITE_BUDGET_S else 'OVER'} budget"
                )
            rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(child_main())
