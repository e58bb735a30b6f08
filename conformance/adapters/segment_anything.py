"""Meta's SAM v1 ``PromptEncoder`` (segment-anything 1.0), float32 on the CPU, profile ``sam``."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np


def load_prompt_encoder_class():
    """``segment_anything.modeling.prompt_encoder.PromptEncoder`` without running the package
    ``__init__``, which imports torchvision for the whole model zoo; the prompt encoder needs torch only."""
    if "segment_anything" not in sys.modules:
        spec = importlib.util.find_spec("segment_anything")
        if spec is None:
            raise ImportError(
                "segment-anything is not installed: pip install -c constraints.txt 'samspec[sam]'"
            )
        package = types.ModuleType("segment_anything")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["segment_anything"] = package
    from segment_anything.modeling.prompt_encoder import PromptEncoder

    return PromptEncoder


def build_prompt_encoder(config, params):
    """Meta's PromptEncoder for a samspec config, with ``params`` (SAM v1 names) loaded strictly."""
    import torch

    activations = {"gelu": torch.nn.GELU, "relu": torch.nn.ReLU}
    activation = config.get("activation", "gelu")
    if activation not in activations:
        raise ValueError(f"segment-anything: activation {activation!r} is not supported (only {sorted(activations)})")
    encoder = load_prompt_encoder_class()(
        embed_dim=config["hidden_size"],
        image_embedding_size=tuple(config["image_embedding_size"]),
        input_image_size=tuple(config["input_image_size"]),
        mask_in_chans=config["mask_in_channels"],
        activation=activations[activation],
    )
    encoder.load_state_dict({name: torch.as_tensor(np.asarray(value)) for name, value in params.items()}, strict=True)
    return encoder


class SegmentAnythingAdapter:
    name = "segment-anything"
    profile = "sam"

    def __init__(self, dtype="float32", device="cpu"):
        self.dtype_name = dtype
        self.device = device

    def build(self, config, params):
        import torch

        self.torch = torch
        self.dtype = getattr(torch, self.dtype_name)
        self.encoder = build_prompt_encoder(config, params).to(device=self.device, dtype=self.dtype).eval()

    def _tensor(self, value, dtype=None):
        if value is None:
            return None
        return self.torch.as_tensor(np.asarray(value), dtype=dtype or self.dtype, device=self.device)

    def run(self, points, labels, boxes, masks):
        torch = self.torch
        with torch.no_grad():
            prompt = None
            if points is not None:
                prompt = (self._tensor(points), self._tensor(labels, torch.int64))
            sparse, dense = self.encoder(points=prompt, boxes=self._tensor(boxes), masks=self._tensor(masks))
            dense_pe = self.encoder.get_dense_pe()
        return {
            "prompt_sparse_embeddings": sparse.detach().cpu().numpy(),
            "prompt_dense_embeddings": dense.detach().cpu().numpy(),
            "prompt_dense_positional_embeddings": dense_pe.detach().cpu().numpy(),
        }
