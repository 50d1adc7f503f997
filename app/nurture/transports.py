"""Where email goes: an SMTP server (connections reused across a batch), or `.eml` files in a
local outbox folder, the embedded default that needs nothing installed."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

SMTP_CONNECTIONS = 4


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False  # the recipient will never accept it (5xx): bounce
    error: str | None = None
    provider_id: str | None = None


# Told about each message as soon as the server answered, so the dispatcher can record it
# at once: what a crash can double is only what was sent and not yet recorded.
ResultCallback = Callable[[int, SendResult], None]


class Transport(Protocol):
    def send_batch(self, messages: list[EmailMessage], on_result: ResultCallback) -> None: ...


class OutboxTransport:
    """Writes each message atomically as `<Message-ID>.eml` (a crash never leaves half a file)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send_batch(self, messages: list[EmailMessage], on_result: ResultCallback) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for index, message in enumerate(messages):
            name = str(message["Message-ID"]).strip("<>").replace("/", "_")
            target = self.folder / f"{name}.eml"
            partial = target.with_suffix(".eml.part")
            partial.write_bytes(bytes(message))
            os.replace(partial, target)
            on_result(index, SendResult(ok=True, provider_id=name))


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """smtp://user:pass@host:587 (STARTTLS on 587 or ?starttls=1), smtps://host:465 (TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("LEADNURTURE_SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465")
        implicit = parts.scheme == "smtps"
        port = parts.port or (465 if implicit else 587)
        query = parse_qs(parts.query)
        starttls = not implicit and (port == 587 or query.get("starttls", ["0"])[0] in ("1", "true"))
        return cls(
            parts.hostname,
            port,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            implicit,
            starttls,
        )


class SmtpTransport:
    """aiosmtplib with a few connections sending in parallel, each reused for many messages."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send_batch(self, messages: list[EmailMessage], on_result: ResultCallback) -> None:
        asyncio.run(self._send_all(messages, on_result))

    async def _connect(self) -> aiosmtplib.SMTP:
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            use_tls=c.implicit_tls,
            start_tls=c.starttls,
            timeout=c.timeout,
            tls_context=_tls_context() if c.implicit_tls or c.starttls else None,
        )
        await client.connect()
        if c.username:
            await client.login(c.username, c.password or "")
        return client

    async def _send_all(self, messages: list[EmailMessage], on_result: ResultCallback) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(len(messages)):
            queue.put_nowait(index)

        async def worker() -> None:
            client: aiosmtplib.SMTP | None = None
            try:
                while not queue.empty():
                    index = queue.get_nowait()
                    if client is None or not client.is_connected:
                        try:
                            client = await self._connect()
                        except (aiosmtplib.SMTPException, OSError) as exc:
                            on_result(index, SendResult(ok=False, error=f"connect: {exc}"[:500]))
                            continue
                    on_result(index, await _send_one(client, messages[index]))
            finally:
                if client is not None and client.is_connected:
                    try:
                        await client.quit()
                    except (aiosmtplib.SMTPException, OSError):
                        client.close()

        await asyncio.gather(*(worker() for _ in range(min(SMTP_CONNECTIONS, len(messages)))))


async def _send_one(client: aiosmtplib.SMTP, message: EmailMessage) -> SendResult:
    try:
        await client.send_message(message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        return SendResult(ok=False, permanent=all(code >= 500 for code in codes), error=str(exc)[:500])
    except aiosmtplib.SMTPResponseException as exc:
        return SendResult(
            ok=False,
            permanent=exc.code >= 500 and exc.code != 552,
            error=f"{exc.code} {exc.message}"[:500],
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        client.close()
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
    return SendResult(
        ok=True,
        provider_id=str(message["Message-ID"]).strip("<>"),
    )


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()  # loading the CA store costs ~20 ms: once per process


def make_transport(smtp_url: str, outbox: Path) -> Transport:
    return SmtpTransport(SmtpConfig.from_url(smtp_url)) if smtp_url else OutboxTransport(outbox)
