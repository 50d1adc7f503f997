"""The periodic jobs, one line each. Each job is a plain function of (Database, Settings)."""

from __future__ import annotations

from app.handoff.delivery import webhook_delivery_job
from app.handoff.jobs import sla_job
from app.nurture.dispatcher import dispatch_job
from app.privacy.service import retention_job
from app.scheduler import Job
from app.scoring.jobs import daily_decay_job, rescore_job

JOBS: list[Job] = [
    Job("retention", retention_job, every_seconds=24 * 3600),
    Job("engagement-decay", daily_decay_job, every_seconds=24 * 3600),
    Job("rescore", rescore_job),
    Job("nurture-dispatch", dispatch_job),
    Job("webhook-delivery", webhook_delivery_job),
    Job("sales-sla", sla_job, every_seconds=300),
]
