"""One pipeline, two front-ends (harness.session): `samspec check` and `pytest --samspec-port` refuse the
same runs, from one table, each with its own flag spelling (docs/ci.md, "Exit codes")."""

import re
from pathlib import Path

import hypothesis  # noqa: F401

# In-process pytester runs restore sys.modules afterwards; extension modules cannot be imported twice
import numpy  # noqa: F401
import pytest
import scipy.special  # noqa: F401

import samspec.conformance.adapters.reference  # noqa: F401
import samspec.conformance.pytest_plugin  # noqa: F401
import samspec.conformance.reports.document  # noqa: F401
from samspec.conformance.cli import main
from samspec.conformance.harness.options import OPTIONS, flag_of

pytest_plugins = ["pytester"]
HERE = Path(__file__).parent
PLUGIN = ("-p", "samspec.conformance.pytest_plugin", "-p", "no:cacheprovider")
EVERYTHING_FAILS = """
class Broken:
    name = "broken"
    def build(self, config, params):
        pass
    def run(self, points, labels, boxes, masks):
        raise RuntimeError("not written yet")
"""
# (what is refused, the arguments as {option: value} (None: a switch), the exit: 1 refused after the run
# because nothing was checked, 2 a usage error before anything runs, the message)
REFUSALS = [
    (
        "no applicable case",
        {"port": "reference-f32", "profile": "keras_hub", "cases": r"^empty\.tiny$"},
        1,
        r"nothing was checked \(3 n/a\)",
    ),
    (
        "every output xfailed",
        {"port": "broken_port:Broken", "cases": r"^labels\.foreground$", "xfail": "labels # not written yet"},
        1,
        r"nothing was checked \(3 xfail\)",
    ),
    ("xfail pattern matching everything", {"port": "reference-f32", "xfail": ".* # everything"}, 2, "matches every"),
    ("no case matches", {"port": "reference-f32", "cases": "^nothing$"}, 2, r"FLAG\(cases\) '\^nothing\$' matches no"),
    ("k zero", {"port": "reference-f32", "k": "0"}, 2, r"FLAG\(k\) expects a finite number > 0; received '0'"),
    ("timeout inf", {"port": "reference-f32", "timeout": "inf"}, 2, r"FLAG\(timeout\) expects a finite number > 0"),
    ("timeout nan", {"port": "reference-f32", "timeout": "nan"}, 2, r"FLAG\(timeout\) expects a finite number > 0"),
    ("timeout zero", {"port": "reference-f32", "timeout": "0"}, 2, r"FLAG\(timeout\) expects a finite number > 0"),
    ("bad regex", {"port": "reference-f32", "cases": "("}, 2, r"FLAG\(cases\) '\(': not a valid regular expression"),
    ("port typo", {"port": "reference-f23"}, 2, r"unknown port 'reference-f23' \(did you mean 'reference-f32'\?\)"),
    ("profile typo", {"port": "reference-f32", "profile": "keras-hub"}, 2, r"did you mean 'keras_hub'\?"),
    ("missing port file", {"port": "no/such/file.py:Port"}, 2, r"no file 'no/such/file.py'"),
]


def _cli_argv(options, xfail_file):
    argv = ["check", options["port"]]
    for name, value in options.items():
        if name != "port":
            argv += [flag_of(name, "cli"), str(xfail_file) if name == "xfail" else value]
    return argv


def _plugin_argv(options, xfail_file):
    argv = []
    for name, value in options.items():
        argv += [flag_of(name, "plugin"), str(xfail_file) if name == "xfail" else value]
    return argv


def _expected(message, front_end):
    return re.sub(r"FLAG\\\((\w+)\\\)", lambda m: re.escape(flag_of(m.group(1), front_end)), message)


