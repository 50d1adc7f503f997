"""Where email goes: an SMTP server (a pool of connections kept open across batches and
ticks), or `.eml` files in a local outbox folder, the embedded default that needs nothing
installed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

SMTP_CONNECTIONS = 4
# Servers drop idle sessions (RFC 5321 suggests after 5 minutes); we let ours go well before.
MAX_IDLE_SECONDS = 50.0


@dataclass(frozen=True)
class OutgoingEmail:
    """One message ready for the wire: envelope and the serialised MIME message."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False  # the recipient will never accept it (5xx): bounce
    error: str | None = None
    provider_id: str | None = None


# Progress of a batch, by message index: the answers that arrived, and the messages about
# to be handed to the server next. The dispatcher records both in one commit before those
# go, so a crash never sends a message twice: what was handed and not answered is known.
ProgressCallback = Callable[[list[tuple[int, SendResult]], list[int]], None]
# Handed to the server but not yet recorded, per process: the most a crash can leave in
# doubt (status 'unknown', never resent; docs/decisions.md §9).
UNRECORDED_LIMIT = 8
OUTBOX_GROUP = 16


class Transport(Protocol):
    def send_batch(self, messages: list[OutgoingEmail], on_progress: ProgressCallback) -> None: ...


class OutboxTransport:
    """Writes each message atomically as `<Message-ID>.eml` (a crash never leaves half a file)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send_batch(self, messages: list[OutgoingEmail], on_progress: ProgressCallback) -> None:
        # A message written again after a crash replaces its own file (the name is its
        # Message-ID): nothing is marked as handed, a crash simply writes it again.
        self.folder.mkdir(parents=True, exist_ok=True)
        for start in range(0, len(messages), OUTBOX_GROUP):
            group = list(enumerate(messages))[start : start + OUTBOX_GROUP]
            on_progress([(index, self._write(message)) for index, message in group], [])

    def _write(self, message: OutgoingEmail) -> SendResult:
        name = message.message_id.strip("<>").replace("/", "_")
        target = self.folder / f"{name}.eml"
        partial = target.with_suffix(".eml.part")
        partial.write_bytes(message.data)
        os.replace(partial, target)
        return SendResult(ok=True, provider_id=name)


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


class _IoLoop:
    """One event loop thread per process for SMTP I/O, so connections outlive a batch.

    Created lazily and again after a fork (a child must not share its parent's sockets)."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _pid = 0

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="smtp-io", daemon=True).start()
                cls._loop, cls._pid = loop, os.getpid()
                _pools.clear()
            return cls._loop


class _Pool:
    """Idle connections to one server; touched only on the I/O loop's thread."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def acquire(self) -> aiosmtplib.SMTP:
        while self.idle:
            client, since = self.idle.pop()
            if client.is_connected and time.monotonic() - since < MAX_IDLE_SECONDS:
                return client
            await _close(client)
        return await self._connect()

    def release(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected and len(self.idle) < SMTP_CONNECTIONS:
            self.idle.append((client, time.monotonic()))
        else:
            client.close()

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


_pools: dict[SmtpConfig, _Pool] = {}


async def _close(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


class SmtpTransport:
    """aiosmtplib: a few connections sending in parallel, kept open for the next batch."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send_batch(self, messages: list[OutgoingEmail], on_progress: ProgressCallback) -> None:
        """Send on the I/O thread; answers come back to the caller's thread, which records them
        and clears the next messages for sending in one commit (at most UNRECORDED_LIMIT out)."""
        answered: queue.SimpleQueue[tuple[int, SendResult]] = queue.SimpleQueue()
        cleared: asyncio.Queue[int | None] = asyncio.Queue()
        loop = _IoLoop.get()
        connections = min(SMTP_CONNECTIONS, len(messages))
        handed = 0

        def hand_next(results: list[tuple[int, SendResult]], count: int) -> None:
            nonlocal handed
            indexes = list(range(handed, min(len(messages), handed + count)))
            on_progress(results, indexes)  # durable before any of them goes on the wire
            handed += len(indexes)
            for index in indexes:
                loop.call_soon_threadsafe(cleared.put_nowait, index)
            if indexes and handed == len(messages):
                for _ in range(connections):
                    loop.call_soon_threadsafe(cleared.put_nowait, None)  # no more: workers stop

        hand_next([], UNRECORDED_LIMIT)
        sending = asyncio.run_coroutine_threadsafe(self._send_all(messages, cleared, answered, connections), loop)
        try:
            recorded = 0
            while recorded < len(messages):
                group = _next_answers(answered, sending)
                hand_next(group, len(group))
                recorded += len(group)
            sending.result()
        except BaseException:
            sending.cancel()  # e.g. the database is down: stop sending what cannot be recorded
            raise

    async def _send_all(
        self,
        messages: list[OutgoingEmail],
        cleared: asyncio.Queue[int | None],
        answered: queue.SimpleQueue[tuple[int, SendResult]],
        connections: int,
    ) -> None:
        pool = _pools.setdefault(self.config, _Pool(self.config))

        async def worker() -> None:
            client: aiosmtplib.SMTP | None = None
            try:
                while (index := await cleared.get()) is not None:
                    if client is None or not client.is_connected:
                        try:
                            client = await pool.acquire()
                        except (aiosmtplib.SMTPException, OSError) as exc:
                            answered.put((index, SendResult(ok=False, error=f"connect: {exc}"[:500])))
                            continue
                    answered.put((index, await _send_one(client, messages[index])))
            except asyncio.CancelledError:
                if client is not None:
                    client.close()  # maybe mid-transaction: never hand it to the next batch
                raise
            if client is not None:
                pool.release(client)

        await asyncio.gather(*(worker() for _ in range(connections)))


def _next_answers(
    answered: queue.SimpleQueue[tuple[int, SendResult]], sending: concurrent.futures.Future[None]
) -> list[tuple[int, SendResult]]:
    """Every answer that has arrived, waiting for at least one."""
    while True:
        try:
            group = [answered.get(timeout=1.0)]
            break
        except queue.Empty:
            if sending.done():
                sending.result()  # raises what went wrong on the I/O thread
                group = [answered.get_nowait()]  # it put every answer before it finished
                break
    while True:
        try:
            group.append(answered.get_nowait())
        except queue.Empty:
            return group


async def _send_one(client: aiosmtplib.SMTP, message: OutgoingEmail) -> SendResult:
    # Internationalised addresses need SMTPUTF8; the message itself is 7-bit (quoted-printable).
    options = [] if (message.sender + message.recipient).isascii() else ["SMTPUTF8"]
    try:
        await client.sendmail(message.sender, [message.recipient], message.data, mail_options=options)
    except ValueError as exc:  # an address that cannot be put in an envelope safely
        return SendResult(ok=False, permanent=True, error=str(exc)[:500])
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
    return SendResult(ok=True, provider_id=message.message_id.strip("<>"))


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()  # loading the CA store costs ~20 ms: once per process


def make_transport(smtp_url: str, outbox: Path) -> Transport:
    return SmtpTransport(SmtpConfig.from_url(smtp_url)) if smtp_url else OutboxTransport(outbox)
