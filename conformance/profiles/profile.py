"""Convention profiles: how a fixture's `sam`-convention inputs map to a port's inputs, and how
the port's outputs map back (docs/profiles.md). A profile is data plus two small functions; a
case it cannot express raises NotApplicable with the reason, and is reported as such.

Every way a port differs from `sam` is a *divergence*, named as in docs/spec.md §12.2, with a
predicate saying which outputs of a case it changes. A profile declares, for each divergence of
its port, one of three handlings:

- converted: the profile's two functions undo it (a layout, a name, an explicit padding row);
- excluded: a case that exercises it cannot be expressed in the port's conventions: n/a, with
  the divergence's name and the reason;
- computed: the reference computes it: the profile's ``semantics`` names reference conventions
  (samspec.reference.PROFILES, in `sam`'s layout) whose outputs already include it (`sam2`'s
  corner labels, `hf_sam2`'s trailing box token);
- exposed: passed through untouched, so that a case exercising it fails. The layout-only
  profiles (`*_layout`) expose every semantic divergence of their port: they convert layout and
  names only and keep `sam`'s semantics.

A user's port declares its own profile without editing samspec: ``Profile(...)`` with
``Divergence`` objects of its own (docs/profiles.md), given as the adapter's ``profile``
attribute or as ``--profile module:attr``; ``resolve_profile`` accepts a name, a Profile or
``module:attr``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace

import numpy as np

from samspec.reference import PROFILES as REFERENCE_CONVENTIONS
from samspec.reference import append_padding_point

SPARSE, DENSE, DENSE_PE = (
    "prompt_sparse_embeddings",
    "prompt_dense_embeddings",
    "prompt_dense_positional_embeddings",
)
ALL_OUTPUTS = frozenset((SPARSE, DENSE, DENSE_PE))
NONE = frozenset()


class NotApplicable(Exception):
    """This case cannot be expressed in the port's conventions; the message says why."""


# -- small conversions shared by the profiles ----------------------------------------------------


def to_channels_first(array):
    """(B, h, w, C) -> (B, C, h, w)."""
    return np.transpose(np.asarray(array), (0, 3, 1, 2))


def sam_pads(inputs) -> bool:
    """SAM v1's padding rule (spec §5.1): a not-a-point is appended iff points come without boxes."""
    return inputs.get("points") is not None and inputs.get("boxes") is None


def prompt_batch(inputs) -> int:
    """The batch size `sam` gives the outputs (spec §11.1): that of any prompt, else 1."""
    for key in ("points", "boxes", "masks"):
        if inputs.get(key) is not None:
            return int(np.shape(inputs[key])[0])
    return 1


def is_none_output(value) -> bool:
    """A port's output that is Python's None (np.asarray(None) is a 0-d object array)."""
    if value is None:
        return True
    array = np.asarray(value)
    return array.dtype == object and array.shape == () and array.item() is None


# -- divergences (docs/spec.md §12.2): which outputs of a case each one changes -------------------


def _labels_any(inputs, predicate) -> bool:
    labels = inputs.get("labels")
    return labels is not None and np.size(labels) > 0 and bool(np.any(predicate(np.asarray(labels))))


def _has_coordinates(inputs) -> bool:
    """Whether any token depends on a coordinate: a box, or a point whose label is not -1 (a
    not-a-point token, the padding point included, is `not_a_point_embed` alone, spec §5.2)."""
    return inputs.get("boxes") is not None or _labels_any(inputs, lambda l: l != -1)


def _has_sparse_prompt(inputs) -> bool:
    return inputs.get("points") is not None or inputs.get("boxes") is not None


def _non_square_image(config) -> bool:
    height, width = config["input_image_size"]
    return height != width


def _non_square_grid(config) -> bool:
    h, w = config["image_embedding_size"]
    return h != w


