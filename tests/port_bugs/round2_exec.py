"""A SAM prompt-encoder port run as a program, the way a port in another language is checked
(docs/other-languages.md): it reads the fixtures' manifest.json and .npy inputs itself, computes
every case, and writes OUT/<case id>/<output key>.npy. Written from docs/spec.md, self-contained
(NumPy only, no samspec import), like a C or JavaScript port would be.

    python round2_exec.py BUG FIXTURES OUT      # BUG: faithful, or one of BUGS below
    samspec check --exec "python tests/port_bugs/round2_exec.py faithful {fixtures} {out}"

Each BUG is one mistake a port in another language makes (a naive .npy reader, a writer that
widens, a JavaScript erf, a typed constant, a buffer written in the wrong order, a C switch that
falls through, a cache keyed by too little, an empty prompt made zero points).
"""

from __future__ import annotations

import ast
import json
import math
import sys
from pathlib import Path

import numpy as np

BUGS = (
    "faithful",
    "raw_f8_reader",
    "f32_written_as_f8",
    "js_erf",
    "two_pi_digits",
    "grid_nhwc_buffer",
    "case0_fallthrough",
    "grid_cache_by_size",
    "empty_prompt_padded",
)
FLOAT64_BUGS = ("js_erf", "two_pi_digits")  # ports that compute in double, as JavaScript does


def read_npy(path: Path, bug: str) -> np.ndarray:
    """A hand-written .npy reader: the 10-byte preamble (v1), the header dict, then the data."""
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[8:10], "little")
    header = ast.literal_eval(raw[10 : 10 + header_len].decode("latin1"))
    data, shape = raw[10 + header_len :], tuple(header["shape"])
    descr = header["descr"]
    if bug == "raw_f8_reader" and not path.name.startswith("input.labels"):
        # the reader knows labels are integers and reads everything else as doubles: n·8 bytes, a short read
        # leaves zeros
        count = int(np.prod(shape))
        data = data[: 8 * count].ljust(8 * count, b"\0")
        descr = "<f8"
    return np.frombuffer(data, dtype=np.dtype(descr)).reshape(shape)


