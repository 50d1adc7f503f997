"""Hand-off webhooks: signed deliveries through the outbox, retries, endpoints and their log.

A real receiver on 127.0.0.1 verifies every signature with the `standardwebhooks` library;
the delivery job and its clock are driven directly, nothing sleeps to wait for a retry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import Database
from app.handoff import ssrf
from app.handoff.outbox import queue_webhook
from app.handoff.signing import new_secret
from app.models import Event, WebhookDelivery, WebhookEndpoint
from app.nurture.compose import unsubscribe_url
from app.settings import Settings
from tests.integration.handoff import Clock, deliver, fast, make_mqls, register, serving_receiver
from tests.integration.receiver import Receiver, Reply


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serving_receiver()


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return fast(settings)


def test_mql_webhook_is_signed_and_carries_the_lead_and_why(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    register(client, receiver)
    [lead_id] = make_mqls(client, anon, 1)
    deliver(db, settings, Clock())
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


def test_every_mql_arrives_once_per_webhook_id_through_outage_errors_rate_limits_and_timeouts(
    client: TestClient, anon: TestClient, db: Database, fast_settings: Settings, receiver: Receiver
) -> None:
    register(client, receiver)
    lead_ids = make_mqls(client, anon, 6)
    clock = Clock()
    deliver(db, fast_settings, clock)  # connection refused: nobody listens yet
    receiver.start()
    receiver.default = Reply(500)
    clock.advance(seconds=6)
    deliver(db, fast_settings, clock)
    receiver.default = Reply(429, {"Retry-After": "3600"})
    clock.advance(minutes=6)
    deliver(db, fast_settings, clock)
    clock.advance(minutes=40)
    deliver(db, fast_settings, clock)  # Retry-After (1 h) outweighs the 30 min step: nothing is due yet
    assert len(receiver.received) == 12
    receiver.default = Reply(503, delay=1.0)  # answers after the 0.5 s total timeout
    clock.advance(hours=1, minutes=1)
    deliver(db, fast_settings, clock)
    receiver.replies, receiver.default = [Reply(400)], Reply(200)  # one is refused for good
    clock.advance(hours=2, minutes=15)
    deliver(db, fast_settings, clock)
    [dead] = _deliveries(db, "dead")
    assert (dead.attempts, dead.last_status_code) == (5, 400)
    assert client.post(f"/api/v1/webhooks/deliveries/{dead.id}/retry").status_code == 200
    deliver(db, fast_settings, clock)
    assert sorted(receiver.accepted_ids()) == sorted({f"msg_{d.id.hex}" for d in _deliveries(db, "delivered")})
    assert len(receiver.accepted_ids()) == 6
    ids_per_lead: dict[str, set[str]] = {}
    for got in receiver.received:
        ids_per_lead.setdefault(got.payload["data"]["lead"]["id"], set()).add(got.webhook_id)
    assert set(ids_per_lead) == set(lead_ids)
    assert all(len(ids) == 1 for ids in ids_per_lead.values())  # retries reuse the webhook-id
    assert all(got.verified_with for got in receiver.received)


def _deliveries(db: Database, status: str) -> list[WebhookDelivery]:
    with db.transaction() as session:
        return list(session.exec(select(WebhookDelivery).where(WebhookDelivery.status == status)).all())


def test_timeouts_are_retried(
    client: TestClient, anon: TestClient, db: Database, fast_settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    register(client, receiver)
    make_mqls(client, anon, 1)
    receiver.replies = [Reply(200, delay=1.0)]
    clock = Clock()
    deliver(db, fast_settings, clock)
    with db.transaction() as session:
        delivery = session.exec(select(WebhookDelivery)).one()
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert "Timeout" in (delivery.last_error or "")
    clock.advance(seconds=6)
    deliver(db, fast_settings, clock)
    assert receiver.accepted_ids()


def test_a_400_is_not_retried(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = register(client, receiver)
    make_mqls(client, anon, 1)
    receiver.default = Reply(400)
    clock = Clock()
    deliver(db, settings, clock)
    clock.advance(days=2)
    deliver(db, settings, clock)
    assert len(receiver.received) == 1
    [delivery] = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["data"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "dead",
        1,
        400,
    )
    assert delivery["webhook_id"] == receiver.received[0].webhook_id
    retried = client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/retry").json()
    assert retried["status"] == "pending"
    receiver.default = Reply(200)
    deliver(db, settings, clock)
    assert receiver.accepted_ids() == [delivery["webhook_id"]]


def test_gives_up_after_about_a_day_and_replay_requeues(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = register(client, receiver)
    make_mqls(client, anon, 1)
    receiver.default = Reply(503)
    clock = Clock()
    for _ in range(10):
        deliver(db, settings, clock)
        clock.advance(hours=11)
    assert len(receiver.received) == 8  # the first try and seven retries
    assert client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["data"][0]["status"] == "dead"
    assert client.post(f"/api/v1/webhooks/{hook['id']}/replay").json() == {"requeued": 1}
    receiver.default = Reply(200)
    deliver(db, settings, clock)
    assert len(receiver.accepted_ids()) == 1


def test_an_endpoint_that_keeps_failing_is_disabled(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = register(client, receiver)
    make_mqls(client, anon, 6)
    receiver.default = Reply(410)
    deliver(db, settings.model_copy(update={"webhook_disable_after": 3}), Clock())
    endpoint = client.get(f"/api/v1/webhooks/{hook['id']}").json()
    assert not endpoint["enabled"]
    assert "dead deliveries" in endpoint["disabled_reason"]
    enabled = client.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": True}).json()
    assert enabled["enabled"]
    assert enabled["consecutive_dead"] == 0


def test_deliveries_wait_while_the_endpoint_is_disabled_and_go_out_when_it_is_enabled_again(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = register(client, receiver)
    make_mqls(client, anon, 3)
    receiver.default = Reply(503)
    clock = Clock()
    deliver(db, settings, clock)
    first_ids = set(receiver.accepted_ids()) | {r.webhook_id for r in receiver.received}
    assert client.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": False}).json()["enabled"] is False
    clock.advance(minutes=1)
    deliver(db, settings, clock)
    assert len(receiver.received) == 3
    parked = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["data"]
    assert {(d["status"], d["next_attempt_at"]) for d in parked} == {("pending", None)}
    assert all("disabled" in d["last_error"] for d in parked)
    receiver.default = Reply(200)
    client.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": True})
    deliver(db, settings, clock)
    assert set(receiver.accepted_ids()) == first_ids


def test_retry_and_replay_are_refused_while_the_endpoint_is_disabled(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = register(client, receiver)
    make_mqls(client, anon, 1)
    receiver.default = Reply(404)
    deliver(db, settings, Clock())
    [delivery] = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["data"]
    client.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": False})
    retried = client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 409
    assert "disabled" in retried.json()["detail"]
    assert client.post(f"/api/v1/webhooks/{hook['id']}/replay").status_code == 409
    assert client.post("/api/v1/webhooks/deliveries/00000000-0000-0000-0000-000000000000/retry").status_code == 404


def test_the_delivery_log_is_newest_first_and_pages_with_a_cursor(
    client: TestClient, anon: TestClient, receiver: Receiver
) -> None:
    hook = register(client, receiver)
    make_mqls(client, anon, 5)
    path = f"/api/v1/webhooks/{hook['id']}/deliveries"
    seen: list[str] = []
    page = client.get(path, params={"limit": 2}).json()
    while True:
        seen += [d["id"] for d in page["data"]]
        if page["next_cursor"] is None:
            break
        page = client.get(path, params={"limit": 2, "cursor": page["next_cursor"]}).json()
    everything = client.get(path).json()["data"]
    assert seen == [d["id"] for d in everything]
    assert len(seen) == 5
    assert [d["created_at"] for d in everything] == sorted((d["created_at"] for d in everything), reverse=True)
    assert client.get(path, params={"cursor": "nonsense"}).status_code == 422
    assert client.get(path, params={"status": "dead"}).json() == {"data": [], "next_cursor": None}


def test_stage_changes_and_unsubscribes_are_announced(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    register(client, receiver, ["lead.stage_changed", "lead.unsubscribed"])
    [lead_id] = make_mqls(client, anon, 1)
    token_url = unsubscribe_url(settings, uuid.UUID(lead_id), None)
    one_click = anon.post(token_url.removeprefix(settings.base_url), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    deliver(db, settings, Clock())
    kinds = [r.payload["type"] for r in receiver.received]
    assert "lead.unsubscribed" in kinds
    changes = [r.payload["data"] for r in receiver.received if r.payload["type"] == "lead.stage_changed"]
    assert {"kind": "lifecycle", "to": "mql"} in [{"kind": c["kind"], "to": c["to"]} for c in changes]
    assert all(r.verified_with for r in receiver.received)


def test_an_endpoint_subscribed_to_everything_gets_every_event_type(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    register(client, receiver, ["*"])
    [lead_id] = make_mqls(client, anon, 1)
    client.post(f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "accept"})
    deliver(db, settings, Clock())
    assert {"lead.mql", "lead.stage_changed", "lead.sales_accepted"} <= {r.payload["type"] for r in receiver.received}


def test_deleting_an_endpoint_stops_its_deliveries(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = register(client, receiver)
    make_mqls(client, anon, 1)
    assert client.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    deliver(db, settings, Clock())
    assert receiver.received == []
    assert client.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404


def test_secret_rotation_signs_with_both_secrets_during_grace(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    hook = register(client, receiver)
    rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret").json()
    receiver.secrets.append(rotated["secret"])
    make_mqls(client, anon, 1)
    deliver(db, settings, Clock())
    assert receiver.received[0].verified_with == [hook["secret"], rotated["secret"]]
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook['id']}").json()


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
    make_mqls(client, anon, 1)
    with db.transaction() as session:
        assert len(session.exec(select(Event).where(Event.type == "handed_off")).all()) == 1


def test_in_production_a_name_rebound_to_loopback_after_the_check_gets_nothing(
    db: Database, settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.start()
    answers = iter([{"93.184.215.14"}, {"127.0.0.1"}])  # public when checked, loopback when connecting
    monkeypatch.setattr(ssrf, "_resolved_addresses", lambda host, port: next(answers))
    with db.transaction() as session:
        endpoint = WebhookEndpoint(url=f"https://rebind.test:{receiver.port}/hooks", events=["*"], secret=new_secret())
        session.add(endpoint)
        session.flush()
        queue_webhook(session, "lead.mql", None, {"lead": {"id": "x"}})
    deliver(db, settings.model_copy(update={"env": "production"}), Clock())
    assert receiver.received == []
    [delivery] = _deliveries(db, "pending")
    assert "private, loopback or link-local" in (delivery.last_error or "")
