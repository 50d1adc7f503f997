"""The tables of the whole domain (SPEC §3). API schemas live beside their routers."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.types import JSONType, UTCDateTime, utcnow, uuid7

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class LifecycleStage(StrEnum):
    subscriber = "subscriber"
    lead = "lead"
    mql = "mql"
    sal = "sal"
    sql = "sql"
    opportunity = "opportunity"
    customer = "customer"
    recycled = "recycled"
    disqualified = "disqualified"


class FunnelStage(StrEnum):
    tofu = "tofu"
    mofu = "mofu"
    bofu = "bofu"


class Consent(StrEnum):
    pending = "pending"
    subscribed = "subscribed"
    unsubscribed = "unsubscribed"
    bounced = "bounced"
    complained = "complained"


class FormKind(StrEnum):
    contact = "contact"
    ebook = "ebook"
    webinar = "webinar"
    demo_request = "demo_request"
    newsletter = "newsletter"
    trial = "trial"


def _ts(*, index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


def _created_at() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _json(default: Any = dict) -> Any:
    return Field(default_factory=default, sa_column=Column(JSONType, nullable=False))


def _id() -> Any:
    return Field(default_factory=uuid7, primary_key=True)


class Lead(SQLModel, table=True):
    __table_args__ = (
        # The lead list pages newest first on (created_at, id), optionally within a stage: with
        # the id in the index the first page is an index scan that stops after 51 rows.
        Index("ix_lead_created_at_id", "created_at", "id"),
        Index("ix_lead_funnel_stage_engagement", "funnel_stage", "engagement_score"),
        Index("ix_lead_funnel_stage_created_at_id", "funnel_stage", "created_at", "id"),
        Index("ix_lead_lifecycle_stage", "lifecycle_stage"),
    )

    id: uuid.UUID = _id()
    email: str = Field(max_length=320, unique=True)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    job_title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    country: str | None = Field(default=None, max_length=100)
    company_size: int | None = None
    timezone: str | None = Field(default=None, max_length=64)
    custom: dict[str, Any] = _json()

    first_utm_source: str | None = Field(default=None, max_length=200, index=True)
    first_utm_medium: str | None = Field(default=None, max_length=200)
    first_utm_campaign: str | None = Field(default=None, max_length=200)
    first_utm_term: str | None = Field(default=None, max_length=200)
    first_utm_content: str | None = Field(default=None, max_length=200)
    first_referrer: str | None = Field(default=None, max_length=2000)
    first_landing_page: str | None = Field(default=None, max_length=2000)
    first_form_id: uuid.UUID | None = Field(default=None, foreign_key="form.id", index=True)
    last_utm_source: str | None = Field(default=None, max_length=200)
    last_utm_medium: str | None = Field(default=None, max_length=200)
    last_utm_campaign: str | None = Field(default=None, max_length=200)
    last_utm_term: str | None = Field(default=None, max_length=200)
    last_utm_content: str | None = Field(default=None, max_length=200)
    last_referrer: str | None = Field(default=None, max_length=2000)
    last_landing_page: str | None = Field(default=None, max_length=2000)
    last_touch_at: datetime | None = _ts()

    consent: str = Field(default=Consent.subscribed, max_length=20)
    consent_updated_at: datetime | None = _ts()

    lifecycle_stage: str = Field(default=LifecycleStage.lead, max_length=20)
    funnel_stage: str = Field(default=FunnelStage.tofu, max_length=10)
    # Latest intent signal of each funnel stage: the strongest one still fresh is exact
    # whatever order events arrive in, and a stale BOFU signal falls back to a fresh MOFU one.
    tofu_signal_at: datetime | None = _ts()
    mofu_signal_at: datetime | None = _ts()
    bofu_signal_at: datetime | None = _ts()
    # Last BOFU hand-raise (demo or trial request): the short path to MQL.
    hand_raise_at: datetime | None = _ts()
    fit_score: float = 0.0
    engagement_score: float = 0.0
    # engagement_score is exact at this instant; decay from here at read time.
    engagement_as_of: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    became_mql_at: datetime | None = _ts()
    mql_episode: int = 0
    owner: str | None = Field(default=None, max_length=320)
    visitor_id: str | None = Field(default=None, max_length=64, index=True)
    deal_amount: float | None = None
    deal_currency: str | None = Field(default=None, max_length=3)
    erased_at: datetime | None = _ts()
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()

    @property
    def is_mql(self) -> bool:
        """Qualified now: MQL or further down the sales path (not recycled or disqualified)."""
        return self.lifecycle_stage in ("mql", "sal", "sql", "opportunity", "customer")


class Form(SQLModel, table=True):
    id: uuid.UUID = _id()
    slug: str = Field(max_length=100, unique=True)
    name: str = Field(max_length=200)
    kind: str = Field(default=FormKind.contact, max_length=20)
    fields: list[dict[str, Any]] = _json(list)
    offer: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    stage_hint: str | None = Field(default=None, max_length=10)
    points: int = 0
    sequence_id: uuid.UUID | None = Field(default=None, foreign_key="sequence.id")
    redirect_url: str | None = Field(default=None, max_length=2000)
    double_opt_in: bool = False
    allowed_origins: list[str] = _json(list)
    honeypot_field: str | None = Field(default="website_url", max_length=100)
    archived_at: datetime | None = _ts()
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()


class FormView(SQLModel, table=True):
    """Hosted form page views per form and day (a counter, not a log: no personal data)."""

    __tablename__ = "form_view"
    form_id: uuid.UUID = Field(foreign_key="form.id", primary_key=True)
    day: str = Field(max_length=10, primary_key=True)
    views: int = 0


class Submission(SQLModel, table=True):
    """Immutable log of every accepted capture."""

    __table_args__ = (
        UniqueConstraint("form_id", "idempotency_key"),
        Index("ix_submission_form_id_received_at", "form_id", "received_at"),
    )

    id: uuid.UUID = _id()
    form_id: uuid.UUID = Field(foreign_key="form.id")
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="lead.id", index=True)
    payload: dict[str, Any] = _json()
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=500)
    referrer: str | None = Field(default=None, max_length=2000)
    attribution: dict[str, Any] = _json()
    idempotency_key: str | None = Field(default=None, max_length=200)
    # The answer first given for this submission, replayed for a retried Idempotency-Key.
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    received_at: datetime = _created_at()


class Event(SQLModel, table=True):
    """A lead's timeline. Anonymous page views carry a visitor_id until stitched."""

    __table_args__ = (
        Index("ix_event_lead_id_occurred_at", "lead_id", "occurred_at"),
        Index("ix_event_type_occurred_at", "type", "occurred_at"),
    )

    id: uuid.UUID = _id()
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="lead.id")
    visitor_id: str | None = Field(default=None, max_length=64, index=True)
    type: str = Field(max_length=40)
    properties: dict[str, Any] = _json()
    occurred_at: datetime = _created_at()
    recorded_at: datetime = _created_at()
    engagement_delta: float = 0.0
    fit_delta: float = 0.0
    # Points per scoring rule this event earned ({rule_id: points}), for explanations and caps.
    score_rules: dict[str, float] = _json()
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)


