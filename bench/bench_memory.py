"""Memory under load: peak RSS of `leadnurture serve` after a capture load and of
`leadnurture worker` after sending many emails, each against the same process doing a
tenth of the work (flat = ratio near 1). The CSV export's memory is in bench_export."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import httpx

from app.db import Database
from app.settings import Settings
from bench.bench_capture import FORM, WRK
from bench.common import (
    ADMIN_KEY,
    Result,
    free_port,
    fresh_database,
    peak_rss_mib,
    postgres_available,
    print_table,
    run_wrk,
    served,
    served_pid,
)
from tests.factories import due_enrollments
from tests.integration.smtp import SmtpServer


def _serve(backend: str, seconds: int) -> Result:
    warm_up = max(1, seconds // 10)
    with fresh_database(backend) as url, served(url) as base:
        httpx.post(f"{base}/api/v1/forms", json=FORM, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        capture_url = f"{base}/api/v1/forms/{FORM['slug']}/submissions"
        run_wrk(capture_url, WRK / "capture.lua", seconds=warm_up, connections=16)
        warm = peak_rss_mib(served_pid(base))
        run = run_wrk(capture_url, WRK / "capture.lua", seconds=seconds, connections=16)
        loaded = peak_rss_mib(served_pid(base))
    captured = run.requests_per_second * seconds
    return Result(
        "memory",
        backend,
        "serve peak RSS after capture load",
        loaded,
        "MiB",
        baseline=warm,
        baseline_name=f"after {warm_up} s of it",
        higher_is_better=False,
        note=f"~{captured:,.0f} captures in {seconds} s, 16 connections",
    )


def _worker_peak(backend: str, emails: int) -> float:
    """Start `leadnurture worker` with `emails` due; its peak RSS once all are sent."""
    smtp = SmtpServer(free_port()).start()
    try:
        with fresh_database(backend) as url:
            db = Database(Settings(database_url=url, secret_key="bench"))
            due_enrollments(db, emails)
            db.dispose()
            env = os.environ | {
                "LEADNURTURE_DATABASE_URL": url,
                "LEADNURTURE_SECRET_KEY": "bench-secret",
                "LEADNURTURE_SMTP_URL": smtp.url,
                "LEADNURTURE_LOG_LEVEL": "WARNING",
                "LEADNURTURE_TICK_SECONDS": "1",
            }
            worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)
            try:
                deadline = time.monotonic() + 600
                while len(smtp.sink.messages) < emails and time.monotonic() < deadline:
                    time.sleep(0.5)
                if len(smtp.sink.messages) < emails:
                    raise RuntimeError(f"worker sent {len(smtp.sink.messages)} of {emails}")
                return peak_rss_mib(worker.pid)
            finally:
                worker.terminate()
                worker.wait(timeout=30)
    finally:
        smtp.stop()


def _worker(backend: str, emails: int) -> Result:
    few = _worker_peak(backend, emails // 10)
    many = _worker_peak(backend, emails)
    return Result(
        "memory",
        backend,
        f"worker peak RSS sending {emails:,} emails",
        many,
        "MiB",
        baseline=few,
        baseline_name=f"{emails // 10:,} emails",
        higher_is_better=False,
    )


def run(backends: list[str], small: bool) -> list[Result]:
    seconds, emails = (2, 200) if small else (20, 5000)
    return [r for backend in backends for r in (_serve(backend, seconds), _worker(backend, emails))]


if __name__ == "__main__":  # `python -m bench.bench_memory [--small]`
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    print_table(run(["sqlite", "postgresql"] if postgres_available() else ["sqlite"], args.small))
