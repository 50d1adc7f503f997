"""Public capture: the submission endpoint, hosted form and thank-you pages, tracked
downloads and double opt-in confirmation. Called by anonymous, untrusted browsers."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from app.api.deps import DatabaseDep, SessionDep, SettingsDep
from app.api.ratelimit import client_ip, public_rate_limit
from app.capture.forms import get_live_form
from app.capture.intake import VISITOR_FIELD, read_submission
from app.capture.service import (
    CaptureOutcome,
    DuplicateIdempotencyKey,
    Visitor,
    capture,
    replayed_answer,
)
from app.capture.views import count_form_view
from app.db import Database
from app.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from app.leads.consent import change_consent
from app.leads.timeline import record_event
from app.models import Consent, Form, Lead
from app.pages import templates
from app.settings import Settings
from app.tokens import InvalidToken, Purpose, verify

router = APIRouter(tags=["capture"])
SUBMISSIONS = "/api/v1/forms/{slug}/submissions"
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
DAY = 86400


@dataclass
class Posted:
    values: dict[str, Any]
    wants_html: bool


async def _read_capped_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _parse(request: Request, limit: int) -> Posted:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and content_type not in FORM_CONTENT_TYPES:
        raise UnsupportedMediaType("send application/json, application/x-www-form-urlencoded or multipart/form-data")
    body = await _read_capped_body(request, limit)
    if content_type == "application/json":
        try:
            values = json.loads(body or b"{}")
        except ValueError as exc:
            raise InvalidInput("body", "not valid JSON") from exc
        if not isinstance(values, dict):
            raise InvalidInput("body", "expected a JSON object of field names to values")
        return Posted({str(k): v for k, v in values.items() if isinstance(v, str | int | float | bool)}, False)
    request._body = body  # let Starlette's form parser read what we already read
    form = await request.form(max_files=10, max_fields=200)
    values = {k: v for k, v in form.multi_items() if not isinstance(v, UploadFile)}
    return Posted(values, True)


def _cors_headers(form: Form, origin: str | None) -> dict[str, str]:
    if origin and origin.rstrip("/") in form.allowed_origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


@router.options(SUBMISSIONS, include_in_schema=False)
def preflight(slug: str, request: Request, session: SessionDep) -> Response:
    """CORS preflight: only the form's allowed origins may post JSON from a browser."""
    form = get_live_form(session, slug)
    origin = request.headers.get("origin")
    if not origin or origin.rstrip("/") not in form.allowed_origins:
        return JSONResponse({"detail": "origin not allowed for this form"}, status_code=403)
    return Response(
        status_code=204,
        headers=_cors_headers(form, origin)
        | {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key",
            "Access-Control-Max-Age": "600",
        },
    )


