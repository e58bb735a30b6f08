"""`samspec bench`'s command line: the options, their validation, and the choice between the CPU
bench (bench.cpu) and the GPU bench (bench.gpu)."""

from __future__ import annotations

from . import cpu, gpu
from .workloads import WORKLOADS


def add_arguments(parser) -> None:
    parser.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    parser.add_argument("--repeat", type=int, default=7, metavar="N", help="best of N timed calls (default 7)")
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), metavar="W1,W2,...", help="which workloads (default all)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="T",
        help="threads for NumPy's BLAS and torch (default: NumPy's BLAS thread count)",
    )
    parser.add_argument(
        "--allocator",
        choices=["default", "steady", "both"],
        default="both",
        help="glibc malloc settings to measure under (default both)",
    )
    parser.add_argument("--chunk", type=int, default=65536, metavar="POINTS", help="W4 chunk size, a multiple of 1024")
    parser.add_argument(
        "--no-suite", action="store_true", help="skip the whole-suite budgets (samspec check / fixtures generate)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed, not only when a check fails"
    )
    parser.add_argument(
        "--gpu",
        action="store_true",
        help="on the GPU instead: the reference on CuPy against Meta's PromptEncoder on torch CUDA "
        "(exit 2 when no GPU is usable)",
    )


def run(args) -> int:
    """Validate the options, then run the CPU bench or, with ``--gpu``, the GPU bench."""
    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        raise ValueError(f"--workloads: expected names among {list(WORKLOADS)}; received {unknown}")
    if args.repeat < 1:
        raise ValueError(f"--repeat: expected a positive int; received {args.repeat}")
    if args.chunk <= 0 or args.chunk % 1024:
        raise ValueError(f"--chunk: expected a positive multiple of 1024 (whole image rows); received {args.chunk}")
    if args.gpu:
        if args.allocator != "both" or args.threads is not None:
            raise ValueError(
                f"--allocator, --threads: settings of the CPU bench, which --gpu does not run; received "
                f"--gpu with --allocator {args.allocator} and --threads {args.threads}"
            )

        return gpu.run(args, workloads)
    return cpu.run(args, workloads)
