"""Sockets whose consumers read neither a session nor a user (an overlay's key is its whole
credential; the live and campaign sockets carry public figures) skip Channels' session and auth
middleware, whose ``send`` looks at the session on every message; every other socket still gets
its user."""

from __future__ import annotations

from typing import Any

import pytest
from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import URLRouter
from channels.testing.websocket import WebsocketCommunicator
from django.urls import path

from btt_site.routing import (
    SessionlessRoutes,
    sessionless_websocket_urlpatterns,
    websocket_urlpatterns,
)


class Probe(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Says what the middleware put in its scope."""

    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"session": "session" in self.scope, "user": "user" in self.scope})


def probed_app() -> Any:
    return SessionlessRoutes(
        [path("ws/overlay/<str:key>/", Probe.as_asgi())],
        AuthMiddlewareStack(URLRouter([path("ws/invoice/<str:id>/", Probe.as_asgi())])),
    )


async def scope_of(path_: str) -> dict[str, bool]:
    communicator = WebsocketCommunicator(
        probed_app(), path_, headers=[(b"cookie", b"sessionid=whatever")]
    )
    connected, _ = await communicator.connect()
    assert connected
    seen: dict[str, bool] = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    return seen


@pytest.mark.django_db(transaction=True)
async def test_a_sessionless_route_gets_no_session_and_the_others_keep_theirs() -> None:
    assert await scope_of("/ws/overlay/some-key/") == {"session": False, "user": False}
    assert await scope_of("/ws/invoice/some-id/") == {"session": True, "user": True}


def matches(routes: list[Any], path_: str) -> bool:
    return any(route.pattern.match(path_) for route in routes)


def test_the_overlay_live_and_campaign_sockets_are_the_sessionless_ones() -> None:
    for public in ("ws/overlay/k3y/", "ws/live/streamer/", "ws/campaign/7/"):
        assert matches(sessionless_websocket_urlpatterns, public)
        assert not matches(websocket_urlpatterns, public)
    for own in ("ws/invoice/00000000-0000-4000-8000-000000000000/", "ws/notifications/"):
        assert not matches(sessionless_websocket_urlpatterns, own)
