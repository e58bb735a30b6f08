"""Hostile checkpoints (issue 14 item 4, reference/checkpoints/): each one is refused with one
`CheckpointError` line naming the file and the key, before any value is read where the header
already tells; no code runs from a checkpoint and no file outside the checkpoint (or its model
folder) is read. `samspec check PORT --weights FILE` turns the error into exit 2 with that line.

Files are written with the formats' own libraries in the layouts of Meta (torch), transformers
(safetensors) and keras-hub (HDF5), without the model libraries themselves."""

from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest
from conftest import require

from samspec.reference import init_params, load_params
from samspec.reference.checkpoints import HF, HF_SHARED_PE, KERAS, CheckpointError

pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch on the hand-made pickles

HIDDEN, MASK_CHANNELS = 8, 4
SECRET = b"SECRET-BYTES-OUTSIDE-THE-CHECKPOINT"


@pytest.fixture(scope="module")
def params32():
    return {k: v.astype(np.float32) for k, v in init_params(HIDDEN, MASK_CHANNELS, seed=3).items()}


def refused(path, *needles) -> str:
    """load_params(path) raises one CheckpointError line holding every needle, never the secret."""
    with pytest.raises(CheckpointError) as excinfo:
        load_params(path)
    message = str(excinfo.value)
    assert len(message.splitlines()) == 1, message
    for needle in needles:
        assert needle in message, message
    assert SECRET.decode() not in message
    return message


@pytest.fixture
def secret(tmp_path):
    """A file outside every checkpoint: its bytes must never reach the parameters or a message."""
    path = tmp_path / "outside" / "secret.bin"
    path.parent.mkdir()
    path.write_bytes(SECRET * 64)
    return path


# -- keras-hub layout (HDF5) -----------------------------------------------------------------------

GROUP = "encoder"


def write_keras(path, params, h5py, skip=()):
    """A keras-hub-style .weights.h5: the SAMPromptEncoder's datasets under GROUP (kernels HWIO)."""
    with h5py.File(path, "w") as handle:
        for ref, (inner, is_kernel) in KERAS.items():
            if ref in skip:
                continue
            value = params[ref]
            handle[f"{GROUP}/{inner}"] = np.transpose(value, (2, 3, 1, 0)) if is_kernel else value
    return path


def keras_key(ref):
    return f"{GROUP}/{KERAS[ref][0]}"


@pytest.fixture
def h5py():
    return require("h5py")


@pytest.mark.ports
def test_keras_layout_round_trips(tmp_path, params32, h5py):
    """The writer below is sound: the untouched file loads to the same parameters."""
    loaded = load_params(write_keras(tmp_path / "pe.weights.h5", params32, h5py))
    assert all(np.array_equal(loaded[k], v) for k, v in params32.items())


