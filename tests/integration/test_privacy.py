"""GDPR/CCPA: export everything about a person, erase it everywhere, purge old raw data."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import Database
from app.models import (
    Event,
    Form,
    Lead,
    Message,
    StageChange,
    Submission,
    Suppression,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.privacy.service import email_hash, is_suppressed, purge_old_raw_data
from app.types import utcnow


def _lead_with_history(db: Database, email: str = "ana.lima@acme-corp.com") -> Lead:
    with db.transaction() as session:
        form = Form(slug="privacy-form", name="Privacy form")
        lead = Lead(
            email=email,
            first_name="Ana",
            company="Acme",
            phone="+351 555 0100",
            first_utm_source="linkedin",
        )
        session.add(form)
        session.add(lead)
        session.flush()
        session.add(Submission(form_id=form.id, lead_id=lead.id, payload={"email": email}, ip="203.0.113.9"))
        session.add(Event(lead_id=lead.id, type="page_viewed", properties={"url": f"https://x/?e={email}"}))
        session.add(StageChange(lead_id=lead.id, kind="lifecycle", to_stage="lead"))
        session.add(
            Message(
                lead_id=lead.id,
                to_address=email,
                subject="Hi Ana",
                html_body="<p>Ana</p>",
                status="sent",
            )
        )
        endpoint = WebhookEndpoint(url="http://127.0.0.1:9/hook", events=["*"], secret="whsec_x")
        session.add(endpoint)
        session.flush()
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id,
                lead_id=lead.id,
                event_type="lead.mql",
                payload={"email": email},
            )
        )
        return lead


def test_export_returns_everything_held_about_the_person(client: TestClient, db: Database) -> None:
    lead = _lead_with_history(db)
    body = client.get(f"/api/v1/leads/{lead.id}/export").json()
    assert body["lead"]["email"] == "ana.lima@acme-corp.com"
    assert len(body["submissions"]) == 1
    assert len(body["events"]) == 1
    assert len(body["messages"]) == 1
    assert len(body["webhook_deliveries"]) == 1
    assert len(body["stage_history"]) == 1


def test_export_of_unknown_lead_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/leads/00000000-0000-0000-0000-000000000000/export")
    assert response.status_code == 404


def test_erase_removes_personal_data_everywhere_and_keeps_aggregates(client: TestClient, db: Database) -> None:
    lead = _lead_with_history(db)
    assert client.delete(f"/api/v1/leads/{lead.id}").status_code == 204
    with db.transaction() as session:
        stored = session.get(Lead, lead.id)
        assert stored is not None
        assert stored.email.endswith("@erased.invalid")
        assert stored.first_name is None
        assert stored.phone is None
        assert stored.company is None
        assert stored.consent == "unsubscribed"
        assert stored.first_utm_source == "linkedin"  # anonymous attribution stays for analytics
        submission = session.exec(select(Submission)).one()
        assert submission.payload == {}
        assert submission.ip is None
        event = session.exec(select(Event)).one()
        assert event.properties == {}
        assert event.type == "page_viewed"
        message = session.exec(select(Message)).one()
        assert message.to_address is None
        assert message.html_body is None
        assert message.status == "sent"
        assert session.exec(select(WebhookDelivery).where(WebhookDelivery.event_type == "lead.mql")).all() == []
        assert session.exec(select(StageChange)).one().to_stage == "lead"
        assert is_suppressed(session, "Ana.Lima@Acme-Corp.com")
        assert session.get(Suppression, email_hash("ana.lima@acme-corp.com")) is not None


def test_erase_twice_is_404(client: TestClient, db: Database) -> None:
    lead = _lead_with_history(db)
    assert client.delete(f"/api/v1/leads/{lead.id}").status_code == 204
    assert client.delete(f"/api/v1/leads/{lead.id}").status_code == 404


def test_erase_needs_leads_write_scope(client: TestClient, db: Database) -> None:
    lead = _lead_with_history(db)
    key = client.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["leads:read"]}).json()["key"]
    response = client.delete(f"/api/v1/leads/{lead.id}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403


def test_csv_export_streams_every_lead_with_formulas_escaped(client: TestClient, db: Database) -> None:
    with db.transaction() as session:
        for i in range(2500):
            session.add(Lead(email=f"lead{i}@example.com", company="=cmd()" if i == 0 else "Acme"))
    response = client.get("/api/v1/leads/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2500
    assert {row["company"] for row in rows} == {"'=cmd()", "Acme"}


def test_retention_purges_old_raw_payloads_and_anonymous_views(db: Database) -> None:
    lead = _lead_with_history(db)
    long_ago = utcnow() - timedelta(days=400)
    with db.transaction() as session:
        for submission in session.exec(select(Submission)).all():
            submission.received_at = long_ago
            session.add(submission)
        session.add(Event(visitor_id="v1", type="page_viewed", occurred_at=long_ago))
        session.add(Event(lead_id=lead.id, type="page_viewed", properties={"url": "/recent"}))
    with db.transaction() as session:
        counts = purge_old_raw_data(session, retention_days=365)
    assert counts == {"submissions": 1, "events": 0, "anonymous_events": 1}
    with db.transaction() as session:
        assert session.exec(select(Submission)).one().payload == {}
        assert len(session.exec(select(Event)).all()) == 2  # the lead's events stay
