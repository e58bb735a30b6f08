"""Meta's SAM 2 ``PromptEncoder`` (the ``sam2`` package 1.1.0), float32 on the CPU, profile ``sam2``.

Conversion only: sam2's prompt encoder has SAM v1's constructor, state-dict names and
``forward(points, boxes, masks)``, so this is Meta's SAM v1 adapter with sam2's class. The package
``__init__`` initialises hydra (and the model zoo imports torchvision); the prompt encoder needs
torch only, so it is imported without it (docs/profiles.md, "Installing the ports").
"""

from __future__ import annotations

from .segment_anything import SegmentAnythingAdapter, register_bare_package

INSTALL = (
    "pip download --no-deps sam2==1.1.0, then SAM2_BUILD_CUDA=0 pip install -c constraints.txt --no-deps "
    "--no-build-isolation sam2-1.1.0.tar.gz (docs/profiles.md)"
)


def load_prompt_encoder_class():
    """``sam2.modeling.sam.prompt_encoder.PromptEncoder`` without running ``sam2/__init__.py``."""
    register_bare_package("sam2", INSTALL)
    from sam2.modeling.sam.prompt_encoder import PromptEncoder

    return PromptEncoder


class Sam2Adapter(SegmentAnythingAdapter):
    name = "sam2"
    profile = "sam2"
    load_class = staticmethod(load_prompt_encoder_class)
