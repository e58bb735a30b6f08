"""Buggy ports built on keras-hub's ``SAMPromptEncoder`` (Keras 3, profile ``keras_hub``): the
built-in adapter's conversion, then one porter's change (a weight-conversion slip, a dtype policy,
or a method of the layer patched on its instance). The built-in ``trace()`` is kept. Registry: ``bugs.py``."""

from __future__ import annotations

import numpy as np

from samspec.conformance.adapters.keras_hub import KerasHubAdapter, conv_kernel_to_keras

from .patching import on_instance


class KerasPort(KerasHubAdapter):
    def __init__(self):
        super().__init__(mode="eager")

    def convert_layer(self, layer, params):
        pass

    def patch(self, layer):
        pass

    def build(self, config, params):
        super().build(config, params)
        self.convert_layer(self.layer, params)
        self.patch(self.layer)


class KerasFaithfulBoxConcat(KerasPort):
    """Faithful: ``_embed_box`` rewritten with a concatenation of the two corner tokens per box."""

    def patch(self, layer):
        from keras import ops

        @on_instance(layer, "_embed_box")
        def _embed_box(self, box):
            batch, n = ops.shape(box)[0], ops.shape(box)[1]
            pe = self.positional_embedding_layer.encode_coordinates(box + 0.5, self.input_image_size)
            index = ops.arange(1, dtype="int32")
            tl = pe[:, :, 0:1, :] + self.top_left_corner_embed(index)
            br = pe[:, :, 1:2, :] + self.bottom_right_corner_embed(index)
            return ops.reshape(ops.concatenate([tl, br], axis=2), (batch, n * 2, self.hidden_size))


class KerasConv3Reshaped(KerasPort):
    """§9.4 weight conversion: the 1x1 convolution's kernel converted by ``reshape(1, 1, Cm, C)`` of the
    (C, Cm, 1, 1) PyTorch weight instead of the (2, 3, 1, 0) transpose."""

    def convert_layer(self, layer, params):
        weights = layer.mask_downscaler.get_weights()
        w = np.asarray(params["mask_downscaling.6.weight"], dtype=np.float32)
        weights[8] = w.reshape(1, 1, w.shape[1], w.shape[0])
        assert weights[8].shape == conv_kernel_to_keras(w).shape
        layer.mask_downscaler.set_weights(weights)


class KerasBoxCornersStackedOnBoxAxis(KerasPort):
    """§6.2 ordering: the corner tokens stacked on axis 1 and reshaped, (tl0, tl1, …, br0, br1, …)
    instead of per box (tl0, br0, tl1, br1, …); equal with one box per image."""

    def patch(self, layer):
        from keras import ops

        @on_instance(layer, "_embed_box")
        def _embed_box(self, box):
            batch, n = ops.shape(box)[0], ops.shape(box)[1]
            pe = self.positional_embedding_layer.encode_coordinates(box + 0.5, self.input_image_size)
            index = ops.arange(1, dtype="int32")
            tl = pe[:, :, 0, :] + self.top_left_corner_embed(index)
            br = pe[:, :, 1, :] + self.bottom_right_corner_embed(index)
            return ops.reshape(ops.stack([tl, br], axis=1), (batch, n * 2, self.hidden_size))


class KerasShiftXOnly(KerasPort):
    """§3.1: ``_embed_points`` shifts only x by 0.5 (``points + [0.5, 0]``)."""

    def patch(self, layer):
        from keras import ops

        original = layer._embed_points

        @on_instance(layer, "_embed_points")
        def _embed_points(self, points, labels):
            offset = ops.convert_to_tensor(np.array([0.0, -0.5], dtype=np.float32))
            return original(points + offset, labels)  # the original adds 0.5 to both


class KerasTwoConv3ShiftX(KerasShiftXOnly, KerasConv3Reshaped):
    """Two bugs: §3.1 only x shifted, and §9.4 the 1x1 kernel converted by reshape."""
