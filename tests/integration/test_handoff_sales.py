"""Sales answers back: accept (SAL), reject (recycle, re-qualify), pipeline outcomes, owners, the SLA."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import Database
from app.handoff.jobs import sla_job
from app.handoff.sales import breached_mqls
from app.models import Enrollment, Event, Lead, SalesOutcome
from app.settings import Settings
from tests.factories import make_form, submit
from tests.integration.handoff import Clock, deliver, make_mqls, register, serving_receiver
from tests.integration.receiver import Receiver

RECYCLE_SEQUENCE = {
    "name": "Recycle",
    "trigger": {"type": "sales_rejected"},
    "steps": [{"type": "email", "subject": "Still there?", "html": "<p>Hi</p>", "text": "Hi"}],
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serving_receiver()


def test_reject_recycles_and_the_lead_requalifies_with_a_new_webhook(
    client: TestClient, anon: TestClient, db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.start()
    register(client, receiver, ["lead.mql", "lead.sales_rejected", "lead.sales_accepted"])
    [lead_id] = make_mqls(client, anon, 1)
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
    deliver(db, settings, Clock())
    types = [(r.payload["type"], r.payload["data"]["lead"].get("mql_episode")) for r in receiver.received]
    assert sorted(types) == sorted(
        [("lead.mql", 1), ("lead.sales_rejected", 1), ("lead.mql", 2), ("lead.sales_accepted", 2)]
    )
    rejection = next(r for r in receiver.received if r.payload["type"] == "lead.sales_rejected")
    assert rejection.payload["data"]["reason_code"] == "no_budget"


def test_pipeline_outcomes_move_forward_only_and_keep_amounts(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    [lead_id] = make_mqls(client, anon, 1)
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
    register(client, receiver, ["lead.sla_breached"])
    make_mqls(client, anon, 1)
    clock = Clock()
    assert sla_job(db, settings, clock) == 0
    clock.advance(hours=5)
    assert sla_job(db, settings, clock) == 1
    assert sla_job(db, settings, clock) == 0
    deliver(db, settings, clock)
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


def test_deciding_on_a_lead_that_is_not_an_mql_is_a_conflict(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    lead_id = submit(anon, email="reader@acme-corp.com")["lead_id"]
    refused = client.post(f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "accept"})
    assert refused.status_code == 409
    assert "only an MQL" in refused.json()["detail"]
    assert client.get(f"/api/v1/leads/{lead_id}").json()["lifecycle_stage"] != "sal"
    bad = client.post(f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "decision"
    missing = "/api/v1/leads/00000000-0000-0000-0000-000000000000/sales-decision"
    assert client.post(missing, json={"decision": "accept"}).status_code == 404


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("no_authority", "no_authority"),
        ("Bad timing, call back next quarter", "bad_timing"),
        ("went with a competitor", "competitor"),
        ("the email is invalid", "bad_data"),
        ("just not a fit", "other"),
    ],
)
def test_rejection_reasons_are_stored_as_codes_with_the_free_text(
    client: TestClient, anon: TestClient, db: Database, reason: str, code: str
) -> None:
    [lead_id] = make_mqls(client, anon, 1)
    client.post(f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "reject", "reason": reason})
    with db.transaction() as session:
        event = session.exec(select(Event).where(Event.type == "sales_rejected")).one()
        assert (event.properties["reason_code"], event.properties["reason"]) == (code, reason)


def test_a_rejected_lead_keeps_a_share_of_its_engagement_and_enters_the_recycle_sequence(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    sequence = client.post("/api/v1/sequences", json=RECYCLE_SEQUENCE).json()
    assert client.post(f"/api/v1/sequences/{sequence['id']}/activate").status_code == 200
    [lead_id] = make_mqls(client, anon, 1)
    before = client.get(f"/api/v1/leads/{lead_id}").json()["engagement_score"]
    after = client.post(
        f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "reject", "reason": "no need"}
    ).json()
    assert after["engagement_score"] < before
    assert after["is_mql"] is False
    with db.transaction() as session:
        enrolled = session.exec(select(Enrollment).where(Enrollment.sequence_id == uuid.UUID(sequence["id"]))).all()
        assert [str(e.lead_id) for e in enrolled] == [lead_id]


def test_a_lost_deal_keeps_the_stage_and_records_the_outcome(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    [lead_id] = make_mqls(client, anon, 1)
    client.post(f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "accept"})
    client.post(f"/api/v1/leads/{lead_id}/sales-outcome", json={"stage": "opportunity", "amount": 5000})
    lost = client.post(
        f"/api/v1/leads/{lead_id}/sales-outcome",
        json={"stage": "lost", "reason": "price", "occurred_at": "2026-11-20T10:00:00Z"},
    )
    assert lost.json()["lifecycle_stage"] == "opportunity"
    with db.transaction() as session:
        outcomes = session.exec(select(SalesOutcome).order_by(SalesOutcome.occurred_at)).all()  # type: ignore[arg-type]
        assert [o.stage for o in outcomes] == ["lost", "opportunity"]
        assert outcomes[0].reason == "price"


def test_an_sla_breach_stays_on_the_dashboard_until_sales_decides_and_recurs_in_a_new_episode(
    client: TestClient, anon: TestClient, db: Database, settings: Settings
) -> None:
    [lead_id] = make_mqls(client, anon, 1)
    clock = Clock()
    clock.advance(hours=5)
    assert sla_job(db, settings, clock) == 1
    with db.transaction() as session:
        assert [str(lead.id) for lead in breached_mqls(session, settings, clock())] == [lead_id]
    client.post(f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "reject", "reason": "bad timing"})
    with db.transaction() as session:
        assert breached_mqls(session, settings, clock()) == []
    submit(anon, "demo", email="mql0@acme-corp.com")  # qualifies again: a new episode
    clock.advance(hours=5)
    assert sla_job(db, settings, clock) == 1
    with db.transaction() as session:
        episodes = [e.properties["episode"] for e in session.exec(select(Event).where(Event.type == "sla_breached"))]
        assert sorted(episodes) == [1, 2]


def test_sales_reps_can_be_read_edited_and_deactivated(client: TestClient, anon: TestClient, db: Database) -> None:
    rep = client.post("/api/v1/sales-reps", json={"email": "Kim@Example.com", "name": "Kim"}).json()
    other = client.post("/api/v1/sales-reps", json={"email": "lee@example.com"}).json()
    assert rep["email"] == "kim@example.com"
    assert client.get(f"/api/v1/sales-reps/{rep['id']}").json()["name"] == "Kim"
    edited = client.patch(f"/api/v1/sales-reps/{rep['id']}", json={"active": False, "countries": ["fr", " FR "]})
    assert (edited.json()["active"], edited.json()["countries"]) == (False, ["FR"])
    assert [lead["owner"] for lead in _owners(client, anon, 2)] == ["lee@example.com"] * 2
    assert client.delete(f"/api/v1/sales-reps/{other['id']}").status_code == 204
    assert client.get(f"/api/v1/sales-reps/{other['id']}").status_code == 404
    assert client.patch(f"/api/v1/sales-reps/{rep['id']}", json={"email": "x@example.com"}).status_code == 422


def _owners(client: TestClient, anon: TestClient, count: int) -> list[dict[str, str]]:
    return [client.get(f"/api/v1/leads/{lead_id}").json() for lead_id in make_mqls(client, anon, count)]


def test_accept_and_reject_are_on_the_timeline(client: TestClient, anon: TestClient, db: Database) -> None:
    first, second = make_mqls(client, anon, 2)
    client.post(f"/api/v1/leads/{first}/sales-decision", json={"decision": "accept", "owner": "sam@example.com"})
    client.post(f"/api/v1/leads/{second}/sales-decision", json={"decision": "reject", "reason": "no budget"})
    first_types = [e["type"] for e in client.get(f"/api/v1/leads/{first}/timeline").json()]
    second_types = [e["type"] for e in client.get(f"/api/v1/leads/{second}/timeline").json()]
    assert {"handed_off", "sales_accepted"} <= set(first_types)
    assert {"handed_off", "sales_rejected"} <= set(second_types)
