"""pytest plugin: `samspec check` as pytest tests (registered as the ``samspec`` pytest11 entry point).

    pytest --samspec-port my_adapter:MyPort [--samspec-profile sam] [--samspec-fixtures DIR]
           [--samspec-xfail FILE] [--samspec-cases REGEX] [--samspec-properties]

adds one test per fixture case and output, ``samspec[labels.foreground::prompt_sparse_embeddings §5.2]``
(the case, the output and the spec sections it checks), and with ``--samspec-properties`` one test
per property (docs/properties.md). A failure shows the report row and the diagnosis; an entry of the
xfail file is a pytest xfail (a pass is an XPASS); a case the profile cannot express is a skip with
the reason. Without ``--samspec-port`` the plugin adds nothing.
"""

from __future__ import annotations

import io

import pytest

OUTPUT_SECTIONS = {  # top-level spec sections that bear on each output
    "prompt_sparse_embeddings": ({"3", "4", "5", "6", "7"}, "§7"),
    "prompt_dense_embeddings": ({"9", "10"}, "§10"),
    "prompt_dense_positional_embeddings": ({"8"}, "§8"),
}


def pytest_addoption(parser):
    group = parser.getgroup("samspec", "samspec: SAM prompt-encoder conformance")
    group.addoption("--samspec-port", metavar="PORT", help="check this port: a built-in name or module:attr")
    group.addoption("--samspec-profile", metavar="P", help="the port's conventions (default: the adapter's own)")
    group.addoption("--samspec-fixtures", metavar="DIR", help="fixture folder (default: the shipped one)")
    group.addoption("--samspec-xfail", metavar="FILE", help="expected failures: regex patterns with '# reason'")
    group.addoption("--samspec-cases", metavar="REGEX", help="only fixture cases whose id matches")
    group.addoption("--samspec-properties", action="store_true", help="also one test per property check")
    group.addoption("--samspec-max-examples", type=int, default=25, metavar="N", help="hypothesis examples per property")
    group.addoption("--samspec-seed", type=int, default=0, metavar="N", help="seed of the property examples")
    group.addoption("--samspec-hypothesis-database", metavar="DIR", help="keep failing property examples here")


def _sections(case_sections, output):
    wanted, default = OUTPUT_SECTIONS[output]
    chosen = [f"§{s}" for s in case_sections if str(s).split(".")[0] in wanted]
    return " ".join(chosen) if chosen else default


class _State:
    """The port, its profile, the cases and one Checker for the whole session."""

    def __init__(self, config):
        from .check import Checker
        from .diagnosis import make_diagnoser
        from .expectations import read_xfails
        from .fixtures import FixtureError, load_cases
        from .profiles import get_profile
        from .registry import AdapterError, resolve_adapter

        self.port = config.getoption("samspec_port")
        try:
            self.adapter = resolve_adapter(self.port)
            if config.getoption("samspec_profile"):
                self.adapter.profile = config.getoption("samspec_profile")
            self.profile = get_profile(self.adapter.profile)
            self.cases = load_cases(config.getoption("samspec_fixtures"), pattern=config.getoption("samspec_cases"))
            xfail = config.getoption("samspec_xfail")
            self.xfails = read_xfails(xfail) if xfail else []
        except (AdapterError, FixtureError, ValueError, OSError) as exc:
            raise pytest.UsageError(f"samspec: {exc}") from exc
        self.diagnoser = make_diagnoser(self.profile)
        self.checker = Checker(self.adapter, self.profile, diagnose=self.diagnoser)
        self.results = {}  # case id -> {output: Result}, one run of the port per case
        self.max_examples = config.getoption("samspec_max_examples")
        self.seed = config.getoption("samspec_seed")
        self.database = config.getoption("samspec_hypothesis_database")

    def result(self, case, output):
        if case.id not in self.results:
            self.results[case.id] = {r.output: r for r in self.checker.run_case(case)}
        return self.results[case.id][output]


class SamspecFailure(Exception):
    """A failing samspec check; the message is the report row (and the diagnosis or repro)."""


def _row(result) -> str:
    from .report import table

    buffer = io.StringIO()
    table([result], out=buffer)
    lines = buffer.getvalue().rstrip("\n").splitlines()
    return "\n".join(lines[:-2])  # drop the blank line and the counts


class SamspecCaseItem(pytest.Item):
    def __init__(self, *, state, case, output, **kwargs):
        super().__init__(**kwargs)
        self.state, self.case, self.output = state, case, output

    def runtest(self):
        result = self.state.result(self.case, self.output)
        if result.verdict == "n/a":
            pytest.skip(result.message)
        if result.verdict not in ("pass", "xpass"):
            raise SamspecFailure(_row(result))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, SamspecFailure):
            return f"samspec check {self.state.port} (profile {self.state.profile.name!r}):\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.name


class SamspecPropertyItem(pytest.Item):
    def __init__(self, *, state, prop, **kwargs):
        super().__init__(**kwargs)
        self.state, self.prop = state, prop

    def runtest(self):
        from .properties import run_property

        result = run_property(self.prop, self.state.adapter, self.state.profile, max_examples=self.state.max_examples,
                              seed=self.state.seed, database=self.state.database, port=self.state.port)
        if result.verdict == "n/a":
            pytest.skip(result.message)
        if result.verdict != "pass":
            raise SamspecFailure(f"{result.verdict}: {result.message}\n\nto reproduce:\n{result.repro}".rstrip())

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, SamspecFailure):
            return f"samspec property {self.prop} on {self.state.port} (profile {self.state.profile.name!r}):\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.name


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, so that they apply to these tests too
def pytest_collection_modifyitems(session, config, items):
    if not config.getoption("samspec_port"):
        return
    from samspec.reference import OUTPUT_KEYS

    from .expectations import match
    from .properties import PROPERTIES

    state = _State(config)
    config._samspec_state = state
    added = []
    for case in state.cases:
        for output in OUTPUT_KEYS:
            name = f"samspec[{case.id}::{output} {_sections(case.sections, output)}]"
            item = SamspecCaseItem.from_parent(session, name=name, nodeid=name, state=state, case=case, output=output)
            entry = match(state.xfails, case.id, output)
            if entry is not None:
                item.add_marker(pytest.mark.xfail(reason=entry.reason, strict=False))
            added.append(item)
    if config.getoption("samspec_properties"):
        for prop in PROPERTIES.values():
            name = f"samspec[property.{prop.name} {' '.join('§' + s for s in prop.sections)}]"
            added.append(SamspecPropertyItem.from_parent(session, name=name, nodeid=name, state=state, prop=prop.name))
    items.extend(added)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = getattr(config, "_samspec_state", None)
    if state is None or not state.results:
        return
    results = [r for outputs in state.results.values() for r in outputs.values()]
    summary = state.diagnoser.port_summary(results, state.cases)
    if summary:
        terminalreporter.write_sep("-", f"samspec diagnosis of {state.port}")
        terminalreporter.write_line(summary)
    for entry in state.xfails:
        if not entry.used:
            terminalreporter.write_line(f"samspec warning: xfail pattern {entry.pattern!r} (line {entry.line}) matched nothing")
