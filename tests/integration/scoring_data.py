"""Shared data for the scoring, events and tracking tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import make_form

ANA = {
    "email": "ana.lima@acme-corp.com",
    "first_name": "Ana",
    "company": "Acme",
    "job_title": "VP Marketing",
}


def make_funnel_forms(client: TestClient) -> None:
    """The ebook (TOFU), webinar (MOFU) and demo-request (BOFU hand-raise) forms."""
    make_form(client)
    make_form(client, slug="webinar", name="Webinar", kind="webinar", stage_hint="mofu", offer=None)
    make_form(client, slug="demo", name="Book a demo", kind="demo_request", stage_hint="bofu", offer=None)


def lead_by_email(client: TestClient, email: str = ANA["email"]) -> dict[str, Any]:
    data: list[dict[str, Any]] = client.get("/api/v1/leads", params={"email": email}).json()["data"]
    return data[0]


def post_event(client: TestClient, **event: Any) -> dict[str, Any]:
    response = client.post("/api/v1/events", json=event)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer
