"""Standard Webhooks signatures: any Standard Webhooks library verifies what we sign."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.handoff.signing import new_secret, signature, signature_header

BODY = b'{"type":"lead.mql","data":{"lead":{"id":"1"}}}'


def _headers(secrets: list[str], message_id: str = "msg_1", timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, message_id, timestamp, BODY),
    }


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_the_reference_library_verifies_our_signature() -> None:
    secret = new_secret()
    assert Webhook(secret).verify(BODY, _headers([secret])) == {"type": "lead.mql", "data": {"lead": {"id": "1"}}}


def test_the_signature_is_v1_base64_hmac_of_id_timestamp_and_body() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    assert signature(secret, "msg_1", 1700000000, BODY) == Webhook(secret).sign("msg_1", _at(1700000000), BODY.decode())


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def test_during_a_rotation_either_secret_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = _headers([new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)


@pytest.mark.parametrize("tamper", ["body", "id", "secret", "stale"])
def test_a_forged_or_stale_delivery_is_refused(tamper: str) -> None:
    secret = new_secret()
    headers = _headers([secret], timestamp=int(time.time()) - (3600 if tamper == "stale" else 0))
    body = BODY + b" " if tamper == "body" else BODY
    if tamper == "id":
        headers["webhook-id"] = "msg_2"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret() if tamper == "secret" else secret).verify(body, headers)
