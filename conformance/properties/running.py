"""Running the properties with hypothesis: each on a seeded number of examples, a failing example
shrunk and turned into a repro; the table of results."""

from __future__ import annotations

from dataclasses import dataclass

from ..harness.check import Result
from ..harness.tolerance import DEFAULT_K
from ..profiles.profile import NotApplicable
from .catalogue import PROPERTIES, PropertyFailure
from .port_runner import PortRunner
from .repro import repro


@dataclass
class PropertyResult(Result):
    repro: str = ""
    examples: int = 0


def run_property(
    name, adapter, profile, max_examples: int = 25, seed: int = 0, database=None, port=None, k: float = DEFAULT_K
) -> PropertyResult:
    """Check one property on ``max_examples`` hypothesis examples; a failing example is shrunk.
    ``database``: None (nothing stored), a hypothesis ``ExampleDatabase`` or a folder for one."""
    from hypothesis.errors import Unsatisfiable

    prop = PROPERTIES[name]
    if isinstance(database, (str, bytes)) or hasattr(database, "__fspath__"):  # a folder: hypothesis's own format
        from hypothesis.database import DirectoryBasedExampleDatabase

        database = DirectoryBasedExampleDatabase(database)
    port = port or getattr(adapter, "name", "PORT")
    state = {"ran": 0, "last": None}
    result = PropertyResult(f"property.{name}", "-", "pass", list(prop.sections))
    check = hypothesis_test(prop, PortRunner(adapter, profile, k=k), state, max_examples, seed, database)
    try:
        check()
    except PropertyFailure:
        kwargs, message = state["last"]
        result.verdict = "fail"
        result.message = f"{prop.description}: {message}"
        result.repro = repro(name, kwargs, port, profile.name)
    except Unsatisfiable:
        result.verdict = "n/a"
        result.message = f"no example of this property can be expressed under profile {profile.name!r}"
    except Exception as exc:  # the harness itself, or hypothesis
        result.verdict = "error"
        result.message = f"{type(exc).__name__}: {exc}"
    else:
        if state["ran"] == 0:
            result.verdict = "n/a"
            result.message = f"no example of this property can be expressed under profile {profile.name!r}"
        else:
            result.message = f"{prop.description} ({state['ran']} examples)"
    result.examples = state["ran"]
    return result


def hypothesis_test(prop, runner, state, max_examples, seed, database):
    """The property as a seeded hypothesis test of no arguments: each example drawn, checked on the
    port, counted in ``state["ran"]``; the last failing example and its message in ``state["last"]``
    (a port's own exception becomes a PropertyFailure); an example the profile cannot express is rejected."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=database,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        derandomize=False,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    )  # no slow "explain" phase
    @hypothesis_seed(seed)
    @given(st.data())
    def check(data):
        kwargs = prop.draw(data)
        try:
            prop.check(runner, **kwargs)
        except NotApplicable:
            reject()
        except PropertyFailure as exc:
            state["last"] = (kwargs, str(exc))
            raise
        except Exception as exc:
            state["last"] = (kwargs, f"the port raised {type(exc).__name__}: {exc}")
            raise PropertyFailure(state["last"][1]) from exc
        state["ran"] += 1

    return check


def run_properties(
    adapter, profile, max_examples: int = 25, seed: int = 0, database=None, port=None, names=None, k: float = DEFAULT_K
) -> list:
    """Every property (or those in ``names``) on one adapter under one profile; a list of PropertyResult."""
    from ..harness.progress import progress

    names = list(names or PROPERTIES)
    return [
        run_property(name, adapter, profile, max_examples=max_examples, seed=seed, database=database, port=port, k=k)
        for name in progress(names, desc="property checks", unit="property")
    ]


def report_properties(results, out=None) -> None:
    """The property table, then each failure's repro."""
    import sys

    out = out if out is not None else sys.stdout
    print(f"\n{'verdict':<7} {'property':<28} note", file=out)
    print("-" * 60, file=out)
    for r in results:
        print(f"{r.verdict:<7} {r.case.removeprefix('property.'):<28} {r.message}", file=out)
    for r in results:
        if r.repro:
            print(f"\n{r.case} failed; to reproduce:\n{r.repro}", file=out)
