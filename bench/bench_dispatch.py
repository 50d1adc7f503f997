"""Nurture dispatch: emails per second through the dispatcher to a local SMTP sink, against
a bare aiosmtplib client sending the same messages to the same sink; and the tick cost
with few vs many leads in the database and the same number due (SPEC §8)."""

from __future__ import annotations

import asyncio
import sys
import time
from email.policy import SMTP

import aiosmtplib

from app.db import Database
from app.nurture.dispatcher import dispatch
from app.nurture.transports import SmtpConfig, SmtpTransport
from app.settings import Settings
from bench.common import Result, free_port, fresh_database, postgres_available, print_table
from bench.seed import seed
from tests.factories import due_enrollments
from tests.integration.smtp import SmtpServer


async def _bare(port: int, messages: list[tuple[str, bytes]]) -> float:
    """The baseline: the very messages the dispatcher sent, already serialised, over 4
    connections opened once — SMTP and nothing else."""
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) for _ in range(4)]
    for client in clients:
        await client.connect()
    started = time.perf_counter()

    async def worker(client: aiosmtplib.SMTP, share: list[tuple[str, bytes]]) -> None:
        for recipient, data in share:
            await client.sendmail("marketing@example.com", [recipient], data)

    await asyncio.gather(*(worker(client, messages[i::4]) for i, client in enumerate(clients)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.quit()
    return elapsed


def _throughput(backend: str, count: int) -> Result:
    smtp = SmtpServer(free_port()).start()
    try:
        with fresh_database(backend) as url:
            settings = Settings(database_url=url, secret_key="bench")
            db = Database(settings)
            due_enrollments(db, count)
            transport = SmtpTransport(SmtpConfig.from_url(smtp.url))
            started = time.perf_counter()
            sent = dispatch(db, settings, transport=transport)
            ours = time.perf_counter() - started
            db.dispose()
        same = [(str(m["To"]), m.as_bytes(policy=SMTP)) for m in smtp.sink.messages]
        bare = asyncio.run(_bare(smtp.port, same))
    finally:
        smtp.stop()
    return Result(
        "dispatch",
        backend,
        f"emails/s ({count} due)",
        sent / ours,
        "emails/s",
        baseline=len(same) / bare,
        baseline_name="bare aiosmtplib, same messages",
        note="plan + render + track + send + record",
    )


def _tick_cost(backend: str, total_leads: int, due: int) -> float:
    smtp = SmtpServer(free_port()).start()
    try:
        with fresh_database(backend) as url:
            seed(url, total_leads, events_per_lead=0)
            settings = Settings(database_url=url, secret_key="bench")
            db = Database(settings)
            due_enrollments(db, due)
            started = time.perf_counter()
            dispatch(db, settings, transport=SmtpTransport(SmtpConfig.from_url(smtp.url)))
            elapsed = time.perf_counter() - started
            db.dispose()
    finally:
        smtp.stop()
    return elapsed


def run(backends: list[str], small: bool) -> list[Result]:
    count, due = (200, 100) if small else (2000, 1000)
    sizes = (1_000, 10_000) if small else (10_000, 100_000, 1_000_000)
    results = []
    for backend in backends:
        results.append(_throughput(backend, count))
        if backend == "postgresql" or small:
            few, *more = (_tick_cost(backend, n, due) for n in sizes)
            results.extend(
                Result(
                    "dispatch tick",
                    backend,
                    f"{due} due, {size:,} leads",
                    elapsed,
                    "s",
                    baseline=few,
                    baseline_name=f"{sizes[0]:,} leads",
                    higher_is_better=False,
                    note="flat = ratio near 1",
                )
                for size, elapsed in zip(sizes[1:], more, strict=True)
            )
    return results


if __name__ == "__main__":  # `python -m bench.bench_dispatch [--small]`: this benchmark alone
    print_table(run(["sqlite", "postgresql"] if postgres_available() else ["sqlite"], small="--small" in sys.argv))
