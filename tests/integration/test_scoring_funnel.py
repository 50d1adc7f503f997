"""A lead's way down the funnel: stages from bands and intent, MQL episodes, recycle,
the explanation a marketer reads, model edits and list filters."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app import events
from app.db import Database
from app.events import BecameMQL
from app.leads.stages import FUNNEL_PATH, rebuild_funnel_progress, set_lifecycle_stage
from app.models import Event, FunnelProgress, Lead, StageChange
from app.scoring.jobs import demote_cooled_leads, rebase_engagement
from app.scoring.service import apply_recycle
from app.settings import Settings
from app.types import utcnow
from tests.factories import make_form, submit
from tests.integration.scoring_data import ANA, lead_by_email, make_funnel_forms, post_event


def test_ebook_webinar_pricing_demo_walks_tofu_mofu_bofu_mql(
    client: TestClient, anon: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[BecameMQL] = []
    monkeypatch.setitem(events._subscribers, BecameMQL, [*events._subscribers[BecameMQL], published.append])
    make_funnel_forms(client)
    submit(anon, "funnel-ebook", **ANA)
    assert (lead_by_email(client)["funnel_stage"], lead_by_email(client)["lifecycle_stage"]) == ("tofu", "lead")
    submit(anon, "webinar", email=ANA["email"])
    assert lead_by_email(client)["funnel_stage"] == "mofu"
    post_event(client, email=ANA["email"], type="page_viewed", properties={"url": "https://www.example.com/pricing"})
    assert lead_by_email(client)["funnel_stage"] == "bofu"
    assert not lead_by_email(client)["is_mql"]
    submit(anon, "demo", email=ANA["email"])
    lead = lead_by_email(client)
    assert (lead["is_mql"], lead["lifecycle_stage"]) == (True, "mql")
    assert [(e.lead_id, e.episode) for e in published] == [(__import__("uuid").UUID(lead["id"]), 1)]
    with db.transaction() as session:
        history = session.exec(select(StageChange).where(StageChange.kind == "funnel").order_by(StageChange.changed_at))
        assert [change.to_stage for change in history] == ["tofu", "mofu", "bofu"]
        assert len(session.exec(select(Event).where(Event.type == "became_mql")).all()) == 1

    explanation = client.get(f"/api/v1/leads/{lead['id']}/score").json()
    assert explanation["mql"]["explanation"] == "engagement 66.0 ≥ 50 and fit 35.0 ≥ 30"
    assert explanation["funnel"]["explanation"] == (
        "Engagement 66.0 puts the lead in BOFU (MOFU from 20, BOFU from 50); "
        "its strongest recent intent signal is BOFU; the higher of the two is BOFU."
    )
    assert {r["rule"] for r in explanation["fit"]["rules"]} == {"decision_maker", "business_domain"}
    rules = {r["rule"]: r for r in explanation["engagement"]["rules"]}
    assert (rules["demo_request"]["points_earned"], rules["pricing_page"]["events"]) == (30, 1)
    assert sum(r["points_now"] for r in rules.values()) == pytest.approx(explanation["engagement"]["score"], abs=0.05)
    assert explanation["engagement"]["adjustment_now"] == pytest.approx(0, abs=0.05)


def test_mql_fires_once_per_episode(client: TestClient, anon: TestClient, db: Database) -> None:
    make_funnel_forms(client)
    submit(anon, "demo", **ANA)
    submit(anon, "demo", email=ANA["email"])
    with db.transaction() as session:
        assert len(session.exec(select(Event).where(Event.type == "became_mql")).all()) == 1


def test_a_student_on_free_mail_asking_for_a_demo_is_not_an_mql(client: TestClient, anon: TestClient) -> None:
    make_funnel_forms(client)
    submit(anon, "demo", email="kid@gmail.com", job_title="Student")
    lead = lead_by_email(client, "kid@gmail.com")
    assert (lead["funnel_stage"], lead["is_mql"]) == ("bofu", False)
    explanation = client.get(f"/api/v1/leads/{lead['id']}/score").json()["mql"]
    assert explanation["explanation"] == "needs 20.0 engagement points and 65.0 fit points"


def test_recycled_lead_requalifies_in_a_new_episode(
    client: TestClient, anon: TestClient, db: Database, settings: Settings
) -> None:
    make_funnel_forms(client)
    submit(anon, "demo", **ANA)
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        set_lifecycle_stage(session, settings, lead, "recycled")
        apply_recycle(session, settings, lead)
    recycled = lead_by_email(client)
    assert (recycled["lifecycle_stage"], recycled["is_mql"], recycled["funnel_stage"]) == ("recycled", False, "tofu")
    assert recycled["engagement_score"] == pytest.approx(30 * 0.25, abs=0.01)
    explained = client.get(f"/api/v1/leads/{recycled['id']}/score").json()["engagement"]
    assert explained["adjustment_now"] == pytest.approx(30 * 0.25 - 30, abs=0.01)
    submit(anon, "demo", email=ANA["email"])
    assert lead_by_email(client)["lifecycle_stage"] == "mql"
    with db.transaction() as session:
        episodes = [e.properties["episode"] for e in session.exec(select(Event).where(Event.type == "became_mql"))]
    assert sorted(episodes) == [1, 2]


def test_an_old_pricing_view_reported_late_does_not_put_the_lead_in_bofu(client: TestClient, anon: TestClient) -> None:
    make_funnel_forms(client)
    submit(anon, "webinar", **ANA)
    forty_days_ago = (utcnow() - timedelta(days=40)).isoformat()
    post_event(
        client,
        email=ANA["email"],
        type="page_viewed",
        occurred_at=forty_days_ago,
        properties={"url": "https://www.example.com/pricing"},
    )
    assert lead_by_email(client)["funnel_stage"] == "mofu"


def test_a_stale_bofu_signal_falls_back_to_a_fresh_mofu_signal_not_to_tofu(
    client: TestClient, anon: TestClient, db: Database, settings: Settings
) -> None:
    make_funnel_forms(client)
    submit(anon, "webinar", **ANA)
    post_event(
        client,
        email=ANA["email"],
        type="page_viewed",
        occurred_at=(utcnow() - timedelta(days=25)).isoformat(),
        properties={"url": "https://www.example.com/pricing"},
    )
    assert lead_by_email(client)["funnel_stage"] == "bofu"
    ten_days_later = utcnow() + timedelta(days=10)  # pricing view 35 days old: stale; webinar 10 days: fresh
    with db.transaction() as session:
        rebase_engagement(session, ten_days_later)
        assert demote_cooled_leads(session, settings, ten_days_later) == 1
    lead = lead_by_email(client)
    assert lead["engagement_score"] < 20  # the band alone would say TOFU
    assert lead["funnel_stage"] == "mofu"


def test_model_put_validates_bumps_version_and_applies_to_new_events(client: TestClient, anon: TestClient) -> None:
    model = client.get("/api/v1/scoring/model").json()
    assert model["version"] == 1
    bad = client.put("/api/v1/scoring/model", json=model["model"] | {"bands": {"mofu_at": 10, "bofu_at": 5}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][:2] == ["body", "bands"]
    changed = model["model"] | {"bands": {"mofu_at": 5, "bofu_at": 500}}
    saved = client.put("/api/v1/scoring/model", json=changed)
    assert (saved.status_code, saved.json()["version"]) == (200, 2)
    assert client.get("/api/v1/scoring/model").json()["version"] == 2
    make_form(client)
    submit(anon, **ANA)
    assert lead_by_email(client)["funnel_stage"] == "mofu"  # 10 ebook points now reach MOFU


def test_only_admins_change_the_model(client: TestClient, anon: TestClient) -> None:
    model = client.get("/api/v1/scoring/model").json()["model"]
    assert anon.put("/api/v1/scoring/model", json=model).status_code == 401
    assert anon.post("/api/v1/scoring/rescore").status_code == 401


def test_lead_list_filters_on_scores_and_stages(client: TestClient, anon: TestClient) -> None:
    make_funnel_forms(client)
    submit(anon, "demo", **ANA)
    submit(anon, "funnel-ebook", email="cold@gmail.com")
    bofu = client.get("/api/v1/leads?funnel_stage=bofu&min_score=20").json()["data"]
    assert [lead["email"] for lead in bofu] == [ANA["email"]]
    assert [lead["email"] for lead in client.get("/api/v1/leads?lifecycle_stage=mql").json()["data"]] == [ANA["email"]]


def test_funnel_progress_kept_by_each_stage_change_equals_a_rebuild_from_history(
    client: TestClient, anon: TestClient, db: Database
) -> None:
    """Analytics read funnel progress; the upkeep on every change must match the history."""
    make_funnel_forms(client)
    submit(anon, "funnel-ebook", **ANA)
    submit(anon, "funnel-ebook", email="bo@example-corp.com", first_name="Bo")  # stays TOFU
    submit(anon, "webinar", email=ANA["email"])
    post_event(client, email=ANA["email"], type="page_viewed", properties={"url": "https://www.example.com/pricing"})
    submit(anon, "demo", email=ANA["email"])
    lead_id = lead_by_email(client)["id"]
    accepted = client.post(f"/api/v1/leads/{lead_id}/sales-decision", json={"decision": "accept"})
    assert accepted.status_code == 200, accepted.text

    def snapshot() -> dict[object, tuple[object, ...]]:
        with db.transaction() as session:
            return {
                row.lead_id: (row.lead_created_at, row.furthest_rank, row.tofu_at, row.mofu_at, row.bofu_at, row.mql_at)
                + (row.sal_at, row.sql_at, row.opportunity_at, row.customer_at)
                for row in session.exec(select(FunnelProgress))
            }

    kept = snapshot()
    ana = kept[uuid.UUID(lead_id)]
    assert ana[1] == FUNNEL_PATH.index("sal")
    assert all(at is not None for at in ana[2:7])
    assert ana[7:] == (None, None, None)
    assert sorted(row[1] for row in kept.values()) == [0, FUNNEL_PATH.index("sal")]
    with db.transaction() as session:
        assert rebuild_funnel_progress(session) == 2
    assert snapshot() == kept
    stages = {s["stage"]: s["count"] for s in client.get("/api/v1/analytics/funnel").json()["stages"]}
    assert (stages["tofu"], stages["mofu"], stages["mql"], stages["sal"], stages["sql"]) == (2, 1, 1, 1, 0)
