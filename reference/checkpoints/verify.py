"""From a file's tensors to the reference's parameters: which library's names, the configuration the
shapes imply, every header checked (shape, floating dtype) before any value is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..params import param_shapes
from .keys import HF, HF_SHARED_PE, HF_TIED_PE, META
from .tensors import FLOAT_DTYPES, CheckpointError


def _scheme(path, tensors):
    """(scheme, prefix): which naming the file's prompt-encoder entries use, and their prefix."""
    keys = set(tensors)
    found = []
    for prefix in ("prompt_encoder.", ""):
        if any(k.startswith(prefix + "pe_layer.") or k.startswith(prefix + "point_embeddings.") for k in keys):
            found.append(("meta", prefix))
        if any(k.startswith(prefix + "point_embed.") or k.startswith(prefix + "mask_embed.") for k in keys):
            found.append(("hf", prefix))
        if found:
            break
    if not found:
        raise CheckpointError(
            f"{path}: no prompt-encoder weights found (expected keys such as "
            "'prompt_encoder.point_embeddings.0.weight' (Meta) or 'prompt_encoder.point_embed.0.weight' "
            "(transformers))"
        )
    if len(found) > 1:
        raise CheckpointError(f"{path}: the prompt-encoder keys mix Meta's and transformers' names")
    return found[0]


def _from_flat(path: Path, tensors: dict) -> dict:
    scheme, prefix = _scheme(path, tensors)
    names = {ref: prefix + name for ref, name in (META if scheme == "meta" else HF).items()}
    namespace = {k for k in tensors if k.startswith(prefix)} if prefix else set(tensors)
    if scheme == "hf":
        names["pe_layer.positional_encoding_gaussian_matrix"] = HF_SHARED_PE
        tied = prefix + HF_TIED_PE
        if HF_SHARED_PE not in tensors and tied in tensors:
            names["pe_layer.positional_encoding_gaussian_matrix"] = tied  # a bare SamPromptEncoder state dict
        namespace |= {HF_SHARED_PE} & set(tensors)
        namespace.discard(tied)
    missing = [key for key in names.values() if key not in tensors]
    if missing:
        raise CheckpointError(
            f"{path}: missing key {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    unexpected = sorted(namespace - set(names.values()))
    if unexpected:
        raise CheckpointError(
            f"{path}: unexpected key {unexpected[0]!r} among the prompt encoder's entries"
            + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
        )
    entries = {ref: tensors[key] for ref, key in names.items()}
    params = _verified(path, entries, names)
    pe = "pe_layer.positional_encoding_gaussian_matrix"
    if scheme == "hf" and tied in tensors and names[pe] != tied:
        copy = tensors[tied]  # header first: the same shape and a floating dtype, then the values
        if (
            copy.shape != entries[pe].shape
            or copy.dtype not in FLOAT_DTYPES
            or not np.array_equal(copy.read(), params[pe])
        ):
            raise CheckpointError(f"{path}: {tied!r} differs from {HF_SHARED_PE!r} (the two are tied in SamModel)")
    return params


def _implied_config(shapes: dict) -> tuple:
    """(hidden_size, mask_in_channels) that most entries' shapes agree on, so that the one odd
    entry is blamed."""
    from collections import Counter

    def dim(name, axis, factor=1):
        try:
            return shapes[name][axis] * factor
        except IndexError:
            return None

    hidden = [dim(f"point_embeddings.{i}.weight", -1) for i in range(4)] + [
        dim("not_a_point_embed.weight", -1),
        dim("no_mask_embed.weight", -1),
        dim("pe_layer.positional_encoding_gaussian_matrix", -1, 2),
        dim("mask_downscaling.6.weight", 0),
        dim("mask_downscaling.6.bias", 0),
    ]
    mask = [
        dim("mask_downscaling.3.weight", 0),
        dim("mask_downscaling.3.bias", 0),
        dim("mask_downscaling.4.weight", 0),
        dim("mask_downscaling.4.bias", 0),
        dim("mask_downscaling.6.weight", 1),
        dim("mask_downscaling.0.weight", 0, 4),
        dim("mask_downscaling.0.bias", 0, 4),
        dim("mask_downscaling.1.weight", 0, 4),
        dim("mask_downscaling.1.bias", 0, 4),
    ]
    vote = lambda values: (
        Counter(v for v in values if v is not None).most_common(1)[0][0] if any(v is not None for v in values) else 0
    )  # noqa: E731
    return int(vote(hidden)), int(vote(mask))


def _check_headers(path: Path, entries: dict, names: dict) -> None:
    """Every entry a tensor of a floating dtype with the shape the file's configuration implies,
    from the headers alone (before any value is read)."""
    for ref, entry in entries.items():
        if entry.shape is None:
            raise CheckpointError(f"{path}: {names[ref]!r} is not a tensor (found {entry.dtype})")
        if entry.dtype not in FLOAT_DTYPES:
            raise CheckpointError(
                f"{path}: {names[ref]!r} has dtype {entry.dtype}; expected a floating dtype ({', '.join(FLOAT_DTYPES)})"
            )
    shapes = {ref: entry.shape for ref, entry in entries.items()}
    hidden_size, mask_in_channels = _implied_config(shapes)
    if hidden_size <= 0 or hidden_size % 2 or mask_in_channels <= 0 or mask_in_channels % 4:
        raise CheckpointError(
            f"{path}: {names['no_mask_embed.weight']!r} and {names['mask_downscaling.3.weight']!r} imply "
            f"hidden_size {hidden_size} and mask_in_channels {mask_in_channels}; expected an even hidden_size and "
            f"a multiple of 4"
        )
    expected = param_shapes(hidden_size, mask_in_channels)
    for ref, shape in shapes.items():
        want = expected[ref]
        if shape != want:
            raise CheckpointError(
                f"{path}: {names[ref]!r} has shape {shape}; expected {want} (for hidden_size "
                f"{hidden_size}, mask_in_channels {mask_in_channels})"
            )


def _verified(path: Path, entries: dict, names: dict) -> dict:
    """Headers checked (``_check_headers``), then the values read: floating and finite."""
    _check_headers(path, entries, names)
    params = {}
    for ref, entry in entries.items():
        value = np.asarray(entry.read())
        if value.dtype.kind != "f" or value.shape != entry.shape:  # the header promised otherwise
            raise CheckpointError(
                f"{path}: {names[ref]!r} holds {value.dtype} {value.shape}, not what its header declares"
            )
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"{path}: {names[ref]!r} holds NaN or infinite values")
        params[ref] = np.ascontiguousarray(value)
    return params
