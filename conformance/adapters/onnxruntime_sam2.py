"""ONNX Runtime's own SAM 2 prompt encoder: the ``SAM2PromptEncoder`` wrapper that onnxruntime ships in
``onnxruntime/transformers/models/sam2/prompt_encoder.py`` (its SAM 2 export tool), around a real Meta
``sam2`` 1.1.0 ``PromptEncoder``, exported to ONNX and run by onnxruntime on the CPU; profile ``ort_sam2``.

The graph is the wrapper's ``forward``, unchanged: ``_embed_points(point_coords, point_labels)`` (box
corners are points labelled 2 and 3; a (0, 0) / −1 padding point is appended to every prompt),
``_embed_masks(input_masks, has_input_masks)`` (the mask is always given and blended with
``no_mask_embed``) and ``prompt_encoder.get_dense_pe()``. The wrapper reads only
``sam_model.sam_prompt_encoder`` and ``sam_model.image_size`` (one int: square images only; for a
non-square configuration max(H, W), and the case differs, ``square_normalisation``), so it is built
around a namespace holding those two, never a whole ``SAM2Base``. The export follows the tool's
``export_prompt_encoder_onnx``: its input and output names, dynamic axes, opset 18, constant folding,
int32 labels and a ``has_input_masks`` of shape (1,), except that it is written to memory and uses the
TorchScript exporter (``dynamo=False``), because torch 2.13's default exporter needs ``onnxscript``.

Loading: ``prompt_encoder.py`` imports ``compare_tensors_with_tolerance`` from the tool's ``sam2_utils``,
which imports ``sam2.build_sam`` and so hydra; the function is used only by the tool's own
``test_prompt_encoder_onnx``, never by the wrapper or the export. When hydra is not installed, a
stand-in ``sam2_utils`` whose function raises is importable while ``prompt_encoder.py`` is imported,
and removed afterwards.
"""

from __future__ import annotations

import contextlib
import sys
import types

import numpy as np

from .onnx_export import cpu_session, export_to_onnx
from .onnx_trace import TRACE_OUTPUTS, recorded_call, to_reference_stages
from .segment_anything import build_prompt_encoder

INPUT_NAMES = ("point_coords", "point_labels", "input_masks", "has_input_masks")
OUTPUT_NAMES = ("sparse_embeddings", "dense_embeddings", "image_pe")
OPSET = 18  # export_prompt_encoder_onnx's
DYNAMIC_AXES = {  # export_prompt_encoder_onnx's
    "point_coords": {0: "num_labels", 1: "num_points"},
    "point_labels": {0: "num_labels", 1: "num_points"},
    "input_masks": {0: "num_labels"},
    "sparse_embeddings": {0: "num_labels", 1: "num_points+1"},
    "dense_embeddings": {0: "num_labels"},
}
MODULE = "onnxruntime.transformers.models.sam2.prompt_encoder"


@contextlib.contextmanager
def _sam2_utils_without_hydra():
    """While importing ``prompt_encoder.py``: the tool's ``sam2_utils`` if it imports, else a stand-in
    holding the one name ``prompt_encoder.py`` imports (used only by the tool's own test function)."""
    try:
        import sam2_utils  # noqa: F401  (the tool's folder is on sys.path once onnxruntime.transformers is imported)
    except ModuleNotFoundError as exc:
        if exc.name not in ("hydra", "omegaconf"):
            raise
    else:
        yield
        return
    stand_in = types.ModuleType("sam2_utils")

    def compare_tensors_with_tolerance(*args, **kwargs):
        raise NotImplementedError("sam2_utils needs hydra; samspec only loads the prompt encoder")

    stand_in.compare_tensors_with_tolerance = compare_tensors_with_tolerance
    sys.modules["sam2_utils"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("sam2_utils") is stand_in:
            del sys.modules["sam2_utils"]


def load_wrapper_class():
    """``SAM2PromptEncoder`` from onnxruntime's SAM 2 tool, with Meta's sam2 imported without its ``__init__``."""
    from .sam2 import load_prompt_encoder_class

    load_prompt_encoder_class()  # registers the bare sam2 package (no hydra, no torchvision)
    try:
        import onnxruntime.transformers.models.sam2  # noqa: F401  (puts the tool's folder on sys.path)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"onnxruntime's SAM 2 export tool (onnxruntime/transformers/models/sam2) is not installed ({exc}): "
            "pip install -c constraints.txt onnxruntime==1.32.0 (docs/profiles.md)",
            name=exc.name,
        ) from None

    with _sam2_utils_without_hydra():
        module = __import__(MODULE, fromlist=["SAM2PromptEncoder"])
    return module.SAM2PromptEncoder


