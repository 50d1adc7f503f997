"""`leadnurture demo`: a believable funnel so a first start shows something real."""

from __future__ import annotations

from app.db import Database
from app.errors import DomainError
from app.settings import Settings


def build_demo(db: Database, settings: Settings, *, leads: int, seed: int) -> dict[str, int]:
    raise DomainError("the demo funnel is not built yet (issue #7)")