def write_npy(path: Path, array: np.ndarray, shape=None) -> None:
    """Write C-order data under a v1 header (``shape`` given: the header's shape, the buffer as is)."""
    array = np.ascontiguousarray(array)
    shape = tuple(array.shape if shape is None else shape)
    header = f"{{'descr': '{array.dtype.str}', 'fortran_order': False, 'shape': {shape!r}, }}"
    header = header.ljust(64 * ((len(header) + 11) // 64 + 1) - 11) + "\n"
    path.write_bytes(
        b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + array.tobytes()
    )


def erf_js(x):
    """Abramowitz & Stegun 7.1.26, the erf of many JavaScript ports (|error| ≤ 1.5e-7)."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


class Encoder:
    def __init__(self, config: dict, params: dict, bug: str, dtype):
        self.bug, self.dt = bug, dtype
        self.c = config["hidden_size"]
        self.h, self.w = config["image_embedding_size"]
        self.image_h, self.image_w = config["input_image_size"]
        self.p = {k: v.astype(dtype) for k, v in params.items()}
        self.two_pi = dtype(6.2831853) if bug == "two_pi_digits" else dtype(2 * math.pi)

    def fourier(self, unit):
        g = self.p["pe_layer.positional_encoding_gaussian_matrix"]
        angle = self.two_pi * ((self.dt(2) * unit - self.dt(1)) @ g)
        return np.concatenate([np.sin(angle), np.cos(angle)], axis=-1)

    def unit(self, xy):
        return (xy + self.dt(0.5)) / np.array([self.image_w, self.image_h], dtype=self.dt)

    def label_token(self, pe, label):
        row = lambda i: self.p[f"point_embeddings.{i}.weight"][0]  # noqa: E731
        if label == -1:
            return self.p["not_a_point_embed.weight"][0].copy()
        token = pe.copy()
        # switch (label) { case 0: token += bg; [break;] case 1: token += fg; break; }
        if label == 0:
            token += row(0)
            if self.bug != "case0_fallthrough":
                return token
        if label in (0, 1):
            token += row(1)
        return token  # labels 2 and 3: PE only

    def points(self, points, labels, pad):
        b, n = labels.shape
        pe = self.fourier(self.unit(points.astype(self.dt)))
        out = np.zeros((b, n + pad, self.c), self.dt)
        for i in range(b):
            for j in range(n):
                out[i, j] = self.label_token(pe[i, j], int(labels[i, j]))
            if pad:
                out[i, n] = self.p["not_a_point_embed.weight"][0]
        return out

    def boxes(self, boxes):
        b = boxes.shape[0]
        pe = self.fourier(self.unit(boxes.astype(self.dt).reshape(b, -1, 2, 2)))
        pe[:, :, 0] += self.p["point_embeddings.2.weight"][0]
        pe[:, :, 1] += self.p["point_embeddings.3.weight"][0]
        return pe.reshape(b, -1, self.c)

    def grid(self):
        """(h, w, C)."""
        x = (np.arange(self.w, dtype=self.dt) + self.dt(0.5)) / self.dt(self.w)
        y = (np.arange(self.h, dtype=self.dt) + self.dt(0.5)) / self.dt(self.h)
        unit = np.stack(
            [np.broadcast_to(x[None, :], (self.h, self.w)), np.broadcast_to(y[:, None], (self.h, self.w))], -1
        )
        return self.fourier(unit)

    def conv(self, x, index, k):
        weight, bias = self.p[f"mask_downscaling.{index}.weight"], self.p[f"mask_downscaling.{index}.bias"]
        b, hh, ww, cin = x.shape
        windows = x.reshape(b, hh // k, k, ww // k, k, cin).transpose(0, 1, 3, 2, 4, 5).reshape(b, hh // k, ww // k, -1)
        return windows @ weight.transpose(2, 3, 1, 0).reshape(-1, weight.shape[0]) + bias

    def norm(self, x, index):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        y = (x - mean) / np.sqrt(var + self.dt(1e-6))
        return y * self.p[f"mask_downscaling.{index}.weight"] + self.p[f"mask_downscaling.{index}.bias"]

    def gelu(self, x):
        if self.bug == "js_erf":
            return 0.5 * x * (1.0 + erf_js(x / math.sqrt(2.0)))
        from scipy.special import erf

        return self.dt(0.5) * x * (self.dt(1) + erf(x / self.dt(math.sqrt(2.0))).astype(self.dt))

    def dense(self, masks):
        x = masks.astype(self.dt).transpose(0, 2, 3, 1)
        x = self.gelu(self.norm(self.conv(x, 0, 2), 1))
        x = self.gelu(self.norm(self.conv(x, 3, 2), 4))
        return self.conv(x, 6, 1).transpose(0, 3, 1, 2)


def run_case(case, fixtures: Path, bug: str, grid_cache: dict) -> dict:
    dt = np.float64 if bug in FLOAT64_BUGS else np.float32
    manifest_params = case["_params"]
    params = {k: read_npy(fixtures / f, bug) for k, f in manifest_params["files"].items()}
    enc = Encoder(case["config"], params, bug, dt)
    inputs = {k: read_npy(fixtures / f, bug) for k, f in case["inputs"].items()}
    points, labels, boxes, masks = (inputs.get(k) for k in ("points", "labels", "boxes", "masks"))
    batch = next((x.shape[0] for x in (points, boxes, masks) if x is not None), 1)
    parts = []
    if points is not None:
        parts.append(enc.points(points, labels, pad=boxes is None))
    if boxes is not None:
        parts.append(enc.boxes(boxes))
    if not parts and bug == "empty_prompt_padded":  # "no prompt" made zero points, which the padding rule pads
        parts.append(enc.points(np.zeros((batch, 0, 2)), np.zeros((batch, 0), np.int64), pad=True))
    sparse = np.concatenate(parts, axis=1) if parts else np.zeros((batch, 0, enc.c), dt)
    if masks is not None:
        dense = enc.dense(masks)
    else:
        dense = np.broadcast_to(enc.p["no_mask_embed.weight"][0][None, :, None, None], (batch, enc.c, enc.h, enc.w))
    key = (enc.h, enc.w) if bug == "grid_cache_by_size" else (case["config_name"], case["params"])
    if key not in grid_cache:
        grid_cache[key] = enc.grid()
    grid = grid_cache[key]
    return {"prompt_sparse_embeddings": sparse, "prompt_dense_embeddings": dense, "grid": grid}


def main(argv) -> int:
    bug, fixtures, out = argv[1], Path(argv[2]), Path(argv[3])
    if bug not in BUGS:
        print(f"unknown BUG {bug!r}: expected one of {', '.join(BUGS)}", file=sys.stderr)
        return 2
    manifest = json.loads((fixtures / "manifest.json").read_text(encoding="utf-8"))
    grid_cache: dict = {}
    for case in manifest["cases"]:
        case["_params"] = manifest["params"][case["params"]]
        try:
            outputs = run_case(case, fixtures, bug, grid_cache)
        except (ValueError, IndexError) as error:  # a case this port cannot run: no files, an error verdict
            print(f"{case['id']}: {error}", file=sys.stderr)
            continue
        folder = out / case["id"]
        folder.mkdir(parents=True, exist_ok=True)
        wide = np.float64 if bug == "f32_written_as_f8" else None
        for key in ("prompt_sparse_embeddings", "prompt_dense_embeddings"):
            value = outputs[key] if wide is None else outputs[key].astype(wide)
            write_npy(folder / f"{key}.npy", value)
        grid = outputs["grid"] if wide is None else outputs["grid"].astype(wide)
        nchw = grid.transpose(2, 0, 1)[None]
        if bug == "grid_nhwc_buffer":  # the (h, w, C) buffer written under the (1, C, h, w) header
            write_npy(folder / "prompt_dense_positional_embeddings.npy", grid, shape=nchw.shape)
        else:
            write_npy(folder / "prompt_dense_positional_embeddings.npy", nchw)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
