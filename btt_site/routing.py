"""Every WebSocket route of the platform, collected from the apps.

``sessionless_websocket_urlpatterns`` are served without Channels' session and auth middleware
(``SessionlessRoutes``): their consumers read neither, and the session middleware's ``send``
looks at the session on every message, which was most of the CPU of an alert's fan-out to
thousands of overlays.
"""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter

from accounts.routing import websocket_urlpatterns as accounts_routes
from btt_platform.fastpath import ASGIApp, Receive, Scope, Send
from payments.routing import websocket_urlpatterns as payments_routes
from staff.routing import websocket_urlpatterns as staff_routes
from support.routing import sessionless_websocket_urlpatterns as support_sessionless_routes
from swarm.routing import websocket_urlpatterns as swarm_routes

websocket_urlpatterns = [
    *accounts_routes,
    *swarm_routes,
    *payments_routes,
    *staff_routes,
]
sessionless_websocket_urlpatterns = [*support_sessionless_routes]


class SessionlessRoutes:
    """ASGI: a WebSocket whose path one of ``routes`` matches goes to it as it is; anything
    else on to ``app`` (the session and auth middleware, then the other routes)."""

    def __init__(self, routes: list[Any], app: ASGIApp) -> None:
        self.routes = routes
        self.router = URLRouter(routes)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Matched as URLRouter matches: the path without its leading slash.
        path = scope["path"].lstrip("/")
        if any(route.pattern.match(path) for route in self.routes):
            await self.router(scope, receive, send)
        else:
            await self.app(scope, receive, send)
