"""Funnel analytics in SQL over funnel progress, events, messages and outcomes.

Each function answers one question a head of marketing asks, for leads created in a date
range, optionally narrowed to a form, a first-touch UTM source or a sequence.
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, cast, func, select, text
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session
from sqlmodel import col

from app.leads.stages import FUNNEL_PATH
from app.models import Enrollment, Form, FormView, FunnelProgress, Lead, Message, SalesOutcome, Sequence, Submission
from app.nurture.stats import MQL_WINDOW_DAYS, sequence_stats

FUNNEL = FUNNEL_PATH
FUNNEL_LABELS = {"customer": "won"}


@dataclass(frozen=True)
class Scope:
    """Which leads a question is about."""

    created_from: datetime
    created_to: datetime
    form_id: uuid.UUID | None = None
    utm_source: str | None = None
    sequence_id: uuid.UUID | None = None


def _lead_ids(scope: Scope) -> Any:
    statement = select(Lead.id).where(
        Lead.created_at >= scope.created_from,
        Lead.created_at < scope.created_to,
    )
    if scope.form_id:
        statement = statement.where(Lead.first_form_id == scope.form_id)
    if scope.utm_source:
        statement = statement.where(Lead.first_utm_source == scope.utm_source)
    if scope.sequence_id:
        statement = statement.where(
            Lead.id.in_(select(Enrollment.lead_id).where(Enrollment.sequence_id == scope.sequence_id))
        )
    return statement


def _progress_in_scope(scope: Scope, *columns: Any) -> Any:
    """Funnel progress rows (one per lead) of the leads in scope."""
    statement = select(*columns).where(
        FunnelProgress.lead_created_at >= scope.created_from,
        FunnelProgress.lead_created_at < scope.created_to,
    )
    if scope.form_id or scope.utm_source or scope.sequence_id:
        statement = statement.where(col(FunnelProgress.lead_id).in_(_lead_ids(scope)))
    return statement


# Only a lead that got past its first stage has left one: most leads never do, so skip them.
_LEFT_A_STAGE = col(FunnelProgress.furthest_rank) >= 1


def _stage_at(stage: str) -> Any:
    return getattr(FunnelProgress, f"{stage}_at")


def funnel(session: Session, scope: Scope) -> dict[str, Any]:
    """How many leads reached each stage (or beyond), conversion between stages, time in stage."""
    reached = col(FunnelProgress.furthest_rank)
    sums = [func.coalesce(func.sum(case((reached >= rank, 1), else_=0)), 0) for rank in range(len(FUNNEL))]
    counts = list(session.execute(_progress_in_scope(scope, *sums)).one())
    stages = []
    for index, stage in enumerate(FUNNEL):
        count = int(counts[index])
        following = int(counts[index + 1]) if index + 1 < len(FUNNEL) else None
        stages.append(
            {
                "stage": FUNNEL_LABELS.get(stage, stage),
                "count": count,
                "conversion_to_next": round(following / count, 4) if following is not None and count else None,
                "drop_off": count - following if following is not None else None,
            }
        )
    timing = time_in_stage(session, scope)
    for entry in stages:
        entry.update(timing.get(entry["stage"], {"median_days": None, "p90_days": None}))
    top = int(counts[0])
    return {"stages": stages, "overall_conversion": round(int(counts[-1]) / top, 4) if top else None, "leads": top}


def time_in_stage(session: Session, scope: Scope) -> dict[str, dict[str, float | None]]:
    """Median and p90 days from first entering a stage to first entering any later one."""
    if session.get_bind().dialect.name == "postgresql":
        return _time_in_stage_postgres(session, scope)
    statement = _progress_in_scope(scope, *(_stage_at(stage) for stage in FUNNEL)).where(_LEFT_A_STAGE)
    entries = session.execute(statement).all()
    by_rank: dict[int, list[float]] = defaultdict(list)
    for row in entries:
        for rank, entered in enumerate(row[:-1]):
            left = min((at for at in row[rank + 1 :] if at is not None), default=None)
            if entered is not None and left is not None:
                by_rank[rank].append((left - entered).total_seconds())
    return {
        _label(rank): {"median_days": _days(statistics.median(v)), "p90_days": _days(_p90(v))}
        for rank, v in by_rank.items()
    }


def _time_in_stage_postgres(session: Session, scope: Scope) -> dict[str, dict[str, float | None]]:
    """One pass over the leads that left a stage: per stage, percentiles of (first later entry - entry)."""
    aggregates = []
    for rank, stage in enumerate(FUNNEL[:-1]):
        # LEAST skips NULLs; leads that never entered or never left the stage are filtered out
        # before the sort rather than skipped by it.
        left = func.least(*(_stage_at(later) for later in FUNNEL[rank + 1 :]))
        seconds = func.date_part("epoch", left - _stage_at(stage))  # double precision: extract() is numeric
        aggregates.append(func.percentile_cont(array([0.5, 0.9])).within_group(seconds).filter(seconds.is_not(None)))
    session.execute(text("SET LOCAL work_mem = '64MB'"))  # the sorts stay in memory at a million leads
    row = session.execute(_progress_in_scope(scope, *aggregates).where(_LEFT_A_STAGE)).one()
    return {
        _label(rank): {"median_days": _days(pair[0]), "p90_days": _days(pair[1])}
        for rank, pair in enumerate(row)
        if pair is not None and pair[0] is not None
    }


def _label(rank: int) -> str:
    return FUNNEL_LABELS.get(FUNNEL[rank], FUNNEL[rank])


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 86400, 2)


def cohorts(session: Session, scope: Scope, weeks: int = 12) -> dict[str, Any]:
    """Leads by capture week × weeks since capture: the share that had reached MQL (and won).

    Aggregated in SQL over funnel progress to one row per (capture week, weeks to first MQL):
    a million leads come back as a few hundred rows.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    week = _week_start(FunnelProgress.lead_created_at, postgres).label("week")
    to_mql = _whole_weeks_between(FunnelProgress.lead_created_at, FunnelProgress.mql_at, postgres).label("to_mql")
    statement = _progress_in_scope(scope, week, to_mql, func.count(), func.count(FunnelProgress.customer_at))
    rows = session.execute(statement.group_by(week, to_mql)).all()
    table: dict[str, dict[str, Any]] = {}
    for week_start, weeks_to_mql, count, won_count in rows:
        key = week_start if isinstance(week_start, str) else week_start.date().isoformat()
        cohort = table.setdefault(key, {"leads": 0, "mql_by_week": [0] * weeks, "won": 0})
        cohort["leads"] += count
        cohort["won"] += won_count
        if weeks_to_mql is not None:
            for k in range(min(weeks - 1, max(0, int(weeks_to_mql))), weeks):
                cohort["mql_by_week"][k] += count
    result = []
    for key in sorted(table):
        c = table[key]
        result.append(
            {
                "week": key,
                "leads": c["leads"],
                "mql_share_by_week": [round(n / c["leads"], 4) for n in c["mql_by_week"]],
                "won_share": round(c["won"] / c["leads"], 4),
            }
        )
    return {"weeks": weeks, "cohorts": result}


