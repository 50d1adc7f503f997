"""Incremental scoring in the database equals a full replay of the lead's history, whatever
order the events arrive in."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
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


def _wait_for_a_blocked_transaction(db: Database) -> None:
    """Poll PostgreSQL until some backend waits on a row lock (the second writer arrived)."""
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    deadline = time.monotonic() + 10
    with db.engine.connect() as conn:
        while conn.execute(text(waiting)).scalar_one() == 0:
            conn.rollback()  # pg_stat_activity is a snapshot frozen for the rest of a transaction
            assert time.monotonic() < deadline, "the second transaction never reached the lead's row lock"
            time.sleep(0.01)


def test_concurrent_events_for_one_lead_both_count(db: Database, settings: Settings, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite transactions take the write lock up front: writers never interleave")
    with db.transaction() as session:
        lead_id = upsert_lead(session, "race@example.com")[0].id

    failures: list[BaseException] = []

    def webinar_attended() -> None:
        try:
            with db.transaction() as session:
                lead = session.get(Lead, lead_id)
                assert lead is not None
                record_event(session, settings, lead, "webinar_attended")
        except BaseException as exc:  # surfaced in the test below, not lost in the thread
            failures.append(exc)

    with db.transaction() as first:
        lead = first.get(Lead, lead_id)
        assert lead is not None
        record_event(first, settings, lead, "webinar_attended")
        second = threading.Thread(target=webinar_attended)
        second.start()
        _wait_for_a_blocked_transaction(db)
    second.join(timeout=30)
    assert failures == []
    with db.transaction() as session:
        stored = session.get(Lead, lead_id)
        assert stored is not None
        assert decayed(stored.engagement_score, stored.engagement_as_of, utcnow(), HALF_LIFE) == pytest.approx(
            40, abs=0.01
        )
