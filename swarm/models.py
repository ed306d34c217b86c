"""The swarm's state in the database: content, its files, access, passkeys and engine nodes."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


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
    torrents = models.PositiveIntegerField(default=0)
    peers = models.PositiveIntegerField(default=0)
    upload_rate = models.PositiveBigIntegerField(default=0, help_text="bytes per second")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def cover_upload_to(content: Content, filename: str) -> str:
    # A new name per upload: the cover is served with long cache lifetimes, so a changed cover
    # must have a changed URL. The extension is the one Pillow's check accepted.
    return f"covers/{content.pk}/{secrets.token_hex(8)}{Path(filename).suffix.lower()}"


class ContentQuerySet(models.QuerySet["Content"]):
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
    state_detail = models.TextField(blank=True, help_text="why it is unhealthy or failed")
    # The torrent's name: the single file's name, or the bundle's folder. ASCII-safe, since
    # WebTorrent does not percent-encode web-seed paths (FIELD-NOTES "Web seeds").
    name = models.CharField(max_length=200)
    total_size = models.PositiveBigIntegerField(default=0)
    hybrid = models.BooleanField(default=False, help_text="v1+v2 torrent (opt-in)")
    piece_length = models.PositiveIntegerField(null=True, blank=True)
    infohash = models.CharField(max_length=40, unique=True, null=True, blank=True)  # v1, hex
    # The bencoded .torrent as published (canonical announce and url-list); per-user copies
    # replace those two keys, which sit outside the info dict, so the infohash never changes.
    metainfo = models.BinaryField(null=True, blank=True, editable=False)
    hash_progress = models.FloatField(default=0.0)
    # The hashing intent lives here, not in the queue (swarm.ingest): the last sign of life of
    # the hashing (queued, re-queued, or the running task's heartbeat), the running task's
    # token, and how many runs started. A sweep re-queues what went quiet.
    hash_heartbeat_at = models.DateTimeField(null=True, blank=True)
    hash_runner = models.CharField(max_length=32, blank=True)
    hash_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Live swarm totals, written by the engine periodically.
    peers = models.PositiveIntegerField(default=0)
    seeds = models.PositiveIntegerField(default=0)
    upload_rate = models.PositiveBigIntegerField(default=0)
    bytes_uploaded = models.PositiveBigIntegerField(default=0, help_text="by the engine, all time")
    stats_updated_at = models.DateTimeField(null=True, blank=True)

    objects = ContentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

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
        """The cover's URL ('' without one); a new cover has a new name, so a new URL."""
        if not self.cover:
            return ""
        return reverse("content-cover", args=[self.pk, PurePosixPath(self.cover.name).name])


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
