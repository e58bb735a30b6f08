"""The conversions of the built-in profiles: how a case's `sam`-convention inputs become each
real port's inputs, and how its outputs come back to `sam`'s layout and names (docs/profiles.md)."""

from __future__ import annotations

import numpy as np

from samspec.reference import append_padding_point

from .divergences import DENSE, DENSE_PE, SPARSE, sam_pads

# -- small conversions shared by the profiles ----------------------------------------------------


def to_channels_first(array):
    """(B, h, w, C) -> (B, C, h, w)."""
    return np.transpose(np.asarray(array), (0, 3, 1, 2))


def prompt_batch(inputs) -> int:
    """The batch size `sam` gives the outputs (spec §11.1): that of any prompt, else 1."""
    for key in ("points", "boxes", "masks"):
        if inputs.get(key) is not None:
            return int(np.shape(inputs[key])[0])
    return 1


def box_corners(boxes):
    """`sam` boxes (B, 4) or (B, M, 4) as corners (B, M, 2, 2) (spec §6.1: (B, 4) is M = 1)."""
    boxes = np.asarray(boxes)
    return np.reshape(boxes, (boxes.shape[0], 1 if boxes.ndim == 2 else boxes.shape[1], 2, 2))


def is_none_output(value) -> bool:
    """A port's output that is Python's None (np.asarray(None) is a 0-d object array)."""
    if value is None:
        return True
    array = np.asarray(value)
    return array.dtype == object and array.shape == () and array.item() is None


# keras-hub `SAMPromptEncoder`: boxes (B, M, 2, 2), masks (B, M, 4h, 4w, 1), NHWC dense outputs


def keras_hub_to_port(inputs, config, explicit_padding=True):
    points, labels, boxes, masks = (inputs[k] for k in ("points", "labels", "boxes", "masks"))
    if explicit_padding and sam_pads(inputs):
        points, labels = append_padding_point(points, labels, np)  # §5.1 for the port
    return {
        "points": points,
        "labels": labels,
        "boxes": None if boxes is None else box_corners(boxes),
        "masks": None if masks is None else np.asarray(masks)[:, :, :, :, None],
    }


def keras_hub_from_port(outputs, config, inputs):
    out = dict(outputs)
    for key in (DENSE, DENSE_PE):
        if key in out and np.ndim(out[key]) == 4:
            out[key] = to_channels_first(out[key])
    return out


# transformers `SamPromptEncoder` (+ `SamModel.get_image_wide_positional_embeddings`)

HF_OUTPUT_NAMES = {"sparse_embeddings": SPARSE, "dense_embeddings": DENSE, "image_positional_embeddings": DENSE_PE}


def hf_to_port(inputs, config):
    points, labels, boxes, masks = (inputs[k] for k in ("points", "labels", "boxes", "masks"))
    return {  # one point batch (P = 1) per image; the box on that point batch (nb = P = 1)
        "input_points": None if points is None else np.asarray(points)[:, None, :, :],
        "input_labels": None if labels is None else np.asarray(labels)[:, None, :],
        "input_boxes": None if boxes is None else np.asarray(boxes)[:, None, :],
        "input_masks": masks,
    }


def hf_from_port(outputs, config, inputs, none_is_empty=True):
    out = {HF_OUTPUT_NAMES.get(k, k): v for k, v in outputs.items()}
    sparse = out.get(SPARSE)
    if none_is_empty and (SPARSE not in out or is_none_output(sparse)):
        # empty_prompt_none: HF returns None where sam returns (B, 0, C), B the dense batch
        dense = np.asarray(out[DENSE])
        out[SPARSE] = np.zeros((dense.shape[0], 0, config["hidden_size"]), dtype=dense.dtype)
    elif not is_none_output(sparse) and np.ndim(sparse) == 4:
        sparse = np.asarray(sparse)
        if sparse.shape[1] != 1:
            raise ValueError(f"sparse output {sparse.shape}: expected one point batch (B, 1, N', C)")
        out[SPARSE] = sparse[:, 0]
    return out


def hf_layout_from_port(outputs, config, inputs):
    """transformers' layout back to `sam`'s, a None sparse output left as it is (`empty_prompt_none` exposed)."""
    return hf_from_port(outputs, config, inputs, none_is_empty=False)


# Meta's `segment_anything/utils/onnx.py` (`SamOnnxModel`): label-encoded prompts

ONNX_OUTPUT_NAMES = {"sparse_embeddings": SPARSE, "dense_embeddings": DENSE, "image_pe": DENSE_PE}


def sam_onnx_to_port(inputs, config, explicit_padding=True):
    points, labels, boxes, masks = (inputs[k] for k in ("points", "labels", "boxes", "masks"))
    batch = prompt_batch(inputs)
    coords, codes = [], []
    if points is not None:
        if explicit_padding and sam_pads(inputs):
            points, labels = append_padding_point(points, labels, np)  # §5.1 for the port
        coords.append(np.asarray(points, dtype=np.float64))
        codes.append(np.asarray(labels, dtype=np.int64))
    if boxes is not None:  # each box's corners as two points labelled 2 (top-left), 3 (bottom-right), after the points
        corners = box_corners(np.asarray(boxes, dtype=np.float64))  # (B, M, 2, 2): tl0, br0, tl1, br1, ... (§6.2)
        coords.append(np.reshape(corners, (corners.shape[0], -1, 2)))
        codes.append(np.tile(np.array([[2, 3]], dtype=np.int64), (corners.shape[0], corners.shape[1])))
    h, w = config["image_embedding_size"]
    return {
        "point_coords": np.concatenate(coords, axis=1) if coords else np.zeros((batch, 0, 2)),
        "point_labels": np.concatenate(codes, axis=1) if codes else np.zeros((batch, 0), dtype=np.int64),
        "mask_input": masks if masks is not None else np.zeros((batch, 1, 4 * h, 4 * w)),
        "has_mask_input": np.array([1.0 if masks is not None else 0.0]),
    }


def sam_onnx_from_port(outputs, config, inputs):
    return {ONNX_OUTPUT_NAMES.get(k, k): v for k, v in outputs.items()}


# onnxruntime's SAM 2 export wrapper (`onnxruntime/transformers/models/sam2/prompt_encoder.py`): Meta's ONNX
# prompt layout under other input names; it appends the padding point itself, to every prompt


def ort_sam2_to_port(inputs, config):
    port = sam_onnx_to_port(inputs, config, explicit_padding=False)
    return {
        "point_coords": port["point_coords"],
        "point_labels": port["point_labels"],
        "input_masks": port["mask_input"],
        "has_input_masks": port["has_mask_input"],
    }
