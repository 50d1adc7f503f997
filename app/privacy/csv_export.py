"""Streaming CSV export of leads, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlmodel import select

from app.db import Database
from app.models import Lead

COLUMNS = [
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "country",
    "lifecycle_stage",
    "funnel_stage",
    "fit_score",
    "engagement_score",
    "consent",
    "first_utm_source",
    "first_utm_campaign",
    "last_utm_source",
    "last_utm_campaign",
    "owner",
    "created_at",
]
# A cell starting with one of these is a formula to Excel/Sheets/LibreOffice (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def stream_leads_csv(db: Database, batch_size: int = 1000) -> Iterator[bytes]:
    """Yield the CSV in chunks; memory stays flat however many leads there are."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    with db.engine.connect().execution_options(yield_per=batch_size, stream_results=True) as conn:
        statement = select(*[getattr(Lead, c) for c in COLUMNS]).where(Lead.erased_at.is_(None))  # type: ignore[union-attr]
        for partition in conn.execute(statement.order_by(Lead.created_at)).partitions():
            for row in partition:
                writer.writerow([spreadsheet_safe(v) for v in row])
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()
