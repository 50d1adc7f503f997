"""A real HTTP webhook receiver on loopback that verifies every Standard Webhooks signature."""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass
class Reply:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    webhook_id: str
    payload: dict[str, Any]
    headers: dict[str, str]
    verified_with: list[str]


class Receiver:
    """Answers with the queued replies (then `default`), records what it got."""

    def __init__(self, port: int, secrets: list[str] | None = None) -> None:
        self.port = port
        self.secrets = secrets or []
        self.replies: list[Reply] = []
        self.default = Reply()
        self.received: list[Received] = []
        self.release = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def accepted_ids(self) -> list[str]:
        return [r.webhook_id for r in self.received if r.headers.get("x-answered", "") == "2xx"]

    def start(self) -> Receiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = [s for s in receiver.secrets if _verifies(s, body, headers)]
                reply = receiver.replies.pop(0) if receiver.replies else receiver.default
                headers["x-answered"] = "not yet"
                receiver.received.append(Received(headers["webhook-id"], json.loads(body), headers, verified))
                if reply.delay:
                    time.sleep(reply.delay)
                headers["x-answered"] = "2xx" if 200 <= reply.status < 300 else str(reply.status)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    return  # the sender timed out and hung up, as it should

            def log_message(self, *args: object) -> None:
                return

        # The default listen backlog (5) drops parallel connects into 1 s SYN retries.
        http.server.ThreadingHTTPServer.request_queue_size = 128
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except Exception:
        return False
    return True
