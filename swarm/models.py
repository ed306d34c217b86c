"""The swarm's state in the database: content, its files, access, passkeys and engine nodes."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from swarm import public_page


class EngineNode(models.Model):
    """A ``runswarm`` process. Its heartbeat row is how /healthz and the admin see it."""

    name = models.CharField(max_length=200, unique=True)
    listen_address = models.CharField(max_length=200, blank=True)
    libtorrent_version = models.CharField(max_length=40, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    # Set on a clean shutdown, so /healthz turns red at once instead of after the stale window.
    stopped_at = models.DateTimeField(null=True, blank=True)
    # Where fans reach this node's web seed (scheme, host, port; no path): the web process beside
    # the node's data directory. Blank: the site's own URL (one node, one site).
    webseed_url = models.CharField(max_length=200, blank=True)
    torrents = models.PositiveIntegerField(default=0)
    peers = models.PositiveIntegerField(default=0)
    upload_rate = models.PositiveBigIntegerField(default=0, help_text="bytes per second")
    # Free bytes of the node's data directory, from its heartbeat: what placement fills.
    free_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    # Set by ``drainnode``: nothing new is placed here, and what it holds moves to other nodes.
    draining_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def cover_upload_to(content: Content, filename: str) -> str:
    # A new name per upload: the cover is served with long cache lifetimes, so a changed cover
    # must have a changed URL. The extension is the one Pillow's check accepted.
    return f"covers/{content.pk}/{secrets.token_hex(8)}{Path(filename).suffix.lower()}"


# The fields that change what an engine node seeds. Every write of one of them moves
# ``Content.changed_at``, which each node reads its changes by (``swarm.published_feed``). Done
# here rather than by each caller: the writers are conditional UPDATEs all over the apps, and one
# that forgot would leave every node seeding a taken-down content until its next full sweep.
ENGINE_FIELDS = frozenset({"state", "infohash", "metainfo"})


class ContentQuerySet(models.QuerySet["Content"]):
    def update(self, **kwargs: Any) -> int:
        if ENGINE_FIELDS & kwargs.keys() and "changed_at" not in kwargs:
            kwargs["changed_at"] = timezone.now()
        changed = super().update(**kwargs)
        if changed:
            # No signal reports an UPDATE: a takedown must not stay on a kept page.
            public_page.content_written(kwargs)
        return changed

    def published(self) -> ContentQuerySet:
        """Seeding (or seeding with a file problem): what fans may see and fetch."""
        return self.filter(state__in=(Content.State.SEEDING, Content.State.UNHEALTHY))

    def listed(self) -> ContentQuerySet:
        """Published and not unlisted: what a creator's public page shows."""
        return self.published().filter(unlisted=False)


