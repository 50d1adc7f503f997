"""The marketer's web UI under /ui: server-rendered pages over the same services as the API."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import col, select

from app.access.users import verify_login
from app.analytics import queries
from app.analytics.queries import Scope
from app.api.deps import SessionDep, SettingsDep
from app.api.ratelimit import public_rate_limit
from app.capture.forms import create_form, embed_html, get_live_form, list_forms
from app.capture.schemas import FormCreate
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.handoff.endpoints import WebhookCreate, create_endpoint, deliveries, get_endpoint, retry_delivery
from app.handoff.sales import SalesDecision, breached_mqls, decide
from app.leads.service import LeadFilter, get_lead, list_leads
from app.leads.timeline import timeline
from app.models import Enrollment, FormKind, Sequence, StageChange, WebhookDelivery, WebhookEndpoint
from app.nurture.machine import LIFECYCLE, STAGES
from app.nurture.schemas import SequenceIn, SequencePublic, SequenceUpdate
from app.nurture.service import create_sequence, get_sequence, sequence_public, set_status, update_sequence
from app.nurture.stats import sequence_stats
from app.nurture.templating import SAMPLE_LEAD, check_template, lead_context, render
from app.pages import templates
from app.scoring.explain import explain
from app.scoring.jobs import start_rescore
from app.scoring.model import ScoringModelConfig
from app.scoring.service import active_model, save_model
from app.types import utcnow
from app.ui.auth import LoginRequired, UiSession, end_session, read_session, start_session
from app.ui.charts import bars_svg, funnel_svg
from app.ui.sequence_form import (
    DAY_NAMES,
    SequenceDraft,
    StepDraft,
    add_step,
    describe_duration,
    draft_from_definition,
    draft_from_form,
    field_errors,
    move_step,
    remove_step,
    sequence_payload,
    starter_draft,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
LOGIN_CSRF = "ln_login_csrf"


def ui_session(request: Request, settings: SettingsDep) -> UiSession:
    return read_session(request, settings)


UiDep = Annotated[UiSession, Depends(ui_session)]
CsrfField = Annotated[str, Form(alias="csrf_token")]


def problem(exc: Exception) -> str:
    """A marketer-readable sentence for what was wrong with a submitted editor form."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, DomainError):
        return str(exc.detail)
    return f"not valid JSON: {exc}"


def page(request: Request, name: str, ui: UiSession | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, f"ui/{name}.html", {"ui": ui, **context}, status_code=status_code)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(request, "login", None, csrf=token, error=None)
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", path="/ui/login")
    return response


@router.post("/login", response_model=None, dependencies=[Depends(public_rate_limit("login"))])
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: CsrfField,
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not secrets.compare_digest(expected, csrf):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again")
    user = verify_login(session, email, password)
    if user is None:
        return page(request, "login", None, status_code=401, csrf=expected, error="Wrong email or password.")
    response = RedirectResponse("/ui", status_code=303)
    start_session(response, settings, user)
    response.delete_cookie(LOGIN_CSRF, path="/ui/login")
    return response


@router.post("/logout")
def logout(ui: UiDep, csrf: CsrfField) -> Response:
    ui.check_csrf(csrf)
    response = RedirectResponse("/ui/login", status_code=303)
    end_session(response)
    return response


def _last_90_days() -> Scope:
    now = utcnow()
    return Scope(now - timedelta(days=90), now + timedelta(seconds=1))


def _mqls_per_week(session: SessionDep) -> list[tuple[str, int]]:
    since = utcnow() - timedelta(weeks=12)
    days = list(
        session.exec(
            select(StageChange.changed_at).where(StageChange.to_stage == "mql", col(StageChange.changed_at) >= since)
        ).all()
    )
    weeks: dict[str, int] = {}
    for offset in range(11, -1, -1):
        start = utcnow() - timedelta(weeks=offset)
        monday = (start - timedelta(days=start.weekday())).date().isoformat()
        weeks[monday] = 0
    for when in days:
        monday = (when - timedelta(days=when.weekday())).date().isoformat()
        if monday in weeks:
            weeks[monday] += 1
    return list(weeks.items())


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, ui: UiDep, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    scope = _last_90_days()
    funnel = queries.funnel(session, scope)
    forms = sorted(queries.forms(session, scope), key=lambda f: -f["submissions"])[:5]
    sequences = sorted(queries.sequences(session, scope), key=lambda s: -s["sent"])[:5]
    return page(
        request,
        "dashboard",
        ui,
        funnel=funnel,
        funnel_svg=funnel_svg(funnel["stages"]),
        mql_svg=bars_svg(_mqls_per_week(session), "MQLs per week"),
        forms=forms,
        sequences=sequences,
        velocity=queries.velocity(session, scope),
        breaches=breached_mqls(session, settings, utcnow()),
    )