@dataclass(frozen=True)
class Divergence:
    """One way a port departs from `sam` (docs/spec.md §12.2). ``affects(inputs, config)`` gives
    the outputs this divergence changes on a case given in `sam` conventions (empty: the case
    does not exercise it). ``outside_sam``: it gives a meaning to inputs that SAM v1 refuses
    (label −10), so the reference under `sam` semantics has no expected value and a case
    exercising it is n/a under every profile with those semantics. ``changes_rows``: it changes
    the number of sparse tokens, not the values of the tokens a `sam` port also gives."""

    name: str
    summary: str
    affects: object = None  # (inputs, config) -> frozenset of output keys; None: layout only, never observable
    outside_sam: bool = False
    changes_rows: bool = False

    def outputs(self, inputs, config) -> frozenset:
        return frozenset(self.affects(inputs, config)) if self.affects else NONE


def _sparse_if(predicate):
    """A divergence that changes the sparse output of the cases where ``predicate(inputs)`` holds."""
    return lambda inputs, config: frozenset({SPARSE}) if predicate(inputs) else NONE


DIVERGENCES = {
    d.name: d
    for d in (
        Divergence(
            "no_padding_point",
            "never appends the §5.1 padding point; the caller must",
            _sparse_if(sam_pads),
            changes_rows=True,
        ),
        Divergence(
            "labels_2_3_foreground",
            "every label other than −1 and 0 (2, 3, …) adds the foreground embedding",
            _sparse_if(lambda i: _labels_any(i, lambda l: (l != -1) & (l != 0) & (l != 1))),
        ),
        Divergence(
            "corner_labels",
            "labels 2 and 3 add the corner embeddings `point_embeddings.2`/`.3` (as a box's corners get)",
            _sparse_if(lambda i: _labels_any(i, lambda l: (l == 2) | (l == 3))),
        ),
        Divergence(
            "hf_minus_10_label",
            "label −10 gives an all-zero token (transformers' processors pad ragged point lists with −10)",
            _sparse_if(lambda i: _labels_any(i, lambda l: l == -10)),
            outside_sam=True,
        ),
        Divergence(
            "box_not_a_point_token",
            "each box gives three tokens: its two corners, then `not_a_point_embed` (§6.3)",
            _sparse_if(lambda i: i.get("boxes") is not None and np.size(i["boxes"]) > 0),
            changes_rows=True,
        ),
        Divergence(
            "square_normalisation",
            "x and y both divided by one size S; equals §3.2 only when H = W",
            lambda i, c: frozenset({SPARSE}) if _non_square_image(c) and _has_coordinates(i) else NONE,
        ),
        Divergence(
            "square_embedding_grid",
            "`image_embedding_size` is one int: the dense grid and the no-mask embedding are (S, S)",
            lambda i, c: (
                (frozenset({DENSE_PE}) | (frozenset({DENSE}) if i.get("masks") is None else NONE))
                if _non_square_grid(c)
                else NONE
            ),
        ),
        Divergence(
            "empty_prompt_none",
            "no points and no boxes: the sparse output is `None`",
            lambda i, c: frozenset({SPARSE}) if not _has_sparse_prompt(i) else NONE,
        ),
        Divergence(
            "empty_prompt_crash",
            "no prompt at all raises (IndexError): the batch size comes from the first prompt given",
            lambda i, c: ALL_OUTPUTS if all(i.get(k) is None for k in ("points", "boxes", "masks")) else NONE,
        ),
        # layout divergences: every profile of the port converts them, so no case can observe them
        Divergence("channels_last", "dense outputs and masks NHWC: (B, h, w, C); grid (1, h, w, C)"),
        Divergence("corner_boxes", "boxes (B, M, 2, 2), several per image"),
        Divergence("masks_per_image_axis", "masks (B, M, 4h, 4w, 1), flattened to B·M"),
        Divergence(
            "point_batch_axis",
            "extra point-batch axis P: points (B, P, N, 2), labels (B, P, N), sparse (B, P, N′, C)",
        ),
        Divergence("hf_boxes_on_point_batch", "boxes (B, nb, 4); box tokens joined on the point axis (nb = P)"),
        Divergence(
            "onnx_mask_blend",
            "a mask input is always given; `has_mask_input` (0/1) blends it with `no_mask_embed`",
        ),
    )
}


# -- profiles -------------------------------------------------------------------------------------


