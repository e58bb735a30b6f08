"""Spec §2.2 under each library's names: the key maps from Meta's, transformers' and keras-hub's
checkpoints to SAM v1's ``state_dict()`` names."""

from __future__ import annotations

from ..params import param_shapes

META = {name: name for name in param_shapes(2, 4)}  # SAM v1 names are the reference's


HF = {  # transformers SamModel (prefix "prompt_encoder." except the shared Gaussian matrix)
    "pe_layer.positional_encoding_gaussian_matrix": "shared_image_embedding.positional_embedding",
    "point_embeddings.0.weight": "point_embed.0.weight",
    "point_embeddings.1.weight": "point_embed.1.weight",
    "point_embeddings.2.weight": "point_embed.2.weight",
    "point_embeddings.3.weight": "point_embed.3.weight",
    "not_a_point_embed.weight": "not_a_point_embed.weight",
    "no_mask_embed.weight": "no_mask_embed.weight",
    "mask_downscaling.0.weight": "mask_embed.conv1.weight",
    "mask_downscaling.0.bias": "mask_embed.conv1.bias",
    "mask_downscaling.1.weight": "mask_embed.layer_norm1.weight",
    "mask_downscaling.1.bias": "mask_embed.layer_norm1.bias",
    "mask_downscaling.3.weight": "mask_embed.conv2.weight",
    "mask_downscaling.3.bias": "mask_embed.conv2.bias",
    "mask_downscaling.4.weight": "mask_embed.layer_norm2.weight",
    "mask_downscaling.4.bias": "mask_embed.layer_norm2.bias",
    "mask_downscaling.6.weight": "mask_embed.conv3.weight",
    "mask_downscaling.6.bias": "mask_embed.conv3.bias",
}


HF_SHARED_PE = "shared_image_embedding.positional_embedding"


HF_TIED_PE = "shared_embedding.positional_embedding"  # SamPromptEncoder's own handle on the same matrix


KERAS = {  # keras-hub SAMPromptEncoder: dataset path inside the layer's group, and whether it is a conv kernel
    "pe_layer.positional_encoding_gaussian_matrix": ("positional_embedding_layer/vars/0", False),
    "point_embeddings.0.weight": ("background_point_embed/vars/0", False),
    "point_embeddings.1.weight": ("foreground_point_embed/vars/0", False),
    "point_embeddings.2.weight": ("top_left_corner_embed/vars/0", False),
    "point_embeddings.3.weight": ("bottom_right_corner_embed/vars/0", False),
    "not_a_point_embed.weight": ("not_a_point_embed/vars/0", False),
    "no_mask_embed.weight": ("no_mask_embed/vars/0", False),
    "mask_downscaling.0.weight": ("mask_downscaler/layers/conv2d/vars/0", True),
    "mask_downscaling.0.bias": ("mask_downscaler/layers/conv2d/vars/1", False),
    "mask_downscaling.1.weight": ("mask_downscaler/layers/layer_normalization/vars/0", False),
    "mask_downscaling.1.bias": ("mask_downscaler/layers/layer_normalization/vars/1", False),
    "mask_downscaling.3.weight": ("mask_downscaler/layers/conv2d_1/vars/0", True),
    "mask_downscaling.3.bias": ("mask_downscaler/layers/conv2d_1/vars/1", False),
    "mask_downscaling.4.weight": ("mask_downscaler/layers/layer_normalization_1/vars/0", False),
    "mask_downscaling.4.bias": ("mask_downscaler/layers/layer_normalization_1/vars/1", False),
    "mask_downscaling.6.weight": ("mask_downscaler/layers/conv2d_2/vars/0", True),
    "mask_downscaling.6.bias": ("mask_downscaler/layers/conv2d_2/vars/1", False),
}


KERAS_MARKERS = ("mask_downscaler", "positional_embedding_layer")
