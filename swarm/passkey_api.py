"""``POST /api/v1/passkey/rotate``: the caller's passkey revoked and a new one issued."""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema

from accounts.http import AuthenticatedHttpRequest
from swarm.settings_views import rotate_now

router = Router(tags=["passkey"])


class PasskeyOut(Schema):
    passkey: str
    created_at: datetime
    detail: str


@router.post("/passkey/rotate", response=PasskeyOut)
def rotate_passkey(request: AuthenticatedHttpRequest) -> PasskeyOut:
    """Revoke your passkey (a leaked .torrent or web-seed link stops working at once) and get
    a new one; download your torrents again to use it."""
    passkey = rotate_now(request.user)
    return PasskeyOut(
        passkey=passkey.key,
        created_at=passkey.created_at,
        detail="Old torrents and web-seed links no longer work; download them again.",
    )
