"""Capture throughput and latency against a no-op endpoint on the same server (SPEC §8).

wrk (a separate process) posts realistic form submissions at fixed concurrency; the
baseline is the same load to a no-op route with the same middleware stack. Then an
open-loop run at half of the measured capture peak gives the p99 the bar is about.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import (
    ADMIN_KEY,
    Result,
    fresh_database,
    postgres_available,
    print_table,
    run_wrk,
    served,
)
from tests.factories import EBOOK_FORM

WRK = Path(__file__).parent / "wrk"
FORM = EBOOK_FORM | {"slug": "bench-ebook", "allowed_origins": []}


async def _open_loop(url: str, rate: float, seconds: float) -> list[float]:
    """Send at a fixed rate regardless of answers (no coordinated omission); latencies in ms."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def one(i: int) -> None:
            started = time.perf_counter()
            body = {"email": f"openloop{i}-{time.time_ns()}@example-corp.com", "first_name": "Ana"}
            response = await client.post(url, json=body)
            if response.status_code < 400:
                latencies.append((time.perf_counter() - started) * 1000)

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return latencies


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def run_backend(backend: str, *, seconds: int, connections: int) -> list[Result]:
    with fresh_database(backend) as url, served(url) as base:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        httpx.post(f"{base}/api/v1/forms", json=FORM, headers=headers).raise_for_status()
        capture_url = f"{base}/api/v1/forms/bench-ebook/submissions"
        run_wrk(capture_url, WRK / "capture.lua", seconds=1, connections=connections)  # warm-up
        noop = run_wrk(f"{base}/bench/noop", WRK / "noop.lua", seconds=seconds, connections=connections)
        capture = run_wrk(capture_url, WRK / "capture.lua", seconds=seconds, connections=connections)
        # Open-loop generator in its own process so its CPU is not the server's.
        half = capture.requests_per_second / 2
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bench_capture",
                "--open-loop",
                capture_url,
                "--rate",
                str(half),
                "--seconds",
                str(seconds),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        p50_half, p99_half = float(out[0]), float(out[1])
    note = f"{connections} connections, 1 uvicorn worker; errors noop={noop.errors} capture={capture.errors}"
    return [
        Result(
            "capture",
            backend,
            "throughput",
            capture.requests_per_second,
            "req/s",
            baseline=noop.requests_per_second,
            baseline_name="no-op endpoint",
            note=note,
        ),
        Result(
            "capture",
            backend,
            "p50 latency at peak",
            capture.p50_ms,
            "ms",
            baseline=noop.p50_ms,
            baseline_name="no-op",
            higher_is_better=False,
        ),
        Result(
            "capture",
            backend,
            "p99 latency at peak",
            capture.p99_ms,
            "ms",
            baseline=noop.p99_ms,
            baseline_name="no-op",
            higher_is_better=False,
        ),
        Result(
            "capture",
            backend,
            "p50 latency at half peak",
            p50_half,
            "ms",
            higher_is_better=False,
            note=f"open loop at {half:.0f} req/s",
        ),
        Result(
            "capture",
            backend,
            "p99 latency at half peak",
            p99_half,
            "ms",
            higher_is_better=False,
            note="target < 50 ms on PostgreSQL",
        ),
    ]


def run(backends: list[str], small: bool) -> list[Result]:
    seconds, connections = (2, 8) if small else (10, 32)
    return [r for b in backends for r in run_backend(b, seconds=seconds, connections=connections)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--open-loop")
    parser.add_argument("--rate", type=float)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args(argv)
    if args.open_loop:
        latencies = asyncio.run(_open_loop(args.open_loop, args.rate, args.seconds))
        print(f"{statistics.median(latencies):.3f} {_percentile(latencies, 99):.3f}")
        return
    backends = ["sqlite", "postgresql"] if postgres_available() else ["sqlite"]
    print_table(run(backends, args.small))


if __name__ == "__main__":
    main()
