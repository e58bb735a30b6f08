"""The self-test's ports: a catalogue variant or a bug outside the catalogue wrapped as a float32 port
that ``run``s like any adapter and ``trace``s like a Meta-style torch port (docs/selftest.md).

``TracedVariantAdapter.trace`` is the variant's own encoder traced stage by stage (spec §11.4),
with the variant's prompt and output transforms applied where ``run`` applies them: what
``trace_hooks.meta_trace`` gives for a PromptEncoder with the same bug. ``SharedRunAdapter``
runs on the diagnosis's own float32 run of the variant (computed once per case for every port).
"""

from __future__ import annotations

import numpy as np

from samspec.reference import OUTPUT_KEYS

from ..diagnosis.variants import VariantAdapter


class TracedVariantAdapter(VariantAdapter):
    """A variant as a float32 port with ``trace()``: the stages of the variant's own encoder."""

    def build(self, config, params):
        super().build(config, params)
        self.params = params

    def _encoder(self):
        encoder = getattr(self, "encoder", None)
        return encoder if encoder is not None else self.variant.encoder(self.config, self.params, self.dtype)

    def trace(self, points, labels, boxes, masks):
        prompt = {
            k: v
            for k, v in {"points": points, "labels": labels, "boxes": boxes, "masks": masks}.items()
            if v is not None
        }
        if self.variant.inputs is not None:
            prompt = self.variant.inputs(prompt, self.config)
        with np.errstate(all="ignore"):  # a variant may divide by zero where the bug it models does
            stages = {k: np.asarray(v) for k, v in self._encoder().trace(**prompt).items()}
            if self.variant.outputs is not None:
                stages.update(self.variant.outputs({k: stages[k] for k in OUTPUT_KEYS}, prompt, self.config))
        return stages


class SharedRunAdapter(TracedVariantAdapter):
    """A variant as a float32 port whose outputs are the diagnosis's own float32 run of the variant on
    the current case (``case`` is set before each case): the same ``Variant.run`` on the same
    inputs and parameters as ``VariantAdapter``, computed once per case instead of twice."""

    def __init__(self, variant, diagnoser):
        super().__init__(variant)
        self.diagnoser = diagnoser
        self.case = None

    def build(self, config, params):
        self.config, self.params, self.encoder = dict(config), params, None

    def run(self, points, labels, boxes, masks):
        outputs = self.diagnoser.variant_outputs(self.case, self.variant, self.dtype)
        if outputs is None:
            raise ValueError(f"variant {self.variant.name} cannot run on case {self.case.id}")
        shared = {}
        for key, value in outputs.items():  # read-only views: the check never writes into a port's outputs
            view = value.view()
            view.flags.writeable = False
            shared[key] = view
        return shared
