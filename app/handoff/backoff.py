"""When to try a webhook delivery again. Pure."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

# About a day in all: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (then dead).
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(SCHEDULE) + 1
MAX_RETRY_AFTER = timedelta(hours=24)
RETRYABLE_STATUS = frozenset({408, 425, 429})


def is_retryable(status_code: int | None) -> bool:
    """Network errors (None), timeouts, rate limits and server errors are worth retrying."""
    return status_code is None or status_code in RETRYABLE_STATUS or status_code >= 500


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    if value.strip().isdigit():
        return min(timedelta(seconds=int(value.strip())), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(when - now, timedelta(0)), MAX_RETRY_AFTER)


def next_attempt(
    attempts_made: int,
    now: datetime,
    retry_after: timedelta | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again after `attempts_made` failed attempts, or None when it is time to give up."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    base = SCHEDULE[attempts_made - 1]
    jitter = (rng or random).uniform(0.9, 1.1)  # spread retries so a recovering receiver is not stampeded
    delay = base * jitter
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return now + delay
