"""keras-hub's `SAMPromptEncoder` (Keras 3) on the backend `KERAS_BACKEND` names, float32, profile `keras_hub`.

Two built-in ports, one per way Keras runs a layer (docs/adapters.md, "keras-hub"):

- `keras-hub`: the layer called eagerly, `layer(points=..., labels=..., boxes=..., masks=...)`;
- `keras-hub-compiled`: the layer inside a `keras.Model` run by `Model.predict`, which compiles the
  call the way the backend's trainer does: `jax.jit` (XLA) on JAX, `tf.function` (a graph, without
  XLA: what Keras' `jit_compile="auto"` picks on a CPU-only machine) on TensorFlow; on PyTorch Keras'
  `"auto"` keeps `predict` eager (no `torch.compile`), and the runtime string says so.

The backend follows the Keras convention: `KERAS_BACKEND`, read in the worker process before keras is
first imported. Unset, samspec sets it to `torch` (Keras' own default is `tensorflow`; torch is the
backend every other built-in port already needs). If keras was imported before (an in-process run),
the backend keras is running on is used and named.

Conversion only: the layer is built for the case's configuration and samspec's parameters are set
into it with `set_weights` (conv kernels OIHW -> HWIO); prompts go through the layer's `call`.
keras-hub must be installed with `--no-deps` (its metadata requires tensorflow-text on Linux):
see docs/profiles.md or the `ports` and `keras` tox environments.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from .keras_trace import to_reference_layout, traced_call

DEFAULT_BACKEND = "torch"
# the distributions that carry each backend's version (tensorflow-cpu installs the module tensorflow)
BACKEND_DISTRIBUTIONS = {"torch": ("torch",), "jax": ("jax",), "tensorflow": ("tensorflow", "tensorflow-cpu")}
# what Model.predict compiles the call with, per backend (the jit_compile value set for it)
COMPILERS = {
    "jax": (True, "jax.jit via Model.predict"),
    "tensorflow": (False, "tf.function via Model.predict"),
    "torch": (False, "Model.predict, not compiled: Keras' torch backend runs predict eagerly"),
}
MODES = ("eager", "compiled")
# the strict known failures of each runtime, PORT.BACKEND.txt in `--xfail` format (docs/spec.md §12.3)
KNOWN_FAILURES = Path(__file__).resolve().parent / "known_failures"

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


def keras_backend() -> str:
    """The backend keras runs (or will run) on: keras' own answer once imported, else `KERAS_BACKEND`
    (default `torch`, see the module docstring)."""
    keras = sys.modules.get("keras")
    backend = getattr(getattr(keras, "backend", None), "backend", None)
    if callable(backend):
        return backend()
    return os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND


def _version(distributions) -> str:
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def runtime_text(mode: str, backend: str | None = None) -> str:
    """One line naming the backend, its version and the mode, e.g. ``jax 0.10.2 (keras 3.15.1),
    compiled: jax.jit via Model.predict``. Read from package metadata: nothing is imported."""
    backend = backend or keras_backend()
    how = COMPILERS.get(backend, (None, "Model.predict"))[1] if mode == "compiled" else "layer called directly"
    version = _version(BACKEND_DISTRIBUTIONS.get(backend, (backend,)))
    return f"{backend} {version} (keras {_version(('keras',))}), {mode}: {how}"


def known_failures_path(port: str, backend: str) -> Path:
    """The known-failures file of ``port`` (keras-hub, keras-hub-compiled) on ``backend``; absent: none."""
    return KNOWN_FAILURES / f"{port}.{backend}.txt"


def import_keras():
    """keras and keras_hub, with `KERAS_BACKEND` defaulting to torch (set before keras is first imported)."""
    os.environ.setdefault("KERAS_BACKEND", DEFAULT_BACKEND)
    import keras
    import keras_hub

    return keras, keras_hub


def prompt_model(keras, layer, jit_compile: bool, trace: bool = False):
    """``layer`` inside a `keras.Model` whose call takes the prompts as a dict, compiled for predict;
    with ``trace``, the call returns the layer's stages too (keras_trace.traced_call)."""

    class PromptEncoderModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.encoder = layer

        def call(self, prompts):
            if trace:
                return traced_call(self.encoder, prompts, keras.ops)
            return self.encoder(**prompts)

    model = PromptEncoderModel()
    model.compile(jit_compile=jit_compile)
    return model


class KerasHubAdapter:
    profile = "keras_hub"

    def __init__(self, mode="eager", dtype="float32"):
        if mode not in MODES:
            raise ValueError(f"KerasHubAdapter mode: expected one of {MODES}, got {mode!r}")
        self.mode = mode
        self.name = "keras-hub" if mode == "eager" else "keras-hub-compiled"
        self.dtype_name = dtype
        self.compute_dtype = dtype  # the layer computes in its dtype policy's dtype (docs/tolerances.md)

    @property
    def runtime(self) -> str:
        return runtime_text(self.mode)

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
        self.model = self.trace_model = None
        if self.mode == "compiled":
            self.model = prompt_model(keras, layer, COMPILERS.get(keras_backend(), (False,))[0])

    def _prompts(self, points, labels, boxes, masks) -> dict:
        """The prompts given, as NumPy arrays of the layer's dtypes (labels int64); None left out."""
        prompts = {
            "points": None if points is None else np.asarray(points, dtype=self.dtype_name),
            "labels": None if labels is None else np.asarray(labels, dtype=np.int64),
            "boxes": None if boxes is None else np.asarray(boxes, dtype=self.dtype_name),
            "masks": None if masks is None else np.asarray(masks, dtype=self.dtype_name),
        }
        return {key: value for key, value in prompts.items() if value is not None}

    def _call(self, model, prompts, eager) -> dict:
        """NumPy outputs of ``model.predict`` on ``prompts`` (one batch), or of ``eager`` on tensors."""
        if model is not None:
            batch = len(next(iter(prompts.values()))) if prompts else None
            outputs = model.predict(prompts, batch_size=batch, verbose=0)
            return {key: np.asarray(value) for key, value in outputs.items()}
        ops = self.keras.ops
        outputs = eager({key: ops.convert_to_tensor(value) for key, value in prompts.items()})
        return {key: ops.convert_to_numpy(value) for key, value in outputs.items()}

    def run(self, points, labels, boxes, masks):
        prompts = self._prompts(points, labels, boxes, masks)
        return self._call(self.model, prompts, lambda tensors: self.layer(**tensors))

    def trace(self, points, labels, boxes, masks):
        """The stages of one call (`samspec check --trace`, keras_trace): eager, the layer's own call
        recorded; compiled, the same recording inside the compiled predict call, as extra outputs."""
        prompts = self._prompts(points, labels, boxes, masks)
        trace_model = None
        if self.model is not None:
            if getattr(self, "trace_model", None) is None:
                self.trace_model = prompt_model(self.keras, self.layer, self.model.jit_compile, trace=True)
            trace_model = self.trace_model
        stages = self._call(trace_model, prompts, lambda tensors: traced_call(self.layer, tensors, self.keras.ops))
        return to_reference_layout(stages)
