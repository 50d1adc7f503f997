"""Run `leadnurture serve` / `worker` as real subprocesses, for crash and restart tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import ADMIN_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return (
        os.environ
        | {
            "LEADNURTURE_DATABASE_URL": database_url,
            "LEADNURTURE_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "LEADNURTURE_SECRET_KEY": "test-secret-key-not-for-production",
            "LEADNURTURE_OUTBOX_DIR": str(tmp_path / "outbox"),
            "LEADNURTURE_PUBLIC_RATE_LIMIT_PER_MINUTE": "1000000",
            "LEADNURTURE_LOG_LEVEL": "INFO",
        }
        | extra
    )


@dataclass
class Service:
    """A `leadnurture serve` subprocess; its log lines are kept for inspection."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        self.wait_until_ready()

    def wait_until_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError("service did not become ready")

    def kill_9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextlib.contextmanager
def running_service(env: dict[str, str], log_path: Path) -> Iterator[Service]:
    service = Service(env=env, log_path=log_path)
    service.start()
    try:
        yield service
    finally:
        service.stop()
