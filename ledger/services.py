"""Giving and taking back access. Sellers (purchases, pledges, memberships, rentals, staff)
call ``grant`` when a source pays for access and ``revoke_source`` when it stops paying; they
never touch grant rows themselves.

Whoever must act at once when access ends (the swarm drops the peer, sockets close) registers
with ``on_revoke``; listeners run after the revoking transaction commits, so they never act on
a revocation that was rolled back. Whoever keeps decisions (the tracker's entitlements in Redis)
registers with ``on_change``, told at once and again after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from btt_platform import clock
from ledger.models import Grant

if TYPE_CHECKING:
    from accounts.models import User
    from swarm.models import Content

logger = logging.getLogger(__name__)

RevokeListener = Callable[[int, int], None]  # (user id, content id); content grants only
_revoke_listeners: list[RevokeListener] = []
ChangeListener = Callable[[int, int], None]  # (user id, content id); content grants only
_change_listeners: list[ChangeListener] = []


def on_revoke(listener: RevokeListener) -> None:
    """Call ``listener(user_id, content_id)`` after each commit that revoked a grant."""
    if listener not in _revoke_listeners:
        _revoke_listeners.append(listener)


def on_change(listener: ChangeListener) -> None:
    """Call ``listener(user_id, content_id)`` when a content grant is created or revoked: at
    once, and again after the commit. A listener drops what it kept, which is harmless if the
    change rolls back; dropped at once, nothing is answered from it while the caller's
    transaction is still open, and dropped after the commit, nothing read before it survives."""
    if listener not in _change_listeners:
        _change_listeners.append(listener)


def _changed(user_id: int, content_id: int) -> None:
    _tell(_change_listeners, user_id, content_id)
    transaction.on_commit(partial(_tell, _change_listeners, user_id, content_id), robust=True)


def grant(
    user: User,
    content: Content,
    source: str,
    source_ref: str = "",
    *,
    starts_at: datetime | None = None,
    until: datetime | None = None,
) -> Grant:
    """Give ``user`` access to ``content`` because of ``source``/``source_ref`` from
    ``starts_at`` (default now) until ``until`` (None: no end). Granting again from a source
    whose grant still stands returns that grant: safe to call twice. Raises ValueError for an
    unknown source or an ``until`` not after the start (a bug in the caller)."""
    if source not in Grant.Source.values:
        raise ValueError(f"unknown grant source {source!r}")
    starts_at = starts_at or clock.now()
    if until is not None and until <= starts_at:
        raise ValueError("a grant ends after it starts")
    standing = Grant.objects.filter(
        user=user, content=content, source=source, source_ref=source_ref, revoked_at__isnull=True
    ).first()
    if standing is not None:
        return standing
    try:
        with transaction.atomic():
            created = Grant.objects.create(
                user=user,
                content=content,
                source=source,
                source_ref=source_ref,
                starts_at=starts_at,
                until=until,
            )
            _changed(user.pk, content.pk)
            return created
    except IntegrityError:  # granted concurrently from the same source
        return Grant.objects.get(
            user=user,
            content=content,
            source=source,
            source_ref=source_ref,
            revoked_at__isnull=True,
        )


def grant_standing(
    user: User,
    scope: str,
    source: str,
    source_ref: str = "",
    *,
    starts_at: datetime | None = None,
    until: datetime | None = None,
) -> Grant:
    """Give ``user`` the standing ``scope`` (e.g. ``tier:12``) because of ``source``/
    ``source_ref`` over the dates, by the rules of ``grant`` (safe to call twice; revoked by
    ``revoke_source`` with the contents the same source gave). Raises ValueError as ``grant``
    does, or for an empty scope."""
    if not scope:
        raise ValueError("a standing has a scope")
    if source not in Grant.Source.values:
        raise ValueError(f"unknown grant source {source!r}")
    starts_at = starts_at or clock.now()
    if until is not None and until <= starts_at:
        raise ValueError("a grant ends after it starts")
    mine = Grant.objects.filter(
        user=user, content__isnull=True, scope=scope, source=source, source_ref=source_ref
    )
    standing = mine.filter(revoked_at__isnull=True).first()
    if standing is not None:
        return standing
    try:
        with transaction.atomic():
            return Grant.objects.create(
                user=user,
                scope=scope,
                source=source,
                source_ref=source_ref,
                starts_at=starts_at,
                until=until,
            )
    except IntegrityError:  # granted concurrently from the same source
        return mine.get(revoked_at__isnull=True)


def revoke_source(source: str, source_ref: str, reason: str) -> int:
    """Take back every standing grant that ``source``/``source_ref`` gave; how many. Safe to
    call twice (the second call finds nothing standing)."""
    return _revoke(Grant.objects.filter(source=source, source_ref=source_ref), reason)


def revoke_grant(grant_id: int, reason: str) -> int:
    return _revoke(Grant.objects.filter(pk=grant_id), reason)


def _revoke(grants: QuerySet[Grant], reason: str) -> int:
    standing = grants.filter(revoked_at__isnull=True)
    with transaction.atomic():
        pairs = list(standing.values_list("pk", "user_id", "content_id"))
        if not pairs:
            return 0
        # Conditional on still standing: a concurrent revoke counts once.
        revoked = Grant.objects.filter(
            pk__in=[pk for pk, _, _ in pairs], revoked_at__isnull=True
        ).update(revoked_at=clock.now(), revoke_reason=reason[:300])
        for _, user_id, content_id in pairs:
            if content_id is None:  # a standing: no door holds a connection open on it
                continue
            _changed(user_id, content_id)
            transaction.on_commit(
                partial(_tell, _revoke_listeners, user_id, content_id), robust=True
            )
    return revoked


def _tell(listeners: list[Callable[[int, int], None]], user_id: int, content_id: int) -> None:
    for listener in list(listeners):
        try:
            listener(user_id, content_id)
        except Exception:
            # Doors re-check on their own within seconds (the tracker's cache, the engine's
            # admission expiry); one failing listener must not stop the others.
            logger.exception("grant or revocation listener %r failed", listener)
