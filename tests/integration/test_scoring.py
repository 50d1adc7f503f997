"""Scoring through HTTP: the funnel walk, explanations, the events API, model edits, re-score,
decay re-base, recycle and re-qualification."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from app.db import Database
from app.models import Event, Lead, StageChange
from app.scoring.decay import decayed
from app.scoring.jobs import rebase_engagement, run_rescore
from app.scoring.model import DEFAULT_MODEL
from app.scoring.recompute import recompute
from app.scoring.service import UNSCORED_EVENTS, apply_recycle
from app.settings import Settings
from app.types import utcnow
from tests.factories import make_form, submit

ANA = {
    "email": "ana.lima@acme-corp.com",
    "first_name": "Ana",
    "company": "Acme",
    "job_title": "VP Marketing",
}


def _forms(client: TestClient) -> None:
    make_form(client)
    make_form(client, slug="webinar", name="Webinar", kind="webinar", stage_hint="mofu", offer=None)
    make_form(client, slug="demo", name="Book a demo", kind="demo_request", stage_hint="bofu", offer=None)


def _lead(client: TestClient, email: str = ANA["email"]) -> dict[str, Any]:
    data: list[dict[str, Any]] = client.get("/api/v1/leads", params={"email": email}).json()["data"]
    return data[0]


def test_ebook_webinar_pricing_demo_walks_tofu_mofu_bofu_mql(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    _forms(client)
    submit(anon, "funnel-ebook", **ANA)
    assert (_lead(client)["funnel_stage"], _lead(client)["lifecycle_stage"]) == ("tofu", "lead")
    submit(anon, "webinar", email=ANA["email"])
    assert _lead(client)["funnel_stage"] == "mofu"
    client.post(
        "/api/v1/events",
        json={
            "email": ANA["email"],
            "type": "page_viewed",
            "properties": {"url": "https://www.example.com/pricing"},
        },
    )
    assert _lead(client)["funnel_stage"] == "bofu"
    assert not _lead(client)["is_mql"]
    submit(anon, "demo", email=ANA["email"])
    lead = _lead(client)
    assert lead["is_mql"]
    assert lead["lifecycle_stage"] == "mql"
    with db.transaction() as session:
        funnel = [
            c.to_stage
            for c in session.exec(
                select(StageChange).where(StageChange.kind == "funnel").order_by(StageChange.changed_at)
            ).all()
        ]
        assert funnel == ["tofu", "mofu", "bofu"]
        assert len(session.exec(select(Event).where(Event.type == "became_mql")).all()) == 1
    explanation = client.get(f"/api/v1/leads/{lead['id']}/score").json()
    assert explanation["mql"]["is_mql"]
    assert explanation["mql"]["explanation"] == "engagement 66.0 ≥ 50 and fit 35.0 ≥ 30"
    assert {r["rule"] for r in explanation["fit"]["rules"]} == {"decision_maker", "business_domain"}
    rules = {r["rule"]: r for r in explanation["engagement"]["rules"]}
    assert rules["demo_request"]["points_earned"] == 30
    assert rules["pricing_page"]["events"] == 1
    assert "BOFU" in explanation["funnel"]["explanation"]


def test_mql_fires_once_per_episode(client: TestClient, anon: TestClient, db: Database) -> None:
    _forms(client)
    submit(anon, "demo", **ANA)
    submit(anon, "demo", email=ANA["email"])
    with db.transaction() as session:
        assert len(session.exec(select(Event).where(Event.type == "became_mql")).all()) == 1


def test_recycled_lead_requalifies_in_a_new_episode(
    client: TestClient, anon: TestClient, db: Database, settings: Settings
) -> None:
    _forms(client)
    submit(anon, "demo", **ANA)
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        from app.leads.stages import set_lifecycle_stage

        set_lifecycle_stage(session, settings, lead, "recycled")
        apply_recycle(session, settings, lead)
    assert _lead(client)["lifecycle_stage"] == "recycled"
    assert not _lead(client)["is_mql"]
    submit(anon, "demo", email=ANA["email"])
    assert _lead(client)["lifecycle_stage"] == "mql"
    with db.transaction() as session:
        episodes = [e.properties["episode"] for e in session.exec(select(Event).where(Event.type == "became_mql"))]
    assert sorted(episodes) == [1, 2]


def test_events_api_single_batch_and_idempotency(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    submit(anon, **ANA)
    single = client.post(
        "/api/v1/events",
        json={"email": ANA["email"], "type": "webinar_attended", "idempotency_key": "zoom-1"},
    )
    assert single.status_code == 201
    again = client.post(
        "/api/v1/events",
        json={"email": ANA["email"], "type": "webinar_attended", "idempotency_key": "zoom-1"},
    )
    assert again.status_code == 200
    assert again.json()["duplicate"]
    assert again.json()["event_id"] == single.json()["event_id"]
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
    assert _lead(client, "newbie@example.com")["lifecycle_stage"] == "subscriber"


def test_events_api_refuses_bad_input_with_field_errors(client: TestClient) -> None:
    cases = [
        {"type": "x"},  # no lead
        {"email": "a@example.com", "lead_id": "00000000-0000-0000-0000-000000000000", "type": "x"},
        {"email": "a@example.com", "type": "Bad Type"},
        {"email": "a@example.com", "type": "became_mql"},
        {"email": "not-an-email", "type": "custom"},
    ]
    for body in cases:
        assert client.post("/api/v1/events", json=body).status_code == 422, body
    assert client.post("/api/v1/events", json={"email": "ghost@example.com", "type": "custom"}).status_code == 404
    assert client.post("/api/v1/events", json={"events": []}).status_code == 422
    too_many = {"events": [{"email": "a@example.com", "type": "custom"}] * 1001}
    assert client.post("/api/v1/events", json=too_many).status_code == 422


def test_out_of_order_events_score_as_if_in_order(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    submit(anon, **ANA)
    now = utcnow()
    for days_ago in (1, 20, 5):
        client.post(
            "/api/v1/events",
            json={
                "email": ANA["email"],
                "type": "webinar_attended",
                "occurred_at": (now - timedelta(days=days_ago)).isoformat(),
            },
        )
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        events = [
            e
            for e in session.exec(select(Event).where(Event.lead_id == lead.id).order_by(Event.recorded_at))
            if e.type not in UNSCORED_EVENTS
        ]
        replay = recompute(DEFAULT_MODEL, events, lead.created_at)  # type: ignore[arg-type]
        later = now + timedelta(days=3)
        assert decayed(lead.engagement_score, lead.engagement_as_of, later, 30) == __import__("pytest").approx(
            decayed(replay.engagement, replay.as_of, later, 30)
        )


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["page_viewed", "email_clicked", "email_opened", "webinar_attended"]),
            st.integers(min_value=0, max_value=60 * 24),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_stored_score_equals_recomputation_for_arbitrary_histories(
    client: TestClient, db: Database, history: list[tuple[str, int]]
) -> None:
    email = f"prop-{abs(hash(tuple(history)))}@example.com"
    now = utcnow()
    events = [
        {
            "email": email,
            "type": t,
            "create_lead": True,
            "properties": {"url": "https://x.com/pricing"},
            "occurred_at": (now - timedelta(hours=h)).isoformat(),
        }
        for t, h in history
    ]
    assert client.post("/api/v1/events", json={"events": events}).json()["errors"] == 0
    with db.transaction() as session:
        lead = session.exec(select(Lead).where(Lead.email == email)).one()
        rows = [
            e
            for e in session.exec(select(Event).where(Event.lead_id == lead.id).order_by(Event.recorded_at))
            if e.type not in UNSCORED_EVENTS
        ]
        replay = recompute(DEFAULT_MODEL, rows, lead.created_at)  # type: ignore[arg-type]
    import pytest

    assert decayed(lead.engagement_score, lead.engagement_as_of, now, 30) == pytest.approx(
        decayed(replay.engagement, replay.as_of, now, 30), abs=1e-6
    )


def test_model_put_validates_bumps_version_and_applies_to_new_events(client: TestClient, anon: TestClient) -> None:
    model = client.get("/api/v1/scoring/model").json()
    assert model["version"] == 1
    bad = client.put("/api/v1/scoring/model", json=model["model"] | {"bands": {"mofu_at": 10, "bofu_at": 5}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][:2] == ["body", "bands"]
    changed = model["model"] | {"bands": {"mofu_at": 5, "bofu_at": 500}}
    saved = client.put("/api/v1/scoring/model", json=changed)
    assert saved.status_code == 200
    assert saved.json()["version"] == 2
    make_form(client)
    submit(anon, **ANA)
    assert _lead(client)["funnel_stage"] == "mofu"  # 10 ebook points now reach MOFU


def test_rescore_applies_a_new_model_to_every_lead_with_progress(
    client: TestClient, anon: TestClient, db: Database, settings: Settings
) -> None:
    make_form(client)
    for i in range(5):
        submit(anon, email=f"r{i}@gmail.com", job_title="Student")
    model = client.get("/api/v1/scoring/model").json()["model"]
    model["fit_rules"] = [r for r in model["fit_rules"] if r["id"] not in ("student", "free_mail")]
    client.put("/api/v1/scoring/model", json=model)
    job = client.post("/api/v1/scoring/rescore").json()
    assert (job["state"], job["total"]) == ("queued", 5)
    from uuid import UUID

    run_rescore(db, settings, UUID(job["job_id"]))
    progress = client.get(f"/api/v1/scoring/rescore/{job['job_id']}").json()
    assert (progress["state"], progress["done"], progress["total"]) == ("done", 5, 5)
    assert {lead["fit_score"] for lead in client.get("/api/v1/leads").json()["data"]} == {0}


def test_daily_rebase_is_one_statement_and_keeps_reads_exact(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    make_form(client)
    submit(anon, **ANA)
    before = _lead(client)["engagement_score"]
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        lead.engagement_as_of = lead.engagement_as_of - timedelta(days=30)
        session.add(lead)
    with db.transaction() as session:
        assert rebase_engagement(session, utcnow()) == 1
    with db.transaction() as session:
        assert rebase_engagement(session, utcnow()) <= 1  # idempotent: a second run changes ~nothing
    import pytest

    assert _lead(client)["engagement_score"] == pytest.approx(before / 2, rel=1e-3)


def test_page_views_before_the_form_are_stitched_and_scored(client: TestClient, anon: TestClient) -> None:
    make_form(client)
    view = {"vid": "visitor-123456", "url": "https://www.example.com/pricing", "title": "Pricing"}
    assert (
        anon.post("/t/e", content=__import__("json").dumps(view), headers={"Content-Type": "text/plain"}).status_code
        == 204
    )
    anon.post("/api/v1/forms/funnel-ebook/submissions", json=ANA | {"_ln_vid": "visitor-123456"})
    lead = _lead(client)
    assert lead["funnel_stage"] == "bofu"  # the pricing view is a BOFU intent signal
    timeline = [e["type"] for e in client.get(f"/api/v1/leads/{lead['id']}/timeline").json()]
    assert "page_viewed" in timeline
    anon.post(
        "/t/e",
        content=__import__("json").dumps(view | {"url": "https://www.example.com/blog"}),
        headers={"Content-Type": "text/plain"},
    )
    assert [e["type"] for e in client.get(f"/api/v1/leads/{lead['id']}/timeline").json()].count("page_viewed") == 2


def test_beacon_refuses_junk_and_snippet_respects_dnt(anon: TestClient) -> None:
    assert anon.post("/t/e", content=b"nope", headers={"Content-Type": "text/plain"}).status_code == 422
    assert anon.post("/t/e", content=b'{"vid":"short","url":"https://x.com"}').status_code == 422
    assert anon.post("/t/e", content=b'{"vid":"visitor-123456","url":"javascript:alert(1)"}').status_code == 422
    assert anon.post("/t/e", content=b"x" * 5000).status_code == 413
    snippet = anon.get("/t/snippet.js")
    assert snippet.headers["content-type"].startswith("application/javascript")
    assert "doNotTrack" in snippet.text
    assert "http://testserver/t/e" in snippet.text


def test_lead_list_filters_on_scores_and_stages(client: TestClient, anon: TestClient) -> None:
    _forms(client)
    submit(anon, "demo", **ANA)
    submit(anon, "funnel-ebook", email="cold@gmail.com")
    assert [lead["email"] for lead in client.get("/api/v1/leads?funnel_stage=bofu&min_score=20").json()["data"]] == [
        ANA["email"]
    ]
    assert [lead["email"] for lead in client.get("/api/v1/leads?lifecycle_stage=mql").json()["data"]] == [ANA["email"]]
