"""Users and their personal API tokens.

Every user is a fan; a user with a ``creators.Creator`` profile is also a creator; staff are
users with ``is_staff``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    email = models.EmailField("email address", unique=True)

    @property
    def is_creator(self) -> bool:
        return hasattr(self, "creator")


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once, at creation.

    Tokens are 256-bit random strings, so a fast hash is enough (as GitHub does): there is
    nothing to brute-force that a slow password hash would protect.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # The first characters of the token, shown in lists so a user can tell tokens apart.
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class VerifiedWallet(models.Model):
    """A TRON address whose owner proved, by signing a one-time challenge, that it belongs to
    this account (``accounts.wallets.verify_wallet``). Payments claimed from it need no
    signature of their own."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verified_wallets"
    )
    address = models.CharField(max_length=34)
    verified_at = models.DateTimeField()

    class Meta:
        ordering = ["-verified_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "address"], name="unique_wallet_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.user_id})"


class WalletChallenge(models.Model):
    """A message a user asked to sign to verify a wallet; used once, then deleted.

    Kept in the database (not the cache or the session) so that it works for API clients
    without a session and while Redis is away."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet_challenges"
    )
    message = models.TextField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"challenge for {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class OutgoingEmail(models.Model):
    """An email the platform owes someone: written with the request that asked for it, sent by
    the worker (``accounts.mail``), and by the sweep when its task was lost or the send failed.
    A row is sent once: whoever sends it first claims it."""

    subject = models.TextField()
    body = models.TextField()
    html = models.TextField(blank=True)
    from_email = models.CharField(max_length=254, blank=True, help_text="blank: the default")
    to = models.JSONField(help_text="recipient addresses")
    created_at = models.DateTimeField(auto_now_add=True)
    # Not before this: set on creation, moved on by each claim (the send's lease) and failure.
    next_attempt_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.subject} to {', '.join(self.to)}"
