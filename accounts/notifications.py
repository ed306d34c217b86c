"""Notifying a user on their open pages."""

from __future__ import annotations

from typing import Any

from accounts.consumers import user_group
from btt_platform.broadcast import broadcast


def notify_user(user_id: int, kind: str, **data: Any) -> None:
    """Push ``{"type": kind, ...data}`` to the user's sockets after the transaction commits."""
    broadcast(user_group(user_id), {"type": kind, **data})
