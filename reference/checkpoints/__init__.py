"""Reading a real port's checkpoint into the reference's parameters (spec §2.2).

``load_params(path)`` accepts

- a Meta SAM checkpoint (``.pth``/``.pt``, read with ``torch.load(weights_only=True)``): the
  ``prompt_encoder.*`` entries of a full ``Sam`` model, or a bare ``PromptEncoder`` state dict;
- a transformers ``SamModel``: its directory (``model.safetensors``, or a sharded
  ``model.safetensors.index.json``) or a ``.safetensors`` file; the Gaussian matrix is
  ``shared_image_embedding.positional_embedding``; also a torch file with transformers' names;
- a keras-hub ``.weights.h5`` written by ``save_weights`` of any Keras model holding a
  ``SAMPromptEncoder`` (a ``SAMBackbone``, an ``SAMImageSegmenter``, a wrapper model).

Names and layouts are converted to SAM v1's ``state_dict()`` names (Keras conv kernels HWIO ->
OIHW), every shape is verified against the configuration the file implies, and a missing,
unexpected, wrong-shaped, non-floating or non-finite entry raises ``CheckpointError`` with one
line naming the file's key. Values keep the file's floating dtype (bfloat16 becomes float32,
exactly); nothing else is rounded. torch, safetensors and h5py are imported only when needed.

A checkpoint is data from outside, read as such: no code runs from it (``weights_only=True``),
every tensor's shape and dtype are checked from the file's header before its values are read
(only float16, bfloat16, float32 and float64 are accepted), HDF5 datasets stored in other files
(external storage, virtual layouts) and soft or external links are refused, and the shard paths of
a model folder's index must be relative, normalised and inside the folder, with no symlink on the
way (checked on the string and with ``lstat`` inside the folder; the outside is never touched).
"""

from __future__ import annotations

import os
from pathlib import Path

from .keras_files import _from_keras
from .keys import HF, HF_SHARED_PE, HF_TIED_PE, KERAS, KERAS_MARKERS, META
from .paths import first_symlink, relative_path_problem
from .safetensors_files import _read_hf_directory, _read_safetensors
from .tensors import FLOAT_DTYPES, CheckpointError
from .torch_files import _read_torch
from .verify import _from_flat

__all__ = [
    "FLOAT_DTYPES",
    "HF",
    "HF_SHARED_PE",
    "HF_TIED_PE",
    "KERAS",
    "KERAS_MARKERS",
    "META",
    "CheckpointError",
    "first_symlink",
    "load_params",
    "relative_path_problem",
]


def load_params(path: str | os.PathLike[str]) -> dict:
    """The prompt encoder's parameters from a Meta, transformers or keras-hub checkpoint, under
    SAM v1's names and layouts, shapes verified (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory")
    if path.is_dir():
        return _from_flat(path, _read_hf_directory(path))
    name = path.name.lower()
    if name.endswith(".h5") or name.endswith(".hdf5"):
        return _from_keras(path)
    if name.endswith(".safetensors"):
        return _from_flat(path, _read_safetensors(path))
    if name.endswith((".pth", ".pt", ".bin", ".ckpt")):
        return _from_flat(path, _read_torch(path))
    raise CheckpointError(
        f"{path}: unknown checkpoint type (expected a .pth/.pt torch file, a .safetensors file, a transformers "
        f"model directory or a keras .weights.h5)"
    )
