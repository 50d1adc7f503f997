"""The periodic jobs, one line each. Each job is a plain function of (Database, Settings)."""

from __future__ import annotations

from app.scheduler import Job

JOBS: list[Job] = []
