"""``/ws/notifications/``: events for the signed-in user (sales, takedowns, payouts...)."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from btt_platform.broadcast import Member


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


class NotificationsConsumer(AsyncJsonWebsocketConsumer, Member):  # type: ignore[misc]
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)  # before accept: the handshake is refused (HTTP 403)
            return
        await self.join_broadcast(user_group(user.pk), accept=self.accept)

    async def disconnect(self, code: int) -> None:
        await self.leave_broadcast()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "detail": "unknown message"})