def _week_start(column: Any, postgres: bool) -> Any:
    """The Monday (UTC) of the week a timestamp falls in."""
    if postgres:
        return func.date_trunc("week", func.timezone("UTC", column))
    return func.date(column, "-6 days", "weekday 1")


def _whole_weeks_between(start: Any, end: Any, postgres: bool) -> Any:
    if postgres:
        return func.floor(func.extract("epoch", end - start) / (7 * 86400))
    return cast((func.julianday(end) - func.julianday(start)) / 7, Integer)


def velocity(session: Session, scope: Scope) -> dict[str, Any]:
    """Sales velocity = opportunities × win rate × average deal size ÷ sales cycle (days)."""
    leads = _lead_ids(scope).subquery()
    reached_opportunity = col(FunnelProgress.furthest_rank) >= FUNNEL.index("opportunity")
    opportunities = session.execute(_progress_in_scope(scope, func.count()).where(reached_opportunity)).scalar_one()
    outcomes = session.execute(
        select(SalesOutcome.stage, func.count(), func.avg(SalesOutcome.amount))
        .join(leads, leads.c.id == SalesOutcome.lead_id)
        .where(SalesOutcome.stage.in_(["won", "lost"]))
        .group_by(SalesOutcome.stage)
    ).all()
    by_stage = {stage: (count, avg) for stage, count, avg in outcomes}
    won, average_deal = by_stage.get("won", (0, None))
    lost = by_stage.get("lost", (0, None))[0]
    cycles = session.execute(
        select(Lead.created_at, SalesOutcome.occurred_at)
        .join(SalesOutcome, SalesOutcome.lead_id == Lead.id)
        .join(leads, leads.c.id == Lead.id)
        .where(SalesOutcome.stage == "won")
    ).all()
    cycle_days = (sum((w - c).total_seconds() for c, w in cycles) / len(cycles) / 86400) if cycles else None
    win_rate = won / (won + lost) if won + lost else None
    value = (
        opportunities * win_rate * float(average_deal) / cycle_days
        if win_rate is not None and average_deal is not None and cycle_days
        else None
    )
    return {
        "opportunities": opportunities,
        "won": won,
        "lost": lost,
        "win_rate": round(win_rate, 4) if win_rate is not None else None,
        "average_deal_size": round(float(average_deal), 2) if average_deal is not None else None,
        "sales_cycle_days": round(cycle_days, 2) if cycle_days is not None else None,
        "velocity_per_day": round(value, 2) if value is not None else None,
    }


