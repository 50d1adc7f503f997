"""Per-IP rate limits for public endpoints: a fixed-window counter per process.

In-memory on purpose: it protects one process from a flood without a round trip to a
shared store; with N replicas the effective budget is N times the setting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from fastapi import Request

from app.errors import RateLimited


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._lock = threading.Lock()
        self._window_start = clock()
        self._counts: dict[str, int] = {}

    def hit(self, key: str) -> None:
        """Count one request for `key`; raise RateLimited when over budget."""
        with self._lock:
            now = self.clock()
            if now - self._window_start >= 60:
                self._window_start, self._counts = now, {}
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
            if count > self.per_minute:
                raise RateLimited(retry_after=max(1, math.ceil(60 - (now - self._window_start))))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def public_rate_limit(bucket: str) -> Callable[[Request], None]:
    """A dependency: limit requests per client IP, one budget per `bucket` name."""

    def check(request: Request) -> None:
        limiters: dict[str, RateLimiter] = request.app.state.rate_limiters
        limiter = limiters.get(bucket)
        if limiter is None:
            limiter = limiters.setdefault(bucket, RateLimiter(request.app.state.settings.public_rate_limit_per_minute))
        limiter.hit(client_ip(request))

    return check
