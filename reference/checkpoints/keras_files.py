"""keras-hub ``.weights.h5`` files (``save_weights`` of any model holding a ``SAMPromptEncoder``):
external storage, virtual layouts and soft or external links are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .keys import KERAS, KERAS_MARKERS
from .tensors import CheckpointError, _first_line, _import, _Tensor
from .verify import _verified


def _from_keras(path: Path) -> dict:
    h5py = _import("h5py", path, "a keras .weights.h5 file")
    try:
        handle = h5py.File(path, "r")
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable HDF5 file ({type(exc).__name__}: {_first_line(exc)})") from exc
    with handle:
        _refuse_links(path, handle, h5py)
        groups = []

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and all(marker in obj for marker in KERAS_MARKERS):
                groups.append(name)

        handle.visititems(visit)
        if not groups:
            raise CheckpointError(
                f"{path}: no keras-hub SAMPromptEncoder weights found (a group holding "
                f"'mask_downscaler' and 'positional_embedding_layer')"
            )
        if len(groups) > 1:
            raise CheckpointError(f"{path}: several SAMPromptEncoder weight groups: {', '.join(groups)}")
        group = handle[groups[0]]
        names = {ref: f"{groups[0]}/{inner}" for ref, (inner, _) in KERAS.items()}
        expected = {inner for inner, _ in KERAS.values()}
        present = []
        group.visititems(lambda name, obj: present.append(name) if isinstance(obj, h5py.Dataset) else None)
        missing = [names[ref] for ref, (inner, _) in KERAS.items() if inner not in present]
        if missing:
            raise CheckpointError(
                f"{path}: missing key {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        unexpected = sorted(set(present) - expected)
        if unexpected:
            raise CheckpointError(
                f"{path}: unexpected key {groups[0] + '/' + unexpected[0]!r} in the SAMPromptEncoder group"
            )
        entries = {
            ref: _h5_tensor(path, group[inner], names[ref], is_kernel) for ref, (inner, is_kernel) in KERAS.items()
        }
        return _verified(path, entries, names)


def _refuse_links(path: Path, handle: Any, h5py: Any) -> None:
    """Soft and external links anywhere in the file are refused (they point elsewhere, possibly
    to other files); only hard links are followed."""

    def visit(name, link):
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
            kind = "an external link to another file" if isinstance(link, h5py.ExternalLink) else "a soft link"
            return CheckpointError(f"{path}: {name!r} is {kind}; samspec reads only datasets stored in the file itself")
        return None

    found = handle.visititems_links(visit)
    if found is not None:
        raise found


H5_BUILTIN_FILTERS = {1, 2, 3, 4, 5, 6, 32000}  # HDF5's own filters and h5py's LZF: no plugin is loaded


def _h5_tensor(path: Path, dataset: Any, name: str, is_kernel: bool) -> _Tensor:
    """A dataset's header (layout, dtype, shape); a conv kernel's shape and values as OIHW."""
    if dataset.is_virtual:
        raise CheckpointError(f"{path}: {name!r} is a virtual dataset (its data lives in other files); refused")
    if dataset.external:
        raise CheckpointError(f"{path}: {name!r} uses external storage (raw data in another file); refused")
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    unknown = [f for f in filters if f not in H5_BUILTIN_FILTERS]
    if unknown:
        raise CheckpointError(
            f"{path}: {name!r} uses HDF5 filter {unknown[0]}, which HDF5 would load as a plugin; only the built-in "
            f"filters are read (gzip, shuffle, fletcher32, szip, nbit, scale-offset, lzf)"
        )
    dtype = dataset.dtype.name if dataset.dtype.kind == "f" else f"{dataset.dtype} (kind {dataset.dtype.kind!r})"
    shape = tuple(dataset.shape) if dataset.shape is not None else None
    if is_kernel and shape is not None:
        if len(shape) != 4:
            raise CheckpointError(f"{path}: {name!r} has shape {shape}; expected a 4-d conv kernel (kh, kw, in, out)")
        shape = (shape[3], shape[2], shape[0], shape[1])  # HWIO -> OIHW

    def read():
        try:
            value = np.asarray(dataset[()])
        except Exception as exc:
            raise CheckpointError(f"{path}: cannot read {name!r} ({type(exc).__name__}: {_first_line(exc)})") from exc
        return np.ascontiguousarray(np.transpose(value, (3, 2, 0, 1))) if is_kernel else value

    return _Tensor(shape, dtype, read)
