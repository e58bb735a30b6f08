"""The built-in profiles, as data (docs/profiles.md): one ``Profile`` per real port's conventions,
and a layout-only twin (``*_layout``) that converts layout and names only and keeps `sam`'s
semantics. A new profile is one more entry of ``PROFILES``."""

from __future__ import annotations

from dataclasses import replace

from .conversions import (
    hf_from_port,
    hf_layout_from_port,
    hf_to_port,
    keras_hub_from_port,
    keras_hub_to_port,
    ort_sam2_to_port,
    sam_onnx_from_port,
    sam_onnx_to_port,
)
from .model import Profile

# several boxes per image (fixture boxes (B, M, 4), M != 1, spec §6.1): why a port cannot take them as one sequence
_ONE_BOX_META = (
    "{port} takes one box per image: `_embed_boxes` reshapes boxes to (-1, 2, 2), so (B, M, 4) "
    "gives B·M separate boxes, not one image's token sequence of M boxes"
)
_ONE_BOX_HF = (
    "transformers puts boxes (B, nb, 4) on the point-batch axis: each box is a prompt of its own "
    "(hf_boxes_on_point_batch), so several boxes cannot share one image's token sequence"
)
_ONE_BOX_ORT = (
    "onnxruntime's SAM 2 wrapper takes box corners as points and appends one padding point per prompt, not per "
    "box: several boxes give tl0, br0, tl1, br1, ..., then one not-a-point token, which neither §6.2 nor §6.3 states"
)
_ONE_BOX_SAM2 = _ONE_BOX_META.format(port="the PromptEncoder of sam2 and of ultralytics")
_KERAS_NOTES = {
    "labels_2_3_foreground": (
        "keras-hub gives labels 2 and 3 the foreground embedding; SAM v1 gives them none, and no "
        "keras-hub input expresses 'positional encoding only'"
    ),
    "empty_prompt_crash": "keras-hub needs at least one prompt to know the batch size (it raises IndexError)",
}
_HF_NOTES = {
    "square_normalisation": (
        "transformers' SamPromptEncoder divides x and y by one image_size S (square images only); "
        "this case's image is H != W and its tokens depend on coordinates"
    ),
    "square_embedding_grid": (
        "transformers' image_embedding_size is one int (a square grid); this case's grid is h != w"
    ),
    "one_box_per_prompt": _ONE_BOX_HF,
}
_HF_SAM2_NOTES = {
    "square_normalisation": _HF_NOTES["square_normalisation"].replace("SamPromptEncoder", "Sam2PromptEncoder"),
    "square_embedding_grid": (
        "transformers' Sam2PromptEncoder builds a square grid, image_size // patch_size on both sides; this "
        "case's grid is h != w"
    ),
    "one_box_per_prompt": _ONE_BOX_HF,
}
_LAYOUT_NOTES = {
    "hf_minus_10_label": (
        "label -10 means 'padding, all zeros' in transformers; SAM v1 gives it no meaning (the reference "
        "refuses it under sam semantics), so no expected value exists"
    ),
    "one_box_per_prompt": _ONE_BOX_HF,
}
_ONNX_NOTES = {
    "square_normalisation": (
        "SamOnnxModel divides x and y by one img_size (square images only); this case's image is "
        "H != W and its tokens depend on coordinates"
    ),
}

_KERAS_DIVERGENCES = (
    "channels_last",
    "corner_boxes",
    "masks_per_image_axis",
    "no_padding_point",
    "labels_2_3_foreground",
    "empty_prompt_crash",
)
_HF_DIVERGENCES = (
    "point_batch_axis",
    "hf_boxes_on_point_batch",
    "empty_prompt_none",
    "square_normalisation",
    "square_embedding_grid",
    "hf_minus_10_label",
    "one_box_per_prompt",
)
_ONNX_DIVERGENCES = ("onnx_mask_blend", "no_padding_point", "corner_labels", "square_normalisation")
_ORT_SAM2_NOTES = {
    "square_normalisation": (
        "onnxruntime's SAM2PromptEncoder divides x and y by one image_size (square images only); this case's "
        "image is H != W and its tokens depend on coordinates"
    ),
    "one_box_per_prompt": _ONE_BOX_ORT,
}
_ORT_SAM2_DIVERGENCES = (
    "onnx_mask_blend",
    "corner_labels",
    "box_not_a_point_token",
    "square_normalisation",
    "empty_prompt_padding_token",
    "one_box_per_prompt",
)
_HF_SAM2_DIVERGENCES = (
    "point_batch_axis",
    "hf_boxes_on_point_batch",
    "empty_prompt_none",
    "square_normalisation",
    "square_embedding_grid",
    "corner_labels",
    "hf_minus_10_label",
    "box_not_a_point_token",
    "one_box_per_prompt",
)


