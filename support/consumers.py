"""``/ws/overlay/<key>/`` (a creator's OBS overlay, authorised by the secret key in its URL)
and ``/ws/live/<handle>/`` (a creator's public live page).

Both send a ``hello`` with the goal and the last alert's number on connect, then every alert
as it is raised. A client that saw alerts before (a reconnect) or notices a gap in the numbers
sends ``{"type": "resume", "after": <seq>}`` and gets the alerts after that one again, in
order; it drops numbers it has shown. The group is joined before the hello is read, so nothing
raised meanwhile is missed, only possibly seen twice. Alerts go to the socket as published,
encoded once for every overlay (``btt_platform.broadcast``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from btt_platform.broadcast import Member
from support import events, services
from support.models import LiveSession, TipSettings

FORBIDDEN = 4403
REVOKED = 4401


def _overlay_settings_now(key: str) -> TipSettings | None:
    return TipSettings.objects.filter(overlay_key=key).first()


def _hello_now(creator_id: int) -> dict[str, Any]:
    settings = TipSettings.objects.filter(creator_id=creator_id).first()
    session = LiveSession.objects.filter(creator_id=creator_id, ended_at__isnull=True).first()
    return {
        "type": "hello",
        "last_seq": settings.last_alert_seq if settings else 0,
        "goal": events.goal_payload(settings) if settings else None,
        "live": session is not None,
        "title": session.title if session else "",
    }


def _replay_now(creator_id: int, after: int, include_tests: bool) -> list[dict[str, Any]]:
    settings = TipSettings.objects.get(creator_id=creator_id)
    return [
        dict(events.alert_payload(alert, settings))
        for alert in services.alerts_after(creator_id, after, include_tests=include_tests)
    ]


def _live_creator_now(handle: str) -> int | None:
    from creators.models import Creator

    row = Creator.objects.filter(handle=handle.lower(), user__is_active=True).values_list(
        "pk", flat=True
    )
    return row.first()


# database_sync_to_async also closes stale connections, which sync_to_async does not.
_overlay_settings: Callable[[str], Awaitable[TipSettings | None]] = database_sync_to_async(
    _overlay_settings_now
)
_hello: Callable[[int], Awaitable[dict[str, Any]]] = database_sync_to_async(_hello_now)
_replay: Callable[[int, int, bool], Awaitable[list[dict[str, Any]]]] = database_sync_to_async(
    _replay_now
)
_live_creator: Callable[[str], Awaitable[int | None]] = database_sync_to_async(_live_creator_now)


class _AlertConsumer(AsyncJsonWebsocketConsumer, Member):  # type: ignore[misc]
    creator_id: int
    include_tests = True

    async def _join(self, group: str) -> None:
        await self.join_broadcast(group, accept=self.accept)
        await self.send_json(await _hello(self.creator_id))

    async def disconnect(self, code: int) -> None:
        await self.leave_broadcast()

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        # A frame that is not JSON is ignored like any other unknown message, rather than
        # ending the connection with an error.
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "resume":
            after = content.get("after")
            if type(after) is not int or after < 0:
                await self.send_json({"type": "error", "detail": "after is a whole number"})
                return
            for payload in await _replay(self.creator_id, after, self.include_tests):
                await self.send_json(payload)


class OverlayConsumer(_AlertConsumer):
    async def connect(self) -> None:
        key = self.scope["url_route"]["kwargs"]["key"]
        settings = await _overlay_settings(key)
        if settings is None:
            await self.close(code=FORBIDDEN)
            return
        self.creator_id = settings.creator_id
        await self._join(events.overlay_group(key))

    async def deliver(self, text: str, payload: dict[str, Any]) -> None:
        await self.send(text_data=text)
        # The group is the key's own: after a rotation nothing reaches it but this notice.
        if payload.get("type") == "revoked":
            await self.close(code=REVOKED)


class LiveConsumer(_AlertConsumer):
    include_tests = False

    async def connect(self) -> None:
        creator_id = await _live_creator(self.scope["url_route"]["kwargs"]["handle"])
        if creator_id is None:
            await self.close(code=FORBIDDEN)
            return
        self.creator_id = creator_id
        await self._join(events.live_group(creator_id))


def _campaign_progress_now(campaign_id: int) -> dict[str, Any] | None:
    from support import campaigns
    from support.models import Campaign

    campaign = Campaign.objects.filter(pk=campaign_id, creator__user__is_active=True).first()
    return None if campaign is None else dict(campaigns.progress_payload(campaign))


_campaign_progress: Callable[[int], Awaitable[dict[str, Any] | None]] = database_sync_to_async(
    _campaign_progress_now
)


class CampaignConsumer(AsyncJsonWebsocketConsumer, Member):  # type: ignore[misc]
    """``/ws/campaign/<id>/``: the public progress of a campaign, now and on every change."""

    async def connect(self) -> None:
        from support.campaigns import campaign_group

        campaign_id = int(self.scope["url_route"]["kwargs"]["campaign_id"])
        if await _campaign_progress(campaign_id) is None:
            await self.close(code=FORBIDDEN)
            return
        await self.join_broadcast(campaign_group(campaign_id), accept=self.accept)
        # Read after joining, so no change falls between the snapshot and the first event.
        snapshot = await _campaign_progress(campaign_id)
        if snapshot is None:
            await self.close(code=FORBIDDEN)
            return
        await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        await self.leave_broadcast()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return  # nothing to ask
