"""Shared by the two ONNX Runtime ports (onnxruntime.py, onnxruntime_sam2.py): a torch module exported
to ONNX bytes with the legacy TorchScript exporter, and an ONNX Runtime session on the CPU. Conversion
only: what the graph computes is the port's own code."""

from __future__ import annotations

import io
import warnings


def export_to_onnx(graph, example_inputs: tuple, input_names, output_names, dynamic_axes: dict, opset: int) -> bytes:
    """``graph`` (a torch.nn.Module, in eval mode) exported to ONNX, returned as bytes."""
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarning and the TorchScript exporter's deprecation notice
        torch.onnx.export(
            graph,
            example_inputs,
            buffer,
            export_params=True,
            opset_version=opset,
            do_constant_folding=True,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=dynamic_axes,
            dynamo=False,
        )
    return buffer.getvalue()


def cpu_session(model_bytes: bytes):
    """An onnxruntime InferenceSession of ``model_bytes`` on the CPU provider, warnings silenced."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