@router.get("/leads", response_class=HTMLResponse)
def leads(
    request: Request,
    ui: UiDep,
    session: SessionDep,
    q: str | None = None,
    funnel_stage: str | None = None,
    lifecycle_stage: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    filters = LeadFilter(q=q or None, funnel_stage=funnel_stage or None, lifecycle_stage=lifecycle_stage or None)
    rows, next_cursor = list_leads(session, filters, 50, cursor or None)
    return page(
        request,
        "leads",
        ui,
        leads=rows,
        next_cursor=next_cursor,
        q=q or "",
        funnel_stage=funnel_stage or "",
        lifecycle_stage=lifecycle_stage or "",
    )


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_page(request: Request, lead_id: uuid.UUID, ui: UiDep, session: SessionDep) -> HTMLResponse:
    lead = get_lead(session, lead_id)
    enrollments = session.exec(
        select(Enrollment, Sequence)
        .join(Sequence, col(Sequence.id) == Enrollment.sequence_id)
        .where(Enrollment.lead_id == lead.id)
    ).all()
    hooks = session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.lead_id == lead.id)
        .order_by(col(WebhookDelivery.created_at).desc())
        .limit(20)
    ).all()
    return page(
        request,
        "lead",
        ui,
        lead=lead,
        score=explain(session, lead),
        events=timeline(session, lead.id, 100),
        enrollments=enrollments,
        deliveries=hooks,
    )


