"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "btt_platform.settings")

# Django must be set up before consumers (and the models they import) are loaded.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from btt_platform.heartbeats import Lifespan  # noqa: E402
from btt_site.routing import (  # noqa: E402
    SessionlessRoutes,
    sessionless_websocket_urlpatterns,
    websocket_urlpatterns,
)
from swarm.tracker.asgi import TrackerRouter  # noqa: E402
from swarm.tracker.websocket import TrackerSocketRouter  # noqa: E402
from swarm.uploads import StreamingUploadBodies  # noqa: E402
from swarm.webseed.asgi import WebSeedRouter  # noqa: E402

# The lifespan starts the process's heartbeat (btt_platform.heartbeats) and stops it.
application = Lifespan(
    ProtocolTypeRouter(
        {
            # Tracker and web-seed requests skip Django's middleware stack (swarm.tracker.asgi.
            # TrackerRouter, swarm.webseed.asgi.WebSeedRouter); tus PATCH bodies reach their
            # view unread, to be streamed to disk (swarm.uploads).
            "http": TrackerRouter(WebSeedRouter(StreamingUploadBodies(django_asgi_app))),
            # The WebSocket tracker's passkey is its credential: no Origin check, no session
            # (swarm.tracker.websocket.TrackerSocketRouter).
            "websocket": TrackerSocketRouter(
                AllowedHostsOriginValidator(
                    SessionlessRoutes(
                        sessionless_websocket_urlpatterns,
                        AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
                    )
                )
            ),
        }
    )
)
