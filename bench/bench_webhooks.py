"""Webhook delivery: deliveries per second through the outbox worker (claim, sign, POST,
record) to a local receiver, against a bare httpx client posting the same bodies to the
same receiver with the same parallelism, in the same run.

`python -m bench.bench_webhooks [--small]` runs this benchmark alone."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlmodel import select

from app.db import Database
from app.handoff.delivery import PARALLEL_SENDS, deliver_due
from app.handoff.outbox import queue_webhook
from app.handoff.signing import new_secret
from app.models import WebhookDelivery, WebhookEndpoint
from app.settings import Settings
from bench.common import Result, free_port, fresh_database, postgres_available, print_table
from tests.integration.receiver import Receiver


def _lead(i: int) -> dict[str, object]:
    """About the size of a real lead.mql body (lead, reason, score, recent events, links)."""
    return {
        "lead": {"id": f"lead-{i}", "email": f"l{i}@example.com", "first_name": "Ana", "company": "Acme"},
        "reason": "engagement 66.0 ≥ 50 and fit 35.0 ≥ 30",
        "score": {"engagement": 66.0, "fit": 35.0, "funnel_stage": "bofu"},
        "recent_events": [{"type": "page_viewed", "properties": {"url": "/pricing"}}] * 5,
        "links": {"lead": f"http://127.0.0.1/ui/leads/{i}"},
    }


def _ours(db: Database, settings: Settings, count: int) -> tuple[float, int, list[bytes]]:
    with db.transaction() as session:
        for i in range(count):
            queue_webhook(session, "lead.mql", None, _lead(i))
    with db.transaction() as session:
        bodies = [
            json.dumps(d.payload, separators=(",", ":"), default=str).encode()
            for d in session.exec(select(WebhookDelivery)).all()
        ]
    started = time.perf_counter()
    delivered = 0
    while delivered < count:
        report = deliver_due(db, settings)
        if report.delivered == 0:
            break
        delivered += report.delivered
    return time.perf_counter() - started, delivered, bodies


def _bare(url: str, bodies: list[bytes]) -> float:
    headers = {"content-type": "application/json", "webhook-id": "msg_bare"}
    started = time.perf_counter()
    with httpx.Client() as client, ThreadPoolExecutor(max_workers=PARALLEL_SENDS) as pool:
        list(pool.map(lambda body: client.post(url, content=body, headers=headers).raise_for_status(), bodies))
    return time.perf_counter() - started


def _one(backend: str, count: int) -> Result:
    receiver = Receiver(free_port()).start()  # no secrets: the receiver does the same work for both
    try:
        with fresh_database(backend) as url:
            settings = Settings(database_url=url, secret_key="bench")
            db = Database(settings)
            with db.transaction() as session:
                session.add(WebhookEndpoint(url=receiver.url, events=["*"], secret=new_secret()))
            ours, delivered, bodies = _ours(db, settings, count)
            db.dispose()
        bare = _bare(receiver.url, bodies)
    finally:
        receiver.stop()
    assert delivered == count, f"delivered {delivered} of {count}"
    return Result(
        "webhooks",
        backend,
        f"deliveries/s ({count})",
        delivered / ours,
        "req/s",
        baseline=count / bare,
        baseline_name=f"bare httpx, same bodies, {PARALLEL_SENDS} threads",
        note="claim + sign + POST + record, batches of 40",
    )


def run(backends: list[str], small: bool) -> list[Result]:
    return [_one(backend, 200 if small else 2000) for backend in backends]


if __name__ == "__main__":  # `python -m bench.bench_webhooks [--small]`: this benchmark alone
    print_table(run(["sqlite", "postgresql"] if postgres_available() else ["sqlite"], small="--small" in sys.argv))
