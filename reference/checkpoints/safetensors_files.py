"""safetensors files and transformers model folders (``model.safetensors`` or a sharded index): every
tensor's shape and dtype from the header before its values; shard paths inside the folder."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from .paths import _inside
from .tensors import CheckpointError, _first_line, _import, _Tensor, _to_numpy
from .torch_files import _read_torch

SAFETENSORS_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}


def _read_safetensors(path: Path) -> dict:
    """Every tensor of a .safetensors file, shape and dtype from its JSON header (safetensors
    checks the header's offsets against the file); values read when needed."""
    safetensors = _import("safetensors", path, "a .safetensors file")
    try:
        with safetensors.safe_open(str(path), framework="np") as handle:
            headers = {key: handle.get_slice(key) for key in handle.keys()}
            return {
                key: _Tensor(
                    item.get_shape(),
                    SAFETENSORS_DTYPES.get(item.get_dtype(), item.get_dtype()),
                    partial(_safetensor_values, path, key),
                )
                for key, item in headers.items()
            }
    except Exception as exc:
        raise CheckpointError(
            f"{path}: not a readable .safetensors file ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc


def _safetensor_values(path, key):
    import safetensors

    try:
        with safetensors.safe_open(str(path), framework="np") as handle:
            return handle.get_tensor(key)
    except TypeError:  # a dtype NumPy lacks (bfloat16): read through torch
        with safetensors.safe_open(str(path), framework="pt") as handle:
            return _to_numpy(handle.get_tensor(key))
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot read {key!r} ({type(exc).__name__}: {_first_line(exc)})") from exc


INDEX_LIMIT_BYTES = 16 * 2**20  # a safetensors index lists names, not values


def _read_hf_directory(path: Path) -> dict:
    """A transformers model folder: model.safetensors, a sharded index, or pytorch_model.bin."""
    for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"):
        candidate = _inside(path, name, f"{path}")
        if not candidate.exists():
            continue
        if not candidate.is_file():
            raise CheckpointError(f"{candidate}: not a file")
        if name == "model.safetensors":
            return _read_safetensors(candidate)
        if name == "pytorch_model.bin":
            return _read_torch(candidate)
        return _read_sharded(path, candidate)
    raise CheckpointError(f"{path}: a model directory without model.safetensors (or its index, or pytorch_model.bin)")


def _read_sharded(folder: Path, index: Path) -> dict:
    """The tensors a ``model.safetensors.index.json`` maps to its shards, each shard confined to
    ``folder``; a tensor is taken from the shard the index names, nowhere else."""

    if index.stat().st_size > INDEX_LIMIT_BYTES:
        raise CheckpointError(
            f"{index}: {index.stat().st_size} bytes; a safetensors index holds at most {INDEX_LIMIT_BYTES}"
        )
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CheckpointError(
            f"{index}: not a readable safetensors index ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    if not isinstance(weight_map, dict):
        raise CheckpointError(
            f"{index}: 'weight_map': expected an object (tensor name -> shard file); found {type(weight_map).__name__}"
        )
    shards: dict[str, list[str]] = {}
    for key, shard in weight_map.items():
        where = f"{index}: 'weight_map'[{key!r}]"
        if not isinstance(shard, str) or not shard.endswith(".safetensors"):
            raise CheckpointError(f"{where}: expected a .safetensors shard file name; found {shard!r}")
        shards.setdefault(shard, []).append(key)
        _inside(folder, shard, where)
    tensors = {}
    for shard, keys in sorted(shards.items()):
        found = _read_safetensors(folder / shard)
        tensors.update({key: found[key] for key in keys if key in found})
    return tensors
