"""The stage and output registry (reference/registry.py) against docs/spec.md, the stage functions
and a real trace: a section cited anywhere in the registry is a heading of the spec, every leaf
section of §3–§10 is cited, the §11.4 trace table agrees entry by entry, and every stage
function's docstring names its section."""

import inspect
import re
from pathlib import Path

import numpy as np

from samspec.reference import OUTPUT_KEYS, STAGES, SAMPromptEncoder, registry
from samspec.reference.fast import PART_STAGES

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec.md"


def spec_headings() -> set:
    """Every numbered heading of docs/spec.md as "§N" or "§N.M"."""
    text = SPEC.read_text(encoding="utf-8")
    return {"§" + m.group(1) for m in re.finditer(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, re.MULTILINE)}


def cited(section: str) -> list:
    """The sections a registry entry cites: "§9, §10" -> [§9, §10]; "§3–§7" -> [§3, §7]."""
    return re.findall(r"§\d+(?:\.\d+)?", section)


def every_entry():
    yield from ((f"output {o.key}", o.section) for o in registry.OUTPUTS)
    yield from ((f"part {p.name}", p.sections) for p in registry.PARTS)
    yield from ((f"stage {s.name}", s.section) for s in registry.STAGES)
    yield from ((f"intermediate {i.name}", i.section) for i in registry.INTERMEDIATES)


def test_spec_every_registry_section_is_a_heading_of_the_spec():
    """§3–§11 (registry): each § the registry cites is a heading of docs/spec.md."""
    headings = spec_headings()
    for entry, section in every_entry():
        assert cited(section), f"registry: {entry} cites no section ({section!r})"
        for one in cited(section):
            assert one in headings, f"registry: {entry} cites {one}, which is no heading of docs/spec.md"


def test_spec_every_leaf_section_of_3_to_10_is_in_the_registry():
    """§3–§10 (registry): every leaf heading of the stage sections is cited by some entry."""
    headings = spec_headings()
    stage_sections = {h for h in headings if 3 <= int(h[1:].split(".")[0]) <= 10}
    leaves = {h for h in stage_sections if not any(o.startswith(h + ".") for o in stage_sections)}
    registered = {one for _, section in every_entry() for one in cited(section)}
    assert not leaves - registered, f"sections of docs/spec.md no registry entry cites: {sorted(leaves - registered)}"


def test_spec11_4_trace_table_agrees_with_the_registry():
    """§11.4 (registry): the spec's trace table lists exactly the registry's intermediates, and
    where a row names a section, the registry gives the same one."""
    text = SPEC.read_text(encoding="utf-8")
    table = text[text.index("### 11.4") : text.index("## 12.")]
    listed = {}
    for row in re.findall(r"^\| (`[^|]+) \|[^|]*\|([^|]*)\|$", table, re.MULTILINE):
        names, sections = re.findall(r"`([\w.]+)`", row[0]), cited(row[1])
        for index, name in enumerate(names):
            listed[name] = sections[index] if len(sections) == len(names) else (sections[:1] or [""])[0]
    assert list(listed) == [i.name for i in registry.INTERMEDIATES], "§11.4's table and registry.INTERMEDIATES differ"
    for entry in registry.INTERMEDIATES:
        if listed[entry.name]:
            assert listed[entry.name] == entry.section, f"{entry.name}: §11.4 says {listed[entry.name]}"


def test_spec_every_stage_docstring_names_its_registry_section():
    """§3–§10 (registry): each stage function's docstring opens with "Spec <its section>"."""
    for stage in registry.STAGES:
        first = inspect.getdoc(stage.function).splitlines()[0]
        assert first.startswith(f"Spec {stage.section}"), f"{stage.name}: {first!r} vs registry {stage.section}"


def test_spec11_registry_feeds_the_encoder_and_its_fast_parts():
    """§11 (registry): the encoder's stages, outputs and parts are the registry's."""
    assert list(STAGES) == [stage.name for stage in registry.STAGES]
    assert all(STAGES[stage.name] is stage.function for stage in registry.STAGES)
    assert OUTPUT_KEYS == tuple(o.key for o in registry.OUTPUTS)
    assert set(PART_STAGES) == set(registry.PART_NAMES)
    for stage in registry.STAGES:
        assert stage.outputs, f"{stage.name} feeds no output"
        assert {part for part, names in PART_STAGES.items() if stage.name in names} == set(stage.parts)


def test_spec11_4_a_full_trace_follows_the_registry_order():
    """§11.4 (registry): a trace with points, a box and a mask holds every intermediate, in the
    registry's order, then the outputs; each intermediate's stage is a registered stage."""
    enc = SAMPromptEncoder(hidden_size=8, image_embedding_size=(2, 2), input_image_size=(8, 8), mask_in_channels=4)
    trace = enc.trace(
        points=np.array([[[1.0, 2.0]]]), labels=np.array([[1]]), boxes=np.array([[0.0, 0.0, 4.0, 4.0]]),
        masks=np.zeros((1, 1, 8, 8)),
    )  # fmt: skip
    assert list(trace) == [i.name for i in registry.INTERMEDIATES] + list(OUTPUT_KEYS)
    for entry in registry.INTERMEDIATES:
        assert entry.stage == "" or entry.stage in STAGES, f"{entry.name}: unknown stage {entry.stage!r}"


def test_spec11_section_of_reads_the_registry():
    """§11.4 (registry): section_of gives each entry's section, and a step's section for other inputs."""
    assert registry.section_of("mask.input") == "§9.5"
    assert registry.section_of("prompt_dense_positional_embeddings") == "§8.2"
    assert registry.section_of("anything.normalised") == "§3.2"
    assert registry.section_of("anything.shifted") == "§3.1"
    assert registry.section_of("anything.tokens") == ""  # §5.2 for points, §6.2 for boxes: no one section
    assert registry.section_of("nothing") == ""
