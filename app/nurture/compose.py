"""Building an email: tracked links, open pixel, footer, and the headers inbox providers require."""

from __future__ import annotations

import html
import re
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from app.settings import Settings
from app.tokens import Purpose, sign
from app.types import utcnow

HREF = re.compile(r"""href\s*=\s*(["'])(https?://[^"']+)\1""", re.IGNORECASE)


def unsubscribe_url(settings: Settings, lead_id: uuid.UUID, message_id: uuid.UUID | None) -> str:
    # The token alone identifies the recipient: mail clients POST one-click without cookies.
    token = sign(settings.secret_key, Purpose.UNSUBSCRIBE, {"l": str(lead_id), "m": str(message_id or "")})
    return f"{settings.base_url}/u/{token}"


def track_links(html_body: str, settings: Settings, message_id: uuid.UUID) -> str:
    """Point every http(s) link through /t/c/{token}; the token carries the exact URL, signed."""

    def rewrite(match: re.Match[str]) -> str:
        url = html.unescape(match.group(2))
        token = sign(settings.secret_key, Purpose.CLICK, {"m": str(message_id), "u": url})
        return f"href={match.group(1)}{settings.base_url}/t/c/{token}{match.group(1)}"

    return HREF.sub(rewrite, html_body)


def finish_html(html_body: str, settings: Settings, message_id: uuid.UUID, unsubscribe: str) -> str:
    pixel_token = sign(settings.secret_key, Purpose.OPEN, {"m": str(message_id)})
    footer = (
        '<hr style="border:none;border-top:1px solid #ddd;margin:24px 0 8px">'
        f'<p style="color:#666;font-size:12px">{html.escape(settings.postal_address)}<br>'
        f'<a href="{html.escape(unsubscribe, quote=True)}">Unsubscribe</a></p>'
        f'<img src="{settings.base_url}/t/o/{pixel_token}" width="1" height="1" alt="" style="display:block">'
    )
    tracked = track_links(html_body, settings, message_id)
    if "</body>" in tracked:
        return tracked.replace("</body>", footer + "</body>", 1)
    return tracked + footer


def finish_text(text_body: str, settings: Settings, unsubscribe: str) -> str:
    return f"{text_body.rstrip()}\n\n--\n{settings.postal_address}\nUnsubscribe: {unsubscribe}\n"


def _domain(settings: Settings) -> str:
    return urlsplit(settings.base_url).hostname or "localhost"


def mime_message(
    settings: Settings,
    *,
    to: str,
    subject: str,
    html_body: str,
    text_body: str,
    unsubscribe: str | None,
    list_id: str | None,
    message_uuid: uuid.UUID,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(idstring=message_uuid.hex, domain=_domain(settings))
    if unsubscribe:
        mailto = f"mailto:unsubscribe@{_domain(settings)}?subject=unsubscribe-{message_uuid.hex}"
        message["List-Unsubscribe"] = f"<{unsubscribe}>, <{mailto}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    if list_id:
        message["List-Id"] = list_id
    message.set_content(text_body)
    message.add_alternative(html_body, subtype="html")
    return message


def list_id(name: str, sequence_id: uuid.UUID, settings: Settings) -> str:
    label = re.sub(r"[^\w .-]", "", name)[:60]
    return f"{label} <{sequence_id.hex}.{_domain(settings)}>"
