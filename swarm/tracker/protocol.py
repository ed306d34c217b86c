"""The tracker's wire protocol: announce and scrape queries in, bencoded replies out.

Protocols: BEP 3 (announce), BEP 23 (compact ``peers``), BEP 7 (``peers6`` for IPv6 peers),
BEP 48 (scrape), BEP 21's ``paused`` event (libtorrent sends it for upload-only torrents).
Every answer is bencoded with HTTP 200; a refused or malformed request gets a ``failure reason``,
never an error page, because BitTorrent clients only read a bencoded body.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote_to_bytes

import libtorrent as lt
from django.http import HttpRequest

# BEP 3: clients that send no numwant get 50 peers (capped by TRACKER_MAX_PEERS).
DEFAULT_NUMWANT: Final = 50
MAX_QUERY_BYTES: Final = 16 * 1024
MAX_SCRAPE_HASHES: Final = 64
MAX_COUNTER: Final = 2**63 - 1  # Redis integers are signed 64-bit
_EVENTS: Final = frozenset({b"", b"started", b"completed", b"stopped", b"paused"})

# A bencoded dictionary, before encoding.
Payload = dict[bytes, Any]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrackerError(Exception):
    """A request the tracker refuses; the message reaches the client as ``failure reason``."""


def raw_query(request: HttpRequest) -> bytes:
    """The query string as the client sent it.

    Django's QueryDict decodes values as UTF-8, which corrupts the binary info_hash and peer_id.
    Under ASGI the scope holds the raw bytes; a WSGI environ holds them decoded as latin-1.
    """
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and isinstance(scope.get("query_string"), bytes):
        query: bytes = scope["query_string"]
        return query
    text: str = request.META.get("QUERY_STRING", "")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def parse_query(raw: bytes) -> dict[str, list[bytes]]:
    if len(raw) > MAX_QUERY_BYTES:
        raise TrackerError("query string too long")
    params: dict[str, list[bytes]] = {}
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        # '+' stays a '+': trackers and clients percent-encode binary values, form-style
        # '+'-for-space would corrupt them.
        params.setdefault(unquote_to_bytes(name).decode("latin-1"), []).append(
            unquote_to_bytes(value)
        )
    return params


def _single(params: dict[str, list[bytes]], name: str) -> bytes | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise TrackerError(f"{name} given more than once")
    return values[0]


def _required(params: dict[str, list[bytes]], name: str) -> bytes:
    value = _single(params, name)
    if value is None:
        raise TrackerError(f"missing {name}")
    return value


def _integer(value: bytes, name: str, minimum: int, maximum: int) -> int:
    # bytes.isdigit() accepts ASCII digits only; int() alone would take " 12", "+12", "1_2".
    if not value.isdigit() or len(value) > 20:
        raise TrackerError(f"invalid {name}")
    number = int(value)
    if not minimum <= number <= maximum:
        raise TrackerError(f"invalid {name}")
    return number


def _flag(params: dict[str, list[bytes]], name: str) -> bool | None:
    value = _single(params, name)
    if value is None:
        return None
    if value not in (b"0", b"1"):
        raise TrackerError(f"invalid {name}")
    return value == b"1"


@dataclass(frozen=True)
class AnnounceQuery:
    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: str
    numwant: int
    compact: bool
    no_peer_id: bool


def parse_announce(raw: bytes) -> AnnounceQuery:
    """Validate an announce's parameters strictly; raises TrackerError with the reason."""
    params = parse_query(raw)
    info_hash = _required(params, "info_hash")
    if len(info_hash) != 20:
        raise TrackerError("invalid info_hash")
    peer_id = _required(params, "peer_id")
    if len(peer_id) != 20:
        raise TrackerError("invalid peer_id")
    event = _single(params, "event") or b""
    if event not in _EVENTS:
        raise TrackerError("invalid event")
    numwant = _single(params, "numwant")
    # The optional ``ip`` parameter is ignored: the peer's address is the connection's, so
    # nobody can point a swarm at a third party.
    return AnnounceQuery(
        info_hash=info_hash,
        peer_id=peer_id,
        port=_integer(_required(params, "port"), "port", 1, 65535),
        uploaded=_integer(_required(params, "uploaded"), "uploaded", 0, MAX_COUNTER),
        downloaded=_integer(_required(params, "downloaded"), "downloaded", 0, MAX_COUNTER),
        left=_integer(_required(params, "left"), "left", 0, MAX_COUNTER),
        event=event.decode("ascii"),
        numwant=DEFAULT_NUMWANT if numwant is None else _integer(numwant, "numwant", 0, 10**6),
        # BEP 23 lets a tracker answer compact unless the client asks otherwise.
        compact=_flag(params, "compact") is not False,
        no_peer_id=bool(_flag(params, "no_peer_id")),
    )


def parse_scrape(raw: bytes) -> list[bytes]:
    hashes = parse_query(raw).get("info_hash", [])
    if not hashes:
        # BEP 48 allows a full scrape; a private tracker does not list what it tracks.
        raise TrackerError("missing info_hash")
    if len(hashes) > MAX_SCRAPE_HASHES:
        raise TrackerError(f"at most {MAX_SCRAPE_HASHES} info_hash per scrape")
    if any(len(h) != 20 for h in hashes):
        raise TrackerError("invalid info_hash")
    return list(dict.fromkeys(hashes))


def client_address(remote_addr: str) -> IPAddress:
    """The peer's address: the connection's, never a header or parameter the client chose.

    Behind nginx, uvicorn's ``--proxy-headers`` (see Procfile) already puts the address from
    X-Forwarded-For into the ASGI scope for trusted proxies only (``--forwarded-allow-ips``).
    """
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        raise TrackerError("cannot tell your address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return address


def peer_dict(peer_id: bytes, compact_address: bytes, no_peer_id: bool) -> Payload:
    """A peer of a non-compact reply (BEP 3), from its compact address (BEP 23 or BEP 7)."""
    peer: Payload = {
        b"ip": str(ipaddress.ip_address(compact_address[:-2])).encode("ascii"),
        b"port": int.from_bytes(compact_address[-2:], "big"),
    }
    if not no_peer_id:
        peer[b"peer id"] = peer_id
    return peer


def bencode(payload: Payload) -> bytes:
    """The reply's body."""
    reply: bytes = lt.bencode(payload)
    return reply
