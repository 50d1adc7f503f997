"""Every router of the service, mounted in one place."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import (
    analytics,
    api_keys,
    capture,
    email_events,
    email_tracking,
    events,
    forms,
    health,
    leads,
    privacy,
    sales,
    scoring,
    sequences,
    tracking,
    webhooks,
)

public_router = APIRouter()
public_router.include_router(health.router)
public_router.include_router(capture.router)
public_router.include_router(tracking.router)
public_router.include_router(email_tracking.router)

api_router = APIRouter()
api_router.include_router(api_keys.router)
# Before any /leads/{id} router: /leads/export.csv must not be read as a lead id.
api_router.include_router(privacy.router)
api_router.include_router(forms.router)
api_router.include_router(scoring.router)  # before leads: /leads/{id}/score
api_router.include_router(leads.router)
api_router.include_router(events.router)
api_router.include_router(sales.router)
api_router.include_router(webhooks.router)
api_router.include_router(sequences.router)
api_router.include_router(email_events.router)
api_router.include_router(analytics.router)
