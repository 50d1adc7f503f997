"""Sales hand-off: signed MQL webhooks through a delivery outbox, retries, sales decisions."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import Database
from app.handoff.delivery import deliver_due
from app.handoff.jobs import sla_job
from app.models import Event, Lead, WebhookDelivery
from app.settings import Settings
from app.types import utcnow
from tests.factories import make_form, submit
from tests.integration.processes import free_port
from tests.integration.receiver import Receiver, Reply

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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port())
    yield server
    server.stop()


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_timeout_seconds": 0.5, "webhook_connect_timeout_seconds": 0.5})


def _register(client: TestClient, receiver: Receiver, events: list[str] | None = None) -> dict[str, Any]:
    created = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": events or ["lead.mql"]})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    assert body["secret"].startswith("whsec_")
    receiver.secrets.append(body["secret"])
    return body


def _make_mqls(client: TestClient, anon: TestClient, count: int) -> list[str]:
    make_form(client, slug="demo", name="Demo", kind="demo_request", offer=None)
    return [submit(anon, "demo", **ANA | {"email": f"mql{i}@acme-corp.com"})["lead_id"] for i in range(count)]


def _deliver(db: Database, settings: Settings, clock: Clock) -> None:
    deliver_due(db, settings, clock=clock, rng=random.Random(1))


def test_mql_webhook_is_signed_and_carries_the_lead_and_why(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    _register(client, receiver)
    [lead_id] = _make_mqls(client, anon, 1)
    _deliver(db, settings, Clock())
    [got] = receiver.received
    assert got.verified_with == receiver.secrets  # verified by the standardwebhooks library
    assert got.payload["type"] == "lead.mql"
    data = got.payload["data"]
    assert data["lead"]["id"] == lead_id
    assert data["lead"]["lifecycle_stage"] == "mql"
    assert "hand-raise" in data["reason"]
    assert data["recent_events"]
    assert data["links"]["decision"].endswith(f"/api/v1/leads/{lead_id}/sales-decision")
    timeline = [e["type"] for e in client.get(f"/api/v1/leads/{lead_id}/timeline").json()]
    assert "handed_off" in timeline


def test_receiver_down_then_500_then_429_then_recovery_delivers_each_once(
    client: TestClient, anon: TestClient, db: Database, fast_settings: Settings, receiver: Receiver
) -> None:
    _register(client, receiver)
    _make_mqls(client, anon, 5)
    clock = Clock()
    _deliver(db, fast_settings, clock)  # connection refused: nobody listens yet
    receiver.start()
    receiver.default = Reply(500)
    clock.advance(seconds=6)
    _deliver(db, fast_settings, clock)
    receiver.default = Reply(429, {"Retry-After": "3600"})
    clock.advance(minutes=6)
    _deliver(db, fast_settings, clock)
    clock.advance(minutes=40)
    _deliver(db, fast_settings, clock)  # Retry-After (1 h) is honoured: nothing is due yet
    assert len(receiver.received) == 10
    receiver.default = Reply(200)
    clock.advance(hours=1, minutes=1)
    _deliver(db, fast_settings, clock)
    accepted = receiver.accepted_ids()
    assert len(accepted) == 5
    assert len(set(accepted)) == 5
    ids_per_lead: dict[str, set[str]] = {}
    for got in receiver.received:
        ids_per_lead.setdefault(got.payload["data"]["lead"]["id"], set()).add(got.webhook_id)
    assert all(len(ids) == 1 for ids in ids_per_lead.values())  # retries reuse the webhook-id
    with db.transaction() as session:
        assert {d.status for d in session.exec(select(WebhookDelivery)).all()} == {"delivered"}


def test_timeouts_are_retried(
    client: TestClient, anon: TestClient, db: Database, fast_settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    _register(client, receiver)
    _make_mqls(client, anon, 1)
    receiver.replies = [Reply(200, delay=1.0)]
    clock = Clock()
    _deliver(db, fast_settings, clock)
    with db.transaction() as session:
        delivery = session.exec(select(WebhookDelivery)).one()
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert "Timeout" in (delivery.last_error or "")
    clock.advance(seconds=6)
    _deliver(db, fast_settings, clock)
    assert receiver.accepted_ids()


def test_a_400_is_not_retried(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = _register(client, receiver)
    _make_mqls(client, anon, 1)
    receiver.default = Reply(400)
    clock = Clock()
    _deliver(db, settings, clock)
    clock.advance(days=2)
    _deliver(db, settings, clock)
    assert len(receiver.received) == 1
    [delivery] = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "dead",
        1,
        400,
    )
    assert delivery["webhook_id"] == receiver.received[0].webhook_id
    retried = client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/retry").json()
    assert retried["status"] == "pending"
    receiver.default = Reply(200)
    _deliver(db, settings, clock)
    assert receiver.accepted_ids() == [delivery["webhook_id"]]


def test_gives_up_after_about_a_day_and_replay_requeues(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = _register(client, receiver)
    _make_mqls(client, anon, 1)
    receiver.default = Reply(503)
    clock = Clock()
    for _ in range(10):
        _deliver(db, settings, clock)
        clock.advance(hours=11)
    assert len(receiver.received) == 8  # the first try and seven retries
    assert client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()[0]["status"] == "dead"
    assert client.post(f"/api/v1/webhooks/{hook['id']}/replay").json() == {"requeued": 1}
    receiver.default = Reply(200)
    _deliver(db, settings, clock)
    assert len(receiver.accepted_ids()) == 1


def test_an_endpoint_that_keeps_failing_is_disabled(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = _register(client, receiver)
    _make_mqls(client, anon, 6)
    receiver.default = Reply(410)
    _deliver(db, settings.model_copy(update={"webhook_disable_after": 3}), Clock())
    endpoint = client.get(f"/api/v1/webhooks/{hook['id']}").json()
    assert not endpoint["enabled"]
    assert "dead deliveries" in endpoint["disabled_reason"]
    enabled = client.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": True}).json()
    assert enabled["enabled"]
    assert enabled["consecutive_dead"] == 0


def test_secret_rotation_signs_with_both_secrets_during_grace(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = _register(client, receiver)
    rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret").json()
    receiver.secrets.append(rotated["secret"])
    _make_mqls(client, anon, 1)
    _deliver(db, settings, Clock())
    assert receiver.received[0].verified_with == [hook["secret"], rotated["secret"]]
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook['id']}").json()


def test_reject_recycles_and_the_lead_requalifies_with_a_new_webhook(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    _register(client, receiver, ["lead.mql", "lead.sales_rejected", "lead.sales_accepted"])
    [lead_id] = _make_mqls(client, anon, 1)
    rejected = client.post(
        f"/api/v1/leads/{lead_id}/sales-decision",
        json={"decision": "reject", "reason": "no budget this year", "owner": "sam@example.com"},
    )
    assert rejected.status_code == 200
    assert rejected.json()["lifecycle_stage"] == "recycled"
    assert client.post(f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "accept"}).status_code == 409
    submit(anon, "demo", email="mql0@acme-corp.com")  # raises a hand again
    assert client.get(f"/api/v1/leads/{lead_id}").json()["lifecycle_stage"] == "mql"
    accepted = client.post(
        f"/api/v1/leads/{lead_id}/sales-decision",
        json={"decision": "accept", "owner": "kim@example.com"},
    )
    assert accepted.json()["lifecycle_stage"] == "sal"
    assert accepted.json()["owner"] == "kim@example.com"
    _deliver(db, settings, Clock())
    types = [(r.payload["type"], r.payload["data"]["lead"].get("mql_episode")) for r in receiver.received]
    assert sorted(types) == sorted(
        [("lead.mql", 1), ("lead.sales_rejected", 1), ("lead.mql", 2), ("lead.sales_accepted", 2)]
    )
    rejection = next(r for r in receiver.received if r.payload["type"] == "lead.sales_rejected")
    assert rejection.payload["data"]["reason_code"] == "no_budget"


def test_pipeline_outcomes_move_forward_only_and_keep_amounts(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    [lead_id] = _make_mqls(client, anon, 1)
    client.post(f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "accept"})
    assert (
        client.post(f"/api/v1/leads/{lead_id}/sales-outcome", json={"stage": "opportunity"}).json()["lifecycle_stage"]
        == "opportunity"
    )
    assert (
        client.post(f"/api/v1/leads/{lead_id}/sales-outcome", json={"stage": "sql"}).json()["lifecycle_stage"]
        == "opportunity"
    )
    won = client.post(
        f"/api/v1/leads/{lead_id}/sales-outcome",
        json={"stage": "won", "amount": 24000, "currency": "EUR"},
    )
    assert won.json()["lifecycle_stage"] == "customer"
    with db.transaction() as session:
        lead = session.exec(select(Lead).where(Lead.email == "mql0@acme-corp.com")).one()
        assert (lead.deal_amount, lead.deal_currency) == (24000, "EUR")
    bad = client.post(f"/api/v1/leads/{lead_id}/sales-outcome", json={"stage": "won", "currency": "euro"})
    assert bad.status_code == 422


def test_sla_breach_is_flagged_once_per_episode_with_a_webhook(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    _register(client, receiver, ["lead.sla_breached"])
    _make_mqls(client, anon, 1)
    clock = Clock()
    assert sla_job(db, settings, clock) == 0
    clock.advance(hours=5)
    assert sla_job(db, settings, clock) == 1
    assert sla_job(db, settings, clock) == 0
    _deliver(db, settings, clock)
    assert [r.payload["type"] for r in receiver.received] == ["lead.sla_breached"]


def test_owners_are_assigned_by_territory_then_round_robin(client: TestClient, anon: TestClient, db: Database) -> None:
    client.post("/api/v1/sales-reps", json={"email": "de@example.com", "countries": ["de"]})
    client.post("/api/v1/sales-reps", json={"email": "a@example.com"})
    client.post("/api/v1/sales-reps", json={"email": "b@example.com"})
    assert client.post("/api/v1/sales-reps", json={"email": "a@example.com"}).status_code == 409
    make_form(
        client,
        slug="demo",
        name="Demo",
        kind="demo_request",
        offer=None,
        fields=[
            {"name": "email", "type": "email", "required": True},
            {"name": "country"},
            {"name": "job_title"},
        ],
    )
    owners = []
    for i, country in enumerate(["DE", "US", "FR", "DE"]):
        lead_id = submit(anon, "demo", email=f"o{i}@acme-corp.com", country=country, job_title="CEO")["lead_id"]
        owners.append(client.get(f"/api/v1/leads/{lead_id}").json()["owner"])
    assert owners[0] == owners[3] == "de@example.com"
    assert {owners[1], owners[2]} == {"a@example.com", "b@example.com"}


def test_webhook_validation(client: TestClient) -> None:
    assert client.post("/api/v1/webhooks", json={"url": "ftp://x", "events": ["lead.mql"]}).status_code == 422
    assert (
        client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["lead.nope"]}).status_code
        == 422
    )
    bad_header = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "headers": {"Webhook-Id": "x"}})
    assert bad_header.status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "https://[::1]/hook",
    ],
)
def test_production_refuses_non_https_and_internal_targets(settings: Settings, url: str) -> None:
    from app.main import create_app
    from tests.conftest import ADMIN_KEY

    app = create_app(settings.model_copy(update={"env": "production"}), run_scheduler=False)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as production:
        response = production.post("/api/v1/webhooks", json={"url": url, "events": ["lead.mql"]})
    app.state.db.dispose()
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "url"]


def test_handed_off_event_is_on_the_timeline_once_per_episode(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    _make_mqls(client, anon, 1)
    with db.transaction() as session:
        assert len(session.exec(select(Event).where(Event.type == "handed_off")).all()) == 1