def _takes_inputs(function) -> bool:
    """Whether a ``from_port_fn`` takes a third argument (the case's inputs); two-argument ones
    ``(outputs, config)`` keep working."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


@dataclass(frozen=True)
class Profile:
    """One convention set (docs/profiles.md). ``divergences`` lists the divergences of the port
    that the profile handles: ``excluded`` ones make a case n/a, ``computed`` ones are in the
    expected values (the reference under ``semantics`` computes them), the rest are converted by
    ``to_port_fn`` and ``from_port_fn``. ``exposed`` lists those it leaves to fail (a failure
    there is expected and explained by them). ``notes`` holds the n/a reason per excluded name.

    Divergences are named from docs/spec.md §12.2 (``DIVERGENCES``) or given as ``Divergence``
    objects of the user's own, in any of the four tuples. ``semantics`` names the reference
    conventions (samspec.reference.PROFILES: "sam", "hf", "sam2", "hf_sam2", ...) whose outputs, in
    `sam`'s layout, are the expected values. ``to_port_fn(inputs, config)`` gets the case's four
    `sam` inputs (absent ones None); ``from_port_fn(outputs, config, inputs)`` gets the port's
    outputs, the configuration and those same inputs (a two-argument function also works)."""

    name: str
    description: str
    # names from docs/spec.md §12.2, or Divergence objects: handled (converted, excluded or computed)
    divergences: tuple = ()
    to_port_fn: object = None
    from_port_fn: object = None
    notes: dict = field(default_factory=dict)
    excluded: tuple = ()
    exposed: tuple = ()
    port: str = ""  # the built-in adapter whose conventions these are
    layout_of: str = ""  # for a layout-only profile: the profile whose layout it keeps
    semantics: str = "sam"  # the reference conventions whose outputs are the expected values
    computed: tuple = ()  # handled divergences that the reference computes under `semantics`
    catalogue: dict = field(default_factory=dict, compare=False, repr=False)  # the user's own Divergence objects

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Profile name: expected a non-empty str; received {self.name!r}")
        own = dict(self.catalogue)
        for attribute in ("divergences", "excluded", "exposed", "computed"):
            value = getattr(self, attribute)
            if isinstance(value, (str, Divergence)) or not isinstance(value, (tuple, list)):
                raise ValueError(
                    f"Profile {self.name!r} {attribute}: expected a tuple of divergence names or Divergence objects; "
                    f"received {value!r}"
                )
            names = []
            for item in value:
                if isinstance(item, Divergence):
                    own[item.name] = item
                    item = item.name
                if not isinstance(item, str) or (item not in own and item not in DIVERGENCES):
                    raise ValueError(
                        f"Profile {self.name!r} {attribute}: {item!r} is neither a divergence of docs/spec.md §12.2 "
                        f"({', '.join(sorted(DIVERGENCES))}) nor a Divergence object"
                    )
                names.append(item)
            object.__setattr__(self, attribute, tuple(names))
        object.__setattr__(self, "catalogue", own)
        for attribute in ("excluded", "computed"):
            stray = [d for d in getattr(self, attribute) if d not in self.divergences]
            if stray:
                raise ValueError(f"Profile {self.name!r} {attribute}: {stray} must also be in divergences")
        if self.to_port_fn is not None and not callable(self.to_port_fn):
            raise ValueError(f"Profile {self.name!r} to_port_fn: expected a callable; received {self.to_port_fn!r}")
        if self.from_port_fn is not None and not callable(self.from_port_fn):
            raise ValueError(f"Profile {self.name!r} from_port_fn: expected a callable; received {self.from_port_fn!r}")
        if not isinstance(self.semantics, str) or self.semantics not in REFERENCE_CONVENTIONS:
            raise ValueError(
                f"Profile {self.name!r} semantics: expected one of {sorted(REFERENCE_CONVENTIONS)} "
                f"(samspec.reference.PROFILES); received {self.semantics!r}"
            )

    def divergence(self, name: str) -> Divergence:
        """The Divergence of that name: the profile's own, else docs/spec.md §12.2's."""
        return self.catalogue.get(name) or DIVERGENCES[name]

    @property
    def converted(self) -> tuple:
        return tuple(d for d in self.divergences if d not in self.excluded and d not in self.computed)

    @property
    def known(self) -> tuple:
        """Every divergence of the port this profile knows of: handled, then exposed."""
        return self.divergences + tuple(d for d in self.exposed if d not in self.divergences)

    def not_applicable(self, inputs: dict, config: dict):
        """(name, reason) of the first excluded divergence this case exercises, or None."""
        full = {k: inputs.get(k) for k in ("points", "labels", "boxes", "masks")}
        for name in self.excluded:
            if self.divergence(name).outputs(full, config):
                return name, self.notes.get(name, self.divergence(name).summary)
        return None

    def expected_divergences(self, inputs: dict, config: dict) -> dict:
        """output key -> names of the exposed divergences that change it on this case."""
        full = {k: inputs.get(k) for k in ("points", "labels", "boxes", "masks")}
        found = {}
        for name in self.exposed:
            for key in sorted(self.divergence(name).outputs(full, config)):
                found.setdefault(key, []).append(name)
        return found

    def to_port(self, inputs: dict, config: dict) -> dict:
        """The port's inputs for a case's `sam` inputs (all four keys, absent ones None)."""
        full = {k: inputs.get(k) for k in ("points", "labels", "boxes", "masks")}
        excluded = self.not_applicable(full, config)
        if excluded is not None:
            name, reason = excluded
            raise NotApplicable(f"{reason} ({name})")
        return self.to_port_fn(full, config) if self.to_port_fn else full

    def from_port(self, outputs: dict, config: dict, inputs: dict | None = None) -> dict:
        """The port's outputs in `sam` layout and names; ``inputs`` are the case's `sam` inputs."""
        if not self.from_port_fn:
            return dict(outputs)
        if _takes_inputs(self.from_port_fn):
            full = {k: (inputs or {}).get(k) for k in ("points", "labels", "boxes", "masks")}
            return self.from_port_fn(outputs, config, full)
        return self.from_port_fn(outputs, config)


# keras-hub `SAMPromptEncoder`: boxes (B, M, 2, 2), masks (B, M, 4h, 4w, 1), NHWC dense outputs


def _keras_hub_to_port(inputs, config, explicit_padding=True):
    points, labels, boxes, masks = (inputs[k] for k in ("points", "labels", "boxes", "masks"))
    if explicit_padding and sam_pads(inputs):
        points, labels = append_padding_point(points, labels, np)  # §5.1 for the port
    return {
        "points": points,
        "labels": labels,
        "boxes": None if boxes is None else np.reshape(boxes, (boxes.shape[0], 1, 2, 2)),
        "masks": None if masks is None else np.asarray(masks)[:, :, :, :, None],
    }


def _keras_hub_from_port(outputs, config, inputs):
    out = dict(outputs)
    for key in (DENSE, DENSE_PE):
        if key in out and np.ndim(out[key]) == 4:
            out[key] = to_channels_first(out[key])
    return out


# transformers `SamPromptEncoder` (+ `SamModel.get_image_wide_positional_embeddings`)

HF_OUTPUT_NAMES = {"sparse_embeddings": SPARSE, "dense_embeddings": DENSE, "image_positional_embeddings": DENSE_PE}


def _hf_to_port(inputs, config):
    points, labels, boxes, masks = (inputs[k] for k in ("points", "labels", "boxes", "masks"))
    return {  # one point batch (P = 1) per image; the box on that point batch (nb = P = 1)
        "input_points": None if points is None else np.asarray(points)[:, None, :, :],
        "input_labels": None if labels is None else np.asarray(labels)[:, None, :],
        "input_boxes": None if boxes is None else np.asarray(boxes)[:, None, :],
        "input_masks": masks,
    }


def _hf_from_port(outputs, config, inputs, none_is_empty=True):
    out = {HF_OUTPUT_NAMES.get(k, k): v for k, v in outputs.items()}
    sparse = out.get(SPARSE)
    if none_is_empty and (SPARSE not in out or is_none_output(sparse)):
        # empty_prompt_none: HF returns None where sam returns (B, 0, C), B the dense batch
        dense = np.asarray(out[DENSE])
        out[SPARSE] = np.zeros((dense.shape[0], 0, config["hidden_size"]), dtype=dense.dtype)
    elif not is_none_output(sparse) and np.ndim(sparse) == 4:
        sparse = np.asarray(sparse)
        if sparse.shape[1] != 1:
            raise ValueError(f"sparse output {sparse.shape}: expected one point batch (B, 1, N', C)")
        out[SPARSE] = sparse[:, 0]
    return out


def _hf_layout_from_port(outputs, config, inputs):
    """transformers' layout back to `sam`'s, a None sparse output left as it is (`empty_prompt_none` exposed)."""
    return _hf_from_port(outputs, config, inputs, none_is_empty=False)


# Meta's `segment_anything/utils/onnx.py` (`SamOnnxModel`): label-encoded prompts

ONNX_OUTPUT_NAMES = {"sparse_embeddings": SPARSE, "dense_embeddings": DENSE, "image_pe": DENSE_PE}


def _sam_onnx_to_port(inputs, config, explicit_padding=True):
    points, labels, boxes, masks = (inputs[k] for k in ("points", "labels", "boxes", "masks"))
    batch = prompt_batch(inputs)
    coords, codes = [], []
    if points is not None:
        if explicit_padding and sam_pads(inputs):
            points, labels = append_padding_point(points, labels, np)  # §5.1 for the port
        coords.append(np.asarray(points, dtype=np.float64))
        codes.append(np.asarray(labels, dtype=np.int64))
    if boxes is not None:  # box corners as two points labelled 2 (top-left) and 3 (bottom-right), after the points
        coords.append(np.reshape(np.asarray(boxes, dtype=np.float64), (boxes.shape[0], 2, 2)))
        codes.append(np.tile(np.array([[2, 3]], dtype=np.int64), (boxes.shape[0], 1)))
    h, w = config["image_embedding_size"]
    return {
        "point_coords": np.concatenate(coords, axis=1) if coords else np.zeros((batch, 0, 2)),
        "point_labels": np.concatenate(codes, axis=1) if codes else np.zeros((batch, 0), dtype=np.int64),
        "mask_input": masks if masks is not None else np.zeros((batch, 1, 4 * h, 4 * w)),
        "has_mask_input": np.array([1.0 if masks is not None else 0.0]),
    }


def _sam_onnx_from_port(outputs, config, inputs):
    return {ONNX_OUTPUT_NAMES.get(k, k): v for k, v in outputs.items()}


_KERAS_NOTES = {
    "labels_2_3_foreground": (
        "keras-hub gives labels 2 and 3 the foreground embedding; SAM v1 gives them none, and no "
        "keras-hub input expresses 'positional encoding only'"
    ),
    "empty_prompt_crash": "keras-hub needs at least one prompt to know the batch size (it raises IndexError)",
}
_HF_NOTES = {
    "square_normalisation": (
        "transformers' SamPromptEncoder divides x and y by one image_size S (square images only); "
        "this case's image is H != W and its tokens depend on coordinates"
    ),
    "square_embedding_grid": (
        "transformers' image_embedding_size is one int (a square grid); this case's grid is h != w"
    ),
}
_HF_SAM2_NOTES = {
    "square_normalisation": _HF_NOTES["square_normalisation"].replace("SamPromptEncoder", "Sam2PromptEncoder"),
    "square_embedding_grid": (
        "transformers' Sam2PromptEncoder builds a square grid, image_size // patch_size on both sides; this "
        "case's grid is h != w"
    ),
}
_LAYOUT_NOTES = {
    "hf_minus_10_label": (
        "label -10 means 'padding, all zeros' in transformers; SAM v1 gives it no meaning (the reference "
        "refuses it under sam semantics), so no expected value exists"
    ),
}
_ONNX_NOTES = {
    "square_normalisation": (
        "SamOnnxModel divides x and y by one img_size (square images only); this case's image is "
        "H != W and its tokens depend on coordinates"
    ),
}

_KERAS_DIVERGENCES = (
    "channels_last",
    "corner_boxes",
    "masks_per_image_axis",
    "no_padding_point",
    "labels_2_3_foreground",
    "empty_prompt_crash",
)
_HF_DIVERGENCES = (
    "point_batch_axis",
    "hf_boxes_on_point_batch",
    "empty_prompt_none",
    "square_normalisation",
    "square_embedding_grid",
    "hf_minus_10_label",
)
_ONNX_DIVERGENCES = ("onnx_mask_blend", "no_padding_point", "corner_labels", "square_normalisation")
_HF_SAM2_DIVERGENCES = (
    "point_batch_axis",
    "hf_boxes_on_point_batch",
    "empty_prompt_none",
    "square_normalisation",
    "square_embedding_grid",
    "corner_labels",
    "hf_minus_10_label",
    "box_not_a_point_token",
)


PROFILES = {
    "sam": Profile(
        name="sam",
        description="Meta's SAM v1 PromptEncoder: the fixtures' own conventions; nothing is converted.",
        port="segment-anything",
    ),
    "keras_hub": Profile(
        name="keras_hub",
        description=(
            "keras_hub.layers.SAMPromptEncoder: boxes (B, M, 2, 2), masks (B, M, 4h, 4w, 1), NHWC dense "
            "outputs; the caller appends SAM's padding point; labels 2/3 cannot be expressed."
        ),
        divergences=_KERAS_DIVERGENCES,
        to_port_fn=_keras_hub_to_port,
        from_port_fn=_keras_hub_from_port,
        notes=_KERAS_NOTES,
        excluded=("labels_2_3_foreground", "empty_prompt_crash"),
        port="keras-hub",
    ),
    "keras_hub_layout": Profile(
        name="keras_hub_layout",
        description=(
            "keras-hub's layout (boxes (B, 1, 2, 2), masks (B, 1, 4h, 4w, 1), NHWC outputs) with SAM v1's "
            "semantics: no padding point is added for the port, labels and empty prompts pass through."
        ),
        divergences=("channels_last", "corner_boxes", "masks_per_image_axis"),
        to_port_fn=lambda inputs, config: _keras_hub_to_port(inputs, config, explicit_padding=False),
        from_port_fn=_keras_hub_from_port,
        exposed=("no_padding_point", "labels_2_3_foreground", "empty_prompt_crash"),
        port="keras-hub",
        layout_of="keras_hub",
    ),
    "hf": Profile(
        name="hf",
        description=(
            "transformers SamPromptEncoder: points (B, 1, N, 2), labels (B, 1, N), boxes (B, 1, 4), masks "
            "(B, 1, 4h, 4w); sparse (B, 1, N', C) back to (B, N', C) and None back to (B, 0, C); square "
            "images and grids only; semantics `hf`: SAM v1's, and label -10 gives zeros."
        ),
        divergences=_HF_DIVERGENCES,
        to_port_fn=_hf_to_port,
        from_port_fn=_hf_from_port,
        notes=_HF_NOTES,
        excluded=("square_normalisation", "square_embedding_grid"),
        computed=("hf_minus_10_label",),
        semantics="hf",
        port="transformers",
    ),
    "hf_layout": Profile(
        name="hf_layout",
        description=(
            "transformers' layout (the point-batch axis, boxes (B, 1, 4), output names) with SAM v1's "
            "semantics: every case SAM v1 can express runs, a None sparse output is not converted; label -10 "
            "has no SAM v1 meaning (n/a)."
        ),
        divergences=("point_batch_axis", "hf_boxes_on_point_batch", "hf_minus_10_label"),
        to_port_fn=_hf_to_port,
        from_port_fn=_hf_layout_from_port,
        notes=_LAYOUT_NOTES,
        excluded=("hf_minus_10_label",),
        exposed=("square_normalisation", "square_embedding_grid", "empty_prompt_none"),
        port="transformers",
        layout_of="hf",
    ),
    "sam_onnx": Profile(
        name="sam_onnx",
        description=(
            "Meta's ONNX prompt layout (utils/onnx.py): point_coords (B, N, 2) with the box corners appended "
            "as points labelled 2 and 3, point_labels, mask_input (B, 1, 4h, 4w) and has_mask_input; the "
            "padding point is appended for the port; square images only. Semantics `sam2`: labels 2 and 3 "
            "add the corner embeddings."
        ),
        divergences=_ONNX_DIVERGENCES,
        to_port_fn=_sam_onnx_to_port,
        from_port_fn=_sam_onnx_from_port,
        notes=_ONNX_NOTES,
        excluded=("square_normalisation",),
        computed=("corner_labels",),
        semantics="sam2",
        port="onnxruntime",
    ),
    "sam_onnx_layout": Profile(
        name="sam_onnx_layout",
        description=(
            "Meta's ONNX prompt layout with SAM v1's semantics: no padding point is added for the port, "
            "point labels pass through, every image size runs."
        ),
        divergences=("onnx_mask_blend",),
        to_port_fn=lambda inputs, config: _sam_onnx_to_port(inputs, config, explicit_padding=False),
        from_port_fn=_sam_onnx_from_port,
        exposed=("no_padding_point", "corner_labels", "square_normalisation"),
        port="onnxruntime",
        layout_of="sam_onnx",
    ),
    "sam2": Profile(
        name="sam2",
        description=(
            "Meta's sam2 1.1.0 PromptEncoder and ultralytics' SAM PromptEncoder: SAM v1's layout and padding; "
            "semantics `sam2`: labels 2 and 3 add the corner embeddings point_embeddings.2/.3."
        ),
        divergences=("corner_labels",),
        computed=("corner_labels",),
        semantics="sam2",
        port="sam2",
    ),
    "sam2_layout": Profile(
        name="sam2_layout",
        description="sam2's layout (SAM v1's own) with SAM v1's semantics: labels 2 and 3 pass through.",
        exposed=("corner_labels",),
        port="sam2",
        layout_of="sam2",
    ),
}

# transformers' SAM 2 family: hf's layout and conversions, its own semantics (§5.2 corner labels, -10 -> zeros,
# §6.3's third box token); the layout twin keeps hf_layout's handling and exposes those too
PROFILES["hf_sam2"] = replace(
    PROFILES["hf"],
    name="hf_sam2",
    description=(
        "transformers Sam2PromptEncoder (and the transformers SAM-family encoders that share its code): "
        "hf's layout (points (B, 1, N, 2), labels (B, 1, N), boxes (B, 1, 4); sparse (B, 1, N', C) back to "
        "(B, N', C), None back to (B, 0, C)); square images and grids only; semantics `hf_sam2`: labels 2 "
        "and 3 add the corner embeddings, label -10 gives zeros, each box gives a third token, not_a_point."
    ),
    divergences=_HF_SAM2_DIVERGENCES,
    notes=_HF_SAM2_NOTES,
    computed=("corner_labels", "hf_minus_10_label", "box_not_a_point_token"),
    semantics="hf_sam2",
    port="transformers-sam2",
)
PROFILES["hf_sam2_layout"] = replace(
    PROFILES["hf_layout"],
    name="hf_sam2_layout",
    description=(
        "transformers' SAM 2 layout (the point-batch axis, boxes (B, 1, 4), output names) with SAM v1's "
        "semantics: every case SAM v1 can express runs, a None sparse output is not converted; label -10 "
        "has no SAM v1 meaning (n/a)."
    ),
    exposed=PROFILES["hf_layout"].exposed + ("corner_labels", "box_not_a_point_token"),
    port="transformers-sam2",
    layout_of="hf_sam2",
)


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"profile: expected one of {sorted(PROFILES)}; received {name!r}")
    return PROFILES[name]


def resolve_profile(spec, argument: str = "profile") -> Profile:
    """A Profile from a built-in name, a Profile object, or ``module:attr`` naming a Profile (or a
    zero-argument callable returning one), imported like ``samspec check``'s adapters (the working
    directory first). Raises ValueError naming ``argument`` and what was received."""
    if isinstance(spec, Profile):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ValueError(
            f"{argument}: expected a profile name ({', '.join(sorted(PROFILES))}), a Profile or 'module:attr'; "
            f"received {spec!r}"
        )
    if spec in PROFILES:
        return PROFILES[spec]
    if ":" not in spec:
        raise ValueError(
            f"{argument}: expected one of {sorted(PROFILES)} or 'module:attr' naming a Profile; received {spec!r}"
        )
    from ..adapters.registry import load_attribute

    try:
        target = load_attribute(spec)
    except LookupError as exc:
        raise ValueError(f"{argument}: {exc}") from None
    if not isinstance(target, Profile) and callable(target):
        try:
            target = target()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise ValueError(f"{argument}: calling {spec} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(target, Profile):
        raise ValueError(
            f"{argument}: {spec} is a {type(target).__name__}, expected a samspec.conformance.profiles.profile.Profile"
        )
    return target
