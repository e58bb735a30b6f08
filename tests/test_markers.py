"""The test markers and the tox environments that select by them (pyproject.toml, tox.ini,
tests/conftest.py): each environment runs only what it adds, and a test that needs an optional
library carries the marker of the environment that installs it."""

import configparser
import re
import shlex
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]


def selections() -> dict:
    """tox env -> the pytest -m expressions of its commands ('' for a pytest run that selects no
    marker), for the envs of envlist that run pytest (``env VAR=... pytest`` included)."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    found = {}
    for env in [e.strip() for e in tox["tox"]["envlist"].split(",")]:
        for line in tox[f"testenv:{env}"].get("commands", "").splitlines():
            words = shlex.split(line)
            if "pytest" in words:
                words = words[words.index("pytest") :]
                found.setdefault(env, []).append(words[words.index("-m") + 1] if "-m" in words else "")
    return found


def test_each_tox_env_runs_only_the_tests_it_adds():
    """A test with no marker runs in core alone; a test with an environment's marker (those conftest
    requires, those tox selects) runs in that environment alone; slow only leaves the quick loop."""
    from conftest import MARKERS

    envs = selections()
    assert "core" in envs and all(all(e) for e in envs.values()), f"every env selects by marker (pytest -m): {envs}"
    named = {word for expressions in envs.values() for e in expressions for word in re.findall(r"\w+", e)}
    named -= {"not", "and", "or"}
    environment_markers = sorted(({m for allowed in MARKERS.values() for m in allowed} | named) - {"slow"})
    for marks in [set(), *({m} for m in environment_markers)]:
        running = [
            env
            for env, expressions in envs.items()
            if any(Expression.compile(e).evaluate(marks.__contains__) for e in expressions)
        ]
        expected = ["core"] if not marks else sorted(marks)
        assert running == expected, f"a test marked {sorted(marks) or 'with nothing'} runs in {running}"


def test_every_marker_conftest_names_is_registered(pytestconfig):
    from conftest import MARKERS

    registered = {line.split(":", 1)[0].strip() for line in pytestconfig.getini("markers")}
    assert {m for allowed in MARKERS.values() for m in allowed} | {"slow"} <= registered


@pytest.mark.slow
def test_a_test_needing_a_library_without_its_marker_fails_naming_the_marker(pytester):
    """conftest.require: torch needs `sam` (or `ports`), transformers `ports`; numpy needs nothing."""
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    sam: x\n    ports: x\n    slow: x\n")
    pytester.makepyfile(
        test_needs="""
        import pytest
        from conftest import require

        def test_unmarked_torch():
            require("torch")

        @pytest.mark.sam
        def test_marked_torch():
            require("torch")

        @pytest.mark.sam
        def test_transformers_under_sam():
            require("transformers")

        @pytest.mark.ports
        def test_transformers_under_ports():
            require("transformers")

        def test_numpy():
            require("numpy")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rfs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 2, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["E * test_needs.py::test_unmarked_torch requires torch*mark the test @pytest.mark.sam *"]
    )
    result.stdout.fnmatch_lines(
        ["E * test_needs.py::test_transformers_under_sam requires transformers*mark the test @pytest.mark.ports *"]
    )
    failed = set(re.findall(r"FAILED \S+::(\w+)", result.stdout.str()))
    assert failed == {"test_unmarked_torch", "test_transformers_under_sam"}, result.stdout.str()