class Content(models.Model):
    """One upload (a single file or a bundle), from upload through hashing to seeding."""

    class State(models.TextChoices):
        UPLOADING = "uploading"
        HASHING = "hashing"
        SEEDING = "seeding"
        UNHEALTHY = "unhealthy"
        FAILED = "failed"
        REMOVED = "removed"

    class Access(models.TextChoices):
        FREE = "free", "Free: anyone may download"
        PAID = "paid", "Paid: only buyers (private torrent)"

    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.PROTECT, related_name="contents"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=10_000)
    access = models.CharField(max_length=8, choices=Access.choices, default=Access.PAID)
    # Apart from access on purpose: access is in the torrent (the private flag) and fixed once
    # hashed, whereas being listed on the creator's page can change at any time.
    unlisted = models.BooleanField(
        default=False, help_text="reachable by its link only; not listed on the creator's page"
    )
    cover = models.ImageField(upload_to=cover_upload_to, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.UPLOADING)
    state_detail = models.TextField(
        blank=True, help_text="why it is unhealthy or failed; a takedown's public reason"
    )
    # When staff took it down (None unless ``removed``): buyers are told the date with the reason.
    removed_at = models.DateTimeField(null=True, blank=True)
    # The torrent's name: the single file's name, or the bundle's folder. ASCII-safe, since
    # WebTorrent does not percent-encode web-seed paths (libtorrent, Transmission, aria2 do).
    name = models.CharField(max_length=200)
    total_size = models.PositiveBigIntegerField(default=0)
    hybrid = models.BooleanField(default=False, help_text="v1+v2 torrent (opt-in)")
    replication_target = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="nodes holding it; empty: SWARM_REPLICATION_TARGET"
    )
    piece_length = models.PositiveIntegerField(null=True, blank=True)
    infohash = models.CharField(max_length=40, unique=True, null=True, blank=True)  # v1, hex
    # The bencoded .torrent as published (canonical announce and url-list); per-user copies
    # replace those two keys, which sit outside the info dict, so the infohash never changes.
    metainfo = models.BinaryField(null=True, blank=True, editable=False)
    hash_progress = models.FloatField(default=0.0)
    # The hashing intent lives here, not in the queue (swarm.hashing): the last sign of life of
    # the hashing (queued, re-queued, or the running task's heartbeat), the running task's
    # token, and how many runs started. A sweep re-queues what went quiet.
    hash_heartbeat_at = models.DateTimeField(null=True, blank=True)
    hash_runner = models.CharField(max_length=32, blank=True)
    hash_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Swarm totals over every node's NodeSeeding row, cached here by the engines periodically
    # (swarm.node_seeding): pages, the API and the studio's reports read them as one content.
    peers = models.PositiveIntegerField(default=0)
    seeds = models.PositiveIntegerField(default=0)
    upload_rate = models.PositiveBigIntegerField(default=0)
    bytes_uploaded = models.PositiveBigIntegerField(default=0, help_text="by the engine, all time")
    stats_updated_at = models.DateTimeField(null=True, blank=True)
    # When a field an engine node acts on (``ENGINE_FIELDS``) last changed: the nodes' cursor.
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = ContentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None or ENGINE_FIELDS & set(update_fields):
            self.changed_at = timezone.now()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "changed_at"}
        super().save(*args, **kwargs)

    @property
    def is_private(self) -> bool:
        return self.access == self.Access.PAID

    @property
    def is_published(self) -> bool:
        """Seeding (or seeding with a file problem): fetchable by whoever may have it."""
        return self.state in (self.State.SEEDING, self.State.UNHEALTHY)

    @property
    def is_bundle(self) -> bool:
        return self.files.count() > 1

    @property
    def cover_url(self) -> str:
        return cover_url(self.pk, self.cover.name)


def cover_url(content_id: int, cover_name: str | None) -> str:
    """A cover's URL ('' without one), from the content's id and its cover field's stored name
    (what a ``values()`` row holds); a new cover has a new name, so a new URL."""
    if not cover_name:
        return ""
    return reverse("content-cover", args=[content_id, PurePosixPath(cover_name).name])


class ContentFile(models.Model):
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="files")
    # Path inside the torrent (below ``Content.name`` for bundles), ASCII-safe, '/'-separated.
    path = models.CharField(max_length=500)
    original_name = models.CharField(max_length=500, help_text="as uploaded, for display")
    size = models.PositiveBigIntegerField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["content", "position"]
        constraints = [
            models.UniqueConstraint(fields=["content", "path"], name="content_file_path_unique")
        ]

    def __str__(self) -> str:
        return self.path


class NodeSeeding(models.Model):
    """What one engine node does with one content, and its own swarm figures.

    Written by that node's engine only (``swarm.node_seeding``), so two nodes never overwrite
    each other's figures. ``Content.state`` (seeding or unhealthy) and its swarm totals are
    derived from the rows of the live nodes.
    """

    class State(models.TextChoices):
        # The values of ``swarm.seeding.SeedState``: the engine speaks them without the ORM.
        SEEDING = "seeding"
        FETCHING = "fetching", "fetching from other nodes"
        CHECKING = "checking", "checking every piece"
        MISSING = "missing", "missing files"
        ERROR = "error"

    node = models.ForeignKey(EngineNode, on_delete=models.CASCADE, related_name="seedings")
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="seedings")
    # The default is what the engine does with a content it holds until it says otherwise.
    state = models.CharField(max_length=8, choices=State.choices, default=State.SEEDING)
    detail = models.TextField(blank=True, help_text="why this node does not seed it")
    peers = models.PositiveIntegerField(default=0)
    seeds = models.PositiveIntegerField(default=0)
    upload_rate = models.PositiveBigIntegerField(default=0, help_text="bytes per second")
    bytes_uploaded = models.PositiveBigIntegerField(default=0, help_text="by this node, all time")
    bytes_on_disk = models.PositiveBigIntegerField(default=0, help_text="verified or trusted")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["content", "node"]
        constraints = [
            models.UniqueConstraint(fields=["node", "content"], name="node_seeding_unique")
        ]

    def __str__(self) -> str:
        return f"{self.node_id} on {self.content_id}: {self.state}"


