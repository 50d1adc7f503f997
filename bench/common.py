"""What every benchmark shares: databases, a served app in a subprocess, wrk, results."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

POSTGRES_URL = os.environ.get(
    "LEADNURTURE_BENCH_POSTGRES_URL",
    os.environ.get("LEADNURTURE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
RESULTS_DIR = Path(__file__).parent / "results"
ADMIN_KEY = "bench-admin-key-0123456789"


@dataclass
class Result:
    bench: str
    backend: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    higher_is_better: bool = True
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, object]:
        return asdict(self) | {"ratio": self.ratio}


def postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """An empty database migrated to head; dropped afterwards."""
    from app.migrate import upgrade

    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            upgrade(url)
            yield url
        return
    name = f"leadnurture_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def served(database_url: str, *, workers: int = 1, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run the bench app (the real app plus a no-op route) under uvicorn in a subprocess."""
    port = free_port()
    env = (
        os.environ
        | {
            "LEADNURTURE_DATABASE_URL": database_url,
            "LEADNURTURE_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "LEADNURTURE_SECRET_KEY": "bench-secret",
            "LEADNURTURE_RUN_SCHEDULER": "false",
            "LEADNURTURE_LOG_LEVEL": "WARNING",
            "LEADNURTURE_PUBLIC_RATE_LIMIT_PER_MINUTE": "100000000",
        }
        | (extra_env or {})
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.server:create_bench_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    _SERVED_PIDS[base] = process.pid
    try:
        wait_ready(base)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


_SERVED_PIDS: dict[str, int] = {}


def served_pid(base: str) -> int:
    """The process id of a server started by `served` (one uvicorn worker: the server itself)."""
    return _SERVED_PIDS[base]


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    kib = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    assert kib, "no VmHWM in /proc status"
    return int(kib.group(1)) / 1024


def wait_ready(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server at {base} did not become ready")


@dataclass
class WrkRun:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, script: Path, *, seconds: int, connections: int, threads: int = 1) -> WrkRun:
    output = subprocess.run(
        [
            "wrk",
            "--latency",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latencies = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))

    def parse(label: str) -> float:
        match = re.match(r"([\d.]+)(\w+)", latencies[label])
        assert match
        return _ms(match.group(1), match.group(2))

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkRun(rps, parse("50"), parse("99"), int(errors.group(1)) if errors else 0)


def print_table(results: list[Result]) -> None:
    header = f"{'benchmark':<22} {'backend':<10} {'metric':<34} {'value':>12} {'baseline':>12} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        base = f"{r.baseline:.1f}" if r.baseline is not None else ""
        print(
            f"{r.bench:<22} {r.backend:<10} {r.metric + ' (' + r.unit + ')':<34} {r.value:>12.1f} {base:>12} {ratio:>7}"
        )


def markdown_table(results: list[Result]) -> str:
    lines = [
        "| benchmark | backend | metric | value | baseline | ratio | note |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        base = f"{r.baseline:.1f} ({r.baseline_name})" if r.baseline is not None else ""
        lines.append(
            f"| {r.bench} | {r.backend} | {r.metric} ({r.unit}) | {r.value:.1f} | {base} | {ratio} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


def write_results(results: list[Result], label: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"{label}-{stamp}.json"
    path.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    (RESULTS_DIR / f"{label}-{stamp}.md").write_text(markdown_table(results))
    return path
