"""`samspec.reference.load_params`: checkpoints written by the real libraries (small configurations,
nothing downloaded) read back to the same parameters, bit for bit; broken files fail in one line
naming the key; `samspec check PORT --weights FILE` support (conformance/cases/weights.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require

from samspec.reference import init_params, load_params
from samspec.reference.checkpoints import CheckpointError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

HIDDEN, MASK_CHANNELS = 32, 8
GRID, IMAGE = (4, 4), (64, 64)


@pytest.fixture(scope="module")
def params32():
    """float32 parameters: what every library stores; float32 -> float64 -> float32 is exact."""
    return {k: v.astype(np.float32) for k, v in init_params(HIDDEN, MASK_CHANNELS, seed=11).items()}


def assert_identical(loaded, params):
    assert sorted(loaded) == sorted(params)
    for name, value in params.items():
        assert loaded[name].dtype == np.float32, name
        assert loaded[name].shape == value.shape, name
        assert np.array_equal(loaded[name], value), name


# -- writers: each library saves its own model ---------------------------------------------------


def write_meta_sam(path, params):
    """A full Meta `Sam` (tiny image encoder and mask decoder), saved as SAM's checkpoints are: its state_dict."""
    torch = require("torch")
    require(
        "segment_anything",
        lambda: __import__("samspec.conformance.adapters.segment_anything", fromlist=["x"]).load_prompt_encoder_class(),
    )
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    prompt_encoder = PromptEncoder(
        embed_dim=HIDDEN, image_embedding_size=GRID, input_image_size=IMAGE, mask_in_chans=MASK_CHANNELS
    )
    prompt_encoder.load_state_dict({k: torch.as_tensor(v) for k, v in params.items()})
    sam = Sam(
        image_encoder=ImageEncoderViT(img_size=64, patch_size=16, embed_dim=16, depth=1, num_heads=1, out_chans=HIDDEN),
        prompt_encoder=prompt_encoder,
        mask_decoder=MaskDecoder(
            transformer_dim=HIDDEN,
            transformer=TwoWayTransformer(depth=1, embedding_dim=HIDDEN, num_heads=1, mlp_dim=16),
            iou_head_hidden_dim=16,
        ),
    )
    torch.save(sam.state_dict(), path)
    return sam


def write_transformers(directory, params):
    require("torch")
    require("transformers")
    import torch
    from transformers import SamModel

    from samspec.conformance.adapters.transformers import PARAM_NAMES, TIED_PE, sam_config

    model = SamModel(sam_config(HIDDEN, IMAGE[0], GRID[0], MASK_CHANNELS))
    state = {PARAM_NAMES[k]: torch.as_tensor(v) for k, v in params.items()}
    state[TIED_PE] = state["shared_image_embedding.positional_embedding"]
    model.load_state_dict(state, strict=False)
    model.save_pretrained(directory)
    return directory


def import_keras():
    """keras and keras_hub on the torch backend (KERAS_BACKEND is set before keras is imported)."""
    from samspec.conformance.adapters import keras_hub as adapter_module

    return require("keras_hub", adapter_module.import_keras)


def keras_prompt_encoder(params):
    import_keras()
    from samspec.conformance.adapters.keras_hub import KerasHubAdapter

    adapter = KerasHubAdapter()
    adapter.build(
        dict(hidden_size=HIDDEN, image_embedding_size=GRID, input_image_size=IMAGE, mask_in_channels=MASK_CHANNELS),
        params,
    )
    return adapter.layer


def write_keras_backbone(path, params):
    """A keras-hub SAMBackbone (tiny ViTDet image encoder and mask decoder) saved with save_weights."""
    _, keras_hub = import_keras()

    prompt_encoder = keras_prompt_encoder(params)
    image_encoder = keras_hub.models.ViTDetBackbone(
        hidden_size=16,
        num_layers=1,
        intermediate_dim=16,
        num_heads=2,
        global_attention_layer_indices=[0],
        patch_size=16,
        num_output_channels=HIDDEN,
        window_size=2,
        image_shape=(64, 64, 3),
    )
    mask_decoder = keras_hub.layers.SAMMaskDecoder(
        num_layers=1,
        hidden_size=HIDDEN,
        intermediate_dim=16,
        num_heads=2,
        embedding_dim=HIDDEN,
        num_multimask_outputs=3,
        iou_head_depth=1,
        iou_head_hidden_dim=16,
    )
    backbone = keras_hub.models.SAMBackbone(
        image_encoder=image_encoder, prompt_encoder=prompt_encoder, mask_decoder=mask_decoder
    )
    backbone.save_weights(path)


def write_keras_wrapper(path, params):
    """The prompt encoder alone, held by a subclassed keras.Model."""
    keras, _ = import_keras()

    layer = keras_prompt_encoder(params)

    class Holder(keras.Model):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

    holder = Holder(layer)
    holder.built = True
    holder.save_weights(path)


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.sam
def test_meta_sam_checkpoint(tmp_path, params32):
    path = tmp_path / "sam_tiny.pth"
    write_meta_sam(path, params32)
    assert_identical(load_params(path), params32)