class Placement(models.Model):
    """A content assigned to an engine node: the node holds it (fetching it over BitTorrent
    from the nodes that have it first). Written by the placement job only (``swarm.placement``);
    whether the node holds it yet is its ``NodeSeeding`` row."""

    node = models.ForeignKey(EngineNode, on_delete=models.CASCADE, related_name="placements")
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="placements")
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["content", "node"]
        constraints = [models.UniqueConstraint(fields=["node", "content"], name="placement_unique")]

    def __str__(self) -> str:
        return f"{self.content_id} on {self.node_id}"


def new_passkey() -> str:
    return secrets.token_hex(16)


class Passkey(models.Model):
    """The secret in a user's (or an engine's) announce URL and web-seed tokens.

    Revoking it cuts off that user's torrents and web-seed links at once; a new one is issued.
    """

    key = models.CharField(max_length=32, unique=True, default=new_passkey)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="passkeys",
        null=True,
        blank=True,
    )
    engine = models.ForeignKey(
        EngineNode, on_delete=models.CASCADE, related_name="passkeys", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, engine__isnull=True)
                | Q(user__isnull=True, engine__isnull=False),
                name="passkey_has_one_owner",
            ),
            models.UniqueConstraint(
                fields=["user"], condition=Q(revoked_at__isnull=True), name="one_active_passkey"
            ),
            models.UniqueConstraint(
                fields=["engine"],
                condition=Q(revoked_at__isnull=True),
                name="one_active_engine_passkey",
            ),
        ]

    def __str__(self) -> str:
        owner = f"user {self.user_id}" if self.user_id else f"engine {self.engine_id}"
        return f"{self.key[:6]}… ({owner})"


class TransferTotal(models.Model):
    """Bytes a user reported to the tracker for one content (sums of announce deltas)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="transfer_totals"
    )
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="transfer_totals")
    uploaded = models.PositiveBigIntegerField(default=0)
    downloaded = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "content"], name="transfer_total_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.content_id}: up {self.uploaded}, down {self.downloaded}"


class Upload(models.Model):
    """One file of a content on its way in (tus): bytes land in ``UPLOAD_ROOT/<id>``.

    ``length`` is declared when the upload is created and counts against the creator's quota
    from then on, so no byte beyond a limit is ever stored. ``offset`` is the number of bytes
    written and fsynced: what a resuming client is told. Publishing moves the files into
    ``CONTENT_ROOT/<content id>/`` and deletes these rows.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="uploads")
    # Where the file goes in the content: ASCII-safe, '/'-separated, unique in the content
    # (ignoring case, for clients on case-insensitive file systems).
    path = models.CharField(max_length=500)
    original_name = models.CharField(max_length=500)
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # An unfinished upload left alone until then is gone (tus "expiration"); finished ones stay.
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["content", "position"]
        constraints = [
            models.UniqueConstraint(fields=["content", "path"], name="upload_path_unique"),
            models.CheckConstraint(
                condition=Q(offset__lte=models.F("length")), name="upload_offset_within_length"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.path} ({self.offset}/{self.length})"

    @property
    def is_complete(self) -> bool:
        return self.offset == self.length

    @property
    def file_path(self) -> Path:
        return settings.UPLOAD_ROOT / str(self.id)


class PeerSharing(models.Model):
    """A fan's choice about sharing with other viewers in the browser (WebTorrent over WebRTC).

    WebRTC shows the fan's IP address to the other viewers of an item, so it is theirs to refuse:
    ``enabled`` off means the web seed only, everywhere. A paid item is shared only once the fan
    chose to (``paid``), since buying something is no consent to be seen by its other buyers.
    No row: the defaults.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="peer_sharing"
    )
    enabled = models.BooleanField(default=True)
    paid = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: p2p {'on' if self.enabled else 'off'}, paid {self.paid}"


class PeerBytes(models.Model):
    """Bytes a fan's browser says it received from other peers (not the web seed) for one
    content: self-reported, so shown as such, and capped (``swarm.peer_sharing``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="peer_bytes"
    )
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="peer_bytes")
    received = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "content"], name="peer_bytes_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.content_id}: {self.received} from peers"
