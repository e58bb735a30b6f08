"""What one held-out port is (``PortBug``) and the families of ports, with the modules each imports.

Shared by both rounds of the red team: ``bugs.py`` (round 1: NumPy from the spec, patches of the
real ports) and ``round2.py`` (ports written from scratch, programs run with ``--exec``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# round 1 (bugs.py)
NP = "tests.port_bugs.numpy_bugs"
NPF = "tests.port_bugs.numpy_port"
META = "tests.port_bugs.meta_ports"
HF = "tests.port_bugs.hf_ports"
SAM2 = "tests.port_bugs.sam2_ports"
KERAS = "tests.port_bugs.keras_ports"
# round 2 (round2.py)
TORCH = "tests.port_bugs.round2_torch"
JAX = "tests.port_bugs.round2_jax"
NUMPY = "tests.port_bugs.round2_numpy"
EXEC = "exec"  # a program, checked with `samspec check --exec`
EXEC_SCRIPT = Path(__file__).with_name("round2_exec.py")

# the modules each family of ports imports (tests/conftest.py MARKERS decides the test's marker)
NEEDS = {
    NP: (),
    NPF: (),
    META: ("torch", "segment_anything"),
    HF: ("torch", "transformers"),
    SAM2: ("torch", "sam2"),
    KERAS: ("torch", "keras_hub"),
    TORCH: ("torch",),
    JAX: ("jax",),
    NUMPY: (),
    EXEC: (),
}


@dataclass(frozen=True)
class PortBug:
    name: str
    port: str  # MODULE:ATTR as given to `samspec check`, or --exec=CMD for a program
    profile: str
    sections: tuple = ()
    kind: str = ""
    precision: bool = False
    names: tuple = ()
    what: str = ""
    faithful: bool = False
    two_bugs: bool = False
    extra_args: tuple = field(default_factory=tuple)

    @property
    def module(self) -> str:
        return EXEC if self.port.startswith("--exec") else self.port.split(":")[0]

    @property
    def needs(self) -> tuple:
        return NEEDS[self.module]
