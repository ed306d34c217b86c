"""Every node is a door: a fan's torrent lists the web seed of each live node that seeds the
content, with the fan's token, and leaves out a dead node; aria2 downloads from such a torrent,
and the browser download carries on from another door when one dies."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import libtorrent as lt
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import services
from swarm.models import Content, EngineNode, NodeSeeding
from swarm.webseed.tokens import token_user
from tests.fixtures.browser import Chromium
from tests.fixtures.content import Site
from tests.fixtures.downloads import download_panel, sha256, start_and_collect
from tests.swarm.clients import aria2_download, read_tree
from tests.swarm.proxy import TamperingProxy

MiB = 1024 * 1024


def node(name: str, webseed_url: str, *, heartbeat_age: timedelta = timedelta(0)) -> EngineNode:
    return EngineNode.objects.create(
        name=name, webseed_url=webseed_url, last_heartbeat=timezone.now() - heartbeat_age
    )


def holds(content: Content, *nodes: EngineNode, state: str = NodeSeeding.State.SEEDING) -> None:
    for each in nodes:
        NodeSeeding.objects.create(node=each, content=content, state=state)


def fans_torrent(fan: User, content: Content) -> dict[bytes, Any]:
    client = Client()
    client.force_login(fan)
    response = client.get(reverse("api-v1:torrent_file", args=[content.pk]))
    assert response.status_code == 200
    return cast(dict[bytes, Any], lt.bdecode(response.content))


def url_list(metainfo: dict[bytes, Any]) -> list[str]:
    return [cast(bytes, url).decode() for url in metainfo[b"url-list"]]


@pytest.fixture
def bought(publish: Callable[..., Content], creator: Creator, fan: User) -> Content:
    content = publish(creator, {"film.mkv": os.urandom(MiB + 123)}, access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    return content


def test_a_fans_torrent_lists_every_live_holding_node_with_a_valid_token(
    bought: Content, fan: User
) -> None:
    # given: a and b seed the content; c seeds it but its heartbeat is stale; d misses the files;
    # e is live and has not reported on it
    a = node("a", "https://a.example.net")
    b = node("b", "https://b.example.net/")
    c = node("c", "https://c.example.net", heartbeat_age=timedelta(hours=1))
    d = node("d", "https://d.example.net")
    node("e", "https://e.example.net")
    holds(bought, a, b, c)
    holds(bought, d, state=NodeSeeding.State.MISSING)

    # when
    metainfo = fans_torrent(fan, bought)

    # then: a and b only, on the same path with the fan's own token; the infohash is unchanged
    urls = url_list(metainfo)
    assert sorted(urlsplit(url).netloc for url in urls) == ["a.example.net", "b.example.net"]
    paths = {urlsplit(url).path for url in urls}
    assert len(paths) == 1
    _, webseed, content_id, token, rest = paths.pop().split("/")
    assert (webseed, content_id, rest) == ("webseed", str(bought.pk), "")
    assert token_user(token, bought) == fan
    assert str(lt.torrent_info(lt.bencode(metainfo)).info_hash()) == bought.infohash


def test_a_node_without_its_own_url_is_the_sites_door_and_no_holder_means_the_site(
    bought: Content, fan: User, site: Site
) -> None:
    # given: nobody has reported on the content yet
    assert [urlsplit(u).netloc for u in url_list(fans_torrent(fan, bought))] == [
        urlsplit(site.url).netloc
    ]

    # when: a node registered without a web-seed URL of its own (one machine) seeds it
    holds(bought, services.register_engine("solo", lt.__version__))
    EngineNode.objects.filter(name="solo").update(last_heartbeat=timezone.now())

    # then: the same single entry as before
    assert [urlsplit(u).netloc for u in url_list(fans_torrent(fan, bought))] == [
        urlsplit(site.url).netloc
    ]


def test_a_page_sends_each_fan_to_one_holding_node(
    bought: Content, fan: User, creator: Creator
) -> None:
    # given
    holds(bought, node("a", "https://a.example.net"), node("b", "https://b.example.net"))

    # when
    client = Client()
    client.force_login(fan)
    response = client.get(reverse("content-page", args=[bought.pk]))
    page = response.content.decode()

    # then: the player's URL is on one of them, the one first in the fan's torrent
    first = url_list(fans_torrent(fan, bought))[0]
    assert urlsplit(first).netloc in ("a.example.net", "b.example.net")
    assert f"{urlsplit(first).scheme}://{urlsplit(first).netloc}/webseed/{bought.pk}/" in page
    # and the page's policy lets its player and the browser download reach both
    policy = response["Content-Security-Policy"]
    for directive in ("media-src", "connect-src"):
        (sources,) = [d.split()[1:] for d in policy.split(";") if d.split()[:1] == [directive]]
        assert {"https://a.example.net", "https://b.example.net"} <= set(sources)


@pytest.fixture
def second_door(site: Site) -> Iterator[TamperingProxy]:
    """Another real address of the web seed: a TCP hop to the live server, as a second node's
    web process would be."""
    proxy = TamperingProxy(site.server.host, site.server.port)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.mark.processes
def test_aria2_downloads_from_a_torrent_listing_two_doors(
    bought: Content, fan: User, site: Site, second_door: TamperingProxy, tmp_path: Path
) -> None:
    # given: two live nodes hold the content, one behind each door; no engine runs
    holds(bought, node("a", site.url), node("b", second_door.url))
    metainfo = fans_torrent(fan, bought)
    assert len(url_list(metainfo)) == 2

    # when
    download = aria2_download(lt.bencode(metainfo), tmp_path / "fan")

    # then: whole and byte-identical, from the web seeds only
    assert download.returncode == 0, download
    assert read_tree(tmp_path / "fan") == {
        bought.name: (site.content_root / str(bought.pk) / bought.name).read_bytes()
    }
    assert download.pieces_by_peer == {}
    assert download.web_requests == {f"{urlsplit(url_list(metainfo)[0]).path}{bought.name}"}


@pytest.mark.processes
def test_a_browser_download_carries_on_from_another_door_when_a_node_died(
    bought: Content,
    fan: User,
    site: Site,
    second_door: TamperingProxy,
    browser: Chromium,
    tmp_path: Path,
) -> None:
    browser.allow_console_error(
        # How Chromium names a cut depends on where in the exchange it lands.
        r"ERR_(CONTENT_LENGTH_MISMATCH|EMPTY_RESPONSE|CONNECTION_REFUSED|CONNECTION_RESET"
        r"|SOCKET_NOT_CONNECTED)",
        "the response cut when the node died, and requests to its door after",
    )
    # given: two live nodes hold the content; the fan's torrent names the one behind the second
    # door first (nodes by name, each fan's list turned by account), and that node dies half-way
    # through the fan's download (its heartbeat still fresh, so the torrent still lists it)
    first, then = ("a", "b") if fan.pk % 2 == 0 else ("b", "a")
    holds(bought, node(first, second_door.url), node(then, site.url))
    assert url_list(fans_torrent(fan, bought))[0].startswith(second_door.url)
    page = browser.open(site.url, fan)
    web_seed_requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            web_seed_requests.append(request.url) if "/webseed/" in request.url else None
        ),
    )
    page.goto(f"/content/{bought.pk}/")
    second_door.die_at(bought.name, offset=MiB // 2)

    # when
    saved = start_and_collect(page, 1, tmp_path / "saved")

    # then: whole and byte-identical, carried on from the other node once the first one died
    original = (site.content_root / str(bought.pk) / bought.name).read_bytes()
    assert sha256(saved[bought.name].read_bytes()) == sha256(original)
    assert web_seed_requests[0].startswith(second_door.url)
    assert any(served.first < MiB // 2 for served in second_door.served)
    assert any(url.startswith(site.url) for url in web_seed_requests)
    expect(download_panel(page)).to_have_attribute("data-state", "done")
