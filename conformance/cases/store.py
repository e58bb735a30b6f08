"""Golden fixtures: generate, load and verify (docs/fixtures.md). The names of the module this
package's store grew from, re-exported for old imports (``samspec.conformance.fixtures`` is this
module); each lives in the module of its concern:

- ``npy``: arrays on disk (encoding, checked decoding);
- ``folder``: folder safety (paths inside the folder, no symlink followed, size limits);
- ``manifest``: the manifest's schema and its checks;
- ``load``: the cases, recomputed by the float64 reference;
- ``verify``: a whole set checked;
- ``generate``: the catalogue written as a fixture set.

A fixture set is a folder with ``manifest.json`` and little-endian ``.npy`` files. The manifest
names every file with its sha256; inputs follow the `sam` profile; expected values are float64
from the reference. An array that is constant along some axes (the no-mask dense embedding) is
stored reduced, with the full ``shape`` to broadcast it back to.

A fixture set is data from outside: nothing in it is trusted. Reading one
- checks the manifest's structure and every path in it (relative, normalised, inside the folder)
  before any file is opened, and never follows a symlink: a problem there is a ``FixtureError``;
- checks each file's sha256 and ``.npy`` header (dtype, C order, shape, size) before building the
  array, refuses NaN/inf in expected values and stages, and recomputes every case with the float64
  reference: a stored value that disagrees beyond ``TOLERANCE`` of scale, or an input the reference
  refuses, makes that case's ``fixture_error`` (the other cases still load).
"""

from __future__ import annotations

from .errors import FixtureError
from .folder import MAX_FILE_BYTES, check_entry, default_dir, manifest_sha256
from .generate import (
    MANAGED,
    STAGE_LIMIT_BYTES,
    check_output_folder,
    expected_trace,
    generate,
    is_source_checkout,
    samspec_version,
)
from .load import INPUT_DTYPES, TOLERANCE, FixtureCase, load_cases
from .manifest import CASE_ID, INPUT_KEYS, SCHEMA_VERSION, read_manifest
from .npy import INTEGER_DTYPES, compact, npy_bytes
from .verify import verify

__all__ = [
    "CASE_ID",
    "INPUT_DTYPES",
    "INPUT_KEYS",
    "INTEGER_DTYPES",
    "MANAGED",
    "MAX_FILE_BYTES",
    "SCHEMA_VERSION",
    "STAGE_LIMIT_BYTES",
    "TOLERANCE",
    "FixtureCase",
    "FixtureError",
    "check_entry",
    "check_output_folder",
    "compact",
    "default_dir",
    "expected_trace",
    "generate",
    "is_source_checkout",
    "load_cases",
    "manifest_sha256",
    "npy_bytes",
    "read_manifest",
    "samspec_version",
    "verify",
]
