"""Account operations: signing up and personal API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, User

TOKEN_PREFIX = "btt_"  # noqa: S105 (a public marker, like GitHub's ghp_)
# btt_ + 43 url-safe base64 characters (32 random bytes).
_TOKEN_RE = re.compile(r"^btt_[A-Za-z0-9_-]{43}$")
# Writing last_used_at on every request would turn every API read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the full token; shown once, never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(user: User, name: str) -> IssuedToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip() or "token", prefix=secret[:10], digest=_digest(secret)
    )
    return IssuedToken(token=token, secret=secret)


def revoke_token(user: User, token_id: int) -> bool:
    """Revoke one of ``user``'s tokens; False when it is not theirs or already revoked."""
    changed = ApiToken.objects.filter(id=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return changed == 1


def authenticate_token(secret: str) -> User | None:
    """The active user owning this token, or None for a malformed, unknown or revoked one."""
    if not _TOKEN_RE.match(secret):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def sign_up(username: str, email: str, password: str) -> User:
    return User.objects.create_user(username=username, email=email, password=password)
