"""SSRF: in production, webhooks never go to our own network; development allows loopback."""

from __future__ import annotations

import httpcore
import pytest

from app.handoff import ssrf
from app.handoff.ssrf import PublicAddressesOnly, unsafe_reason


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Names resolve from this table (no network in tests); IP literals resolve to themselves."""
    table: dict[str, set[str]] = {"crm.example.com": {"93.184.215.14"}, "rebind.example.com": {"10.0.0.7"}}

    def resolve(host: str, port: int) -> set[str]:
        if host not in table and not host[0].isdigit() and ":" not in host:
            raise OSError("no such host")
        return table.get(host, {host})

    monkeypatch.setattr(ssrf, "_resolved_addresses", resolve)
    return table


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://0.0.0.0/hook",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://rebind.example.com/hook",
    ],
)
def test_production_refuses_private_loopback_and_link_local_targets(dns: dict[str, set[str]], url: str) -> None:
    assert unsafe_reason(url, production=True) == "resolves to a private, loopback or link-local address"


def test_production_refuses_a_name_with_any_internal_address(dns: dict[str, set[str]]) -> None:
    dns["crm.example.com"].add("127.0.0.1")
    assert unsafe_reason("https://crm.example.com/hook", production=True) is not None


def test_production_accepts_a_public_https_target(dns: dict[str, set[str]]) -> None:
    assert unsafe_reason("https://crm.example.com/hooks/leadnurture", production=True) is None


def test_production_requires_https(dns: dict[str, set[str]]) -> None:
    assert unsafe_reason("http://crm.example.com/hook", production=True) == "must use https in production mode"


def test_a_host_that_does_not_resolve_is_refused(dns: dict[str, set[str]]) -> None:
    assert unsafe_reason("https://nowhere.invalid/hook", production=True) == "host nowhere.invalid does not resolve"


@pytest.mark.parametrize("url", ["ftp://crm.example.com/x", "/relative", "https://", "javascript:alert(1)"])
def test_only_absolute_http_urls_are_targets(url: str) -> None:
    assert unsafe_reason(url, production=False) == "must be an absolute http(s) URL"


def test_credentials_in_the_url_are_refused() -> None:
    assert unsafe_reason("https://user:pw@crm.example.com/x", production=False) is not None


def test_development_allows_a_loopback_receiver() -> None:
    assert unsafe_reason("http://127.0.0.1:8123/hooks", production=False) is None


def test_a_name_that_rebinds_to_an_internal_address_after_the_check_is_refused_at_connect(
    dns: dict[str, set[str]],
) -> None:
    assert unsafe_reason("https://crm.example.com/hook", production=True) is None
    dns["crm.example.com"] = {"127.0.0.1"}  # the attacker's DNS answers differently the second time
    with pytest.raises(httpcore.ConnectError, match="private, loopback or link-local"):
        PublicAddressesOnly().connect_tcp("crm.example.com", 443)


def test_the_connect_guard_refuses_a_name_that_does_not_resolve(dns: dict[str, set[str]]) -> None:
    with pytest.raises(httpcore.ConnectError, match="does not resolve"):
        PublicAddressesOnly().connect_tcp("nowhere.invalid", 443)
