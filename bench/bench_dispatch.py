"""Nurture dispatch: emails per second through the dispatcher to a local SMTP sink, against
a bare aiosmtplib client sending the same messages to the same sink; and the tick cost
with few vs many leads in the database and the same number due (SPEC §8)."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage

import aiosmtplib

from app.db import Database
from app.nurture.dispatcher import dispatch
from app.nurture.transports import SmtpConfig, SmtpTransport
from app.settings import Settings
from bench.common import Result, free_port, fresh_database
from bench.seed import seed
from tests.factories import due_enrollments
from tests.integration.smtp import SmtpServer


async def _bare(port: int, count: int) -> float:
    """The baseline: the same number of similar messages over 4 reused connections."""
    started = time.perf_counter()

    async def worker(share: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for i in range(share):
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = "a@example.com", f"bare{i}@example.com", "Hello"
            message.set_content("Hi")
            message.add_alternative("<p>Hi</p>", subtype="html")
            await client.send_message(message)
        await client.quit()

    await asyncio.gather(*(worker(count // 4) for _ in range(4)))
    return time.perf_counter() - started


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
        bare = asyncio.run(_bare(smtp.port, count))
    finally:
        smtp.stop()
    return Result(
        "dispatch",
        backend,
        f"emails/s ({count} due)",
        sent / ours,
        "emails/s",
        baseline=count / bare,
        baseline_name="bare aiosmtplib",
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
    sizes = (1_000, 10_000) if small else (10_000, 1_000_000)
    results = []
    for backend in backends:
        results.append(_throughput(backend, count))
        if backend == "postgresql" or small:
            few, many = (_tick_cost(backend, n, due) for n in sizes)
            results.append(
                Result(
                    "dispatch tick",
                    backend,
                    f"{due} due, {sizes[1]:,} leads",
                    many,
                    "s",
                    baseline=few,
                    baseline_name=f"{sizes[0]:,} leads",
                    higher_is_better=False,
                    note="flat = ratio near 1",
                )
            )
    return results
