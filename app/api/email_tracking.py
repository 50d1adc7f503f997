"""Public links inside sent email: the open pixel, click redirects, unsubscribe (RFC 8058)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import SessionDep, SettingsDep
from app.api.ratelimit import client_ip, public_rate_limit
from app.nurture.tracking import lead_for_unsubscribe, record_click, record_open, resubscribe_lead, unsubscribe_lead
from app.pages import templates
from app.tokens import InvalidToken

router = APIRouter(include_in_schema=False, dependencies=[Depends(public_rate_limit("email-links"))])
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private"}


@router.get("/t/o/{token}")
def open_pixel(token: str, session: SessionDep, settings: SettingsDep) -> Response:
    """Always the same 1x1 GIF, valid token or not (answers reveal nothing)."""
    record_open(session, settings, token)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get("/t/c/{token}", response_model=None)
def click(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Redirect to the URL signed into the token — never to one taken from the request."""
    try:
        url = record_click(session, settings, token)
    except InvalidToken:
        return _page(request, "Link not valid", "This link is invalid or has been tampered with.", 404)
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


def _page(
    request: Request, title: str, message: str, status_code: int = 200, *, offer: str | None = None, token: str = ""
) -> HTMLResponse:
    """`offer`: the button the page shows ('unsubscribe' or 'resubscribe'), if any."""
    return templates.TemplateResponse(
        request,
        "unsubscribe.html",
        {"title": title, "message": message, "offer": offer, "token": token},
        status_code=status_code,
    )


def _unsubscribed_page(request: Request, token: str, message: str) -> HTMLResponse:
    return _page(request, "Unsubscribed", message, offer="resubscribe", token=token)


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """A confirmation page; link scanners that follow GETs must not unsubscribe anyone."""
    try:
        lead = lead_for_unsubscribe(session, settings, token)
    except InvalidToken:
        return _page(request, "Link not valid", "This unsubscribe link is invalid.", 404)
    if lead.consent == "unsubscribed":
        return _unsubscribed_page(request, token, "You are unsubscribed and will get no more marketing email.")
    return _page(request, "Unsubscribe", "Stop all marketing email to this address?", offer="unsubscribe", token=token)


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """One-click (RFC 8058 `List-Unsubscribe=One-Click`) or the page's button: takes effect at once."""
    try:
        unsubscribe_lead(session, settings, token, client_ip(request))
    except InvalidToken:
        return _page(request, "Link not valid", "This unsubscribe link is invalid.", 404)
    return _unsubscribed_page(request, token, "Done: you will get no more marketing email from us.")


@router.post("/u/{token}/resubscribe", response_class=HTMLResponse)
def resubscribe(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The person changed their mind on the page their own link opened."""
    try:
        resubscribed = resubscribe_lead(session, settings, token, client_ip(request))
    except InvalidToken:
        return _page(request, "Link not valid", "This unsubscribe link is invalid.", 404)
    if not resubscribed:
        return _page(request, "Not possible here", "This address cannot be resubscribed from this page.", 409)
    return _page(
        request, "Subscribed again", "Welcome back: you will get our emails again.", offer="unsubscribe", token=token
    )
