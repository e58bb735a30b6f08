"""Buggy ports of Meta's SAM v1 ``PromptEncoder`` (segment-anything 1.0, float32, profile ``sam``):
each adapter builds Meta's encoder and then changes one thing the way a porter does, by a subclass
of Meta's class or a monkeypatch on the built instance (an instance attribute, which tracing must
leave in place). The adapters keep the built-in adapter's ``trace()``. Registry: ``bugs.py``."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from samspec.conformance.adapters.segment_anything import SegmentAnythingAdapter, load_prompt_encoder_class

from .patching import on_instance

PromptEncoder = load_prompt_encoder_class()


class MetaPort(SegmentAnythingAdapter):
    """Meta's encoder, then ``patch(encoder)``; ``convert(params)`` renames weights before loading."""

    name = "meta-port"
    encoder_class = None

    def convert(self, params):
        return params

    def patch(self, encoder):
        pass

    def build(self, config, params):
        if self.encoder_class is not None:
            self.load_class = lambda: self.encoder_class
        super().build(config, self.convert(dict(params)))
        self.patch(self.encoder)


# ---------------------------------------------------------------- faithful rewrite
class MetaFaithfulRefactor(MetaPort):
    """Faithful: LayerNorm2d by F.layer_norm over the channel axis, the Fourier features by an explicit
    matmul, and the label embeddings by a gather from one table (instance patches)."""

    name = "meta-faithful-refactor"

    def patch(self, encoder):
        for index in (1, 4):
            norm = encoder.mask_downscaling[index]

            @on_instance(norm, "forward")
            def forward(self, x):
                y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
                return y.permute(0, 3, 1, 2)

        pe = encoder.pe_layer

        @on_instance(pe, "_pe_encoding")
        def _pe_encoding(self, coords):
            arg = torch.matmul(coords * 2 - 1, self.positional_encoding_gaussian_matrix) * (2 * np.pi)
            return torch.cat([arg.sin(), arg.cos()], dim=-1)

        @on_instance(encoder, "_embed_points")
        def _embed_points(self, points, labels, pad):
            points = points + 0.5
            if pad:
                points = torch.cat([points, points.new_zeros((points.shape[0], 1, 2))], dim=1)
                labels = torch.cat([labels, labels.new_full((labels.shape[0], 1), -1)], dim=1)
            pe = self.pe_layer.forward_with_coords(points, self.input_image_size)
            table = torch.cat(
                [self.not_a_point_embed.weight, self.point_embeddings[0].weight, self.point_embeddings[1].weight]
            )
            rows = (labels + 1).clamp(0, 2)
            keep = (labels >= 0)[..., None].to(pe.dtype)
            known = (labels <= 1)[..., None].to(pe.dtype)
            return pe * keep + table[rows] * known

        # labels 2, 3 (PE only) have keep 1 and no row: rows clamp to 2 but known is 0


# ---------------------------------------------------------------- §3 coordinates
class MetaShiftXOnly(MetaPort):
    """§3.1: the pixel-centre shift written for x only, ``[..., 0] += 0.5``, for points and box corners."""

    def patch(self, encoder):
        @on_instance(encoder, "_embed_points")
        def _embed_points(self, points, labels, pad):
            points = points.clone()
            points[:, :, 0] += 0.5  # Shift to center of pixel
            if pad:
                padding_point = torch.zeros((points.shape[0], 1, 2), device=points.device)
                padding_label = -torch.ones((labels.shape[0], 1), device=labels.device)
                points = torch.cat([points, padding_point], dim=1)
                labels = torch.cat([labels, padding_label], dim=1)
            point_embedding = self.pe_layer.forward_with_coords(points, self.input_image_size)
            point_embedding[labels == -1] = 0.0
            point_embedding[labels == -1] += self.not_a_point_embed.weight
            point_embedding[labels == 0] += self.point_embeddings[0].weight
            point_embedding[labels == 1] += self.point_embeddings[1].weight
            return point_embedding

        @on_instance(encoder, "_embed_boxes")
        def _embed_boxes(self, boxes):
            boxes = boxes.clone()
            boxes[:, 0::2] += 0.5  # Shift to center of pixel
            corner_embedding = self.pe_layer.forward_with_coords(boxes.reshape(-1, 2, 2), self.input_image_size)
            corner_embedding[:, 0, :] += self.point_embeddings[2].weight
            corner_embedding[:, 1, :] += self.point_embeddings[3].weight
            return corner_embedding


