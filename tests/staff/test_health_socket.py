"""/ws/staff/health/ through the whole ASGI app over real Redis pub/sub, fed by a real engine
process: who may connect, what they hear, and that losing the role cuts the socket off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator

from accounts.models import User
from staff import roles
from tests.fixtures import sockets
from tests.fixtures.personas import role_group
from tests.fixtures.processes import Child

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/staff/health/"


async def connect(user: User | None) -> tuple[WebsocketCommunicator, bool, Any]:
    return await sockets.connect(PATH, user)


async def next_node_event(socket: WebsocketCommunicator, name: str, status: str) -> dict[str, Any]:
    """The next heartbeat event of engine ``name`` with ``status`` (other nodes' are skipped)."""
    while True:
        message: dict[str, Any] = await socket.receive_json_from(timeout=60)
        if message["type"] == "node" and message["name"] == name and message["status"] == status:
            return message


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("moderator", True),
        ("superuser", True),
        ("finance", False),
        ("staff", False),
        ("stranger", False),
        (None, False),
    ],
)
async def test_only_staff_who_may_see_swarm_health_connect(
    persona: str | None, allowed: bool, request: pytest.FixtureRequest
) -> None:
    user = await sync_to_async(request.getfixturevalue)(persona) if persona else None

    socket, connected, code = await connect(user)

    assert (connected, code) == ((True, None) if allowed else (False, 4403))
    if connected:
        await socket.disconnect()


async def test_a_real_engine_heartbeat_reaches_health_staff_and_a_demoted_moderator_is_cut_off(
    moderator: User, superuser: User, engine_factory: Callable[..., Child]
) -> None:
    # given: a moderator and a superuser watching
    watching, ok1, _ = await connect(moderator)
    root, ok2, _ = await connect(superuser)
    assert (ok1, ok2) == (True, True)
    # when: an engine process starts and beats
    engine = await sync_to_async(engine_factory)()
    # then: both hear it, with its listen address and counts
    for socket in (watching, root):
        event = await next_node_event(socket, engine.name, "up")
        assert set(event) == {
            "type",
            "name",
            "status",
            "listen_address",
            "torrents",
            "peers",
            "upload_rate",
            "last_heartbeat",
        }
        assert event["listen_address"].startswith("127.0.0.1:")
        assert (event["torrents"], event["peers"]) == (0, 0)

    # when: the moderator loses the role
    await sync_to_async(moderator.groups.remove)(await sync_to_async(role_group)(roles.MODERATOR))
    # then: the next heartbeat closes the moderator's socket instead of reaching it
    while True:
        output = await watching.receive_output(timeout=60)
        if output["type"] == "websocket.close":
            assert output["code"] == 4403
            break

    # when: the engine stops cleanly
    await sync_to_async(engine.stop)()
    # then: the superuser hears it stopped
    stopped = await next_node_event(root, engine.name, "stopped")
    assert stopped["upload_rate"] == 0
    await root.disconnect()
