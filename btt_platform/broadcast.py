"""The one helper that pushes events to WebSocket groups (after the database commits)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

# Consumers handle this message type in ``broadcast_message``.
MESSAGE_TYPE = "broadcast.message"


def _jsonable(payload: Mapping[str, Any]) -> dict[str, Any]:
    # Round-trip now, so a payload that is not JSON fails where it is made, not in a consumer.
    result: dict[str, Any] = json.loads(json.dumps(payload))
    return result


async def abroadcast(group: str, payload: Mapping[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured")
    await layer.group_send(group, {"type": MESSAGE_TYPE, "payload": _jsonable(payload)})


def broadcast(group: str, payload: Mapping[str, Any]) -> None:
    """Send ``payload`` to every socket in ``group`` once the current transaction commits."""
    message = _jsonable(payload)
    transaction.on_commit(lambda: async_to_sync(abroadcast)(group, message))