def _example_inputs(encoder, image_size: int) -> tuple:
    """export_prompt_encoder_onnx's example inputs (two prompts of three points, int32 labels, a mask,
    has_input_masks (1,)), at this configuration's sizes, with every label the wrapper knows."""
    import torch

    h, w = encoder.image_embedding_size
    return (
        torch.rand(2, 3, 2) * image_size,
        torch.tensor([[0, 1, 2], [3, -1, 1]], dtype=torch.int32),
        torch.zeros(2, 1, 4 * h, 4 * w),
        torch.ones(1),
    )


def export_wrapper(wrapper, encoder, image_size: int, trace: bool = False) -> bytes:
    """The ONNX model (bytes) of ``wrapper.forward``; with ``trace``, the stages of
    onnx_trace.TRACE_OUTPUTS are graph outputs too, after the three (recorded from ``encoder``)."""
    import torch

    class Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.wrapper = wrapper

        def forward(self, *inputs):
            if trace:
                return recorded_call(encoder, lambda: self.wrapper(*inputs))
            return self.wrapper(*inputs)

    outputs = OUTPUT_NAMES + (TRACE_OUTPUTS if trace else ())
    return export_to_onnx(
        Graph().eval(), _example_inputs(encoder, image_size), INPUT_NAMES, outputs, DYNAMIC_AXES, OPSET
    )


class OnnxRuntimeSam2Adapter:
    name = "onnxruntime-sam2"
    profile = "ort_sam2"

    def build(self, config, params):
        from .sam2 import load_prompt_encoder_class

        wrapper_class = load_wrapper_class()
        encoder = build_prompt_encoder(config, params, load_prompt_encoder_class()).float().eval()
        self.image_size = max(config["input_image_size"])
        sam_model = types.SimpleNamespace(sam_prompt_encoder=encoder, image_size=self.image_size)
        self.encoder, self.wrapper = encoder, wrapper_class(sam_model).eval()
        self.session = cpu_session(export_wrapper(self.wrapper, encoder, self.image_size))
        self.trace_session = None

    @staticmethod
    def _feeds(point_coords, point_labels, input_masks, has_input_masks) -> dict:
        return {
            "point_coords": np.asarray(point_coords, dtype=np.float32),
            "point_labels": np.asarray(point_labels, dtype=np.int32),
            "input_masks": np.asarray(input_masks, dtype=np.float32),
            "has_input_masks": np.asarray(has_input_masks, dtype=np.float32).reshape(1),
        }

    def run(self, point_coords, point_labels, input_masks, has_input_masks):
        feeds = self._feeds(point_coords, point_labels, input_masks, has_input_masks)
        return dict(zip(OUTPUT_NAMES, self.session.run(list(OUTPUT_NAMES), feeds)))

    def trace(self, point_coords, point_labels, input_masks, has_input_masks):
        """The stages of one call (`samspec check --trace`): a second graph exported from the same wrapper
        with the intermediate tensors as extra outputs (onnx_trace)."""
        if self.trace_session is None:
            self.trace_session = cpu_session(export_wrapper(self.wrapper, self.encoder, self.image_size, True))
        feeds = self._feeds(point_coords, point_labels, input_masks, has_input_masks)
        names = list(OUTPUT_NAMES + TRACE_OUTPUTS)
        values = dict(zip(names, self.trace_session.run(names, feeds)))
        stages = to_reference_stages(
            values,
            {
                "point_labels": feeds["point_labels"],
                "mask_input": feeds["input_masks"],
                "has_mask_input": feeds["has_input_masks"],
            },
        )
        stages.update(
            prompt_sparse_embeddings=values["sparse_embeddings"],
            prompt_dense_embeddings=values["dense_embeddings"],
            prompt_dense_positional_embeddings=values["image_pe"],
        )
        return stages
