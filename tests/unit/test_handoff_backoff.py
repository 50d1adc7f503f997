"""Retry schedule: about a day of backoff with jitter, Retry-After honoured, then give up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from app.handoff.backoff import MAX_ATTEMPTS, SCHEDULE, is_retryable, next_attempt, parse_retry_after

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_the_schedule_spans_about_a_day_in_seven_retries() -> None:
    assert MAX_ATTEMPTS == 8
    assert timedelta(hours=20) < sum(SCHEDULE, timedelta()) < timedelta(hours=30)
    assert list(SCHEDULE) == sorted(SCHEDULE)


@pytest.mark.parametrize("attempts", range(1, MAX_ATTEMPTS))
def test_each_retry_waits_its_step_within_ten_percent_jitter(attempts: int) -> None:
    step = SCHEDULE[attempts - 1]
    waits = {next_attempt(attempts, NOW, rng=random.Random(seed)) for seed in range(20)}
    assert all(w is not None and step * 0.9 <= w - NOW <= step * 1.1 for w in waits)
    assert len(waits) > 1  # jittered: a recovering receiver is not hit by every retry at once


def test_after_the_last_attempt_it_gives_up() -> None:
    assert next_attempt(MAX_ATTEMPTS, NOW) is None


def test_a_longer_retry_after_wins_over_the_schedule_a_shorter_one_does_not() -> None:
    assert next_attempt(1, NOW, retry_after=timedelta(hours=1)) == NOW + timedelta(hours=1)
    when = next_attempt(3, NOW, retry_after=timedelta(seconds=1), rng=random.Random(1))
    assert when is not None
    assert when - NOW > timedelta(minutes=25)


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("120", timedelta(seconds=120)),
        (" 7 ", timedelta(seconds=7)),
        ("Tue, 24 Nov 2026 10:30:00 GMT", timedelta(minutes=30)),
        ("Tue, 24 Nov 2026 09:00:00 GMT", timedelta(0)),
        ("999999999", timedelta(hours=24)),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_in_seconds_or_as_a_date_capped_at_a_day(header: str | None, wait: timedelta | None) -> None:
    assert parse_retry_after(header, NOW) == wait


@pytest.mark.parametrize(("status", "retry"), [(None, True), (408, True), (429, True), (500, True), (503, True)])
def test_network_errors_timeouts_rate_limits_and_server_errors_are_retried(status: int | None, retry: bool) -> None:
    assert is_retryable(status) is retry


@pytest.mark.parametrize("status", [0, 400, 401, 403, 404, 410, 413, 422])
def test_other_client_errors_and_refusals_are_not_retried(status: int) -> None:
    assert not is_retryable(status)
