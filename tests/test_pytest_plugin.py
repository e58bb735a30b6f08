"""The pytest plugin (samspec.conformance.pytest_plugin): `pytest --samspec-port PORT`."""

import hypothesis  # noqa: F401

# In-process pytester runs restore sys.modules afterwards; extension modules (NumPy, SciPy) cannot
# be imported twice in one process, so everything the plugin imports is imported here first.
import numpy  # noqa: F401
import pytest
import scipy.special  # noqa: F401

import samspec.conformance.adapters.reference  # noqa: F401
import samspec.conformance.cli  # noqa: F401
import samspec.conformance.properties.checks  # noqa: F401
import samspec.conformance.pytest_plugin  # noqa: F401
import samspec.conformance.reports.document  # noqa: F401

pytest_plugins = ["pytester"]

PLUGIN = (
    "-p",
    "samspec.conformance.pytest_plugin",
    "-p",
    "no:cacheprovider",
    "-W",
    "ignore::pytest.PytestAssertRewriteWarning",
)

BUGGY = """
from samspec.conformance.diagnosis.variants import VariantAdapter

def NoShift():
    return VariantAdapter("no_pixel_shift")
"""


@pytest.fixture
def run(pytester, monkeypatch):
    # the plugin is given explicitly, whether or not its entry point is installed
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    def run(*args):
        return pytester.runpytest(*PLUGIN, *args)

    return run


