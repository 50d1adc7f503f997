"""Building an email: tracked links, open pixel, footer, and the headers inbox providers require."""

from __future__ import annotations

import html
import re
import uuid
from email import policy
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import urlsplit

from app.nurture.transports import OutgoingEmail
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


# The compat32 email API: serialising costs a quarter of the modern one's header parsing and
# refolding. Nothing is folded on output, so a long List-Unsubscribe URL stays on its line
# (headers stay far below the 998-character limit: subjects are cut at 500).
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
_WIRE = policy.compat32.clone(linesep="\r\n", max_line_length=None)


def _header(value: str) -> str:
    """Non-ASCII as RFC 2047 encoded words, folded here (the wire policy folds nothing)."""
    return value if value.isascii() else Header(value, "utf-8").encode(linesep="\r\n")


def _mailbox(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8")


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8_QP)  # sets charset and Content-Transfer-Encoding
    return part


def message_id(message_uuid: uuid.UUID, settings: Settings) -> str:
    """Derived from the message row, so a resend in the crash window carries the same id."""
    return f"<{message_uuid.hex}@{_domain(settings)}>"


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
) -> OutgoingEmail:
    """The message as it goes on the wire: text and HTML alternatives with every header."""
    message = MIMEMultipart("alternative")
    message["From"] = _mailbox(settings.email_from)
    message["To"] = to
    message["Subject"] = _header(subject)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id(message_uuid, settings)
    if unsubscribe:
        mailto = f"mailto:unsubscribe@{_domain(settings)}?subject=unsubscribe-{message_uuid.hex}"
        message["List-Unsubscribe"] = f"<{unsubscribe}>, <{mailto}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    if list_id:
        message["List-Id"] = list_id
    message.attach(_text_part(text_body, "plain"))
    message.attach(_text_part(html_body, "html"))
    return OutgoingEmail(
        sender=parseaddr(settings.email_from)[1],
        recipient=to,
        message_id=message["Message-ID"],
        data=message.as_bytes(policy=_WIRE),
    )


def list_id(name: str, sequence_id: uuid.UUID, settings: Settings) -> str:
    """RFC 2919: the sequence's name as the phrase (encoded if not ASCII), a stable id in brackets."""
    label = re.sub(r"[^\w .-]", "", name)[:60].strip()
    return f"{_header(label)} <{sequence_id.hex}.{_domain(settings)}>"
