"""W2's peak memory beyond its inputs: NumPy's own allocations (tracemalloc) and the resident-memory
high-water mark, for the reference and for Meta's encoder."""

from __future__ import annotations

import ctypes
import gc

MEMORY_TARGET = 1.5  # W2: peak memory beyond the inputs < 1.5 x the output's size


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
