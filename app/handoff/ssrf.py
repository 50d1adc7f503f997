"""Refuse webhook targets inside our own network (SSRF) in production mode."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from app.errors import InvalidInput


def _is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def _resolved_addresses(host: str, port: int) -> set[str]:
    return {str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}


def unsafe_reason(url: str, *, production: bool) -> str | None:
    """Why `url` may not receive webhooks, or None. Development allows loopback receivers."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL"
    if parts.username or parts.password:
        return "must not carry credentials; use custom headers"
    if not production:
        return None
    if parts.scheme != "https":
        return "must use https in production mode"
    try:
        addresses = _resolved_addresses(parts.hostname, parts.port or 443)
    except OSError:
        return f"host {parts.hostname} does not resolve"
    if any(_is_internal(address) for address in addresses):
        return "resolves to a private, loopback or link-local address"
    return None


def check_webhook_url(url: str, *, production: bool) -> None:
    reason = unsafe_reason(url, production=production)
    if reason:
        raise InvalidInput(["body", "url"], reason)