@router.post("/leads/{lead_id}/decision")
def lead_decision(
    lead_id: uuid.UUID,
    ui: UiDep,
    session: SessionDep,
    settings: SettingsDep,
    csrf: CsrfField,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    ui.check_csrf(csrf)
    ui.require_role("marketer")
    try:
        body = SalesDecision(decision=decision, reason=reason or None, owner=ui.email)
    except ValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from exc
    decide(session, settings, get_lead(session, lead_id), body)
    return RedirectResponse(f"/ui/leads/{lead_id}", status_code=303)


@router.get("/forms", response_class=HTMLResponse)
def forms_page(request: Request, ui: UiDep, session: SessionDep) -> HTMLResponse:
    stats = {f["form"]: f for f in queries.forms(session, _last_90_days())}
    return page(request, "forms", ui, forms=list_forms(session), stats=stats, error=None, values={})


def _fields(spec: str) -> list[dict[str, Any]]:
    """One field per line: `name`, `name:type` or `name:type:required`."""
    fields = []
    for line in spec.splitlines():
        parts = [p.strip() for p in line.split(":") if p.strip()]
        if parts:
            fields.append(
                {
                    "name": parts[0],
                    "type": parts[1] if len(parts) > 1 else "text",
                    "required": len(parts) > 2 and parts[2] == "required",
                }
            )
    return fields


@router.post("/forms", response_model=None)
def forms_create(
    request: Request,
    ui: UiDep,
    session: SessionDep,
    csrf: CsrfField,
    slug: Annotated[str, Form()],
    name: Annotated[str, Form()],
    kind: Annotated[str, Form()],
    fields: Annotated[str, Form()],
    offer_title: Annotated[str, Form()] = "",
    offer_url: Annotated[str, Form()] = "",
    stage_hint: Annotated[str, Form()] = "",
    sequence_id: Annotated[str, Form()] = "",
) -> Response:
    ui.check_csrf(csrf)
    ui.require_role("marketer")
    values = {
        "slug": slug,
        "name": name,
        "kind": kind,
        "fields": _fields(fields),
        "offer": {"title": offer_title, "url": offer_url} if offer_title and offer_url else None,
        "stage_hint": stage_hint or None,
        "sequence_id": sequence_id or None,
    }
    try:
        create_form(session, FormCreate.model_validate(values))
    except (ValidationError, DomainError) as exc:
        message = problem(exc)
        return page(
            request,
            "forms",
            ui,
            status_code=422,
            forms=list_forms(session),
            stats={},
            error=message,
            values={"slug": slug, "name": name, "kind": kind, "fields": fields},
        )
    return RedirectResponse(f"/ui/forms/{slug}", status_code=303)


@router.get("/forms/{slug}", response_class=HTMLResponse)
def form_page(request: Request, slug: str, ui: UiDep, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    form = get_live_form(session, slug)
    stats = {f["form"]: f for f in queries.forms(session, _last_90_days())}.get(slug, {})
    return page(
        request,
        "form",
        ui,
        form=form,
        stats=stats,
        embed=embed_html(form, settings.base_url),
        hosted=f"{settings.base_url}/forms/{slug}",
    )


@router.get("/sequences", response_class=HTMLResponse)
def sequences_page(request: Request, ui: UiDep, session: SessionDep) -> HTMLResponse:
    rows = session.exec(select(Sequence).where(Sequence.status != "archived").order_by(col(Sequence.created_at))).all()
    return page(request, "sequences", ui, sequences=[(s, sequence_stats(session, s.id)) for s in rows])


async def posted_fields(request: Request) -> list[tuple[str, str]]:
    """Every field of the posted editor form (steps are `steps-<n>-<part>`); the routes stay plain `def`s."""
    form = await request.form()
    return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]


PostedFields = Annotated[list[tuple[str, str]], Depends(posted_fields)]


@dataclass
class EditorState:
    """What the editor page shows besides the draft: errors by field, where focus goes, a preview."""

    errors: dict[str, list[str]] = field(default_factory=dict)
    focus: str = ""
    preview: dict[str, Any] | None = None
    definition: str | None = None
    preview_lead: str = ""


def _editor(
    request: Request,
    ui: UiSession,
    session: SessionDep,
    sequence: SequencePublic | None,
    draft: SequenceDraft,
    state: EditorState,
    *,
    status_code: int = 200,
    saved: bool = False,
) -> HTMLResponse:
    return page(
        request,
        "sequence",
        ui,
        status_code=status_code,
        sequence=sequence,
        stats=sequence_stats(session, sequence.id) if sequence else None,
        draft=draft,
        errors=state.errors,
        focus=state.focus,
        preview=state.preview,
        preview_lead=state.preview_lead,
        definition=state.definition or json.dumps(sequence_payload(draft), indent=2),
        saved=saved,
        action=f"/ui/sequences/{sequence.id}" if sequence else "/ui/sequences",
        forms=list_forms(session),
        leads=list_leads(session, LeadFilter(), 50, None)[0],
        form_kinds=[kind.value for kind in FormKind],
        funnel_stages=list(STAGES),
        lifecycle_stages=LIFECYCLE,
        day_names=DAY_NAMES,
        timezones=COMMON_TIMEZONES,
        describe_duration=describe_duration,
    )


COMMON_TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Lisbon",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)


@router.get("/sequences/new", response_class=HTMLResponse)
def sequence_new(request: Request, ui: UiDep, session: SessionDep) -> HTMLResponse:
    return _editor(request, ui, session, None, starter_draft(), EditorState(focus="name"))


@router.post("/sequences", response_model=None)
def sequences_create(
    request: Request, ui: UiDep, session: SessionDep, settings: SettingsDep, csrf: CsrfField, fields: PostedFields
) -> Response:
    ui.check_csrf(csrf)
    ui.require_role("marketer")
    return _submit(request, ui, session, settings, None, fields)


@router.get("/sequences/{sequence_id}", response_class=HTMLResponse)
def sequence_page(
    request: Request, sequence_id: uuid.UUID, ui: UiDep, session: SessionDep, saved: bool = False
) -> HTMLResponse:
    sequence = sequence_public(session, get_sequence(session, sequence_id))
    draft = draft_from_definition(sequence.model_dump(mode="json"))
    return _editor(request, ui, session, sequence, draft, EditorState(), saved=saved)


@router.post("/sequences/{sequence_id}", response_model=None)
def sequence_save(
    request: Request,
    sequence_id: uuid.UUID,
    ui: UiDep,
    session: SessionDep,
    settings: SettingsDep,
    csrf: CsrfField,
    fields: PostedFields,
) -> Response:
    ui.check_csrf(csrf)
    ui.require_role("marketer")
    return _submit(request, ui, session, settings, sequence_public(session, get_sequence(session, sequence_id)), fields)


def _submit(
    request: Request,
    ui: UiSession,
    session: SessionDep,
    settings: SettingsDep,
    sequence: SequencePublic | None,
    fields: list[tuple[str, str]],
) -> Response:
    """One editor post: `op` saves, or changes the draft (add, move, remove, preview, load JSON) and shows it again."""
    posted = dict(fields)
    op, _, argument = posted.get("op", "save").partition(":")
    draft = draft_from_form(fields)
    preview_lead = posted.get("preview_lead", "")
    if op == "save":
        try:
            saved = _save(session, sequence, sequence_payload(draft))
        except (ValidationError, InvalidInput) as exc:
            error = InvalidInput.from_pydantic(exc) if isinstance(exc, ValidationError) else exc
            detail = error.detail if isinstance(error.detail, list) else [{"loc": [], "msg": str(error.detail)}]
            state = EditorState(errors=field_errors(detail), focus="sequence-error", preview_lead=preview_lead)
            return _editor(request, ui, session, sequence, draft, state, status_code=422)
        return RedirectResponse(f"/ui/sequences/{saved.id}?saved=true", status_code=303)
    if op == "json":
        return _load_json(request, ui, session, sequence, draft, posted.get("definition", ""))
    index = int(argument) if argument.isdigit() else -1
    if op == "preview" and 0 <= index < len(draft.steps):
        state = _preview(session, settings, draft.steps[index], index, preview_lead)
        return _editor(request, ui, session, sequence, draft, state)
    draft, focus = _edit(draft, op, index, posted.get("new_step_kind", "email"))
    return _editor(request, ui, session, sequence, draft, EditorState(focus=focus, preview_lead=preview_lead))


def _save(session: SessionDep, sequence: SequencePublic | None, payload: dict[str, Any]) -> Sequence:
    """Through the API's own service functions, so the API's validator has the last word."""
    if sequence is None:
        return create_sequence(session, SequenceIn.model_validate(payload))
    body = SequenceUpdate.model_validate(payload)
    if body.steps is not None and [s.model_dump(mode="json", by_alias=True) for s in body.steps] == sequence.steps:
        # Unchanged steps must not start a new version: running leads would gain nothing.
        body = SequenceUpdate.model_validate({k: v for k, v in payload.items() if k != "steps"})
    return update_sequence(session, get_sequence(session, sequence.id), body)


def _edit(draft: SequenceDraft, op: str, index: int, new_kind: str) -> tuple[SequenceDraft, str]:
    """Apply an editing button to the draft; returns it with the id of the control to focus next."""
    last = len(draft.steps) - 1
    if op == "add":
        draft = add_step(draft, new_kind)
        first = {"email": "subject", "wait": "duration", "branch": "condition"}.get(draft.steps[-1].type, "remove")
        return draft, f"steps-{len(draft.steps) - 1}-{first}"
    if op == "up" and 0 < index <= last:
        return move_step(draft, index, -1), f"steps-{index - 1}-{'up' if index - 1 > 0 else 'down'}"
    if op == "down" and 0 <= index < last:
        return move_step(draft, index, 1), f"steps-{index + 1}-{'down' if index + 1 < last else 'up'}"
    if op == "remove" and 0 <= index <= last:
        return remove_step(draft, index), "new_step_kind"
    return draft, ""


def _load_json(
    request: Request,
    ui: UiSession,
    session: SessionDep,
    sequence: SequencePublic | None,
    draft: SequenceDraft,
    definition: str,
) -> HTMLResponse:
    """The advanced path: a pasted JSON definition replaces the draft (saved with the usual button)."""
    try:
        parsed = json.loads(definition)
        if not isinstance(parsed, dict):
            raise ValueError('the definition is a JSON object such as {"name": ..., "steps": [...]}')
    except ValueError as exc:
        state = EditorState(
            errors={"definition": [f"not valid JSON: {exc}"]}, focus="definition", definition=definition
        )
        return _editor(request, ui, session, sequence, draft, state, status_code=422)
    return _editor(request, ui, session, sequence, draft_from_definition(parsed), EditorState(focus="name"))


def _preview(session: SessionDep, settings: SettingsDep, step: StepDraft, index: int, lead_id: str) -> EditorState:
    """The draft's email step rendered for a chosen lead (or the sample lead), before it is saved."""
    focus = f"steps-{index}-preview"
    problems = {
        f"steps-{index}-{part}": [problem.message]
        for part in ("subject", "html", "text")
        if (problem := check_template(getattr(step, part), html=part == "html"))
    }
    if problems:
        return EditorState(errors=problems, focus=focus, preview_lead=lead_id)
    try:
        lead = get_lead(session, uuid.UUID(lead_id)) if _is_uuid(lead_id) else None
    except NotFound:
        return EditorState(
            errors={"preview_lead": ["that lead is gone (erased?); choose another"]}, focus="preview_lead"
        )
    context = {
        "lead": lead_context(lead) if lead else SAMPLE_LEAD,
        "sender": {"name": settings.email_from, "address": settings.postal_address},
    }
    return EditorState(
        focus=focus,
        preview_lead=lead_id,
        preview={
            "index": index,
            "for": lead.email if lead else "the sample lead",
            "subject": render(step.subject, context, html=False),
            "html": render(step.html, context, html=True),
            "text": render(step.text, context, html=False),
        },
    )


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@router.post("/sequences/{sequence_id}/{action}")
def sequence_action(sequence_id: uuid.UUID, action: str, ui: UiDep, session: SessionDep, csrf: CsrfField) -> Response:
    ui.check_csrf(csrf)
    ui.require_role("marketer")
    if action not in ("activate", "pause"):
        raise InvalidInput(["path", "action"], "activate or pause")
    set_status(session, get_sequence(session, sequence_id), "active" if action == "activate" else "paused")
    return RedirectResponse(f"/ui/sequences/{sequence_id}", status_code=303)


@router.get("/scoring", response_class=HTMLResponse)
def scoring_page(request: Request, ui: UiDep, session: SessionDep) -> HTMLResponse:
    model = active_model(session)
    return page(
        request,
        "scoring",
        ui,
        version=model.version,
        draft=model.config.model_dump_json(indent=2),
        error=None,
        job=None,
    )


@router.post("/scoring", response_model=None)
def scoring_save(
    request: Request, ui: UiDep, session: SessionDep, csrf: CsrfField, model: Annotated[str, Form()]
) -> Response:
    ui.check_csrf(csrf)
    ui.require_role("admin")
    try:
        saved = save_model(session, ScoringModelConfig.model_validate_json(model))
    except ValidationError as exc:
        message = problem(exc)
        return page(
            request,
            "scoring",
            ui,
            status_code=422,
            version=active_model(session).version,
            draft=model,
            error=message,
            job=None,
        )
    return page(
        request,
        "scoring",
        ui,
        version=saved.version,
        draft=saved.config.model_dump_json(indent=2),
        error=None,
        job=None,
    )


@router.post("/scoring/rescore", response_class=HTMLResponse)
def scoring_rescore(request: Request, ui: UiDep, session: SessionDep, csrf: CsrfField) -> HTMLResponse:
    ui.check_csrf(csrf)
    ui.require_role("admin")
    model = active_model(session)
    return page(
        request,
        "scoring",
        ui,
        version=model.version,
        draft=model.config.model_dump_json(indent=2),
        error=None,
        job=start_rescore(session),
    )


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, ui: UiDep, session: SessionDep) -> HTMLResponse:
    rows = session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at))).all()
    return page(request, "webhooks", ui, endpoints=rows, secret=None, error=None)