@pytest.mark.sam
def test_meta_bare_prompt_encoder_state_dict(tmp_path, params32):
    torch = require("torch")
    path = tmp_path / "prompt_encoder.pt"
    torch.save({k: torch.as_tensor(v) for k, v in params32.items()}, path)
    assert_identical(load_params(path), params32)


@pytest.mark.slow
@pytest.mark.ports
def test_transformers_directory_and_safetensors_file(tmp_path, params32):
    directory = write_transformers(tmp_path / "sam-hf", params32)
    assert_identical(load_params(directory), params32)
    assert_identical(load_params(directory / "model.safetensors"), params32)


@pytest.mark.ports
@pytest.mark.keras  # .weights.h5 written by keras on each backend (tox -e keras)
def test_keras_hub_weights_h5(tmp_path, params32):
    backbone, wrapper = tmp_path / "sam_backbone.weights.h5", tmp_path / "prompt_encoder.weights.h5"
    write_keras_backbone(backbone, params32)
    write_keras_wrapper(wrapper, params32)
    assert_identical(load_params(backbone), params32)
    assert_identical(load_params(wrapper), params32)


@pytest.mark.ports
def test_all_three_libraries_agree_bit_for_bit(tmp_path, params32):
    write_meta_sam(tmp_path / "a.pth", params32)
    write_transformers(tmp_path / "b", params32)
    write_keras_backbone(tmp_path / "c.weights.h5", params32)
    a, b, c = (load_params(p) for p in (tmp_path / "a.pth", tmp_path / "b", tmp_path / "c.weights.h5"))
    for name in a:
        assert a[name].tobytes() == b[name].tobytes() == c[name].tobytes(), name


@pytest.mark.sam
def test_loaded_params_drive_the_reference_like_the_library(tmp_path, params32):
    """The loaded parameters give Meta's own outputs (float32 tolerance)."""
    torch = require("torch")
    sam = write_meta_sam(tmp_path / "sam.pth", params32)
    from samspec.reference import SAMPromptEncoder

    loaded = load_params(tmp_path / "sam.pth")
    points = np.array([[[10.0, 20.0], [40.0, 5.0]]])
    labels = np.array([[1, 0]])
    ours = SAMPromptEncoder(HIDDEN, GRID, IMAGE, MASK_CHANNELS, params=loaded)(points=points, labels=labels)
    with torch.no_grad():
        sparse, _ = sam.prompt_encoder(
            points=(torch.tensor(points, dtype=torch.float32), torch.tensor(labels)), boxes=None, masks=None
        )
    assert np.allclose(ours["prompt_sparse_embeddings"], sparse.numpy(), atol=1e-5)


# -- broken files: one line, naming the key --------------------------------------------------------


def one_line(excinfo, *needles):
    message = str(excinfo.value)
    assert len(message.splitlines()) == 1, message
    for needle in needles:
        assert needle in message, message


@pytest.mark.sam
def test_meta_missing_and_unexpected_keys(tmp_path, params32):
    torch = require("torch")
    state = {f"prompt_encoder.{k}": torch.as_tensor(v) for k, v in params32.items()}
    state["image_encoder.patch_embed.proj.weight"] = torch.zeros(2)  # other parts of a full model are ignored
    del state["prompt_encoder.mask_downscaling.4.bias"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError) as excinfo:
        load_params(tmp_path / "missing.pth")
    one_line(excinfo, "missing key 'prompt_encoder.mask_downscaling.4.bias'")

    state["prompt_encoder.mask_downscaling.4.bias"] = torch.as_tensor(params32["mask_downscaling.4.bias"])
    state["prompt_encoder.point_embeddings.4.weight"] = torch.zeros(1, HIDDEN)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError) as excinfo:
        load_params(tmp_path / "extra.pth")
    one_line(excinfo, "unexpected key 'prompt_encoder.point_embeddings.4.weight'")


@pytest.mark.sam
def test_meta_wrong_shape_and_non_finite(tmp_path, params32):
    torch = require("torch")
    state = {f"prompt_encoder.{k}": torch.as_tensor(v) for k, v in params32.items()}
    state["prompt_encoder.mask_downscaling.0.weight"] = torch.zeros(2, 1, 3, 3)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(CheckpointError) as excinfo:
        load_params(tmp_path / "shape.pth")
    one_line(excinfo, "'prompt_encoder.mask_downscaling.0.weight' has shape (2, 1, 3, 3)", "expected (2, 1, 2, 2)")

    state["prompt_encoder.mask_downscaling.0.weight"] = torch.as_tensor(params32["mask_downscaling.0.weight"])
    state["prompt_encoder.no_mask_embed.weight"] = torch.full((1, HIDDEN), float("nan"))
    torch.save(state, tmp_path / "nan.pth")
    with pytest.raises(CheckpointError) as excinfo:
        load_params(tmp_path / "nan.pth")
    one_line(excinfo, "'prompt_encoder.no_mask_embed.weight'", "NaN")


