"""Grants: who may fetch what, since when, until when, and because of what.

A grant is added, never edited or deleted; the one change it ever sees is its revocation
(``revoked_at`` and the reason, set once). A re-buy, a renewal or a second staff grant is a new
row, so revoking one source takes back exactly what that source gave.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q

from btt_platform.records import AppendOnly


class GrantQuerySet(models.QuerySet["Grant"]):
    def delete(self) -> NoReturn:
        raise AppendOnly("grants are never deleted; revoke them")

    def live(self, now: Any) -> GrantQuerySet:
        """Not revoked, started, and not yet ended at ``now``."""
        return self.filter(revoked_at__isnull=True, starts_at__lte=now).filter(
            Q(until__isnull=True) | Q(until__gt=now)
        )


class Grant(models.Model):
    class Source(models.TextChoices):
        PURCHASE = "purchase", "Purchase invoice"
        PLEDGE = "pledge", "Pledge"
        MEMBERSHIP = "membership", "Membership period"
        RENTAL = "rental", "Rental"
        FREE = "free", "Free"
        STAFF = "staff", "Granted by staff"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # What is granted: one content, or a standing named by ``scope`` (never both).
    content = models.ForeignKey(
        "swarm.Content", on_delete=models.CASCADE, related_name="grants", null=True, blank=True
    )
    # A standing that is not one content, e.g. ``tier:12``: the grantee holds tier 12 over the
    # grant's dates (what members-only posts ask). Same source, dates and revocation as a
    # content grant, so whatever ends or voids the one ends or voids the other.
    scope = models.CharField(max_length=100, blank=True, default="")
    source = models.CharField(max_length=12, choices=Source.choices)
    # What gave it, within its source: an invoice id, a pledge id, a staff member's note.
    source_ref = models.CharField(max_length=100, blank=True)
    starts_at = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True, help_text="empty: no end")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=300, blank=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["user", "content"], name="grant_user_content"),
            models.Index(fields=["source", "source_ref"], name="grant_source"),
            models.Index(fields=["user", "scope"], name="grant_user_scope"),
        ]
        constraints = [
            # Granting twice from one source is one grant while it stands.
            models.UniqueConstraint(
                fields=["source", "source_ref", "user", "content"],
                condition=Q(revoked_at__isnull=True),
                name="grant_once_per_live_source",
            ),
            models.UniqueConstraint(
                fields=["source", "source_ref", "user", "scope"],
                condition=Q(revoked_at__isnull=True, content__isnull=True),
                name="grant_scope_once_per_live_source",
            ),
            models.CheckConstraint(
                condition=Q(until__isnull=True) | Q(until__gt=models.F("starts_at")),
                name="grant_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=Q(content__isnull=False, scope="")
                | (Q(content__isnull=True) & ~Q(scope="")),
                name="grant_content_xor_scope",
            ),
        ]

    def __str__(self) -> str:
        what = self.content_id if self.content_id is not None else self.scope
        return f"{self.user_id} -> {what} ({self.source} {self.source_ref})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("grants are never changed; revoke one and grant anew")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("grants are never deleted; revoke them")
