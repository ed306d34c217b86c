"""The browser client with P2P in Chromium: WebTorrent with the web seed in one client, the
file whole and verified; P2P off never opens the WebSocket tracker; a browser without WebRTC
falls back to the web seed alone.

Chromium runs in a network namespace of the test and the site on the host's end of its veth
pair (webrtc_peers.chromium_on_peer_network): its pages meet each other over the namespace's
address, the only one they have, never over this machine's others."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Download, Page, expect
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import peer_sharing
from swarm.models import Content
from swarm.services import active_passkey
from tests.fixtures.browser import (
    Chromium,
    assert_page_clean,
    outside_browser_loop,
    save_download,
)
from tests.fixtures.content import Site
from tests.fixtures.downloads import P2P_SWITCHES, collect_downloads, sha256, wait_for_downloads
from tests.fixtures.netns import PeerNetwork
from tests.fixtures.personas import make_user
from tests.fixtures.servers import AsgiServer
from tests.fixtures.webrtc_peers import chromium_on_peer_network, in_websocket_swarm

Publish = Callable[..., Content]
# Hang guard only.
DONE_TIMEOUT_MS = 60_000


@pytest.fixture
def asgi_server(site_on_peer_network: AsgiServer) -> AsgiServer:
    return site_on_peer_network


@pytest.fixture(autouse=True)
def _chromium_in_the_namespace(
    browser: Chromium, peer_network: PeerNetwork, site: Site, tmp_path: Path
) -> None:
    chromium_on_peer_network(browser, peer_network, site.url, tmp_path)


def sockets_opened(page: Page) -> list[str]:
    opened: list[str] = []
    page.on("websocket", lambda socket: opened.append(socket.url))
    return opened


def tracker_sockets(opened: list[str]) -> list[str]:
    return [url for url in opened if "/ws/announce/" in url]


def start(page: Page) -> list[Download]:
    downloads = collect_downloads(page)
    page.locator("[data-webseed-download]").get_by_role("button", name="Download").click()
    return downloads


def finish(page: Page, downloads: list[Download], folder: Path) -> bytes:
    panel = page.locator("[data-webseed-download]")
    expect(panel).to_have_attribute("data-state", "done", timeout=DONE_TIMEOUT_MS)
    wait_for_downloads(page, downloads, 1)
    return save_download(downloads[0], folder).read_bytes()


def download(page: Page, folder: Path) -> bytes:
    return finish(page, start(page), folder)


def test_a_paid_item_downloads_through_webtorrent_with_the_web_seed(
    site: Site, publish: Publish, browser: Chromium, creator: Creator, fan: User, tmp_path: Path
) -> None:
    # given: a paid film the fan bought; the page asks before sharing, and the fan ticks P2P
    data = random.Random(7).randbytes(2 * 1024 * 1024 + 999)
    content = publish(creator, {"film.bin": data}, title="Film", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    page = browser.open(site.url, fan)
    opened = sockets_opened(page)
    page.goto(f"/content/{content.pk}/")
    panel = page.locator("[data-webseed-download]")
    expect(panel.locator("[data-p2p-disclosure]")).to_contain_text(
        "P2P shares your IP address with other viewers of this item."
    )
    choice = panel.get_by_role("checkbox", name="Share with other viewers (P2P)")
    expect(choice).not_to_be_checked()
    choice.check()

    # when
    saved = download(page, tmp_path / "saved")

    # then: byte for byte, through WebTorrent, every byte from the web seed (no other peer);
    # the tracker was asked for peers, and the finished download goes on sharing until stopped
    assert sha256(saved) == sha256(data)
    expect(panel).to_have_attribute("data-client", "webtorrent")
    expect(panel).to_have_attribute("data-peer-bytes", "0")
    assert int(panel.get_attribute("data-webseed-bytes") or 0) >= len(data)
    assert len(tracker_sockets(opened)) >= 1
    expect(panel.get_by_role("status")).to_contain_text("Sharing with other viewers")
    panel.get_by_role("button", name="Stop sharing").click()
    expect(panel).to_have_attribute("data-sharing", "stopped")
    assert_page_clean(page)


def test_with_p2p_off_the_page_never_opens_the_tracker(
    site: Site, publish: Publish, browser: Chromium, creator: Creator, fan: User, tmp_path: Path
) -> None:
    # given: a free item (P2P on by default) and a fan who turned P2P off in settings
    data = random.Random(8).randbytes(1024 * 1024 + 17)
    content = publish(creator, {"song.bin": data}, title="Song")
    peer_sharing.set_preference(fan, enabled=False, paid=False)
    page = browser.open(site.url, fan)
    opened = sockets_opened(page)
    page.goto(f"/content/{content.pk}/")

    # when
    saved = download(page, tmp_path / "saved")

    # then: the web seed alone, as before P2P
    assert sha256(saved) == sha256(data)
    panel = page.locator("[data-webseed-download]")
    expect(panel.locator("[data-p2p-off]")).to_be_visible()
    expect(panel).not_to_have_attribute("data-client", "webtorrent")
    assert tracker_sockets(opened) == []
    assert_page_clean(page)


def test_without_webrtc_the_page_falls_back_to_the_web_seed(
    site: Site, publish: Publish, browser: Chromium, creator: Creator, fan: User, tmp_path: Path
) -> None:
    # given: a free item (P2P on) in a browser without RTCPeerConnection
    data = random.Random(9).randbytes(1024 * 1024 + 5)
    content = publish(creator, {"clip.bin": data}, title="Clip")
    page = browser.open(site.url, fan)
    page.add_init_script("delete window.RTCPeerConnection;")
    opened = sockets_opened(page)
    page.goto(f"/content/{content.pk}/")
    expect(page.get_by_role("checkbox", name="Share with other viewers (P2P)")).to_be_checked()

    # when
    saved = download(page, tmp_path / "saved")

    # then: silently the web-seed path, with its own verified-pieces count
    assert sha256(saved) == sha256(data)
    panel = page.locator("[data-webseed-download]")
    expect(panel).not_to_have_attribute("data-client", "webtorrent")
    expect(panel).to_have_attribute("data-verified-pieces", "5")
    assert tracker_sockets(opened) == []
    assert_page_clean(page)


# A stranger's page speaks the tracker protocol itself: its announce of the item's infohash,
# with an offer, and the first frame the tracker sends back.
STRANGER_ANNOUNCE = """async ([url, infohash]) => {
  const binary = (hex) =>
    hex.match(/../g).map((b) => String.fromCharCode(parseInt(b, 16))).join("");
  const socket = new WebSocket(url);
  return await new Promise((resolve) => {
    socket.onopen = () => socket.send(JSON.stringify({
      action: "announce", info_hash: binary(infohash), peer_id: "-ST0001-strangerpeer",
      numwant: 5, uploaded: 0, downloaded: 0, left: 1, event: "started",
      offers: [{ offer_id: "o".repeat(20), offer: { type: "offer", sdp: "v=0" } }],
    }));
    socket.onmessage = (event) => resolve(JSON.parse(event.data));
    socket.onclose = () => resolve({ closed: true });
  });
}"""


def test_three_viewers_of_a_paid_item_share_it_and_a_stranger_gets_nothing(
    site: Site,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    stranger: User,
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    # given: a paid 64 MiB item three viewers bought and chose P2P for
    browser.launch_args.extend(P2P_SWITCHES)
    data = random.Random(10).randbytes(64 * 1024 * 1024 + 321)
    content = publish(creator, {"film.bin": data}, title="Film", access=Content.Access.PAID)
    viewers = [make_user(f"viewer{number}") for number in range(3)]
    for viewer in viewers:
        ledger.grant(viewer, content, Grant.Source.PURCHASE)
        peer_sharing.set_preference(viewer, enabled=True, paid=True)
    pages = [browser.open(site.url, viewer) for viewer in viewers]
    for page in pages:
        page.goto(f"/content/{content.pk}/")

    # when: the first downloads it and keeps sharing; then, with the web seed throttled (a busy
    # seed: pieces from a viewer who has them come faster), the second and third join
    first = start(pages[0])
    assert sha256(finish(pages[0], first, tmp_path / "first")) == sha256(data)
    settings.WEBSEED_RATE_LIMIT = 256 * 1024
    later = [start(page) for page in pages[1:]]
    saved = [
        finish(page, downloads, tmp_path / f"v{n}")
        for n, (page, downloads) in enumerate(zip(pages[1:], later, strict=True))
    ]

    # then: all whole; the third got at least half its bytes from other viewers
    assert [sha256(file) for file in saved] == [sha256(data)] * 2
    third = pages[2].locator("[data-webseed-download]")
    from_peers = int(third.get_attribute("data-peer-bytes") or 0)
    from_seed = int(third.get_attribute("data-webseed-bytes") or 0)
    assert from_peers >= from_seed, (from_peers, from_seed)

    # and: a stranger with the infohash, announcing with an offer while the viewers share, is
    # refused by the tracker, never joins their swarm (so no offer of theirs is relayed to it,
    # nor its own to them), and gets no .torrent
    browser.allow_console_error(r"404 .*/browser-torrent\)$", "the stranger's refused .torrent")
    with outside_browser_loop():
        passkey = active_passkey(stranger).key
        viewer_passkeys = {active_passkey(viewer).key for viewer in viewers}
        assert in_websocket_swarm(content) == viewer_passkeys
    outsider = browser.open(site.url, stranger)
    outsider.goto("/library/")
    tracker = site.url.replace("http://", "ws://") + f"/ws/announce/{passkey}"
    answer = outsider.evaluate(STRANGER_ANNOUNCE, [tracker, content.infohash])
    assert "failure reason" in answer or answer == {"closed": True}, answer
    with outside_browser_loop():
        assert in_websocket_swarm(content) == viewer_passkeys
    status = outsider.evaluate(
        "async (url) => (await fetch(url)).status", f"/api/v1/contents/{content.pk}/browser-torrent"
    )
    assert status == 404
    for page in pages:
        page.locator("[data-p2p-stop]").click()


def test_the_player_streams_from_the_swarm_while_it_downloads(
    site: Site, publish: Publish, browser: Chromium, creator: Creator, fan: User, tmp_path: Path
) -> None:
    # given: a free video (P2P on); its player idle
    data = random.Random(11).randbytes(1024 * 1024 + 77)
    content = publish(creator, {"clip.mp4": data}, title="Clip")
    page = browser.open(site.url, fan)
    page.goto(f"/content/{content.pk}/")
    player = page.locator("video[data-player]")

    # when
    download(page, tmp_path / "saved")

    # then: the player's source is WebTorrent's stream of the file, answered by its service
    # worker from the torrent's pieces, Range requests included
    expect(player).to_have_attribute("data-source", "swarm")
    src = player.evaluate("(video) => video.src")
    assert "/webtorrent/" in src
    head = page.evaluate(
        """async (url) => {
          const response = await fetch(url, { headers: { Range: "bytes=1000-1999" } });
          return [response.status, Array.from(new Uint8Array(await response.arrayBuffer()))];
        }""",
        src,
    )
    assert head == [206, list(data[1000:2000])]
