"""torch checkpoints (``.pth``, ``.pt``, ``.bin``, ``.ckpt``), read with ``torch.load(weights_only=True)``:
no code runs from the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .tensors import CheckpointError, _first_line, _import, _Tensor, _to_numpy


def _torch_tensor(value: Any) -> _Tensor:
    if not hasattr(value, "detach") or not hasattr(value, "dtype"):
        return _Tensor(None, type(value).__name__, None)
    dtype = str(value.dtype).removeprefix("torch.")
    if str(getattr(value, "layout", "torch.strided")) != "torch.strided":
        dtype = f"{dtype} ({value.layout})"  # sparse or other layouts are not accepted
    return _Tensor(tuple(value.shape), dtype, lambda: _to_numpy(value))


def _read_torch(path: Path) -> dict:
    torch = _import("torch", path, "a torch checkpoint")
    try:
        try:  # memory-mapped: values are read only for the entries that are used
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            loaded = torch.load(path, map_location="cpu", weights_only=True)  # the legacy (non-zip) format
    except Exception as exc:
        raise CheckpointError(
            f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    if isinstance(loaded, dict) and not any(hasattr(v, "shape") for v in loaded.values()):
        for wrapper in ("model", "state_dict", "model_state_dict"):  # training checkpoints wrap the state dict
            if isinstance(loaded.get(wrapper), dict):
                loaded = loaded[wrapper]
                break
    if not isinstance(loaded, dict):
        raise CheckpointError(f"{path}: expected a state dict (name -> tensor); found {type(loaded).__name__}")
    return {str(k): _torch_tensor(v) for k, v in loaded.items()}
