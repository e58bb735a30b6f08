"""samspec.reference: SAM's prompt encoder, one readable pure function per stage.

Float64 on NumPy is the ground truth; the same functions run in float32 or float16 and on any
array-API namespace (array_api_strict, CuPy, torch through array_api_compat). Each function's
docstring gives its equation, shapes and the section of docs/spec.md it implements.
"""

from .activations import ACTIVATIONS, get_activation
from .backend import erf, resolve_namespace
from .checkpoints import CheckpointError, load_params
from .coordinates import normalise_coordinates, shift_to_pixel_centres
from .encoder import STAGES, SAMPromptEncoder
from .masks import conv1x1, conv2x2_stride2, downscale_mask, layer_norm_channels, no_mask_embedding
from .params import check_params, init_params, param_shapes
from .positional_encoding import (
    dense_positional_grid,
    fourier_argument,
    fourier_features,
    grid_cell_centres,
    sinusoids,
)
from .registry import DENSE, DENSE_PE, OUTPUT_KEYS, OUTPUTS, SHORT_NAMES, SPARSE
from .semantics import PROFILES, SEMANTICS, Conventions, LabelRule, Semantics, get_semantics
from .sparse import (
    append_box_not_a_point,
    append_padding_point,
    assemble_sparse,
    embed_box_corners,
    embed_point_labels,
    label_embedding_table,
)

__all__ = [
    "CheckpointError",
    "DENSE",
    "DENSE_PE",
    "OUTPUTS",
    "SHORT_NAMES",
    "SPARSE",
    "ACTIVATIONS",
    "Conventions",
    "LabelRule",
    "OUTPUT_KEYS",
    "PROFILES",
    "SAMPromptEncoder",
    "SEMANTICS",
    "Semantics",
    "STAGES",
    "append_box_not_a_point",
    "append_padding_point",
    "assemble_sparse",
    "check_params",
    "conv1x1",
    "conv2x2_stride2",
    "dense_positional_grid",
    "downscale_mask",
    "embed_box_corners",
    "embed_point_labels",
    "erf",
    "fourier_argument",
    "fourier_features",
    "get_activation",
    "get_semantics",
    "grid_cell_centres",
    "init_params",
    "label_embedding_table",
    "layer_norm_channels",
    "load_params",
    "no_mask_embedding",
    "normalise_coordinates",
    "param_shapes",
    "resolve_namespace",
    "shift_to_pixel_centres",
    "sinusoids",
]
