"""ultralytics' SAM ``PromptEncoder`` (``ultralytics.models.sam.modules.encoders``), float32 on the
CPU, profile ``sam2`` (labels 2 and 3 add the corner embeddings, as in Meta's sam2).

Conversion only: the class has SAM v1's constructor, state-dict names and ``forward(points, boxes,
masks)``, so this is Meta's SAM v1 adapter with ultralytics' class. It is imported without the
``ultralytics`` package ``__init__`` and without torchvision: the four package modules down to
``ultralytics.models.sam.modules`` are registered bare, and the one torchvision question asked at
import (``ultralytics.utils`` reads torchvision's *version* through ``importlib.metadata``, to warn
about a mismatch) is answered, when torchvision is absent, with the release that pairs with the
installed torch.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import sys

from .segment_anything import SegmentAnythingAdapter, register_bare_package

INSTALL = "pip install -c constraints.txt --no-deps ultralytics opencv-python-headless (docs/profiles.md)"
PACKAGES = ("ultralytics", "ultralytics.models", "ultralytics.models.sam", "ultralytics.models.sam.modules")


def paired_torchvision_version(torch_version: str) -> str:
    """The torchvision release built for a torch release (torch 2.m pairs with torchvision 0.(m + 15))."""
    major, minor = (int(part) for part in torch_version.split("+")[0].split(".")[:2])
    return f"0.{minor + 15 if major == 2 else minor + 1}.0"


@contextlib.contextmanager
def _torchvision_version_answered():
    """While importing: ``importlib.metadata.version("torchvision")`` answers without torchvision."""
    real = importlib.metadata.version
    try:
        real("torchvision")
        yield  # installed: nothing to answer
        return
    except importlib.metadata.PackageNotFoundError:
        pass

    def version(name):
        return paired_torchvision_version(real("torch")) if name == "torchvision" else real(name)

    importlib.metadata.version = version
    try:
        yield
    finally:
        importlib.metadata.version = real


def load_prompt_encoder_class():
    """``ultralytics.models.sam.modules.encoders.PromptEncoder`` without the package ``__init__``."""
    for name in PACKAGES:
        register_bare_package(name, INSTALL)
    package = sys.modules["ultralytics"]
    if not hasattr(package, "__version__"):
        package.__version__ = importlib.metadata.version("ultralytics")
    with _torchvision_version_answered():
        from ultralytics.models.sam.modules.encoders import PromptEncoder
    return PromptEncoder


class UltralyticsAdapter(SegmentAnythingAdapter):
    name = "ultralytics"
    profile = "sam2"
    load_class = staticmethod(load_prompt_encoder_class)
