"""Swarm operations the engine and the web process share."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.mail import queue_email
from accounts.models import User
from accounts.notifications import notify_user
from btt_platform import audit
from btt_platform.audit import AuditAction
from btt_platform.errors import Refused
from ledger import access
from swarm import admission, events, published_feed, revocations
from swarm.models import Content, EngineNode, Passkey
from swarm.node_seeding import node_stopped
from swarm.seeding import EngineStats, Published
from swarm.tracker import entitlements, websocket_peers


def register_engine(
    name: str, libtorrent_version: str, webseed_url: str | None = None
) -> EngineNode:
    """Record the node starting, with the base URL of its web seed (None: the setting
    ``SWARM_NODE_WEBSEED_URL``; blank: the site's own URL)."""
    now = timezone.now()
    if webseed_url is None:
        webseed_url = settings.SWARM_NODE_WEBSEED_URL
    node, _ = EngineNode.objects.update_or_create(
        name=name,
        defaults={
            "libtorrent_version": libtorrent_version,
            "webseed_url": webseed_url.rstrip("/"),
            "pid": os.getpid(),
            "started_at": now,
            "stopped_at": None,
        },
    )
    return node


def record_heartbeat(node: EngineNode, stats: EngineStats, free_bytes: int | None = None) -> None:
    """Write the engine's heartbeat and stats, with the free bytes of its data directory (what
    placement fills); staff watching swarm health see them live."""
    now = timezone.now()
    EngineNode.objects.filter(pk=node.pk).update(
        last_heartbeat=now,
        stopped_at=None,
        free_bytes=free_bytes,
        listen_address=stats.listen_address,
        torrents=stats.torrents,
        peers=stats.peers,
        upload_rate=stats.upload_rate,
    )
    # Read back, not taken from ``node``: ``drainnode`` marks it from another process.
    draining_at = (
        EngineNode.objects.filter(pk=node.pk).values_list("draining_at", flat=True).first()
    )
    events.send_node(
        {
            "type": "node",
            "name": node.name,
            "status": "up",
            "listen_address": stats.listen_address,
            "torrents": stats.torrents,
            "peers": stats.peers,
            "upload_rate": stats.upload_rate,
            "last_heartbeat": now.isoformat(),
            "free_bytes": free_bytes,
            "draining_since": draining_at.isoformat() if draining_at else "",
        }
    )


def mark_stopped(node: EngineNode) -> None:
    EngineNode.objects.filter(pk=node.pk).update(stopped_at=timezone.now(), upload_rate=0)
    node.refresh_from_db()
    node_stopped(node)
    events.send_node(
        {
            "type": "node",
            "name": node.name,
            "status": "stopped",
            "listen_address": node.listen_address,
            "torrents": node.torrents,
            "peers": node.peers,
            "upload_rate": 0,
            "last_heartbeat": node.last_heartbeat.isoformat() if node.last_heartbeat else "",
            "free_bytes": node.free_bytes,
            "draining_since": node.draining_at.isoformat() if node.draining_at else "",
        }
    )


def live_engines() -> list[EngineNode]:
    fresh_since = timezone.now() - timedelta(seconds=settings.SWARM_HEARTBEAT_STALE_SECONDS)
    return list(EngineNode.objects.filter(last_heartbeat__gte=fresh_since, stopped_at__isnull=True))


# --- access ---------------------------------------------------------------------------------


def active_passkey(user: User) -> Passkey:
    """The user's current passkey, issued on first use."""
    passkey = Passkey.objects.filter(user=user, revoked_at__isnull=True).first()
    if passkey is not None:
        return passkey
    try:
        with transaction.atomic():
            return Passkey.objects.create(user=user)
    except IntegrityError:  # another request issued it first
        return Passkey.objects.get(user=user, revoked_at__isnull=True)


def engine_passkey(node: EngineNode) -> Passkey:
    passkey = Passkey.objects.filter(engine=node, revoked_at__isnull=True).first()
    return passkey or Passkey.objects.create(engine=node)


@transaction.atomic
def rotate_passkey(user: User) -> Passkey:
    """Revoke the user's passkey (cutting off their torrents and web-seed links); issue anew.
    The engine stops serving the user's addresses once the tracker sees the new passkey."""
    old = Passkey.objects.filter(user=user, revoked_at__isnull=True)
    old_keys = list(old.values_list("key", flat=True))
    old.update(revoked_at=timezone.now())
    # Every web process's cached decisions for the old keys stop at once, not just this one's.
    transaction.on_commit(lambda: revocations.mark_revoked(old_keys), robust=True)
    # At once and after the commit, as ``ledger.services.on_change`` tells its listeners.
    entitlements.forget_passkeys(old_keys)
    transaction.on_commit(lambda: entitlements.forget_passkeys(old_keys), robust=True)
    transaction.on_commit(lambda: admission.forget(user.pk), robust=True)
    return Passkey.objects.create(user=user)


def account_saved(instance: User, **_: object) -> None:
    """An account was saved (``post_save``, e.g. deactivated by staff): the tracker's kept
    entries for its passkeys are read again, so a deactivated account is refused at once rather
    than when they expire. Updates that bypass ``save`` (``QuerySet.update``) are not heard."""
    keys = list(Passkey.objects.filter(user=instance).values_list("key", flat=True))
    if keys:
        entitlements.forget_passkeys(keys)
        transaction.on_commit(lambda: entitlements.forget_passkeys(keys), robust=True)


def access_revoked(user_id: int, content_id: int) -> None:
    """Told by the ledger after a grant was revoked (``ledger.services.on_revoke``): unless
    another grant still gives the user the content, the engine stops serving their addresses
    for it (within about a second, dropping their connections)."""
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    user = User.objects.filter(pk=user_id).first()
    if content is None or not content.infohash or user is None:
        return
    if access.may_fetch(user, content):
        return
    admission.forget(user_id, content.infohash)
    # The WebSocket tracker's sockets of the user decide again now (not at their next recheck):
    # the peer leaves the swarm and the engines drop their data channels to it.
    keys = list(Passkey.objects.filter(user_id=user_id).values_list("key", flat=True))
    websocket_peers.recheck_now(content.infohash, keys)


# --- the engine's view of the database ------------------------------------------------------


def published_content_for_engine(node: EngineNode) -> list[Published]:
    """What ``node`` should seed, read in full: published content (and unhealthy content, to
    retry). Healthy is what its own row says (the content's state before it has one): a node
    that found the files wrong checks every piece before it seeds them again, whatever other
    nodes do. The engine reads it by changes instead (``swarm.published_feed``)."""
    return [item for item, _ in published_feed.read_published(node).values()]


# --- moderation -----------------------------------------------------------------------------

TAKEDOWN_REASON_MAX = 500


class ModerationRefused(Refused):
    """A takedown or restore that cannot happen, with a message for the staff member."""

    status = 409


def take_down_content(actor: User, content_id: int, reason: str) -> Content:
    """Take published content down: it turns ``removed`` with ``reason``, which the engine
    (at its next reconcile, every ``SWARM_RECONCILE_SECONDS``), the tracker ("unregistered
    torrent: <reason>") and the web seed (410, also mid-response) act on; the creator is told.
    Raises Content.DoesNotExist and ModerationRefused (no reason, too long, not published)."""
    reason = " ".join(reason.split())
    if not reason:
        raise ModerationRefused("A takedown needs a reason.")
    if len(reason) > TAKEDOWN_REASON_MAX:
        raise ModerationRefused(f"A reason is at most {TAKEDOWN_REASON_MAX} characters.")
    with transaction.atomic():
        content = (
            Content.objects.select_for_update(of=("self",))
            .select_related("creator__user")
            .get(pk=content_id)
        )
        old = content.state
        if old not in (Content.State.SEEDING, Content.State.UNHEALTHY):
            raise ModerationRefused(f"Only published content can be taken down (it is {old}).")
        removed_at = timezone.now()
        Content.objects.filter(pk=content.pk, state=old).update(
            state=Content.State.REMOVED, state_detail=reason, removed_at=removed_at
        )
        content.state, content.state_detail = Content.State.REMOVED, reason
        content.removed_at = removed_at
        audit.record(
            actor, AuditAction.TAKEDOWN, content, reason=reason, detail={"from_state": old}
        )
        entitlements.forget_content(content.infohash)
        transaction.on_commit(partial(entitlements.forget_content, content.infohash), robust=True)
        events.send_ingest(content.pk, Content.State.REMOVED, 1.0, reason)
        notify_user(
            content.creator.user_id,
            "content.removed",
            content_id=content.pk,
            title=content.title,
            reason=reason,
        )
        _email_creator(
            content,
            f"“{content.title}” was taken down",
            f"Your release “{content.title}” was taken down by the platform's moderators.\n\n"
            f"Reason: {reason}\n\nIt is no longer seeded or downloadable. Reply to this email "
            "if you think this is a mistake.",
        )
    return content


def _email_creator(content: Content, subject: str, body: str) -> None:
    email = content.creator.user.email
    if email:
        queue_email(subject, body, [email])


def restore_content(actor: User, content_id: int, note: str = "") -> Content:
    """Undo a takedown: the content seeds again (the engine adds it at its next reconcile and
    checks each piece the first time it sends it) and the creator is told. Raises
    Content.DoesNotExist and ModerationRefused (not taken down)."""
    note = " ".join(note.split())[:TAKEDOWN_REASON_MAX]
    with transaction.atomic():
        content = (
            Content.objects.select_for_update(of=("self",))
            .select_related("creator__user")
            .get(pk=content_id)
        )
        if content.state != Content.State.REMOVED:
            raise ModerationRefused("Only content that was taken down can be restored.")
        removed_for = content.state_detail
        Content.objects.filter(pk=content.pk, state=Content.State.REMOVED).update(
            state=Content.State.SEEDING, state_detail="", removed_at=None
        )
        content.state, content.state_detail, content.removed_at = Content.State.SEEDING, "", None
        audit.record(
            actor,
            AuditAction.RESTORE,
            content,
            reason=note,
            detail={"removed_for": removed_for},
        )
        entitlements.forget_content(content.infohash)
        transaction.on_commit(partial(entitlements.forget_content, content.infohash), robust=True)
        events.send_ingest(content.pk, Content.State.SEEDING, 1.0)
        notify_user(
            content.creator.user_id, "content.restored", content_id=content.pk, title=content.title
        )
        _email_creator(
            content,
            f"“{content.title}” is back",
            f"Your release “{content.title}” was restored and is seeded and downloadable again.",
        )
    return content
