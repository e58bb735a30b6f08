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
import stat
from pathlib import Path

import numpy as np

from .params import param_shapes


class CheckpointError(ValueError):
    """A checkpoint that cannot be read as the prompt encoder's parameters; one line naming the key."""


META = {name: name for name in param_shapes(2, 4)}  # SAM v1 names are the reference's

HF = {  # transformers SamModel (prefix "prompt_encoder." except the shared Gaussian matrix)
    "pe_layer.positional_encoding_gaussian_matrix": "shared_image_embedding.positional_embedding",
    "point_embeddings.0.weight": "point_embed.0.weight",
    "point_embeddings.1.weight": "point_embed.1.weight",
    "point_embeddings.2.weight": "point_embed.2.weight",
    "point_embeddings.3.weight": "point_embed.3.weight",
    "not_a_point_embed.weight": "not_a_point_embed.weight",
    "no_mask_embed.weight": "no_mask_embed.weight",
    "mask_downscaling.0.weight": "mask_embed.conv1.weight",
    "mask_downscaling.0.bias": "mask_embed.conv1.bias",
    "mask_downscaling.1.weight": "mask_embed.layer_norm1.weight",
    "mask_downscaling.1.bias": "mask_embed.layer_norm1.bias",
    "mask_downscaling.3.weight": "mask_embed.conv2.weight",
    "mask_downscaling.3.bias": "mask_embed.conv2.bias",
    "mask_downscaling.4.weight": "mask_embed.layer_norm2.weight",
    "mask_downscaling.4.bias": "mask_embed.layer_norm2.bias",
    "mask_downscaling.6.weight": "mask_embed.conv3.weight",
    "mask_downscaling.6.bias": "mask_embed.conv3.bias",
}
HF_SHARED_PE = "shared_image_embedding.positional_embedding"
HF_TIED_PE = "shared_embedding.positional_embedding"  # SamPromptEncoder's own handle on the same matrix

KERAS = {  # keras-hub SAMPromptEncoder: dataset path inside the layer's group, and whether it is a conv kernel
    "pe_layer.positional_encoding_gaussian_matrix": ("positional_embedding_layer/vars/0", False),
    "point_embeddings.0.weight": ("background_point_embed/vars/0", False),
    "point_embeddings.1.weight": ("foreground_point_embed/vars/0", False),
    "point_embeddings.2.weight": ("top_left_corner_embed/vars/0", False),
    "point_embeddings.3.weight": ("bottom_right_corner_embed/vars/0", False),
    "not_a_point_embed.weight": ("not_a_point_embed/vars/0", False),
    "no_mask_embed.weight": ("no_mask_embed/vars/0", False),
    "mask_downscaling.0.weight": ("mask_downscaler/layers/conv2d/vars/0", True),
    "mask_downscaling.0.bias": ("mask_downscaler/layers/conv2d/vars/1", False),
    "mask_downscaling.1.weight": ("mask_downscaler/layers/layer_normalization/vars/0", False),
    "mask_downscaling.1.bias": ("mask_downscaler/layers/layer_normalization/vars/1", False),
    "mask_downscaling.3.weight": ("mask_downscaler/layers/conv2d_1/vars/0", True),
    "mask_downscaling.3.bias": ("mask_downscaler/layers/conv2d_1/vars/1", False),
    "mask_downscaling.4.weight": ("mask_downscaler/layers/layer_normalization_1/vars/0", False),
    "mask_downscaling.4.bias": ("mask_downscaler/layers/layer_normalization_1/vars/1", False),
    "mask_downscaling.6.weight": ("mask_downscaler/layers/conv2d_2/vars/0", True),
    "mask_downscaling.6.bias": ("mask_downscaler/layers/conv2d_2/vars/1", False),
}
KERAS_MARKERS = ("mask_downscaler", "positional_embedding_layer")


def load_params(path) -> dict:
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


# -- paths inside a folder -----------------------------------------------------------------------


def relative_path_problem(relative) -> str | None:
    """Why ``relative`` is not a normalised relative POSIX path that stays inside its folder
    ('a/b.npy': no leading '/', drive, '..', '.', '//' or backslash), or None. The string alone is
    examined: nothing is opened or stat'ed, so the answer never depends on what exists outside."""
    if not isinstance(relative, str) or not relative:
        return f"expected a relative file path; found {relative!r}"
    if relative.startswith(("/", "\\")) or (len(relative) > 1 and relative[1] == ":"):
        return f"{relative!r} is an absolute path; paths are relative to the folder"
    parts = relative.split("/")
    if ".." in parts:
        return f"{relative!r} contains '..'; paths stay inside the folder"
    if "\\" in relative or "\x00" in relative or any(p in ("", ".") for p in parts):
        return f"{relative!r} is not a normalised path (such as 'a/b.npy': no '.', '//' or backslash)"
    return None


def first_symlink(root: Path, relative: str) -> str | None:
    """The first leading part of ``relative`` under ``root`` that is a symlink, or None; each part
    is ``lstat``-ed inside ``root`` (never followed), stopping at the first that does not exist."""
    parts = relative.split("/")
    inner = os.fspath(root)
    for depth, part in enumerate(parts, 1):
        inner = os.path.join(inner, part)
        try:
            mode = os.lstat(inner).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return "/".join(parts[:depth])
    return None


def _inside(folder: Path, relative, where: str) -> Path:
    """``folder / relative`` for a path named by a file of the folder (confined, no symlink)."""
    problem = relative_path_problem(relative)
    if problem is None and first_symlink(folder, relative) is not None:
        problem = f"{first_symlink(folder, relative)!r} is a symlink; no checkpoint file is read through a link"
    if problem is not None:
        raise CheckpointError(f"{where}: {problem}")
    return folder / relative


# -- tensors: header first, values on demand ------------------------------------------------------

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


class _Tensor:
    """One entry of a checkpoint: its shape and dtype name as the file's header gives them, and
    ``read()`` for its values (a NumPy array; bfloat16 becomes float32, exactly)."""

    def __init__(self, shape, dtype: str, read):
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


def _torch_tensor(value) -> _Tensor:
    if not hasattr(value, "detach") or not hasattr(value, "dtype"):
        return _Tensor(None, type(value).__name__, None)
    dtype = str(value.dtype).removeprefix("torch.")
    if str(getattr(value, "layout", "torch.strided")) != "torch.strided":
        dtype = f"{dtype} ({value.layout})"  # sparse or other layouts are not accepted
    return _Tensor(tuple(value.shape), dtype, lambda: _to_numpy(value))


def _read_torch(path) -> dict:
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


SAFETENSORS_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}


def _read_safetensors(path) -> dict:
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
                    lambda key=key: _safetensor_values(path, key),
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


def _read_hf_directory(path) -> dict:
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
    import json

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
    shards = {}
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


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- names and layouts ---------------------------------------------------------------------------


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


def _from_flat(path, tensors) -> dict:
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


def _from_keras(path) -> dict:
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


def _refuse_links(path, handle, h5py) -> None:
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


def _h5_tensor(path, dataset, name, is_kernel) -> _Tensor:
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


def _implied_config(shapes) -> tuple:
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


def _check_headers(path, entries, names) -> None:
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


def _verified(path, entries, names) -> dict:
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
