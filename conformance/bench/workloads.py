"""The bench's four workloads (W1 sparse, W2 masks, W3 dense grid, W4 sweep) in the seed
configuration: their inputs, the parameters, Meta's encoder, and for each workload the calls of no
arguments that the timing repeats, on the device a ``Device`` names (default the CPU)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

WORKLOADS = ("W1", "W2", "W3", "W4")
SEED_CONFIG = dict(hidden_size=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_channels=16)
IMPLEMENTATIONS = ("ref_f32", "ref_f64", "torch_f32")
DESCRIPTIONS = {
    "W1": "W1 sparse: 64 x 32 points + 1 box",
    "W2": "W2 masks: 16 x 256x256",
    "W3": "W3 dense grid 64x64x256",
    "W4": "W4 sweep 1024x1024 px, 64k chunks",
}


@dataclass(frozen=True)
class Device:
    """Where a measurement runs: the reference's array namespace ``xp`` and torch's device; the
    GPU's (bench.gpu.find_gpu) waits for queued work in ``synchronize`` and copies to the host in
    ``to_numpy``."""

    name: str
    xp: object
    torch_device: str
    synchronize: object = None
    to_numpy: object = None


def cpu_device() -> Device:
    import numpy as np

    return Device("cpu", np, "cpu", None, np.asarray)


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


def workload_calls(workload, encoders, meta, inputs, chunk, device=None) -> dict:
    """name -> a function of no arguments that performs one call of the workload on ``device``
    (default the CPU); inputs are made there before timing."""
    device = device or cpu_device()
    if workload in ("W1", "W2"):
        return encoder_calls(encoders, meta, inputs[workload], device)
    if workload == "W3":
        return grid_calls(encoders, meta, device)
    if workload == "W4":
        return sweep_calls(encoders, meta, chunk // 1024, device)
    return {}


def encoder_calls(encoders, meta, inputs, device) -> dict:
    """W1 and W2: each encoder called on ``inputs`` (all three outputs); Meta's ``forward`` and
    ``get_dense_pe`` together, as SAM's predictor calls them."""
    import numpy as np

    xp = device.xp
    calls = {}
    for name, encoder in encoders.items():
        dtype = np.float32 if name == "ref_f32" else np.float64
        args = {k: xp.asarray(v if k == "labels" else v.astype(dtype)) for k, v in inputs.items()}
        calls[name] = (lambda e, a: lambda: e(**a))(encoder, args)
    if meta is not None:
        import torch

        t = {
            k: torch.as_tensor(v if k == "labels" else v.astype(np.float32)).to(device.torch_device)
            for k, v in inputs.items()
        }
        prompt = (t["points"], t["labels"]) if "points" in t else None

        def meta_call():
            with torch.no_grad():
                meta(points=prompt, boxes=t.get("boxes"), masks=t.get("masks"))
                meta.get_dense_pe()

        calls["torch_f32"] = meta_call
    return calls


def grid_calls(encoders, meta, device) -> dict:
    """W3: the dense positional grid (``dense_positional_grid_separable``, the encoder's fast form /
    Meta's ``get_dense_pe``)."""
    from samspec.reference.fast.separable_grid import dense_positional_grid_separable as dense_positional_grid

    xp = device.xp
    calls = {}
    for name, encoder in encoders.items():
        G = encoder.params["pe_layer.positional_encoding_gaussian_matrix"]
        calls[name] = (lambda g: lambda: dense_positional_grid(SEED_CONFIG["image_embedding_size"], g, xp))(G)
    if meta is not None:
        import torch

        def meta_call():
            with torch.no_grad():
                meta.get_dense_pe()

        calls["torch_f32"] = meta_call
    return calls


def sweep_calls(encoders, meta, rows, device) -> dict:
    """W4: every pixel centre of a 1024x1024 image, ``rows`` image rows a chunk: the reference as
    grids on every usable core (``fourier_features_on_grid``), Meta as points (``forward_with_coords``)."""
    import numpy as np

    from samspec.reference.fast import chunk_map
    from samspec.reference.fast.separable_grid import fourier_features_on_grid
    from samspec.reference.positional_encoding import grid_axes

    xp = device.xp
    calls = {}
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
    from samspec.reference.fast.normal_tail import fast_activation

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