@pytest.mark.sam
def test_truncated_torch_file(tmp_path, params32):
    path = tmp_path / "sam.pth"
    write_meta_sam(path, params32)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as excinfo:
        load_params(path)
    one_line(excinfo, str(path), "not a readable torch checkpoint")


@pytest.mark.ports
def test_transformers_missing_key(tmp_path, params32):
    require("safetensors")
    from safetensors.numpy import save_file

    directory = write_transformers(tmp_path / "hf", params32)
    from safetensors import safe_open

    with safe_open(str(directory / "model.safetensors"), "np") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    del tensors["prompt_encoder.mask_embed.layer_norm2.weight"]
    save_file(tensors, str(tmp_path / "broken.safetensors"))
    with pytest.raises(CheckpointError) as excinfo:
        load_params(tmp_path / "broken.safetensors")
    one_line(excinfo, "missing key 'prompt_encoder.mask_embed.layer_norm2.weight'")

    tensors["prompt_encoder.mask_embed.layer_norm2.weight"] = np.zeros(5, np.float32)
    save_file(tensors, str(tmp_path / "shape.safetensors"))
    with pytest.raises(CheckpointError) as excinfo:
        load_params(tmp_path / "shape.safetensors")
    one_line(excinfo, "'prompt_encoder.mask_embed.layer_norm2.weight' has shape (5,)", f"expected ({MASK_CHANNELS},)")


@pytest.mark.ports
def test_truncated_safetensors(tmp_path, params32):
    directory = write_transformers(tmp_path / "hf", params32)
    data = (directory / "model.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError) as excinfo:
        load_params(tmp_path / "cut.safetensors")
    one_line(excinfo, "cut.safetensors")


@pytest.mark.ports
@pytest.mark.keras  # .weights.h5 written by keras on each backend (tox -e keras)
def test_keras_missing_key(tmp_path, params32):
    h5py = require("h5py")
    path = tmp_path / "pe.weights.h5"
    write_keras_wrapper(path, params32)
    with h5py.File(path, "a") as handle:
        del handle["encoder/mask_downscaler/layers/conv2d_1/vars/1"]
    with pytest.raises(CheckpointError) as excinfo:
        load_params(path)
    one_line(excinfo, "missing key 'encoder/mask_downscaler/layers/conv2d_1/vars/1'")


@pytest.mark.ports
@pytest.mark.keras  # .weights.h5 written by keras on each backend (tox -e keras)
def test_keras_wrong_shape(tmp_path, params32):
    h5py = require("h5py")
    path = tmp_path / "pe.weights.h5"
    write_keras_wrapper(path, params32)
    with h5py.File(path, "a") as handle:
        del handle["encoder/no_mask_embed/vars/0"]
        handle["encoder/no_mask_embed/vars/0"] = np.zeros((1, HIDDEN + 2), np.float32)
    with pytest.raises(CheckpointError) as excinfo:
        load_params(path)
    one_line(excinfo, "'encoder/no_mask_embed/vars/0'")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError) as excinfo:
        load_params(tmp_path / "notes.txt")
    one_line(excinfo, "unknown checkpoint type")
    with pytest.raises(CheckpointError) as excinfo:
        load_params(tmp_path / "absent.pth")
    one_line(excinfo, "no such file")


# -- the fixture catalogue with a checkpoint's weights ---------------------------------------------


def test_cases_with_weights_recomputes_every_case(params32):
    from samspec.conformance.cases.store import load_cases
    from samspec.conformance.cases.weights import cases_with_weights
    from samspec.reference import SAMPromptEncoder

    cases = load_cases()
    with_weights, notes = cases_with_weights(cases, params32, source="test weights")
    assert [c.id for c in with_weights] == [c.id for c in cases]  # nothing dropped
    assert any("hidden_size 32 and mask_in_channels 8" in note for note in notes)
    for case in with_weights:
        assert case.config["hidden_size"] == HIDDEN and case.config["mask_in_channels"] == MASK_CHANNELS
        fresh = SAMPromptEncoder(**case.config, params=params32, dtype="float64", profile=case.semantics)(**case.inputs)
        for key, value in fresh.items():
            assert np.array_equal(case.expected[key], value), (case.id, key)
            assert np.array_equal(case.reference[key], value), (case.id, key)

    kept, notes = cases_with_weights(cases, params32, adapt_config=False)
    assert kept == [] and any("dropped" in note for note in notes)


def test_cases_with_weights_keeps_fixture_errors(params32):
    """A case whose fixture files are broken stays an error with a checkpoint's parameters: its
    inputs cannot be trusted, so nothing is recomputed from them."""
    import dataclasses

    from samspec.conformance.cases.store import load_cases
    from samspec.conformance.cases.weights import cases_with_weights

    case = load_cases(pattern=r"^labels\.foreground$")[0]
    broken = dataclasses.replace(
        case, inputs={}, reference={}, fixture_error="case 'labels.foreground': x.npy: missing"
    )
    out, _ = cases_with_weights([broken, case], params32)
    assert out[0] is broken and out[1].fixture_error is None and out[1].reference
