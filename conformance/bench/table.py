"""What the bench prints: the machine, the table of times, ratios and verdicts, the allocator's
settings, W2's memory and W4's check."""

from __future__ import annotations

import os

from .memory import MEMORY_TARGET
from .verdicts import TARGET_OVERRIDES, TARGETS
from .workloads import DESCRIPTIONS, IMPLEMENTATIONS


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
