"""Scoring: events per second through POST /api/v1/events in batches of 500, against a bare
INSERT of the same rows in the same run; and a re-score of many leads (time, peak memory)."""

from __future__ import annotations

import argparse
import resource
import time
import uuid

import httpx
from sqlalchemy import insert, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from app.db import Database
from app.models import Event, Lead, StageChange
from app.scoring.jobs import run_rescore, start_rescore
from app.settings import Settings
from app.types import utcnow, uuid7
from bench.common import ADMIN_KEY, Result, fresh_database, markdown_table, postgres_available, print_table, served
from bench.seed import seed


def _events(backend: str, leads: int, batches: int) -> Result:
    with fresh_database(backend) as url, served(url) as base:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        events = [
            {
                "email": f"s{i % leads}@example.com",
                "type": "page_viewed",
                "create_lead": True,
                "properties": {"url": "https://x.com/pricing" if i % 3 == 0 else "https://x.com/blog"},
            }
            for i in range(500)
        ]
        with httpx.Client(timeout=120) as client:
            client.post(f"{base}/api/v1/events", json={"events": events}, headers=headers).raise_for_status()
            started = time.perf_counter()
            for _ in range(batches):
                client.post(f"{base}/api/v1/events", json={"events": events}, headers=headers).raise_for_status()
            ours = batches * 500 / (time.perf_counter() - started)
        db = Database(Settings(database_url=url, secret_key="bench"))
        with db.engine.begin() as conn:
            lead = conn.execute(Lead.__table__.select().limit(1)).first()  # type: ignore[attr-defined]
            rows = [
                {
                    "id": uuid7(),
                    "lead_id": lead.id,
                    "type": "page_viewed",
                    "properties": {"url": "x"},
                    "score_rules": {},
                    "occurred_at": utcnow(),
                    "recorded_at": utcnow(),
                    "engagement_delta": 1,
                    "fit_delta": 0,
                }
                for _ in range(batches * 500)
            ]
            started = time.perf_counter()
            for start in range(0, len(rows), 500):
                conn.execute(insert(Event), rows[start : start + 500])
            bare = len(rows) / (time.perf_counter() - started)
        db.dispose()
    return Result(
        "scoring",
        backend,
        "events/s via API (batches of 500)",
        ours,
        "events/s",
        baseline=bare,
        baseline_name="bare INSERT",
        note="validate + store + score + stages per event",
    )


def _rescore(backend: str, leads: int) -> Result:
    with fresh_database(backend) as url:
        seed(url, leads, events_per_lead=3)
        settings = Settings(database_url=url, secret_key="bench")
        db = Database(settings)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with db.transaction() as session:
            job_id = start_rescore(session).id
            changes_before = _stage_changes(session)
        elapsed, interruptions = _run_resuming(db, settings, job_id)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with db.transaction() as session:
            moved = _stage_changes(session) - changes_before
        db.dispose()
    return Result(
        "rescore",
        backend,
        f"{leads:,} leads",
        leads / elapsed,
        "leads/s",
        note=(
            f"{elapsed:.1f} s; peak RSS {peak:.0f} MiB (+{peak - before:.0f}); {moved:,} stage changes recorded"
            + (f"; resumed after {interruptions} database outage(s)" if interruptions else "")
        ),
    )


def _run_resuming(db: Database, settings: Settings, job_id: uuid.UUID) -> tuple[float, int]:
    """Time spent re-scoring, resuming from the job's cursor when PostgreSQL restarts under us
    (other test runs on this machine restart it); outages are not counted."""
    elapsed, interruptions = 0.0, 0
    while True:
        started = time.perf_counter()
        try:
            run_rescore(db, settings, job_id)
            return elapsed + time.perf_counter() - started, interruptions
        except OperationalError:
            elapsed += time.perf_counter() - started
            interruptions += 1
            _wait_for_database(db)


def _wait_for_database(db: Database) -> None:
    deadline = time.monotonic() + 300
    while True:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _stage_changes(session: Session) -> int:
    """The seed's stages are random, so a re-score moves many leads; each move is history."""
    return session.exec(select(func.count()).select_from(StageChange)).one()


def run(backends: list[str], small: bool, rescore_leads: int | None = None) -> list[Result]:
    results = []
    for backend in backends:
        results.append(_events(backend, 200, 2 if small else 10))
        results.append(_rescore(backend, rescore_leads or (2_000 if small else 100_000)))
    return results


if __name__ == "__main__":  # `python -m bench.bench_scoring [--small] [--rescore-leads N] [--backend ...]`
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--rescore-leads", type=int, help="leads to seed and re-score (default 100,000)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    backends = args.backend or (["sqlite", "postgresql"] if postgres_available() else ["sqlite"])
    results = run(backends, args.small, args.rescore_leads)
    print_table(results)
    print(markdown_table(results))
