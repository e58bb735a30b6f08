"""Buggy ports built on Meta's sam2 ``PromptEncoder`` (sam2 1.1.0, profile ``sam2``: labels 2 and 3
add the corner embeddings): the built-in adapter, then one porter's change. Registry: ``bugs.py``."""

from __future__ import annotations

import torch

from samspec.conformance.adapters.sam2 import Sam2Adapter

from .patching import on_instance


class Sam2Port(Sam2Adapter):
    name = "sam2-port"

    def convert(self, params):
        return params

    def patch(self, encoder):
        pass

    def build(self, config, params):
        super().build(config, self.convert(dict(params)))
        self.patch(self.encoder)


class Sam2FaithfulTable(Sam2Port):
    """Faithful: ``_embed_points`` as one gather from a (5, C) table (-1, 0, 1, 2, 3) and a keep mask."""

    def patch(self, encoder):
        @on_instance(encoder, "_embed_points")
        def _embed_points(self, points, labels, pad):
            points = points + 0.5
            if pad:
                points = torch.cat([points, points.new_zeros((points.shape[0], 1, 2))], dim=1)
                labels = torch.cat([labels, labels.new_full((labels.shape[0], 1), -1)], dim=1)
            pe = self.pe_layer.forward_with_coords(points, self.input_image_size)
            rows = [self.not_a_point_embed.weight] + [self.point_embeddings[i].weight for i in range(4)]
            table = torch.cat(rows)
            keep = (labels != -1)[..., None].to(pe.dtype)
            return pe * keep + table[labels + 1]


class Sam2CornerLabelsSwapped(Sam2Port):
    """§5.2: point labels 2 and 3 look up ``point_embeddings[5 - label]`` (2 gets the bottom-right row, 3
    the top-left one); boxes are unaffected."""

    def patch(self, encoder):
        @on_instance(encoder, "_embed_points")
        def _embed_points(self, points, labels, pad):
            points = points + 0.5
            if pad:
                points = torch.cat([points, torch.zeros((points.shape[0], 1, 2))], dim=1)
                labels = torch.cat([labels, -torch.ones((labels.shape[0], 1), dtype=labels.dtype)], dim=1)
            pe = self.pe_layer.forward_with_coords(points, self.input_image_size)
            pe = torch.where((labels == -1).unsqueeze(-1), torch.zeros_like(pe) + self.not_a_point_embed.weight, pe)
            for label, row in ((0, 0), (1, 1), (2, 3), (3, 2)):
                pe = torch.where((labels == label).unsqueeze(-1), pe + self.point_embeddings[row].weight, pe)
            return pe


class Sam2NoPaddingForZeroPoints(Sam2Port):
    """§5.1: skips the padding point when the point list is empty (``pad and points.shape[1] > 0``), so
    points of shape (B, 0, 2) give no token instead of the padding token."""

    def patch(self, encoder):
        original = encoder._embed_points

        @on_instance(encoder, "_embed_points")
        def _embed_points(self, points, labels, pad):
            return original(points, labels, pad and points.shape[1] > 0)


class Sam2BoxesShiftedTwice(Sam2Port):
    """§3.1/§6.1: the port's box path adds the pixel-centre 0.5 before calling the encoder's ``_embed_boxes``,
    which adds it again (boxes moved by a whole pixel; points are right)."""

    def patch(self, encoder):
        original = encoder._embed_boxes

        @on_instance(encoder, "_embed_boxes")
        def _embed_boxes(self, boxes):
            return original(boxes + 0.5)


class Sam2NoMaskFromNotAPoint(Sam2Port):
    """§10 weight conversion: a key-map typo loads ``no_mask_embed`` from ``not_a_point_embed``."""

    def convert(self, params):
        params["no_mask_embed.weight"] = params["not_a_point_embed.weight"]
        return params


class Sam2GridSizeSwapped(Sam2Port):
    """§8.2: ``get_dense_pe`` asks the positional layer for the grid (w, h) instead of (h, w)."""

    def patch(self, encoder):
        @on_instance(encoder, "get_dense_pe")
        def get_dense_pe(self):
            h, w = self.image_embedding_size
            return self.pe_layer((w, h)).unsqueeze(0)


class Sam2PointsFloat16(Sam2Port):
    """Precision, one stage: point and box pixel coordinates handed to the encoder as float16 tensors
    ("half the memory") and cast back by the encoder's float32 projection."""

    def _tensor(self, value, dtype=None):
        tensor = super()._tensor(value, dtype)
        if tensor is not None and dtype is None and tensor.ndim in (2, 3) and tensor.shape[-1] in (2, 4):
            return tensor.half().float()
        return tensor


class Sam2TwoCornerLabelsNoMask(Sam2CornerLabelsSwapped, Sam2NoMaskFromNotAPoint):
    """Two bugs: §5.2 labels 2 and 3 swapped, and §10 no_mask_embed loaded from not_a_point_embed."""
