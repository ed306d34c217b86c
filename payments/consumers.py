"""``/ws/invoice/<id>/``: every change of an invoice, for its payer and its creator only.

Authorised on connect and again for every message, like the content socket: anyone else is
refused with close code 4403, and never learns whether the invoice exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from payments.events import invoice_group, invoice_update
from payments.models import Invoice

FORBIDDEN = 4403


def _current_state_for(invoice_id: uuid.UUID, user_id: int | None) -> dict[str, Any] | None:
    """The invoice as its sockets see it, or None when this user may not watch it."""
    if user_id is None:
        return None
    invoice = Invoice.objects.filter(pk=invoice_id).select_related("creator").first()
    if invoice is None or user_id not in (invoice.payer_id, invoice.creator.user_id):
        return None
    return dict(invoice_update(invoice, "snapshot"))


# database_sync_to_async also closes stale connections, which sync_to_async does not.
_current_state: Callable[[uuid.UUID, int | None], Awaitable[dict[str, Any] | None]] = (
    database_sync_to_async(_current_state_for)
)


class InvoiceConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    invoice_id: uuid.UUID
    group: str | None = None

    def _user_id(self) -> int | None:
        user = self.scope.get("user")
        return user.pk if user is not None and user.is_authenticated else None

    async def connect(self) -> None:
        self.invoice_id = self.scope["url_route"]["kwargs"]["invoice_id"]
        snapshot = await _current_state(self.invoice_id, self._user_id())
        if snapshot is None:
            await self.close(code=FORBIDDEN)
            return
        self.group = invoice_group(self.invoice_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # The state now, so a page that connects late (or reconnects) misses nothing.
        await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def broadcast_message(self, event: dict[str, Any]) -> None:
        if await _current_state(self.invoice_id, self._user_id()) is None:
            await self.close(code=FORBIDDEN)
            return
        await self.send_json(event["payload"])
