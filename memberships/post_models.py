"""Posts: what a creator writes for members of a tier (or higher), or for everyone, and the
fan's choice not to be emailed about them.

Who may read a post is the ledger's decision (``memberships.posts.may_read``); a post itself
grants nothing, and neither do its attachments (each follows its own access).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from memberships.models import Tier


class Post(models.Model):
    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.PROTECT, related_name="member_posts"
    )
    # None: public. Otherwise readable by members of this tier or one that covers it.
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="posts"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=20000)
    attachments = models.ManyToManyField("swarm.Content", blank=True, related_name="+")
    published_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    # Soft delete: the post leaves every listing and door; the row stays for the audit trail.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Set by the digest sweep that emailed its members (the claim: each post is told once).
    notices_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-pk"]
        indexes = [models.Index(fields=["notices_sent_at", "published_at"], name="post_unsent")]

    def __str__(self) -> str:
        return f"post {self.pk} of creator {self.creator_id}"

    @property
    def is_public(self) -> bool:
        return self.tier_id is None


class PostMailOptOut(models.Model):
    """A fan who wants no post emails from ``creator`` (None: from any creator). Kept per creator
    rather than per membership so that leaving and joining again does not undo the choice."""

    fan = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    creator = models.ForeignKey(
        "creators.Creator", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fan", "creator"], name="post_opt_out_once"),
            models.UniqueConstraint(
                fields=["fan"], condition=Q(creator__isnull=True), name="post_opt_out_all_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fan_id} opted out of posts from {self.creator_id or 'everyone'}"
