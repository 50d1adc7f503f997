"""Incremental scoring in the database equals a full replay of the lead's history, whatever
order the events arrive in."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from app.db import Database
from app.leads.service import upsert_lead
from app.leads.timeline import record_event
from app.models import Event, Lead
from app.scoring.decay import decayed
from app.scoring.model import DEFAULT_MODEL
from app.scoring.recompute import Recomputed, recompute
from app.scoring.service import UNSCORED_EVENTS, signal_times
from app.settings import Settings
from app.types import utcnow
from tests.factories import make_form, submit
from tests.integration.scoring_data import ANA, post_event

HALF_LIFE = DEFAULT_MODEL.half_life_days
EVENT_KINDS = [
    ("page_viewed", {"url": "https://www.example.com/pricing"}),
    ("page_viewed", {"url": "https://www.example.com/case-studies/acme"}),
    ("page_viewed", {"url": "https://www.example.com/blog"}),
    ("email_opened", {}),
    ("email_clicked", {}),
    ("webinar_attended", {}),
    ("content_downloaded", {}),
    ("form_submitted", {"form_kind": "ebook"}),
    ("form_submitted", {"form_kind": "webinar"}),
    ("form_submitted", {"form_kind": "demo_request"}),
    ("custom", {}),
]
_emails = itertools.count()


def _replay(session: Session, lead: Lead) -> tuple[Recomputed, list[Event]]:
    statement = select(Event).where(Event.lead_id == lead.id, col(Event.type).not_in(UNSCORED_EVENTS))
    rows = list(session.exec(statement.order_by(col(Event.recorded_at), col(Event.id))).all())
    return recompute(DEFAULT_MODEL, rows, lead.created_at), rows


def test_out_of_order_events_score_as_if_in_order(client: TestClient, anon: TestClient, db: Database) -> None:
    make_form(client)
    submit(anon, **ANA)
    now = utcnow()
    for days_ago in (1, 20, 5):
        occurred_at = (now - timedelta(days=days_ago)).isoformat()
        post_event(client, email=ANA["email"], type="webinar_attended", occurred_at=occurred_at)
    expected = 10 + sum(20 * 0.5 ** (days / HALF_LIFE) for days in (1, 20, 5))  # the ebook form and three webinars
    with db.transaction() as session:
        lead = session.exec(select(Lead)).one()
        assert decayed(lead.engagement_score, lead.engagement_as_of, now, HALF_LIFE) == pytest.approx(
            expected, rel=1e-4
        )


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(EVENT_KINDS), st.integers(min_value=0, max_value=60 * 24)),
        min_size=1,
        max_size=15,
    )
)
def test_stored_scores_equal_a_full_recomputation_for_arbitrary_histories(
    db: Database, settings: Settings, history: list[tuple[tuple[str, dict[str, Any]], int]]
) -> None:
    """Hours ago jump around, so events arrive out of order; caps per day apply as recorded."""
    now = utcnow()
    with db.transaction() as session:
        lead, _ = upsert_lead(session, f"prop-{next(_emails)}@example.com")
        for (event_type, properties), hours_ago in history:
            record_event(session, settings, lead, event_type, properties, occurred_at=now - timedelta(hours=hours_ago))
        lead_id = lead.id
    with db.transaction() as session:
        stored = session.get(Lead, lead_id)
        assert stored is not None
        replay, rows = _replay(session, stored)
        assert decayed(stored.engagement_score, stored.engagement_as_of, now, HALF_LIFE) == pytest.approx(
            decayed(replay.engagement, replay.as_of, now, HALF_LIFE), abs=1e-6
        )
        assert {k: v for k, v in signal_times(stored).items() if v} == replay.signal_at
        assert stored.hand_raise_at == replay.hand_raise_at
        assert [row.score_rules for row in rows] == replay.earned