# ---------------------------------------------------------------- §4 positional encoding
class MetaGaussianNotLoaded(MetaPort):
    """§4.1 weight conversion: the Gaussian matrix is a buffer the porter's checkpoint reader skips, so the
    encoder keeps its fresh ``torch.randn`` matrix (seeded)."""

    def build(self, config, params):
        torch.manual_seed(0)
        self.load_class = load_prompt_encoder_class
        self._load_torch()
        encoder = PromptEncoder(
            embed_dim=config["hidden_size"],
            image_embedding_size=tuple(config["image_embedding_size"]),
            input_image_size=tuple(config["input_image_size"]),
            mask_in_chans=config["mask_in_channels"],
        )
        state = {k: torch.as_tensor(np.asarray(v)) for k, v in params.items() if not k.startswith("pe_layer.")}
        encoder.load_state_dict(state, strict=False)
        self.encoder = encoder.to(dtype=torch.float32).eval()


class MetaAutocastBfloat16(MetaPort):
    """Precision, whole port: runs the encoder under ``torch.autocast("cpu")`` (bfloat16 matmuls and
    convolutions), outputs returned as float32."""

    def run(self, points, labels, boxes, masks):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            prompt = None if points is None else (self._tensor(points), self._tensor(labels, torch.int64))
            sparse, dense = self.encoder(points=prompt, boxes=self._tensor(boxes), masks=self._tensor(masks))
            dense_pe = self.encoder.get_dense_pe()
        return {
            "prompt_sparse_embeddings": sparse.detach().float().numpy(),
            "prompt_dense_embeddings": dense.detach().float().numpy(),
            "prompt_dense_positional_embeddings": dense_pe.detach().float().numpy(),
        }


# ---------------------------------------------------------------- §5 labels
class MetaLabelsUint8(MetaPort):
    """§5.2 dtype: labels passed as uint8 (to save memory), so a user's label -1 becomes 255 and matches
    no rule (the padding label, made by Meta's code, stays -1)."""

    def run(self, points, labels, boxes, masks):
        return super().run(points, None if labels is None else np.asarray(labels).astype(np.uint8), boxes, masks)

    def _tensor(self, value, dtype=None):
        if dtype is torch.int64 and value is not None and np.asarray(value).dtype == np.uint8:
            return torch.as_tensor(np.asarray(value), dtype=torch.uint8)
        return super()._tensor(value, dtype)


class _Labels23Background(PromptEncoder):
    def _embed_points(self, points, labels, pad):
        points = points + 0.5
        if pad:
            points = torch.cat([points, torch.zeros((points.shape[0], 1, 2))], dim=1)
            labels = torch.cat([labels, -torch.ones((labels.shape[0], 1), dtype=labels.dtype)], dim=1)
        point_embedding = self.pe_layer.forward_with_coords(points, self.input_image_size)
        point_embedding[labels == -1] = 0.0
        point_embedding[labels == -1] += self.not_a_point_embed.weight
        given = labels >= 0
        rows = torch.where((labels == 1)[..., None], self.point_embeddings[1].weight, self.point_embeddings[0].weight)
        point_embedding[given] += rows[given]
        return point_embedding


class MetaLabels23Background(MetaPort):
    """§5.2: every label >= 0 other than 1 gets the background embedding (``where(label == 1, fg, bg)``),
    so labels 2 and 3 (PE only under SAM v1) get point_embeddings.0."""

    encoder_class = _Labels23Background


# ---------------------------------------------------------------- §6 boxes
class _BottomRightGetsBoth(PromptEncoder):
    def _embed_boxes(self, boxes):
        boxes = boxes + 0.5
        coords = boxes.reshape(-1, 2, 2)
        corner_embedding = self.pe_layer.forward_with_coords(coords, self.input_image_size)
        corner_embedding += self.point_embeddings[2].weight
        corner_embedding[:, 1, :] += self.point_embeddings[3].weight
        return corner_embedding


class MetaBottomRightGetsBoth(MetaPort):
    """§6.2: adds the top-left embedding to every corner, then the bottom-right one to corner 1."""

    encoder_class = _BottomRightGetsBoth


