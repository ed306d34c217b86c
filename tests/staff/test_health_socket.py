"""/ws/staff/health/ through the whole ASGI app over real Redis pub/sub, fed by a real engine
process: who may connect, what they hear, and that losing the role cuts the socket off."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from accounts.models import User
from staff import roles
from swarm import placement, services
from swarm.models import EngineNode
from swarm.seeding import EngineStats
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
            "free_bytes",
            "draining_since",
        }
        assert event["listen_address"].startswith("127.0.0.1:")
        assert (event["torrents"], event["peers"]) == (0, 0)
        assert event["free_bytes"] > 0
        assert event["draining_since"] == ""

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


def node_cells(page: str, name: str) -> dict[str, str]:
    """The cells of node ``name``'s row on the health page, by their data-field."""
    row = re.search(rf'<tr data-node="{name}".*?</tr>', page, re.S)
    assert row, f"no row for {name}"
    return dict(re.findall(r'<td data-field="(\w+)"[^>]*>([^<]*)</td>', row.group(0)))


async def test_each_nodes_free_space_and_draining_show_on_the_page_and_in_its_heartbeats(
    moderator: User,
) -> None:
    # given: two nodes that beat, one with 5 GiB free, the other not reporting yet and draining
    def nodes() -> None:
        now = timezone.now()
        EngineNode.objects.create(name="node-a", last_heartbeat=now, free_bytes=5 * 2**30)
        EngineNode.objects.create(name="node-b", last_heartbeat=now)
        placement.start_draining("node-b")

    await sync_to_async(nodes)()

    # when: staff open the page
    def page() -> str:
        client = Client()
        client.force_login(moderator)
        return client.get("/staff/health/").content.decode()

    html = await sync_to_async(page)()

    # then: free space and draining per node
    a, b = node_cells(html, "node-a"), node_cells(html, "node-b")
    assert (a["free_bytes"], a["draining"]) == ("5.0\xa0GB", "no")
    assert b["free_bytes"] == "unknown"
    assert b["draining"].startswith("since ")

    # when: the draining node beats, reporting 1 GiB free
    socket, connected, _ = await connect(moderator)
    assert connected
    node = await sync_to_async(EngineNode.objects.get)(name="node-b")
    stats = EngineStats(listen_address="127.0.0.3:6881", torrents=0, peers=0, upload_rate=0)
    await sync_to_async(services.record_heartbeat)(node, stats, 2**30)

    # then: the live row hears both
    event = await next_node_event(socket, "node-b", "up")
    assert event["free_bytes"] == 2**30
    assert event["draining_since"] != ""
    await socket.disconnect()
