"""Shared pieces of the hand-off tests: a movable clock, a receiver, endpoints and MQLs."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.db import Database
from app.handoff.delivery import deliver_due
from app.settings import Settings
from app.types import utcnow
from tests.factories import make_form, submit
from tests.integration.processes import free_port
from tests.integration.receiver import Receiver

ANA = {
    "email": "ana.lima@acme-corp.com",
    "first_name": "Ana",
    "company": "Acme",
    "job_title": "VP Marketing",
}


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fast(settings: Settings) -> Settings:
    """Half-second timeouts, so a hanging receiver is a timeout without a long test."""
    return settings.model_copy(update={"webhook_timeout_seconds": 0.5, "webhook_connect_timeout_seconds": 0.5})


def serving_receiver() -> Iterator[Receiver]:
    """Body of a `receiver` fixture: a loopback receiver (started by the test), stopped after."""
    server = Receiver(free_port())
    yield server
    server.stop()


def register(client: TestClient, receiver: Receiver, events: list[str] | None = None) -> dict[str, Any]:
    created = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": events or ["lead.mql"]})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    assert body["secret"].startswith("whsec_")
    receiver.secrets.append(body["secret"])
    return body


def make_mqls(client: TestClient, anon: TestClient, count: int) -> list[str]:
    """`count` MQLs through the real scoring path: a demo request from a decision maker."""
    make_form(client, slug="demo", name="Demo", kind="demo_request", offer=None)
    return [submit(anon, "demo", **ANA | {"email": f"mql{i}@acme-corp.com"})["lead_id"] for i in range(count)]


def deliver(db: Database, settings: Settings, clock: Clock) -> None:
    deliver_due(db, settings, clock=clock, rng=random.Random(1))
