"""A port's adapter under its profile: ``to_port`` -> ``run`` -> ``from_port``, every call into code the port
supplied wrapped so that what escapes it is an exception samspec made (docs/ci.md, "What samspec guarantees").

The worker process holds one ``ProfiledAdapter`` (the adapter and the profile it resolved itself); samspec's own
process receives plain arrays and the profile as data (``profile_data``) only. ``--in-process`` uses the same
class in samspec's process, where Ctrl-C and the in-process timeout pass through.

A user's call that fails raises, whatever it raised:

- ``NotApplicable`` only when the profile's ``to_port`` said the case cannot be expressed (never from ``run``);
- ``ConversionError`` when the profile's ``to_port`` or ``from_port`` failed or returned something else than a
  dict (the message is the verdict's);
- ``CallFailed`` when the adapter's call failed or returned something that breaks the protocol;
- ``MissingModule`` when the adapter's ``build`` raised ModuleNotFoundError (not a verdict: exit 2).
"""

from __future__ import annotations

import numpy as np

from ...port_text import describe_exception, safe_text
from ...profiles.divergences import Divergence
from ...profiles.model import NotApplicable, Profile
from .wire import to_plain_outputs, to_plain_trace


class ConversionError(Exception):
    """The profile's ``to_port`` or ``from_port`` failed; the message is the verdict's."""


class CallFailed(Exception):
    """The adapter's call failed or returned something that breaks the protocol; the message says what."""


class MissingModule(Exception):
    """The adapter's ``build`` raised ModuleNotFoundError for ``module``."""

    def __init__(self, message: str, module: str = ""):
        super().__init__(message)
        self.module = module


def _changed(now: np.ndarray, before: np.ndarray) -> bool:
    """Whether the port wrote into an input array (its dtype, shape or values differ from the copy)."""
    if now.dtype != before.dtype or now.shape != before.shape:
        return True
    try:
        return not np.array_equal(now, before, equal_nan=now.dtype.kind in "fc")
    except (TypeError, ValueError):  # values NumPy cannot compare: compare their bytes
        return now.tobytes() != before.tobytes()


class ProfiledAdapter:
    """``adapter`` under ``profile``. ``passthrough``: exceptions that are not the port's to contain
    (in samspec's process: Ctrl-C and the in-process timeout)."""

    def __init__(self, adapter, profile, passthrough: tuple = ()):
        self.adapter = adapter
        self.profile = profile
        self.passthrough = passthrough

    def _call(self, method, *args, build=False, **kwargs):
        try:
            return method(*args, **kwargs)
        except self.passthrough:
            raise
        except ModuleNotFoundError as exc:
            if build:
                raise MissingModule(safe_text(exc), exc.name or "") from None
            raise CallFailed(describe_exception(exc)) from None
        except BaseException as exc:  # SystemExit, KeyboardInterrupt, a BaseException subclass of the port's
            raise CallFailed(describe_exception(exc)) from None

    def _plain(self, convert, raw, *limit):
        """``convert(raw)``, looked up when called (after the port's code ran), where a result that breaks the
        protocol is an error of the call."""
        convert = {"outputs": to_plain_outputs, "trace": to_plain_trace}[convert]
        try:
            return convert(raw, *limit)
        except self.passthrough:
            raise
        except (TypeError, ValueError) as exc:
            raise CallFailed(safe_text(exc)) from None
        except BaseException as exc:  # the returned object's own code (__array__, items) failed
            raise CallFailed(describe_exception(exc)) from None

    def _name(self) -> str:
        return safe_text(getattr(self.profile, "name", "?"), 200)

    def port_inputs(self, inputs: dict, config: dict) -> dict:
        """The port's inputs for a case's `sam` inputs, by the profile's ``to_port``."""
        try:
            converted = self.profile.to_port(inputs, config)
            if not isinstance(converted, dict):
                raise TypeError(f"to_port returned {type(converted).__name__}, expected a dict of inputs")
            return {str(k): None if v is None else np.array(v) for k, v in converted.items()}
        except self.passthrough:
            raise
        except NotApplicable as exc:
            raise NotApplicable(safe_text(exc, 600)) from None
        except BaseException as exc:
            raise ConversionError(
                f"the case's inputs do not convert under profile {self._name()!r}: {describe_exception(exc)}"
            ) from None

    def sam_outputs(self, raw: dict, inputs: dict, config: dict, limit) -> dict:
        """The port's outputs in `sam` layout and names, by the profile's ``from_port``."""
        try:
            outputs = self.profile.from_port(raw, config, inputs=inputs)
            if not isinstance(outputs, dict):
                raise TypeError(f"from_port returned {type(outputs).__name__}, expected a dict of outputs")
            return to_plain_outputs(outputs, limit)
        except self.passthrough:
            raise
        except BaseException as exc:
            raise ConversionError(
                f"the port's outputs do not convert under profile {self._name()!r}: {describe_exception(exc)}"
            ) from None

    def build(self, config, params) -> None:
        self._call(self.adapter.build, config, params, build=True)

    def begin_case(self, case_id, inputs=None, config=None) -> None:
        """The case's inputs converted (when given: NotApplicable, ConversionError), then the adapter's begin_case."""
        if inputs is not None:
            self.port_inputs(inputs, config)
        if callable(getattr(self.adapter, "begin_case", None)):
            self._call(self.adapter.begin_case, case_id)

    def run_case(self, inputs: dict, config: dict, limit=None) -> tuple:
        """(outputs in `sam` layout, names of the port's inputs that ``run`` modified in place, {output: why
        it is missing} as the outputs-folder reader reports it)."""
        from ...adapters.outputs import OutputsAdapter

        port_inputs = self.port_inputs(inputs, config)
        before = {k: None if v is None else v.copy() for k, v in port_inputs.items()}
        reader = isinstance(self.adapter, OutputsAdapter)  # samspec's own reader: told the case's size limit
        if reader:
            self.adapter.value_limit = limit
        raw = self._call(self.adapter.run, **port_inputs)
        raw = self._plain("outputs", raw, limit)
        mutated = sorted(k for k, v in port_inputs.items() if v is not None and _changed(v, before[k]))
        missing = {str(k): safe_text(v, 600) for k, v in self.adapter.missing.items()} if reader else {}
        return self.sam_outputs(raw, inputs, config, limit), mutated, missing

    def run(self, inputs: dict, limit=None) -> dict:
        """The adapter's own ``run`` on port inputs, as plain arrays (no profile)."""
        raw = self._call(self.adapter.run, **inputs)
        return self._plain("outputs", raw, limit)

    def trace(self, inputs: dict) -> dict:
        raw = self._call(self.adapter.trace, **inputs)
        return self._plain("trace", raw)

    def trace_case(self, inputs: dict, config: dict, limit=None) -> dict:
        """The port's named intermediate values (``trace``) on a case's inputs, each at most ``limit`` values."""
        port_inputs = self.port_inputs(inputs, config)
        raw = self._call(self.adapter.trace, **port_inputs)
        return self._plain("trace", raw, limit)


