"""Per-sequence numbers: enrollments, sends, unique opens and clicks, opt-outs, MQLs produced."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from app.models import Enrollment, Event, Message

MQL_WINDOW_DAYS = 30


def sequence_stats(session: Session, sequence_id: uuid.UUID) -> dict[str, Any]:
    by_status = dict(
        session.exec(
            select(Enrollment.status, func.count())
            .where(Enrollment.sequence_id == sequence_id)
            .group_by(col(Enrollment.status))
        ).all()
    )
    exits = dict(
        session.exec(
            select(Enrollment.exit_reason, func.count())
            .where(Enrollment.sequence_id == sequence_id, Enrollment.status == "exited")
            .group_by(col(Enrollment.exit_reason))
        ).all()
    )
    sent, opened, clicked, bounced = session.exec(
        select(
            func.count().filter(col(Message.status) == "sent"),
            func.count().filter(col(Message.opened_at).is_not(None)),
            func.count().filter(col(Message.clicked_at).is_not(None)),
            func.count().filter(col(Message.status) == "bounced"),
        ).where(Message.sequence_id == sequence_id)
    ).one()
    window = timedelta(days=MQL_WINDOW_DAYS)
    qualified = session.exec(
        select(Enrollment.lead_id, Enrollment.enrolled_at, Event.occurred_at)
        .join(
            Event,
            and_(
                col(Event.lead_id) == col(Enrollment.lead_id),
                col(Event.type) == "became_mql",
                col(Event.occurred_at) >= col(Enrollment.enrolled_at),
            ),
        )
        .where(Enrollment.sequence_id == sequence_id)
    ).all()
    mqls = len({lead_id for lead_id, enrolled_at, became in qualified if became - enrolled_at <= window})
    enrolled = sum(by_status.values())
    return {
        "enrolled": enrolled,
        "active": by_status.get("active", 0),
        "completed": by_status.get("completed", 0),
        "exited": by_status.get("exited", 0),
        "exited_by_reason": exits,
        "sent": sent,
        "unique_opens": opened,
        "unique_clicks": clicked,
        "open_rate": round(opened / sent, 4) if sent else 0.0,
        "click_rate": round(clicked / sent, 4) if sent else 0.0,
        "unsubscribes": exits.get("unsubscribed", 0),
        "bounces": bounced,
        "mqls_within_30_days": mqls,
    }
