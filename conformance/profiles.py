"""Convention profiles: how a fixture's `sam`-convention inputs map to a port's inputs, and how
the port's outputs map back (docs/profiles.md). A profile is data plus two small functions; a
case it cannot express raises NotApplicable with the reason, and is reported as such."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class NotApplicable(Exception):
    """This case cannot be expressed in the port's conventions; the message says why."""


def to_channels_first(array):
    """(B, h, w, C) -> (B, C, h, w)."""
    return np.transpose(np.asarray(array), (0, 3, 1, 2))


def sam_pads(inputs) -> bool:
    """SAM v1's padding rule (spec §5.1): a not-a-point is appended iff points come without boxes."""
    return inputs.get("points") is not None and inputs.get("boxes") is None


def append_padding_point(points, labels):
    """The explicit form of spec §5.1, for ports that leave the padding point to their caller."""
    batch = points.shape[0]
    return (
        np.concatenate([points, np.zeros((batch, 1, 2), dtype=points.dtype)], axis=1),
        np.concatenate([labels, np.full((batch, 1), -1, dtype=labels.dtype)], axis=1),
    )


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    divergences: tuple = ()  # names from docs/spec.md §12 that this profile declares
    to_port_fn: object = None
    from_port_fn: object = None
    notes: dict = field(default_factory=dict)

    def to_port(self, inputs: dict, config: dict) -> dict:
        """The port's inputs for a case's `sam` inputs (all four keys, absent ones None)."""
        full = {k: inputs.get(k) for k in ("points", "labels", "boxes", "masks")}
        return self.to_port_fn(full, config) if self.to_port_fn else full

    def from_port(self, outputs: dict, config: dict) -> dict:
        """The port's outputs in `sam` layout and names."""
        return self.from_port_fn(outputs, config) if self.from_port_fn else dict(outputs)


def _keras_hub_to_port(inputs, config, explicit_padding=True, strict_labels=True):
    points, labels, boxes, masks = (inputs[k] for k in ("points", "labels", "boxes", "masks"))
    if all(v is None for v in inputs.values()):
        raise NotApplicable("keras-hub needs at least one prompt to know the batch size (it raises IndexError)")
    if strict_labels and labels is not None and np.isin(labels, (2, 3)).any():
        raise NotApplicable(
            "keras-hub gives labels 2 and 3 the foreground embedding; SAM v1 gives them none, and no "
            "keras-hub input expresses 'positional encoding only'"
        )
    if explicit_padding and sam_pads(inputs):
        points, labels = append_padding_point(points, labels)
    return {
        "points": points,
        "labels": labels,
        "boxes": None if boxes is None else np.reshape(boxes, (boxes.shape[0], 1, 2, 2)),
        "masks": None if masks is None else np.asarray(masks)[:, :, :, :, None],
    }


def _keras_hub_from_port(outputs, config):
    out = dict(outputs)
    for key in ("prompt_dense_embeddings", "prompt_dense_positional_embeddings"):
        if key in out and np.ndim(out[key]) == 4:
            out[key] = to_channels_first(out[key])
    return out


PROFILES = {
    "sam": Profile(
        name="sam",
        description="Meta's SAM v1 PromptEncoder: the fixtures' own conventions; nothing is converted.",
    ),
    "keras_hub": Profile(
        name="keras_hub",
        description=(
            "keras_hub.layers.SAMPromptEncoder: boxes (B, M, 2, 2), masks (B, M, 4h, 4w, 1), NHWC dense "
            "outputs; the caller appends SAM's padding point; labels 2/3 cannot be expressed."
        ),
        divergences=("channels_last", "no_padding_point", "labels_2_3_foreground", "empty_prompt_crash"),
        to_port_fn=_keras_hub_to_port,
        from_port_fn=_keras_hub_from_port,
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"profile: expected one of {sorted(PROFILES)}; received {name!r}")
    return PROFILES[name]
