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
"""

from __future__ import annotations

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


# -- reading files -------------------------------------------------------------------------------


def _import(module, path, purpose):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise CheckpointError(f"{path}: reading {purpose} needs the {module.split('.')[0]} package ({exc})") from exc


def _to_numpy(value):
    """A torch tensor or array as a NumPy array; bfloat16 as float32 (exact)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def _read_torch(path) -> dict:
    torch = _import("torch", path, "a torch checkpoint")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {_first_line(exc)})") from exc
    if isinstance(loaded, dict) and not any(hasattr(v, "shape") for v in loaded.values()):
        for wrapper in ("model", "state_dict", "model_state_dict"):  # training checkpoints wrap the state dict
            if isinstance(loaded.get(wrapper), dict):
                loaded = loaded[wrapper]
                break
    if not isinstance(loaded, dict):
        raise CheckpointError(f"{path}: expected a state dict (name -> tensor); found {type(loaded).__name__}")
    return {str(k): v for k, v in loaded.items()}


def _read_safetensors(path) -> dict:
    safetensors = _import("safetensors", path, "a .safetensors file")
    try:
        with safetensors.safe_open(str(path), framework="np") as handle:
            return {key: _LazySafetensor(path, key) for key in handle.keys()}
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable .safetensors file ({type(exc).__name__}: {_first_line(exc)})") from exc


class _LazySafetensor:
    """One tensor of a .safetensors file, read when needed (a full SAM file holds the vision encoder too)."""

    def __init__(self, path, key):
        self.path, self.key = path, key

    def load(self):
        import safetensors

        try:
            with safetensors.safe_open(str(self.path), framework="np") as handle:
                return handle.get_tensor(self.key)
        except TypeError:  # a dtype NumPy lacks (bfloat16): read through torch
            with safetensors.safe_open(str(self.path), framework="pt") as handle:
                return _to_numpy(handle.get_tensor(self.key))
        except Exception as exc:
            raise CheckpointError(
                f"{self.path}: cannot read {self.key!r} ({type(exc).__name__}: {_first_line(exc)})"
            ) from exc


