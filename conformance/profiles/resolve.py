"""Resolving a ``--profile`` argument: a built-in name, a ``Profile`` object, or ``module:attr``
naming a user's Profile (or a zero-argument callable returning one)."""

from __future__ import annotations

from .builtin import PROFILES
from .model import Profile


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
