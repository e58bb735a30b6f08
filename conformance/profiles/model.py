"""The ``Profile`` model (docs/profiles.md): one port's conventions, as data plus two small
functions, and the divergences of the port it handles (converted, excluded, computed) or exposes."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from samspec.reference import PROFILES as REFERENCE_CONVENTIONS

from .divergences import DIVERGENCES, Divergence


class NotApplicable(Exception):
    """This case cannot be expressed in the port's conventions; the message says why."""


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
