"""The catalogue of known divergences, as code (docs/diagnosis.md).

Each *variant* is the reference with one known port bug or convention switched on. It is built by
composing the reference's own pieces, never by copying the pipeline:

- ``stages``: replacements for named stages of ``samspec.reference.STAGES`` (each replacement calls
  the reference's stage function with a changed argument or result), given as a function
  ``(params, dtype) -> {stage name: function}`` so that a replacement can use a parameter;
- ``labels`` / ``pad_points``: a changed label rule or padding rule (a ``Conventions`` object);
- ``activation`` / ``layer_norm_eps``: the encoder's own options;
- ``params``: a transform of the float64 parameters before they are cast (a transposed kernel,
  swapped rows of the Gaussian matrix, ...);
- ``inputs`` / ``outputs``: a transform of the `sam`-layout prompt before the encoder, or of its
  outputs after it (layout confusions).

``Variant.run(config, params, inputs, dtype)`` returns the variant's three outputs in `sam` layout,
NumPy arrays of ``dtype``. The diagnosis (``diagnosis.py``) compares a failing port with every
variant; the self-test (``selftest.py``) checks that every variant, run as a port, fails
``samspec check`` and is diagnosed as itself. A name here is the name used in docs/spec.md §12.2,
profiles and reports.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from samspec.reference import DENSE, DENSE_PE, PROFILES, SPARSE, LabelRule, SAMPromptEncoder, registry
from samspec.reference import activations as _activations
from samspec.reference.conventions import KERAS_HUB_LABELS, Conventions
from samspec.reference.coordinates import normalise_coordinates, shift_to_pixel_centres
from samspec.reference.masks import (
    conv1x1,
    conv2x2_stride2,
    downscale_mask,
    layer_norm_channels,
    no_mask_embedding,
)
from samspec.reference.positional_encoding import fourier_argument, grid_cell_centres, sinusoids
from samspec.reference.sparse import append_box_not_a_point, assemble_sparse, embed_box_corners

GAUSSIAN = "pe_layer.positional_encoding_gaussian_matrix"


def conventions_of(semantics):
    """The reference's Conventions for a profile's semantics: a name (`sam`, `sam2`, ...) or a Conventions."""
    return semantics if isinstance(semantics, Conventions) else PROFILES[semantics]


@dataclass(frozen=True)
class Variant:
    """One known divergence: the reference with one thing done the way a buggy port does it."""

    name: str
    explanation: str  # one sentence, addressed to the port author ("your ...")
    section: str  # the docs/spec.md section the port departs from
    group: str  # coordinates, positional encoding, grid, labels, boxes, mask path, layout
    stages: object = None  # (params, dtype) -> {stage name: replacement}
    labels: LabelRule | None = None
    pad_points: bool | None = None
    activation: str | None = None
    layer_norm_eps: float | None = None
    params: object = None  # dict -> dict, on float64 arrays
    inputs: object = None  # (inputs, config) -> inputs, `sam` layout
    outputs: object = None  # (outputs, inputs, config) -> outputs, `sam` layout
    ports: str = ""  # real ports known to behave this way (docs/spec.md §12.2)
    # "float16" for a variant that rounds part of the computation to float16 on purpose: a port
    # doing the same in another order differs from it by float16 rounding, which the diagnosis
    # then allows for (the variant's own distance from the reference in the port's dtype)
    rounding: str | None = None

    def touches(self, params: dict, inputs: dict) -> frozenset:
        """The outputs this variant can change on a case with these inputs (spec §3–§11's data flow),
        judged from what it replaces; anything it cannot tell (input, output or parameter transforms
        of unknown parameters) counts as every output. The diagnosis skips the others."""
        every = frozenset((SPARSE, DENSE, DENSE_PE))
        if self.inputs is not None or self.outputs is not None:
            return every
        masks = inputs.get("masks") is not None
        touched = set()
        if self.labels is not None or self.pad_points is not None:
            touched.add(SPARSE)
        if (self.activation is not None or self.layer_norm_eps is not None) and masks:
            touched.add(DENSE)
        if self.stages is not None:
            for stage in self.stages(params, np.dtype("float64")):
                touched |= STAGE_OUTPUTS.get(stage, every) if stage != "downscale_mask" or masks else set()
                if stage == "no_mask_embedding" and masks:
                    touched.discard(DENSE)
        if self.params is not None:
            changed = self.params(dict(params))
            for key, value in changed.items():
                if key not in params or value is not params[key] and not np.array_equal(value, params[key]):
                    touched |= PARAM_OUTPUTS(key, masks)
        return frozenset(touched)

    def conventions(self, semantics: str = "sam"):
        """The reference conventions ``semantics`` (a port's profile's) with this variant's label or
        padding rule; ``labels`` is a LabelRule, or a function of the base rule (a change of some labels)."""
        base = conventions_of(semantics)
        changes = {}
        if self.labels is not None:
            changes["labels"] = self.labels(base.labels) if callable(self.labels) else self.labels
        if self.pad_points is not None:
            changes["pad_points"] = self.pad_points
        if not changes:
            return base
        return dataclasses.replace(base, name=f"{base.name}+{self.name}", **changes)

    def encoder(self, config: dict, params: dict, dtype: str, semantics: str = "sam") -> SAMPromptEncoder:
        """The reference encoder with this variant switched on (NumPy, conventions ``semantics``)."""
        config = dict(config)
        if self.activation is not None:
            config["activation"] = self.activation
        if self.layer_norm_eps is not None:
            config["layer_norm_eps"] = self.layer_norm_eps
        params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
        if self.params is not None:
            params = self.params(params)
        stages = self.stages(params, np.dtype(dtype)) if self.stages is not None else None
        return SAMPromptEncoder(
            **config, params=params, dtype=dtype, profile=self.conventions(semantics), stages=stages
        )

    def run(
        self, config: dict, params: dict, inputs: dict, dtype: str = "float32", encoder=None, semantics: str = "sam"
    ) -> dict:
        """The variant's outputs for a `sam`-layout prompt, as NumPy arrays in `sam` layout."""
        encoder = encoder if encoder is not None else self.encoder(config, params, dtype, semantics)
        prompt = {k: v for k, v in inputs.items() if v is not None}
        if self.inputs is not None:
            prompt = self.inputs(prompt, config)
        with np.errstate(all="ignore"):  # a variant may divide by zero where the bug it models does
            outputs = {k: np.asarray(v) for k, v in encoder(**prompt).items()}
        if self.outputs is not None:
            outputs = self.outputs(outputs, prompt, config)
        return outputs


STAGE_OUTPUTS = {stage.name: set(stage.outputs) for stage in registry.STAGES}  # which outputs each stage feeds


def PARAM_OUTPUTS(key: str, masks: bool) -> set:
    """The outputs a parameter feeds (on a case with or without a mask)."""
    if key == GAUSSIAN:
        return {SPARSE, DENSE_PE}
    if key.startswith(("point_embeddings.", "not_a_point_embed.")):
        return {SPARSE}
    if key.startswith("mask_downscaling."):
        return {DENSE} if masks else set()
    if key.startswith("no_mask_embed."):
        return set() if masks else {DENSE}
    return {SPARSE, DENSE, DENSE_PE}


# -- building blocks: small changes around the reference's own stage functions ---------------------


def _stages(**replacements):
    """Stage replacements that need no parameter."""
    return lambda params, dtype: replacements


def _rows(params, dtype, key):
    return np.asarray(params[key], dtype=dtype)


def _shift_only(ndim):
    """shift_to_pixel_centres for points (ndim 3: (B, N, 2)) or box corners (ndim 4) only."""

    def shift(coords, xp):
        return shift_to_pixel_centres(coords, xp) if coords.ndim == ndim else coords

    return shift


def _normalise_by(size_of):
    """normalise_coordinates with the (H, W) pair replaced by ``size_of((H, W))``."""

    def normalise(coords, input_image_size, xp):
        return normalise_coordinates(coords, size_of(tuple(input_image_size)), xp)

    return normalise


def _pe_float16(coords_only):
    """The positional encoding with its unit coordinates rounded to float16 (``coords_only``), or
    computed entirely in float16 (argument and sinusoids) and cast back to the port's dtype."""

    def rounded_coords(unit, gaussian, xp):
        return fourier_argument(xp.astype(xp.astype(unit, xp.float16), unit.dtype), gaussian, xp)

    def half_argument(unit, gaussian, xp):
        return fourier_argument(xp.astype(unit, xp.float16), xp.astype(gaussian, xp.float16), xp)

    if coords_only:
        return _stages(fourier_argument=rounded_coords)

    def factory(params, dtype):
        def features_back(argument, xp):
            return xp.astype(sinusoids(argument, xp), dtype)

        return {"fourier_argument": half_argument, "sinusoids": features_back}

    return factory


def _interleaved(argument, xp):
    """[sin A0, cos A0, sin A1, cos A1, ...]: the reference's two halves interleaved channel by channel."""
    features = sinusoids(argument, xp)
    half = argument.shape[-1]
    pairs = xp.stack([features[..., :half], features[..., half:]], axis=-1)
    return xp.reshape(pairs, argument.shape[:-1] + (2 * half,))


def _cos_first(argument, xp):
    """[cos A, sin A]: the reference's [sin A, cos A] with its halves exchanged."""
    features = sinusoids(argument, xp)
    half = argument.shape[-1]
    return xp.concat([features[..., half:], features[..., :half]], axis=-1)


def _grid_offset(dx):
    """grid_cell_centres moved by ``dx`` cells: (j + 0.5 + dx) / w, (i + 0.5 + dx) / h."""

    def centres(image_embedding_size, dtype, xp):
        h, w = image_embedding_size
        return grid_cell_centres(image_embedding_size, dtype, xp) + xp.asarray([dx / w, dx / h], dtype=dtype)

    return centres


def _grid_linspace(image_embedding_size, dtype, xp):
    """linspace(0, 1, w) and linspace(0, 1, h): j / (w - 1), i / (h - 1) (0 for a single cell)."""
    h, w = image_embedding_size
    centres = grid_cell_centres(image_embedding_size, dtype, xp)
    offset = xp.asarray([0.5 / w, 0.5 / h], dtype=dtype)
    stretch = xp.asarray([w / max(w - 1, 1) if w > 1 else 0.0, h / max(h - 1, 1) if h > 1 else 0.0], dtype=dtype)
    return (centres - offset) * stretch


def _grid_xy_swapped(image_embedding_size, dtype, xp):
    centres = grid_cell_centres(image_embedding_size, dtype, xp)
    return xp.stack([centres[..., 1], centres[..., 0]], axis=-1)


def _padding_always(params, dtype):
    """The padding token is appended after the points even when boxes are given."""
    not_a_point = _rows(params, dtype, "not_a_point_embed.weight")

    def assemble(point_tokens, box_tokens, batch, hidden_size, dtype_, xp):
        if point_tokens is not None and box_tokens is not None:
            pad = xp.broadcast_to(xp.reshape(xp.asarray(not_a_point), (1, 1, hidden_size)), (batch, 1, hidden_size))
            point_tokens = xp.concat([point_tokens, pad], axis=1)
        return assemble_sparse(point_tokens, box_tokens, batch, hidden_size, dtype_, xp)

    return {"assemble_sparse": assemble}


def _box_not_a_point(params, dtype):
    """Each box's two corner tokens are followed by a not_a_point token (spec §6.3)."""
    not_a_point = _rows(params, dtype, "not_a_point_embed.weight")

    def assemble(point_tokens, box_tokens, batch, hidden_size, dtype_, xp):
        if box_tokens is not None:
            box_tokens = append_box_not_a_point(box_tokens, xp.asarray(not_a_point), xp)
        return assemble_sparse(point_tokens, box_tokens, batch, hidden_size, dtype_, xp)

    return {"assemble_sparse": assemble}


def _boxes_first(point_tokens, box_tokens, batch, hidden_size, dtype, xp):
    return assemble_sparse(box_tokens, point_tokens, batch, hidden_size, dtype, xp)


def _corner_embeddings_swapped(corner_pe, top_left, bottom_right, xp):
    return embed_box_corners(corner_pe, bottom_right, top_left, xp)


def _corners_swapped(corner_pe, top_left, bottom_right, xp):
    return embed_box_corners(xp.flip(corner_pe, axis=-2), top_left, bottom_right, xp)


def _labels(**changes):
    """A change of some labels of the port's label rule: value -> (keep PE?, row of LABEL_ROWS)."""

    def change(rule: LabelRule) -> LabelRule:
        entries = dict(rule.entries)
        for key, value in changes.items():
            entries[int(key.replace("minus_", "-"))] = value
        return LabelRule(entries)

    return change


# mask path ---------------------------------------------------------------------------------------


def _activation(name):
    """A downscaler whose activation is ``f`` (one not among the reference's named activations)."""
    functions = {
        # GELU's sigmoid approximation, x * sigmoid(1.702 x) ("quick GELU")
        "sigmoid_gelu": lambda x, xp: x * _activations.sigmoid(1.702 * x, xp),
    }
    function = functions[name]

    def downscale(mask, params, activation, xp, eps=1e-6, trace=None):
        return downscale_mask(mask, params, function, xp, eps=eps, trace=trace)

    return _stages(downscale_mask=downscale)


def _downscaler(norm=layer_norm_channels, second_activation=True):
    """Spec §9.5's composition of the reference's stage functions (channels last), with the
    LayerNorm2d replaced by ``norm(x, gamma, beta, eps, xp)`` (and without the second activation)."""

    def downscale(mask, params, activation, xp, eps=1e-6, trace=None):
        p = params
        x = mask[..., None]
        x = conv2x2_stride2(x, p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"], xp)
        x = activation(norm(x, p["mask_downscaling.1.weight"], p["mask_downscaling.1.bias"], eps, xp), xp)
        x = conv2x2_stride2(x, p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"], xp)
        x = norm(x, p["mask_downscaling.4.weight"], p["mask_downscaling.4.bias"], eps, xp)
        x = activation(x, xp) if second_activation else x
        return conv1x1(x, p["mask_downscaling.6.weight"], p["mask_downscaling.6.bias"], xp)

    return _stages(downscale_mask=downscale)


def _norm_over(axes, unbiased=False, eps_outside=False):
    """A LayerNorm2d over other axes of (B, y, x, C), or with another variance or eps placement."""

    def norm(x, weight, bias, eps, xp):
        count = 1
        for axis in axes:
            count *= x.shape[axis]
        mean = xp.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        squares = xp.sum(centred * centred, axis=axes, keepdims=True)
        if unbiased:  # torch.var's default: divide by count - 1 (NaN for a single channel)
            with np.errstate(divide="ignore", invalid="ignore"):
                variance = squares / (count - 1) if count > 1 else squares * np.nan
        else:
            variance = squares / count
        if eps_outside:
            return centred / (xp.sqrt(variance) + eps) * weight + bias
        with np.errstate(invalid="ignore"):
            return centred / xp.sqrt(variance + eps) * weight + bias

    return norm


def _no_affine(params):
    params = dict(params)
    for index in (1, 4):
        params[f"mask_downscaling.{index}.weight"] = np.ones_like(params[f"mask_downscaling.{index}.weight"])
        params[f"mask_downscaling.{index}.bias"] = np.zeros_like(params[f"mask_downscaling.{index}.bias"])
    return params


def _kernels(transform):
    def apply(params):
        params = dict(params)
        for index in (0, 3):
            params[f"mask_downscaling.{index}.weight"] = np.ascontiguousarray(
                transform(params[f"mask_downscaling.{index}.weight"])
            )
        return params

    return apply


def _gaussian(transform):
    def apply(params):
        params = dict(params)
        params[GAUSSIAN] = np.ascontiguousarray(transform(params[GAUSSIAN]))
        return params

    return apply


def _mask_ignored(params, dtype):
    embed = _rows(params, dtype, "no_mask_embed.weight")

    def downscale(mask, params_, activation, xp, eps=1e-6, trace=None):
        h, w = mask.shape[1] // 4, mask.shape[2] // 4
        return no_mask_embedding(xp.asarray(embed), mask.shape[0], (h, w), xp)

    return {"downscale_mask": downscale}


def _mask_plus_no_mask(params, dtype):
    embed = _rows(params, dtype, "no_mask_embed.weight")

    def downscale(mask, params_, activation, xp, eps=1e-6, trace=None):
        return downscale_mask(mask, params_, activation, xp, eps=eps, trace=trace) + xp.asarray(embed)[0]

    return {"downscale_mask": downscale}


# layouts (outputs in `sam` layout: dense (B, C, h, w), grid (1, C, h, w)) ----------------------


def _channels_last_output(outputs, inputs, config):
    out = dict(outputs)
    for key in (DENSE, DENSE_PE):
        out[key] = np.ascontiguousarray(np.transpose(out[key], (0, 2, 3, 1)))
    return out


def _channels_last_reshaped(outputs, inputs, config):
    """NHWC data reinterpreted as NCHW by a reshape instead of a transpose."""
    out = dict(outputs)
    for key in (DENSE, DENSE_PE):
        value = out[key]
        out[key] = np.reshape(np.ascontiguousarray(np.transpose(value, (0, 2, 3, 1))), value.shape)
    return out


def _grid_transposed(outputs, inputs, config):
    out = dict(outputs)
    out[DENSE_PE] = np.ascontiguousarray(np.transpose(out[DENSE_PE], (0, 1, 3, 2)))
    return out


def _no_mask_batch_1(outputs, inputs, config):
    out = dict(outputs)
    if inputs.get("masks") is None:
        out[DENSE] = out[DENSE][:1]
    return out


def _boxes_yxyx(inputs, config):
    out = dict(inputs)
    if out.get("boxes") is not None:
        out["boxes"] = np.asarray(out["boxes"])[:, [1, 0, 3, 2]]
    return out


def _coordinates_yx(coords, xp):
    return shift_to_pixel_centres(xp.flip(coords, axis=-1), xp)


# -- the catalogue ------------------------------------------------------------------------------------

V = Variant

CATALOGUE = [
    # coordinates (§3)
    V(
        "no_pixel_shift",
        "your port does not add 0.5 to point and box coordinates before normalising (pixel-centre shift)",
        "§3.1",
        "coordinates",
        stages=_stages(shift_to_pixel_centres=lambda coords, xp: coords),
    ),
    V(
        "no_pixel_shift_points",
        "your port does not add 0.5 to point coordinates before normalising (boxes are shifted)",
        "§3.1",
        "coordinates",
        stages=_stages(shift_to_pixel_centres=_shift_only(4)),
    ),
    V(
        "no_pixel_shift_boxes",
        "your port does not add 0.5 to box corners before normalising (points are shifted)",
        "§3.1",
        "coordinates",
        stages=_stages(shift_to_pixel_centres=_shift_only(3)),
    ),
    V(
        "coordinates_yx",
        "your port reads point and box coordinates as (y, x) instead of (x, y)",
        "§3",
        "coordinates",
        stages=_stages(shift_to_pixel_centres=_coordinates_yx),
    ),
    V(
        "swapped_xy_normalisation",
        "your port divides x by the image height and y by the width (input_image_size is (H, W))",
        "§3.2",
        "coordinates",
        stages=_stages(normalise_coordinates=_normalise_by(lambda hw: (hw[1], hw[0]))),
    ),
    V(
        "square_normalisation",
        "your port divides x and y by one size, the longer image side, as if the image were square",
        "§3.2",
        "coordinates",
        stages=_stages(normalise_coordinates=_normalise_by(lambda hw: (max(hw), max(hw)))),
        ports="HF, ONNX",
    ),
    V(
        "square_normalisation_height",
        "your port divides x and y by the image height, as if the image were square",
        "§3.2",
        "coordinates",
        stages=_stages(normalise_coordinates=_normalise_by(lambda hw: (hw[0], hw[0]))),
    ),
    V(
        "square_normalisation_width",
        "your port divides x and y by the image width, as if the image were square",
        "§3.2",
        "coordinates",
        stages=_stages(normalise_coordinates=_normalise_by(lambda hw: (hw[1], hw[1]))),
    ),
    V(
        "fixed_1024_normalisation",
        "your port divides coordinates by a fixed 1024 instead of the configured image size",
        "§3.2",
        "coordinates",
        stages=_stages(normalise_coordinates=_normalise_by(lambda hw: (1024, 1024))),
        ports="sam.cpp",
    ),
    V(
        "normalise_by_size_minus_1",
        "your port divides coordinates by (W - 1, H - 1) instead of (W, H) (align-corners style)",
        "§3.2",
        "coordinates",
        stages=_stages(normalise_coordinates=_normalise_by(lambda hw: (hw[0] - 1, hw[1] - 1))),
    ),
    # positional encoding (§4)
    V(
        "cos_sin_order",
        "your positional encoding puts the cosines before the sines",
        "§4.2",
        "positional encoding",
        stages=_stages(sinusoids=_cos_first),
    ),
    V(
        "sin_cos_interleaved",
        "your positional encoding interleaves sines and cosines (sin, cos, sin, ...) instead of all sines then "
        "all cosines",
        "§4.2",
        "positional encoding",
        stages=_stages(sinusoids=_interleaved),
    ),
    V(
        "no_centring",
        "your positional encoding skips the 2u - 1 centring: it projects u in [0, 1] instead of [-1, 1]",
        "§4.1",
        "positional encoding",
        stages=_stages(fourier_argument=lambda u, g, xp: fourier_argument(0.5 * (u + 1.0), g, xp)),
    ),
    V(
        "pi_not_2pi",
        "your positional encoding multiplies by pi instead of 2 pi",
        "§4.1",
        "positional encoding",
        stages=_stages(fourier_argument=lambda u, g, xp: 0.5 * fourier_argument(u, g, xp)),
    ),
    V(
        "gaussian_rows_swapped",
        "your positional encoding multiplies x by row 1 and y by row 0 of the Gaussian matrix",
        "§4.1",
        "positional encoding",
        params=_gaussian(lambda g: g[::-1]),
    ),
    V(
        "gaussian_transposed",
        "your port loads the (2, C/2) Gaussian matrix as (C/2, 2) by a reshape and transposes it back (a "
        "transpose was needed)",
        "§4.1",
        "positional encoding",
        params=_gaussian(lambda g: np.reshape(g, (g.shape[1], 2)).T),
    ),
    V(
        "gaussian_transposed_reshaped",
        "your port transposes the Gaussian matrix and reshapes it back to (2, C/2), scrambling its entries",
        "§4.1",
        "positional encoding",
        params=_gaussian(lambda g: np.reshape(g.T, g.shape)),
    ),
    V(
        "pe_float16",
        "your positional encoding is computed in float16",
        "§1.3",
        "positional encoding",
        stages=_pe_float16(coords_only=False),
        rounding="float16",
    ),
    V(
        "pe_float16_coords",
        "your positional encoding rounds the normalised coordinates to float16",
        "§1.3",
        "positional encoding",
        stages=_pe_float16(coords_only=True),
        rounding="float16",
    ),
    V(
        "gaussian_float16",
        "your Gaussian matrix is stored in float16",
        "§1.3",
        "positional encoding",
        params=_gaussian(lambda g: g.astype(np.float16).astype(np.float64)),
        ports="sam.cpp (fp16 weights)",
        rounding="float16",
    ),
    # dense positional grid (§8)
    V(
        "grid_no_half_cell",
        "your dense positional grid samples cell corners j / w instead of centres (j + 0.5) / w",
        "§8.1",
        "grid",
        stages=_stages(grid_cell_centres=_grid_offset(-0.5)),
    ),
    V(
        "grid_cumsum_no_offset",
        "your dense positional grid uses cumsum without the - 0.5: (j + 1) / w instead of (j + 0.5) / w",
        "§8.1",
        "grid",
        stages=_stages(grid_cell_centres=_grid_offset(0.5)),
    ),
    V(
        "grid_linspace",
        "your dense positional grid spans the unit square edge to edge, linspace(0, 1): j / (w - 1) instead of "
        "(j + 0.5) / w",
        "§8.1",
        "grid",
        stages=_stages(grid_cell_centres=_grid_linspace),
    ),
    V(
        "grid_xy_swapped",
        "your dense positional grid stacks (y, x) instead of (x, y)",
        "§8.1",
        "grid",
        stages=_stages(grid_cell_centres=_grid_xy_swapped),
    ),
    V(
        "grid_transposed",
        "your dense positional grid is transposed: (1, C, w, h) instead of (1, C, h, w)",
        "§8.2",
        "grid",
        outputs=_grid_transposed,
    ),
    # padding and labels (§5)
    V(
        "no_padding_point",
        "your port does not append the padding point (0, 0) with label -1 when points come without boxes",
        "§5.1",
        "labels",
        pad_points=False,
        ports="keras-hub, ONNX",
    ),
    V(
        "padding_point_always",
        "your port appends the padding point even when a box is given",
        "§5.1",
        "labels",
        stages=_padding_always,
    ),
    V(
        "not_a_point_keeps_pe",
        "your port adds not_a_point_embed to the positional encoding of label -1 instead of replacing it",
        "§5.2",
        "labels",
        labels=_labels(minus_1=(1, "not_a_point")),
    ),
    V(
        "not_a_point_zeroed",
        "your port gives label -1 an all-zero token instead of not_a_point_embed",
        "§5.2",
        "labels",
        labels=_labels(minus_1=(0, "none")),
    ),
    V(
        "not_a_point_wraps_to_last",
        "your port looks label -1 up in the point-embedding table, where index -1 wraps to the last row "
        "(point_embeddings.3)",
        "§5.2",
        "labels",
        labels=_labels(minus_1=(1, "bottom_right")),
    ),
    V(
        "labels_swapped",
        "your port swaps the foreground and background embeddings (label 1 gets point_embeddings.0)",
        "§5.2",
        "labels",
        labels=_labels(**{"0": (1, "foreground"), "1": (1, "background")}),
    ),
    V(
        "labels_2_3_foreground",
        "your port gives labels 2 and 3 the foreground embedding (where(label == 0, bg, fg))",
        "§5.2",
        "labels",
        labels=LabelRule(dict(KERAS_HUB_LABELS.entries)),
        ports="keras-hub",
    ),
    V(
        "corner_labels",
        "your port gives labels 2 and 3 the box-corner embeddings (point_embeddings.2 / .3)",
        "§5.2",
        "labels",
        labels=_labels(**{"2": (1, "top_left"), "3": (1, "bottom_right")}),
        ports="ONNX, sam2, ultralytics, HF SAM 2",
    ),
    # boxes and the sparse assembly (§6, §7)
    V(
        "box_corners_swapped",
        "your port gives the top-left embedding to (x2, y2) and the bottom-right one to (x1, y1)",
        "§6",
        "boxes",
        stages=_stages(embed_box_corners=_corners_swapped),
    ),
    V(
        "box_corner_embeddings_swapped",
        "your port swaps the two corner embeddings (point_embeddings.2 and .3)",
        "§6.2",
        "boxes",
        stages=_stages(embed_box_corners=_corner_embeddings_swapped),
    ),
    V(
        "boxes_yxyx",
        "your port reads boxes as (y1, x1, y2, x2) instead of (x1, y1, x2, y2)",
        "§6.1",
        "boxes",
        inputs=_boxes_yxyx,
    ),
    V(
        "box_not_a_point_token",
        "your port appends a not_a_point token after each box's two corner tokens",
        "§6.3",
        "boxes",
        stages=_box_not_a_point,
        ports="HF SAM 2 family",
    ),
    V(
        "boxes_before_points",
        "your sparse output puts the box tokens before the point tokens",
        "§7",
        "boxes",
        stages=_stages(assemble_sparse=_boxes_first),
    ),
    # mask path (§9, §10)
    V(
        "tanh_gelu",
        "your mask downscaler uses the tanh approximation of GELU",
        "§9.3",
        "mask path",
        activation="gelu_tanh",
        ports="candle",
    ),
    V(
        "sigmoid_gelu",
        "your mask downscaler uses the sigmoid approximation of GELU, x * sigmoid(1.702 x)",
        "§9.3",
        "mask path",
        stages=_activation("sigmoid_gelu"),
    ),
    V("relu_activation", "your mask downscaler uses ReLU instead of GELU", "§9.3", "mask path", activation="relu"),
    V(
        "silu_activation",
        "your mask downscaler uses SiLU (swish) instead of GELU",
        "§9.3",
        "mask path",
        activation="silu",
    ),
    V(
        "no_activation",
        "your mask downscaler has no activation after its LayerNorms",
        "§9.3",
        "mask path",
        activation="linear",
    ),
    V("elu_activation", "your mask downscaler uses ELU instead of GELU", "§9.3", "mask path", activation="elu"),
    V("mish_activation", "your mask downscaler uses Mish instead of GELU", "§9.3", "mask path", activation="mish"),
    V("tanh_activation", "your mask downscaler uses tanh instead of GELU", "§9.3", "mask path", activation="tanh"),
    V(
        "sigmoid_activation",
        "your mask downscaler uses the logistic sigmoid instead of GELU",
        "§9.3",
        "mask path",
        activation="sigmoid",
    ),
    V(
        "layer_norm_eps_1e-5",
        "your mask downscaler's LayerNorm uses eps 1e-5 (PyTorch's default) instead of 1e-6",
        "§9.2",
        "mask path",
        layer_norm_eps=1e-5,
    ),
    V(
        "layer_norm_eps_1e-3",
        "your mask downscaler's LayerNorm uses eps 1e-3 (Keras's default) instead of 1e-6",
        "§9.2",
        "mask path",
        layer_norm_eps=1e-3,
    ),
    V(
        "layer_norm_eps_1e-12",
        "your mask downscaler's LayerNorm uses eps 1e-12 instead of 1e-6",
        "§9.2",
        "mask path",
        layer_norm_eps=1e-12,
    ),
    V(
        "layer_norm_no_eps",
        "your mask downscaler's LayerNorm has no eps (0): a pixel whose channels are equal gives 0 / 0",
        "§9.2",
        "mask path",
        stages=_downscaler(lambda x, weight, bias, eps, xp: _norm_over((-1,))(x, weight, bias, 0.0, xp)),
    ),
    V(
        "layer_norm_eps_outside_sqrt",
        "your mask downscaler's LayerNorm adds eps to the standard deviation, not to the variance",
        "§9.2",
        "mask path",
        stages=_downscaler(_norm_over((-1,), eps_outside=True)),
    ),
    V(
        "layer_norm_unbiased",
        "your mask downscaler's LayerNorm uses the unbiased variance (divides by C - 1)",
        "§9.2",
        "mask path",
        stages=_downscaler(_norm_over((-1,), unbiased=True)),
    ),
    V(
        "layer_norm_spatial",
        "your mask downscaler's LayerNorm normalises each channel over the pixels (instance norm), not each "
        "pixel over the channels",
        "§9.2",
        "mask path",
        stages=_downscaler(_norm_over((1, 2))),
    ),
    V(
        "layer_norm_all_axes",
        "your mask downscaler's LayerNorm normalises over channels and pixels together (GroupNorm(1) or "
        "LayerNorm([C, H, W]))",
        "§9.2",
        "mask path",
        stages=_downscaler(_norm_over((1, 2, 3))),
    ),
    V(
        "layer_norm_no_affine",
        "your mask downscaler's LayerNorm ignores its weight and bias (gamma, beta)",
        "§9.2",
        "mask path",
        params=_no_affine,
    ),
    V(
        "conv_kernel_transposed",
        "your mask downscaler's 2x2 convolution kernels are transposed (kh and kw swapped)",
        "§9.1",
        "mask path",
        params=_kernels(lambda w: np.transpose(w, (0, 1, 3, 2))),
    ),
    V(
        "conv_kernel_flipped",
        "your mask downscaler's 2x2 convolutions flip their kernels (true convolution, not PyTorch's "
        "cross-correlation)",
        "§9.1",
        "mask path",
        params=_kernels(lambda w: w[:, :, ::-1, ::-1]),
    ),
    V(
        "mask_ignored",
        "your port ignores the mask prompt and always returns no_mask_embed",
        "§9",
        "mask path",
        stages=_mask_ignored,
    ),
    V(
        "mask_plus_no_mask",
        "your port adds no_mask_embed to the downscaled mask",
        "§10",
        "mask path",
        stages=_mask_plus_no_mask,
    ),
    V(
        "no_mask_batch_1",
        "your no-mask dense output has batch 1 whatever the batch size",
        "§10",
        "mask path",
        outputs=_no_mask_batch_1,
        ports="candle",
    ),
    # layout (§11)
    V(
        "channels_last",
        "your dense outputs are channels-last (B, h, w, C) where (B, C, h, w) is expected",
        "§11.2",
        "layout",
        outputs=_channels_last_output,
        ports="keras-hub, MLX",
    ),
    V(
        "channels_last_reshaped",
        "your dense outputs are channels-last data reshaped (not transposed) to (B, C, h, w)",
        "§11.2",
        "layout",
        outputs=_channels_last_reshaped,
    ),
]

VARIANTS = {variant.name: variant for variant in CATALOGUE}


def _chain(first, second):
    if first is None or second is None:
        return first or second
    return lambda *args: second(first(*args), *args[1:])


def compose(a: Variant, b: Variant) -> Variant | None:
    """Both variants at once (a port with two bugs), or None when they change the same thing."""
    for attribute in ("labels", "pad_points", "activation", "layer_norm_eps"):
        if getattr(a, attribute) is not None and getattr(b, attribute) is not None:
            return None
    if a.stages is not None and b.stages is not None:
        probe = {k: np.zeros((1, 1)) for k in ("not_a_point_embed.weight", "no_mask_embed.weight")}
        if set(a.stages(probe, np.dtype("float64"))) & set(b.stages(probe, np.dtype("float64"))):
            return None

    def stages(params, dtype):
        return {**(a.stages(params, dtype) if a.stages else {}), **(b.stages(params, dtype) if b.stages else {})}

    return Variant(
        name=f"{a.name}+{b.name}",
        explanation=f"{a.explanation}; and {b.explanation}",
        section=f"{a.section}, {b.section}",
        group=a.group if a.group == b.group else f"{a.group}, {b.group}",
        stages=stages if (a.stages or b.stages) else None,
        labels=a.labels if a.labels is not None else b.labels,
        pad_points=a.pad_points if a.pad_points is not None else b.pad_points,
        activation=a.activation or b.activation,
        layer_norm_eps=a.layer_norm_eps if a.layer_norm_eps is not None else b.layer_norm_eps,
        params=(lambda p: b.params(a.params(p))) if a.params and b.params else (a.params or b.params),
        inputs=_chain(a.inputs, b.inputs),
        outputs=_chain(a.outputs, b.outputs),
        rounding=a.rounding or b.rounding,
    )


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise ValueError(f"variant: expected one of {sorted(VARIANTS)}; received {name!r}")
    return VARIANTS[name]


class VariantAdapter:
    """A catalogue variant (a name or a ``Variant``, e.g. from ``compose``) wrapped as a port:
    float32, profile `sam`. The self-test checks every variant this way."""

    profile = "sam"

    def __init__(self, variant: str | Variant, dtype: str = "float32"):
        self.variant = variant if isinstance(variant, Variant) else get_variant(variant)
        self.name = f"variant:{self.variant.name}"
        self.dtype = dtype

    def build(self, config, params):
        self.config = dict(config)
        self.encoder = self.variant.encoder(config, params, self.dtype)

    def run(self, points, labels, boxes, masks):
        inputs = {"points": points, "labels": labels, "boxes": boxes, "masks": masks}
        return self.variant.run(self.config, {}, inputs, self.dtype, encoder=self.encoder)
