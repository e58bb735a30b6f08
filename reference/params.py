"""Spec §2.2: the encoder's parameters, named exactly as SAM v1's ``PromptEncoder.state_dict()``."""

from __future__ import annotations

import numpy as np


def param_shapes(hidden_size: int, mask_in_channels: int) -> dict:
    """Every parameter's name and shape (spec §2.2, table P)."""
    c, cm = hidden_size, mask_in_channels
    return {
        "pe_layer.positional_encoding_gaussian_matrix": (2, c // 2),
        "point_embeddings.0.weight": (1, c),  # background
        "point_embeddings.1.weight": (1, c),  # foreground
        "point_embeddings.2.weight": (1, c),  # box top-left corner
        "point_embeddings.3.weight": (1, c),  # box bottom-right corner
        "not_a_point_embed.weight": (1, c),
        "mask_downscaling.0.weight": (cm // 4, 1, 2, 2),
        "mask_downscaling.0.bias": (cm // 4,),
        "mask_downscaling.1.weight": (cm // 4,),  # LayerNorm2d gamma
        "mask_downscaling.1.bias": (cm // 4,),  # LayerNorm2d beta
        "mask_downscaling.3.weight": (cm, cm // 4, 2, 2),
        "mask_downscaling.3.bias": (cm,),
        "mask_downscaling.4.weight": (cm,),
        "mask_downscaling.4.bias": (cm,),
        "mask_downscaling.6.weight": (c, cm, 1, 1),
        "mask_downscaling.6.bias": (c,),
        "no_mask_embed.weight": (1, c),
    }


def check_config(hidden_size: int, mask_in_channels: int) -> None:
    """hidden_size: a positive even int; mask_in_channels: a positive multiple of 4."""
    for name, value in (("hidden_size", hidden_size), ("mask_in_channels", mask_in_channels)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name}: expected a positive int; received {value!r} ({type(value).__name__})")
    if hidden_size <= 0 or hidden_size % 2:
        raise ValueError(
            f"hidden_size: expected a positive even int (sin and cos take half the channels each); "
            f"received {hidden_size}"
        )
    if mask_in_channels <= 0 or mask_in_channels % 4:
        raise ValueError(
            f"mask_in_channels: expected a positive multiple of 4 (the first conv has mask_in_channels/4 "
            f"outputs); received {mask_in_channels}"
        )


def init_params(hidden_size: int = 256, mask_in_channels: int = 16, seed: int = 0) -> dict:
    """Deterministic random parameters for a seed: name -> float64 ndarray (spec §2.2).

    Magnitudes follow SAM v1's own initialisation, so that the values look like a checkpoint's:
    G ~ N(0, 1) (the Gaussian matrix is a buffer, never trained); embeddings ~ N(0, 1)
    (``nn.Embedding``); conv weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (``nn.Conv2d``).
    LayerNorm gammas are 1 + N(0, 0.1^2) and betas N(0, 0.1^2) rather than exactly 1 and 0, so
    that a port that drops or swaps them cannot pass by accident.
    """
    check_config(hidden_size, mask_in_channels)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(
            f"seed: expected a non-negative int (the same seed always gives the same parameters); "
            f"received {seed!r} ({type(seed).__name__})"
        )
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    params = {}
    for name, shape in param_shapes(hidden_size, mask_in_channels).items():
        if name.startswith("mask_downscaling.1.") or name.startswith("mask_downscaling.4."):
            base = 1.0 if name.endswith("weight") else 0.0
            value = base + 0.1 * rng.standard_normal(shape)
        elif name.startswith("mask_downscaling."):
            conv = name.rsplit(".", 1)[0] + ".weight"
            weight_shape = param_shapes(hidden_size, mask_in_channels)[conv]
            fan_in = int(np.prod(weight_shape[1:]))
            bound = 1.0 / np.sqrt(fan_in)
            value = rng.uniform(-bound, bound, shape)
        else:
            value = rng.standard_normal(shape)
        params[name] = np.ascontiguousarray(value, dtype=np.float64)
    return params


def check_params(params: object, hidden_size: int, mask_in_channels: int) -> None:
    """Raise a clear error naming each missing, unexpected or wrong-shaped key (spec §13)."""
    if not isinstance(params, dict):
        raise TypeError(f"params: expected a dict of name -> array; received {type(params).__name__}")
    expected = param_shapes(hidden_size, mask_in_channels)
    missing = sorted(set(expected) - set(params))
    extra = sorted(set(params) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if extra:
            parts.append(f"unexpected keys {extra}")
        raise ValueError(
            f"params: {'; '.join(parts)} (for hidden_size={hidden_size}, mask_in_channels={mask_in_channels})"
        )
    for name, shape in expected.items():
        value = params[name]
        got = tuple(getattr(value, "shape", ()))
        if got != shape:
            raise ValueError(f"params[{name!r}]: expected shape {shape}; received {got}")
        dtype = getattr(value, "dtype", None)
        kind = getattr(dtype, "kind", None)
        if kind is not None and kind != "f":
            raise TypeError(f"params[{name!r}]: expected a floating dtype; received {dtype}")
