"""Small ports written only against docs/adapters.md, for the harness's own tests."""

import numpy as np

from samspec.reference import SAMPromptEncoder


class Faithful32:
    """The reference in float32: a faithful port."""

    name = "faithful32"
    profile = "sam"

    def build(self, config, params):
        self.encoder = SAMPromptEncoder(**config, params=params, dtype="float32")

    def run(self, points, labels, boxes, masks):
        return {
            k: np.asarray(v) for k, v in self.encoder(points=points, labels=labels, boxes=boxes, masks=masks).items()
        }


class NoShift(Faithful32):
    """Forgets the +0.5 pixel-centre shift (spec §3.1)."""

    def build(self, config, params):
        self.encoder = SAMPromptEncoder(
            **config, params=params, dtype="float32", stages={"shift_to_pixel_centres": lambda coords, xp: coords}
        )


class Crashes(Faithful32):
    def run(self, points, labels, boxes, masks):
        if masks is not None:
            raise RuntimeError("mask path not implemented")
        return super().run(points, labels, boxes, masks)


class MissingKey(Faithful32):
    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        del out["prompt_dense_positional_embeddings"]
        return out


class WrongShape(Faithful32):
    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        out["prompt_dense_embeddings"] = np.transpose(out["prompt_dense_embeddings"], (0, 2, 3, 1))
        return out


class IntegerOutput(Faithful32):
    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        out["prompt_sparse_embeddings"] = np.round(out["prompt_sparse_embeddings"]).astype(np.int32)
        return out


class NaNs(Faithful32):
    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        dense = out["prompt_dense_embeddings"].copy()
        dense.reshape(-1)[3] = np.nan
        out["prompt_dense_embeddings"] = dense
        return out


class MutatesInputs(Faithful32):
    def run(self, points, labels, boxes, masks):
        if points is not None:
            points += 1.0  # in place: must not leak into the fixtures or later cases
        return super().run(points, labels, boxes, masks)


def broken_build():
    class Broken(Faithful32):
        def build(self, config, params):
            raise ImportError("libfoo not found")

    return Broken()
