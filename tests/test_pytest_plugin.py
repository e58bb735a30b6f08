"""The pytest plugin (samspec.conformance.pytest_plugin): `pytest --samspec-port PORT`."""

import pytest

# In-process pytester runs restore sys.modules afterwards; extension modules (NumPy, SciPy) cannot
# be imported twice in one process, so everything the plugin imports is imported here first.
import numpy  # noqa: F401
import scipy.special  # noqa: F401
import hypothesis  # noqa: F401
import samspec.conformance.adapters.reference  # noqa: F401
import samspec.conformance.cli  # noqa: F401
import samspec.conformance.properties  # noqa: F401
import samspec.conformance.pytest_plugin  # noqa: F401
import samspec.conformance.report  # noqa: F401

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "samspec.conformance.pytest_plugin", "-p", "no:cacheprovider",
          "-W", "ignore::pytest.PytestAssertRewriteWarning")

BUGGY = """
from samspec.conformance.variants import VariantAdapter

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
    result = run("--samspec-port", "reference-f32", "--samspec-cases", "labels.foreground|masks.random", "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*samspec?labels.foreground::prompt_sparse_embeddings §3 §4 §5.1 §5.2 §7? PASSED*"])
    result.stdout.fnmatch_lines(["*samspec?masks.random::prompt_dense_embeddings §9? PASSED*"])


def test_buggy_port_fails_with_the_row_and_the_diagnosis(run, pytester):
    pytester.makepyfile(buggy_port=BUGGY)
    result = run("--samspec-port", "buggy_port:NoShift", "--samspec-cases", "labels.foreground|boxes.only")
    result.assert_outcomes(passed=4, failed=2)  # the sparse outputs; the dense ones have no shift to forget
    result.stdout.fnmatch_lines([
        "*samspec check buggy_port:NoShift (profile 'sam'):",
        "verdict case *",
        "*",
        "fail    labels.foreground            sparse*",
        "*diagnosis: matches variant `no_pixel_shift`*",
        "*samspec diagnosis of buggy_port:NoShift*",
        "diagnosis: all failures are explained by variant `no_pixel_shift` (2 of 2)*",
    ])
    result.stdout.fnmatch_lines(["FAILED samspec[[]boxes.only::prompt_sparse_embeddings §3 §6 §7[]]*"])


def test_xfail_entries_become_xfail_and_na_becomes_skip(run, pytester):
    pytester.makepyfile(buggy_port=BUGGY)
    xfail = pytester.makefile(".txt", xfails="labels\\..*sparse  # forgot the pixel-centre shift\nboxes  # not a failure\n")
    result = run("--samspec-port", "buggy_port:NoShift", "--samspec-cases", "labels.foreground|boxes.only",
                 "--samspec-xfail", str(xfail), "-rxX")
    result.assert_outcomes(passed=2, xfailed=2, xpassed=2)  # "boxes" also covers the outputs that pass: XPASS
    result.stdout.fnmatch_lines(["*forgot the pixel-centre shift*"])
    skipped = run("--samspec-port", "reference-f32", "--samspec-profile", "keras_hub", "--samspec-cases", "empty.tiny", "-rs")
    skipped.assert_outcomes(skipped=3)
    skipped.stdout.fnmatch_lines(["*keras-hub needs at least one prompt*"])


def test_properties_are_one_test_each(run, pytester):
    from samspec.conformance.properties import PROPERTIES

    result = run("--samspec-port", "reference-f32", "--samspec-cases", "empty.tiny", "--samspec-properties",
                 "--samspec-max-examples", "5")
    result.assert_outcomes(passed=3 + len(PROPERTIES))
    pytester.makepyfile(buggy_port=BUGGY)
    result = run("--samspec-port", "buggy_port:NoShift", "--samspec-cases", "empty.tiny", "--samspec-properties",
                 "--samspec-max-examples", "10", "-k", "scale_invariance")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*samspec property scale_invariance on buggy_port:NoShift*", "*reproduce('scale_invariance'*"])


def test_without_a_port_the_plugin_adds_nothing(run, pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = run("-v")
    result.assert_outcomes(passed=1)
    assert "samspec[" not in result.stdout.str()


def test_a_bad_port_is_a_usage_error(run):
    result = run("--samspec-port", "no-such-port")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown port 'no-such-port'*"])
