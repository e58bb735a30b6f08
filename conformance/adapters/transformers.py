"""transformers' SAM (`SamModel.prompt_encoder`, a `SamPromptEncoder`), float32 on the CPU, profile `hf`;
``SamHQAdapter``: SAM-HQ (`SamHQModel.prompt_encoder`, a `SamHQPromptEncoder`, the same code), profile `hf`.

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


HF_MASK_MODULES = (
    ("conv1", "conv1"),
    ("layer_norm1", "norm1"),
    ("conv2", "conv2"),
    ("layer_norm2", "norm2"),
    ("conv3", "conv3"),
)  # mask_embed submodule -> the reference's stage (activation: act1, act2)


def trace_hf_encoder(encoder, positional_modules, call) -> dict:
    """{stage name: NumPy array, in the reference's layout} recorded while ``call()`` runs a
    transformers ``SamPromptEncoder`` or ``Sam2PromptEncoder`` (``encoder``) and the dense grid
    (`samspec check --trace`; spec §11.4). Forward hooks on the positional-embedding modules
    (``positional_modules``: the encoder's and the model's shared one) and on ``mask_embed``'s
    submodules; ``_embed_points`` and ``_embed_boxes`` are wrapped on the instance while it runs
    (methods, not modules) and restored exactly (``trace_hooks.InstancePatches``: the port's own
    instance attributes stay). A port that raises gets a ``TraceFailure`` naming the stage it was
    computing. Conversion only: the point-batch axis P = 1 is dropped, a box's K tokens (2, or 3 for
    SAM 2) are laid out as (B, K·M, C), NCHW maps become NHWC; a stage whose layout differs is kept
    as the port gave it (the comparison names its shape)."""
    from .trace_hooks import InstancePatches, StageTracker, channels_last, token_recorder

    tracker, context, hooks, activations, patches = StageTracker(), [], [], [], InstancePatches()
    stages = tracker.stages

    def record_pe(module, inputs, output):
        prefix = context[-1] if context else "dense_pe"
        if prefix == "dense_pe":
            tracker.record("dense_pe.cell_centres", inputs[0])
            tracker.record("dense_pe.grid", output)
        else:
            tracker.record(f"{prefix}.positional_encoding", output)

    def record_activation(module, inputs, output):
        try:
            activations.append(channels_last(output.detach().cpu().clone().numpy()))
        except Exception:  # not an NCHW tensor: not recorded
            pass

    mask = encoder.mask_embed
    try:
        for name, prefix in (("_embed_points", "points"), ("_embed_boxes", "boxes")):
            patches.set(encoder, name, token_recorder(encoder, name, prefix, context, stages, tracker))
        for module in {id(m): m for m in positional_modules}.values():
            hooks.append(module.register_forward_hook(record_pe))
        tracker.watch_mask_input(mask, hooks)
        for name, stage in HF_MASK_MODULES:
            tracker.watch(getattr(mask, name), f"mask.{stage}", hooks, channels_last)
        hooks.append(mask.activation.register_forward_hook(record_activation))
        call()
    except Exception as exc:
        raise tracker.failure(exc) from exc
    finally:
        for hook in hooks:
            hook.remove()
        patches.restore()
    _hf_layout(stages, activations)
    return stages


def _hf_layout(stages, activations):
    """transformers' traced stages in the reference's layout, in place (see ``trace_hf_encoder``)."""
    for stage, value in zip(("mask.act1", "mask.act2"), activations):
        stages[stage] = value
    for key in ("points.tokens", "points.positional_encoding"):  # (B, P=1, N', ·) -> (B, N', ·)
        if key in stages and stages[key].ndim >= 3 and stages[key].shape[1] == 1:
            stages[key] = stages[key][:, 0]
    if "boxes.tokens" in stages and stages["boxes.tokens"].ndim == 4:  # (B, nb, K, C) -> (B, K·nb, C)
        tokens = stages["boxes.tokens"]
        stages["boxes.tokens"] = tokens.reshape(tokens.shape[0], -1, tokens.shape[-1])
    pe = stages.get("boxes.positional_encoding")
    if pe is not None and pe.ndim == 4:  # the corners' PE (B, nb, 2, C)
        stages["boxes.positional_encoding"] = pe[:, :, :2]


# transformers' SAM v1 family: model folder -> class-name prefix (SamHQPromptEncoder is SamPromptEncoder's code)
FAMILY = {"sam": "Sam", "sam_hq": "SamHQ"}


def family_class(family: str, kind: str, suffix: str, families: dict = FAMILY):
    """``transformers.models.<family>.<kind>_<family>.<Prefix><suffix>``, the prefix from ``families``,
    e.g. ("sam_hq", "modeling", "Model") -> SamHQModel."""
    import importlib

    if family not in families:
        raise ValueError(f"family: expected one of {sorted(families)}; received {family!r}")
    module = importlib.import_module(f"transformers.models.{family}.{kind}_{family}")
    return getattr(module, f"{families[family]}{suffix}")


def sam_config(hidden_size, image_size, image_embedding_size, mask_in_channels, activation="gelu", family="sam"):
    """A `transformers.SamConfig` (or the family's: `SamHQConfig`) whose prompt encoder has this
    configuration; the vision encoder and mask decoder are as small as transformers allows (they are
    built, never run)."""

    def config_class(suffix):
        return family_class(family, "configuration", suffix)

    vision = config_class("VisionConfig")(
        hidden_size=8,
        output_channels=hidden_size,
        num_hidden_layers=1,
        num_attention_heads=1,
        mlp_dim=8,
        image_size=32,
        patch_size=16,
        global_attn_indexes=[0],
        window_size=2,
        num_pos_feats=hidden_size // 2,
    )
    prompt = config_class("PromptEncoderConfig")(
        hidden_size=hidden_size,
        image_size=image_size,
        patch_size=max(1, image_size // image_embedding_size),
        mask_input_channels=mask_in_channels,
        hidden_act=activation,
        layer_norm_eps=1e-6,
    )
    decoder = config_class("MaskDecoderConfig")(
        hidden_size=hidden_size,
        num_hidden_layers=1,
        num_attention_heads=1,
        mlp_dim=8,
        iou_head_hidden_dim=8,
        **({"vit_dim": vision.hidden_size} if family == "sam_hq" else {}),  # SAM-HQ's decoder reads ViT features
    )
    config = config_class("Config")(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)
    config.prompt_encoder_config.image_embedding_size = image_embedding_size  # image_size // patch_size otherwise
    return config


class TransformersAdapter(TorchAdapter):
    """``SamModel``'s prompt encoder; ``family`` picks another member of transformers' SAM v1 family (FAMILY)."""

    name = "transformers"
    profile = "hf"
    family = "sam"

    def build(self, config, params):
        torch = self._load_torch()

        image_size = max(config["input_image_size"])  # one int: square only (see the module docstring)
        grid = max(config["image_embedding_size"])
        activation = config.get("activation", "gelu")
        model = family_class(self.family, "modeling", "Model")(
            sam_config(config["hidden_size"], image_size, grid, config["mask_in_channels"], activation, self.family)
        ).to(dtype=self.dtype)  # before loading: the float64 parameters are rounded once, to the port's dtype
        state = {PARAM_NAMES[name]: torch.as_tensor(np.asarray(value)) for name, value in params.items()}
        state[TIED_PE] = state["shared_image_embedding.positional_embedding"]
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if k.startswith(("prompt_encoder.", "shared_image_embedding."))]
        if missing or unexpected:
            raise ValueError(f"transformers {type(model).__name__}: missing {missing}, unexpected {unexpected}")
        self.model = model.to(device=self.device).eval()

    def trace(self, input_points, input_labels, input_boxes, input_masks):
        """The stages of one call (`samspec check --trace`): ``trace_hf_encoder`` around ``run``."""
        encoder = self.model.prompt_encoder
        positional = (encoder.shared_embedding, self.model.shared_image_embedding)
        return trace_hf_encoder(
            encoder, positional, lambda: self.run(input_points, input_labels, input_boxes, input_masks)
        )

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


class SamHQAdapter(TransformersAdapter):
    """SAM-HQ's prompt encoder (``SamHQModel.prompt_encoder``): SamPromptEncoder's code under other class
    names, so the same conversion and profile ``hf``."""

    name, family = "transformers-sam-hq", "sam_hq"
