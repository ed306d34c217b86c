"""/ws/content/<id>/ through the whole ASGI app: who receives what."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator

from accounts.models import User
from btt_site.asgi import application
from creators.models import Creator
from swarm import events
from swarm.models import Content
from tests.fixtures import sockets

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(content: Content, user: User | None) -> tuple[WebsocketCommunicator, bool]:
    communicator, connected, _ = await sockets.connect(f"/ws/content/{content.pk}/", user)
    return communicator, connected


async def refused(communicator: WebsocketCommunicator) -> bool:
    """Whether the consumer's first word is its refusal: a close with 4403 (it accepts first,
    so that a browser sees the code rather than a failed handshake)."""
    output = await communicator.receive_output(timeout=5)
    return bool(output == {"type": "websocket.close", "code": 4403})


def stats() -> events.StatsEvent:
    return {
        "type": "stats",
        "state": "seeding",
        "peers": 3,
        "seeds": 1,
        "upload_rate": 1_048_576,
        "bytes_uploaded": 7_000_000_000,
    }


async def make_content(creator: Creator, state: str) -> Content:
    return await Content.objects.acreate(
        creator=creator, title="Album", name="album.flac", state=state
    )


async def send(action: Any) -> None:
    await sync_to_async(action)()


async def test_creator_sees_ingest_and_full_stats_fans_see_public_counters(
    creator: Creator, fan: User
) -> None:
    content = await make_content(creator, Content.State.SEEDING)
    owner, owner_ok = await connect(content, creator.user)
    watcher, watcher_ok = await connect(content, fan)
    anonymous, anonymous_ok = await connect(content, None)
    assert (owner_ok, watcher_ok, anonymous_ok) == (True, True, True)

    await send(lambda: events.send_ingest(content.pk, "hashing", 0.5))
    await send(lambda: events.send_stats(content.pk, stats()))

    assert await owner.receive_json_from(timeout=5) == {
        "type": "ingest",
        "state": "hashing",
        "progress": 0.5,
        "detail": "",
    }
    assert await owner.receive_json_from(timeout=5) == stats()
    public = {"type": "stats", "state": "seeding", "peers": 3, "seeds": 1}
    assert await watcher.receive_json_from(timeout=5) == public
    assert await anonymous.receive_json_from(timeout=5) == public
    assert await watcher.receive_nothing(timeout=0.5) is True
    for communicator in (owner, watcher, anonymous):
        await communicator.disconnect()


async def test_unpublished_content_is_only_for_its_creator(creator: Creator, fan: User) -> None:
    content = await make_content(creator, Content.State.HASHING)

    refused_fan, _ = await connect(content, fan)
    owner, owner_ok = await connect(content, creator.user)

    assert await refused(refused_fan)
    assert owner_ok
    await owner.disconnect()


async def test_a_takedown_silences_public_watchers(creator: Creator, fan: User) -> None:
    content = await make_content(creator, Content.State.SEEDING)
    watcher, _ = await connect(content, fan)

    await Content.objects.filter(pk=content.pk).aupdate(state=Content.State.REMOVED)
    await send(lambda: events.send_stats(content.pk, stats()))

    output = await watcher.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": 4403}


async def test_unknown_content_is_refused(db: None, fan: User) -> None:
    communicator = WebsocketCommunicator(
        application,
        "/ws/content/999999/",
        headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")],
    )
    connected, _ = await communicator.connect()
    assert connected
    assert await refused(communicator)
    await asyncio.sleep(0)
