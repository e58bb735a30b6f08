"""`samspec bench --gpu`: the reference on CuPy (float32 and float64) against Meta's SAM v1
PromptEncoder on torch CUDA (float32), side by side on one GPU in one run (docs/performance.md,
"On a GPU").

The workloads are the CPU bench's (``bench.workloads.workload_calls`` with a GPU ``Device``): their inputs are
put on the GPU before timing, and every timed call ends by waiting for the GPU, so a time is what
the caller waits for, kernel launches and any host round trip included. Target (issue
"Performance", item 3): the float32 reference at most 1.2 x torch's time on W2-W4, that is a ratio
torch/reference of at least 1/1.2. W2's memory is the peak the GPU allocators hold during a call
(CuPy's memory pool, torch's caching allocator), and W4 is checked value by value against the
float64 definition computed on the host, as on the CPU.
"""

from __future__ import annotations

import json
import platform
import sys

from .machine import cpu_model
from .table import print_table, print_w4_check
from .timing import time_calls
from .verdicts import verdicts, w4_check
from .workloads import SEED_CONFIG, Device, load_meta, seed_params, workload_calls, workload_inputs

GPU_TARGET = 1.2  # the float32 reference's time at most 1.2 x torch's, on TARGET_WORKLOADS
TARGET_WORKLOADS = ("W2", "W3", "W4")


class GpuUnavailable(RuntimeError):
    """No usable GPU for the bench: what is missing, in words."""


def find_gpu():
    """(Device, facts) for GPU 0 through CuPy, with torch on "cuda"; GpuUnavailable naming every
    missing piece otherwise (CuPy, a CUDA device, torch built with CUDA)."""
    missing = []
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
        if count < 1:
            missing.append("CuPy sees no CUDA device")
    except Exception as exc:  # ImportError, or CUDA's own error without a driver or a device
        cupy = None
        missing.append(f"CuPy with a CUDA device ({type(exc).__name__}: {exc})")
    try:
        import torch

        if not torch.cuda.is_available():
            missing.append(f"torch with CUDA (torch {torch.__version__}: torch.cuda.is_available() is False)")
    except ImportError as exc:
        missing.append(f"torch ({exc})")
    if missing:
        raise GpuUnavailable("; ".join(missing))

    properties = cupy.cuda.runtime.getDeviceProperties(0)
    name = properties["name"].decode() if isinstance(properties["name"], bytes) else str(properties["name"])
    facts = {
        "gpu": name,
        "gpu_memory_gib": properties["totalGlobalMem"] / 2**30,
        "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
        "cuda_driver": cupy.cuda.runtime.driverGetVersion(),
        "cupy": cupy.__version__,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "torch_cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "torch_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "python": platform.python_version(),
        "cpu": cpu_model(),
    }
    from samspec.reference.backend import resolve_namespace

    xp = resolve_namespace(cupy)  # CuPy as an array-API namespace (array_api_compat.cupy), as the encoder uses it
    device = Device(name, xp, "cuda", cupy.cuda.runtime.deviceSynchronize, cupy.asnumpy)
    return device, facts


def measure(device, workloads, repeat, chunk, check, memory=None) -> dict:
    """Every workload on ``device`` (Device); ``memory`` is a function(encoders, meta, masks)
    giving W2's peak memory (``gpu_w2_memory`` on a GPU), or None to skip it."""
    from samspec.reference import SAMPromptEncoder

    params = seed_params()
    meta = load_meta(params)
    if meta is not None:
        meta = meta.to(device.torch_device)
    encoders = {
        name: SAMPromptEncoder(**SEED_CONFIG, params=params, dtype=dtype, xp=device.xp)
        for name, dtype in (("ref_f32", "float32"), ("ref_f64", "float64"))
    }
    inputs = workload_inputs()
    result = {"device": device.name, "rows": {}}
    for workload in workloads:
        calls = workload_calls(workload, encoders, meta, inputs, chunk, device)
        result["rows"][workload] = {
            name: time_calls(fn, repeat, synchronize=device.synchronize) for name, fn in calls.items()
        }
        if workload == "W2" and memory is not None:
            result["w2_memory"] = memory(encoders, meta, inputs["W2"]["masks"])
    result["verdicts"] = verdicts(result["rows"], {"ref_f32": 1.0 / GPU_TARGET}, TARGET_WORKLOADS)
    if check and "W4" in workloads:
        result["w4_check"] = w4_check(params, meta, chunk, device)
    return result


