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
from btt_platform.routing import websocket_urlpatterns  # noqa: E402
from swarm.tracker import TrackerRouter  # noqa: E402
from swarm.uploads import StreamingUploadBodies  # noqa: E402
from swarm.webseed import WebSeedRouter  # noqa: E402

# The lifespan starts the process's heartbeat (btt_platform.heartbeats) and stops it.
application = Lifespan(
    ProtocolTypeRouter(
        {
            # Tracker and web-seed requests skip Django's middleware stack (swarm.tracker.
            # TrackerRouter, swarm.webseed.WebSeedRouter); tus PATCH bodies reach their view
            # unread, to be streamed to disk (swarm.uploads).
            "http": TrackerRouter(WebSeedRouter(StreamingUploadBodies(django_asgi_app))),
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)
