"""Buggy ports in the style of the held-out ones: subclasses of Meta's SAM v1 ``PromptEncoder``
(segment-anything 1.0, float32), each with one bug of its own writing, plus a few faithful
rewrites. They are written against Meta's code, not built from samspec's variants, so that the
tests (tests/test_diagnosis.py) check that the diagnosis recognises bugs it did not construct.

Each class is an adapter (docs/adapters.md): ``samspec check tests.meta_bugs:PiNot2Pi``.
``EXPECTED[name]`` is the set of catalogue variants that name the bug correctly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from samspec.conformance.adapters.segment_anything import SegmentAnythingAdapter, load_prompt_encoder_class

PromptEncoder = load_prompt_encoder_class()
from segment_anything.modeling.common import LayerNorm2d  # noqa: E402  (after the loader)
from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom  # noqa: E402


class MetaPort(SegmentAnythingAdapter):
    """Meta's adapter around a PromptEncoder subclass; ``after_load`` may then alter the module."""

    encoder_class = PromptEncoder
    activation = nn.GELU

    def build(self, config, params):
        self.torch = torch
        self.dtype = torch.float32
        encoder = self.encoder_class(
            embed_dim=config["hidden_size"],
            image_embedding_size=tuple(config["image_embedding_size"]),
            input_image_size=tuple(config["input_image_size"]),
            mask_in_chans=config["mask_in_channels"],
            activation=self.activation,
        )
        encoder.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in params.items()}, strict=True)
        self.encoder = encoder.to(dtype=torch.float32).eval()
        with torch.no_grad():
            self.after_load(self.encoder)

    def after_load(self, encoder):
        pass


def port(encoder_class=PromptEncoder, activation=nn.GELU, after_load=None, run=None, name=None):
    attributes = {"encoder_class": encoder_class, "activation": activation}
    if after_load is not None:
        attributes["after_load"] = lambda self, encoder: after_load(encoder)
    if run is not None:
        attributes["run"] = run
    return type(name or "Bug", (MetaPort,), attributes)


# -- coordinates ---------------------------------------------------------------------------------------


class _NoShiftEncoder(PromptEncoder):
    def _embed_points(self, points, labels, pad):
        return super()._embed_points(points - 0.5, labels, pad)  # the +0.5 inside is undone


class _NoShiftAnywhere(_NoShiftEncoder):
    def _embed_boxes(self, boxes):
        return super()._embed_boxes(boxes - 0.5)


class _PEWithSize(PositionEmbeddingRandom):
    size_rule = staticmethod(lambda size: size)

    def forward_with_coords(self, coords_input, image_size):
        return super().forward_with_coords(coords_input, self.size_rule(tuple(image_size)))


def _pe_layer(rule):
    def after(encoder):
        layer = type("PE", (_PEWithSize,), {"size_rule": staticmethod(rule)})(encoder.embed_dim // 2)
        layer.positional_encoding_gaussian_matrix.copy_(encoder.pe_layer.positional_encoding_gaussian_matrix)
        encoder.pe_layer = layer

    return after


class _YXPoints(PromptEncoder):
    def _embed_points(self, points, labels, pad):
        return super()._embed_points(points.flip(-1), labels, pad)


# -- positional encoding --------------------------------------------------------------------------------


class _PiPE(PositionEmbeddingRandom):
    def _pe_encoding(self, coords):
        coords = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        coords = np.pi * coords  # should be 2 pi
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)


class _NoCentringPE(PositionEmbeddingRandom):
    def _pe_encoding(self, coords):
        coords = 2 * np.pi * (coords @ self.positional_encoding_gaussian_matrix)
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)


class _CosSinPE(PositionEmbeddingRandom):
    def _pe_encoding(self, coords):
        coords = 2 * np.pi * ((2 * coords - 1) @ self.positional_encoding_gaussian_matrix)
        return torch.cat([torch.cos(coords), torch.sin(coords)], dim=-1)