PROFILES = {
    "sam": Profile(
        name="sam",
        description=(
            "Meta's SAM v1 PromptEncoder: the fixtures' own conventions; nothing is converted; one box per "
            "image (several boxes per image are n/a)."
        ),
        divergences=("one_box_per_prompt",),
        notes={"one_box_per_prompt": _ONE_BOX_META.format(port="Meta's SAM v1 PromptEncoder")},
        excluded=("one_box_per_prompt",),
        port="segment-anything",
    ),
    "keras_hub": Profile(
        name="keras_hub",
        description=(
            "keras_hub.layers.SAMPromptEncoder: boxes (B, M, 2, 2), masks (B, M, 4h, 4w, 1), NHWC dense "
            "outputs; the caller appends SAM's padding point; labels 2/3 cannot be expressed."
        ),
        divergences=_KERAS_DIVERGENCES,
        to_port_fn=keras_hub_to_port,
        from_port_fn=keras_hub_from_port,
        notes=_KERAS_NOTES,
        excluded=("labels_2_3_foreground", "empty_prompt_crash"),
        port="keras-hub",
    ),
    "keras_hub_layout": Profile(
        name="keras_hub_layout",
        description=(
            "keras-hub's layout (boxes (B, 1, 2, 2), masks (B, 1, 4h, 4w, 1), NHWC outputs) with SAM v1's "
            "semantics: no padding point is added for the port, labels and empty prompts pass through."
        ),
        divergences=("channels_last", "corner_boxes", "masks_per_image_axis"),
        to_port_fn=lambda inputs, config: keras_hub_to_port(inputs, config, explicit_padding=False),
        from_port_fn=keras_hub_from_port,
        exposed=("no_padding_point", "labels_2_3_foreground", "empty_prompt_crash"),
        port="keras-hub",
        layout_of="keras_hub",
    ),
    "hf": Profile(
        name="hf",
        description=(
            "transformers SamPromptEncoder: points (B, 1, N, 2), labels (B, 1, N), boxes (B, 1, 4), masks "
            "(B, 1, 4h, 4w); sparse (B, 1, N', C) back to (B, N', C) and None back to (B, 0, C); square "
            "images and grids only; semantics `hf`: SAM v1's, and label -10 gives zeros."
        ),
        divergences=_HF_DIVERGENCES,
        to_port_fn=hf_to_port,
        from_port_fn=hf_from_port,
        notes=_HF_NOTES,
        excluded=("square_normalisation", "square_embedding_grid", "one_box_per_prompt"),
        computed=("hf_minus_10_label",),
        semantics="hf",
        port="transformers",
    ),
    "hf_layout": Profile(
        name="hf_layout",
        description=(
            "transformers' layout (the point-batch axis, boxes (B, 1, 4), output names) with SAM v1's "
            "semantics: every case SAM v1 can express runs, a None sparse output is not converted; label -10 "
            "has no SAM v1 meaning (n/a)."
        ),
        divergences=("point_batch_axis", "hf_boxes_on_point_batch", "hf_minus_10_label", "one_box_per_prompt"),
        to_port_fn=hf_to_port,
        from_port_fn=hf_layout_from_port,
        notes=_LAYOUT_NOTES,
        excluded=("hf_minus_10_label", "one_box_per_prompt"),
        exposed=("square_normalisation", "square_embedding_grid", "empty_prompt_none"),
        port="transformers",
        layout_of="hf",
    ),
    "sam_onnx": Profile(
        name="sam_onnx",
        description=(
            "Meta's ONNX prompt layout (utils/onnx.py): point_coords (B, N, 2) with the box corners appended "
            "as points labelled 2 and 3, point_labels, mask_input (B, 1, 4h, 4w) and has_mask_input; the "
            "padding point is appended for the port; square images only. Semantics `sam2`: labels 2 and 3 "
            "add the corner embeddings."
        ),
        divergences=_ONNX_DIVERGENCES,
        to_port_fn=sam_onnx_to_port,
        from_port_fn=sam_onnx_from_port,
        notes=_ONNX_NOTES,
        excluded=("square_normalisation",),
        computed=("corner_labels",),
        semantics="sam2",
        port="onnxruntime",
    ),
    "sam_onnx_layout": Profile(
        name="sam_onnx_layout",
        description=(
            "Meta's ONNX prompt layout with SAM v1's semantics: no padding point is added for the port, "
            "point labels pass through, every image size runs."
        ),
        divergences=("onnx_mask_blend",),
        to_port_fn=lambda inputs, config: sam_onnx_to_port(inputs, config, explicit_padding=False),
        from_port_fn=sam_onnx_from_port,
        exposed=("no_padding_point", "corner_labels", "square_normalisation"),
        port="onnxruntime",
        layout_of="sam_onnx",
    ),
    "ort_sam2": Profile(
        name="ort_sam2",
        description=(
            "onnxruntime's SAM 2 export wrapper (onnxruntime/transformers/models/sam2/prompt_encoder.py): "
            "Meta's ONNX prompt layout (box corners as points labelled 2 and 3, after the points) under the "
            "names point_coords, point_labels, input_masks, has_input_masks; square images only. Semantics "
            "`ort_sam2`: labels 2 and 3 add the corner embeddings, and the padding point it appends to every "
            "prompt follows a box's corners as §6.3's trailing not-a-point token and is an empty prompt's one token."
        ),
        divergences=_ORT_SAM2_DIVERGENCES,
        to_port_fn=ort_sam2_to_port,
        from_port_fn=sam_onnx_from_port,
        notes=_ORT_SAM2_NOTES,
        excluded=("square_normalisation", "one_box_per_prompt"),
        computed=("corner_labels", "box_not_a_point_token", "empty_prompt_padding_token"),
        semantics="ort_sam2",
        port="onnxruntime-sam2",
    ),
    "ort_sam2_layout": Profile(
        name="ort_sam2_layout",
        description=(
            "onnxruntime's SAM 2 prompt layout with SAM v1's semantics: point labels pass through, every "
            "image size and the empty prompt run."
        ),
        divergences=("onnx_mask_blend", "one_box_per_prompt"),
        to_port_fn=ort_sam2_to_port,
        from_port_fn=sam_onnx_from_port,
        notes={"one_box_per_prompt": _ONE_BOX_ORT},
        excluded=("one_box_per_prompt",),
        exposed=("corner_labels", "box_not_a_point_token", "square_normalisation", "empty_prompt_padding_token"),
        port="onnxruntime-sam2",
        layout_of="ort_sam2",
    ),
    "sam2": Profile(
        name="sam2",
        description=(
            "Meta's sam2 1.1.0 PromptEncoder and ultralytics' SAM PromptEncoder: SAM v1's layout and padding; "
            "semantics `sam2`: labels 2 and 3 add the corner embeddings point_embeddings.2/.3."
        ),
        divergences=("corner_labels", "one_box_per_prompt"),
        notes={"one_box_per_prompt": _ONE_BOX_SAM2},
        excluded=("one_box_per_prompt",),
        computed=("corner_labels",),
        semantics="sam2",
        port="sam2",
    ),
    "sam2_layout": Profile(
        name="sam2_layout",
        description="sam2's layout (SAM v1's own) with SAM v1's semantics: labels 2 and 3 pass through.",
        divergences=("one_box_per_prompt",),
        notes={"one_box_per_prompt": _ONE_BOX_SAM2},
        excluded=("one_box_per_prompt",),
        exposed=("corner_labels",),
        port="sam2",
        layout_of="sam2",
    ),
}

