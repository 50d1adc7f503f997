"""APScheduler only ticks: each job claims due rows from the database, which is the queue."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler

from app.db import Database
from app.settings import Settings

log = logging.getLogger(__name__)

# Set on SIGTERM/shutdown: jobs finish the batch they claimed and stop claiming more; what
# they did not claim stays due for the next process.
stopping = threading.Event()


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Database, Settings], object]
    every_seconds: float | None = None  # None: every tick


def _guarded(job: Job, db: Database, settings: Settings) -> Callable[[], None]:
    def run() -> None:
        try:
            job.run(db, settings)
        except Exception:
            # A failing job must not kill the scheduler; the next tick retries.
            log.exception("job failed", extra={"job": job.name})

    return run


def registered_jobs() -> list[Job]:
    """Every periodic job of every domain, in one list a newcomer can read."""
    from app.jobs import JOBS

    return list(JOBS)


def build_scheduler(db: Database, settings: Settings) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    for job in registered_jobs():
        scheduler.add_job(
            _guarded(job, db, settings),
            "interval",
            seconds=job.every_seconds or settings.tick_seconds,
            id=job.name,
            name=job.name,
            max_instances=1,  # a slow tick is never overlapped by the next one
            coalesce=True,
        )
    return scheduler
