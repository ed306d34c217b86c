"""Every WebSocket route of the platform, collected from the apps."""

from __future__ import annotations

from accounts.routing import websocket_urlpatterns as accounts_routes
from payments.routing import websocket_urlpatterns as payments_routes
from staff.routing import websocket_urlpatterns as staff_routes
from support.routing import websocket_urlpatterns as support_routes
from swarm.routing import websocket_urlpatterns as swarm_routes

websocket_urlpatterns = [
    *accounts_routes,
    *swarm_routes,
    *payments_routes,
    *support_routes,
    *staff_routes,
]
