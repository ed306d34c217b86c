"""Swarm operations the engine and the web process share."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.mail import queue_email
from accounts.models import User
from accounts.notifications import notify_user
from ledger import access
from staff import audit
from staff.models import AuditEntry
from swarm import admission, events
from swarm.models import Content, EngineNode, Passkey
from swarm.seeding import EngineStats, HealthReport, Published, TorrentStats


def register_engine(name: str, libtorrent_version: str) -> EngineNode:
    now = timezone.now()
    node, _ = EngineNode.objects.update_or_create(
        name=name,
        defaults={
            "libtorrent_version": libtorrent_version,
            "pid": os.getpid(),
            "started_at": now,
            "stopped_at": None,
        },
    )
    return node


def record_heartbeat(node: EngineNode, stats: EngineStats) -> None:
    """Write the engine's heartbeat and stats; staff watching swarm health see them live."""
    now = timezone.now()
    EngineNode.objects.filter(pk=node.pk).update(
        last_heartbeat=now,
        stopped_at=None,
        listen_address=stats.listen_address,
        torrents=stats.torrents,
        peers=stats.peers,
        upload_rate=stats.upload_rate,
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
        }
    )


def mark_stopped(node: EngineNode) -> None:
    EngineNode.objects.filter(pk=node.pk).update(stopped_at=timezone.now(), upload_rate=0)
    node.refresh_from_db()
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
    Passkey.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    transaction.on_commit(lambda: admission.forget(user.pk), robust=True)
    return Passkey.objects.create(user=user)


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


# --- the engine's view of the database ------------------------------------------------------


def published_content_for_engine() -> list[Published]:
    """What the engine should seed: published content (and unhealthy content, to retry)."""
    contents = (
        Content.objects.filter(
            state__in=[Content.State.SEEDING, Content.State.UNHEALTHY],
            infohash__isnull=False,
            metainfo__isnull=False,
        )
        .prefetch_related("files")
        .order_by("pk")
    )
    published = []
    for content in contents:
        files = list(content.files.all())
        single = len(files) == 1 and files[0].path == content.name
        published.append(
            Published(
                content_id=content.pk,
                infohash=str(content.infohash),
                metainfo=bytes(content.metainfo or b""),
                save_path=Path(settings.CONTENT_ROOT) / str(content.pk),
                files=tuple(
                    (f.path if single else f"{content.name}/{f.path}", f.size) for f in files
                ),
                healthy=content.state == Content.State.SEEDING,
            )
        )
    return published


def apply_health_reports(reports: list[HealthReport]) -> None:
    """Move content between seeding and unhealthy as the engine found its files."""
    for report in reports:
        if report.healthy:
            old, new = Content.State.UNHEALTHY, Content.State.SEEDING
        else:
            old, new = Content.State.SEEDING, Content.State.UNHEALTHY
        with transaction.atomic():
            changed = Content.objects.filter(pk=report.content_id, state=old).update(
                state=new, state_detail=report.detail
            )
            if not changed and not report.healthy:
                # Already unhealthy: keep the newest reason.
                Content.objects.filter(pk=report.content_id, state=Content.State.UNHEALTHY).update(
                    state_detail=report.detail
                )
            if changed:
                events.send_ingest(report.content_id, new, 1.0, report.detail)
                events.send_content_health(report.content_id, new, report.detail)


def record_content_stats(stats: list[TorrentStats], *, persist: bool) -> None:
    """Push live swarm stats to each content's WebSocket group; write them when ``persist``."""
    now = timezone.now()
    for item in stats:
        event: events.StatsEvent = {
            "type": "stats",
            "state": Content.State.SEEDING,
            "peers": item.peers,
            "seeds": item.seeds,
            "upload_rate": item.upload_rate,
            "bytes_uploaded": item.bytes_uploaded,
        }
        events.send_stats(item.content_id, event)
        if persist:
            Content.objects.filter(pk=item.content_id).update(
                peers=item.peers,
                seeds=item.seeds,
                upload_rate=item.upload_rate,
                bytes_uploaded=item.bytes_uploaded,
                stats_updated_at=now,
            )


# --- moderation -----------------------------------------------------------------------------

TAKEDOWN_REASON_MAX = 500


class ModerationRefused(Exception):
    """A takedown or restore that cannot happen, with a message for the staff member."""


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
        Content.objects.filter(pk=content.pk, state=old).update(
            state=Content.State.REMOVED, state_detail=reason
        )
        content.state, content.state_detail = Content.State.REMOVED, reason
        audit.record(
            actor, AuditEntry.Action.TAKEDOWN, content, reason=reason, detail={"from_state": old}
        )
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
            state=Content.State.SEEDING, state_detail=""
        )
        content.state, content.state_detail = Content.State.SEEDING, ""
        audit.record(
            actor,
            AuditEntry.Action.RESTORE,
            content,
            reason=note,
            detail={"removed_for": removed_for},
        )
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
