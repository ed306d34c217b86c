"""The one door: "may this account fetch this content now, and why".

Pages, the API, web-seed tokens, the tracker, the engine's peer admission and the WebSocket
consumers all ask ``decide``; nothing else reads grants to decide access. Time is an argument
(``now``) so that time-limited grants (rentals, membership periods) are decided by the same
rule at every door.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils import timezone

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
    now = now or timezone.now()
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
        Grant.objects.live(now or timezone.now())
        .filter(user=user)
        .values_list("content_id", flat=True)
        .distinct()
    )
