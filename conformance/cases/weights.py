"""`samspec check PORT --weights FILE`: the fixture catalogue with a checkpoint's parameters.

Every case keeps its prompt and image sizes; its parameters become the checkpoint's (read by
`samspec.reference.load_params`), and its expected outputs and stage intermediates are recomputed
by the float64 reference under the case's semantics (`sam` but for a few cases). A case whose own hidden_size or
mask_in_channels differ from the checkpoint's is run with the checkpoint's (the prompts do not
depend on them), unless ``adapt_config=False``, which drops such cases instead. Either way the
returned notes say what was done. A case that is a fixture error (``case.fixture_error``) stays
one: its stored inputs cannot be trusted, whatever the parameters.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from samspec.reference import OUTPUT_KEYS, SAMPromptEncoder, check_params


def weights_config(params) -> tuple:
    """(hidden_size, mask_in_channels) implied by a parameter set."""
    return int(np.shape(params["no_mask_embed.weight"])[-1]), int(np.shape(params["mask_downscaling.3.weight"])[0])


def cases_with_weights(cases, params, adapt_config: bool = True, source: str = "the weights") -> tuple:
    """(cases, notes): each case with ``params`` and expectations recomputed by the reference."""
    hidden_size, mask_in_channels = weights_config(params)
    check_params(params, hidden_size, mask_in_channels)
    params64 = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}  # exact
    out, adapted, dropped = [], [], []
    for case in cases:
        if case.fixture_error:
            out.append(case)
            continue
        config = dict(case.config)
        if (config["hidden_size"], config["mask_in_channels"]) != (hidden_size, mask_in_channels):
            if not adapt_config:
                dropped.append(case.id)
                continue
            adapted.append(case.id)
            config.update(hidden_size=hidden_size, mask_in_channels=mask_in_channels)
        encoder = SAMPromptEncoder(**config, params=params64, dtype="float64", profile=case.semantics)
        outputs, trace = encoder(**case.inputs), encoder.trace(**case.inputs)
        out.append(
            dataclasses.replace(
                case,
                description=f"{case.description} (parameters from {source})",
                config=config,
                params=params64,
                expected={key: np.asarray(outputs[key]) for key in OUTPUT_KEYS},
                reference={key: np.asarray(outputs[key]) for key in OUTPUT_KEYS},
                stages={key: np.asarray(value) for key, value in trace.items() if key not in OUTPUT_KEYS},
            )
        )
    notes = []
    if adapted:
        notes.append(
            f"{len(adapted)} of {len(cases)} cases run with hidden_size {hidden_size} and mask_in_channels "
            f"{mask_in_channels} from {source} instead of their own (prompts and image sizes unchanged)"
        )
    if dropped:
        notes.append(
            f"{len(dropped)} of {len(cases)} cases dropped: their hidden_size/mask_in_channels differ from "
            f"{source}'s ({hidden_size}, {mask_in_channels}): {', '.join(dropped)}"
        )
    notes.append(f"expected outputs recomputed by the float64 reference with the parameters from {source}")
    return out, notes
