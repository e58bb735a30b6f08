"""Meta's SAM v1 ``PromptEncoder`` (segment-anything 1.0), float32 on the CPU, profile ``sam``."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types

import numpy as np

from . import TorchAdapter


def register_bare_package(name: str, hint: str) -> None:
    """Make ``name`` importable as a package without running its ``__init__`` (which, for
    segment_anything and sam2, pulls in torchvision or hydra; the prompt encoder needs torch only):
    an empty module whose ``__path__`` is the installed package's folder. ``hint`` says how to
    install it when it is missing."""
    if name in sys.modules:
        return
    parent, _, child = name.rpartition(".")
    if parent:
        search = sys.modules[parent].__path__
        spec = importlib.machinery.PathFinder.find_spec(name, search)
    else:
        spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{name} is not installed: {hint}", name=name)
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules[name] = package


def load_prompt_encoder_class():
    """``segment_anything.modeling.prompt_encoder.PromptEncoder`` without running the package
    ``__init__``, which imports torchvision for the whole model zoo; the prompt encoder needs torch only."""
    from ..reports.install_hint import install_command

    register_bare_package("segment_anything", f"{install_command('sam')} -c constraints.txt (it pins torch==2.13.0)")
    from segment_anything.modeling.prompt_encoder import PromptEncoder

    return PromptEncoder


def build_prompt_encoder(config, params, prompt_encoder_class=None, dtype=None):
    """Meta's PromptEncoder (or a class with its constructor and state-dict names: sam2's,
    ultralytics') for a samspec config, with ``params`` (SAM v1 names) loaded strictly. With a torch
    ``dtype`` the module is in that dtype before the float64 parameters are copied in, so that they are
    rounded once, to it (loading into the float32 module first would round float64 weights to float32)."""
    import torch

    activations = {"gelu": torch.nn.GELU, "relu": torch.nn.ReLU}
    activation = config.get("activation", "gelu")
    if activation not in activations:
        raise ValueError(f"activation {activation!r} is not supported (only {sorted(activations)})")
    encoder = (prompt_encoder_class or load_prompt_encoder_class())(
        embed_dim=config["hidden_size"],
        image_embedding_size=tuple(config["image_embedding_size"]),
        input_image_size=tuple(config["input_image_size"]),
        mask_in_chans=config["mask_in_channels"],
        activation=activations[activation],
    )
    if dtype is not None:
        encoder = encoder.to(dtype=dtype)
    encoder.load_state_dict({name: torch.as_tensor(np.asarray(value)) for name, value in params.items()}, strict=True)
    return encoder


class SegmentAnythingAdapter(TorchAdapter):
    """Meta's PromptEncoder; subclasses set ``name``, ``profile`` and ``load_class`` for ports with
    the same constructor, state-dict names and ``forward(points, boxes, masks)`` (sam2, ultralytics)."""

    name = "segment-anything"
    profile = "sam"
    load_class = staticmethod(load_prompt_encoder_class)

    def build(self, config, params):
        self._load_torch()
        encoder = build_prompt_encoder(config, params, self.load_class(), self.dtype)
        self.encoder = encoder.to(device=self.device).eval()

    def trace(self, points, labels, boxes, masks):
        """{stage name: array} of one call, by forward hooks (`samspec check --trace`, trace_hooks)."""
        from .trace_hooks import meta_trace

        return meta_trace(self.encoder, points, labels, boxes, masks)

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
