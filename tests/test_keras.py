"""keras-hub's SAMPromptEncoder on the Keras backend that KERAS_BACKEND names (torch when unset), eager
(`keras-hub`) and compiled (`keras-hub-compiled`, Model.predict). `tox -e keras` runs this file once
per backend: torch, jax, tensorflow.

Each mode passes `samspec check` under the `keras_hub` profile except, strictly, the outputs its
known-failures file lists (conformance/adapters/known_failures/PORT.BACKEND.txt; docs/spec.md §12.3):
no other output may fail and none of those may pass. The runtime (backend, version, mode) is named;
trace() works and agrees stage by stage wherever the outputs agree, and departs at the stage the
finding names where they do not; tracing leaves the layer as it was."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import require

from samspec.conformance.adapters.keras_hub import known_failures_path
from samspec.conformance.harness.xfail import read_xfails

pytestmark = [pytest.mark.keras, pytest.mark.slow]
PORTS = ("keras-hub", "keras-hub-compiled")


def _keras():
    from samspec.conformance.adapters.keras_hub import import_keras

    return require("keras_hub", import_keras)


@pytest.fixture(scope="module")
def backend():
    keras, _ = _keras()
    return keras.backend.backend()


@pytest.fixture(scope="module")
def cases():
    from samspec.conformance.cases.store import load_cases

    return {case.id: case for case in load_cases(None)}


def known_failures(port, backend) -> list:
    path = known_failures_path(port, backend)
    return read_xfails(path) if path.is_file() else []


def test_backend_is_the_environment_s(backend):
    assert backend == (os.environ.get("KERAS_BACKEND") or "torch")


@pytest.mark.parametrize("port", PORTS)
def test_fails_exactly_where_declared(port, backend, tmp_path, capsys):
    """§12.3: the outputs of the known-failures file fail, and only those."""
    from samspec.conformance.cli import main

    known = known_failures_path(port, backend)
    report = tmp_path / "report.json"
    args = ["check", port, "--profile", "keras_hub", "--no-diagnosis", "--report", str(report)]
    code = main(args + (["--xfail", str(known)] if known.is_file() else []))
    header = capsys.readouterr().out.splitlines()[0]
    document = json.loads(report.read_text())
    verdicts = {row["id"]: row["verdict"] for row in document["results"]}
    failing = sorted(i for i, v in verdicts.items() if v in ("fail", "error"))
    passing_known = sorted(i for i, v in verdicts.items() if v == "xpass")
    assert not failing, f"§12.3: {port} on {backend}: outputs fail that {known.name} does not declare: {failing}"
    assert not passing_known, f"§12.3: {port} on {backend}: declared failures now pass: {passing_known}"
    entries = known_failures(port, backend)
    unused = [entry.pattern for entry in entries if not any(entry.regex.search(i) for i in verdicts)]
    assert not unused, f"§12.3: {known.name}: patterns that match no output: {unused}"
    assert code == 0
    mode = "compiled" if port.endswith("compiled") else "eager"
    assert document["runtime"].startswith(f"{backend} ") and f", {mode}: " in document["runtime"]
    assert f"runtime {document['runtime']}" in header


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_trace_agrees_or_departs_where_declared(mode, backend, cases):
    """§11.4: trace() on this backend: every stage agrees on the cases that pass; on a declared
    failure the first departing stage is mask.norm1 (§9.2), the finding of §12.3."""
    from samspec.conformance.adapters.keras_hub import KerasHubAdapter
    from samspec.conformance.harness.stages import compare_trace
    from samspec.conformance.profiles.profile import get_profile

    _keras()
    profile = get_profile("keras_hub")
    port = "keras-hub" if mode == "eager" else "keras-hub-compiled"
    declared = {i.split("::")[0] for i in _declared_ids(port, backend, cases)}
    adapter = KerasHubAdapter(mode)
    for case_id in ("all.points_boxes_masks", "masks.random", "labels.foreground", *sorted(declared)):
        case = cases[case_id]
        adapter.build(case.config, case.params)
        stages = adapter.trace(**profile.to_port(case.inputs, case.config))
        assert {"points.tokens", "dense_pe.grid"} <= set(stages) or case_id == "masks.random", sorted(stages)
        if case.inputs.get("masks") is not None:
            assert {f"mask.{s}" for s in ("conv1", "norm1", "act1", "conv2", "norm2", "act2", "conv3")} <= set(stages)
        found = compare_trace(case, stages, profile.semantics)
        expected = "mask.norm1" if case_id in declared else None
        assert found["first_departing"] == expected, f"§12.3 {case_id} on {backend} {mode}: {found['summary']}"


def _declared_ids(port, backend, cases) -> list:
    from samspec.reference import OUTPUT_KEYS

    ids = [f"{c}::{k}" for c in cases for k in OUTPUT_KEYS]
    return [i for i in ids if any(entry.regex.search(i) for entry in known_failures(port, backend))]


def test_declared_failures_come_from_the_factored_layer_norm(backend):
    """§12.3, the cause: where this backend has declared failures, keras.ops.layer_normalization over
    one channel is not β (§9.2: x − μ = 0) but bit for bit the factored form x·s + (β − μ·s),
    s = γ/sqrt(σ² + eps), computed in NumPy; where it has none, it is exactly β."""
    keras, _ = _keras()
    x = np.random.default_rng(0).normal(size=(2, 8, 12, 1)).astype(np.float32)
    gamma, beta = np.float32([0.7]), np.float32([0.3])
    got = keras.ops.convert_to_numpy(keras.ops.layer_normalization(x, gamma, beta, epsilon=1e-6))
    scale = np.float32(1) / np.sqrt(np.float32(1e-6)) * gamma
    factored = x * scale + (-x * scale + beta)
    if known_failures("keras-hub", backend):
        assert np.array_equal(got, factored) and np.abs(got - beta).max() > 0, "§12.3 §9.2: not the factored form"
    else:
        assert np.array_equal(got, np.broadcast_to(beta, x.shape)), "§9.2: one channel must give exactly β"


def test_trace_leaves_the_layer_as_it_was(backend, cases):
    """§11.4: tracing is read-only: an attribute the port set on its own instance stays, nothing is
    added, and run() gives the same outputs before and after."""
    from samspec.conformance.adapters.keras_hub import KerasHubAdapter
    from samspec.conformance.profiles.profile import get_profile

    _keras()
    case, profile = cases["all.points_boxes_masks"], get_profile("keras_hub")
    inputs = profile.to_port(case.inputs, case.config)
    adapter = KerasHubAdapter()
    adapter.build(case.config, case.params)
    layer = adapter.layer
    own = layer._embed_points  # the port's own override, set on its instance
    layer.__dict__["_embed_points"] = own
    watched = [layer, layer.positional_embedding_layer, *layer.mask_downscaler.layers]
    names = ("_embed_points", "_embed_box", "encode_image", "encode_coordinates", "_positional_encodings", "call")

    def wrapped():  # the instance attributes a trace wraps (Keras' own bookkeeping changes with each call)
        return [{n: vars(obj)[n] for n in names if n in vars(obj)} for obj in watched]

    before = wrapped()
    first = adapter.run(**inputs)
    adapter.trace(**inputs)
    assert wrapped() == before
    assert layer.__dict__["_embed_points"] is own
    for key, value in adapter.run(**inputs).items():
        np.testing.assert_array_equal(value, first[key])
