"""Where a webhook may be sent: HTTPS on public addresses only. The address is resolved and
checked at registration and again at every attempt, and the request goes to the checked address;
``DEBUG`` or ``PAYMENTS_WEBHOOK_ALLOW_PRIVATE`` lift that for development and tests."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from payments.webhooks.errors import UnsafeUrl

MAX_URL_LENGTH = 500  # Webhook.url


def private_targets_allowed() -> bool:
    """Loopback, private and plain-HTTP endpoints: for development (``DEBUG``) and tests
    (``PAYMENTS_WEBHOOK_ALLOW_PRIVATE``) only. In production they would let a creator make the
    platform call into its own network."""
    return bool(settings.DEBUG or settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE)


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return not address.is_global or address.is_multicast


def resolve_target(url: str) -> tuple[str, list[str]]:
    """The URL's host and the addresses it resolves to, all of them public unless private
    targets are allowed. Raises UnsafeUrl."""
    parts = urlsplit(url)
    allow_private = private_targets_allowed()
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_private):
        raise UnsafeUrl("A webhook URL starts with https://.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("A webhook URL carries no user name or password.")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("A webhook URL names a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("The port of this URL is not a number from 1 to 65535.") from None
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl(f"{host} does not resolve.") from None
    addresses: list[str] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if _blocked(address) and not allow_private:
            raise UnsafeUrl(f"{host} is not a public address.")
        if str(address) not in addresses:
            addresses.append(str(address))
    if not addresses:
        raise UnsafeUrl(f"{host} does not resolve.")
    return host, addresses


def check_url(url: str) -> str:
    """``url`` if webhooks may be sent to it. Raises UnsafeUrl."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"A webhook URL is at most {MAX_URL_LENGTH} characters.")
    if any(character.isspace() for character in url):
        raise UnsafeUrl("A webhook URL has no spaces.")
    if urlsplit(url).fragment:
        raise UnsafeUrl("A webhook URL has no #fragment.")
    resolve_target(url)
    return url
