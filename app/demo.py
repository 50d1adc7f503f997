"""`leadnurture demo`: a believable 90-day funnel so a first start shows something real.

Forms and sequences are created through the same services as the API (so they are valid and
editable); the history — leads, submissions, timeline events, stage changes, emails, sales
outcomes — is written in bulk with past timestamps, following typical B2B conversion:
inquiry→MQL ~20 %, MQL→SAL ~50 %, SAL→SQL ~60 %, SQL→won ~25 %.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from app.capture.forms import create_form
from app.capture.schemas import FormCreate
from app.db import Database
from app.errors import DomainError
from app.leads.stages import rebuild_funnel_progress
from app.models import (
    Enrollment,
    Event,
    Form,
    FormView,
    Lead,
    Message,
    SalesOutcome,
    Sequence,
    StageChange,
    Submission,
)
from app.nurture.schemas import SequenceIn
from app.nurture.service import create_sequence, set_status
from app.settings import Settings
from app.types import utcnow, uuid7

FORMS = [
    ("funnel-playbook", "The Funnel Playbook", "ebook", "tofu", 0.34),
    ("newsletter", "Monthly newsletter", "newsletter", "tofu", 0.22),
    ("webinar-scoring", "Webinar: lead scoring that sales trusts", "webinar", "mofu", 0.2),
    ("contact-us", "Contact us", "contact", "mofu", 0.1),
    ("book-a-demo", "Book a demo", "demo_request", "bofu", 0.1),
    ("free-trial", "Start a free trial", "trial", "bofu", 0.04),
]
SOURCES = [
    ("google", "cpc"),
    ("linkedin", "paid-social"),
    ("newsletter", "email"),
    ("partner", "referral"),
    (None, None),
]
FIRST = ["Ana", "Ben", "Chloé", "Dev", "Eva", "Finn", "Grace", "Hiro", "Ines", "Jon", "Kai", "Lena", "Marta", "Noah"]
LAST = ["Lima", "Schmidt", "Dubois", "Patel", "Kowalski", "Okafor", "Tanaka", "Rossi", "Silva", "Berg"]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Soylent"]
TITLES = [
    "VP Marketing",
    "Head of Growth",
    "Marketing Manager",
    "CMO",
    "Demand Gen Lead",
    "Analyst",
    "Student",
    "CEO",
    "Sales Director",
    "Engineer",
]
REJECTIONS = ["no_budget", "bad_timing", "no_authority", "no_need", "competitor"]


def _forms_and_sequences(session: Session) -> tuple[dict[str, Form], list[Sequence]]:
    forms = {}
    for slug, name, kind, stage, _ in FORMS:
        offer = {"title": f"{name} (PDF)", "url": "https://cdn.example.com/playbook.pdf"} if kind == "ebook" else None
        fields = [
            {"name": "email", "type": "email", "required": True},
            {"name": "first_name"},
            {"name": "company"},
            {"name": "job_title"},
        ]
        forms[slug] = create_form(
            session,
            FormCreate.model_validate(
                {"slug": slug, "name": name, "kind": kind, "stage_hint": stage, "fields": fields, "offer": offer}
            ),
        )
    email = {
        "type": "email",
        "subject": "{{ lead.first_name }}, your next step",
        "html": '<p>Hi {{ lead.first_name }}, <a href="https://www.example.com/case-study">see how others '
        "did it</a>.</p>",
        "text": "Hi {{ lead.first_name }}: https://www.example.com/case-study",
    }
    sequences = []
    for name, form in (
        ("Playbook nurture", "funnel-playbook"),
        ("Webinar follow-up", "webinar-scoring"),
        ("Recycled leads", None),
    ):
        trigger = {"type": "form_submitted", "form": form} if form else {"type": "sales_rejected"}
        steps = [
            email,
            {"type": "wait", "duration": "P3D"},
            email | {"subject": "A case study for {{ lead.company }}"},
            {"type": "wait", "duration": "P4D"},
            email | {"subject": "Ready to talk, {{ lead.first_name }}?"},
        ]
        sequence = create_sequence(
            session,
            SequenceIn.model_validate({"name": name, "trigger": trigger, "exit_when": ["became_mql"], "steps": steps}),
        )
        sequences.append(set_status(session, sequence, "active"))
    return forms, sequences


class _History:
    """Rows to insert in bulk, built lead by lead."""

    def __init__(self) -> None:
        # Parents before children, for the foreign keys.
        self.rows: dict[type, list[dict[str, Any]]] = {
            m: [] for m in (Lead, Submission, Enrollment, Message, Event, StageChange, SalesOutcome)
        }

    def add(self, model: type, **values: Any) -> uuid.UUID:
        values.setdefault("id", uuid7())
        self.rows[model].append(model(**values).model_dump())
        return uuid.UUID(str(values["id"]))

    def stage(self, lead_id: uuid.UUID, kind: str, old: str | None, new: str, at: datetime) -> None:
        self.add(StageChange, lead_id=lead_id, kind=kind, from_stage=old, to_stage=new, changed_at=at)
        if old is not None:
            self.add(
                Event,
                lead_id=lead_id,
                type="stage_changed",
                occurred_at=at,
                recorded_at=at,
                properties={"kind": kind, "from": old, "to": new},
            )

    def write(self, session: Session) -> None:
        for model, rows in self.rows.items():
            for start in range(0, len(rows), 2000):
                session.execute(insert(model), rows[start : start + 2000])


def _one_lead(
    history: _History, rng: random.Random, index: int, now: datetime, forms: dict[str, Form], sequences: list[Sequence]
) -> None:
    created = now - timedelta(days=90 * rng.random() ** 0.8, hours=rng.random() * 24)
    slug = rng.choices([f[0] for f in FORMS], weights=[f[4] for f in FORMS])[0]
    form = forms[slug]
    source, medium = rng.choice(SOURCES)
    title = rng.choice(TITLES)
    hot = form.kind in ("demo_request", "trial") or title in ("VP Marketing", "CMO", "Head of Growth", "CEO")
    path = ["lead"]
    if rng.random() < (0.38 if hot else 0.07):
        path.append("mql")
        if rng.random() < 0.5:
            path.append("sal")
            if rng.random() < 0.6:
                path.append("sql")
                if rng.random() < 0.6:
                    path.append("opportunity")
                    if rng.random() < 0.42:
                        path.append("customer")
    funnel = ["tofu"] + (["mofu"] if len(path) > 1 or rng.random() < 0.3 else []) + (["bofu"] if len(path) > 1 else [])
    rejected = len(path) == 2 and rng.random() < 0.5
    consent = "subscribed"
    roll = rng.random()
    if roll < 0.04:
        consent = "unsubscribed"
    elif roll < 0.06:
        consent = "bounced"
    email = f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}{index}@{rng.choice(COMPANIES).lower().replace(' ', '')}.example"
    lifecycle = "recycled" if rejected else path[-1]
    funnel_times = [created]
    for _ in funnel[1:]:
        funnel_times.append(funnel_times[-1] + timedelta(days=rng.uniform(0.5, 6)))
    mql_at = min(funnel_times[-1] + timedelta(days=rng.uniform(0.2, 3)), now) if len(path) > 1 else None
    lead_id = history.add(
        Lead,
        email=email,
        first_name=email.split(".")[0].title(),
        company=rng.choice(COMPANIES),
        job_title=title,
        consent=consent,
        lifecycle_stage=lifecycle,
        funnel_stage=funnel[-1],
        fit_score=35 if hot else 5,
        engagement_score=round(rng.uniform(5, 70 if hot else 30), 1),
        engagement_as_of=now,
        created_at=created,
        updated_at=created,
        first_utm_source=source,
        first_utm_medium=medium,
        last_utm_source=source,
        first_form_id=form.id,
        became_mql_at=mql_at,
        mql_episode=1 if mql_at else 0,
        owner="sam@example.com" if len(path) > 2 else None,
    )
    history.add(
        Submission,
        form_id=form.id,
        lead_id=lead_id,
        payload={"email": email},
        received_at=created,
        attribution={"utm_source": source} if source else {},
    )
    history.add(
        Event,
        lead_id=lead_id,
        type="form_submitted",
        occurred_at=created,
        recorded_at=created,
        engagement_delta=10,
        properties={"form_slug": slug, "form_kind": form.kind},
    )
    history.stage(lead_id, "lifecycle", None, "lead", created)
    history.stage(lead_id, "funnel", None, "tofu", created)
    for old, new, when in zip(funnel, funnel[1:], funnel_times[1:], strict=False):
        history.stage(lead_id, "funnel", old, new, min(when, now))
    at = mql_at or created
    for old, new in zip(path, path[1:], strict=False):
        history.stage(lead_id, "lifecycle", old, new, min(at, now))
        at += timedelta(days=rng.uniform(1, 14))
    if mql_at:
        history.add(
            Event,
            lead_id=lead_id,
            type="became_mql",
            occurred_at=mql_at,
            recorded_at=mql_at,
            properties={"episode": 1, "reason": "demo"},
        )
    if rejected and mql_at:
        history.stage(lead_id, "lifecycle", "mql", "recycled", min(mql_at + timedelta(hours=rng.uniform(1, 30)), now))
    if "customer" in path:
        history.add(
            SalesOutcome,
            lead_id=lead_id,
            stage="won",
            amount=round(rng.uniform(8, 60)) * 1000,
            currency="EUR",
            occurred_at=min(at, now),
        )
    elif "opportunity" in path and rng.random() < 0.5:
        history.add(SalesOutcome, lead_id=lead_id, stage="lost", occurred_at=min(at, now), reason="competitor")
    _emails(history, rng, lead_id, email, created, now, sequences, slug, consent)


def _emails(
    history: _History,
    rng: random.Random,
    lead_id: uuid.UUID,
    email: str,
    created: datetime,
    now: datetime,
    sequences: list[Sequence],
    slug: str,
    consent: str,
) -> None:
    sequence = sequences[0] if slug == "funnel-playbook" else sequences[1] if slug == "webinar-scoring" else None
    if sequence is None:
        return
    enrollment = history.add(
        Enrollment,
        lead_id=lead_id,
        sequence_id=sequence.id,
        sequence_version=1,
        status="completed",
        current_step=5,
        enrolled_at=created,
        finished_at=created,
    )
    for step, delay in ((0, 0), (2, 3), (4, 7)):
        sent = created + timedelta(days=delay, minutes=5)
        if sent > now:
            break
        bounced = consent == "bounced" and step == 0
        opened = None if bounced or rng.random() > 0.45 else sent + timedelta(hours=rng.uniform(0.2, 30))
        clicked = opened + timedelta(minutes=3) if opened and rng.random() < 0.3 else None
        message = history.add(
            Message,
            lead_id=lead_id,
            enrollment_id=enrollment,
            sequence_id=sequence.id,
            step_position=step,
            kind="marketing",
            to_address=email,
            subject="Nurture",
            status="bounced" if bounced else "sent",
            attempts=1,
            sent_at=sent,
            created_at=sent,
            opened_at=opened,
            clicked_at=clicked,
        )
        if bounced:
            break
        for kind, when in (("email_sent", sent), ("email_opened", opened), ("email_clicked", clicked)):
            if when is not None:
                history.add(
                    Event,
                    lead_id=lead_id,
                    type=kind,
                    occurred_at=when,
                    recorded_at=when,
                    properties={"message_id": str(message), "sequence_id": str(sequence.id), "step": step},
                )


def build_demo(db: Database, settings: Settings, *, leads: int, seed: int) -> dict[str, int]:
    """Fill an empty database with the demo funnel; refuses to touch one that has forms."""
    rng = random.Random(seed)
    now = utcnow()
    with db.transaction() as session:
        if session.exec(select(Form.id)).first() is not None:
            raise DomainError("the database already has forms; run the demo on an empty database")
        forms, sequences = _forms_and_sequences(session)
        history = _History()
        for index in range(leads):
            _one_lead(history, rng, index, now, forms, sequences)
        history.write(session)
        rebuild_funnel_progress(session)  # the history went in as a bulk load
        for day in range(90):
            for form in forms.values():
                date = (now - timedelta(days=day)).date().isoformat()
                session.add(FormView(form_id=form.id, day=date, views=rng.randint(20, 90)))
    with db.transaction() as session:
        count = session.exec(select(Lead.id).where(col(Lead.lifecycle_stage) == "customer")).all()
    return {
        "forms": len(forms),
        "sequences": len(sequences),
        "leads": leads,
        "events": len(history.rows[Event]),
        "emails": len(history.rows[Message]),
        "customers": len(count),
    }
