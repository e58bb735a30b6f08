"""An adapter's ``runtime`` (docs/adapters.md): one line naming what the port runs on (for keras-hub the
backend, its version and the mode), read in the worker, travels to samspec's process as data and is
named in the header and in every report (JSON ``runtime``, JUnit property, HTML, plugin lines)."""

import json
import xml.etree.ElementTree as ET

import pytest

from samspec.conformance.cli import main

PORT = """
import os

import numpy as np
from samspec.reference import SAMPromptEncoder


class Described:
    name, profile = "described", "sam"

    @property
    def runtime(self):  # computed in the worker: the worker's environment, not samspec's
        return "toy " + os.environ.get("TOY_RUNTIME", "unset") + ", eager"

    def build(self, config, params):
        self.encoder = SAMPromptEncoder(**config, params=params, dtype="float32")

    def run(self, points, labels, boxes, masks):
        outputs = self.encoder(points=points, labels=labels, boxes=boxes, masks=masks)
        return {key: np.asarray(value) for key, value in outputs.items()}


class Undescribed(Described):
    runtime = None
"""
CASES = r"^labels\.foreground$"


@pytest.fixture
def port_dir(tmp_path, monkeypatch):
    (tmp_path / "runtime_ports.py").write_text(PORT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOY_RUNTIME", "1.2")
    return tmp_path


@pytest.mark.parametrize("where", [[], ["--in-process"]], ids=["worker", "in-process"])
def test_runtime_in_header_and_every_report(port_dir, capsys, where):
    reports = ["--report", "r.json", "--junit", "r.xml", "--html", "r.html"]
    assert main(["check", "runtime_ports:Described", "--cases", CASES, *where, *reports]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "runtime toy 1.2, eager" in header, header
    assert json.loads((port_dir / "r.json").read_text())["runtime"] == "toy 1.2, eager"
    properties = {p.get("name"): p.get("value") for p in ET.parse(port_dir / "r.xml").iter("property")}
    assert properties["samspec.runtime"] == "toy 1.2, eager"
    assert "<td>runtime</td><td>toy 1.2, eager</td>" in (port_dir / "r.html").read_text()


def test_no_runtime_no_line(port_dir, capsys):
    assert main(["check", "runtime_ports:Undescribed", "--cases", CASES, "--report", "r.json", "--junit", "r.xml"]) == 0
    assert ", runtime " not in capsys.readouterr().out.splitlines()[0]
    assert json.loads((port_dir / "r.json").read_text())["runtime"] is None
    assert "samspec.runtime" not in {p.get("name") for p in ET.parse(port_dir / "r.xml").iter("property")}