def sequences(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Per sequence and step: sent, delivered, unique opens and clicks, bounces; unsubscribes and MQLs.

    A bounced message was sent too (it left for the provider), so `sent` counts it and
    `delivered` does not.
    """
    leads = _lead_ids(scope).subquery()
    rows = session.execute(
        select(
            Message.sequence_id,
            Message.step_position,
            func.count().filter(Message.status.in_(("sent", "bounced"))),
            func.count().filter(Message.status == "sent"),
            func.count().filter(Message.opened_at.is_not(None)),
            func.count().filter(Message.clicked_at.is_not(None)),
            func.count().filter(Message.status == "bounced"),
        )
        .join(leads, leads.c.id == Message.lead_id)
        .where(Message.sequence_id.is_not(None), Message.kind == "marketing")
        .group_by(Message.sequence_id, Message.step_position)
    ).all()
    steps: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for sequence_id, step, sent, delivered, opened, clicked, bounced in rows:
        counts = {"sent": sent, "delivered": delivered, "unique_opens": opened, "unique_clicks": clicked}
        steps[sequence_id].append(_rates({"step": step, **counts, "bounces": bounced}))
    result = []
    for sequence in session.execute(select(Sequence).where(Sequence.status != "archived")).scalars():
        per_step = sorted(steps.get(sequence.id, []), key=lambda s: s["step"])
        totals = _rates(
            {k: sum(s[k] for s in per_step) for k in ("sent", "delivered", "unique_opens", "unique_clicks", "bounces")}
        )
        stats = sequence_stats(session, sequence.id)
        result.append(
            {
                "sequence_id": str(sequence.id),
                "name": sequence.name,
                "status": sequence.status,
                **totals,
                "unsubscribes": stats["unsubscribes"],
                "enrolled": stats["enrolled"],
                "mqls_within_days": MQL_WINDOW_DAYS,
                "mqls": stats["mqls_within_30_days"],
                "steps": per_step,
            }
        )
    return result


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    # Rates over delivered mail, as email providers report them: a bounce was never seen.
    delivered = row["delivered"]
    return row | {
        "open_rate": round(row["unique_opens"] / delivered, 4) if delivered else 0.0,
        "click_rate": round(row["unique_clicks"] / delivered, 4) if delivered else 0.0,
    }


def forms(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Per form: hosted page views, submissions, conversion, leads that became MQL, by source."""
    day_from, day_to = scope.created_from.date().isoformat(), scope.created_to.date().isoformat()
    views: dict[Any, Any] = dict(
        session.execute(
            select(FormView.form_id, func.sum(FormView.views))
            .where(FormView.day >= day_from, FormView.day <= day_to)
            .group_by(FormView.form_id)
        ).all()
    )
    submissions = session.execute(
        select(Submission.form_id, func.count(), func.count(func.distinct(Submission.lead_id)))
        .where(Submission.received_at >= scope.created_from, Submission.received_at < scope.created_to)
        .group_by(Submission.form_id)
    ).all()
    counts = {form_id: (total, unique) for form_id, total, unique in submissions}
    mqls: dict[Any, Any] = dict(
        session.execute(
            select(Submission.form_id, func.count(func.distinct(Submission.lead_id)))
            .join(FunnelProgress, FunnelProgress.lead_id == Submission.lead_id)
            .where(
                Submission.received_at >= scope.created_from,
                Submission.received_at < scope.created_to,
                col(FunnelProgress.furthest_rank) >= FUNNEL.index("mql"),
            )
            .group_by(Submission.form_id)
        ).all()
    )
    sources: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    source_rows = session.execute(
        select(Submission.form_id, Lead.first_utm_source, func.count())
        .join(Lead, Lead.id == Submission.lead_id)
        .where(Submission.received_at >= scope.created_from, Submission.received_at < scope.created_to)
        .group_by(Submission.form_id, Lead.first_utm_source)
    ).all()
    for form_id, source, count in source_rows:
        sources[form_id][source or "(direct)"] = count
    result = []
    for form in session.execute(select(Form).where(Form.archived_at.is_(None))).scalars():
        total, unique = counts.get(form.id, (0, 0))
        seen = int(views.get(form.id) or 0)
        result.append(
            {
                "form": form.slug,
                "name": form.name,
                "kind": form.kind,
                "views": seen,
                "submissions": total,
                "leads": unique,
                "conversion_rate": round(total / seen, 4) if seen else None,
                "mqls": mqls.get(form.id, 0),
                "by_source": sources.get(form.id, {}),
            }
        )
    return result
