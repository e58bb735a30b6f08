"""transformers' SAM (`SamModel.prompt_encoder`, a `SamPromptEncoder`), float32 on the CPU, profile `hf`.

Conversion only: a small `SamModel` is built for the case's configuration (the vision encoder and
mask decoder are tiny and never run), samspec's parameters are renamed into it, and prompts go
through `SamModel.get_prompt_embeddings`; the dense positional grid is
`SamModel.get_image_wide_positional_embeddings()`, as `SamModel.forward` computes it.

transformers takes one int `image_size` and one int `image_embedding_size` (square only). For a
non-square configuration the model is built with the longest sides, max(H, W) and max(h, w) — what
`SamProcessor` does by resizing the longest side and padding to a square — so the case differs
(divergences `square_normalisation`, `square_embedding_grid`); the `hf` profile marks such cases n/a.
"""

from __future__ import annotations

import numpy as np

from samspec.reference.checkpoints import HF, HF_SHARED_PE, HF_TIED_PE

from . import TorchAdapter

# samspec parameter name (SAM v1) -> SamModel state_dict name (the checkpoint reader's names, in a SamModel)
PARAM_NAMES = {name: key if key == HF_SHARED_PE else f"prompt_encoder.{key}" for name, key in HF.items()}
# the prompt encoder's own handle on the shared Gaussian matrix (tied to shared_image_embedding)
TIED_PE = f"prompt_encoder.{HF_TIED_PE}"


def sam_config(hidden_size, image_size, image_embedding_size, mask_in_channels, activation="gelu"):
    """A `transformers.SamConfig` whose prompt encoder has this configuration; the vision encoder
    and mask decoder are as small as transformers allows (they are built, never run)."""
    from transformers import SamConfig
    from transformers.models.sam.configuration_sam import (
        SamMaskDecoderConfig,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    vision = SamVisionConfig(
        hidden_size=8, output_channels=hidden_size, num_hidden_layers=1, num_attention_heads=1, mlp_dim=8,
        image_size=32, patch_size=16, global_attn_indexes=[0], window_size=2, num_pos_feats=hidden_size // 2,
    )
    prompt = SamPromptEncoderConfig(
        hidden_size=hidden_size, image_size=image_size, patch_size=max(1, image_size // image_embedding_size),
        mask_input_channels=mask_in_channels, hidden_act=activation, layer_norm_eps=1e-6,
    )
    decoder = SamMaskDecoderConfig(
        hidden_size=hidden_size, num_hidden_layers=1, num_attention_heads=1, mlp_dim=8, iou_head_hidden_dim=8,
    )
    config = SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)
    config.prompt_encoder_config.image_embedding_size = image_embedding_size  # image_size // patch_size otherwise
    return config


class TransformersAdapter(TorchAdapter):
    name = "transformers"
    profile = "hf"

    def build(self, config, params):
        torch = self._load_torch()
        from transformers import SamModel

        image_size = max(config["input_image_size"])  # one int: square only (see the module docstring)
        grid = max(config["image_embedding_size"])
        model = SamModel(
            sam_config(config["hidden_size"], image_size, grid, config["mask_in_channels"], config.get("activation", "gelu"))
        )
        state = {PARAM_NAMES[name]: torch.as_tensor(np.asarray(value)) for name, value in params.items()}
        state[TIED_PE] = state["shared_image_embedding.positional_embedding"]
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if k.startswith(("prompt_encoder.", "shared_image_embedding."))]
        if missing or unexpected:
            raise ValueError(f"transformers SamModel: missing {missing}, unexpected {unexpected}")
        self.model = model.to(device=self.device, dtype=self.dtype).eval()

    def run(self, input_points, input_labels, input_boxes, input_masks):
        torch = self.torch
        with torch.no_grad():
            sparse, dense = self.model.get_prompt_embeddings(
                input_points=self._tensor(input_points),
                input_labels=self._tensor(input_labels, torch.int64),
                input_boxes=self._tensor(input_boxes),
                input_masks=self._tensor(input_masks),
            )
            grid = self.model.get_image_wide_positional_embeddings()
        return {
            "sparse_embeddings": None if sparse is None else sparse.detach().cpu().numpy(),
            "dense_embeddings": dense.detach().cpu().numpy(),
            "image_positional_embeddings": grid.detach().cpu().numpy(),
        }