class StageChange(SQLModel, table=True):
    """Stage history: every funnel or lifecycle change with its time (analytics read it)."""

    __tablename__ = "stage_change"
    __table_args__ = (
        Index("ix_stage_change_lead_id_changed_at", "lead_id", "changed_at"),
        Index("ix_stage_change_to_stage_changed_at", "to_stage", "changed_at"),
    )

    id: uuid.UUID = _id()
    lead_id: uuid.UUID = Field(foreign_key="lead.id")
    kind: str = Field(max_length=10)  # "funnel" | "lifecycle"
    from_stage: str | None = Field(default=None, max_length=20)
    to_stage: str = Field(max_length=20)
    changed_at: datetime = _created_at()


class FunnelProgress(SQLModel, table=True):
    """Per lead, when it first reached each stage of the funnel path and how far it got.

    Kept up to date by every stage change (app/leads/stages.py), so the funnel and cohort
    analytics read one narrow row per lead instead of grouping the whole stage history.
    """

    __tablename__ = "funnel_progress"
    __table_args__ = (Index("ix_funnel_progress_lead_created_at", "lead_created_at", "furthest_rank"),)

    lead_id: uuid.UUID = Field(foreign_key="lead.id", primary_key=True)
    lead_created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    furthest_rank: int = 0  # index into FUNNEL_PATH of the furthest stage ever reached
    tofu_at: datetime | None = _ts()
    mofu_at: datetime | None = _ts()
    bofu_at: datetime | None = _ts()
    mql_at: datetime | None = _ts()
    sal_at: datetime | None = _ts()
    sql_at: datetime | None = _ts()
    opportunity_at: datetime | None = _ts()
    customer_at: datetime | None = _ts()


