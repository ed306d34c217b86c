"""The tip fan-out bench's third server: Channels' own Redis pub/sub layer
(``channels_redis.pubsub.RedisPubSubChannelLayer``) relaying a group's messages to its sockets,
as a consumer written the standard way would (``groups``, a handler per message type).

    BENCH_LAYER_REDIS=<url> .venv/bin/python -m uvicorn bench.fanout_layer:application ...

Nothing of the platform is loaded: this is the layer and a minimal consumer, so that the
figure is the layer's, to set beside the broadcast hub's in the same run.
"""

from __future__ import annotations

import os
from typing import Any

import django
from django.conf import settings

GROUP = "fanout"

if not settings.configured:
    settings.configure(
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [os.environ.get("BENCH_LAYER_REDIS", "redis://localhost")]},
            }
        },
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class LayerRelay(AsyncWebsocketConsumer):  # type: ignore[misc]
    groups = [GROUP]

    async def alert(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


application = ProtocolTypeRouter({"websocket": URLRouter([path("", LayerRelay.as_asgi())])})
