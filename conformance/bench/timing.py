"""Timing one call: the best and median wall time of many calls after warm-up, with the minor page
faults and involuntary context switches per call."""

from __future__ import annotations

import gc
import resource
import statistics
import time


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