def gpu_w2_memory(encoders, meta, masks) -> dict:
    """W2's peak GPU memory beyond the inputs, per implementation: the bytes CuPy's memory pool
    holds after one call begun with an empty pool (freed blocks stay in the pool and are reused,
    so that is its high-water mark), and torch's ``max_memory_allocated`` above what was allocated
    before the call."""
    import cupy
    import numpy as np
    import torch

    memory = {}
    pool = cupy.get_default_memory_pool()
    for name, encoder in encoders.items():
        on_gpu = cupy.asarray(masks.astype(np.float32 if name == "ref_f32" else np.float64))
        output_bytes = int(encoder(masks=on_gpu)["prompt_dense_embeddings"].nbytes)
        cupy.cuda.runtime.deviceSynchronize()
        base = pool.used_bytes()  # the input, still held
        pool.free_all_blocks()
        encoder(masks=on_gpu)
        cupy.cuda.runtime.deviceSynchronize()
        peak = pool.total_bytes() - base
        memory[name] = {"output_bytes": output_bytes, "peak_bytes": peak, "ratio": peak / output_bytes}
        del on_gpu
        pool.free_all_blocks()
    if meta is not None:
        on_gpu = torch.as_tensor(masks.astype(np.float32)).to("cuda")
        with torch.no_grad():
            output_bytes = meta(points=None, boxes=None, masks=on_gpu)[1].numel() * 4
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            meta(points=None, boxes=None, masks=on_gpu)
            meta.get_dense_pe()
            torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
        memory["torch_f32"] = {"output_bytes": output_bytes, "peak_bytes": peak, "ratio": peak / output_bytes}
    return memory


def print_result(facts, result, repeat) -> None:
    print("samspec bench --gpu: reference (CuPy) vs Meta's SAM v1 PromptEncoder (torch CUDA, float32), on one GPU")
    print(
        f"gpu: {facts['gpu']} ({facts['gpu_memory_gib']:.0f} GiB); CUDA runtime {facts['cuda_runtime']}, driver "
        f"{facts['cuda_driver']}; host CPU {facts['cpu']}"
    )
    print(
        f"software: Python {facts['python']}, cupy {facts['cupy']}, torch {facts['torch']} (CUDA "
        f"{facts['torch_cuda']}; "
        f"TF32 in cuDNN convolutions {facts['torch_cudnn_allow_tf32']}, in matmul {facts['torch_matmul_allow_tf32']}: "
        f"torch's defaults)"
    )
    print(
        f"times: best of at least {repeat} calls after 2 warm-up calls, each ended by waiting for the GPU; "
        "ratio = torch "
        f"time / reference time (target on {', '.join(TARGET_WORKLOADS)}: float32 reference at most {GPU_TARGET:g} x "
        f"torch's time, i.e. ratio >= {1 / GPU_TARGET:.2f}x)"
    )
    print_table(result, faults=False)
    if "w2_memory" in result:
        print("W2 peak GPU memory beyond the inputs (CuPy's pool, torch's caching allocator):")
        for name, entry in result["w2_memory"].items():
            print(
                f"  {name:<10} output {entry['output_bytes'] / 2**20:.1f} MiB; peak "
                f"{entry['peak_bytes'] / 2**20:.1f} MiB "
                f"= {entry['ratio']:.2f} x output"
            )
    if "w4_check" in result:
        print_w4_check(result["w4_check"])


def run(args, workloads) -> int:
    """`samspec bench --gpu`: exit 0, 1 (W4 check failed; with --strict also a target missed), or 2
    when no GPU is usable here (the message names what is missing)."""
    try:
        device, facts = find_gpu()
    except GpuUnavailable as exc:
        print(f"samspec bench --gpu: no usable GPU here: {exc}", file=sys.stderr)
        return 2
    result = measure(device, workloads, args.repeat, args.chunk, check=True, memory=gpu_w2_memory)
    print_result(facts, result, args.repeat)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {"mode": "gpu", "machine": facts, "repeat": args.repeat, "workloads": workloads, **result},
                handle,
                indent=1,
                sort_keys=True,
            )
            handle.write("\n")
        print(f"\nwrote {args.json}")
    failed = "w4_check" in result and not result["w4_check"]["passed"]
    missed = any(not verdict["met"] for verdict in result["verdicts"])
    return 1 if failed or (args.strict and missed) else 0
