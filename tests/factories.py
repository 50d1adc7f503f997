"""Test data builders shared by the suite."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

EBOOK_FORM: dict[str, Any] = {
    "slug": "funnel-ebook",
    "name": "The Funnel Playbook",
    "kind": "ebook",
    "stage_hint": "tofu",
    "fields": [
        {"name": "email", "type": "email", "required": True},
        {"name": "first_name", "type": "text"},
        {"name": "company", "type": "text"},
        {"name": "job_title", "type": "text"},
    ],
    "offer": {"title": "The Funnel Playbook (PDF)", "url": "https://cdn.example.com/playbook.pdf"},
    "redirect_url": None,
    "double_opt_in": False,
    "allowed_origins": ["https://www.example.com"],
}


def make_form(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = EBOOK_FORM | overrides
    response = client.post("/api/v1/forms", json=body)
    assert response.status_code == 201, response.text
    form: dict[str, Any] = response.json()
    return form


def submit(client: TestClient, slug: str = "funnel-ebook", **values: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/forms/{slug}/submissions", json=values)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer
