"""The delivery worker: claim due webhook deliveries, POST them signed, record the outcome.

A claim is a lease: the rows' next_attempt_at moves past the time a batch can take, in a
short transaction (SKIP LOCKED on PostgreSQL), and the HTTP calls happen outside any
transaction. A worker killed after its claim loses nothing: the lease runs out and another
worker delivers the same rows, with the same webhook-id, so receivers can de-duplicate.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import httpcore
import httpx
from sqlmodel import Session, col, select

from app.db import Database, sqlite_claim_lock
from app.handoff.backoff import is_retryable, next_attempt, parse_retry_after
from app.handoff.signing import signature_header
from app.handoff.ssrf import PublicAddressesOnly, unsafe_reason
from app.models import WebhookDelivery, WebhookEndpoint
from app.scheduler import stopping
from app.settings import Settings
from app.types import utcnow

log = logging.getLogger(__name__)
BATCH_SIZE = 40
PARALLEL_SENDS = 8
EXCERPT_CHARS = 500
PARKED = "endpoint disabled: waits until the endpoint is enabled again"


@dataclass(frozen=True)
class Attempt:
    delivery_id: uuid.UUID
    status_code: int | None
    excerpt: str | None
    error: str | None
    retry_after: str | None


@dataclass(frozen=True)
class Outgoing:
    delivery_id: uuid.UUID
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0


def _lease(settings: Settings) -> timedelta:
    rounds = math.ceil(BATCH_SIZE / PARALLEL_SENDS) + 1
    return timedelta(seconds=rounds * settings.webhook_timeout_seconds + 30)


def _claim(session: Session, settings: Settings, now: datetime, is_sqlite: bool) -> list[WebhookDelivery]:
    statement = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", col(WebhookDelivery.next_attempt_at) <= now)
        .order_by(col(WebhookDelivery.next_attempt_at))
        .limit(BATCH_SIZE)
    )
    if not is_sqlite:
        statement = statement.with_for_update(skip_locked=True)
    rows = list(session.exec(statement).all())
    for row in rows:
        row.next_attempt_at = now + _lease(settings)
        session.add(row)
    return rows


def _outgoing(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime) -> Outgoing:
    body = json.dumps(delivery.payload, separators=(",", ":"), default=str).encode()
    # Receivers check webhook-timestamp against their own wall clock (replay protection),
    # so it is the real time of signing, not the scheduling clock.
    timestamp = int(time.time())
    message_id = f"msg_{delivery.id.hex}"
    secrets_in_use = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets_in_use.append(endpoint.previous_secret)
    headers = dict(endpoint.headers) | {
        "content-type": "application/json",
        "user-agent": "Leadnurture-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_in_use, message_id, timestamp, body),
    }
    return Outgoing(delivery.id, endpoint.url, headers, body)


def _send(client: httpx.Client, outgoing: Outgoing, production: bool) -> Attempt:
    # Re-checked at send time: DNS may point somewhere else than at registration.
    refused = unsafe_reason(outgoing.url, production=production)
    if refused:
        return Attempt(outgoing.delivery_id, 0, None, f"refused: {refused}", None)
    try:
        response = client.post(outgoing.url, content=outgoing.body, headers=outgoing.headers)
    except httpx.HTTPError as exc:
        return Attempt(outgoing.delivery_id, None, None, f"{type(exc).__name__}: {exc}"[:500], None)
    return Attempt(
        outgoing.delivery_id,
        response.status_code,
        response.text[:EXCERPT_CHARS],
        None,
        response.headers.get("retry-after"),
    )


def _record(
    settings: Settings,
    attempt: Attempt,
    delivery: WebhookDelivery | None,
    endpoints: dict[uuid.UUID, WebhookEndpoint],
    now: datetime,
    report: DeliveryReport,
    rng: random.Random | None,
) -> None:
    if delivery is None or delivery.status != "pending":
        return  # deleted with its endpoint, or re-sent by hand meanwhile
    endpoint = endpoints[delivery.endpoint_id]
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_response_excerpt = attempt.status_code, attempt.excerpt
    delivery.last_error = attempt.error
    if attempt.status_code is not None and 200 <= attempt.status_code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        endpoint.consecutive_dead = 0
        report.delivered += 1
        return
    retry_at = (
        next_attempt(delivery.attempts, now, parse_retry_after(attempt.retry_after, now), rng)
        if is_retryable(attempt.status_code)
        else None
    )
    if retry_at is not None:
        delivery.next_attempt_at = retry_at
        report.retrying += 1
        return
    delivery.status, delivery.next_attempt_at = "dead", None
    report.dead += 1
    _count_dead(endpoint, settings)


def _count_dead(endpoint: WebhookEndpoint, settings: Settings) -> None:
    endpoint.consecutive_dead += 1
    if endpoint.enabled and endpoint.consecutive_dead >= settings.webhook_disable_after:
        endpoint.enabled = False
        endpoint.disabled_reason = f"disabled after {endpoint.consecutive_dead} dead deliveries in a row"
        log.warning("webhook endpoint disabled", extra={"job": "webhooks"})


def deliver_due(
    db: Database,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """One pass: claim a batch of due deliveries, send them, record what happened."""
    now = clock()
    if db.is_sqlite:
        with sqlite_claim_lock, db.transaction() as session:
            outgoing = _prepare(session, settings, now, True)
    else:
        with db.transaction() as session:
            outgoing = _prepare(session, settings, now, False)
    report = DeliveryReport()
    if not outgoing:
        return report
    client = _client(settings.webhook_timeout_seconds, settings.webhook_connect_timeout_seconds, settings.is_production)
    with ThreadPoolExecutor(max_workers=PARALLEL_SENDS) as pool:
        attempts = list(pool.map(lambda o: _send(client, o, settings.is_production), outgoing))
    with db.transaction() as session:
        finished = clock()
        rows, endpoints = _load(session, [attempt.delivery_id for attempt in attempts])
        for attempt in attempts:
            _record(settings, attempt, rows.get(attempt.delivery_id), endpoints, finished, report, rng)
    return report


def _load(
    session: Session, delivery_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, WebhookDelivery], dict[uuid.UUID, WebhookEndpoint]]:
    """The batch's rows and their endpoints, one query each."""
    rows = session.exec(select(WebhookDelivery).where(col(WebhookDelivery.id).in_(delivery_ids))).all()
    return {row.id: row for row in rows}, _endpoints_of(session, rows)


