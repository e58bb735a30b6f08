"""Round 2 of the held-out ports: a SAM prompt encoder written from scratch in PyTorch (not Meta's
class), from docs/spec.md, float32, and ports of it with one bug each.

``TorchPromptEncoder`` is an ``nn.Module`` with one method per stage; ``TorchPort`` is its adapter
(docs/adapters.md, profile ``sam``). Each buggy port replaces one method or one step of the weight
loading, the way a porter's mistake would sit in the code.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# label -> (keep the positional encoding?, row of the embedding table), per spec §5.2
SAM_LABELS = {-1: (0.0, "not_a_point"), 0: (1.0, "background"), 1: (1.0, "foreground"), 2: (1.0, None), 3: (1.0, None)}
SAM2_LABELS = {**SAM_LABELS, 2: (1.0, "top_left"), 3: (1.0, "bottom_right")}


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW map, biased variance, eps inside the root (§9.2)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def statistics(self, x):
        mean = x.mean(dim=1, keepdim=True)
        return mean, (x - mean).pow(2).mean(dim=1, keepdim=True)

    def forward(self, x):
        mean, var = self.statistics(x)
        y = (x - mean) / torch.sqrt(var + self.eps)
        return y * self.weight[None, :, None, None] + self.bias[None, :, None, None]


class TorchPromptEncoder(nn.Module):
    labels = SAM_LABELS

    def __init__(self, hidden_size, image_embedding_size, input_image_size, mask_in_channels, activation="gelu"):
        super().__init__()
        c, cm = hidden_size, mask_in_channels
        self.hidden_size = c
        self.embedding_hw = tuple(image_embedding_size)
        self.image_hw = tuple(input_image_size)
        self.register_buffer("gaussian", torch.zeros(2, c // 2))
        self.rows = nn.ParameterDict(
            {
                k: nn.Parameter(torch.zeros(c))
                for k in ("not_a_point", "background", "foreground", "top_left", "bottom_right", "no_mask")
            }
        )
        self.conv1 = nn.Conv2d(1, cm // 4, 2, stride=2)
        self.norm1 = LayerNorm2d(cm // 4)
        self.conv2 = nn.Conv2d(cm // 4, cm, 2, stride=2)
        self.norm2 = LayerNorm2d(cm)
        self.conv3 = nn.Conv2d(cm, c, 1)

    # ---- weights ------------------------------------------------------------------------------
    def load_sam_params(self, params: dict) -> None:
        t = {k: torch.tensor(np.asarray(v), dtype=torch.float32) for k, v in params.items()}
        with torch.no_grad():
            self.gaussian.copy_(t["pe_layer.positional_encoding_gaussian_matrix"])
            names = {"background": 0, "foreground": 1, "top_left": 2, "bottom_right": 3}
            for row, i in names.items():
                self.rows[row].copy_(t[f"point_embeddings.{i}.weight"][0])
            self.rows["not_a_point"].copy_(t["not_a_point_embed.weight"][0])
            self.rows["no_mask"].copy_(t["no_mask_embed.weight"][0])
            for module, index in self.mask_modules():
                module.weight.copy_(t[f"mask_downscaling.{index}.weight"])
                module.bias.copy_(t[f"mask_downscaling.{index}.bias"])

    def mask_modules(self):
        return [(self.conv1, 0), (self.norm1, 1), (self.conv2, 3), (self.norm2, 4), (self.conv3, 6)]

    # ---- §3, §4 ---------------------------------------------------------------------------------
    def normalise(self, coords):
        h, w = self.image_hw
        return torch.stack([coords[..., 0] / w, coords[..., 1] / h], dim=-1)

    def fourier(self, unit):
        angle = 2 * math.pi * ((2 * unit - 1) @ self.gaussian)
        return self.sin_cos(angle)

    def sin_cos(self, angle):
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)

    # ---- §5 -----------------------------------------------------------------------------------
    def embed_points(self, coords, labels, pad):
        coords = coords + 0.5
        if pad:
            b = coords.shape[0]
            coords = torch.cat([coords, torch.zeros(b, 1, 2)], dim=1)
            labels = torch.cat([labels, -torch.ones(b, 1, dtype=labels.dtype)], dim=1)
        pe = self.fourier(self.normalise(coords))
        return self.label_tokens(pe, labels)

    def label_tokens(self, pe, labels):
        tokens = torch.zeros_like(pe)
        for value, (keep, row) in self.labels.items():
            hit = (labels == value)[..., None]
            token = keep * pe + (self.rows[row] if row else 0.0)
            tokens = torch.where(hit, token, tokens)
        return tokens

    # ---- §6 -----------------------------------------------------------------------------------
    def embed_boxes(self, boxes):
        b = boxes.shape[0]
        corners = boxes.reshape(b, -1, 2, 2) + 0.5
        pe = self.fourier(self.normalise(corners))  # (B, M, 2, C)
        pe = pe + torch.stack([self.rows["top_left"], self.rows["bottom_right"]])
        return self.box_token_sequence(pe)

    def box_token_sequence(self, pe):
        return pe.reshape(pe.shape[0], -1, self.hidden_size)

    # ---- §8 -----------------------------------------------------------------------------------
    def grid_size(self):
        return self.embedding_hw

    def dense_pe(self):
        h, w = self.grid_size()
        ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
        unit = torch.stack([xs[None, :].expand(h, w), ys[:, None].expand(h, w)], dim=-1)
        return self.fourier(unit).permute(2, 0, 1)[None]

    # ---- §9, §10 ------------------------------------------------------------------------------
    def mask_to_float(self, masks):
        return masks.to(torch.float32)

    def act1(self, x):
        return F.gelu(x)

    def act2(self, x):
        return F.gelu(x)

    def downscale(self, masks):
        x = self.act1(self.norm1(self.conv1(masks)))
        x = self.act2(self.norm2(self.conv2(x)))
        return self.conv3(x)

    def no_mask(self, batch):
        h, w = self.grid_size()
        return self.rows["no_mask"].reshape(1, -1, 1, 1).expand(batch, -1, h, w)

    # ---- §7, §11 ------------------------------------------------------------------------------
    def forward(self, points=None, labels=None, boxes=None, masks=None):
        batch = next((x.shape[0] for x in (points, boxes, masks) if x is not None), 1)
        parts = []
        if points is not None:
            parts.append(self.embed_points(points, labels, pad=boxes is None))
        if boxes is not None:
            parts.append(self.embed_boxes(boxes))
        sparse = torch.cat(parts, dim=1) if parts else torch.zeros(batch, 0, self.hidden_size)
        dense = self.downscale(self.mask_to_float(masks)) if masks is not None else self.no_mask(batch)
        return sparse, dense, self.dense_pe()


def _tensor(a, dtype=torch.float32):
    return None if a is None else torch.as_tensor(np.asarray(a)).to(dtype)


class TorchPort:
    """The adapter: converts the fixtures' inputs to tensors, runs the module, returns NumPy."""

    name, profile, compute_dtype = "round2-torch", "sam", "float32"
    encoder_class = TorchPromptEncoder

    def build(self, config, params):
        self.encoder = self.encoder_class(
            config["hidden_size"],
            config["image_embedding_size"],
            config["input_image_size"],
            config["mask_in_channels"],
            config.get("activation", "gelu"),
        )
        self.encoder.load_sam_params(params)
        self.encoder.eval()

    def inputs(self, points, labels, boxes, masks):
        masks = None if masks is None else torch.as_tensor(np.asarray(masks))
        return _tensor(points), _tensor(labels, torch.int64), _tensor(boxes), masks

    def run(self, points, labels, boxes, masks):
        with torch.no_grad():
            sparse, dense, pe = self.encoder(*self.inputs(points, labels, boxes, masks))
        return {
            "prompt_sparse_embeddings": sparse.detach().numpy(),
            "prompt_dense_embeddings": dense.detach().numpy(),
            "prompt_dense_positional_embeddings": pe.detach().numpy(),
        }