@pytest.mark.ports
def test_h5_external_storage(tmp_path, params32, h5py, secret):
    ref = "no_mask_embed.weight"
    path = write_keras(tmp_path / "ext.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle.create_dataset(keras_key(ref), shape=(1, HIDDEN), dtype="<f4", external=[(str(secret), 0, 4 * HIDDEN)])
    refused(path, str(path), keras_key(ref), "external storage")


@pytest.mark.ports
def test_h5_virtual_dataset(tmp_path, params32, h5py, secret):
    ref = "no_mask_embed.weight"
    source = secret.parent / "source.h5"
    with h5py.File(source, "w") as handle:
        handle["data"] = np.frombuffer(SECRET[:32], dtype="<f4").reshape(1, HIDDEN)
    path = write_keras(tmp_path / "virtual.weights.h5", params32, h5py, skip={ref})
    layout = h5py.VirtualLayout(shape=(1, HIDDEN), dtype="<f4")
    layout[:] = h5py.VirtualSource(str(source), "data", shape=(1, HIDDEN))
    with h5py.File(path, "a") as handle:
        handle.create_virtual_dataset(keras_key(ref), layout)
    refused(path, keras_key(ref), "virtual dataset")


@pytest.mark.ports
def test_h5_soft_link(tmp_path, params32, h5py):
    ref = "not_a_point_embed.weight"
    path = write_keras(tmp_path / "soft.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle["elsewhere/value"] = params32[ref]
        handle[keras_key(ref)] = h5py.SoftLink("/elsewhere/value")
    refused(path, keras_key(ref), "soft link")


@pytest.mark.ports
def test_h5_external_link(tmp_path, params32, h5py, secret):
    ref = "not_a_point_embed.weight"
    other = secret.parent / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["value"] = params32[ref]
    path = write_keras(tmp_path / "extlink.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle[keras_key(ref)] = h5py.ExternalLink(str(other), "/value")
    first = refused(path, keras_key(ref), "external link")
    other.unlink()  # the message does not depend on the target's existence
    assert refused(path, keras_key(ref), "external link") == first


@pytest.mark.ports
def test_h5_filter_that_would_load_a_plugin(tmp_path, params32, h5py):
    """A dataset compressed with filter 307 (bzip2, a plugin): HDF5 would search its plugin path
    and load a shared library to read it; refused from the dataset's creation properties."""
    ref = "point_embeddings.0.weight"
    path = write_keras(tmp_path / "plugin.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle.create_dataset(
            keras_key(ref), data=params32[ref], chunks=(1, HIDDEN), compression=307, allow_unknown_filter=True
        )
    refused(path, keras_key(ref), "HDF5 filter 307", "plugin")
    path = write_keras(tmp_path / "gzip.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:  # the built-in filters are fine
        handle.create_dataset(keras_key(ref), data=params32[ref], chunks=(1, HIDDEN), compression="gzip", shuffle=True)
    assert np.array_equal(load_params(path)[ref], params32[ref])


@pytest.mark.ports
@pytest.mark.parametrize(
    "dtype, shown",
    [("<i4", "int32"), ("<c8", "complex64"), ("|b1", "bool"), ("<u2", "uint16")],
    ids=["int32", "complex64", "bool", "uint16"],
)
def test_h5_non_floating_dtype(tmp_path, params32, h5py, dtype, shown):
    ref = "point_embeddings.1.weight"
    path = write_keras(tmp_path / "dtype.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle[keras_key(ref)] = np.zeros((1, HIDDEN), dtype=dtype)
    refused(path, keras_key(ref), f"has dtype {shown}", "expected a floating dtype")


@pytest.mark.ports
def test_h5_string_and_compound_dtypes(tmp_path, params32, h5py):
    ref = "point_embeddings.2.weight"
    path = write_keras(tmp_path / "strings.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle.create_dataset(keras_key(ref), data=np.array([["a"] * HIDDEN], dtype=object), dtype=h5py.string_dtype())
    refused(path, keras_key(ref), "expected a floating dtype")
    path = write_keras(tmp_path / "compound.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle[keras_key(ref)] = np.zeros((1, HIDDEN), dtype=[("re", "<f4"), ("im", "<f4")])
    refused(path, keras_key(ref), "expected a floating dtype")


@pytest.mark.ports
def test_h5_huge_declared_shape_is_never_allocated(tmp_path, params32, h5py):
    """A chunked dataset declaring 2**40 values (4 TiB) with no data written: refused from its
    header; reading it would need the memory."""
    ref = "no_mask_embed.weight"
    path = write_keras(tmp_path / "huge.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle.create_dataset(keras_key(ref), shape=(1, 2**40), dtype="<f4", chunks=(1, 1024))
    refused(path, keras_key(ref), f"has shape (1, {2**40})", f"expected (1, {HIDDEN})")


@pytest.mark.ports
def test_h5_kernel_of_the_wrong_rank(tmp_path, params32, h5py):
    ref = "mask_downscaling.0.weight"
    path = write_keras(tmp_path / "rank.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle[keras_key(ref)] = np.zeros((2, 2, 1), np.float32)
    refused(path, keras_key(ref), "expected a 4-d conv kernel")


@pytest.mark.ports
def test_not_an_hdf5_file(tmp_path):
    require("h5py")
    path = tmp_path / "garbage.weights.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    refused(path, str(path), "not a readable HDF5 file")


# -- transformers layout (safetensors, model folders) -----------------------------------------------


def hf_tensors(params):
    names = {ref: ("" if name == HF_SHARED_PE else "prompt_encoder.") + name for ref, name in HF.items()}
    names["pe_layer.positional_encoding_gaussian_matrix"] = HF_SHARED_PE
    return {names[ref]: np.ascontiguousarray(value) for ref, value in params.items()}


def safetensors_bytes(tensors: dict, header_override=None) -> bytes:
    """A .safetensors file written by hand: 8-byte little-endian header length, JSON header, data
    (so that dtypes NumPy lacks, such as float8, can be declared)."""
    header, data, offset = {}, b"", 0
    for key, (dtype, shape, payload) in tensors.items():
        header[key] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(payload)]}
        data += payload
        offset += len(payload)
    if header_override is not None:
        header = header_override(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def raw_tensors(params):
    return {key: ("F32", value.shape, value.astype("<f4").tobytes()) for key, value in hf_tensors(params).items()}


@pytest.fixture
def safetensors():
    return require("safetensors")


@pytest.mark.ports
def test_safetensors_layout_round_trips(tmp_path, params32, safetensors):
    path = tmp_path / "model.safetensors"
    path.write_bytes(safetensors_bytes(raw_tensors(params32)))
    loaded = load_params(path)
    assert all(np.array_equal(loaded[k], v) for k, v in params32.items())


@pytest.mark.ports
@pytest.mark.parametrize("dtype, size", [("F8_E4M3", 1), ("F8_E5M2", 1), ("I64", 8), ("BOOL", 1), ("U8", 1)])
def test_safetensors_exotic_dtype(tmp_path, params32, safetensors, dtype, size):
    tensors = raw_tensors(params32)
    key = "prompt_encoder.no_mask_embed.weight"
    tensors[key] = (dtype, (1, HIDDEN), b"\0" * size * HIDDEN)
    path = tmp_path / "exotic.safetensors"
    path.write_bytes(safetensors_bytes(tensors))
    refused(path, repr(key), f"has dtype {dtype}", "expected a floating dtype")


@pytest.mark.ports
def test_safetensors_hostile_headers(tmp_path, params32, safetensors):
    """Headers that lie about sizes or offsets, or are not JSON: refused by safetensors itself."""
    good = safetensors_bytes(raw_tensors(params32))
    key = "prompt_encoder.no_mask_embed.weight"

    def huge(header):
        header[key]["shape"] = [2**40]
        return header

    def overlapping(header):
        header[key]["data_offsets"] = [0, 4 * HIDDEN]
        return header

    def beyond_the_end(header):
        header[key]["data_offsets"] = [0, 2**40]
        return header

    variants = {
        "length beyond the file": struct.pack("<Q", 2**40) + good[8:],
        "header not JSON": struct.pack("<Q", 16) + b"{not json at all" + good[-64:],
        "truncated": good[: len(good) // 2],
        "huge declared shape": safetensors_bytes(raw_tensors(params32), huge),
        "overlapping offsets": safetensors_bytes(raw_tensors(params32), overlapping),
        "offsets beyond the end": safetensors_bytes(raw_tensors(params32), beyond_the_end),
        "empty file": b"",
    }
    for name, data in variants.items():
        path = tmp_path / f"{name.replace(' ', '_')}.safetensors"
        path.write_bytes(data)
        refused(path, str(path))


def hf_folder(tmp_path, params, name="hf"):
    folder = tmp_path / name
    folder.mkdir()
    return folder


def write_index(folder, weight_map):
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def sharded(tmp_path, params32, shard_name="model-00001-of-00001.safetensors"):
    """A model folder with one shard and an index mapping every tensor to it."""
    folder = hf_folder(tmp_path, params32)
    tensors = raw_tensors(params32)
    (folder / "model-00001-of-00001.safetensors").write_bytes(safetensors_bytes(tensors))
    write_index(folder, {key: shard_name for key in tensors})
    return folder


@pytest.mark.ports
def test_sharded_folder_round_trips(tmp_path, params32, safetensors):
    loaded = load_params(sharded(tmp_path, params32))
    assert all(np.array_equal(loaded[k], v) for k, v in params32.items())


@pytest.mark.ports
@pytest.mark.parametrize(
    "weight_map, needle",
    [
        ([["prompt_encoder.no_mask_embed.weight", "a.safetensors"]], "'weight_map': expected an object"),
        ("model.safetensors", "'weight_map': expected an object"),
        ({"prompt_encoder.no_mask_embed.weight": 7}, "expected a .safetensors shard file name; found 7"),
        ({"prompt_encoder.no_mask_embed.weight": ["a.safetensors"]}, "expected a .safetensors shard file name"),
        ({"prompt_encoder.no_mask_embed.weight": "weights.pickle"}, "expected a .safetensors shard file name"),
    ],
    ids=["list", "string", "int shard", "list shard", "not safetensors"],
)
def test_index_of_the_wrong_structure(tmp_path, params32, safetensors, weight_map, needle):
    folder = sharded(tmp_path, params32)
    write_index(folder, weight_map)
    refused(folder, "model.safetensors.index.json", needle)


@pytest.mark.ports
def test_index_not_json(tmp_path, params32, safetensors):
    folder = sharded(tmp_path, params32)
    (folder / "model.safetensors.index.json").write_text("{weight_map: ")
    refused(folder, "model.safetensors.index.json", "not a readable safetensors index")


@pytest.mark.ports
@pytest.mark.parametrize(
    "shard, needle",
    [
        ("../outside/secret.safetensors", "contains '..'"),
        ("sub/../../outside/secret.safetensors", "contains '..'"),
        ("ABSOLUTE", "is an absolute path"),
        ("./model-00001-of-00001.safetensors", "not a normalised path"),
        ("sub//model.safetensors", "not a normalised path"),
    ],
    ids=["dotdot", "inner dotdot", "absolute", "dot", "double slash"],
)
def test_index_shard_escaping_the_folder(tmp_path, params32, safetensors, shard, needle):
    """The outside shard is a perfect copy (it would load): refused on the path string alone, with
    the same message whether it exists or not."""
    outside = tmp_path / "outside" / "secret.safetensors"
    outside.parent.mkdir()
    folder = sharded(tmp_path, params32)
    outside.write_bytes((folder / "model-00001-of-00001.safetensors").read_bytes())
    shard = str(outside) if shard == "ABSOLUTE" else shard
    write_index(folder, {"prompt_encoder.no_mask_embed.weight": shard})
    first = refused(folder, "'weight_map'['prompt_encoder.no_mask_embed.weight']", needle)
    outside.unlink()
    assert refused(folder, needle) == first


@pytest.mark.ports
def test_index_shard_that_is_a_symlink(tmp_path, params32, safetensors):
    folder = sharded(tmp_path, params32)
    real = tmp_path / "outside.safetensors"
    (folder / "model-00001-of-00001.safetensors").rename(real)
    (folder / "model-00001-of-00001.safetensors").symlink_to(real)
    first = refused(folder, "'model-00001-of-00001.safetensors' is a symlink")
    real.unlink()
    assert refused(folder, "is a symlink") == first


@pytest.mark.ports
def test_index_shard_through_a_symlinked_folder(tmp_path, params32, safetensors):
    folder = sharded(tmp_path, params32, shard_name="shards/model.safetensors")
    outside = tmp_path / "outside_shards"
    outside.mkdir()
    (folder / "model-00001-of-00001.safetensors").rename(outside / "model.safetensors")
    (folder / "shards").symlink_to(outside, target_is_directory=True)
    refused(folder, "'shards' is a symlink")


@pytest.mark.ports
def test_model_safetensors_that_is_a_symlink(tmp_path, params32, safetensors):
    folder = hf_folder(tmp_path, params32)
    real = tmp_path / "blob"
    real.write_bytes(safetensors_bytes(raw_tensors(params32)))
    (folder / "model.safetensors").symlink_to(real)
    refused(folder, "'model.safetensors' is a symlink")


@pytest.mark.ports
def test_index_mapping_a_key_to_a_shard_without_it(tmp_path, params32, safetensors):
    """A tensor is taken only from the shard the index names."""
    folder = sharded(tmp_path, params32)
    tensors = raw_tensors(params32)
    key = "prompt_encoder.no_mask_embed.weight"
    (folder / "other.safetensors").write_bytes(safetensors_bytes({"unrelated": tensors[key]}))
    write_index(folder, dict({k: "model-00001-of-00001.safetensors" for k in tensors}, **{key: "other.safetensors"}))
    refused(folder, f"missing key {key!r}")


# -- Meta layout (torch) -----------------------------------------------------------------------------


@pytest.fixture
def torch():
    return require("torch")


def meta_state(params, torch):
    return {f"prompt_encoder.{k}": torch.as_tensor(v) for k, v in params.items()}


class RunsCode:
    """Unpickling this would run ``os.system`` (here: create a marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.sam
def test_pickled_code_never_runs(tmp_path, params32, torch):
    marker = tmp_path / "code-ran"
    state = meta_state(params32, torch)
    state["prompt_encoder.no_mask_embed.weight"] = RunsCode(marker)
    path = tmp_path / "evil.pth"
    torch.save(state, path)
    refused(path, str(path), "not a readable torch checkpoint")
    legacy = tmp_path / "evil_legacy.pth"
    legacy.write_bytes(pickle.dumps(RunsCode(marker)))
    refused(legacy, "not a readable torch checkpoint")
    assert not marker.exists(), "code ran from a checkpoint"


@pytest.mark.sam
@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2", "complex64", "int64", "bool", "uint8"])
def test_torch_exotic_dtype(tmp_path, params32, torch, dtype):
    state = meta_state(params32, torch)
    key = "prompt_encoder.no_mask_embed.weight"
    state[key] = torch.zeros(1, HIDDEN).to(getattr(torch, dtype))
    path = tmp_path / "exotic.pth"
    torch.save(state, path)
    refused(path, repr(key), f"has dtype {dtype}")


@pytest.mark.sam
def test_torch_sparse_tensor(tmp_path, params32, torch):
    state = meta_state(params32, torch)
    key = "prompt_encoder.no_mask_embed.weight"
    state[key] = state[key].to_sparse()
    path = tmp_path / "sparse.pth"
    torch.save(state, path)
    refused(path, repr(key), "sparse")


@pytest.mark.sam
def test_torch_value_that_is_not_a_tensor(tmp_path, params32, torch):
    state = meta_state(params32, torch)
    key = "prompt_encoder.no_mask_embed.weight"
    state[key] = [0.0] * HIDDEN
    path = tmp_path / "list.pth"
    torch.save(state, path)
    refused(path, repr(key), "is not a tensor")


@pytest.mark.sam
def test_torch_huge_shape_is_refused_from_the_header(tmp_path, params32, torch):
    """An expanded view declaring 2**40 elements over one stored value: refused by its shape
    (a zero-stride view is materialised only if read)."""
    state = meta_state(params32, torch)
    key = "prompt_encoder.no_mask_embed.weight"
    state[key] = torch.zeros(1, 1).expand(1, 2**40)
    path = tmp_path / "huge.pth"
    torch.save(state, path)
    refused(path, repr(key), f"has shape (1, {2**40})")


@pytest.mark.sam
def test_legacy_torch_format_still_loads(tmp_path, params32, torch):
    path = tmp_path / "legacy.pth"
    torch.save(meta_state(params32, torch), path, _use_new_zipfile_serialization=False)
    loaded = load_params(path)
    assert all(np.array_equal(loaded[k], v) for k, v in params32.items())


# -- through the command line -----------------------------------------------------------------------


@pytest.mark.ports
def test_check_with_a_hostile_checkpoint_exits_2_with_one_line(tmp_path, params32, h5py, secret, capsys):
    from samspec.conformance.cli import main

    ref = "no_mask_embed.weight"
    path = write_keras(tmp_path / "ext.weights.h5", params32, h5py, skip={ref})
    with h5py.File(path, "a") as handle:
        handle.create_dataset(keras_key(ref), shape=(1, HIDDEN), dtype="<f4", external=[(str(secret), 0, 4 * HIDDEN)])
    code = main(["check", "reference-f32", "--weights", str(path), "--in-process", "--cases", "^labels\\.foreground$"])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "external storage" in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
    assert SECRET.decode() not in captured.out + captured.err
