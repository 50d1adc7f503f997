"""ISO-8601 waits and send windows in the lead's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from app.nurture.schedule import SendWindow, parse_duration

OFFICE = SendWindow(("mon", "tue", "wed", "thu", "fri"), time(9), time(17), "Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P3D", timedelta(days=3)),
        ("PT4H", timedelta(hours=4)),
        ("PT5S", timedelta(seconds=5)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT12H30M", timedelta(days=1, hours=12, minutes=30)),
        ("pt1s", timedelta(seconds=1)),
    ],
)
def test_durations_sequences_use(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "3D", "P1Y", "PT1.5H", "P400D", "-P1D"])
def test_durations_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration|year"):
        parse_duration(text)


def test_inside_the_window_sends_now() -> None:
    tuesday_10_berlin = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 CET
    assert OFFICE.next_open(tuesday_10_berlin, None) == tuesday_10_berlin


def test_after_hours_waits_for_the_next_morning_in_the_leads_zone() -> None:
    tuesday_evening = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    # The lead lives in New York: 15:00 there, inside the window; the sequence's zone is ignored.
    assert OFFICE.next_open(tuesday_evening, "America/New_York") == tuesday_evening
    # In Tokyo it is 05:00 on Wednesday: the window opens at 09:00 Tokyo time (00:00 UTC).
    assert OFFICE.next_open(tuesday_evening, "Asia/Tokyo") == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def test_friday_evening_waits_for_monday() -> None:
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 19:00 in Berlin
    assert OFFICE.next_open(friday_evening, None) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_an_unknown_lead_zone_falls_back_to_the_windows() -> None:
    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert OFFICE.next_open(sunday, "Mars/Olympus") == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_window_opening_follows_daylight_saving_time() -> None:
    # Saturday before the spring change in Berlin: Monday 09:00 is 07:00 UTC (CEST), not 08:00.
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert OFFICE.next_open(saturday, None) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
