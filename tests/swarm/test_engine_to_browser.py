"""The engine seeds to a browser: Chromium's WebTorrent gets every piece from the real
``manage.py runswarm`` over WebRTC, with no web seed to fall back on.

The site still gives the browser its usual .torrent (WebSocket tracker and web seed); on the way
into the page the test swaps its ``url-list`` for an entry that is no HTTP URL, so production
behaviour is untouched and the engine is the only source the browser has. (The page wants a
``url-list`` entry to read the torrent at all; WebTorrent ignores one that is not ``http(s)://``
and never opens a web seed connection.) The page counts bytes by where they came from; the test
also watches that the page never asks the real web seed for anything.

Chromium runs in a network namespace of the test, whose only address is its end of a veth pair
and which has no route elsewhere; the site is served on the host's end. The engine runs outside
and its ICE offers every address of this machine (none on loopback); Chromium can reach none of
them but the pair's host end, so the data channels run over the pair.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import libtorrent as lt
import pytest
from playwright.sync_api import Page, Request, Route, expect

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import peer_sharing, services
from swarm.models import Content, EngineNode
from tests.fixtures.browser import Chromium, assert_page_clean, save_download
from tests.fixtures.content import Site
from tests.fixtures.downloads import P2P_SWITCHES, collect_downloads, sha256, wait_for_downloads
from tests.fixtures.netns import PeerNetwork
from tests.fixtures.processes import Child, wait_for
from tests.fixtures.servers import AsgiServer
from tests.fixtures.webrtc_peers import chromium_on_peer_network, in_websocket_swarm
from tests.swarm.clients import without_web_seeds

PIECE = 256 * 1024  # swarm.torrents.MIN_PIECE_LENGTH
# Hang guard only.
DONE_TIMEOUT_MS = 120_000
# Longer than WebTorrent waits for a requested block (30 s) before it drops the wire.
FROZEN_SECONDS = 35
# A hang guard that also ends before the page's regular next announce (120 s after its first,
# which came before the freeze began; the freeze ends about 38 s after it): without asking again
# on a stall, the download is still waiting then. It leaves room for the engine's own way back:
# a tracker socket closed during the freeze is announced on again after libtorrent's 17 s.
AFTER_FREEZE_TIMEOUT_MS = 78_000


# The site on the host's end of the test's veth pair (tests.fixtures.webrtc_peers).
@pytest.fixture
def asgi_server(site_on_peer_network: AsgiServer) -> AsgiServer:
    return site_on_peer_network


def web_seeds(metainfo: bytes) -> list[str]:
    decoded = cast(dict[bytes, Any], lt.bdecode(metainfo))
    return [bytes(url).decode() for url in decoded.get(b"url-list", [])]


# Not http(s)://: WebTorrent drops it with a warning, so no web seed connection exists.
NO_WEB_SEED = b"no-web-seed:"


def serve_torrent_without_web_seed(page: Page, removed: list[str]) -> None:
    """The page's .torrent as the site sends it, its web seeds (recorded in ``removed``)
    replaced by ``NO_WEB_SEED``: same infohash, same WebSocket tracker, no web seed."""

    def strip(route: Route) -> None:
        response = route.fetch()
        assert response.ok, response.status
        metainfo = response.body()
        removed.extend(web_seeds(metainfo))
        decoded = cast(dict[bytes, Any], lt.bdecode(without_web_seeds(metainfo)))
        decoded[b"url-list"] = [NO_WEB_SEED]
        route.fulfill(response=response, body=lt.bencode(decoded))

    page.route("**/browser-torrent", strip)


def requests_to(page: Page, prefixes: list[str]) -> list[str]:
    """URLs the page requests from now on that start with any of ``prefixes`` (filled later)."""
    seen: list[str] = []

    def on_request(request: Request) -> None:
        if any(request.url.startswith(prefix) for prefix in prefixes):
            seen.append(request.url)

    page.on("request", on_request)
    return seen


def seeded_by_the_engine_alone(
    film: bytes,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    creator: Creator,
    fan: User,
) -> tuple[Content, Child]:
    """A paid film the fan bought and chose P2P for, seeded by the real engine."""
    content = publish(creator, {"film.bin": film}, title="Film", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    peer_sharing.set_preference(fan, enabled=True, paid=True)
    engine = site_engine()
    wait_for(lambda: EngineNode.objects.get(name=engine.name).torrents == 1, what="seeding")
    return content, engine


def test_the_engine_alone_delivers_a_paid_item_to_a_browser_over_webrtc(
    site: Site,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    browser: Chromium,
    peer_network: PeerNetwork,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    # given: a paid film the fan bought and chose P2P for, seeded by the real engine
    chromium_on_peer_network(browser, peer_network, site.url, tmp_path)
    browser.launch_args.extend(P2P_SWITCHES)
    film = os.urandom(8 * PIECE + 777)
    content, engine = seeded_by_the_engine_alone(film, publish, site_engine, creator, fan)
    expected_swarm = {
        services.active_passkey(fan).key,
        services.engine_passkey(EngineNode.objects.get(name=engine.name)).key,
    }
    # and the fan's page, whose .torrent has no web seed
    page = browser.open(site.url, fan)
    removed: list[str] = []
    serve_torrent_without_web_seed(page, removed)
    to_web_seed = requests_to(page, removed)
    page.goto(f"/content/{content.pk}/")
    panel = page.locator("[data-webseed-download]")

    # when
    downloads = collect_downloads(page)
    panel.get_by_role("button", name="Download").click()
    expect(panel).to_have_attribute(
        "data-state", re.compile("^(done|error)$"), timeout=DONE_TIMEOUT_MS
    )
    expect(panel).to_have_attribute("data-state", "done")
    wait_for_downloads(page, downloads, 1)
    saved = save_download(downloads[0], tmp_path / "saved").read_bytes()

    # then: the film byte for byte, through WebTorrent, every byte from peers, none from a web
    # seed the page never asked
    assert sha256(saved) == sha256(film)
    assert removed, "the site's browser .torrent named a web seed to take out"
    expect(panel).to_have_attribute("data-client", "webtorrent")
    expect(panel).to_have_attribute("data-webseed-bytes", "0")
    assert int(panel.get_attribute("data-peer-bytes") or 0) >= len(film)
    assert to_web_seed == []
    # and the only peer there was is the engine: the tracker's swarm is the fan and the engine
    assert in_websocket_swarm(content) == expected_swarm
    panel.get_by_role("button", name="Stop sharing").click()
    expect(panel).to_have_attribute("data-sharing", "stopped")
    assert_page_clean(page)


def test_a_webrtc_download_whose_seeder_froze_picks_up_again(
    site: Site,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    browser: Chromium,
    peer_network: PeerNetwork,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    # given: the engine alone seeding a paid film to the fan's page over WebRTC
    chromium_on_peer_network(browser, peer_network, site.url, tmp_path)
    browser.launch_args.extend(P2P_SWITCHES)
    film = os.urandom(96 * PIECE + 777)
    content, engine = seeded_by_the_engine_alone(film, publish, site_engine, creator, fan)
    page = browser.open(site.url, fan)
    serve_torrent_without_web_seed(page, [])
    page.goto(f"/content/{content.pk}/")
    panel = page.locator("[data-webseed-download]")
    downloads = collect_downloads(page)
    panel.get_by_role("button", name="Download").click()
    expect(panel).to_have_attribute("data-peer-bytes", re.compile("^[1-9]"), timeout=60_000)

    # when: the engine freezes mid-download for longer than the browser keeps a silent data
    # channel (WebTorrent drops a wire whose request waited 30 s), then runs again; it does not
    # announce again for half an hour, and the page's next regular announce is two minutes off
    os.kill(engine.process.pid, signal.SIGSTOP)
    try:
        time.sleep(FROZEN_SECONDS)
    finally:
        os.kill(engine.process.pid, signal.SIGCONT)

    # then: the page asked the tracker for peers again, met the engine anew, and finished well
    # before its regular announce would have
    expect(panel).to_have_attribute(
        "data-state", re.compile("^(done|error)$"), timeout=AFTER_FREEZE_TIMEOUT_MS
    )
    expect(panel).to_have_attribute("data-state", "done")
    wait_for_downloads(page, downloads, 1)
    saved = save_download(downloads[0], tmp_path / "saved").read_bytes()
    assert sha256(saved) == sha256(film)
    expect(panel).to_have_attribute("data-webseed-bytes", "0")