class MetaBoxesXXYY(MetaPort):
    """§6.1 layout: reads the box (B, 4) as corners by reshape + transpose, (x1, x2), (y1, y2)."""

    def patch(self, encoder):
        @on_instance(encoder, "_embed_boxes")
        def _embed_boxes(self, boxes):
            coords = (boxes + 0.5).reshape(-1, 2, 2).transpose(1, 2)
            corner_embedding = self.pe_layer.forward_with_coords(coords, self.input_image_size)
            corner_embedding[:, 0, :] += self.point_embeddings[2].weight
            corner_embedding[:, 1, :] += self.point_embeddings[3].weight
            return corner_embedding


class MetaBoxesOfFirstImage(MetaPort):
    """§6.1 batching: encodes ``boxes[:1]`` and expands it to the batch (written for batch 1)."""

    def patch(self, encoder):
        original = encoder._embed_boxes

        @on_instance(encoder, "_embed_boxes")
        def _embed_boxes(self, boxes):
            return original(boxes[:1]).expand(boxes.shape[0], -1, -1)


# ---------------------------------------------------------------- §8 grid
class MetaGridDivisorsSwapped(MetaPort):
    """§8.1: the grid's cumsums divided by the other side, y / w and x / h (equal when h = w)."""

    def patch(self, encoder):
        @on_instance(encoder.pe_layer, "forward")
        def forward(self, size):
            h, w = size
            grid = torch.ones((h, w), dtype=torch.float32)
            y_embed = (grid.cumsum(dim=0) - 0.5) / w
            x_embed = (grid.cumsum(dim=1) - 0.5) / h
            return self._pe_encoding(torch.stack([x_embed, y_embed], dim=-1)).permute(2, 0, 1)


# ---------------------------------------------------------------- §9 mask path
class _DensePECachedOnClass(PromptEncoder):
    _dense_pe = None  # "the grid never changes": computed once, kept on the class

    def get_dense_pe(self):
        if type(self)._dense_pe is None:
            type(self)._dense_pe = super().get_dense_pe()
        return type(self)._dense_pe


class MetaDensePECachedOnClass(MetaPort):
    """§8.2 state: the dense positional grid is cached on the class, so every encoder built later in the
    process (another configuration or Gaussian matrix) returns the first one's grid."""

    encoder_class = _DensePECachedOnClass


class MetaLayerNormBfloat16(MetaPort):
    """Precision, one stage: both LayerNorm2d compute in bfloat16 (x.bfloat16(), back to float32)."""

    def patch(self, encoder):
        for index in (1, 4):
            norm = encoder.mask_downscaling[index]

            @on_instance(norm, "forward")
            def forward(self, x):
                y = x.bfloat16()
                u = y.mean(1, keepdim=True)
                s = (y - u).pow(2).mean(1, keepdim=True)
                y = (y - u) / torch.sqrt(s + self.eps)
                return (self.weight[:, None, None] * y.float() + self.bias[:, None, None]).float()


class MetaCompiledMaskClamp(MetaPort):
    """§9: the mask path is wrapped in ``torch.compile`` on the instance (backend "eager"), and the wrapped
    function clamps the mask logits to [-10, 10] "for stability": only masks with larger logits differ."""

    def patch(self, encoder):
        downscale = encoder.mask_downscaling

        def embed_masks(masks):
            return downscale(masks.clamp(-10.0, 10.0))

        encoder._embed_masks = torch.compile(embed_masks, backend="eager", dynamic=True)


class MetaNorm1BetaFromConv1Bias(MetaPort):
    """§9.2 weight conversion: a key-map typo loads the first LayerNorm's bias from the first conv's bias."""

    def convert(self, params):
        params["mask_downscaling.1.bias"] = params["mask_downscaling.0.bias"]
        return params


# ---------------------------------------------------------------- §10 no mask
class _NoMaskHWSwapped(PromptEncoder):
    def forward(self, points, boxes, masks):
        sparse, dense = super().forward(points, boxes, masks)
        if masks is None:
            h, w = self.image_embedding_size
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(dense.shape[0], -1, w, h)
        return sparse, dense


class MetaNoMaskHWSwapped(MetaPort):
    """§10: expands no_mask_embed to (B, C, w, h), the grid's sides swapped (equal when h = w)."""

    encoder_class = _NoMaskHWSwapped


# ---------------------------------------------------------------- two bugs
class MetaTwoShiftXAndNorm1Beta(MetaShiftXOnly, MetaNorm1BetaFromConv1Bias):
    """Two bugs: §3.1 shift of x only, and §9.2 the first LayerNorm's bias from the conv bias."""
