"""Durations and send windows. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WAIT = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """ISO-8601 durations as sequences use them: P3D, PT4H, PT5S, P1W, P1DT12H."""
    match = DURATION.match(text.strip().upper()) if text else None
    if not match or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"'{text}' is not an ISO-8601 duration such as P3D, PT4H or PT5S")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    if not parts:
        raise ValueError(f"'{text}' is an empty duration")
    duration = timedelta(**parts)
    if duration > MAX_WAIT:
        raise ValueError("waits are at most a year")
    return duration


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@dataclass(frozen=True)
class SendWindow:
    days: tuple[str, ...]
    start: time
    end: time
    timezone: str

    @classmethod
    def from_config(cls, config: dict[str, object]) -> SendWindow:
        days = tuple(str(d).lower()[:3] for d in config.get("days") or DAYS)  # type: ignore[attr-defined]
        return cls(
            days,
            time.fromisoformat(str(config.get("start", "00:00"))),
            time.fromisoformat(str(config.get("end", "23:59"))),
            str(config.get("timezone") or "UTC"),
        )

    def next_open(self, at: datetime, lead_timezone: str | None) -> datetime:
        """`at` if the window is open then, else when it next opens, in the lead's zone."""
        tz = zone(lead_timezone, self.timezone)
        local = at.astimezone(tz)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            if DAYS[day.weekday()] not in self.days:
                continue
            opens = datetime.combine(day, self.start, tz)
            closes = datetime.combine(day, self.end, tz)
            if offset == 0 and opens <= local < closes:
                return at
            if local < opens:
                return opens.astimezone(at.tzinfo)
        return at + timedelta(days=7)  # no open day configured: validation prevents this