class _InterleavedPE(PositionEmbeddingRandom):
    def _pe_encoding(self, coords):
        coords = 2 * np.pi * ((2 * coords - 1) @ self.positional_encoding_gaussian_matrix)
        return torch.stack([torch.sin(coords), torch.cos(coords)], dim=-1).flatten(-2)


class _TransposedGaussianPE(PositionEmbeddingRandom):
    def _pe_encoding(self, coords):
        g = self.positional_encoding_gaussian_matrix
        coords = 2 * np.pi * ((2 * coords - 1) @ g.T.reshape(2, -1))  # a transpose "fixed" by a reshape
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)


class _HalfPE(PositionEmbeddingRandom):
    def _pe_encoding(self, coords):
        return super()._pe_encoding(coords.half().float())


class _HalfWholePE(PositionEmbeddingRandom):
    def _pe_encoding(self, coords):
        g = self.positional_encoding_gaussian_matrix.half()
        angle = 2 * np.pi * ((2 * coords.half() - 1) @ g)
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1).float()


class _GridTransposedPE(PositionEmbeddingRandom):
    def forward(self, size):
        h, w = size
        grid = torch.ones((h, w), dtype=torch.float32)
        y = (grid.cumsum(dim=0) - 0.5) / h
        x = (grid.cumsum(dim=1) - 0.5) / w
        return self._pe_encoding(torch.stack([y, x], dim=-1)).permute(2, 0, 1)  # (y, x): swapped


class _GridCornersPE(PositionEmbeddingRandom):
    def forward(self, size):
        h, w = size
        ys = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w) / h  # no half-cell offset
        xs = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w) / w
        return self._pe_encoding(torch.stack([xs, ys], dim=-1)).permute(2, 0, 1)


class _GridLinspacePE(PositionEmbeddingRandom):
    def forward(self, size):
        h, w = size
        ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
        return self._pe_encoding(torch.stack([xs, ys], dim=-1)).permute(2, 0, 1)


