"""Adapters: one module per port, conversion only (weights and layouts), never math.

An adapter is any object with ``name``, ``profile``, ``build(config, params)`` and
``run(points, labels, boxes, masks) -> dict`` (see docs/adapters.md). Ports' libraries are
imported lazily, inside ``build``, so that samspec works without them.
"""

import numpy as np


class TorchAdapter:
    """What every torch adapter shares: its dtype and device, torch imported lazily, and NumPy
    inputs as tensors of that dtype on that device (None stays None). Conversion only."""

    def __init__(self, dtype="float32", device="cpu"):
        self.dtype_name = dtype
        self.compute_dtype = dtype  # declared: an output in a lower precision is an error (docs/tolerances.md)
        self.device = device

    def _load_torch(self):
        import torch

        self.torch = torch
        self.dtype = getattr(torch, self.dtype_name)
        return torch

    def _tensor(self, value, dtype=None):
        if value is None:
            return None
        return self.torch.as_tensor(np.asarray(value), dtype=dtype or self.dtype, device=self.device)
