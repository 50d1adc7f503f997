"""Refuse webhook targets inside our own network (SSRF) in production mode."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore

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


class PublicAddressesOnly(httpcore.SyncBackend):
    """Connects only to an address it resolved and checked itself, so a DNS answer that
    changes between the URL check and the connection (rebinding) cannot reach inside."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolved_addresses(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"host {host} does not resolve") from exc
        if not addresses or any(_is_internal(address) for address in addresses):
            raise httpcore.ConnectError(f"host {host} resolves to a private, loopback or link-local address")
        return super().connect_tcp(min(addresses), port, timeout, local_address, socket_options)
