"""Webhook delivery: deliveries per second through the outbox worker to a local receiver,
against a bare httpx client posting the same payloads to it in the same run."""

from __future__ import annotations

import time

import httpx

from app.db import Database
from app.handoff.delivery import deliver_due
from app.handoff.outbox import queue_webhook
from app.models import WebhookEndpoint
from app.settings import Settings
from bench.common import Result, free_port, fresh_database
from tests.integration.receiver import Receiver


def _one(backend: str, count: int) -> Result:
    receiver = Receiver(free_port()).start()
    try:
        with fresh_database(backend) as url:
            settings = Settings(database_url=url, secret_key="bench")
            db = Database(settings)
            with db.transaction() as session:
                session.add(WebhookEndpoint(url=receiver.url, events=["*"], secret="whsec_" + "A" * 43 + "="))
            with db.transaction() as session:
                for i in range(count):
                    queue_webhook(session, "lead.mql", None, {"lead": {"id": str(i), "email": f"l{i}@example.com"}})
            started = time.perf_counter()
            delivered = 0
            while delivered < count:
                report = deliver_due(db, settings)
                if report.delivered == 0:
                    break
                delivered += report.delivered
            ours = time.perf_counter() - started
            db.dispose()
        body = b'{"type":"lead.mql","data":{"lead":{"id":"1","email":"l1@example.com"}}}'
        started = time.perf_counter()
        with httpx.Client() as client:
            for _ in range(count):
                client.post(
                    receiver.url, content=body, headers={"webhook-id": "msg_x", "content-type": "application/json"}
                )
        bare = time.perf_counter() - started
    finally:
        receiver.stop()
    return Result(
        "webhooks",
        backend,
        f"deliveries/s ({count})",
        delivered / ours,
        "req/s",
        baseline=count / bare,
        baseline_name="bare httpx, one connection",
        note="claim + sign + POST (8 in parallel) + record",
    )


def run(backends: list[str], small: bool) -> list[Result]:
    return [_one(backend, 100 if small else 1000) for backend in backends]
