"""``/ws/staff/health/``: engine heartbeats and content health, live, for staff who may see the
swarm health page. Authorised on connect (refused before the handshake completes) and again
for every message, so a staff member who loses the role stops hearing at once."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import User
from btt_platform.broadcast import CheckedMember
from staff import roles
from staff.access import may
from swarm.events import HEALTH_GROUP

FORBIDDEN = 4403


def _allowed_now(user_id: int | None) -> bool:
    # Read afresh: has_perm caches on the user object the socket was opened with.
    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    return may(user, roles.VIEW_HEALTH)


_allowed = database_sync_to_async(_allowed_now)


class SwarmHealthConsumer(AsyncJsonWebsocketConsumer, CheckedMember):  # type: ignore[misc]
    def _user_id(self) -> int | None:
        user = self.scope.get("user")
        return user.pk if user is not None and user.is_authenticated else None

    async def connect(self) -> None:
        if not await _allowed(self._user_id()):
            await self.close(code=FORBIDDEN)  # before accept: the handshake is refused
            return
        await self.join_broadcast(HEALTH_GROUP, accept=self.accept)

    async def disconnect(self, code: int) -> None:
        await self.leave_broadcast()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def broadcast_message(self, payload: dict[str, Any]) -> None:
        if await _allowed(self._user_id()):
            await self.send_json(payload)
        else:
            await self.close(code=FORBIDDEN)
