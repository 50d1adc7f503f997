"""Analytics and the lead list on big databases: time per query on 10k, 100k and 1M leads
with the smallest as the baseline, on PostgreSQL (SQLite and the smoke run: 1k and 10k)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from app.analytics import queries
from app.analytics.queries import Scope
from app.db import Database
from app.leads.service import LeadFilter, list_leads
from app.settings import Settings
from app.types import utcnow
from bench.common import Result, fresh_database, postgres_available, print_table
from bench.seed import seed

QUESTIONS: dict[str, Callable[[Session, Scope], Any]] = {
    "funnel": queries.funnel,
    "cohorts": queries.cohorts,
    "velocity": queries.velocity,
    "sequences": queries.sequences,
    "forms": queries.forms,
    "lead list (bofu, page 1)": lambda s, _: list_leads(s, LeadFilter(funnel_stage="bofu"), 50, None),
}


def _timings(backend: str, leads: int) -> tuple[dict[str, float], float]:
    with fresh_database(backend) as url:
        seeded = seed(url, leads, events_per_lead=10)
        db = Database(Settings(database_url=url, secret_key="bench"))
        scope = Scope(utcnow() - timedelta(days=91), utcnow() + timedelta(days=1))
        timings = {}
        for name, question in QUESTIONS.items():
            with db.transaction() as session:
                question(session, scope)  # warm the caches once, as a dashboard in use would
                started = time.perf_counter()
                question(session, scope)
                timings[name] = time.perf_counter() - started
        db.dispose()
    return timings, seeded


def run(backends: list[str], small: bool) -> list[Result]:
    results = []
    for backend in backends:
        sizes = (1_000, 10_000) if small or backend == "sqlite" else (10_000, 100_000, 1_000_000)
        base, _ = _timings(backend, sizes[0])
        for size in sizes[1:]:
            timed, seconds = _timings(backend, size)
            results.extend(
                Result(
                    "analytics",
                    backend,
                    f"{name} @ {size:,} leads",
                    timed[name] * 1000,
                    "ms",
                    baseline=base[name] * 1000,
                    baseline_name=f"{sizes[0]:,} leads",
                    higher_is_better=False,
                    note=f"seeded {size * 10:,} events in {seconds:.0f} s",
                )
                for name in QUESTIONS
            )
    return results


if __name__ == "__main__":  # `python -m bench.bench_analytics [--small]`: this benchmark alone
    print_table(run(["sqlite", "postgresql"] if postgres_available() else ["sqlite"], small="--small" in sys.argv))