class ConsentRecord(SQLModel, table=True):
    """Evidence of every consent change: when, how, from where, and what the form said."""

    __tablename__ = "consent_record"
    id: uuid.UUID = _id()
    lead_id: uuid.UUID = Field(foreign_key="lead.id", index=True)
    consent: str = Field(max_length=20)
    source: str = Field(max_length=100)
    ip: str | None = Field(default=None, max_length=64)
    form_text: str | None = Field(default=None, max_length=2000)
    recorded_at: datetime = _created_at()


class Suppression(SQLModel, table=True):
    """Addresses that must never be mailed again, stored as a hash (survives erasure)."""

    email_hash: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=20)
    created_at: datetime = _created_at()


class ScoringModel(SQLModel, table=True):
    __tablename__ = "scoring_model"
    id: uuid.UUID = _id()
    version: int = Field(unique=True)
    config: dict[str, Any] = _json()
    active: bool = False
    created_at: datetime = _created_at()


class RescoreJob(SQLModel, table=True):
    __tablename__ = "rescore_job"
    id: uuid.UUID = _id()
    model_version: int
    state: str = Field(default="queued", max_length=20)
    done: int = 0
    total: int = 0
    error: str | None = Field(default=None, max_length=2000)
    # Resume point and lease: each batch commits its leads and this cursor together, so a job
    # whose worker died is picked up again where it stopped.
    last_lead_id: uuid.UUID | None = None
    heartbeat_at: datetime | None = _ts()
    created_at: datetime = _created_at()
    finished_at: datetime | None = _ts()


class Sequence(SQLModel, table=True):
    id: uuid.UUID = _id()
    name: str = Field(max_length=200)
    status: str = Field(default="draft", max_length=20)
    version: int = 1
    trigger: dict[str, Any] = _json()
    exit_when: list[Any] = _json(list)
    send_window: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    reentry: str = Field(default="never", max_length=40)
    throttle_per_minute: int | None = None
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()


class SequenceStep(SQLModel, table=True):
    """Steps belong to one version of a sequence; edits write a new version."""

    __tablename__ = "sequence_step"
    __table_args__ = (UniqueConstraint("sequence_id", "version", "position"),)

    id: uuid.UUID = _id()
    sequence_id: uuid.UUID = Field(foreign_key="sequence.id")
    version: int
    position: int
    type: str = Field(max_length=10)
    config: dict[str, Any] = _json()