def _swap_pe(cls):
    def after(encoder):
        layer = cls(encoder.embed_dim // 2)
        layer.positional_encoding_gaussian_matrix.copy_(encoder.pe_layer.positional_encoding_gaussian_matrix)
        encoder.pe_layer = layer

    return after


def _flip_gaussian(encoder):
    g = encoder.pe_layer.positional_encoding_gaussian_matrix
    g.copy_(g.flip(0))


# -- labels, padding, boxes ------------------------------------------------------------------------------


class _NoPad(PromptEncoder):
    def _embed_points(self, points, labels, pad):
        return super()._embed_points(points, labels, False)


class _AlwaysPad(PromptEncoder):
    def _embed_points(self, points, labels, pad):
        return super()._embed_points(points, labels, True)


class _NotAPointKeepsPE(PromptEncoder):
    def _embed_points(self, points, labels, pad):
        points = points + 0.5
        if pad:
            points = torch.cat([points, torch.zeros((points.shape[0], 1, 2))], dim=1)
            labels = torch.cat([labels, -torch.ones((labels.shape[0], 1), dtype=labels.dtype)], dim=1)
        embedding = self.pe_layer.forward_with_coords(points, self.input_image_size)
        embedding[labels == -1] += self.not_a_point_embed.weight  # the PE is not zeroed first
        embedding[labels == 0] += self.point_embeddings[0].weight
        embedding[labels == 1] += self.point_embeddings[1].weight
        return embedding


class _Labels23Foreground(PromptEncoder):
    def _embed_points(self, points, labels, pad):
        out = super()._embed_points(points, labels, pad)
        corner = (labels == 2) | (labels == 3)
        if pad:
            corner = torch.cat([corner, torch.zeros((corner.shape[0], 1), dtype=torch.bool)], dim=1)
        out[corner] += self.point_embeddings[1].weight
        return out


class _BoxCornersSwapped(PromptEncoder):
    def _embed_boxes(self, boxes):
        return super()._embed_boxes(boxes[:, [2, 3, 0, 1]])


class _BoxesYXYX(PromptEncoder):
    def _embed_boxes(self, boxes):
        return super()._embed_boxes(boxes[:, [1, 0, 3, 2]])


class _BoxesFirst(PromptEncoder):
    def forward(self, points, boxes, masks):
        sparse, dense = super().forward(points, boxes, masks)
        if points is not None and boxes is not None:
            n = sparse.shape[1] - 2
            sparse = torch.cat([sparse[:, n:], sparse[:, :n]], dim=1)
        return sparse, dense


def _swap_embeddings(i, j):
    def after(encoder):
        a = encoder.point_embeddings[i].weight.clone()
        encoder.point_embeddings[i].weight.copy_(encoder.point_embeddings[j].weight)
        encoder.point_embeddings[j].weight.copy_(a)

    return after


# -- mask path --------------------------------------------------------------------------------------------


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


def _set_activation(module):
    def after(encoder):
        for index in (2, 5):
            encoder.mask_downscaling[index] = module

    return after


def _eps(value):
    def after(encoder):
        for index in (1, 4):
            encoder.mask_downscaling[index].eps = value

    return after


class UnbiasedLayerNorm2d(LayerNorm2d):
    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = x.var(1, keepdim=True, unbiased=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class StdEpsLayerNorm2d(LayerNorm2d):
    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / (torch.sqrt(s) + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def _replace_norms(make):
    def after(encoder):
        for index in (1, 4):
            old = encoder.mask_downscaling[index]
            new = make(old.weight.shape[0])
            new.weight.data.copy_(old.weight)
            new.bias.data.copy_(old.bias)
            encoder.mask_downscaling[index] = new

    return after


def _unit_affine(encoder):
    for index in (1, 4):
        encoder.mask_downscaling[index].weight.fill_(1.0)
        encoder.mask_downscaling[index].bias.zero_()


def _conv_kernels(transform):
    def after(encoder):
        for index in (0, 3):
            conv = encoder.mask_downscaling[index]
            conv.weight.copy_(transform(conv.weight).contiguous())

    return after


class _MaskIgnored(PromptEncoder):
    def _embed_masks(self, masks):
        return self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(masks.shape[0], -1, *self.image_embedding_size)


class _NoMaskBatch1(PromptEncoder):
    def forward(self, points, boxes, masks):
        sparse, dense = super().forward(points, boxes, masks)
        return sparse, (dense if masks is not None else dense[:1])


# -- layouts ----------------------------------------------------------------------------------------------


def _nhwc(reshape):
    def run(self, points, labels, boxes, masks):
        out = MetaPort.run(self, points, labels, boxes, masks)
        for key in ("prompt_dense_embeddings", "prompt_dense_positional_embeddings"):
            value = out[key]
            moved = np.ascontiguousarray(np.transpose(value, (0, 2, 3, 1)))
            out[key] = moved.reshape(value.shape) if reshape else moved
        return out

    return run


# -- faithful rewrites (must pass) ---------------------------------------------------------------------------


class _RefactoredPE(PositionEmbeddingRandom):
    """A different but equally faithful order of operations: 4 pi u - 2 pi, sincos via complex exp."""

    def _pe_encoding(self, coords):
        g = self.positional_encoding_gaussian_matrix
        angle = (4 * np.pi * coords - 2 * np.pi) @ g
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)

    def forward_with_coords(self, coords_input, image_size):
        scale = torch.tensor([1.0 / image_size[1], 1.0 / image_size[0]])
        return self._pe_encoding((coords_input * scale).to(torch.float))


class _Float64PE(PositionEmbeddingRandom):
    """More accurate than Meta: the positional encoding in float64, rounded once to float32."""

    def _pe_encoding(self, coords):
        g = self.positional_encoding_gaussian_matrix.double()
        angle = 2 * np.pi * ((2 * coords.double() - 1) @ g)
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1).float()


class ExplicitLayerNorm(nn.Module):
    """LayerNorm2d written with F.layer_norm over a channels-last view (as many ports do)."""

    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        y = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


BUGS = {
    # name: (adapter class, variants that name the bug correctly)
    "NoShift": (port(_NoShiftEncoder), {"no_pixel_shift_points", "no_pixel_shift"}),
    "NoShiftAnywhere": (port(_NoShiftAnywhere), {"no_pixel_shift"}),
    "SwapXY": (port(after_load=_pe_layer(lambda s: (s[1], s[0]))), {"swapped_xy_normalisation"}),
    "Square": (port(after_load=_pe_layer(lambda s: (max(s), max(s)))), {"square_normalisation"}),
    "SquareHeight": (port(after_load=_pe_layer(lambda s: (s[0], s[0]))), {"square_normalisation_height"}),
    "SquareMin": (
        port(after_load=_pe_layer(lambda s: (min(s), min(s)))),
        {"square_normalisation_width", "square_normalisation_height"},
    ),
    "Fixed1024": (port(after_load=_pe_layer(lambda s: (1024, 1024))), {"fixed_1024_normalisation"}),
    "PointsYX": (port(_YXPoints), {"coordinates_yx"}),
    "PiNot2Pi": (port(after_load=_swap_pe(_PiPE)), {"pi_not_2pi"}),
    "NoCentring": (port(after_load=_swap_pe(_NoCentringPE)), {"no_centring"}),
    "CosSin": (port(after_load=_swap_pe(_CosSinPE)), {"cos_sin_order"}),
    "Interleaved": (port(after_load=_swap_pe(_InterleavedPE)), {"sin_cos_interleaved"}),
    "GaussianTransposed": (port(after_load=_swap_pe(_TransposedGaussianPE)), {"gaussian_transposed_reshaped"}),
    "GaussianRowsSwapped": (port(after_load=_flip_gaussian), {"gaussian_rows_swapped"}),
    "HalfCoordsPE": (port(after_load=_swap_pe(_HalfPE)), {"pe_float16_coords", "pe_float16"}),
    # G.half() and coords.half(): `gaussian_float16` and `pe_float16_coords` each describe part of it truly;
    # which explains more outputs depends on the cases (grid centres of a power-of-two grid are exact in float16)
    "HalfWholePE": (
        port(after_load=_swap_pe(_HalfWholePE)),
        {"pe_float16", "pe_float16_coords", "gaussian_float16"},
    ),
    "GridTransposed": (port(after_load=_swap_pe(_GridTransposedPE)), {"grid_xy_swapped", "grid_transposed"}),
    "GridCorners": (port(after_load=_swap_pe(_GridCornersPE)), {"grid_no_half_cell"}),
    "GridLinspace": (port(after_load=_swap_pe(_GridLinspacePE)), {"grid_linspace"}),
    "NoPad": (port(_NoPad), {"no_padding_point"}),
    "AlwaysPad": (port(_AlwaysPad), {"padding_point_always"}),
    "NotAPointKeepsPE": (port(_NotAPointKeepsPE), {"not_a_point_keeps_pe"}),
    "FgBg": (port(after_load=_swap_embeddings(0, 1)), {"labels_swapped"}),
    "Labels23": (port(_Labels23Foreground), {"labels_2_3_foreground"}),
    "BoxCornersSwapped": (port(_BoxCornersSwapped), {"box_corners_swapped"}),
    "CornerEmbeddingsSwapped": (port(after_load=_swap_embeddings(2, 3)), {"box_corner_embeddings_swapped"}),
    "BoxesYXYX": (port(_BoxesYXYX), {"boxes_yxyx"}),
    "BoxesFirst": (port(_BoxesFirst), {"boxes_before_points"}),
    "TanhGELU": (port(after_load=_set_activation(nn.GELU(approximate="tanh"))), {"tanh_gelu"}),
    "QuickGELU": (port(after_load=_set_activation(QuickGELU())), {"sigmoid_gelu"}),
    "ReLU": (port(activation=nn.ReLU), {"relu_activation"}),
    "SiLU": (port(activation=nn.SiLU), {"silu_activation"}),
    "NoActivation": (port(activation=nn.Identity), {"no_activation"}),
    "Eps1e5": (port(after_load=_eps(1e-5)), {"layer_norm_eps_1e-5"}),
    "Unbiased": (port(after_load=_replace_norms(UnbiasedLayerNorm2d)), {"layer_norm_unbiased"}),
    "EpsOnStd": (port(after_load=_replace_norms(StdEpsLayerNorm2d)), {"layer_norm_eps_outside_sqrt"}),
    "GroupNorm": (port(after_load=_replace_norms(lambda c: nn.GroupNorm(1, c, eps=1e-6))), {"layer_norm_all_axes"}),
    "InstanceNorm": (
        port(after_load=_replace_norms(lambda c: nn.InstanceNorm2d(c, affine=True, eps=1e-6))),
        {"layer_norm_spatial"},
    ),
    "GroupNormDefaultEps": (port(after_load=_replace_norms(lambda c: nn.GroupNorm(1, c))), {"layer_norm_all_axes"}),
    "InstanceNormDefaultEps": (
        port(after_load=_replace_norms(lambda c: nn.InstanceNorm2d(c, affine=True))),
        {"layer_norm_spatial"},
    ),
    "Eps1e3": (port(after_load=_eps(1e-3)), {"layer_norm_eps_1e-3"}),
    "NoEps": (port(after_load=_eps(0.0)), {"layer_norm_no_eps"}),
    "Eps1e8": (port(after_load=_eps(1e-8)), {"layer_norm_eps_1e-12"}),  # not in the catalogue: the nearest
    "NoAffine": (port(after_load=_unit_affine), {"layer_norm_no_affine"}),
    "KernelTransposed": (port(after_load=_conv_kernels(lambda w: w.transpose(-1, -2))), {"conv_kernel_transposed"}),
    "KernelFlipped": (port(after_load=_conv_kernels(lambda w: w.flip(-1, -2))), {"conv_kernel_flipped"}),
    "MaskIgnored": (port(_MaskIgnored), {"mask_ignored"}),
    "NoMaskBatch1": (port(_NoMaskBatch1), {"no_mask_batch_1"}),
    "ChannelsLast": (port(run=_nhwc(reshape=False)), {"channels_last"}),
    "ChannelsLastReshaped": (port(run=_nhwc(reshape=True)), {"channels_last_reshaped"}),
}


class _NoShiftTanh(_NoShiftEncoder):
    pass


TWO_BUGS = {  # two bugs at once: the whole-run diagnosis must name both
    "NoShiftAndTanhGELU": (
        port(_NoShiftTanh, after_load=_set_activation(nn.GELU(approximate="tanh"))),
        ["no_pixel_shift_points", "tanh_gelu"],
    ),
    "FgBgAndNoPad": (port(_NoPad, after_load=_swap_embeddings(0, 1)), ["no_padding_point", "labels_swapped"]),
}

FAITHFUL = {
    "RefactoredPE": port(after_load=_swap_pe(_RefactoredPE)),
    "Float64PE": port(after_load=_swap_pe(_Float64PE)),
    "ExplicitLayerNorm": port(after_load=_replace_norms(ExplicitLayerNorm)),
}

EXPECTED = {name: expected for name, (_, expected) in BUGS.items()}
globals().update({name: cls for name, (cls, _) in BUGS.items()})
globals().update({name: cls for name, (cls, _) in TWO_BUGS.items()})
globals().update(FAITHFUL)
