"""The old module name of reference/semantics.py (the reference's semantics, spec §12.1), kept for imports."""

from .semantics import (
    HF_LABELS,
    HF_SAM2_LABELS,
    KERAS_HUB_LABELS,
    LABEL_ROWS,
    PROFILES,
    SAM,
    SAM2_LABELS,
    SAM_LABELS,
    SEMANTICS,
    Conventions,
    LabelRule,
    Semantics,
    get_conventions,
    get_semantics,
)

__all__ = [
    "HF_LABELS",
    "HF_SAM2_LABELS",
    "KERAS_HUB_LABELS",
    "LABEL_ROWS",
    "PROFILES",
    "SAM",
    "SAM2_LABELS",
    "SAM_LABELS",
    "SEMANTICS",
    "Conventions",
    "LabelRule",
    "Semantics",
    "get_conventions",
    "get_semantics",
]
