"""Meta's prompt encoder exported to ONNX with `torch.onnx.export`, run by onnxruntime on the CPU;
profile `sam_onnx`.

The graph is the prompt-encoder half of Meta's `segment_anything/utils/onnx.py`: `SamOnnxModel`
itself is instantiated around a stand-in `Sam` that holds only a real `PromptEncoder`, and its own
methods are exported, unchanged:

    sparse_embeddings = SamOnnxModel._embed_points(point_coords, point_labels)
    dense_embeddings  = SamOnnxModel._embed_masks(mask_input, has_mask_input)
    image_pe          = prompt_encoder.get_dense_pe()   # what SamOnnxModel.forward passes as image_pe

`image_pe` is computed inside Meta's exported graph and fed to the mask decoder; it is exported here
as a third output so that the grid is checked as onnxruntime computes it. Inputs and options follow
Meta's `scripts/export_onnx_model.py` (float32 `point_coords`/`point_labels`, `has_mask_input` of
shape (1,), opset 17, the TorchScript exporter), except that the batch axis is dynamic as well as the
number of points (Meta's export fixes batch 1). `img_size` is one int (square images only): for a
non-square configuration it is max(H, W), and the case differs (`square_normalisation`).

`trace()` runs a second graph, exported from the same methods with intermediate tensors as extra
graph outputs (onnx_trace.py).
"""

from __future__ import annotations

import types

import numpy as np

from .onnx_export import cpu_session, export_to_onnx
from .onnx_trace import TRACE_OUTPUTS, recorded_call, to_reference_stages
from .segment_anything import build_prompt_encoder, load_prompt_encoder_class

INPUT_NAMES = ("point_coords", "point_labels", "mask_input", "has_mask_input")
OUTPUT_NAMES = ("sparse_embeddings", "dense_embeddings", "image_pe")
OPSET = 17


def load_onnx_model_class():
    """`segment_anything.utils.onnx.SamOnnxModel` without the package `__init__` (see segment_anything.py)."""
    load_prompt_encoder_class()  # installs the bare package module
    from segment_anything.utils.onnx import SamOnnxModel

    return SamOnnxModel


# the graph's batch and point-count axes stay free
DYNAMIC_AXES = {
    "point_coords": {0: "batch", 1: "num_points"},
    "point_labels": {0: "batch", 1: "num_points"},
    "mask_input": {0: "batch"},
    "sparse_embeddings": {0: "batch", 1: "num_points"},
    "dense_embeddings": {0: "batch"},
}


def _example_inputs(encoder, img_size: int) -> tuple:
    """Inputs the exporter traces with: two prompts of five points (every label), a mask, has_mask_input."""
    import torch

    h, w = encoder.image_embedding_size
    return (
        torch.rand(2, 5, 2) * img_size,
        torch.tensor([[0.0, 1.0, 2.0, 3.0, -1.0], [1.0, 0.0, -1.0, 3.0, 2.0]]),
        torch.randn(2, 1, 4 * h, 4 * w),
        torch.tensor([1.0]),
    )


def export_prompt_encoder(encoder, img_size: int, trace: bool = False) -> bytes:
    """The ONNX model (bytes) of SamOnnxModel's prompt path around ``encoder`` (a Meta PromptEncoder);
    with ``trace``, the stages of onnx_trace.TRACE_OUTPUTS are graph outputs too, after the three."""
    import torch

    SamOnnxModel = load_onnx_model_class()

    class PromptOnlySam(torch.nn.Module):
        """What SamOnnxModel reads of a `Sam`: the prompt encoder, a mask decoder, the image size."""

        def __init__(self):
            super().__init__()
            self.prompt_encoder = encoder
            self.mask_decoder = None  # the decoder half is not exported
            self.image_encoder = types.SimpleNamespace(img_size=img_size)

    class PromptEncoderGraph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.sam_onnx = SamOnnxModel(PromptOnlySam(), return_single_mask=True)

        def outputs(self, point_coords, point_labels, mask_input, has_mask_input):
            return (
                self.sam_onnx._embed_points(point_coords, point_labels),
                self.sam_onnx._embed_masks(mask_input, has_mask_input),
                self.sam_onnx.model.prompt_encoder.get_dense_pe(),
            )

        def forward(self, *inputs):
            if trace:
                return recorded_call(encoder, lambda: self.outputs(*inputs))
            return self.outputs(*inputs)

    outputs = OUTPUT_NAMES + (TRACE_OUTPUTS if trace else ())
    return export_to_onnx(
        PromptEncoderGraph().eval(), _example_inputs(encoder, img_size), INPUT_NAMES, outputs, DYNAMIC_AXES, OPSET
    )


class OnnxRuntimeAdapter:
    name = "onnxruntime"
    profile = "sam_onnx"

    def build(self, config, params):
        encoder = build_prompt_encoder(config, params)
        self.encoder, self.img_size = encoder.float().eval(), max(config["input_image_size"])
        self.model_bytes = export_prompt_encoder(self.encoder, self.img_size)
        self.session = cpu_session(self.model_bytes)
        self.trace_session = None

    @staticmethod
    def _feeds(point_coords, point_labels, mask_input, has_mask_input) -> dict:
        return {
            "point_coords": np.asarray(point_coords, dtype=np.float32),
            "point_labels": np.asarray(point_labels, dtype=np.float32),
            "mask_input": np.asarray(mask_input, dtype=np.float32),
            "has_mask_input": np.asarray(has_mask_input, dtype=np.float32).reshape(1),
        }

    def run(self, point_coords, point_labels, mask_input, has_mask_input):
        feeds = self._feeds(point_coords, point_labels, mask_input, has_mask_input)
        return dict(zip(OUTPUT_NAMES, self.session.run(list(OUTPUT_NAMES), feeds)))

    def trace(self, point_coords, point_labels, mask_input, has_mask_input):
        """The stages of one call (`samspec check --trace`): the traced graph's extra outputs (onnx_trace)."""
        if self.trace_session is None:
            self.trace_session = cpu_session(export_prompt_encoder(self.encoder, self.img_size, trace=True))
        feeds = self._feeds(point_coords, point_labels, mask_input, has_mask_input)
        names = list(OUTPUT_NAMES + TRACE_OUTPUTS)
        values = dict(zip(names, self.trace_session.run(names, feeds)))
        stages = to_reference_stages(values, feeds)
        stages.update(
            prompt_sparse_embeddings=values["sparse_embeddings"],
            prompt_dense_embeddings=values["dense_embeddings"],
            prompt_dense_positional_embeddings=values["image_pe"],
        )
        return stages
