"""Command line of the benchmarks: ``python -m bench NAME [--sizes 10k,100k,1M] [--repeat N]``.

``NAME`` is one of ``BENCHMARKS`` (``python -m bench --help`` lists them). Each benchmark
prints a table (median times, ratios, targets, pass/fail) and writes the same rows as JSON to
``bench/results/`` (git-ignored). The exit status is 1 when a target applicable at the chosen
sizes is missed or an answer is wrong.

A benchmark module offers ``run(sizes, *, repeat, seed) -> (rows, json_path)`` and may set
``DEFAULT_SIZES`` (a string like ``"10k,100k"``) and ``DEFAULT_SEED``; register it in
``BENCHMARKS``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bench._report import Row

BENCHMARKS = {
    "network": ("bench.network", "the array core against networkx"),
    "boundary": ("bench.boundary", "cross-boundary analyses against geopandas.overlay"),
    "maps": ("bench.maps", "explore() HTML size and build time against folium.GeoJson"),
    "coverage": ("bench.coverage", "full-coverage audit against a geopandas per-level overlay"),
    "tiles": ("bench.tiles", "MVT encoder against mapbox-vector-tile; cached tiles under wrk"),
    "server": ("bench.server", "OGC API items latency; GeoJSON against GeoDataFrame.to_json()"),
    "load": ("bench.load", "rivernet serve under 64 clients: cheap routes stay fast"),
    "national": ("bench.national", "a million reaches end to end: start, tiles, memory, pipeline"),
    "scale": ("bench.scale", "core, accumulations and pieces at 1M and 3M reaches, per reach"),
    "edits": ("bench.edits", "8 writers x 50 appointments on PostGIS, --workers 4, 32 readers"),
}
DEFAULT_SIZES = "10k,100k,1M"


def parse_sizes(text: str) -> list[int]:
    """``"10k,100k,1M"`` -> ``[10000, 100000, 1000000]``."""
    scales = {"k": 1_000, "m": 1_000_000}
    sizes = []
    for part in text.split(","):
        token = part.strip().lower().replace("_", "")
        scale = scales.get(token[-1:], 1)
        number = token[:-1] if token[-1:] in scales else token
        try:
            sizes.append(round(float(number) * scale))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad size {part!r}: use numbers like 10000, 10k or 1M, separated by commas"
            ) from None
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="benchmark", required=True)
    for name, (_, summary) in BENCHMARKS.items():
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument(
            "--sizes",
            type=parse_sizes,
            default=None,
            help="numbers of reaches, comma separated, like 10k,100k,1M (default: the "
            f"benchmark's DEFAULT_SIZES, else {DEFAULT_SIZES})",
        )
        command.add_argument("--repeat", type=int, default=3, help="timed runs (default 3)")
        command.add_argument("--seed", type=int, default=None,
                             help="seed of the synthetic data (default: the benchmark's "
                             "DEFAULT_SEED, else 0)")  # fmt: skip
        command.add_argument("--quiet", action="store_true", help="no progress messages")
        if name == "load":
            command.add_argument(
                "--duration",
                type=float,
                default=60.0,
                help="seconds of load (default 60; shorter for a smoke run)",
            )
            command.add_argument("--clients", type=int, default=64,
                                 help="concurrent clients (default 64)")  # fmt: skip
        if name == "national":
            command.add_argument("--quick", action="store_true",
                                 help="z0-z6 and 100 random tiles, export z0-z8")  # fmt: skip
            command.add_argument("--cache", type=Path, default=None,
                                 help="folder of the national project file (default "
                                 "$RIVERNET_BENCH_CACHE or ~/.cache/rivernet-bench)")  # fmt: skip
        if name == "edits":
            command.add_argument("--writers", type=int, default=8, help="writers (default 8)")
            command.add_argument("--appointments", type=int, default=50,
                                 help="appointments per writer (default 50)")  # fmt: skip
            command.add_argument("--readers", type=int, default=32, help="readers (default 32)")
            command.add_argument("--workers", type=int, default=4,
                                 help="server worker processes (default 4)")  # fmt: skip
        if name == "scale":
            command.add_argument("--partitioned", action="store_true",
                                 help="also run pieces partitioned by basin with dask-geopandas "
                                 "(the [scale] extra) and check they are identical")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmark; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
    )
    module = importlib.import_module(BENCHMARKS[args.benchmark][0])
    sizes = args.sizes or parse_sizes(getattr(module, "DEFAULT_SIZES", DEFAULT_SIZES))
    extra: dict[str, object] = {}
    if args.benchmark == "load":
        extra = {"duration": args.duration, "clients": args.clients}
    elif args.benchmark == "national":
        extra = {"quick": args.quick, "cache": args.cache}
    elif args.benchmark == "edits":
        extra = {"writers": args.writers, "appointments": args.appointments,
                 "readers": args.readers, "workers": args.workers}  # fmt: skip
    elif args.benchmark == "scale":
        extra = {"partitioned": args.partitioned}
    seed = args.seed if args.seed is not None else getattr(module, "DEFAULT_SEED", 0)
    rows, _ = module.run(sizes, repeat=args.repeat, seed=seed, **extra)
    return 0 if all_met(rows) else 1


def all_met(rows: list[Row]) -> bool:
    """Whether no row failed its target or gave a wrong answer."""
    return all(row.result in ("pass", "info") for row in rows)


if __name__ == "__main__":
    sys.exit(main())
