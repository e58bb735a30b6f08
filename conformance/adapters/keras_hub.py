"""keras-hub's `SAMPromptEncoder` (Keras 3 with `KERAS_BACKEND=torch`), float32, profile `keras_hub`.

Conversion only: the layer is built for the case's configuration and samspec's parameters are set
into it with `set_weights` (conv kernels OIHW -> HWIO); prompts go through the layer's `call`.
keras-hub must be installed with `--no-deps` (its metadata requires tensorflow-text on Linux):
see docs/profiles.md or the `ports` tox environment.
"""

from __future__ import annotations

import os

import numpy as np

# samspec parameter name -> the keras-hub Embedding attribute holding it, shape (1, C)
EMBEDDINGS = {
    "point_embeddings.0.weight": "background_point_embed",
    "point_embeddings.1.weight": "foreground_point_embed",
    "point_embeddings.2.weight": "top_left_corner_embed",
    "point_embeddings.3.weight": "bottom_right_corner_embed",
    "not_a_point_embed.weight": "not_a_point_embed",
    "no_mask_embed.weight": "no_mask_embed",
}
# the order of `mask_downscaler.set_weights`: conv1 kernel, bias, ln1 gamma, beta, conv2 ..., conv3 ...
MASK_DOWNSCALER = (
    "mask_downscaling.0.weight",
    "mask_downscaling.0.bias",
    "mask_downscaling.1.weight",
    "mask_downscaling.1.bias",
    "mask_downscaling.3.weight",
    "mask_downscaling.3.bias",
    "mask_downscaling.4.weight",
    "mask_downscaling.4.bias",
    "mask_downscaling.6.weight",
    "mask_downscaling.6.bias",
)


def conv_kernel_to_keras(weight):
    """PyTorch (out, in, kh, kw) -> Keras (kh, kw, in, out)."""
    return np.transpose(np.asarray(weight), (2, 3, 1, 0))


def import_keras():
    """keras and keras_hub on the torch backend (set before keras is first imported)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if keras.backend.backend() != "torch":
        raise RuntimeError(
            f"keras is running on the {keras.backend.backend()!r} backend; the keras-hub adapter needs "
            f"KERAS_BACKEND=torch set before keras is first imported"
        )
    import keras_hub

    return keras, keras_hub


class KerasHubAdapter:
    name = "keras-hub"
    profile = "keras_hub"

    def __init__(self, dtype="float32"):
        self.dtype_name = dtype

    def build(self, config, params):
        keras, keras_hub = import_keras()
        self.keras = keras
        layer = keras_hub.layers.SAMPromptEncoder(
            hidden_size=config["hidden_size"],
            image_embedding_size=tuple(config["image_embedding_size"]),
            input_image_size=tuple(config["input_image_size"]),
            mask_in_channels=config["mask_in_channels"],
            activation=config.get("activation", "gelu"),
            dtype=self.dtype_name,
        )
        layer.build()
        cast = lambda name: np.asarray(params[name], dtype=self.dtype_name)  # noqa: E731
        layer.positional_embedding_layer.positional_encoding_gaussian_matrix.assign(
            cast("pe_layer.positional_encoding_gaussian_matrix")
        )
        for name, attribute in EMBEDDINGS.items():
            getattr(layer, attribute).set_weights([cast(name)])
        layer.mask_downscaler.set_weights(
            [
                conv_kernel_to_keras(cast(n)) if n.endswith("weight") and cast(n).ndim == 4 else cast(n)
                for n in MASK_DOWNSCALER
            ]
        )
        self.layer = layer

    def run(self, points, labels, boxes, masks):
        ops = self.keras.ops
        as_input = lambda value: (
            None if value is None else ops.convert_to_tensor(np.asarray(value, dtype=self.dtype_name))
        )  # noqa: E731
        outputs = self.layer(
            points=as_input(points),
            labels=None if labels is None else ops.convert_to_tensor(np.asarray(labels, dtype=np.int64)),
            boxes=as_input(boxes),
            masks=as_input(masks),
        )
        return {key: ops.convert_to_numpy(value) for key, value in outputs.items()}
