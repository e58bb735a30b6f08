"""`samspec explain`: walk one prompt through the reference, stage by stage (spec §3–§11)."""

from __future__ import annotations

import json
import sys

import numpy as np

from samspec.reference import SAMPromptEncoder, init_params, registry

SUMMARY_LIMIT = 256  # arrays with more values are summarised in the JSON trace unless --full

STAGES = registry.trace_sections()  # trace entry -> (its §, one line of meaning)


def _pairs(text: str, size: int, name: str) -> list:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{name}: expected {size} comma-separated numbers; received {text!r}") from None
    if len(values) != size:
        raise ValueError(f"{name}: expected {size} comma-separated numbers; received {text!r}")
    return values


def build_prompt(args, config) -> dict:
    """The CLI's prompt, as arrays in the `sam` profile's layout with batch 1."""
    prompt = {}
    if args.points:
        points = [_pairs(p, 2, "--points") for p in args.points]
        if args.labels is None:
            raise ValueError(
                f"--points: expected --labels as well, one per point (1 foreground, 0 background, "
                f"-1 not a point, 2/3 box corners); received {len(points)} point(s) and no --labels"
            )
        labels = args.labels
        if len(labels) != len(points):
            raise ValueError(f"--labels: expected one label per point ({len(points)}); received {len(labels)}")
        prompt["points"] = np.array([points], dtype=np.float64)
        prompt["labels"] = np.array([labels], dtype=np.int64)
    elif args.labels:
        raise ValueError("--labels: expected --points as well; received labels alone")
    if args.box:
        prompt["boxes"] = np.array([_pairs(args.box, 4, "--box")], dtype=np.float64)
    if args.mask:
        mask = np.load(args.mask, allow_pickle=False)
        prompt["masks"] = mask.reshape((1, 1) + mask.shape[-2:]) if mask.ndim == 2 else mask
    elif args.demo_mask:
        h, w = config["image_embedding_size"]
        yy, xx = np.mgrid[0 : 4 * h, 0 : 4 * w]
        inside = (yy - 2 * h) ** 2 / (1.5 * h) ** 2 + (xx - 2 * w) ** 2 / (1.5 * w) ** 2 <= 1
        prompt["masks"] = np.where(inside, 8.0, -8.0)[None, None]
    return prompt


def _summary(value, count: int) -> str:
    array = np.asarray(value)
    if array.size == 0:
        return "(empty)"
    flat = array.reshape(-1)[:count]
    head = ", ".join(f"{v:.6g}" for v in flat.tolist())
    more = ", ..." if array.size > count else ""
    return f"[{head}{more}]  min {array.min():.4g}  max {array.max():.4g}"


def explain(args) -> int:
    config = dict(
        hidden_size=args.hidden_size,
        image_embedding_size=tuple(args.image_embedding_size),
        input_image_size=tuple(args.input_image_size),
        mask_in_channels=args.mask_in_channels,
        activation=args.activation,
    )
    params = init_params(args.hidden_size, args.mask_in_channels, seed=args.seed)
    encoder = SAMPromptEncoder(**config, params=params, dtype=args.dtype, profile="sam")
    prompt = build_prompt(args, config)
    trace = encoder.trace(**prompt)

    out = sys.stderr if args.json == "-" else sys.stdout  # `--json -`: stdout holds the JSON alone
    print(
        f"samspec explain: {encoder!r}, params from init_params(seed={args.seed}); every stage of the teaching "
        f"composition, SAMPromptEncoder.compose (reference/encoder.py), in order",
        file=out,
    )
    for name, value in prompt.items():
        print(f"  input {name:<8} shape {tuple(value.shape)}  {_summary(value, args.values)}", file=out)
    print(file=out)
    for name, value in trace.items():
        section, meaning = STAGES.get(name, ("", ""))
        shape = tuple(np.asarray(value).shape)
        print(f"{section:>7}  {name:<36} {str(shape):<20} {meaning}", file=out)
        print(f"{'':>9}{_summary(value, args.values)}", file=out)
    if args.json:
        document = trace_document(encoder, args.seed, prompt, trace, full=args.full)
        if args.json == "-":
            json.dump(document, sys.stdout)
            sys.stdout.write("\n")
        else:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump(document, handle)
            print(f"\n{'full ' if args.full else ''}trace written to {args.json}", file=out)
    return 0


def array_entry(value, full: bool) -> dict:
    """One array of the JSON trace: every value when it is small or ``full``, else its shape, dtype
    and a summary (the first values, min, max, mean, max |value|) that keeps the file small."""
    array = np.asarray(value)
    entry = {"shape": list(array.shape), "dtype": str(array.dtype)}
    if full or array.size <= SUMMARY_LIMIT:
        entry["values"] = array.tolist()
    else:
        flat = array.reshape(-1).astype(np.float64)
        entry["summary"] = {
            "first": flat[:8].tolist(),
            "min": float(flat.min()),
            "max": float(flat.max()),
            "mean": float(flat.mean()),
            "max_abs": float(np.abs(flat).max()),
            "omitted": int(array.size - 8),
            "all_values": "rerun with --full",
        }
    return entry


def trace_document(encoder, seed, prompt, trace, full=False) -> dict:
    """The trace as JSON: arrays over SUMMARY_LIMIT values are summarised unless ``full``."""
    return {
        "config": encoder.config(),
        "params_seed": seed,
        "full": bool(full),
        "inputs": {k: array_entry(v, full) for k, v in prompt.items()},
        "stages": [
            dict(name=name, section=STAGES.get(name, ("", ""))[0], **array_entry(value, full))
            for name, value in trace.items()
        ],
    }


def add_arguments(parser) -> None:
    def size_pair(text):
        values = [int(v) for v in text.replace("x", ",").split(",")]
        if len(values) != 2:
            raise ValueError(text)
        return values

    parser.add_argument(
        "--points",
        nargs="+",
        metavar="X,Y",
        help="point prompts in pixels, e.g. --points 500,375 200,100 (with --labels)",
    )
    parser.add_argument(
        "--labels",
        nargs="+",
        type=int,
        metavar="L",
        help="one label per point: 1 fg, 0 bg, -1 not-a-point, 2/3 corners",
    )
    parser.add_argument("--box", metavar="X1,Y1,X2,Y2", help="one box prompt in pixels")
    parser.add_argument("--mask", metavar="FILE.npy", help="a mask of logits, (4h, 4w) or (1, 1, 4h, 4w)")
    parser.add_argument("--demo-mask", action="store_true", help="use an ellipse as the mask prompt")
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--image-embedding-size", type=size_pair, default=[64, 64], metavar="H,W")
    parser.add_argument("--input-image-size", type=size_pair, default=[1024, 1024], metavar="H,W")
    parser.add_argument("--mask-in-channels", type=int, default=16)
    parser.add_argument("--activation", default="gelu")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32", "float16"])
    parser.add_argument("--seed", type=int, default=0, help="seed of init_params")
    parser.add_argument("--values", type=int, default=4, help="how many values to print per stage")
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="write the trace as JSON to FILE ('-': stdout, the text "
        f"going to stderr); arrays over {SUMMARY_LIMIT} values are summarised unless --full",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="with --json: every value of every array (large: ~100 MB for the default configuration with a mask)",
    )
