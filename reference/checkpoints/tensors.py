"""What every checkpoint reader shares: the error, the accepted dtypes, a tensor known by its header
before its values are read, and the lazy import of the library that reads a format."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class CheckpointError(ValueError):
    """A checkpoint that cannot be read as the prompt encoder's parameters; one line naming the key."""


FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


class _Tensor:
    """One entry of a checkpoint: its shape and dtype name as the file's header gives them, and
    ``read()`` for its values (a NumPy array; bfloat16 becomes float32, exactly)."""

    def __init__(self, shape: Iterable[int] | None, dtype: str, read: Callable[[], Any] | None) -> None:
        self.shape, self.dtype, self.read = (None if shape is None else tuple(int(n) for n in shape)), dtype, read


def _import(module, path, purpose):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise CheckpointError(f"{path}: reading {purpose} needs the {module.split('.')[0]} package ({exc})") from exc


def _to_numpy(value):
    """A torch tensor as a NumPy array; bfloat16 as float32 (exact)."""
    value = value.detach().cpu()
    if str(value.dtype) == "torch.bfloat16":
        value = value.float()
    return value.numpy()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
