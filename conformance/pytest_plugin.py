"""pytest plugin: `samspec check` as pytest tests (registered as the ``samspec`` pytest11 entry point).

    pytest --samspec-port my_adapter:MyPort [--samspec-profile sam] [--samspec-fixtures DIR]
           [--samspec-xfail FILE] [--samspec-cases REGEX] [--samspec-properties]
           [--samspec-timeout S] [--samspec-in-process]

adds one test per fixture case and output, with the id ``labels.foreground::sparse`` (the case and
the output's short name: sparse, dense, dense_pe), and with ``--samspec-properties`` one test per
property, ``property.scale_invariance`` (docs/properties.md). These ids work as pytest arguments
(``pytest --samspec-port P labels.foreground::sparse``, or a bare case id for its three outputs),
with ``-k``, ``--lf`` and under pytest-xdist (``-n 2``). A failure shows the report row and the
diagnosis; an entry of the xfail file is a pytest xfail (a pass is an XPASS); a case the profile
cannot express is a skip with the reason. The adapter runs in a worker process, as in `samspec
check` (``--samspec-in-process`` for a debugger). Without ``--samspec-port`` the plugin adds nothing,
and hypothesis is imported only with ``--samspec-properties``.
"""

from __future__ import annotations

import io
import os
import re

import pytest

# a command-line argument that names samspec tests rather than a file: CASE::OUTPUT, CASE or property.NAME
TEST_ID = re.compile(r"^(property\.\w+|[A-Za-z0-9_]+\.[A-Za-z0-9_.\-]*?(::(sparse|dense|dense_pe))?)$")


def pytest_addoption(parser):
    """The options of `samspec check` (harness.options), each as ``--samspec-<name>``, plus the selection."""
    from .harness.options import add_to_pytest

    group = parser.getgroup("samspec", "samspec: SAM prompt-encoder conformance")
    add_to_pytest(group)
    group.addoption(
        "--samspec-select",
        action="append",
        default=[],
        metavar="ID",
        help="only these samspec tests (CASE::OUTPUT, CASE or property.NAME); test ids given as arguments land here",
    )


