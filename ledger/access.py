"""The one door: "may this account fetch this content now, and why".

Pages, the API, web-seed tokens, the tracker, the engine's peer admission and the WebSocket
consumers all ask ``decide``; nothing else reads grants to decide access. Time is an argument
(``now``) so that time-limited grants (rentals, membership periods) are decided by the same
rule at every door.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from btt_platform import clock
from ledger.models import Grant

if TYPE_CHECKING:
    from accounts.models import User
    from swarm.models import Content


@dataclass(frozen=True)
class Access:
    """A decision and its reason. ``until`` is when an allowed access ends (None: no end, or
    not allowed); ``grant_id`` the grant it rests on, if any."""

    allowed: bool
    reason: str
    until: datetime | None = None
    grant_id: int | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def stands_at(self, now: datetime) -> bool:
        """Whether this allowed decision, taken earlier, still allows at ``now``: by the rule
        of ``Grant.objects.live``, a grant ends at its ``until``. A door that keeps decisions
        (the tracker's entitlements in Redis) asks this on every use, so a rental's window or
        a membership period ends on time however long ago the decision was taken; revocations
        and new grants reach such a door through ``ledger.services`` listeners instead."""
        return self.allowed and (self.until is None or self.until > now)


# Reasons, stable strings: logged, shown to staff, and asserted by tests.
FREE = "free content"
OWN = "own content"
NOT_PUBLISHED = "not published"
SIGNED_OUT = "not signed in"
NO_GRANT = "no live grant"


def decide(user: User | None, content: Content, now: datetime | None = None) -> Access:
    """Whether ``user`` (None: anonymous) may fetch ``content`` at ``now`` (default: now).

    Published free content is open to everyone; published paid content to its creator and to
    holders of a live grant (not revoked, started, not ended). Nothing unpublished is fetched,
    whatever grants exist: a takedown closes every door, and a restore reopens exactly what the
    grants still allow.
    """
    if not content.is_published:
        return Access(False, NOT_PUBLISHED)
    if not content.is_private:
        return Access(True, FREE)
    if user is None or not user.is_active:
        return Access(False, SIGNED_OUT)
    if content.creator.user_id == user.pk:
        return Access(True, OWN)
    now = now or clock.now()
    grants = Grant.objects.live(now).filter(user=user, content=content)
    open_ended = grants.filter(until__isnull=True).values_list("pk", "source").first()
    if open_ended is not None:
        return Access(True, open_ended[1], grant_id=open_ended[0])
    longest = grants.order_by("-until").values_list("pk", "source", "until").first()
    if longest is not None:
        return Access(True, longest[1], until=longest[2], grant_id=longest[0])
    return Access(False, NO_GRANT)


def may_fetch(user: User | None, content: Content, now: datetime | None = None) -> bool:
    return decide(user, content, now).allowed


def granted_content_ids(user: User, now: datetime | None = None) -> QuerySet[Grant, int]:
    """Ids of contents ``user`` holds a live grant for (for listings such as the library,
    which add their own content and then ask ``decide`` per item for the door itself)."""
    return (
        Grant.objects.live(now or clock.now())
        .filter(user=user, content__isnull=False)
        .values_list("content_id", flat=True)
        .distinct()
    )


def ended_content_ids(user: User, source: str, now: datetime | None = None) -> QuerySet[Grant, int]:
    """Ids of contents whose grants from ``source`` ran out for ``user`` (ended, not revoked)
    and that no live grant covers now (for a library's "ended" list, e.g. rentals)."""
    now = now or clock.now()
    return (
        Grant.objects.filter(user=user, source=source, revoked_at__isnull=True, until__lte=now)
        .filter(content__isnull=False)
        .exclude(content_id__in=granted_content_ids(user, now))
        .values_list("content_id", flat=True)
        .distinct()
    )


def decide_standing(
    user: User | None, scopes: Iterable[str], now: datetime | None = None
) -> Access:
    """Whether ``user`` holds any of the standings ``scopes`` at ``now``: a live grant (not
    revoked, started, not ended) of one of them, by the rule ``decide`` applies to a content.

    Why a standing is a grant and not a question put to its seller: a membership period grants
    its contents and its tier's standing (``tier:<id>``) in one go, with the same dates, source
    and source_ref, and voiding or ending the period takes both back. What a post needs ("a
    member of tier X or higher, now") is then read from the same rows as content access, so the
    paid, grace, lapsed and restored cases cannot drift apart, and the ledger knows nothing of
    tiers: the caller names the scopes that would do (a higher tier's covers a lower one's).
    """
    wanted = list(scopes)
    if user is None or not user.is_active:
        return Access(False, SIGNED_OUT)
    if not wanted:
        return Access(False, NO_GRANT)
    now = now or clock.now()
    grants = Grant.objects.live(now).filter(user=user, content__isnull=True, scope__in=wanted)
    open_ended = grants.filter(until__isnull=True).values_list("pk", "source").first()
    if open_ended is not None:
        return Access(True, open_ended[1], grant_id=open_ended[0])
    longest = grants.order_by("-until").values_list("pk", "source", "until").first()
    if longest is not None:
        return Access(True, longest[1], until=longest[2], grant_id=longest[0])
    return Access(False, NO_GRANT)


# Sources whose grants count their time from the first use (a rental's window) listen here.
UseListener = Callable[[int], bool]  # (grant id) -> whether it replaced the grant
_use_listeners: dict[str, list[UseListener]] = {}


def on_use(source: str, listener: UseListener) -> None:
    """Call ``listener(grant_id)`` when a door serves content on a grant of ``source``; it
    returns whether it replaced that grant (through ``ledger.services``)."""
    listeners = _use_listeners.setdefault(source, [])
    if listener not in listeners:
        listeners.append(listener)


def decide_for_use(user: User | None, content: Content, now: datetime | None = None) -> Access:
    """``decide``, for a door about to serve ``content`` (the web seed, the tracker, a torrent
    or magnet download): the source of the grant it rests on is told of the use, and when that
    replaced the grant (a rental's window starts) the decision is taken again."""
    decision = decide(user, content, now)
    if not decision.allowed or decision.grant_id is None:
        return decision
    replaced = False
    for listener in _use_listeners.get(decision.reason, ()):
        replaced = listener(decision.grant_id) or replaced
    return decide(user, content, now) if replaced else decision