@router.post("/webhooks", response_class=HTMLResponse)
def webhooks_create(
    request: Request,
    ui: UiDep,
    session: SessionDep,
    settings: SettingsDep,
    csrf: CsrfField,
    url: Annotated[str, Form()],
    events: Annotated[str, Form()] = "lead.mql",
) -> HTMLResponse:
    ui.check_csrf(csrf)
    ui.require_role("admin")
    secret, error = None, None
    try:
        body = WebhookCreate(url=url, events=[e.strip() for e in events.split(",") if e.strip()])
        secret = create_endpoint(session, body, production=settings.is_production).secret
    except (ValidationError, DomainError) as exc:
        error = str(exc.detail) if isinstance(exc, DomainError) else str(exc.errors()[0]["msg"])
    rows = session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at))).all()
    return page(request, "webhooks", ui, status_code=422 if error else 200, endpoints=rows, secret=secret, error=error)


@router.get("/webhooks/{endpoint_id}", response_class=HTMLResponse)
def webhook_page(request: Request, endpoint_id: uuid.UUID, ui: UiDep, session: SessionDep) -> HTMLResponse:
    endpoint = get_endpoint(session, endpoint_id)
    return page(request, "webhook", ui, endpoint=endpoint, deliveries=deliveries(session, endpoint, None, 100))


@router.post("/webhooks/deliveries/{delivery_id}/retry")
def webhook_retry(delivery_id: uuid.UUID, ui: UiDep, session: SessionDep, csrf: CsrfField) -> Response:
    ui.check_csrf(csrf)
    ui.require_role("marketer")
    delivery = retry_delivery(session, delivery_id)
    return RedirectResponse(f"/ui/webhooks/{delivery.endpoint_id}", status_code=303)


def _to_login(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/ui/login", status_code=303)


def install_ui(app: FastAPI) -> None:
    from fastapi.staticfiles import StaticFiles

    from app.pages import TEMPLATE_DIR

    app.include_router(router)
    app.add_exception_handler(LoginRequired, _to_login)
    app.mount("/static", StaticFiles(directory=str(TEMPLATE_DIR.parent / "static")), name="static")