# -- the profile as data: what samspec's own process may hold -------------------------------------------------


def profile_data(profile: Profile) -> dict:
    """The profile's data (names, divergences, notes, semantics), no code: what the worker sends the parent."""
    catalogue = {
        str(name): {
            "summary": safe_text(d.summary, 2000),
            "outside_sam": bool(d.outside_sam),
            "changes_rows": bool(d.changes_rows),
            "inexpressible": bool(d.inexpressible),
        }
        for name, d in profile.catalogue.items()
    }
    return {
        "name": safe_text(profile.name, 200),
        "description": safe_text(profile.description, 2000),
        "divergences": [str(d) for d in profile.divergences],
        "excluded": [str(d) for d in profile.excluded],
        "exposed": [str(d) for d in profile.exposed],
        "computed": [str(d) for d in profile.computed],
        "notes": {str(k): safe_text(v, 2000) for k, v in profile.notes.items()},
        "port": safe_text(profile.port, 200),
        "layout_of": safe_text(profile.layout_of, 200),
        "semantics": str(profile.semantics),
        "catalogue": catalogue,
    }


class ProfileData(Profile):
    """A profile as samspec's process holds it when the port runs in a worker: its data only. Its
    conversions ran in the worker; calling them here is a bug in samspec, said as such."""

    def to_port(self, inputs, config):
        raise RuntimeError(f"profile {self.name!r} converts in the port's worker process, not in samspec's")

    def from_port(self, outputs, config, inputs=None):
        raise RuntimeError(f"profile {self.name!r} converts in the port's worker process, not in samspec's")


def profile_from_data(data: dict) -> ProfileData:
    """The ``ProfileData`` for what ``profile_data`` sent; ValueError when the data is malformed."""
    try:
        catalogue = {
            name: Divergence(
                name, d["summary"], None, d["outside_sam"], d["changes_rows"], d.get("inexpressible", False)
            )
            for name, d in data["catalogue"].items()
        }
        fields = ("divergences", "excluded", "exposed", "computed")
        return ProfileData(
            name=data["name"],
            description=data["description"],
            notes=dict(data["notes"]),
            port=data["port"],
            layout_of=data["layout_of"],
            semantics=data["semantics"],
            catalogue=catalogue,
            **{field: tuple(data[field]) for field in fields},
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"the worker sent a profile samspec cannot read ({type(exc).__name__}: {exc})") from None
