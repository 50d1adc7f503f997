"""`leadnurture demo` builds a believable funnel on an empty database, and only there."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.analytics.queries import Scope, funnel
from app.db import Database
from app.demo import build_demo
from app.errors import DomainError
from app.settings import Settings
from app.types import utcnow


def test_demo_funnel_has_typical_conversion(db: Database, settings: Settings) -> None:
    counts = build_demo(db, settings, leads=2000, seed=7)
    assert counts["leads"] == 2000
    assert counts["emails"] > 1000
    with db.transaction() as session:
        stages = {
            s["stage"]: s["count"]
            for s in funnel(session, Scope(utcnow() - timedelta(days=91), utcnow() + timedelta(days=1)))["stages"]
        }
    assert 0.10 <= stages["mql"] / stages["tofu"] <= 0.25
    assert 0.40 <= stages["sal"] / stages["mql"] <= 0.60
    assert 0.45 <= stages["sql"] / stages["sal"] <= 0.70
    assert 0.15 <= stages["won"] / stages["sql"] <= 0.35
    with pytest.raises(DomainError):
        build_demo(db, settings, leads=10, seed=1)
