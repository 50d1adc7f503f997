"""First-party page tracking: the snippet and its page-view beacon (public, anonymous)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlmodel import col, select

from app.api.deps import DatabaseDep, SettingsDep
from app.api.ratelimit import public_rate_limit
from app.db import Database
from app.errors import InvalidInput, PayloadTooLarge
from app.leads.timeline import record_event
from app.models import Event, Lead
from app.settings import Settings

router = APIRouter(prefix="/t", tags=["tracking"])
SNIPPET = Path(__file__).parent.parent / "static" / "snippet.js"
MAX_BEACON_BYTES = 4096
VISITOR_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
# Any site may send page views; no credentials are ever read, so a wildcard is safe.
BEACON_CORS = {"Access-Control-Allow-Origin": "*"}


@lru_cache(maxsize=4)
def _snippet(endpoint: str) -> str:
    return SNIPPET.read_text().replace("__ENDPOINT__", endpoint)


@router.get("/snippet.js", include_in_schema=False, dependencies=[Depends(public_rate_limit("beacon"))])
def snippet(settings: SettingsDep) -> Response:
    return Response(
        _snippet(f"{settings.base_url}/t/e"),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.options("/e", include_in_schema=False)
def beacon_preflight() -> Response:
    return Response(
        status_code=204,
        headers=BEACON_CORS
        | {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        },
    )


def _page_view(body: bytes) -> dict[str, str]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidInput("body", "expected a JSON object") from exc
    if not isinstance(data, dict):
        raise InvalidInput("body", "expected a JSON object")
    vid, url = str(data.get("vid") or ""), str(data.get("url") or "")
    if not VISITOR_ID.match(vid):
        raise InvalidInput("vid", "not a visitor id")
    if urlsplit(url).scheme not in ("http", "https") or len(url) > 2000:
        raise InvalidInput("url", "must be an http(s) URL of at most 2000 characters")
    return {
        "vid": vid,
        "url": url,
        "referrer": str(data.get("referrer") or "")[:2000],
        "title": str(data.get("title") or "")[:300],
    }


def _store_page_view(db: Database, settings: Settings, view: dict[str, str]) -> None:
    properties = {"url": view["url"], "referrer": view["referrer"], "title": view["title"]}
    with db.transaction() as session:
        known = select(Lead).where(Lead.visitor_id == view["vid"], col(Lead.erased_at).is_(None))
        lead = session.exec(known).first()
        if lead is None:
            session.add(Event(visitor_id=view["vid"], type="page_viewed", properties=properties))
        else:
            event = record_event(session, settings, lead, "page_viewed", properties)
            event.visitor_id = view["vid"]
            session.add(event)


@router.post(
    "/e",
    status_code=204,
    dependencies=[Depends(public_rate_limit("beacon"))],
    responses={413: {"description": "body too large"}, 422: {"description": "not a page view"}},
)
async def beacon(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    """A page view from the snippet (text/plain JSON: vid, url, referrer, title)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BEACON_BYTES:
            raise PayloadTooLarge(f"a page view is at most {MAX_BEACON_BYTES} bytes")
    view = _page_view(body)
    await run_in_threadpool(_store_page_view, db, settings, view)
    return Response(status_code=204, headers=BEACON_CORS)
