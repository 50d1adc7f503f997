"""Build big databases fast: `python -m bench.seed --leads 1000000 [--events-per-lead 10] URL`.

PostgreSQL: generated server-side with `INSERT ... SELECT generate_series` (no rows cross
the wire, faster than COPY from Python). SQLite: batched executemany. Leads spread over
the last 90 days with a typical funnel (about 20 % reach MQL, half of those SAL, ...),
stage history for every step reached, and a mix of timeline events.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.db import make_engine
from app.leads.stages import rebuild_funnel_progress

STAGES = ["lead", "mql", "sal", "sql", "opportunity", "customer"]
# Share of leads that reach each stage (cumulative), SPEC §7 conversion bands.
REACH = [1.0, 0.2, 0.1, 0.06, 0.035, 0.01]
SOURCES = ["google", "linkedin", "newsletter", "partner", "direct"]
EVENT_TYPES = [
    "page_viewed",
    "page_viewed",
    "page_viewed",
    "email_opened",
    "email_clicked",
    "form_submitted",
    "content_downloaded",
    "email_sent",
    "email_sent",
    "page_viewed",
]

PG_LEADS = """
INSERT INTO lead (id, email, company, job_title, custom, consent, lifecycle_stage, funnel_stage,
                  fit_score, engagement_score, engagement_as_of, mql_episode, first_utm_source,
                  last_utm_source, became_mql_at, created_at, updated_at)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'lead' || i || '@seed-' || (i % 5000) || '.example.com',
       'Company ' || (i % 5000), (ARRAY['VP Marketing','Engineer','Student','CEO','Analyst'])[1 + i % 5],
       '{}'::jsonb, 'subscribed', s.stage,
       (ARRAY['tofu','tofu','tofu','mofu','bofu'])[1 + (i * 7) % 5],
       (i % 60) - 10, (i % 90), now(), CASE WHEN s.rank >= 1 THEN 1 ELSE 0 END,
       (ARRAY['google','linkedin','newsletter','partner','direct'])[1 + (i * 3) % 5],
       (ARRAY['google','linkedin','newsletter','partner','direct'])[1 + (i * 11) % 5],
       CASE WHEN s.rank >= 1 THEN t.created + interval '2 days' END, t.created, t.created
FROM generate_series(1, :n) AS i
CROSS JOIN LATERAL (SELECT now() - (random() * interval '90 days') AS created) AS t
CROSS JOIN LATERAL (
    SELECT CASE WHEN r < 0.01 THEN 5 WHEN r < 0.035 THEN 4 WHEN r < 0.06 THEN 3
                WHEN r < 0.10 THEN 2 WHEN r < 0.20 THEN 1 ELSE 0 END AS rank
    FROM (SELECT random() + i * 0 AS r) AS x
) AS s0
CROSS JOIN LATERAL (SELECT s0.rank, (ARRAY['lead','mql','sal','sql','opportunity','customer'])[1 + s0.rank] AS stage) AS s
"""

# Both kinds of history in one pass; time-ordered ids keep the primary key append-only.
PG_STAGE_HISTORY = """
INSERT INTO stage_change (id, lead_id, kind, from_stage, to_stage, changed_at)
SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(row_number() OVER ()), 12, '0'))::uuid, h.*
FROM (
    SELECT l.id, 'lifecycle',
           CASE WHEN k = 1 THEN NULL ELSE (ARRAY['lead','mql','sal','sql','opportunity','customer'])[k - 1] END,
           (ARRAY['lead','mql','sal','sql','opportunity','customer'])[k],
           l.created_at + (k - 1) * interval '2 days'
    FROM lead l
    CROSS JOIN LATERAL generate_series(1, array_position(
        ARRAY['lead','mql','sal','sql','opportunity','customer'], l.lifecycle_stage)) AS k
    UNION ALL
    SELECT id, 'funnel', NULL, 'tofu', created_at FROM lead
) AS h
"""

# Time-ordered ids (like the app's uuid7) keep the primary key index append-only.
PG_EVENTS = """
INSERT INTO event (id, lead_id, type, properties, score_rules, occurred_at, recorded_at, engagement_delta, fit_delta)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(row_number() OVER ()), 12, '0'))::uuid, l.id,
       (ARRAY['page_viewed','page_viewed','page_viewed','email_opened','email_clicked',
              'form_submitted','content_downloaded','email_sent','email_sent','page_viewed'])[1 + (k + l.mql_episode) % 10],
       '{}'::jsonb, '{}'::jsonb, l.created_at + k * interval '7 hours', now(), 1, 0
FROM lead l CROSS JOIN generate_series(1, :k) AS k
"""

# Secondary indexes are rebuilt once after the load instead of maintained row by row.
PG_PLAIN_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.tablename = :table AND i.schemaname = current_schema()
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
"""


