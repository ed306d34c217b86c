"""Who may announce what: the passkey, the content and the access decision between them.

The passkey, the content and whether that passkey's user may download that content
(``ledger.access.decide_for_use``, the one access decision) are read from the database once and
then kept in Redis (``entitlements``) until something they rest on changes, so an announce is
normally answered without the ORM. A kept decision is checked against the platform clock at
each use: a grant's end (``until``) takes effect at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from btt_platform import clock
from btt_platform.fastpath import in_database
from ledger import access
from swarm.models import Content, Passkey
from swarm.tracker import entitlements
from swarm.tracker.peers import redis_client

if TYPE_CHECKING:
    import redis.asyncio as aioredis

# How long a refusal is reused (a revoked grant, a rotated passkey or a takedown take effect
# at once: see ``entitlements``).
AUTH_CACHE_SECONDS: Final = float(entitlements.REFUSAL_SECONDS)
_PASSKEY_RE: Final = re.compile(r"[0-9A-Za-z_-]{1,64}")


@dataclass(frozen=True)
class Grant:
    content_id: int
    user_id: int | None  # None: a swarm engine, whose transfers are not a user's
    private: bool = False  # a paid content: the engine admits the user's address (admission)
    until: float | None = None  # a Unix time when the user's access ends (a rental, a period)


@dataclass(frozen=True)
class Refusal:
    reason: str
    # A refusal of the passkey itself fails a whole scrape; one about a torrent omits it.
    about_passkey: bool = False


def forget_passkey(key: str) -> None:
    """Drop what is kept about passkey ``key`` (rotated, revoked): its next announce is decided
    afresh from the database, decisions included."""
    entitlements.forget_passkeys([key])


def valid_passkey(key: str) -> bool:
    """Whether ``key`` has a passkey's shape (checked before it goes into a Redis key)."""
    return _PASSKEY_RE.fullmatch(key) is not None


async def authorise(key: str, infohash: str) -> Grant | Refusal:
    """Whether passkey ``key`` may announce ``infohash`` (hex).

    From the entries in Redis (``entitlements``) when they hold all it takes, in one round
    trip; else from the database, in one hop, whose answers are kept there for next time.
    """
    if not valid_passkey(key):
        return Refusal("invalid passkey", about_passkey=True)
    client = await redis_client()
    found = await entitlements.lookup(client, key, infohash)
    return await authorise_found(client, found, key, infohash)


async def authorise_found(
    client: aioredis.Redis, found: entitlements.Found, key: str, infohash: str
) -> Grant | Refusal:
    """``authorise``, given what ``entitlements.lookup`` (or ``hotpath``) found in Redis for
    ``key`` (a valid passkey) and ``infohash``."""
    if found.passkey is not None and found.content is not None:
        passkey, content = found.passkey, found.content
        refusal = _refuse_content(content.state, content.state_detail)
        if refusal is not None:
            return refusal
        if passkey.user_id is None:
            return Grant(content_id=content.content_id, user_id=None)
        decision = found.decision
        if decision is not None and not decision.allowed:
            return Refusal("not entitled to this torrent")
        if decision is not None and decision.stands_at(clock.now()):
            return _grant(content.content_id, passkey.user_id, content.private, decision)
        # No decision, or one whose grant ended: maybe renewed since; the database knows.
    return await _authorise_from_database(client, found.at, key, infohash)


async def _authorise_from_database(
    client: aioredis.Redis, read_at: int, key: str, infohash: str
) -> Grant | Refusal:
    passkey, content, decision = await in_database(_load, key, infohash)
    await entitlements.fill(client, read_at, key, passkey, infohash, content, decision)
    if passkey is None:
        return Refusal("invalid passkey", about_passkey=True)
    if passkey.revoked_at is not None:
        return Refusal("passkey revoked: download the torrent again", about_passkey=True)
    if content is None:
        return Refusal("unregistered torrent")
    refusal = _refuse_content(content.state, content.state_detail)
    if refusal is not None:
        return refusal
    if passkey.engine_id is not None:
        return Grant(content_id=content.pk, user_id=None)
    assert decision is not None
    assert passkey.user_id is not None
    if not decision.stands_at(clock.now()):
        return Refusal("not entitled to this torrent")
    return _grant(content.pk, passkey.user_id, content.is_private, decision)


def _refuse_content(state: str, state_detail: str) -> Refusal | None:
    if state == Content.State.REMOVED:
        return Refusal(f"unregistered torrent: {state_detail or 'removed'}")
    if state not in (Content.State.SEEDING, Content.State.UNHEALTHY):
        return Refusal("torrent not available")
    return None


def _grant(content_id: int, user_id: int, private: bool, decision: access.Access) -> Grant:
    until = decision.until.timestamp() if decision.until is not None else None
    return Grant(content_id=content_id, user_id=user_id, private=private, until=until)


def _load(key: str, infohash: str) -> tuple[Passkey | None, Content | None, access.Access | None]:
    """The passkey, the content and, for a user's live passkey and a published content, the
    decision of the door (``decide_for_use``: a rental's first use starts its window)."""
    passkey = Passkey.objects.select_related("user").filter(key=key).first()
    content = Content.objects.select_related("creator").filter(infohash=infohash).first()
    decision = None
    if (
        passkey is not None
        and passkey.revoked_at is None
        and passkey.user is not None
        and content is not None
        and content.is_published
    ):
        decision = access.decide_for_use(passkey.user, content)
    return passkey, content, decision
