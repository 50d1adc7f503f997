"""`python -m bench [--small] [--only NAME ...]`: every benchmark, one table of ratios.

Each benchmark module exposes `run(backends, small) -> list[Result]` and measures its own
baseline in the same run (machines here are noisy: ratios are what we track). Results go
to bench/results/ as JSON and as a Markdown table to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import time

from bench.common import Result, markdown_table, postgres_available, print_table, write_results

BENCHMARKS = [
    "bench_capture",
    "bench_scoring",
    "bench_dispatch",
    "bench_webhooks",
    "bench_analytics",
    "bench_export",
    "bench_memory",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="tiny sizes: a smoke run for CI")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=BENCHMARKS)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite"] if args.sqlite_only or not postgres_available() else ["sqlite", "postgresql"]
    results: list[Result] = []
    started = time.perf_counter()
    for name in args.only:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name} ({', '.join(backends)})", flush=True)
        found = module.run(backends, args.small)
        print_table(found)  # as it goes: a later failure must not lose these
        results.extend(found)
    print()
    print_table(results)
    path = write_results(results, "small" if args.small else "full")
    print(
        f"\n{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"{time.perf_counter() - started:.0f} s; results in {path}"
    )
    if not args.small:
        print("\nMarkdown for docs/benchmarks.md:\n")
        print(markdown_table(results))


if __name__ == "__main__":
    main()
