"""In-process domain events.

Publishers (capture, scoring, hand-off) do not call the modules that react to them; they
publish an event and subscribers run synchronously inside the publisher's transaction, so
whatever they write (scores, enrollments, webhook outbox rows) commits or rolls back with
the change that caused it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session

from app.models import Event
from app.settings import Settings


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base class; every event carries the session it happened in and the settings."""

    session: Session = field(repr=False)
    settings: Settings = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class LeadCaptured(DomainEvent):
    lead_id: uuid.UUID
    form_id: uuid.UUID | None = None
    submission_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    is_new_lead: bool = False


@dataclass(frozen=True, kw_only=True)
class LeadEventRecorded(DomainEvent):
    """A timeline event (page view, email click, custom...) was added for a lead.

    Subscribers get the row itself, before it is flushed, so what they set on it (points)
    goes out in the same INSERT.
    """

    lead_id: uuid.UUID
    row: Event = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class LeadFieldsChanged(DomainEvent):
    """Contact fields were edited (fit depends on them)."""

    lead_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class StageChanged(DomainEvent):
    lead_id: uuid.UUID
    kind: str = "funnel"  # "funnel" | "lifecycle"
    from_stage: str | None = None
    to_stage: str
    at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class BecameMQL(DomainEvent):
    lead_id: uuid.UUID
    episode: int = 1
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ConsentChanged(DomainEvent):
    lead_id: uuid.UUID
    consent: str = ""


@dataclass(frozen=True, kw_only=True)
class SalesRejected(DomainEvent):
    lead_id: uuid.UUID
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class LeadErased(DomainEvent):
    """Published just before a lead's personal data is scrubbed."""

    lead_id: uuid.UUID


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], None]

_subscribers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E]) -> Callable[[Callable[[E], None]], Callable[[E], None]]:
    """Decorator: run the function for every published event of `event_type`."""

    def register(handler: Callable[[E], None]) -> Callable[[E], None]:
        if handler not in _subscribers[event_type]:
            _subscribers[event_type].append(handler)
        return handler

    return register


def publish(event: DomainEvent) -> None:
    for handler in _subscribers[type(event)]:
        handler(event)