def seed_postgres(engine: Engine, leads: int, events_per_lead: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        # The rows are built from `lead` itself, so the foreign keys hold by construction;
        # skipping their per-row triggers is what makes 10M events fit in a minute.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        indexes = [
            row
            for table in ("lead", "stage_change", "event")
            for row in conn.execute(text(PG_PLAIN_INDEXES), {"table": table})
        ]
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        conn.execute(text(PG_LEADS), {"n": leads})
        conn.execute(text(PG_STAGE_HISTORY))
        conn.execute(text("ANALYZE lead, stage_change"))  # fresh tables: plan the rebuild with real sizes
        rebuild_funnel_progress(conn)
        if events_per_lead:
            conn.execute(text(PG_EVENTS), {"k": events_per_lead})
        for _, definition in indexes:
            conn.execute(text(definition))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _reached(rng: random.Random) -> int:
    roll = rng.random()
    return max(i for i, share in enumerate(REACH) if roll < share)


def seed_sqlite(engine: Engine, leads: int, events_per_lead: int, batch: int = 20_000) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC).replace(tzinfo=None)
    lead_sql = text(
        "INSERT INTO lead (id, email, company, custom, consent, lifecycle_stage, funnel_stage, fit_score,"
        " engagement_score, engagement_as_of, mql_episode, first_utm_source, last_utm_source,"
        " became_mql_at, created_at, updated_at) VALUES (:id, :email, :company, '{}', 'subscribed',"
        " :stage, :funnel, :fit, :eng, :now, :episode, :src, :src, :mql_at, :created, :created)"
    )
    stage_sql = text(
        "INSERT INTO stage_change (id, lead_id, kind, from_stage, to_stage, changed_at)"
        " VALUES (:id, :lead_id, :kind, :from_stage, :to_stage, :at)"
    )
    event_sql = text(
        "INSERT INTO event (id, lead_id, type, properties, score_rules, occurred_at, recorded_at, engagement_delta,"
        " fit_delta) VALUES (:id, :lead_id, :type, '{}', '{}', :at, :now, 1, 0)"
    )
    for start in range(0, leads, batch):
        lead_rows, stage_rows, event_rows = [], [], []
        for i in range(start, min(leads, start + batch)):
            lead_id = uuid.uuid4().hex
            created = now - timedelta(seconds=rng.random() * 90 * 86400)
            reached = _reached(rng)
            lead_rows.append(
                {
                    "id": lead_id,
                    "email": f"lead{i}@seed-{i % 5000}.example.com",
                    "company": f"Company {i % 5000}",
                    "stage": STAGES[reached],
                    "funnel": rng.choice(["tofu", "tofu", "tofu", "mofu", "bofu"]),
                    "fit": rng.randint(-10, 50),
                    "eng": rng.randint(0, 90),
                    "now": now,
                    "episode": int(reached >= 1),
                    "src": rng.choice(SOURCES),
                    "mql_at": created + timedelta(days=2) if reached >= 1 else None,
                    "created": created,
                }
            )
            stage_rows.append(
                {
                    "id": uuid.uuid4().hex,
                    "lead_id": lead_id,
                    "kind": "funnel",
                    "from_stage": None,
                    "to_stage": "tofu",
                    "at": created,
                }
            )
            for k in range(reached + 1):
                stage_rows.append(
                    {
                        "id": uuid.uuid4().hex,
                        "lead_id": lead_id,
                        "kind": "lifecycle",
                        "from_stage": STAGES[k - 1] if k else None,
                        "to_stage": STAGES[k],
                        "at": created + timedelta(days=2 * k),
                    }
                )
            for k in range(events_per_lead):
                event_rows.append(
                    {
                        "id": uuid.uuid4().hex,
                        "lead_id": lead_id,
                        "type": EVENT_TYPES[k % 10],
                        "at": created + timedelta(hours=7 * (k + 1)),
                        "now": now,
                    }
                )
        with engine.begin() as conn:
            conn.execute(lead_sql, lead_rows)
            conn.execute(stage_sql, stage_rows)
            if event_rows:
                conn.execute(event_sql, event_rows)
    with engine.begin() as conn:
        rebuild_funnel_progress(conn)


def seed(database_url: str, leads: int, events_per_lead: int = 10) -> float:
    """Fill a migrated, empty database; returns the seconds it took."""
    engine = make_engine(database_url, pool_size=1)
    started = time.perf_counter()
    try:
        if engine.dialect.name == "postgresql":
            seed_postgres(engine, leads, events_per_lead)
        else:
            seed_sqlite(engine, leads, events_per_lead)
    finally:
        engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--events-per-lead", type=int, default=10)
    args = parser.parse_args()
    seconds = seed(args.database_url, args.leads, args.events_per_lead)
    print(f"seeded {args.leads} leads, {args.leads * args.events_per_lead} events in {seconds:.1f} s")


if __name__ == "__main__":
    main()
