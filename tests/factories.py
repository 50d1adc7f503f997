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


def due_enrollments(db: Any, count: int, subject: str = "Hello {{ lead.first_name }}") -> None:
    """`count` subscribed leads, each due right now for a one-email active sequence."""
    from sqlalchemy import insert

    from app.models import Enrollment, Lead, Sequence, SequenceStep
    from app.types import utcnow, uuid7

    now = utcnow()
    with db.transaction() as session:
        sequence = Sequence(name="Blast", status="active")
        session.add(sequence)
        session.flush()
        step = {"type": "email", "subject": subject, "html": '<p>Hi <a href="https://x.com">x</a></p>', "text": "Hi"}
        session.add(SequenceStep(sequence_id=sequence.id, version=1, position=0, type="email", config=step))
        leads = [
            Lead(email=f"due{i}@example.com", first_name=f"N{i}", consent="subscribed").model_dump()
            for i in range(count)
        ]
        session.execute(insert(Lead), leads)
        session.execute(
            insert(Enrollment),
            [
                {
                    "id": uuid7(),
                    "lead_id": lead["id"],
                    "sequence_id": sequence.id,
                    "sequence_version": 1,
                    "status": "active",
                    "current_step": 0,
                    "next_run_at": now,
                    "enrolled_at": now,
                }
                for lead in leads
            ],
        )