def _port(encoder_class, name, profile="sam"):
    return type(name, (TorchPort,), {"encoder_class": encoder_class, "name": name, "profile": profile})


# ---- the bugs -------------------------------------------------------------------------------------


class _SparseHalfStorage(TorchPromptEncoder):
    # the sparse tokens are kept in float16 "for the decoder's memory", handed back as float32
    def forward(self, points=None, labels=None, boxes=None, masks=None):
        sparse, dense, pe = super().forward(points, labels, boxes, masks)
        return sparse.half().float(), dense, pe


class _LayerNormMoments(LayerNorm2d):
    # one pass over the data: var = E[x²] − E[x]² (cancels when the channels are nearly equal)
    def statistics(self, x):
        mean = x.mean(dim=1, keepdim=True)
        return mean, (x * x).mean(dim=1, keepdim=True) - mean * mean


class _VarianceByMoments(TorchPromptEncoder):
    def __init__(self, *args):
        super().__init__(*args)
        self.norm1 = _LayerNormMoments(self.norm1.weight.shape[0])
        self.norm2 = _LayerNormMoments(self.norm2.weight.shape[0])


class _UnitCoordsClamped(TorchPromptEncoder):
    # normalised coordinates clamped to the unit square "for safety": points outside the image move
    def normalise(self, coords):
        return super().normalise(coords).clamp(0.0, 1.0)