def pytest_load_initial_conftests(early_config, parser, args):
    """An unknown ``--samspec-...`` option: a usage error naming the closest one (pytest's own message has none)."""
    from .harness.options import OPTIONS, closest

    known = {"--samspec-select"} | {f for o in OPTIONS if o.plugin for f in (o.plugin, *o.plugin_aliases)}
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag.startswith("--samspec-") and flag not in known:
            near = closest(flag, known)
            hint = f" (did you mean {near!r}?)" if near else ""
            raise pytest.UsageError(
                f"samspec: unknown option {flag!r}{hint}; `pytest --help` lists the samspec options"
            )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Arguments that are samspec test ids, not paths, become --samspec-select (so that
    `pytest --samspec-port P labels.foreground::sparse` runs that one test and nothing else)."""
    if not config.getoption("samspec_port"):
        return
    _catch_signals(config)
    picked = [
        arg
        for arg in config.args
        if TEST_ID.match(arg) and not arg.endswith(".py") and not os.path.exists(arg.split("::")[0])
    ]
    if picked:
        config.args[:] = [arg for arg in config.args if arg not in picked]
        config.option.samspec_select = sorted(set(config.option.samspec_select) | set(picked))


def _catch_signals(config) -> None:
    """SIGTERM and SIGHUP end the session as Ctrl-C does (pytest's "Interrupted"), so that the port's
    worker group is killed in sessionfinish rather than left running; restored at unconfigure."""
    from .harness.interrupts import catching_signals

    guard = catching_signals()
    guard.__enter__()
    config.add_cleanup(lambda: guard.__exit__(None, None, None))


def section_keywords(sections) -> set:
    """``-k`` keywords for the spec sections a test checks: §5.1 is ``spec5.1`` (pytest's ``-k`` cannot
    parse ``§``), so ``-k spec5.1`` selects the tests citing §5.1 and ``-k spec9`` those citing §9.x."""
    return {f"spec{str(section).lstrip('§')}" for section in sections}


def test_name(case_id: str, output: str) -> str:
    from samspec.reference import SHORT_NAMES

    return f"{case_id}::{SHORT_NAMES[output]}"


class _State:
    """The check this pytest process runs (assembled by harness.session, as under `samspec check`):
    the port in its worker, its profile, the cases and one Checker."""

    def __init__(self, config):
        from .harness.check import final_diagnosis
        from .harness.isolation import PortLoadError
        from .harness.options import from_pytest
        from .harness.session import CheckSession, UsageError

        self.settings = from_pytest(config)
        self.port_name = self.settings.port
        self.session = CheckSession(self.settings, "plugin")
        try:
            assembly = self.session.assemble()
        except (UsageError, PortLoadError, ValueError, OSError) as exc:
            raise pytest.UsageError(f"samspec: {exc}") from exc
        self.cases, self.xfails, self.port = assembly.cases, assembly.xfails, assembly.port
        self.profile, self.diagnoser, self.checker = assembly.profile, assembly.diagnose, assembly.checker
        self.reconcile = final_diagnosis
        self.results = {}  # case id -> {output: Result}, one run of the port per case
        self.ran = []  # (case id, output) of the tests this process ran: what its diagnosis summary covers
        self.max_examples = self.settings.max_examples
        self.seed = self.settings.hypothesis_seed
        self.database = self.settings.hypothesis_database

    def result(self, case, output):
        from .harness.isolation import MissingDependency

        if case.id not in self.results:
            try:
                self.results[case.id] = {r.output: r for r in self.checker.run_case(case)}
            except MissingDependency as exc:  # the port's library is not installed: a usage error, not a failure
                pytest.exit(
                    f"samspec: port {self.port_name!r} cannot be built here: {exc}",
                    returncode=pytest.ExitCode.USAGE_ERROR,
                )
        self.ran.append((case.id, output))
        return self.results[case.id][output]

    def close(self):
        close = getattr(self.port, "close", None)
        if callable(close):
            close()


class SamspecFailure(Exception):
    """A failing samspec check; the message is the report row (and the diagnosis or repro)."""

    def __init__(self, text, headline=""):
        super().__init__(text)
        self.headline = headline


def headline(result) -> str:
    """What a CI log's short summary line needs first: the verdict, the ratio and the budget, and the
    section and variant of the diagnosis (or where it localised the failure)."""
    from .reports.document import _fmt, _one_line, _ratio

    if result.ratio is not None:
        line = f"{result.verdict}: ratio {_ratio(result.ratio)} of budget {_fmt(result.budget)}"
    else:
        line = f"{result.verdict}: {_one_line(result.message, 120)}"
    diagnosis = result.diagnosis if isinstance(result.diagnosis, dict) else {}
    if diagnosis.get("variant") and diagnosis.get("verdict") == "matches":
        line += f", diagnosis {diagnosis.get('section') or ''} `{diagnosis['variant']}`".replace("  ", " ")
    elif diagnosis.get("localised_section"):
        line += f", localised to {diagnosis['localised_section']}"
    if result.error is not None:
        line += f", max|err| {_fmt(result.error)}"
    return line


def _row(result) -> str:
    from .reports.document import table

    buffer = io.StringIO()
    table([result], out=buffer)
    lines = [line for line in buffer.getvalue().rstrip("\n").splitlines() if line.strip()]
    kept = lines[:3]  # the header, its rule and the row
    if result.diagnosis and result.diagnosis.get("summary"):
        kept.append(f"diagnosis: {result.diagnosis['summary']}")
    elif result.message and result.message not in "\n".join(kept):
        kept.append(result.message)
    if getattr(result, "captured", ""):
        kept.append(f"the port printed:\n{result.captured}")
    return "\n".join(kept)


class SamspecCaseItem(pytest.Item):
    def __init__(self, *, state, case, output, **kwargs):
        super().__init__(**kwargs)
        self.state, self.case, self.output = state, case, output

    def runtest(self):
        result = self.state.result(self.case, self.output)
        if result.judged_dtype:  # pytest's --junitxml shows it as the test's property
            self.user_properties.append(("samspec_judged_dtype", result.judged_dtype))
        if result.verdict == "n/a":
            pytest.skip(result.message)
        if result.verdict not in ("pass", "xpass"):
            raise SamspecFailure(_row(result), headline(result))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, SamspecFailure):
            first = f"{excinfo.value.headline} | " if excinfo.value.headline else ""
            runtime = getattr(self.state.port, "runtime", None)
            on = f", runtime {runtime}" if runtime else ""
            return (
                f"{first}samspec check {self.state.port_name} (profile {self.state.profile.name!r}{on}):\n"
                f"{excinfo.value}"
            )
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"samspec {self.name}"  # not the id's suffix: pytest shows the id unchanged


class SamspecPropertyItem(pytest.Item):
    def __init__(self, *, state, prop, **kwargs):
        super().__init__(**kwargs)
        self.state, self.prop = state, prop

    def runtest(self):
        from .properties.checks import run_property

        result = run_property(
            self.prop,
            self.state.port,
            self.state.profile,
            max_examples=self.state.max_examples,
            seed=self.state.seed,
            database=self.state.database,
            port=self.state.port_name,
            k=self.state.settings.k,
        )
        if result.verdict == "n/a":
            pytest.skip(result.message)
        if result.verdict != "pass":
            raise SamspecFailure(f"{result.verdict}: {result.message}\n\nto reproduce:\n{result.repro}".rstrip())

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, SamspecFailure):
            return (
                f"samspec property {self.prop} on {self.state.port_name} (profile {self.state.profile.name!r}):"
                f"\n{excinfo.value}"
            )
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"samspec {self.name}"  # not the id's suffix: pytest shows the id unchanged


def _selected(name: str, selection) -> bool:
    return not selection or any(name == s or name.startswith(s + "::") for s in selection)


@pytest.hookimpl(tryfirst=True)  # before -k / -m / --lf deselection, so that they apply to these tests too
def pytest_collection_modifyitems(session, config, items):
    if not config.getoption("samspec_port"):
        return
    from samspec.reference import OUTPUT_KEYS

    from .harness.xfail import match

    state = _State(config)
    config._samspec_state = state
    selection = config.getoption("samspec_select")
    added, deselected = [], []
    for case in state.cases:
        for output in OUTPUT_KEYS:
            name = test_name(case.id, output)
            item = SamspecCaseItem.from_parent(session, name=name, nodeid=name, state=state, case=case, output=output)
            item.extra_keyword_matches.update(section_keywords(case.sections))
            entry = match(state.xfails, case.id, output)
            if entry is not None:
                item.add_marker(pytest.mark.xfail(reason=entry.reason, strict=False))
            (added if _selected(name, selection) else deselected).append(item)
    if config.getoption("samspec_properties"):
        try:
            from .properties.checks import PROPERTIES  # imports hypothesis: only when properties are asked for
        except ImportError as exc:
            raise pytest.UsageError(
                f"samspec: --samspec-properties needs hypothesis ({exc}): "
                "pip install 'hypothesis>=6.80' (a dependency of samspec)"
            ) from None

        for prop in PROPERTIES.values():
            name = f"property.{prop.name}"
            item = SamspecPropertyItem.from_parent(session, name=name, nodeid=name, state=state, prop=prop.name)
            item.extra_keyword_matches.update(section_keywords(prop.sections))
            (added if _selected(name, selection) else deselected).append(item)
    unknown = [s for s in selection if not any(_selected(i.name, [s]) for i in added)]
    if unknown:
        raise pytest.UsageError(
            f"samspec: no test {', '.join(map(repr, unknown))} (ids look like "
            f"'labels.foreground::sparse', 'masks.random' or 'property.NAME')"
        )
    # report them as collected, so that -k / --lf / -n count them with the rest
    config.hook.pytest_collectreport(report=pytest.CollectReport("samspec", "passed", None, added + deselected))
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items.extend(added)


def _port_summary(state) -> str:
    results = [state.results[case][output] for case, output in dict.fromkeys(state.ran)]
    if not results or state.diagnoser is None:
        return ""
    overall = state.reconcile(state.diagnoser, results, [c for c in state.cases if c.id in state.results])
    return (overall or {}).get("summary") or ""


# the node id of a samspec test: CASE::OUTPUT or property.NAME (never a file's test, which has a path)
SAMSPEC_NODEID = re.compile(r"^(property\.\w+|[^/\\:]+::(sparse|dense|dense_pe))$")


def pytest_runtest_logreport(report):
    """Count the samspec tests' outcomes (under xdist, in the controller, where every report arrives)."""
    if report.when != "call" and not (report.when == "setup" and report.skipped):
        return
    if not SAMSPEC_NODEID.match(report.nodeid):
        return
    if hasattr(report, "wasxfail"):
        verdict = "xpass" if report.passed else "xfail"
    else:
        verdict = {"passed": "pass", "failed": "fail", "skipped": "n/a"}[report.outcome]
    _COUNTS[verdict] = _COUNTS.get(verdict, 0) + 1


_COUNTS: dict = {}  # verdict -> samspec tests with it, in this pytest process


def _refuse_nothing_checked(session) -> None:
    """A run whose samspec tests were all skipped (n/a) or xfailed checked nothing: never green."""
    from .harness.session import nothing_checked

    if hasattr(session.config, "workeroutput") or not _COUNTS or session.exitstatus != pytest.ExitCode.OK:
        return
    why = nothing_checked(_COUNTS)
    if why:
        session.config._samspec_nothing_checked = f"samspec: {why} (exit 1, as under `samspec check`)"
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_sessionstart(session):
    _COUNTS.clear()
    _SELECTED.clear()


_SELECTED: list = []  # how many samspec tests were selected to run (after -k, --lf, ...)


def pytest_collection_finish(session):
    _SELECTED[:] = [sum(1 for item in session.items if SAMSPEC_NODEID.match(item.nodeid))]


@pytest.hookimpl(optionalhook=True)  # pytest-xdist: the controller learns the selection from a worker
def pytest_xdist_node_collection_finished(node, ids):
    _SELECTED[:] = [sum(1 for nodeid in ids if SAMSPEC_NODEID.match(nodeid))]


def _stopped_early_line(config) -> str:
    """After -x / --maxfail stopped pytest: how many samspec tests did not run."""
    ran = sum(_COUNTS.values())
    if not getattr(config, "_samspec_stopped", None) or not _SELECTED or _SELECTED[0] <= ran:
        return ""
    return (
        f"samspec: stopped early ({config._samspec_stopped}, -x / --maxfail): "
        f"{_SELECTED[0] - ran} of {_SELECTED[0]} samspec tests did not run"
    )


def pytest_sessionfinish(session, exitstatus):
    if session.config.getoption("samspec_port"):
        _refuse_nothing_checked(session)
        session.config._samspec_stopped = session.shouldfail
    state = getattr(session.config, "_samspec_state", None)
    if state is None:
        return
    if hasattr(session.config, "workeroutput"):  # a pytest-xdist worker: hand its results to the controller
        from .harness.xdist import worker_payload

        worker = session.config.workerinput.get("workerid", "worker")
        summary = _port_summary(state)
        session.config.workeroutput["samspec_summary"] = (
            summary and f"{worker} ({len(set(state.ran))} tests): {summary}"
        )
        ran = [state.results[case][output] for case, output in dict.fromkeys(state.ran)]
        profile = state.settings.profile or getattr(state.port, "profile", None) or "sam"
        session.config.workeroutput["samspec_payload"] = worker_payload(ran, profile, state.diagnoser)
    state.close()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown without it
def pytest_testnodedown(node, error):
    """pytest-xdist controller: keep each worker's diagnosis summary for the terminal summary."""
    output = getattr(node, "workeroutput", {})
    summary = output.get("samspec_summary")
    if summary:
        node.config._samspec_worker_summaries = getattr(node.config, "_samspec_worker_summaries", []) + [summary]
    if output.get("samspec_payload"):
        node.config._samspec_payloads = getattr(node.config, "_samspec_payloads", []) + [output["samspec_payload"]]


def _summaries(config, state) -> list:
    """The whole-run diagnosis, once: this process's, or under xdist the controller's over every worker's
    results (each worker's own summary only where the controller cannot reason over them)."""
    if state is not None:
        return [_port_summary(state)]
    payloads = getattr(config, "_samspec_payloads", [])
    if payloads:
        from .harness.options import from_pytest
        from .harness.xdist import whole_run_summary

        try:
            summary = whole_run_summary(from_pytest(config), payloads)
        except Exception:  # the workers' own summaries still say what they found
            summary = ""
        if summary:
            return [summary]
    return getattr(config, "_samspec_worker_summaries", [])


def _dtype_lines(terminalreporter, state) -> None:
    """The compute dtype declared and the dtypes judged (and the float16 warning), as `samspec check` prints."""
    from .reports.document import compute_dtype_line, compute_dtype_record

    ran = [state.results[case][output] for case, output in dict.fromkeys(state.ran)]
    session = state.session
    record = compute_dtype_record(ran, state.checker.dtype, session.dtype_source(state.port))
    terminalreporter.write_line(f"samspec: {compute_dtype_line(record)}")
    if record.get("warning"):
        terminalreporter.write_line(f"samspec WARNING: {record['warning']}", yellow=True, bold=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = getattr(config, "_samspec_state", None)
    summaries = [s for s in dict.fromkeys(_summaries(config, state)) if s]
    if summaries:
        terminalreporter.write_sep("-", f"samspec diagnosis of {config.getoption('samspec_port')}")
        for summary in summaries:
            terminalreporter.write_line(summary)
    if state is not None and state.ran:
        _dtype_lines(terminalreporter, state)
        if getattr(state.port, "runtime", None):
            terminalreporter.write_line(f"samspec: runtime {state.port.runtime}")
    stopped = _stopped_early_line(config) if config.getoption("samspec_port") else ""
    if stopped:
        terminalreporter.write_line(stopped, yellow=True, bold=True)
    refused = getattr(config, "_samspec_nothing_checked", None)
    if refused:
        terminalreporter.write_line(refused, red=True, bold=True)
    for entry in state.xfails if state is not None else ():
        if not entry.used:
            terminalreporter.write_line(
                f"samspec warning: xfail pattern {entry.pattern!r} (line {entry.line}) matched nothing"
            )
