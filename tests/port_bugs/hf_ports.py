"""Buggy ports built on transformers' ``SamPromptEncoder`` (profile ``hf``): the built-in adapter's
conversion, then one porter's change (a weight-conversion slip, a config default, or a method
patched on the model's prompt encoder instance). The built-in ``trace()`` is kept. Registry: ``bugs.py``."""

from __future__ import annotations

import torch

from samspec.conformance.adapters.transformers import TransformersAdapter

from .patching import on_instance


class HfPort(TransformersAdapter):
    name = "hf-port"

    def convert(self, params):
        return params

    def patch(self, model):
        pass

    def build(self, config, params):
        super().build(config, self.convert(dict(params)))
        self.patch(self.model)


class HfFaithfulGather(HfPort):
    """Faithful: ``_embed_points`` rewritten as one gather from a label table (−10 → zeros, −1 →
    not_a_point, 0/1 → PE + embedding, 2/3 → PE only), as an instance patch."""

    def patch(self, model):
        @on_instance(model.prompt_encoder, "_embed_points")
        def _embed_points(self, points, labels, pad):
            points = points + 0.5
            if pad:
                points = torch.cat([points, points.new_zeros((*points.shape[:2], 1, 2))], dim=2)
                labels = torch.cat([labels, labels.new_full((*labels.shape[:2], 1), -1)], dim=2)
            pe = self.shared_embedding(points, (self.input_image_size, self.input_image_size))
            zeros = torch.zeros_like(self.not_a_point_embed.weight)
            table = torch.cat(
                [zeros, self.not_a_point_embed.weight, self.point_embed[0].weight, self.point_embed[1].weight]
            )
            row = torch.where(labels == -10, 0, torch.where(labels == -1, 1, torch.where(labels <= 1, labels + 2, 0)))
            keep = (labels >= 0)[..., None].to(pe.dtype)
            return pe * keep + table[row]


class HfPointPeNotTied(HfPort):
    """§4.1 weight conversion: the prompt encoder gets its own ``SamPositionalEmbedding`` after loading
    (built from the config, seeded), no longer tied to ``shared_image_embedding``: points and boxes are
    encoded with a fresh Gaussian matrix, the grid with the loaded one."""

    def patch(self, model):
        from transformers.models.sam.modeling_sam import SamPositionalEmbedding

        torch.manual_seed(0)
        model.prompt_encoder.shared_embedding = SamPositionalEmbedding(model.config.vision_config).eval()


class HfGeluNewDefault(HfPort):
    """Wrong default: the config's ``hidden_act`` left at "gelu_new" (transformers' tanh GELU)."""

    def patch(self, model):
        from transformers.activations import ACT2FN

        model.prompt_encoder.mask_embed.activation = ACT2FN["gelu_new"]


class HfPatchSizeDefault(HfPort):
    """Wrong default: the grid size taken from transformers' default patch size, image_size // 16, instead of
    the configured embedding size (equal whenever the image is 16 times the grid)."""

    def patch(self, model):
        config = model.config.prompt_encoder_config
        grid = config.image_size // 16
        config.image_embedding_size = grid
        model.prompt_encoder.image_embedding_size = (grid, grid)


class HfBoxesTransposed(HfPort):
    """§6.1 layout: ``boxes.reshape(B, nb, 2, 2).transpose(-1, -2)``: corners (x1, x2) and (y1, y2)."""

    def patch(self, model):
        @on_instance(model.prompt_encoder, "_embed_boxes")
        def _embed_boxes(self, boxes):
            boxes = boxes + 0.5
            batch_size, nb_boxes = boxes.shape[:2]
            coords = boxes.reshape(batch_size, nb_boxes, 2, 2).transpose(-1, -2)
            corner_embedding = self.shared_embedding(coords, (self.input_image_size, self.input_image_size))
            corner_embedding[:, :, 0, :] += self.point_embed[2].weight
            corner_embedding[:, :, 1, :] += self.point_embed[3].weight
            return corner_embedding


class HfConv2WeightScrambled(HfPort):
    """§9.1 weight conversion: conv 2's weight (Cm, Cm/4, 2, 2) converted by swapping its in and out
    axes and reshaping back to the expected shape (a transpose that was not needed)."""

    def convert(self, params):
        w = params["mask_downscaling.3.weight"]
        params["mask_downscaling.3.weight"] = w.transpose(1, 0, 2, 3).reshape(w.shape)
        return params


class HfNoMaskBatchFromPointAxis(HfPort):
    """§10 batching: the no-mask embedding is expanded to ``input_points.shape[1]`` (the point-batch
    axis P = 1) instead of the image batch."""

    def patch(self, model):
        encoder = model.prompt_encoder
        original = encoder.forward

        @on_instance(encoder, "forward")
        def forward(self, input_points, input_labels, input_boxes, input_masks):
            sparse, dense = original(input_points, input_labels, input_boxes, input_masks)
            if input_masks is None:
                given = input_points if input_points is not None else input_boxes
                batch = 1 if given is None else given.shape[1]
                dense = dense[:1].expand(batch, -1, -1, -1)
            return sparse, dense


class HfTwoBoxesTransposedConv2(HfBoxesTransposed, HfConv2WeightScrambled):
    """Two bugs: §6.1 boxes read (x1, x2), (y1, y2), and §9.1 conv 2's weight scrambled."""


class HfNegativeLabelsNotAPoint(HfPort):
    """§5.2: every negative label gets not_a_point_embed (``labels < 0``), so transformers' padding label
    -10 gives not_a_point_embed instead of an all-zero token."""

    def patch(self, model):
        encoder = model.prompt_encoder
        original = encoder._embed_points

        @on_instance(encoder, "_embed_points")
        def _embed_points(self, points, labels, pad):
            return original(points, torch.where(labels < 0, torch.full_like(labels, -1), labels), pad)


class HfFloat64(HfPort):
    """Faithful: transformers' SamPromptEncoder run in float64 (``.double()``; compute dtype float64)."""

    def __init__(self):
        super().__init__(dtype="float64")


class HfFloat64PeFloat32(HfFloat64):
    """Precision, one stage: a float64 port whose positional embeddings (the shared Gaussian matrix and the
    grid) stay in float32, as Meta's code hard-codes; coordinates are cast to the matrix's dtype."""

    def patch(self, model):
        pe = model.shared_image_embedding
        pe.to(torch.float32)
        original = pe.forward

        @on_instance(pe, "forward")
        def forward(self, input_coords, input_shape=None):
            return original(input_coords.float(), input_shape).double()
