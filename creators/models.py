"""Creator profiles: a user becomes a creator by having one."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from btt_platform.tron import validate_tron_address

RESERVED_HANDLES = frozenset(
    {"admin", "api", "static", "media", "ws", "announce", "scrape", "webseed", "healthz",
     "accounts", "settings", "signup", "login", "logout", "creators", "staff", "support"}
)  # fmt: skip

handle_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9_-]{1,28}[a-z0-9])$",
    "A handle is 3 to 30 characters: lowercase letters, digits, '-' and '_', "
    "starting and ending with a letter or digit.",
    code="invalid_handle",
)


def validate_handle_not_reserved(value: str) -> None:
    if value.lower() in RESERVED_HANDLES:
        raise ValidationError("That handle is reserved; choose another.", code="reserved_handle")


class Creator(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="creator"
    )
    handle = models.CharField(
        max_length=30, unique=True, validators=[handle_validator, validate_handle_not_reserved]
    )
    display_name = models.CharField(max_length=80)
    bio = models.TextField(blank=True, max_length=2000)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    payout_address = models.CharField(
        "TRON payout address",
        max_length=34,
        validators=[validate_tron_address],
        help_text="Fans pay this address directly; the platform never holds your funds.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return f"{self.display_name} (@{self.handle})"
