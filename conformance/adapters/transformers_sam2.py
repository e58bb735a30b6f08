"""transformers' SAM 2 prompt encoder (``Sam2PromptEncoder``, transformers 5.24), float32 on the CPU,
profile ``hf_sam2``.

Conversion only: a ``Sam2PromptEncoder`` is built for the case's configuration (no vision backbone
and no mask decoder), samspec's parameters are renamed into it (``point_embed`` is one (4, C)
table: SAM v1's ``point_embeddings.0`` to ``.3`` stacked), and prompts go through its ``forward``.
The dense positional grid is ``Sam2Model.get_image_wide_positional_embeddings``, which reads only
``prompt_encoder`` and ``shared_image_embedding``, called on a namespace holding those two.

Like ``SamPromptEncoder`` it takes one int ``image_size`` and a square grid of ``image_size //
patch_size``. A non-square configuration is built with the longest sides, max(H, W) and max(h, w),
so that the case differs (``square_normalisation``, ``square_embedding_grid``; n/a under ``hf_sam2``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from samspec.reference.checkpoints import HF, HF_SHARED_PE, HF_TIED_PE

from . import TorchAdapter

POINT_ROWS = tuple(f"point_embeddings.{i}.weight" for i in range(4))  # rows 0..3 of point_embed
# samspec parameter name (SAM v1) -> Sam2PromptEncoder state_dict name: SamPromptEncoder's names
# (the checkpoint reader's), the Gaussian matrix under the encoder's own handle; point_embed below
PARAM_NAMES = {name: HF_TIED_PE if key == HF_SHARED_PE else key for name, key in HF.items() if name not in POINT_ROWS}
POINT_EMBED = "point_embed.weight"


# transformers' SAM 2 family: model folder -> class-name prefix. They share Sam2PromptEncoder's code
# ("Copied from" / modular): EdgeTAM (image and video), SAM 2 video, SAM 3 tracker (image and video).
FAMILY = {
    "sam2": "Sam2",
    "sam2_video": "Sam2Video",
    "edgetam": "EdgeTam",
    "edgetam_video": "EdgeTamVideo",
    "sam3_tracker": "Sam3Tracker",
    "sam3_tracker_video": "Sam3TrackerVideo",
}


def family_class(family: str, kind: str, suffix: str):
    """``transformers.models.<family>.<kind>_<family>.<Prefix><suffix>``, e.g. ("edgetam", "modeling",
    "PromptEncoder") -> EdgeTamPromptEncoder."""
    from .transformers import family_class as sam_family_class

    return sam_family_class(family, kind, suffix, FAMILY)


def sam2_prompt_config(
    hidden_size, image_size, image_embedding_size, mask_in_channels, activation="gelu", family="sam2"
):
    """A ``Sam2PromptEncoderConfig`` (or the family's) whose grid is ``image_embedding_size``
    (= image_size // patch_size)."""
    Sam2PromptEncoderConfig = family_class(family, "configuration", "PromptEncoderConfig")

    patch_size = max(1, image_size // image_embedding_size)
    if image_size // patch_size != image_embedding_size:
        raise ValueError(
            f"transformers Sam2PromptEncoder: a grid of {image_embedding_size} needs image_size // patch_size = "
            f"{image_embedding_size}; image_size {image_size} gives {image_size // patch_size}"
        )
    return Sam2PromptEncoderConfig(
        hidden_size=hidden_size,
        image_size=image_size,
        patch_size=patch_size,
        mask_input_channels=mask_in_channels,
        hidden_act=activation,
        layer_norm_eps=1e-6,
    )


def sam2_state_dict(params: dict) -> dict:
    """samspec's parameters (SAM v1 names) as a Sam2PromptEncoder state dict (NumPy arrays)."""
    state = {PARAM_NAMES[name]: np.asarray(value) for name, value in params.items() if name in PARAM_NAMES}
    state[POINT_EMBED] = np.concatenate([np.asarray(params[name]) for name in POINT_ROWS], axis=0)
    return state


class TransformersSam2Adapter(TorchAdapter):
    """``Sam2PromptEncoder``; ``family`` picks another member of transformers' SAM 2 family (FAMILY)."""

    name = "transformers-sam2"
    profile = "hf_sam2"
    family = "sam2"

    def build(self, config, params):
        torch = self._load_torch()
        prompt_config = sam2_prompt_config(
            config["hidden_size"],
            max(config["input_image_size"]),
            max(config["image_embedding_size"]),
            config["mask_in_channels"],
            config.get("activation", "gelu"),
            self.family,
        )
        # in the port's dtype before loading: the float64 parameters are rounded once, to that dtype
        encoder = family_class(self.family, "modeling", "PromptEncoder")(prompt_config).to(dtype=self.dtype)
        state = {k: torch.as_tensor(v) for k, v in sam2_state_dict(params).items()}
        encoder.load_state_dict(state, strict=True)
        shared = family_class(self.family, "modeling", "PositionalEmbedding")(prompt_config)  # the model's shared one
        shared = shared.to(dtype=self.dtype)
        shared.load_state_dict({"positional_embedding": state["shared_embedding.positional_embedding"]}, strict=True)
        self.encoder = encoder.to(device=self.device).eval()
        self.grid_owner = SimpleNamespace(
            prompt_encoder=self.encoder, shared_image_embedding=shared.to(device=self.device).eval()
        )

    def trace(self, input_points, input_labels, input_boxes, input_masks):
        """The stages of one call (`samspec check --trace`): the transformers adapter's hooks around ``run``."""
        from .transformers import trace_hf_encoder

        positional = (self.encoder.shared_embedding, self.grid_owner.shared_image_embedding)
        call = lambda: self.run(input_points, input_labels, input_boxes, input_masks)  # noqa: E731
        return trace_hf_encoder(self.encoder, positional, call)

    def run(self, input_points, input_labels, input_boxes, input_masks):
        model_class = family_class(self.family, "modeling", "Model")
        torch = self.torch
        with torch.no_grad():
            sparse, dense = self.encoder(
                input_points=self._tensor(input_points),
                input_labels=self._tensor(input_labels, torch.int64),
                input_boxes=self._tensor(input_boxes),
                input_masks=self._tensor(input_masks),
            )
            grid = model_class.get_image_wide_positional_embeddings(self.grid_owner)
        return {
            "sparse_embeddings": None if sparse is None else sparse.detach().cpu().numpy(),
            "dense_embeddings": dense.detach().cpu().numpy(),
            "image_positional_embeddings": grid.detach().cpu().numpy(),
        }


class EdgeTamAdapter(TransformersSam2Adapter):
    name, family = "transformers-edgetam", "edgetam"


class EdgeTamVideoAdapter(TransformersSam2Adapter):
    name, family = "transformers-edgetam-video", "edgetam_video"


class Sam2VideoAdapter(TransformersSam2Adapter):
    name, family = "transformers-sam2-video", "sam2_video"


class Sam3TrackerAdapter(TransformersSam2Adapter):
    name, family = "transformers-sam3-tracker", "sam3_tracker"


class Sam3TrackerVideoAdapter(TransformersSam2Adapter):
    name, family = "transformers-sam3-tracker-video", "sam3_tracker_video"
