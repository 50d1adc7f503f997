"""`POST /api/v1/events`: activity from other systems, single or in batches, idempotent."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_form, submit
from tests.integration.scoring_data import ANA, lead_by_email, post_event


def test_single_event_by_email_or_lead_id_lands_on_the_timeline_and_scores(
    client: TestClient, anon: TestClient
) -> None:
    make_form(client)
    lead_id = submit(anon, **ANA)["lead_id"]
    post_event(client, email=ANA["email"], type="webinar_attended", properties={"webinar": "Q4"})
    post_event(client, lead_id=lead_id, type="email_clicked")
    assert lead_by_email(client)["engagement_score"] == pytest.approx(10 + 20 + 5, abs=0.01)
    timeline = client.get(f"/api/v1/leads/{lead_id}/timeline").json()
    assert {"webinar_attended", "email_clicked"} <= {event["type"] for event in timeline}


def test_events_api_single_batch_and_idempotency(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    submit(anon, **ANA)
    single = client.post(
        "/api/v1/events", json={"email": ANA["email"], "type": "webinar_attended", "idempotency_key": "zoom-1"}
    )
    assert single.status_code == 201
    again = client.post(
        "/api/v1/events", json={"email": ANA["email"], "type": "webinar_attended", "idempotency_key": "zoom-1"}
    )
    assert again.status_code == 200
    assert (again.json()["duplicate"], again.json()["event_id"]) == (True, single.json()["event_id"])
    batch = client.post(
        "/api/v1/events",
        json={
            "events": [
                {"email": ANA["email"], "type": "email_opened"},
                {"email": "stranger@example.com", "type": "custom"},
                {"email": "newbie@example.com", "type": "product_signup", "create_lead": True},
                {"email": ANA["email"], "type": "webinar_attended", "idempotency_key": "zoom-1"},
            ]
        },
    ).json()
    assert [r["status"] for r in batch["results"]] == ["created", "error", "created", "duplicate"]
    assert (batch["accepted"], batch["duplicates"], batch["errors"]) == (2, 1, 1)
    assert lead_by_email(client, "newbie@example.com")["lifecycle_stage"] == "subscriber"


def test_a_retried_event_scores_once(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    submit(anon, **ANA)
    event = {"email": ANA["email"], "type": "webinar_attended", "idempotency_key": "zoom-42"}
    client.post("/api/v1/events", json={"events": [event, event]})
    client.post("/api/v1/events", json=event)
    assert lead_by_email(client)["engagement_score"] == pytest.approx(10 + 20, abs=0.01)


def test_an_unknown_email_is_not_created_unless_asked(client: TestClient) -> None:
    assert client.post("/api/v1/events", json={"email": "ghost@example.com", "type": "custom"}).status_code == 404
    assert client.get("/api/v1/leads", params={"email": "ghost@example.com"}).json()["data"] == []


def test_events_api_refuses_bad_input_with_field_errors(client: TestClient) -> None:
    cases = [
        {"type": "x"},  # no lead
        {"email": "a@example.com", "lead_id": "00000000-0000-0000-0000-000000000000", "type": "x"},
        {"email": "a@example.com", "type": "Bad Type"},
        {"email": "a@example.com", "type": "became_mql"},
        {"email": "not-an-email", "type": "custom"},
        {"email": "a@example.com", "type": "custom", "occurred_at": "yesterday"},
    ]
    for body in cases:
        assert client.post("/api/v1/events", json=body).status_code == 422, body
    assert client.post("/api/v1/events", json={"events": []}).status_code == 422
    too_many = {"events": [{"email": "a@example.com", "type": "custom"}] * 1001}
    assert client.post("/api/v1/events", json=too_many).status_code == 422


def test_events_api_needs_a_key_with_write_scope(anon: TestClient) -> None:
    assert anon.post("/api/v1/events", json={"email": "a@example.com", "type": "custom"}).status_code == 401
