"""Memory while streaming the lead CSV export: peak RSS at two database sizes (flat is good)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.common import Result, fresh_database
from bench.seed import seed

# Run in a fresh interpreter so its peak RSS is the export's alone.
MEASURE = """
import json, resource, sys, time
from app.db import Database
from app.privacy.csv_export import stream_leads_csv
from app.settings import Settings
db = Database(Settings(database_url=sys.argv[1], secret_key="bench"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
size = sum(len(chunk) for chunk in stream_leads_csv(db))
print(json.dumps({"seconds": time.perf_counter() - started, "bytes": size,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "before_mib": before / 1024}))
"""


def _measure(backend: str, leads: int) -> dict[str, float]:
    with fresh_database(backend) as url:
        seed(url, leads, events_per_lead=0)
        output = subprocess.run([sys.executable, "-c", MEASURE, url], capture_output=True, text=True, check=True)
    measured: dict[str, float] = json.loads(output.stdout.strip().splitlines()[-1])
    return measured


def run(backends: list[str], small: bool) -> list[Result]:
    sizes = (1_000, 20_000) if small else (10_000, 1_000_000)
    results = []
    for backend in backends:
        if backend == "sqlite" and not small:
            continue  # the 1M-lead SQLite seed takes minutes; the shape is the same
        base, big = _measure(backend, sizes[0]), _measure(backend, sizes[1])
        results.append(
            Result(
                "csv export",
                backend,
                f"peak RSS streaming {sizes[1]:,} leads",
                big["peak_mib"],
                "MiB",
                baseline=base["peak_mib"],
                baseline_name=f"{sizes[0]:,} leads",
                higher_is_better=False,
                note=f"{big['bytes'] / 1e6:.0f} MB in {big['seconds']:.1f} s",
            )
        )
    return results


if __name__ == "__main__":
    from bench.common import print_table

    started = time.perf_counter()
    print_table(run(["sqlite", "postgresql"], "--small" in sys.argv))
