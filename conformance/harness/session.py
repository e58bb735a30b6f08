"""One assembly of a check for both front-ends (`samspec check` and the pytest plugin).

A ``CheckSession`` takes the settings named in ``options.OPTIONS`` and assembles the data path once:
the fixture cases (with a checkpoint's parameters under ``weights``), the xfail entries, the port in
its worker, its profile, the diagnoser and the ``Checker``. Everything that can be refused is refused
here, with the same words under both front-ends (only the flag's spelling differs): a fixture folder
that does not load, a case pattern matching nothing, an xfail pattern that would hide every output, an
unknown port or profile (with "did you mean"), and after the run, a run in which nothing was checked.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .options import DTYPES, did_you_mean, flag_of


class UsageError(Exception):
    """A problem with the command line, the adapter or the fixtures: exit 2 with one line."""


@dataclass
class Assembly:
    """What a front-end runs: the cases, the xfail entries, the port, its profile and the checker."""

    cases: list
    xfails: list
    port: object
    profile: object
    diagnose: object
    checker: object


def xfail_hides_everything(entries, cases, flag: str) -> None:
    """Raise UsageError for a pattern that matches every output of every case, and also case ids no
    fixture has: it names nothing in particular and would hide the whole run."""
    from samspec.reference import OUTPUT_KEYS

    ids = [f"{c.id}::{key}" for c in cases for key in OUTPUT_KEYS]
    probes = [f"zz-no-such-case.{n}::{key}" for n in (0, 7) for key in OUTPUT_KEYS]
    for entry in entries:
        if all(entry.regex.search(i) for i in ids + probes):
            raise UsageError(
                f"{flag}:{entry.line}: pattern {entry.pattern!r} matches every output; "
                "it would hide everything (name the cases or outputs it is for)"
            )


def check_database(database: Path, flag: str) -> None:
    """A hypothesis database: a folder that exists or can be made, where files can be written."""
    existing = database
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {database}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {database}: cannot write in {existing} ({exc.strerror or exc})") from None


def check_outputs_folder(folder, flag: str) -> None:
    """--outputs DIR names a folder (a stat only: nothing is opened here); else UsageError, one line."""
    if not os.path.exists(folder):
        raise UsageError(f"{flag} {folder}: no such folder (expected DIR/<case id>/<output key>.npy)")
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {folder}: not a folder (expected DIR/<case id>/<output key>.npy)")


def check_port_name(port: str, flag: str) -> None:
    """A PORT that is neither a built-in name nor ``module:attr`` / ``path/file.py:Attr``: refused with
    the built-in names (and the closest one); a file path that does not exist: refused naming it."""
    from ..adapters.registry import BUILTINS

    if port in BUILTINS:
        return
    if ":" not in port:
        raise UsageError(
            f"{flag}: unknown port {port!r}{did_you_mean(port, BUILTINS)}; expected one of "
            f"{', '.join(sorted(BUILTINS))}, module:attr or path/to/file.py:Attr"
        )
    where = port.rpartition(":")[0]
    if where.endswith(".py") and not os.path.isfile(where):
        raise UsageError(f"{flag} {port!r}: no file {where!r} (expected path/to/file.py:Attr)")


class CheckSession:
    """The check one front-end asked for. ``front_end`` ("cli" or "plugin") only spells the flags."""

    def __init__(self, settings, front_end: str = "cli"):
        self.settings = settings
        self.front_end = front_end

    def flag(self, name: str) -> str:
        return flag_of(name, self.front_end)

    def refuse(self) -> None:
        """What can be refused before anything runs (shared by both front-ends)."""
        s = self.settings
        if s.port:
            check_port_name(s.port, self.flag("port"))
        if s.hypothesis_database:
            check_database(Path(s.hypothesis_database), self.flag("hypothesis_database"))
        if s.trace and s.no_trace:
            raise UsageError(
                f"{self.flag('trace')} and {self.flag('no_trace')} contradict each other; expected one of them"
            )

    def load_cases(self):
        """The fixture cases (with a checkpoint's parameters under ``weights``) and the xfail entries."""
        from ..cases.store import FixtureError, load_cases

        s = self.settings
        try:
            cases = load_cases(s.fixtures, pattern=s.cases)
        except FixtureError as exc:
            raise UsageError(str(exc)) from exc
        if not cases:
            raise UsageError(f"{self.flag('cases')} {s.cases!r} matches no case in the fixtures")
        if s.weights:
            cases = self._with_weights(cases)
        return cases, (self._load_xfails(cases) if s.xfail else [])

    def _with_weights(self, cases):
        from samspec.reference import CheckpointError, load_params

        from ..cases.weights import cases_with_weights

        try:
            cases, notes = cases_with_weights(cases, load_params(self.settings.weights), source=self.settings.weights)
        except CheckpointError as exc:
            raise UsageError(str(exc)) from exc
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        return cases

    def _load_xfails(self, cases):
        from .xfail import read_xfails

        path, flag = self.settings.xfail, self.flag("xfail")
        try:
            entries = read_xfails(path)
        except UnicodeDecodeError as exc:
            raise UsageError(f"{flag} {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except OSError as exc:
            raise UsageError(f"{flag} {path}: {exc.strerror or exc}") from exc
        xfail_hides_everything(entries, cases, f"{flag} {path}")
        return entries

    def open_port(self):
        """The adapter (or the outputs folder's reader), in a worker process (in this one with ``in_process``),
        under its profile resolved there; PortLoadError if it cannot load."""
        from .isolation import open_port

        s = self.settings
        self._check_profile_name()
        outputs = getattr(s, "outputs", None)
        if outputs:
            check_outputs_folder(outputs, "--outputs")
        port = s.port or f"outputs:{outputs}"
        return open_port(port, isolated=not s.in_process, timeout=s.timeout, profile=s.profile, outputs=outputs or None)

    def check_output_files(self, cases) -> None:
        """--outputs: a file in a case folder that is not one of its outputs is a warning line (UsageError
        under --strict). Folders are listed, nothing is opened."""
        folder = getattr(self.settings, "outputs", None)
        if not folder:
            return
        from ..adapters.outputs import unknown_files

        stray = unknown_files(folder, [case.id for case in cases])
        if not stray:
            return
        listed = ", ".join(stray[:10]) + (f" and {len(stray) - 10} more" if len(stray) > 10 else "")
        message = (
            f"--outputs {folder}: {len(stray)} file(s) that are no output of their case: {listed} "
            "(expected <case id>/<output key>.npy)"
        )
        if getattr(self.settings, "strict", False):
            raise UsageError(f"{message}; refused under --strict")
        print(f"warning: {message}", file=sys.stderr)

    def _check_profile_name(self) -> None:
        from ..profiles.profile import PROFILES

        spec = self.settings.profile
        if isinstance(spec, str) and spec and ":" not in spec and spec not in PROFILES:
            raise UsageError(
                f"{self.flag('profile')}: unknown profile {spec!r}{did_you_mean(spec, PROFILES)}; "
                f"expected one of {', '.join(sorted(PROFILES))} or module:attr"
            )

    def resolve_profile(self, port):
        """The profile: the option, else the adapter's own, else `sam`; UsageError naming the option. A port
        opened by ``open_port`` has resolved it where it runs (its worker): that Profile, as data."""
        from ..profiles.profile import PROFILES, Profile, resolve_profile

        if isinstance(getattr(port, "profile", None), Profile):
            return port.profile
        spec = self.settings.profile or getattr(port, "profile", None) or "sam"
        if isinstance(spec, str) and ":" not in spec and spec not in PROFILES:
            raise UsageError(
                f"{self.flag('profile')}: expected one of {', '.join(sorted(PROFILES))} or module:attr; "
                f"received {spec!r}{did_you_mean(spec, PROFILES)}"
            )
        try:
            return resolve_profile(spec, self.flag("profile"))
        except (Exception, SystemExit) as exc:  # a user profile (module:attr) is imported here
            raise UsageError(
                str(exc) if isinstance(exc, ValueError) else f"the profile could not be loaded: {exc!r}"
            ) from exc

    def declared_dtype(self, port) -> str | None:
        """The compute dtype: the option, else the adapter's ``compute_dtype``; UsageError if not one of DTYPES."""
        declared = self.settings.dtype or getattr(port, "compute_dtype", None)
        if declared is not None and declared not in DTYPES:
            raise UsageError(f"the adapter's compute_dtype: expected one of {', '.join(DTYPES)}; received {declared!r}")
        return declared

    def dtype_source(self, port) -> str:
        """Who declared the compute dtype, for the header and the reports."""
        if self.settings.dtype:
            return self.flag("dtype")
        return "the adapter's compute_dtype" if getattr(port, "compute_dtype", None) else "not declared"

    def make_checker(self, port, profile, xfails=(), on_failure=None):
        """The diagnoser (unless ``no_diagnosis``) and the Checker for ``port`` under ``profile``."""
        from .check import Checker

        s = self.settings
        declared = self.declared_dtype(port)
        diagnose = None
        if not s.no_diagnosis:
            from ..diagnosis.diagnoser import make_diagnoser

            diagnose = make_diagnoser(profile, k=s.k, compute_dtype=declared)
        checker = Checker(
            port,
            profile,
            k=s.k,
            xfails=xfails,
            diagnose=diagnose,
            trace="all" if s.trace else None if s.no_trace else "failing",
            on_failure=on_failure,
            dtype=declared,
        )
        return diagnose, checker

    def assemble(self, on_failure=None) -> Assembly:
        """Everything refused that can be, then the cases, the xfails, the port, its profile and the checker."""
        self.refuse()
        cases, xfails = self.load_cases()
        port = self.open_port()
        try:
            profile = self.resolve_profile(port)
            diagnose, checker = self.make_checker(port, profile, xfails, on_failure)
        except BaseException:
            close = getattr(port, "close", None)
            if callable(close):
                close()
            raise
        return Assembly(cases, xfails, port, profile, diagnose, checker)


def nothing_checked(counts: dict) -> str | None:
    """Why a run in which no output was compared and passed is not green, or None when something was.
    ``counts``: verdict -> number of outputs (and properties)."""
    if counts.get("pass") or counts.get("xpass") or counts.get("fail") or counts.get("error"):
        return None
    spelled = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n) or "no output ran"
    return f"nothing was checked ({spelled}): no output was compared with the reference and passed"
