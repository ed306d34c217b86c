"""No link that cannot work: free content has a magnet that real clients complete; paid content
comes as a .torrent only, since no client can fetch a private torrent's details from a magnet
(metadata exchange, BEP 9, is refused for private torrents by libtorrent, aria2 and
Transmission alike)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import libtorrent as lt
from django.conf import settings
from django.test import Client

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import torrents
from swarm.models import Content, EngineNode
from swarm.services import active_passkey
from tests.fixtures.processes import Child, wait_for
from tests.swarm.clients import aria2_magnet_download, read_tree

PIECE = 256 * 1024
NO_MAGNET = (
    "Paid downloads come as a .torrent file: magnet links cannot fetch a private torrent's details."
)


def test_the_api_gives_a_magnet_for_free_content_and_null_for_paid(
    creator: Creator, fan: User, publish: Callable[..., Content]
) -> None:
    free = publish(creator, {"free.bin": os.urandom(1000)}, title="Free")
    paid = publish(creator, {"paid.bin": os.urandom(1000)}, title="Paid", access="paid")
    ledger.grant(fan, paid, Grant.Source.PURCHASE)
    client = Client()
    client.force_login(fan)

    free_reply = client.get(f"/api/v1/contents/{free.pk}/magnet")
    paid_reply = client.get(f"/api/v1/contents/{paid.pk}/magnet")

    assert free_reply.status_code == 200
    parsed = lt.parse_magnet_uri(free_reply.json()["magnet"])
    assert str(parsed.info_hashes.v1) == free.infohash
    passkey = active_passkey(fan).key
    assert parsed.trackers == [f"{settings.SITE_URL}/announce/{passkey}"]
    assert parsed.url_seeds[0].startswith(f"{settings.SITE_URL}/webseed/{free.pk}/")
    assert (paid_reply.status_code, paid_reply.json()) == (200, {"magnet": None})
    # and the .torrent is still there for the paid one
    assert client.get(f"/api/v1/contents/{paid.pk}/torrent").status_code == 200


def test_pages_offer_a_magnet_for_free_content_and_say_why_paid_has_none(
    creator: Creator, fan: User, publish: Callable[..., Content]
) -> None:
    free = publish(creator, {"free.bin": os.urandom(1000)}, title="Free")
    paid = publish(creator, {"paid.bin": os.urandom(1000)}, title="Paid", access="paid")
    ledger.grant(fan, paid, Grant.Source.PURCHASE)
    client = Client()
    client.force_login(fan)

    free_page = client.get(f"/content/{free.pk}/").content.decode()
    paid_page = client.get(f"/content/{paid.pk}/").content.decode()
    library = client.get("/library/").content.decode()

    assert f"magnet:?xt=urn:btih:{free.infohash}" in free_page
    assert NO_MAGNET not in free_page
    assert "magnet:" not in paid_page
    assert NO_MAGNET in paid_page
    assert f"/api/v1/contents/{paid.pk}/torrent" in paid_page
    # the library lists the paid item the fan bought: a .torrent, no magnet
    assert "magnet:" not in library
    assert NO_MAGNET in library
    assert f"/api/v1/contents/{paid.pk}/torrent" in library


def test_aria2_completes_the_magnet_of_a_free_item(
    creator: Creator,
    fan: User,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a free album seeded by the engine
    files = {"one.flac": os.urandom(2 * PIECE + 77), "two.flac": os.urandom(PIECE - 5)}
    content = publish(creator, files, title="Album")
    engine = site_engine()
    wait_for(lambda: EngineNode.objects.get(name=engine.name).torrents == 1, what="seeding")

    # when: aria2 is given the fan's magnet, nothing else
    download = aria2_magnet_download(torrents.magnet_uri(content, fan), tmp_path / "fan")

    # then: it found the engine through our tracker (announcing left=0 with no metadata yet),
    # fetched the metadata and the files, byte for byte
    assert download.returncode == 0, download
    tree = read_tree(tmp_path / "fan")
    assert tree == {f"{content.name}/{name}": data for name, data in files.items()}, download
