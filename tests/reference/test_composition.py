"""The teaching composition (SAMPromptEncoder.compose and its three parts) reads as the spec:
one screen, every stage call named with its §, in the spec's order, no performance branches."""

import inspect
import re

from samspec.reference import STAGES, SAMPromptEncoder
from samspec.reference.encoder import PARTS
from samspec.reference.fast import PART_STAGES

TEACHING = ("compose", *PARTS, "positional_encoding")


def source(name):
    return inspect.getsource(getattr(SAMPromptEncoder, name))


def test_spec11_teaching_composition_fits_one_screen():
    """§11: compose and its parts, docstrings included, fit in 60 lines."""
    lines = sum(len(source(name).splitlines()) for name in TEACHING)
    assert lines <= 60, f"the teaching composition takes {lines} lines"


def test_spec11_every_stage_call_names_its_section():
    """§3–§10: each line that calls a stage (S.<stage>) carries the § it implements, and every stage is called."""
    called = set()
    for name in TEACHING:
        for line in source(name).splitlines():
            for stage in re.findall(r"\bS\.(\w+)\(", line):
                assert stage in STAGES, f"{name}: S.{stage} is not a stage"
                assert "§" in line, f"{name}: the call of {stage} names no spec section: {line.strip()}"
                called.add(stage)
    assert called == set(STAGES), f"stages never called by the teaching composition: {sorted(set(STAGES) - called)}"


def test_spec11_teaching_composition_has_no_performance_branches():
    """The teaching composition never looks at the namespace, the dtype or the fast forms; the
    fast compositions cover exactly the teaching composition's parts and stages."""
    for name in TEACHING:
        text = source(name)
        for word in ("namespace_name", "numpy", "float32", "float64", "fast", "chunk"):
            assert word not in text, f"{name} mentions {word!r}"
    assert set(PART_STAGES) == set(PARTS)
    assert set().union(*PART_STAGES.values()) == set(STAGES)
