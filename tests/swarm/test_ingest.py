"""Publishing queues the ingest; the real worker hashes it into a torrent libtorrent reads."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any, cast

import libtorrent as lt
import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from btt_platform.broadcast import Member
from creators.models import Creator
from ledger import services as ledger
from swarm import hashing, publishing, torrents
from swarm.events import content_group
from swarm.hashing import ingest_content
from swarm.models import Content
from swarm.services import active_passkey
from swarm.webseed.tokens import webseed_url_for
from tests.fixtures.content import uploaded
from tests.fixtures.processes import Child, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
TERMINAL = ("seeding", "failed")


class _Collector(Member):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def deliver(self, text: str, payload: dict[str, Any]) -> None:
        self.inbox.put_nowait(payload)


class GroupListener(threading.Thread):
    """Collects what is sent to a content's group until the ingest ends."""

    def __init__(self, content_id: int) -> None:
        super().__init__(daemon=True)
        self.group = content_group(content_id)
        self.events: list[dict[str, Any]] = []
        self.subscribed = threading.Event()

    def run(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        member = _Collector()
        await member.join_broadcast(self.group)
        self.subscribed.set()
        try:
            while not self.events or self.events[-1]["state"] not in TERMINAL:
                self.events.append(await member.inbox.get())
        finally:
            await member.leave_broadcast()

    def __enter__(self) -> GroupListener:
        self.start()
        assert self.subscribed.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.join(60)


def seeded(content: Content) -> Content:
    wait_for(
        lambda: Content.objects.get(pk=content.pk).state in TERMINAL, timeout=120, what="ingest"
    )
    content.refresh_from_db()
    assert content.state == "seeding", content.state_detail
    return content


def decode(torrent: bytes) -> dict[bytes, Any]:
    return cast(dict[bytes, Any], lt.bdecode(torrent))


def metainfo(content: Content) -> dict[bytes, Any]:
    return decode(bytes(content.metainfo or b""))


def test_publishing_hashes_a_free_file_into_a_v1_torrent(
    celery_worker: Child, creator: Creator
) -> None:
    # given: a 3 MiB file, uploaded
    data = os.urandom(3 * 1024 * 1024 + 5)
    content = uploaded(creator, {"talk.webm": data}, access="free")

    # when: published, with a listener on the content's group
    with GroupListener(content.pk) as listener:
        publishing.publish_content(creator.user, content.pk)
        content = seeded(content)

    # then: a v1-only torrent (no v2 parts, no pad files) that libtorrent reads
    info = lt.torrent_info(bytes(content.metainfo or b""))
    meta = metainfo(content)
    assert not info.info_hashes().has_v2()
    assert b"piece layers" not in meta
    assert b"file tree" not in meta[b"info"]
    assert info.num_files() == 1
    assert info.layout().file_path(0) == "talk.webm"
    assert info.total_size() == len(data)
    assert not info.priv()
    assert str(info.info_hashes().v1) == content.infohash
    assert info.piece_length() == content.piece_length == 256 * 1024
    assert meta[b"announce"] == (settings.SITE_URL + "/announce").encode()
    assert meta[b"url-list"] in (
        webseed_url_for(None, content).encode(),
        [webseed_url_for(None, content).encode()],
    )
    assert content.published_at is not None
    assert content.hash_progress == 1.0

    # and the creator's page saw the progress, from 0 to 1, in order (throttled by time: a
    # 3 MiB hash may send nothing in between, test_ingest_progress counts the writes)
    progress = [event["progress"] for event in listener.events]
    assert listener.events[-1] == {
        "type": "ingest",
        "state": "seeding",
        "progress": 1.0,
        "detail": "",
    }
    assert progress[0] == 0.0
    assert progress == sorted(progress)
    assert {event["state"] for event in listener.events[:-1]} == {"hashing"}


def test_a_paid_bundle_is_private_and_each_buyer_gets_their_own_torrent(
    celery_worker: Child, creator: Creator, fan: User, stranger: User
) -> None:
    # given: a paid bundle of three files, hashed; the fan bought it
    files = {"a.txt": b"a" * 100_000, "b.bin": os.urandom(300_000), "c.md": b"c" * 7}
    content = uploaded(creator, files, access="paid", title="The Pack")
    publishing.publish_content(creator.user, content.pk)
    content = seeded(content)
    ledger.grant(fan, content, "purchase", "invoice-1")
    client = Client()
    client.force_login(fan)

    # when
    response = client.get(f"/api/v1/contents/{content.pk}/torrent")
    magnet = client.get(f"/api/v1/contents/{content.pk}/magnet")

    # then: the canonical torrent is private, names the files in upload order, no passkey
    canonical = lt.torrent_info(bytes(content.metainfo or b""))
    assert canonical.priv()
    layout = canonical.layout()
    assert [layout.file_path(i) for i in range(layout.num_files())] == [
        "The-Pack/a.txt", "The-Pack/b.bin", "The-Pack/c.md"
    ]  # fmt: skip
    assert metainfo(content)[b"announce"] == (settings.SITE_URL + "/announce").encode()

    # and the fan's copy has their passkey and web seed, and the same infohash
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-bittorrent"
    assert response["Content-Disposition"] == 'attachment; filename="The-Pack.torrent"'
    personal = lt.torrent_info(response.content)
    personal_meta = decode(response.content)
    passkey = active_passkey(fan).key
    assert str(personal.info_hashes().v1) == content.infohash
    assert personal.priv()
    assert personal_meta[b"announce"] == f"{settings.SITE_URL}/announce/{passkey}".encode()
    assert b"announce-list" not in personal_meta
    (web_seed,) = personal_meta[b"url-list"]
    assert web_seed.startswith(f"{settings.SITE_URL}/webseed/{content.pk}/".encode())
    assert web_seed.endswith(b"/")
    assert not web_seed.endswith(b"/open/")

    # and no magnet: no client can fetch a private torrent's details from one
    assert magnet.status_code == 200
    assert magnet.json() == {"magnet": None}

    # and a stranger gets neither; an unknown content is a 404
    client.force_login(stranger)
    assert client.get(f"/api/v1/contents/{content.pk}/torrent").status_code == 403
    assert client.get(f"/api/v1/contents/{content.pk}/magnet").status_code == 403
    assert client.get("/api/v1/contents/999999/torrent").status_code == 404
    public = client.get(f"/api/v1/contents/{content.pk}").json()
    assert public["infohash"] == content.infohash
    assert public["state_detail"] is None


def test_hybrid_when_asked(celery_worker: Child, creator: Creator, fan: User) -> None:
    files = {"zeta.bin": os.urandom(300_000), "alpha.bin": os.urandom(100_000)}
    content = uploaded(creator, files, access="free", hybrid=True)

    publishing.publish_content(creator.user, content.pk)
    content = seeded(content)

    info = lt.torrent_info(bytes(content.metainfo or b""))
    assert info.info_hashes().has_v1()
    assert info.info_hashes().has_v2()
    assert b"piece layers" in metainfo(content)
    # libtorrent orders a hybrid's files itself; the database follows the torrent
    assert list(content.files.values_list("path", flat=True)) == ["alpha.bin", "zeta.bin"]
    magnet = torrents.magnet_uri(content, fan)
    assert f"xt=urn:btmh:1220{info.info_hashes().v2}" in magnet


@pytest.mark.processes
def test_a_file_gone_before_hashing_fails_the_content_with_the_reason(
    request: pytest.FixtureRequest, creator: Creator
) -> None:
    # given: published, and the file removed before any worker ran
    content = uploaded(creator, {"gone.bin": b"x" * 1000}, access="free")
    publishing.publish_content(creator.user, content.pk)
    (Path(settings.CONTENT_ROOT) / str(content.pk) / "gone.bin").unlink()

    # when: the worker comes up and runs the queued ingest
    with GroupListener(content.pk) as listener:
        request.getfixturevalue("celery_worker")
        wait_for(lambda: Content.objects.get(pk=content.pk).state != "hashing", timeout=120)

    # then
    content.refresh_from_db()
    assert content.state == "failed"
    assert content.state_detail == "Hashing failed: file 'gone.bin' is missing"
    assert content.metainfo is None
    assert listener.events[-1]["state"] == "failed"
    assert listener.events[-1]["detail"] == content.state_detail


def test_running_the_ingest_twice_is_harmless(celery_worker: Child, creator: Creator) -> None:
    content = uploaded(creator, {"once.bin": os.urandom(50_000)}, access="free")
    publishing.publish_content(creator.user, content.pk)
    content = seeded(content)
    before = (bytes(content.metainfo or b""), content.infohash, content.published_at)

    ingest_content.apply_async((content.pk,), ignore_result=False).get(timeout=120)
    hashing.hash_content(content.pk)

    content.refresh_from_db()
    assert content.state == "seeding"
    assert (bytes(content.metainfo or b""), content.infohash, content.published_at) == before