@router.post(
    SUBMISSIONS,
    status_code=201,
    response_model=None,
    dependencies=[Depends(public_rate_limit("capture"))],
    responses={
        201: {"description": "JSON capture accepted: {lead_id, submission_id}"},
        303: {"description": "HTML form post accepted: redirect to the thank-you page"},
        404: {"description": "no such form"},
        413: {"description": "body too large"},
        415: {"description": "unsupported content type"},
        422: {"description": "per-field errors (JSON) or the form re-rendered (HTML)"},
        429: {"description": "too many requests from this address"},
    },
)
async def submit(slug: str, request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    """Capture a submission: JSON gets 201, a plain HTML form post gets 303."""
    posted = await _parse(request, settings.max_body_bytes)
    visitor = Visitor(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        referrer=request.headers.get("referer"),
        visitor_id=request.cookies.get("ln_vid"),
    )
    key = (request.headers.get("idempotency-key") or "").strip()[:200] or None
    query = dict(request.query_params)
    limiter = _capture_limiter(request)
    work = partial(_submit, request, db, settings, slug, posted, visitor, key, query)
    return await anyio.to_thread.run_sync(work, limiter=limiter)


def _capture_limiter(request: Request) -> anyio.CapacityLimiter:
    """Captures are CPU-bound Python: a few threads at once keep the CPU busy, while dozens
    only fight over the GIL (and the connection pool); the rest wait on the event loop."""
    state = request.app.state
    if getattr(state, "capture_limiter", None) is None:
        state.capture_limiter = anyio.CapacityLimiter(state.settings.capture_threads)
    limiter: anyio.CapacityLimiter = state.capture_limiter
    return limiter


def _submit(
    request: Request,
    db: Database,
    settings: Settings,
    slug: str,
    posted: Posted,
    visitor: Visitor,
    key: str | None,
    query: dict[str, str],
) -> Response:
    origin = request.headers.get("origin")
    try:
        with db.transaction() as session:
            form = get_live_form(session, slug)
            cors = _cors_headers(form, origin)
            trap = form.honeypot_field
            if trap and str(posted.values.get(trap) or "").strip():
                return _honeypot_answer(form, posted, cors)
            intake = read_submission(form.fields, posted.values, query, trap)
            if intake.errors:
                return _invalid_answer(request, form, posted, intake.errors, cors)
            outcome = capture(session, settings, form, intake, visitor, key)
    except DuplicateIdempotencyKey:
        with db.transaction() as session:
            form = get_live_form(session, slug)
            replay = replayed_answer(session, form, key)
        if replay is None:
            raise
        outcome = replay
    return _accepted_answer(form, posted, outcome, cors)


def _accepted_answer(form: Form, posted: Posted, outcome: CaptureOutcome, cors: dict[str, str]) -> Response:
    if not posted.wants_html:
        return JSONResponse(outcome.response(), status_code=201, headers=cors)
    if form.redirect_url:
        return RedirectResponse(form.redirect_url, status_code=303, headers=cors)
    thanks = f"/forms/{form.slug}/thanks"
    if outcome.download_token:
        thanks += f"?download={outcome.download_token}"
    return RedirectResponse(thanks, status_code=303, headers=cors)


def _honeypot_answer(form: Form, posted: Posted, cors: dict[str, str]) -> Response:
    """Looks exactly like success to a bot; nothing was stored."""
    fake = CaptureOutcome(lead_id=uuid.uuid4(), submission_id=uuid.uuid4())
    if not posted.wants_html:
        return JSONResponse(fake.response(), status_code=201, headers=cors)
    target = form.redirect_url or f"/forms/{form.slug}/thanks"
    return RedirectResponse(target, status_code=303, headers=cors)


def _invalid_answer(
    request: Request, form: Form, posted: Posted, errors: dict[str, str], cors: dict[str, str]
) -> Response:
    if not posted.wants_html:
        detail = [{"loc": ["body", name], "msg": message, "type": "value_error"} for name, message in errors.items()]
        return JSONResponse({"detail": detail}, status_code=422, headers=cors)
    return _form_page(request, form, values=posted.values, errors=errors, status_code=422)


def _form_page(
    request: Request,
    form: Form,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    utm = {k: v for k, v in request.query_params.items() if k.startswith("utm_")}
    return templates.TemplateResponse(
        request,
        "forms/form.html",
        {
            "form": form,
            "values": values,
            "errors": errors,
            "utm": utm,
            "visitor_field": VISITOR_FIELD,
        },
        status_code=status_code,
    )


@router.get(
    "/forms/{slug}",
    dependencies=[Depends(public_rate_limit("pages"))],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def hosted_form(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    """The hosted form page: plain HTML, accessible, works without JavaScript."""
    form = get_live_form(session, slug)
    count_form_view(session, form.id)
    return _form_page(request, form, values={}, errors={})


@router.get(
    "/forms/{slug}/thanks",
    dependencies=[Depends(public_rate_limit("pages"))],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def thanks(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    download: str | None = None,
) -> HTMLResponse:
    form = get_live_form(session, slug)
    download_url = None
    if download and form.offer:
        try:
            payload = verify(settings.secret_key, Purpose.DOWNLOAD, download, 30 * DAY)
            if payload.get("f") == str(form.id):
                download_url = f"/d/{download}"
        except InvalidToken:
            download_url = None
    return templates.TemplateResponse(request, "forms/thanks.html", {"form": form, "download_url": download_url})


def _message_page(request: Request, title: str, message: str, status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "forms/message.html", {"title": title, "message": message}, status_code=status_code
    )


@router.get(
    "/d/{token}", dependencies=[Depends(public_rate_limit("pages"))], include_in_schema=False, response_model=None
)
def download(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """A tracked content download: redirects only to the form's stored offer URL."""
    try:
        payload = verify(settings.secret_key, Purpose.DOWNLOAD, token, 30 * DAY)
        lead = session.get(Lead, uuid.UUID(payload["l"]))
        form = session.get(Form, uuid.UUID(payload["f"]))
    except (InvalidToken, KeyError, ValueError, TypeError, AttributeError):
        return _message_page(request, "Link not valid", "This download link is invalid or has expired.", 404)
    if lead is None or form is None or not form.offer or lead.erased_at:
        return _message_page(request, "Link not valid", "This download is no longer available.", 404)
    record_event(
        session,
        settings,
        lead,
        "content_downloaded",
        {
            "form_id": str(form.id),
            "form_slug": form.slug,
            "form_kind": form.kind,
            "title": form.offer.get("title"),
        },
    )
    return RedirectResponse(form.offer["url"], status_code=302)


@router.get(
    "/confirm/{token}",
    dependencies=[Depends(public_rate_limit("pages"))],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def confirm(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Double opt-in: the confirmation link turns a pending lead into a subscriber."""
    try:
        payload = verify(settings.secret_key, Purpose.CONFIRM, token, 7 * DAY)
        lead = session.get(Lead, uuid.UUID(payload["l"]))
    except (InvalidToken, KeyError, ValueError, TypeError, AttributeError):
        lead = None
    if lead is None or lead.erased_at:
        return _message_page(request, "Link not valid", "This confirmation link is invalid or has expired.", 404)
    if lead.consent == Consent.pending:
        change_consent(
            session,
            settings,
            lead,
            Consent.subscribed,
            source="double_opt_in",
            ip=client_ip(request),
            form_text="Confirmed by the link in the confirmation email",
        )
    if lead.consent != Consent.subscribed:
        return _message_page(request, "Not subscribed", "This address has unsubscribed; we will not email it.")
    return _message_page(request, "Subscription confirmed", "Thank you, your subscription is confirmed.")
