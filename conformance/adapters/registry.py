"""Finding an adapter by name: a built-in port, or `module:attr` naming a zero-argument callable
(a class, a factory) that returns an adapter (docs/adapters.md)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys


class AdapterError(Exception):
    """The adapter could not be found or does not follow the protocol."""


def _builtin(module: str, cls: str, *args):
    """A factory for a built-in adapter, importing its module (and so the port's library) only when called."""

    def make():
        return getattr(importlib.import_module(f"{__package__}.{module}"), cls)(*args)

    return make


# Each adapter carries its default profile (its `profile` attribute): transformers -> hf,
# keras-hub -> keras_hub, onnxruntime -> sam_onnx, sam2 and ultralytics -> sam2, transformers-sam2 ->
# hf_sam2, onnxruntime-sam2 -> ort_sam2 (docs/profiles.md).
BUILTINS = {
    "reference-f32": _builtin("reference", "ReferenceAdapter", "float32"),
    "reference-f16": _builtin("reference", "ReferenceAdapter", "float16"),
    "segment-anything": _builtin("segment_anything", "SegmentAnythingAdapter"),
    "transformers": _builtin("transformers", "TransformersAdapter"),
    "keras-hub": _builtin("keras_hub", "KerasHubAdapter", "eager"),
    "keras-hub-compiled": _builtin("keras_hub", "KerasHubAdapter", "compiled"),
    "onnxruntime": _builtin("onnxruntime", "OnnxRuntimeAdapter"),
    "sam2": _builtin("sam2", "Sam2Adapter"),
    "ultralytics": _builtin("ultralytics", "UltralyticsAdapter"),
    "transformers-sam2": _builtin("transformers_sam2", "TransformersSam2Adapter"),
    "onnxruntime-sam2": _builtin("onnxruntime_sam2", "OnnxRuntimeSam2Adapter"),
}


def _import_file(path: str):
    """The module in the Python file ``path`` (relative to the working directory), its folder importable
    first so that it can import its neighbours; imported once per file."""
    filename = os.path.abspath(path)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"no file {path!r}")
    folder = os.path.dirname(filename)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = "samspec_port_file_" + "".join(c if c.isalnum() else "_" for c in filename)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_attribute(spec: str):
    """The object ``module:attr`` or ``path/to/file.py:attr`` names (``attr`` may be dotted), with the
    working directory importable first, as under ``python -m``. Raises LookupError with one line when
    the module does not import (an exit at import included) or lacks the attribute."""
    module_name, _, attr = spec.rpartition(":") if ".py:" in spec else spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        if module_name.endswith(".py"):
            target = _import_file(module_name)
        else:
            target = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit included: a module that exits on import is an error, never a pass
        from ..port_text import describe_exception

        why = describe_exception(exc)
        raise LookupError(
            f"cannot import {module_name!r} for {spec!r}: {'SystemExit: ' if isinstance(exc, SystemExit) else ''}{why}"
        ) from None
    for part in attr.split("."):
        if not part or not hasattr(target, part):
            raise LookupError(f"{module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    return target


def resolve_adapter(port: str):
    """The adapter for ``port``: a built-in name or ``module:attr``."""
    if port in BUILTINS:
        adapter = BUILTINS[port]()
    elif ":" in port:
        try:
            target = load_attribute(port)
        except LookupError as exc:
            raise AdapterError(f"{exc} (port {port!r})") from None
        if hasattr(target, "run") and hasattr(target, "build") and not isinstance(target, type):
            adapter = target
        elif callable(target):
            try:
                adapter = target()
            except Exception as exc:
                raise AdapterError(f"calling {port} failed: {type(exc).__name__}: {exc}") from exc
        else:
            raise AdapterError(f"{port} is neither an adapter nor a zero-argument callable returning one")
    else:
        raise AdapterError(
            f"unknown port {port!r}: expected one of {sorted(BUILTINS)} or module:attr naming an adapter factory"
        )
    for method in ("build", "run"):
        if not callable(getattr(adapter, method, None)):
            raise AdapterError(f"{port}: the adapter has no {method}() method (see docs/adapters.md)")
    if not getattr(adapter, "name", None):
        try:
            adapter.name = port
        except AttributeError:
            pass
    if not getattr(adapter, "profile", None):
        try:
            adapter.profile = "sam"
        except AttributeError:
            pass
    return adapter
