"""Periodic hand-off work: the sales SLA check."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from app.db import Database
from app.handoff.sales import flag_sla_breach, unflagged_breaches
from app.settings import Settings
from app.types import utcnow

log = logging.getLogger(__name__)


def sla_job(db: Database, settings: Settings, clock: Callable[[], datetime] = utcnow) -> int:
    """Flag each MQL left without a sales decision past the SLA, once per episode."""
    now = clock()
    with db.transaction() as session:
        leads = unflagged_breaches(session, settings, now)
        for lead in leads:
            flag_sla_breach(session, settings, lead, now)
    if leads:
        log.info("sales SLA breached", extra={"job": "sla", "count": len(leads)})
    return len(leads)
