"""``/ws/invoice/<id>/``: every change of an invoice, for its payer and its creator only.

Authorised on connect: anyone else is refused with close code 4403, and never learns whether
the invoice exists. Not again for each message: an invoice's payer and creator are fixed for its
life (accounts with invoices are deactivated, never deleted), so the right to watch cannot
change, and a block of 100 payments would cost a query per page.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from btt_platform.broadcast import Member
from payments.events import invoice_group, invoice_update
from payments.models import Invoice
from payments.near_misses import near_misses_of

FORBIDDEN = 4403


def _current_state_for(invoice_id: uuid.UUID, user_id: int | None) -> dict[str, Any] | None:
    """The invoice as its sockets see it, or None when this user may not watch it."""
    if user_id is None:
        return None
    invoice = Invoice.objects.filter(pk=invoice_id).select_related("creator").first()
    if invoice is None or user_id not in (invoice.payer_id, invoice.creator.user_id):
        return None
    return dict(invoice_update(invoice, "snapshot"))


def _near_misses_for(invoice_id: uuid.UUID) -> list[dict[str, Any]]:
    """The near misses shown on the invoice (its payer or creator is asking: checked first)."""
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    return [] if invoice is None else [dict(update) for update in near_misses_of(invoice)]


# database_sync_to_async also closes stale connections, which sync_to_async does not.
_current_state: Callable[[uuid.UUID, int | None], Awaitable[dict[str, Any] | None]] = (
    database_sync_to_async(_current_state_for)
)
_near_misses: Callable[[uuid.UUID], Awaitable[list[dict[str, Any]]]] = database_sync_to_async(
    _near_misses_for
)


class InvoiceConsumer(AsyncJsonWebsocketConsumer, Member):  # type: ignore[misc]
    invoice_id: uuid.UUID

    def _user_id(self) -> int | None:
        user = self.scope.get("user")
        return user.pk if user is not None and user.is_authenticated else None

    async def connect(self) -> None:
        self.invoice_id = self.scope["url_route"]["kwargs"]["invoice_id"]
        snapshot = await _current_state(self.invoice_id, self._user_id())
        if snapshot is None:
            await self.close(code=FORBIDDEN)
            return
        await self.join_broadcast(invoice_group(self.invoice_id), accept=self.accept)
        # The state now, read after joining, so a page that connects late (or reconnects)
        # misses nothing.
        snapshot = await _current_state(self.invoice_id, self._user_id())
        if snapshot is None:
            await self.close(code=FORBIDDEN)
            return
        await self.send_json(snapshot)
        # Transfers that reached the creator's address but paid nothing, which may be this
        # fan's: part of the snapshot, so a page opened after one arrived still says so.
        for near_miss in await _near_misses(self.invoice_id):
            await self.send_json(near_miss)

    async def disconnect(self, code: int) -> None:
        await self.leave_broadcast()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