def _endpoints_of(session: Session, rows: Sequence[WebhookDelivery]) -> dict[uuid.UUID, WebhookEndpoint]:
    if not rows:
        return {}
    ids = {row.endpoint_id for row in rows}
    return {e.id: e for e in session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.id).in_(ids))).all()}


@lru_cache(maxsize=4)
def _client(total: float, connect: float, production: bool) -> httpx.Client:
    """One pooled client per process: keep-alive connections and one TLS context across ticks."""
    limits = httpx.Limits(max_connections=PARALLEL_SENDS * 4, max_keepalive_connections=PARALLEL_SENDS * 2)
    transport = httpx.HTTPTransport(limits=limits)
    if production:
        # httpx has no public hook for the network backend; its connection pool takes one.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            network_backend=PublicAddressesOnly(),
        )
    return httpx.Client(timeout=httpx.Timeout(total, connect=connect), follow_redirects=False, transport=transport)


def _prepare(session: Session, settings: Settings, now: datetime, is_sqlite: bool) -> list[Outgoing]:
    rows = _claim(session, settings, now, is_sqlite)
    endpoints = _endpoints_of(session, rows)
    outgoing = []
    for row in rows:
        endpoint = endpoints[row.endpoint_id]
        if not endpoint.enabled:
            # Parked, not dead: enabling the endpoint again puts these back in the queue.
            row.next_attempt_at = None
            row.last_error = PARKED
            session.add(row)
            continue
        outgoing.append(_outgoing(row, endpoint, now))
    return outgoing


def webhook_delivery_job(db: Database, settings: Settings) -> None:
    """Scheduler tick: keep delivering while full batches come back."""
    while not stopping.is_set():
        report = deliver_due(db, settings)
        if report.delivered + report.retrying + report.dead < BATCH_SIZE:
            return