@pytest.mark.parametrize("what, options, code, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_the_cli_refuses(what, options, code, message, tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_port.py").write_text(EVERYTHING_FAILS)
    monkeypatch.chdir(tmp_path)
    xfail = tmp_path / "xfails.txt"
    xfail.write_text(options.get("xfail", "") + "\n")
    try:
        got = main(_cli_argv(options, xfail))
    except SystemExit as exc:  # argparse's refusal of a value
        got = exc.code
    captured = capsys.readouterr()
    assert got == code, f"docs/ci.md exit codes: `samspec check` should refuse {what} with {code}, got {got}"
    assert re.search(_expected(message, "cli"), captured.out + captured.err), captured.err[-2000:]
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("what, options, code, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_the_plugin_refuses(what, options, code, message, pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(broken_port=EVERYTHING_FAILS)
    xfail = pytester.makefile(".txt", xfails=options.get("xfail", "") + "\n")
    result = pytester.runpytest(*PLUGIN, *_plugin_argv(options, xfail))
    expected = pytest.ExitCode.TESTS_FAILED if code == 1 else pytest.ExitCode.USAGE_ERROR
    assert result.ret == expected, f"docs/ci.md exit codes: the plugin should refuse {what} ({expected}): {result.ret}"
    text = result.stdout.str() + result.stderr.str()
    assert re.search(_expected(message, "plugin"), text), text[-2000:]
    assert "Traceback" not in text and "INTERNALERROR" not in text


def test_every_option_has_one_spelling_per_front_end():
    """The table names each option once; the plugin's flag is the CLI's with the samspec- prefix."""
    names = [option.name for option in OPTIONS]
    assert len(names) == len(set(names))
    for option in OPTIONS:
        if option.plugin and option.cli[0].startswith("--"):
            assert option.plugin == "--samspec-" + option.cli[-1][2:], option.name


def test_the_plugin_takes_the_options_the_issue_named(pytester, monkeypatch):
    """--samspec-k, --samspec-trace, --samspec-no-diagnosis and --samspec-weights exist and reach the check."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest(
        *PLUGIN,
        "--samspec-port",
        "reference-f32",
        "--samspec-cases",
        r"^labels\.foreground$",
        "--samspec-k",
        "8",
        "--samspec-trace",
        "--samspec-no-diagnosis",
        "--samspec-hypothesis-seed",
        "3",
    )
    result.assert_outcomes(passed=3)
    missing = pytester.runpytest(*PLUGIN, "--samspec-port", "reference-f32", "--samspec-weights", "no-such.pth")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR


def test_port_as_a_file_path_under_both_front_ends(tmp_path, monkeypatch, capsys, pytester):
    """PORT may be path/to/file.py:Attr (docs/adapters.md), under the CLI and the plugin."""
    folder = tmp_path / "ports" / "mine"
    folder.mkdir(parents=True)
    (folder / "helper.py").write_text("SCALE = 1.0\n")
    (folder / "my_adapter.py").write_text(
        "import helper  # a neighbour of the file imports too\n" + (HERE / "toy_ports.py").read_text()
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check", "ports/mine/my_adapter.py:Faithful32", "--cases", r"^labels\.foreground$"]) == 0
    assert main(["check", "ports/mine/my_adapter.py:NoShift", "--cases", r"^labels\.foreground$"]) == 1
    capsys.readouterr()
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest(
        *PLUGIN, "--samspec-port", f"{folder}/my_adapter.py:Faithful32", "--samspec-cases", r"^labels\.foreground$"
    )
    result.assert_outcomes(passed=3)


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["check", "reference-f32", "--maxfial", "2"], "did you mean '--maxfail' for '--maxfial'?"),
        (["check", "reference-f32", "--json", "r.json"], "for a JSON report use --report FILE.json"),
    ],
)
def test_an_unknown_option_gets_a_hint(argv, hint, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert hint in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "record, command",
    [
        ({"url": "file:///src/samspec", "dir_info": {"editable": True}}, "pip install -e '/src/samspec[figures]'"),
        ({"url": "file:///src/samspec", "dir_info": {}}, "pip install '/src/samspec[figures]'"),
        (
            {"url": "https://example.org/samspec.git", "vcs_info": {"vcs": "git", "commit_id": "abc"}},
            "pip install 'samspec[figures] @ git+https://example.org/samspec.git@abc'",
        ),
        ({}, "pip install -e '<your samspec checkout>[figures]'"),
    ],
)
def test_the_install_hint_follows_how_samspec_was_installed(record, command, monkeypatch):
    from samspec.conformance.reports import install_hint

    monkeypatch.setattr(install_hint, "_direct_url", lambda: record)
    assert install_hint.install_command("figures").startswith(command)
    assert "pip install 'samspec[figures]'" not in install_hint.install_command("figures")


def test_an_unknown_option_is_refused_with_the_closest_under_both_front_ends(pytester, monkeypatch, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["check", "reference-f32", "--tiemout", "3"])
    assert stop.value.code == 2 and "did you mean '--timeout'" in capsys.readouterr().err
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest(*PLUGIN, "--samspec-port", "reference-f32", "--samspec-tiemout", "3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "did you mean '--samspec-timeout'" in result.stderr.str() + result.stdout.str()


def test_the_plugin_records_the_judged_dtype_in_junit(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    junit = pytester.path / "j.xml"
    result = pytester.runpytest(
        *PLUGIN, "--samspec-port", "reference-f16", "--samspec-cases", r"^labels\.foreground$", f"--junitxml={junit}"
    )
    result.assert_outcomes(passed=3)
    assert junit.read_text().count('name="samspec_judged_dtype" value="float16"') == 3