class Enrollment(SQLModel, table=True):
    __table_args__ = (
        # A lead is in a sequence at most once at a time.
        Index(
            "uq_enrollment_active_lead_sequence",
            "lead_id",
            "sequence_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        # The dispatcher reads only what is due.
        Index(
            "ix_enrollment_due",
            "next_run_at",
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: uuid.UUID = _id()
    lead_id: uuid.UUID = Field(foreign_key="lead.id", index=True)
    sequence_id: uuid.UUID = Field(foreign_key="sequence.id", index=True)
    sequence_version: int
    status: str = Field(default="active", max_length=20)
    current_step: int = 0
    next_run_at: datetime | None = _ts()
    exit_reason: str | None = Field(default=None, max_length=40)
    enrolled_at: datetime = _created_at()
    finished_at: datetime | None = _ts()


class Message(SQLModel, table=True):
    """Every email sent or to be sent; unique per (enrollment, step) so nothing doubles."""

    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_position"),
        # The dispatcher claims queued rows and 'sending' ones whose lease ran out.
        Index(
            "ix_message_due",
            "next_attempt_at",
            sqlite_where=text("status IN ('queued', 'sending')"),
            postgresql_where=text("status IN ('queued', 'sending')"),
        ),
        Index("ix_message_lead_id_created_at", "lead_id", "created_at"),
        # Throttles count the last minute's messages, per sequence and overall.
        Index("ix_message_sequence_id_created_at", "sequence_id", "created_at"),
        Index("ix_message_created_at", "created_at"),
    )

    id: uuid.UUID = _id()
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="lead.id")
    enrollment_id: uuid.UUID | None = Field(default=None, foreign_key="enrollment.id")
    sequence_id: uuid.UUID | None = Field(default=None, foreign_key="sequence.id")
    step_position: int | None = None
    kind: str = Field(default="marketing", max_length=20)  # marketing | transactional
    to_address: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=500)
    html_body: str | None = None
    text_body: str | None = None
    # queued | sending | sent | bounced | failed | cancelled | unknown (handed to the SMTP
    # server by a worker that died before the answer was recorded: never sent again)
    status: str = Field(default="queued", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts()
    # Set, in the same commit as earlier answers, just before the message goes on the wire.
    handed_at: datetime | None = _ts()
    provider_message_id: str | None = Field(default=None, max_length=300)
    last_error: str | None = Field(default=None, max_length=2000)
    sent_at: datetime | None = _ts()
    opened_at: datetime | None = _ts()
    clicked_at: datetime | None = _ts()
    created_at: datetime = _created_at()


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"
    id: uuid.UUID = _id()
    url: str = Field(max_length=2000)
    events: list[str] = _json(list)
    # Signing needs the secret itself; it is shown once and never returned by the API.
    secret: str = Field(max_length=200)
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_expires_at: datetime | None = _ts()
    headers: dict[str, str] = _json()
    enabled: bool = True
    consecutive_dead: int = 0
    disabled_reason: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=500)
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()


class WebhookDelivery(SQLModel, table=True):
    """The outbox: written with the change that caused it, delivered by the worker."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_delivery_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    id: uuid.UUID = _id()
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoint.id")
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="lead.id", index=True)
    event_type: str = Field(max_length=50)
    payload: dict[str, Any] = _json()
    status: str = Field(default="pending", max_length=20)  # pending | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime | None = _ts()
    last_status_code: int | None = None
    last_response_excerpt: str | None = Field(default=None, max_length=1000)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _created_at()
    delivered_at: datetime | None = _ts()


class SalesRep(SQLModel, table=True):
    __tablename__ = "sales_rep"
    id: uuid.UUID = _id()
    email: str = Field(max_length=320, unique=True)
    name: str | None = Field(default=None, max_length=200)
    countries: list[str] = _json(list)
    active: bool = True
    last_assigned_at: datetime | None = _ts()


class SalesOutcome(SQLModel, table=True):
    """Pipeline outcomes reported by the CRM (SQL, opportunity, won, lost)."""

    __tablename__ = "sales_outcome"
    id: uuid.UUID = _id()
    lead_id: uuid.UUID = Field(foreign_key="lead.id", index=True)
    stage: str = Field(max_length=20)
    amount: float | None = None
    currency: str | None = Field(default=None, max_length=3)
    reason: str | None = Field(default=None, max_length=500)
    occurred_at: datetime = _created_at()


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    id: uuid.UUID = _id()
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=20)
    key_hash: str = Field(max_length=64, unique=True)
    scopes: list[str] = _json(list)
    created_at: datetime = _created_at()
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: uuid.UUID = _id()
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(max_length=300)
    role: str = Field(default="marketer", max_length=20)  # admin | marketer | viewer
    created_at: datetime = _created_at()


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    id: uuid.UUID = _id()
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100)
    target: str | None = Field(default=None, max_length=200)
    details: dict[str, Any] = _json()
    at: datetime = _created_at()