def test_faithful_port_passes_with_one_test_per_case_and_output(run):
    result = run("--samspec-port", "reference-f32", "--samspec-cases", r"^(labels\.foreground|masks\.random)$", "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["labels.foreground::sparse PASSED*"])
    result.stdout.fnmatch_lines(["masks.random::dense PASSED*"])
    assert "§" not in result.stdout.str()


def test_buggy_port_fails_with_the_row_and_the_diagnosis(run, pytester):
    pytester.makepyfile(buggy_port=BUGGY)
    result = run("--samspec-port", "buggy_port:NoShift", "--samspec-cases", r"^(labels\.foreground|boxes\.only)$")
    result.assert_outcomes(passed=4, failed=2)  # the sparse outputs; the dense ones have no shift to forget
    result.stdout.fnmatch_lines(
        [
            "*samspec check buggy_port:NoShift (profile 'sam'):",
            "verdict case *",
            "*",
            "fail    labels.foreground            sparse*",
            "diagnosis: matches variant `no_pixel_shift`*",
            "*samspec diagnosis of buggy_port:NoShift*",
            "*all failures are explained by variant `no_pixel_shift` (2 of 2)*",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED boxes.only::sparse*"])


def test_xfail_entries_become_xfail_and_na_becomes_skip(run, pytester):
    pytester.makepyfile(buggy_port=BUGGY)
    xfail = pytester.makefile(
        ".txt", xfails="labels\\..*sparse  # forgot the pixel-centre shift\nboxes  # not a failure\n"
    )
    result = run(
        "--samspec-port",
        "buggy_port:NoShift",
        "--samspec-cases",
        r"^(labels\.foreground|boxes\.only)$",
        "--samspec-xfail",
        str(xfail),
        "-rxX",
    )
    result.assert_outcomes(passed=2, xfailed=2, xpassed=2)  # "boxes" also covers the outputs that pass: XPASS
    result.stdout.fnmatch_lines(["*forgot the pixel-centre shift*"])
    skipped = run(
        "--samspec-port",
        "reference-f32",
        "--samspec-profile",
        "keras_hub",
        "--samspec-cases",
        r"^(empty\.tiny)$",
        "-rs",
    )
    skipped.assert_outcomes(skipped=3)
    skipped.stdout.fnmatch_lines(["*keras-hub needs at least one prompt*"])


def test_properties_are_one_test_each(run, pytester):
    from samspec.conformance.properties.checks import PROPERTIES

    result = run(
        "--samspec-port",
        "reference-f32",
        "--samspec-cases",
        r"^(empty\.tiny)$",
        "--samspec-properties",
        "--samspec-max-examples",
        "5",
    )
    result.assert_outcomes(passed=3 + len(PROPERTIES))
    pytester.makepyfile(buggy_port=BUGGY)
    result = run(
        "--samspec-port",
        "buggy_port:NoShift",
        "--samspec-cases",
        r"^(empty\.tiny)$",
        "--samspec-properties",
        "--samspec-max-examples",
        "10",
        "property.scale_invariance",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*samspec property scale_invariance on buggy_port:NoShift*", "*reproduce('scale_invariance'*"]
    )


def test_without_a_port_the_plugin_adds_nothing(run, pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = run("-v")
    result.assert_outcomes(passed=1)
    assert "samspec[" not in result.stdout.str()


def test_a_bad_port_is_a_usage_error(run):
    result = run("--samspec-port", "no-such-port")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown port 'no-such-port'*"])


@pytest.mark.slow
def test_a_test_id_as_argument_runs_that_test_alone(run, pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = run("--samspec-port", "reference-f32", "labels.foreground::sparse", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["labels.foreground::sparse PASSED*"])
    result = run("--samspec-port", "reference-f32", "masks.random", "test_plain.py", "-v")  # a case: its 3 outputs
    result.assert_outcomes(passed=4)
    result = run("--samspec-port", "reference-f32", "labels.nonsense::sparse")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no test 'labels.nonsense::sparse'*"])


def test_k_counts_every_test_and_never_goes_negative(run):
    result = run(
        "--samspec-port",
        "reference-f32",
        "--samspec-cases",
        r"^(labels\.foreground|masks\.random)$",
        "-k",
        "foreground and not dense_pe",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["collected 6 items / 4 deselected / 2 selected"])
    assert "-4 selected" not in result.stdout.str()


@pytest.mark.slow
def test_last_failed_reruns_only_the_failures(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(buggy_port=BUGGY)
    args = (
        "-p",
        "samspec.conformance.pytest_plugin",
        "-p",
        "cacheprovider",
        "--samspec-port",
        "buggy_port:NoShift",
        "--samspec-cases",
        r"^(labels\.foreground|boxes\.only)$",
    )
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=4, failed=2)
    again = pytester.runpytest_subprocess(*args, "--lf", "-v")
    again.assert_outcomes(failed=2, deselected=4)
    again.stdout.fnmatch_lines(["*labels.foreground::sparse FAILED*"])


@pytest.mark.slow
def test_under_xdist_with_two_workers(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(buggy_port=BUGGY)
    result = pytester.runpytest_subprocess(
        "-p",
        "samspec.conformance.pytest_plugin",
        "-p",
        "xdist.plugin",
        "-n",
        "2",
        "--samspec-port",
        "buggy_port:NoShift",
        "--samspec-cases",
        r"^(labels\.foreground|boxes\.only|masks\.random)$",
    )
    result.assert_outcomes(passed=7, failed=2)
    result.stdout.fnmatch_lines(["*samspec diagnosis of buggy_port:NoShift*", "*no_pixel_shift*"])


def test_hypothesis_is_imported_only_for_the_properties(pytester, monkeypatch):
    """The base install has hypothesis, but a port's CI without it must still run the plugin."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest("""
import sys
def pytest_sessionfinish(session):
    print("hypothesis imported:", any(m == "hypothesis" or m.startswith("hypothesis.") for m in sys.modules))
""")
    result = pytester.runpytest_subprocess(
        "-p",
        "samspec.conformance.pytest_plugin",
        "--samspec-port",
        "reference-f32",
        "--samspec-cases",
        r"^(empty\.tiny)$",
        "-s",
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*hypothesis imported: False*"])


def test_properties_without_hypothesis_are_a_usage_error_naming_the_install(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest("import sys\nsys.modules['hypothesis'] = None  # as if it were not installed\n")
    result = pytester.runpytest_subprocess(
        "-p",
        "samspec.conformance.pytest_plugin",
        "--samspec-port",
        "reference-f32",
        "--samspec-cases",
        "^empty\\.tiny$",
        "--samspec-properties",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--samspec-properties needs hypothesis*pip install*"])
    assert "Traceback" not in result.stderr.str() and "INTERNALERROR" not in result.stdout.str()


def test_the_failure_line_carries_ratio_budget_and_the_diagnosis_section(run, pytester, monkeypatch):
    """docs/ci.md: a CI log's short summary line names the ratio, the budget and the diagnosis' § (§3.1 here)."""
    monkeypatch.setenv("CI", "1")  # pytest does not cut the short summary on CI
    pytester.makepyfile(buggy_port=BUGGY)
    result = run("--samspec-port", "buggy_port:NoShift", "--samspec-cases", r"^labels\.foreground$", "-rf")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["FAILED labels.foreground::sparse - fail: ratio * of budget *, diagnosis §3.1 `no_pixel_shift`, max|err| *"]
    )


@pytest.mark.slow
def test_under_xdist_the_whole_run_diagnosis_is_printed_once(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(buggy_port=BUGGY)
    result = pytester.runpytest_subprocess(
        *("-p", "samspec.conformance.pytest_plugin", "-p", "xdist.plugin", "-n", "2"),
        *(
            "--samspec-port",
            "buggy_port:NoShift",
            "--samspec-cases",
            r"^(labels\.foreground|boxes\.only|masks\.random)$",
        ),
    )
    result.assert_outcomes(passed=7, failed=2)
    text = result.stdout.str()
    assert text.count("all failures are explained by variant `no_pixel_shift`") == 1, text[-3000:]
    assert "(2 of 2)" in text  # one reasoning over both workers' failures, not one per worker


@pytest.mark.parametrize("stop", [("-x",), ("--maxfail", "1")])
def test_a_run_stopped_early_says_how_many_tests_did_not_run(stop, run, pytester):
    pytester.makepyfile(buggy_port=BUGGY)
    result = run(
        *(
            "--samspec-port",
            "buggy_port:NoShift",
            "--samspec-cases",
            r"^(labels\.foreground|boxes\.only|masks\.random)$",
        ),
        *stop,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["samspec: stopped early (*-x / --maxfail): 8 of 9 samspec tests did not run"])


@pytest.mark.slow
def test_under_xdist_nothing_checked_is_still_not_green(pytester, monkeypatch):
    """The controller counts every worker's samspec tests: all n/a under the profile is exit 1, as without -n."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess(
        *("-p", "samspec.conformance.pytest_plugin", "-p", "xdist.plugin", "-n", "2"),
        *("--samspec-port", "reference-f32", "--samspec-profile", "keras_hub", "--samspec-cases", r"^empty\.tiny$"),
    )
    result.assert_outcomes(skipped=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["samspec: nothing was checked (3 n/a)*"])


RUNTIME_PORT = """
from samspec.conformance.diagnosis.variants import VariantAdapter

class Described:
    def __new__(cls):
        adapter = VariantAdapter("no_pixel_shift")
        adapter.runtime = "toy 1.2, compiled"  # what the port runs on: named in every report (docs/adapters.md)
        return adapter
"""


def test_the_adapter_runtime_is_named_in_the_failure_and_the_summary(run, pytester):
    pytester.makepyfile(runtime_port=RUNTIME_PORT)
    result = run("--samspec-port", "runtime_port:Described", "--samspec-cases", r"^labels\.foreground$")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*samspec check runtime_port:Described (profile 'sam', runtime toy 1.2, compiled):"])
    result.stdout.fnmatch_lines(["samspec: runtime toy 1.2, compiled"])
