"""Analytics queries against a small hand-made funnel with known answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.analytics.queries import Scope, cohorts, funnel, sequences, velocity
from app.db import Database
from app.leads.stages import rebuild_funnel_progress
from app.models import Enrollment, Lead, Message, SalesOutcome, Sequence, StageChange
from app.types import utcnow

# 10 leads: all TOFU; 6 MOFU; 4 BOFU; 3 MQL; 2 SAL; 2 SQL; 1 opportunity; 1 won (deal 10,000 in 20 days).
PATHS = (
    [["tofu"]] * 4
    + [["tofu", "mofu"]] * 2
    + [["tofu", "mofu", "bofu"]]
    + [["tofu", "mofu", "bofu", "mql"]]
    + [["tofu", "mofu", "bofu", "mql", "sal", "sql"]]
    + [["tofu", "mofu", "bofu", "mql", "sal", "sql", "opportunity", "customer"]]
)


@pytest.fixture
def small_funnel(db: Database) -> None:
    start = utcnow() - timedelta(days=30)
    with db.transaction() as session:
        for i, path in enumerate(PATHS):
            lead = Lead(email=f"f{i}@example.com", created_at=start, first_utm_source="ads" if i % 2 else "seo")
            session.add(lead)
            session.flush()
            for day, stage in enumerate(path):
                kind = "funnel" if stage in ("tofu", "mofu", "bofu") else "lifecycle"
                session.add(
                    StageChange(lead_id=lead.id, kind=kind, to_stage=stage, changed_at=start + timedelta(days=2 * day))
                )
            if "customer" in path:
                session.add(
                    SalesOutcome(
                        lead_id=lead.id,
                        stage="won",
                        amount=10_000,
                        currency="EUR",
                        occurred_at=start + timedelta(days=20),
                    )
                )
        session.flush()
        rebuild_funnel_progress(session)  # the history above was written directly, as a bulk load would
        lost = session.get(
            Lead, session.exec(__import__("sqlmodel").select(Lead.id).where(Lead.email == "f8@example.com")).one()
        )
        assert lost is not None
        session.add(SalesOutcome(lead_id=lost.id, stage="lost", occurred_at=start + timedelta(days=15)))


def _scope() -> Scope:
    return Scope(utcnow() - timedelta(days=90), utcnow() + timedelta(days=1))


@pytest.mark.usefixtures("small_funnel")
def test_funnel_counts_conversions_and_time_in_stage(db: Database) -> None:
    with db.transaction() as session:
        result = funnel(session, _scope())
    counts = {s["stage"]: s["count"] for s in result["stages"]}
    assert counts == {"tofu": 10, "mofu": 6, "bofu": 4, "mql": 3, "sal": 2, "sql": 2, "opportunity": 1, "won": 1}
    tofu = result["stages"][0]
    assert (tofu["conversion_to_next"], tofu["drop_off"]) == (0.6, 4)
    assert result["overall_conversion"] == 0.1
    assert tofu["median_days"] == 2.0  # every step of the fixture takes two days


@pytest.mark.usefixtures("small_funnel")
def test_velocity_from_opportunities_win_rate_deal_size_and_cycle(db: Database) -> None:
    with db.transaction() as session:
        result = velocity(session, _scope())
    assert result["opportunities"] == 1
    assert (result["won"], result["lost"], result["win_rate"]) == (1, 1, 0.5)
    assert result["average_deal_size"] == 10_000
    assert result["sales_cycle_days"] == 20
    assert result["velocity_per_day"] == 250.0  # 1 × 0.5 × 10,000 ÷ 20


@pytest.mark.usefixtures("small_funnel")
def test_cohort_table_shares_reaching_mql(db: Database) -> None:
    with db.transaction() as session:
        result = cohorts(session, _scope(), weeks=4)
    [cohort] = result["cohorts"]
    assert cohort["leads"] == 10
    assert cohort["mql_share_by_week"] == [0.3, 0.3, 0.3, 0.3]  # MQL on day 6: within the first week
    assert cohort["won_share"] == 0.1


@pytest.mark.usefixtures("small_funnel")
def test_filters_narrow_the_leads(db: Database) -> None:
    with db.transaction() as session:
        result = funnel(session, Scope(utcnow() - timedelta(days=90), utcnow() + timedelta(days=1), utm_source="ads"))
    assert result["leads"] == 5


def test_analytics_api_end_to_end(client: TestClient, anon: TestClient) -> None:
    from tests.factories import make_form, submit

    make_form(client)
    anon.get("/forms/funnel-ebook")
    anon.get("/forms/funnel-ebook")
    submit(anon, email="ana@acme-corp.com", utm_source="linkedin")
    forms = client.get("/api/v1/analytics/forms").json()
    assert forms[0]["views"] == 2
    assert forms[0]["submissions"] == 1
    assert forms[0]["conversion_rate"] == 0.5
    assert forms[0]["by_source"] == {"linkedin": 1}
    funnel_answer = client.get("/api/v1/analytics/funnel", params={"form": "funnel-ebook"}).json()
    assert funnel_answer["stages"][0]["count"] == 1
    for name in ("cohorts", "velocity", "sequences"):
        assert client.get(f"/api/v1/analytics/{name}").status_code == 200
    assert client.get("/api/v1/analytics/funnel", params={"form": "nope"}).status_code == 404
    bad = client.get(
        "/api/v1/analytics/funnel",
        params={"created_from": "2026-12-01T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"},
    )
    assert bad.status_code == 422


def test_sequence_performance_per_step(db: Database) -> None:
    """4 leads get step 0 (one bounces, two open, one clicks); 2 get step 1 (one opens); one unsubscribes."""
    now = utcnow()
    with db.transaction() as session:
        sequence = Sequence(name="Playbook nurture", status="active")
        session.add(sequence)
        session.flush()
        for i in range(4):
            lead = Lead(email=f"s{i}@example.com", created_at=now - timedelta(days=3))
            session.add(lead)
            session.flush()
            enrollment = Enrollment(
                lead_id=lead.id,
                sequence_id=sequence.id,
                sequence_version=1,
                status="exited" if i == 3 else "active",
                exit_reason="unsubscribed" if i == 3 else None,
            )
            session.add(enrollment)
            session.flush()
            first = Message(
                lead_id=lead.id,
                enrollment_id=enrollment.id,
                sequence_id=sequence.id,
                step_position=0,
                status="bounced" if i == 0 else "sent",
                opened_at=now if i in (1, 2) else None,
                clicked_at=now if i == 1 else None,
            )
            session.add(first)
            if i in (1, 2):
                second = Message(
                    lead_id=lead.id,
                    enrollment_id=enrollment.id,
                    sequence_id=sequence.id,
                    step_position=1,
                    status="sent",
                    opened_at=now if i == 1 else None,
                )
                session.add(second)
    with db.transaction() as session:
        (answer,) = sequences(session, _scope())
    assert (answer["sent"], answer["delivered"], answer["bounces"]) == (6, 5, 1)
    assert (answer["unique_opens"], answer["unique_clicks"], answer["unsubscribes"]) == (3, 1, 1)
    first, second = answer["steps"]
    assert first == {
        "step": 0,
        "sent": 4,
        "delivered": 3,
        "unique_opens": 2,
        "unique_clicks": 1,
        "bounces": 1,
        "open_rate": 0.6667,
        "click_rate": 0.3333,
    }
    assert (second["sent"], second["delivered"], second["open_rate"], second["click_rate"]) == (2, 2, 0.5, 0.0)