# transformers' SAM 2 family: hf's layout and conversions, its own semantics (§5.2 corner labels, -10 -> zeros,
# §6.3's third box token); the layout twin keeps hf_layout's handling and exposes those too
PROFILES["hf_sam2"] = replace(
    PROFILES["hf"],
    name="hf_sam2",
    description=(
        "transformers Sam2PromptEncoder (and the transformers SAM-family encoders that share its code): "
        "hf's layout (points (B, 1, N, 2), labels (B, 1, N), boxes (B, 1, 4); sparse (B, 1, N', C) back to "
        "(B, N', C), None back to (B, 0, C)); square images and grids only; semantics `hf_sam2`: labels 2 "
        "and 3 add the corner embeddings, label -10 gives zeros, each box gives a third token, not_a_point."
    ),
    divergences=_HF_SAM2_DIVERGENCES,
    notes=_HF_SAM2_NOTES,
    computed=("corner_labels", "hf_minus_10_label", "box_not_a_point_token"),
    semantics="hf_sam2",
    port="transformers-sam2",
)
PROFILES["hf_sam2_layout"] = replace(
    PROFILES["hf_layout"],
    name="hf_sam2_layout",
    description=(
        "transformers' SAM 2 layout (the point-batch axis, boxes (B, 1, 4), output names) with SAM v1's "
        "semantics: every case SAM v1 can express runs, a None sparse output is not converted; label -10 "
        "has no SAM v1 meaning (n/a)."
    ),
    exposed=PROFILES["hf_layout"].exposed + ("corner_labels", "box_not_a_point_token"),
    port="transformers-sam2",
    layout_of="hf_sam2",
)


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"profile: expected one of {sorted(PROFILES)}; received {name!r}")
    return PROFILES[name]
