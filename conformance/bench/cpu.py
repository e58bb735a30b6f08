"""`samspec bench`: the reference (NumPy, float32 and float64) against Meta's SAM v1 PromptEncoder
(torch, float32, CPU), side by side in one run on one machine (docs/performance.md). With ``--gpu``,
the reference on CuPy against torch CUDA instead (bench.gpu).

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
import json
import os
import subprocess
import sys
import tempfile

from ..harness.progress import progress
from .machine import blas_threads, installed, machine_info
from .memory import w2_memory
from .suite import suite_budgets
from .table import print_config, print_machine, print_w4_check
from .timing import time_calls
from .verdicts import TARGET_OVERRIDES, verdicts, w4_check
from .workloads import SEED_CONFIG, gelu_calls, load_meta, seed_params, workload_calls, workload_inputs

ALLOCATORS = {
    "default": {},
    "steady": {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**30)},
}


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


def measure_all(allocator, workloads, repeat, threads, chunk, check) -> dict:
    from samspec.reference import SAMPromptEncoder

    meta = None
    params = seed_params()
    if installed("torch"):
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


if __name__ == "__main__":
    sys.exit(child_main())