class _Uint8MasksRescaled(TorchPromptEncoder):
    # an 8-bit mask is read as an image: divided by 255 (spec §9.5: integer masks are only cast)
    def mask_to_float(self, masks):
        if masks.dtype == torch.uint8:
            return masks.to(torch.float32) / 255.0
        return masks.to(torch.float32)


class _Norm2AffineSwapped(TorchPromptEncoder):
    # the converter maps LayerNorm 2's weight and bias by position in a list that was sorted by name
    def load_sam_params(self, params):
        params = dict(params)
        params["mask_downscaling.4.weight"], params["mask_downscaling.4.bias"] = (
            params["mask_downscaling.4.bias"],
            params["mask_downscaling.4.weight"],
        )
        super().load_sam_params(params)


class _GridFromImageSize(TorchPromptEncoder):
    # the embedding grid is derived from the image size (the ViT's 16-pixel patches), not configured
    def grid_size(self):
        h, w = self.image_hw
        return (h // 16, w // 16)


class _CornerLabelThreshold(TorchPromptEncoder):
    # sam2 semantics written as `label >= 2 -> top-left`: label 3 gets the top-left embedding too
    labels = {**SAM2_LABELS, 3: (1.0, "top_left")}


class _FirstGeluTanh(TorchPromptEncoder):
    # the first activation was copied from a tanh-GELU snippet
    def act1(self, x):
        return F.gelu(x, approximate="tanh")


class _NoMaskAsZeroMask(TorchPromptEncoder):
    # "no mask" is a zero mask run through the downscaler (as an exported graph with a mask input would)
    def no_mask(self, batch):
        h, w = self.grid_size()
        return self.downscale(torch.zeros(batch, 1, 4 * h, 4 * w))


class _ComplexExp(TorchPromptEncoder):
    # sin and cos from one complex exponential, flattened by view_as_real: (cos, sin) pairs interleaved
    def sin_cos(self, angle):
        return torch.view_as_real(torch.exp(1j * angle.to(torch.float32))).flatten(-2)


TorchFaithful = _port(TorchPromptEncoder, "TorchFaithful")
TorchSparseHalfStorage = _port(_SparseHalfStorage, "TorchSparseHalfStorage")
TorchVarianceByMoments = _port(_VarianceByMoments, "TorchVarianceByMoments")
TorchUnitCoordsClamped = _port(_UnitCoordsClamped, "TorchUnitCoordsClamped")
TorchUint8MasksRescaled = _port(_Uint8MasksRescaled, "TorchUint8MasksRescaled")
TorchNorm2AffineSwapped = _port(_Norm2AffineSwapped, "TorchNorm2AffineSwapped")
TorchGridFromImageSize = _port(_GridFromImageSize, "TorchGridFromImageSize")
TorchCornerLabelThreshold = _port(_CornerLabelThreshold, "TorchCornerLabelThreshold", profile="sam2")
TorchFirstGeluTanh = _port(_FirstGeluTanh, "TorchFirstGeluTanh")
TorchNoMaskAsZeroMask = _port(_NoMaskAsZeroMask, "TorchNoMaskAsZeroMask")
TorchComplexExp = _port(_ComplexExp, "TorchComplexExp")


class _GeluSqrt2Typed(TorchPromptEncoder):
    # GELU written out by hand with √2 typed as 1.414 (error ~1e-4: above float32's budget, below float16's)
    def act1(self, x):
        return 0.5 * x * (1 + torch.erf(x / 1.414))

    act2 = act1


TorchGeluSqrt2Typed = _port(_GeluSqrt2Typed, "TorchGeluSqrt2Typed")


class TracedTorchPort(TorchPort):
    """The adapter with the port's own ``trace()`` (docs/adapters.md): the stages of spec §11.4 it can give,
    channels last, computed by the same methods as ``run``."""

    def trace(self, points, labels, boxes, masks):
        enc, stages = self.encoder, {}
        points, labels, boxes, masks = self.inputs(points, labels, boxes, masks)
        with torch.no_grad():
            if points is not None:
                coords, lab = points + 0.5, labels
                if boxes is None:
                    b = coords.shape[0]
                    coords = torch.cat([coords, torch.zeros(b, 1, 2)], dim=1)
                    lab = torch.cat([lab, -torch.ones(b, 1, dtype=lab.dtype)], dim=1)
                stages["points.normalised"] = enc.normalise(coords)
                stages["points.positional_encoding"] = enc.fourier(stages["points.normalised"])
                stages["points.tokens"] = enc.embed_points(points, labels, pad=boxes is None)
            if boxes is not None:
                corners = boxes.reshape(boxes.shape[0], -1, 2, 2) + 0.5
                stages["boxes.normalised"] = enc.normalise(corners)
                stages["boxes.positional_encoding"] = enc.fourier(stages["boxes.normalised"])
                stages["boxes.tokens"] = enc.embed_boxes(boxes)
            stages["dense_pe.grid"] = enc.dense_pe()[0].permute(1, 2, 0)
            if masks is not None:
                x = enc.conv1(enc.mask_to_float(masks))
                stages["mask.conv1"] = x.permute(0, 2, 3, 1)
                x = enc.norm1(x)
                stages["mask.norm1"] = x.permute(0, 2, 3, 1)
                x = enc.act1(x)
                stages["mask.act1"] = x.permute(0, 2, 3, 1)
                x = enc.conv2(x)
                stages["mask.conv2"] = x.permute(0, 2, 3, 1)
                x = enc.norm2(x)
                stages["mask.norm2"] = x.permute(0, 2, 3, 1)
                x = enc.act2(x)
                stages["mask.act2"] = x.permute(0, 2, 3, 1)
                stages["mask.conv3"] = enc.conv3(x).permute(0, 2, 3, 1)
        outputs = self.run(*[None if a is None else a.numpy() for a in (points, labels, boxes, masks)])
        return {**{k: v.detach().numpy() for k, v in stages.items()}, **outputs}


def _traced(encoder_class, name):
    return type(name, (TracedTorchPort,), {"encoder_class": encoder_class, "name": name})


TracedTorchFaithful = _traced(TorchPromptEncoder, "TracedTorchFaithful")
TracedTorchSparseHalfStorage = _traced(_SparseHalfStorage, "TracedTorchSparseHalfStorage")
TracedTorchUnitCoordsClamped = _traced(_UnitCoordsClamped, "TracedTorchUnitCoordsClamped")
TracedTorchVarianceByMoments = _traced(_VarianceByMoments, "TracedTorchVarianceByMoments")
TracedTorchGeluSqrt2Typed = _traced(_GeluSqrt2Typed, "TracedTorchGeluSqrt2Typed")
