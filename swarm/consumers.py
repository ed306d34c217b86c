"""``/ws/content/<id>/``: ingest progress and live swarm stats.

The creator sees everything (hashing progress, state changes, upload rate, bytes served); anyone
else sees the public counters of published content only. Authorised on connect and again for
every message, so a takedown or an unpublish silences the socket at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from btt_platform.broadcast import CheckedMember
from swarm.events import content_group
from swarm.models import Content

PUBLIC_STATES = {Content.State.SEEDING, Content.State.UNHEALTHY}
PUBLIC_FIELDS = ("type", "state", "peers", "seeds")


def _viewer_role_now(content_id: int, user_id: int | None) -> str | None:
    """'creator', 'public', or None when this viewer may not watch the content."""
    row = Content.objects.filter(pk=content_id).values_list("creator__user_id", "state").first()
    if row is None:
        return None
    owner_id, state = row
    if user_id is not None and owner_id == user_id:
        return "creator"
    return "public" if state in PUBLIC_STATES else None


# database_sync_to_async also closes stale connections, which sync_to_async does not.
_viewer_role: Callable[[int, int | None], Awaitable[str | None]] = database_sync_to_async(
    _viewer_role_now
)


class ContentConsumer(AsyncJsonWebsocketConsumer, CheckedMember):  # type: ignore[misc]
    content_id: int

    def _user_id(self) -> int | None:
        user = self.scope.get("user")
        return user.pk if user is not None and user.is_authenticated else None

    async def connect(self) -> None:
        self.content_id = int(self.scope["url_route"]["kwargs"]["content_id"])
        if await _viewer_role(self.content_id, self._user_id()) is None:
            # Accepted, then closed with our code: a browser sees a handshake refusal only as
            # code 1006, the same as a dropped line, so the page would log an error and keep
            # retrying; 4403 tells swarm-counters.js to stop.
            await self.accept()
            await self.close(code=4403)
            return
        await self.join_broadcast(content_group(self.content_id), accept=self.accept)

    async def disconnect(self, code: int) -> None:
        await self.leave_broadcast()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def broadcast_message(self, payload: dict[str, Any]) -> None:
        role = await _viewer_role(self.content_id, self._user_id())
        if role == "creator":
            await self.send_json(payload)
        elif role == "public" and payload.get("type") == "stats":
            await self.send_json({k: payload[k] for k in PUBLIC_FIELDS if k in payload})
        elif role is None:
            await self.close(code=4403)