def _read_hf_directory(path) -> dict:
    single = path / "model.safetensors"
    index = path / "model.safetensors.index.json"
    if single.is_file():
        return _read_safetensors(single)
    if index.is_file():
        import json

        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except Exception as exc:
            raise CheckpointError(f"{index}: not a readable safetensors index ({_first_line(exc)})") from exc
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            tensors.update(_read_safetensors(path / shard))
        return tensors
    for name in ("pytorch_model.bin",):
        if (path / name).is_file():
            return _read_torch(path / name)
    raise CheckpointError(f"{path}: a model directory without model.safetensors (or its index, or pytorch_model.bin)")


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
            f"'prompt_encoder.point_embeddings.0.weight' (Meta) or 'prompt_encoder.point_embed.0.weight' (transformers))"
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
        raise CheckpointError(f"{path}: missing key {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    unexpected = sorted(namespace - set(names.values()))
    if unexpected:
        raise CheckpointError(
            f"{path}: unexpected key {unexpected[0]!r} among the prompt encoder's entries"
            + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
        )
    params = {ref: _load(tensors[key]) for ref, key in names.items()}
    if scheme == "hf" and tied in tensors and names["pe_layer.positional_encoding_gaussian_matrix"] != tied:
        copy = _load(tensors[tied])
        if np.shape(copy) != np.shape(params["pe_layer.positional_encoding_gaussian_matrix"]) or not np.array_equal(
            copy, params["pe_layer.positional_encoding_gaussian_matrix"]
        ):
            raise CheckpointError(f"{path}: {tied!r} differs from {HF_SHARED_PE!r} (the two are tied in SamModel)")
    return _verified(path, params, names)


def _load(value):
    return value.load() if isinstance(value, _LazySafetensor) else _to_numpy(value)


def _from_keras(path) -> dict:
    h5py = _import("h5py", path, "a keras .weights.h5 file")
    try:
        handle = h5py.File(path, "r")
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable HDF5 file ({type(exc).__name__}: {_first_line(exc)})") from exc
    with handle:
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
            raise CheckpointError(f"{path}: missing key {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        unexpected = sorted(set(present) - expected)
        if unexpected:
            raise CheckpointError(f"{path}: unexpected key {groups[0] + '/' + unexpected[0]!r} in the SAMPromptEncoder group")
        params = {}
        for ref, (inner, is_kernel) in KERAS.items():
            try:
                value = np.asarray(group[inner][()])
            except Exception as exc:
                raise CheckpointError(f"{path}: cannot read {names[ref]!r} ({type(exc).__name__}: {_first_line(exc)})") from exc
            if is_kernel:
                if value.ndim != 4:
                    raise CheckpointError(f"{path}: {names[ref]!r} has shape {value.shape}; expected a 4-d conv kernel (kh, kw, in, out)")
                value = np.ascontiguousarray(np.transpose(value, (3, 2, 0, 1)))  # HWIO -> OIHW
            params[ref] = value
    return _verified(path, params, names)


def _implied_config(params) -> tuple:
    """(hidden_size, mask_in_channels) that most entries agree on, so that the one odd entry is blamed."""
    from collections import Counter

    def dim(name, axis, factor=1):
        try:
            return np.shape(params[name])[axis] * factor
        except IndexError:
            return None

    hidden = [dim(f"point_embeddings.{i}.weight", -1) for i in range(4)] + [
        dim("not_a_point_embed.weight", -1), dim("no_mask_embed.weight", -1),
        dim("pe_layer.positional_encoding_gaussian_matrix", -1, 2),
        dim("mask_downscaling.6.weight", 0), dim("mask_downscaling.6.bias", 0),
    ]
    mask = [
        dim("mask_downscaling.3.weight", 0), dim("mask_downscaling.3.bias", 0), dim("mask_downscaling.4.weight", 0),
        dim("mask_downscaling.4.bias", 0), dim("mask_downscaling.6.weight", 1),
        dim("mask_downscaling.0.weight", 0, 4), dim("mask_downscaling.0.bias", 0, 4), dim("mask_downscaling.1.weight", 0, 4),
        dim("mask_downscaling.1.bias", 0, 4),
    ]
    vote = lambda values: Counter(v for v in values if v is not None).most_common(1)[0][0] if any(v is not None for v in values) else 0  # noqa: E731
    return int(vote(hidden)), int(vote(mask))


def _verified(path, params, names) -> dict:
    """Shapes against the configuration the file implies; floating and finite values."""
    hidden_size, mask_in_channels = _implied_config(params)
    if hidden_size <= 0 or hidden_size % 2 or mask_in_channels <= 0 or mask_in_channels % 4:
        raise CheckpointError(
            f"{path}: {names['no_mask_embed.weight']!r} and {names['mask_downscaling.3.weight']!r} imply "
            f"hidden_size {hidden_size} and mask_in_channels {mask_in_channels}; expected an even hidden_size and "
            f"a multiple of 4"
        )
    shapes = param_shapes(hidden_size, mask_in_channels)
    for ref, shape in shapes.items():
        value = params[ref]
        if tuple(np.shape(value)) != shape:
            raise CheckpointError(
                f"{path}: {names[ref]!r} has shape {tuple(np.shape(value))}; expected {shape} (for hidden_size "
                f"{hidden_size}, mask_in_channels {mask_in_channels})"
            )
        if value.dtype.kind != "f":
            raise CheckpointError(f"{path}: {names[ref]!r} has dtype {value.dtype}; expected a floating dtype")
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"{path}: {names[ref]!r} holds NaN or infinite values")
    return {ref: np.ascontiguousarray(params[ref]) for ref in shapes}
