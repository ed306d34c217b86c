"""The WebSocket tracker's wire protocol, as npm ``bittorrent-tracker`` speaks it (WebTorrent).

JSON text frames. ``info_hash``, ``peer_id``, ``to_peer_id`` and ``offer_id`` are 20-character
"binary strings": one character per byte, U+0000-U+00FF (its ``lib/server/parse-websocket.js``).
An announce carries WebRTC ``offers`` to relay, one to each of as many other peers, or one
``answer`` to route back to ``to_peer_id``; a scrape one or several info hashes. A frame the
tracker cannot read is a ``ProtocolViolation`` (the socket is closed after its failure frame);
one it reads but refuses is a ``TrackerError`` (a failure frame, the socket stays).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from swarm.tracker.protocol import MAX_SCRAPE_HASHES, TrackerError

# bittorrent-tracker's events; the browser client sends none on its periodic announces.
_EVENTS: Final = frozenset({"", "started", "stopped", "completed", "update", "paused"})
# An SDP offer or answer is a few kilobytes; the frame's cap bounds it in the end.
_SIGNAL_KEYS: Final = frozenset({"type", "sdp"})


class ProtocolViolation(TrackerError):
    """A frame that is not the protocol (not JSON, wrong lengths, unknown action): garbage,
    answered with a failure frame and a close."""


@dataclass(frozen=True)
class Offer:
    offer: dict[str, Any]
    offer_id: str  # binary string


@dataclass(frozen=True)
class Announce:
    info_hash: bytes
    peer_id: bytes
    event: str
    seeder: bool
    offers: list[Offer]
    answer: dict[str, Any] | None
    to_peer_id: bytes | None
    offer_id: str | None


@dataclass(frozen=True)
class Scrape:
    info_hashes: list[bytes]


def binary(value: bytes) -> str:
    """Bytes as the protocol's binary string (latin-1 maps each byte to one character)."""
    return value.decode("latin-1")


def _bytes20(message: dict[str, Any], name: str) -> bytes:
    value = message.get(name)
    if not isinstance(value, str) or len(value) != 20:
        raise ProtocolViolation(f"invalid {name}")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        # A character above U+00FF is no byte: a client that sent UTF-8 text, not the protocol.
        raise ProtocolViolation(f"invalid {name}") from None


def _signal(value: Any, kind: str) -> dict[str, Any]:
    """A WebRTC session description, relayed as the client sent it once its shape is right."""
    if (
        not isinstance(value, dict)
        or value.get("type") != kind
        or not isinstance(value.get("sdp"), str)
        or not set(value) <= _SIGNAL_KEYS
    ):
        raise ProtocolViolation(f"invalid {kind}")
    return {"type": kind, "sdp": value["sdp"]}


def parse_frame(text: str, max_offers: int) -> Announce | Scrape:
    """One frame's request; raises ``ProtocolViolation`` for garbage, ``TrackerError`` for a
    readable request the tracker refuses. At most ``max_offers`` offers are kept: the client
    generates a handful (``bittorrent-tracker`` at most 5), the rest would only be relay load."""
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolViolation("invalid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolViolation("invalid message")
    action = message.get("action")
    if action == "scrape":
        return _parse_scrape(message)
    if action != "announce":
        raise ProtocolViolation("invalid action")
    info_hash = _bytes20(message, "info_hash")
    peer_id = _bytes20(message, "peer_id")
    event = message.get("event") or ""
    if event not in _EVENTS:
        raise TrackerError("invalid event")
    left = message.get("left")
    answer = to_peer_id = offer_id = None
    if "answer" in message:
        answer = _signal(message["answer"], "answer")
        to_peer_id = _bytes20(message, "to_peer_id")
        offer_id = binary(_bytes20(message, "offer_id"))
    raw_offers = message.get("offers") or []
    if not isinstance(raw_offers, list):
        raise ProtocolViolation("invalid offers")
    offers = []
    for raw in raw_offers[:max_offers]:
        if not isinstance(raw, dict):
            raise ProtocolViolation("invalid offers")
        offers.append(
            Offer(
                offer=_signal(raw.get("offer"), "offer"), offer_id=binary(_bytes20(raw, "offer_id"))
            )
        )
    return Announce(
        info_hash=info_hash,
        peer_id=peer_id,
        event=event,
        # ``left`` absent or not a number: bittorrent-tracker counts the peer a leecher.
        seeder=isinstance(left, int | float) and not isinstance(left, bool) and left == 0,
        offers=offers,
        answer=answer,
        to_peer_id=to_peer_id,
        offer_id=offer_id,
    )


def _parse_scrape(message: dict[str, Any]) -> Scrape:
    raw = message.get("info_hash")
    hashes = [raw] if isinstance(raw, str) else raw
    if not isinstance(hashes, list) or not hashes:
        # A private tracker does not list what it tracks (no full scrape).
        raise ProtocolViolation("invalid info_hash")
    if len(hashes) > MAX_SCRAPE_HASHES:
        raise TrackerError(f"at most {MAX_SCRAPE_HASHES} info_hash per scrape")
    found = [_bytes20({"info_hash": h}, "info_hash") for h in hashes]
    return Scrape(info_hashes=list(dict.fromkeys(found)))


def failure(reason: str, action: str | None = None, info_hash: bytes | None = None) -> str:
    """A failure frame; with the action and info hash when known, so that the client's torrent
    (``_onAnnounceResponse`` drops frames of other info hashes) hears it."""
    frame: dict[str, Any] = {"failure reason": reason}
    if action is not None:
        frame["action"] = action
    if info_hash is not None:
        frame["info_hash"] = binary(info_hash)
    return json.dumps(frame)
