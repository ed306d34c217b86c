"""Downloading in Chromium through the web seed: every piece verified, resumed after a cut,
a corrupt piece refetched, bundles saved file by file; and nothing for someone who did not buy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote_from_bytes, urlsplit

import httpx
import libtorrent as lt
import pytest
from playwright.sync_api import expect

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from payments.money import Amount, Token
from purchases.services import set_content_price
from swarm.models import Content
from swarm.services import active_passkey
from swarm.torrents import personal_metainfo
from swarm.webseed.tokens import issue_token
from tests.fixtures.browser import (
    Chromium,
    assert_page_clean,
    outside_browser_loop,
    save_download,
    screenshots,
)
from tests.fixtures.content import Site
from tests.fixtures.downloads import (
    DONE_TIMEOUT_MS,
    collect_downloads,
    download_panel,
    random_bytes,
    sha256,
    start_and_collect,
    wait_for_downloads,
)
from tests.swarm.proxy import Served, TamperingProxy

Publish = Callable[..., Content]
PIECE = 256 * 1024  # the piece length of contents this small (swarm.torrents.MIN_PIECE_LENGTH)


def test_fan_downloads_paid_content_in_the_browser(
    site: Site,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    # given: a paid film (13 pieces, the last one short) the fan bought
    data = random_bytes(3 * 1024 * 1024 + 12345, seed=1)
    content = publish(creator, {"film.bin": data}, title="Film", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    page = browser.open(site.url, fan)
    page.goto(f"/content/{content.pk}/")

    # when
    saved = start_and_collect(page, 1, tmp_path / "saved")

    # then
    assert list(saved) == ["film.bin"]
    assert sha256(saved["film.bin"].read_bytes()) == sha256(data)
    panel = download_panel(page)
    expect(panel).to_have_attribute("data-verified-pieces", "13")
    expect(panel).to_have_attribute("data-corrupt-pieces", "0")
    expect(panel.get_by_role("status")).to_have_text("Done: 13 pieces verified, 1 file saved.")
    expect(panel.locator("progress")).to_have_attribute("value", "100")
    expect(panel.get_by_role("link", name="film.bin (3.0 MB)")).to_have_attribute(
        "download", "film.bin"
    )
    assert_page_clean(page)
    screenshots(page, "content-downloaded")


def test_a_bundle_is_saved_file_by_file(
    site: Site,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    # given: files whose pieces straddle file boundaries, one of them in a folder
    files = {
        "intro.bin": random_bytes(300_000, seed=2),
        "main.bin": random_bytes(PIECE * 2 + 7, seed=3),
        "extras/notes.txt": b"thanks for listening\n" * 40,
        "outro.bin": random_bytes(123_457, seed=4),
    }
    content = publish(creator, files, title="Album", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.STAFF)
    page = browser.open(site.url, fan)
    page.goto("/library/")

    # when
    saved = start_and_collect(page, 4, tmp_path / "saved")

    # then: folders become part of the name, since browsers save into one folder
    assert {name: sha256(path.read_bytes()) for name, path in saved.items()} == {
        "intro.bin": sha256(files["intro.bin"]),
        "main.bin": sha256(files["main.bin"]),
        "extras_notes.txt": sha256(files["extras/notes.txt"]),
        "outro.bin": sha256(files["outro.bin"]),
    }
    pieces = math.ceil(sum(len(data) for data in files.values()) / PIECE)
    expect(download_panel(page).get_by_role("status")).to_have_text(
        f"Done: {pieces} pieces verified, 4 files saved."
    )
    assert_page_clean(page)
    screenshots(page, "library-downloaded")


@pytest.fixture
def proxy(site: Site, settings: Any) -> Iterator[TamperingProxy]:
    """The tampering proxy in front of the live server, and the site's public URL on it."""
    proxy = TamperingProxy(site.server.host, site.server.port)
    proxy.start()
    settings.SITE_URL = proxy.url
    try:
        yield proxy
    finally:
        proxy.stop()


def requests_per_piece(ranges: list[Served], pieces: int) -> list[int]:
    counts = [0] * pieces
    for served in ranges:
        for index in range(served.first // PIECE, served.last // PIECE + 1):
            counts[index] += 1
    return counts


def test_download_survives_a_cut_connection_and_a_corrupt_piece(
    site: Site,
    proxy: TamperingProxy,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    browser.allow_console_error(r"ERR_CONTENT_LENGTH_MISMATCH .*/long\.bin\)$", "the cut")
    # given: 34 pieces, fetched three to a request ([0-2], [3-5], ...); the seed serves piece 4
    # with one byte wrong once, and the connection of the request for pieces 9-11 drops in the
    # middle of piece 10
    data = random_bytes(33 * PIECE + 4321, seed=5)
    content = publish(creator, {"long.bin": data}, title="Long", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    proxy.corrupt_once("/long.bin", 4 * PIECE + 1000)
    proxy.cut_once("/long.bin", 10 * PIECE + 5000)
    page = browser.open(proxy.url, fan)
    page.goto(f"/content/{content.pk}/")

    # when
    saved = start_and_collect(page, 1, tmp_path / "saved")

    # then: the file is whole and right
    assert sha256(saved["long.bin"].read_bytes()) == sha256(data)
    assert all(tamper.done for tamper in proxy.tampers)
    # the corrupt piece was fetched again, alone; the cut request's pieces from the cut on
    # (10 and 11) were fetched again; every piece verified before was kept. Piece 9 went out
    # whole before the cut, but Chromium may drop bytes it has not handed to the page yet when
    # the connection fails, so whether the page got to check it first is up to the browser.
    counts = requests_per_piece(proxy.served, 34)
    assert [counts[4], counts[10], counts[11]] == [2, 2, 2]
    assert counts[9] in (1, 2)
    assert all(count == 1 for index, count in enumerate(counts) if index not in (4, 9, 10, 11))
    retried_alone = [s for s in proxy.served if (s.first, s.last) == (4 * PIECE, 5 * PIECE - 1)]
    assert len(retried_alone) == 1
    panel = download_panel(page)
    expect(panel).to_have_attribute("data-corrupt-pieces", "1")
    expect(panel).to_have_attribute("data-retries", "1")
    expect(panel.get_by_role("status")).to_have_text(
        "Done: 34 pieces verified, 1 file saved. 1 damaged piece was fetched again."
    )
    assert_page_clean(page)


def test_try_again_after_a_refused_link_keeps_the_verified_pieces(
    site: Site,
    proxy: TamperingProxy,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    browser.allow_console_error(r"status of 403 .*/late\.bin\)$", "the refused request")
    # given: 20 pieces, two to a request; the web seed refuses the request for pieces 12-13
    # as it does a link that expired
    data = random_bytes(20 * PIECE, seed=8)
    content = publish(creator, {"late.bin": data}, title="Late", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    proxy.refuse_once("/late.bin", 12 * PIECE)
    page = browser.open(proxy.url, fan)
    page.goto(f"/content/{content.pk}/")
    panel = download_panel(page)
    downloads = collect_downloads(page)
    panel.get_by_role("button", name="Download").click()
    expect(panel).to_have_attribute("data-state", "error")
    expect(panel.get_by_role("status")).to_have_text(
        "The download link is no longer valid (access withdrawn or link expired). "
        "Reload the page to try again."
    )
    # Runs go out lowest first, four at a time: the 7th run (12-13) left after three had come
    # back verified.
    verified = int(panel.get_attribute("data-verified-pieces") or "0")
    assert verified >= 6
    before = len(proxy.requested)

    # when: the fan tries again (a fresh .torrent, so a fresh web-seed link)
    panel.get_by_role("button", name="Try again").click()

    # then: only the pieces not verified yet are fetched, each once
    expect(panel).to_have_attribute("data-state", "done", timeout=DONE_TIMEOUT_MS)
    wait_for_downloads(page, downloads, 1)
    assert sha256(save_download(downloads[0], tmp_path).read_bytes()) == sha256(data)
    again = requests_per_piece(proxy.requested[before:], 20)
    assert set(again) <= {0, 1}
    assert sum(again) == 20 - verified
    assert_page_clean(page)


def test_a_fan_who_did_not_buy_gets_nothing(
    site: Site,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    fan: User,
    stranger: User,
) -> None:
    # given: the fan bought the content; the stranger has the fan's links in hand
    data = random_bytes(600_000, seed=6)
    content = publish(creator, {"song.bin": data}, title="Song", access=Content.Access.PAID)
    set_content_price(creator.user, content, Amount.parse("3", Token.BTT))
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    metainfo = cast(dict[bytes, Any], lt.bdecode(personal_metainfo(content, fan)))
    fans_webseed = metainfo[b"url-list"][0].decode() + content.name
    fans_announce = metainfo[b"announce"].decode()
    # The same links made out to the stranger: their own signed token, their own passkey.
    strangers_webseed = fans_webseed.replace(
        urlsplit(fans_webseed).path.split("/")[3], issue_token(stranger, content)
    )
    strangers_announce = fans_announce.replace(
        active_passkey(fan).key, active_passkey(stranger).key
    )
    page = browser.open(site.url, stranger)

    # when
    page.goto(f"/content/{content.pk}/")
    webseed = httpx.get(strangers_webseed, headers={"Range": "bytes=0-1023"})
    open_webseed = httpx.get(f"{site.url}/webseed/{content.pk}/open/{content.name}")
    announce = httpx.get(
        strangers_announce + "?" + announce_query(bytes.fromhex(str(content.infohash)))
    )

    # then: a Buy button and no way to the bytes in the page; 403 from the web seed; the
    # tracker refuses
    expect(page.get_by_role("button", name="Buy")).to_be_enabled()
    expect(page.locator(".price")).to_have_text("3 BTT")
    expect(page.locator("[data-webseed-download]")).to_have_count(0)
    expect(page.locator("audio, video")).to_have_count(0)
    assert "/webseed/" not in page.content()
    assert (webseed.status_code, webseed.content) == (403, b"")
    assert (open_webseed.status_code, open_webseed.content) == (403, b"")
    assert announce.status_code == 200
    assert lt.bdecode(announce.content) == {b"failure reason": b"not entitled to this torrent"}
    # while the fan's own links work
    assert httpx.get(fans_webseed, headers={"Range": "bytes=0-1023"}).content == data[:1024]
    fans = httpx.get(fans_announce + "?" + announce_query(bytes.fromhex(str(content.infohash))))
    assert b"failure reason" not in cast(dict[bytes, Any], lt.bdecode(fans.content))
    assert_page_clean(page)


def announce_query(info_hash: bytes) -> str:
    params = {"info_hash": info_hash, "peer_id": b"-XX0001-" + bytes(12), "port": b"6881"}
    params |= {"uploaded": b"0", "downloaded": b"0", "left": b"600000", "compact": b"1"}
    return "&".join(f"{name}={quote_from_bytes(value, safe='')}" for name, value in params.items())


def test_pause_and_resume_keep_the_verified_pieces(
    site: Site,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    fan: User,
    settings: Any,
    tmp_path: Path,
) -> None:
    # given: a web seed held to 256 KiB/s per response, so the download takes a few seconds
    settings.WEBSEED_RATE_LIMIT = 256 * 1024
    data = random_bytes(12 * PIECE, seed=7)
    content = publish(creator, {"slow.bin": data}, title="Slow", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    page = browser.open(site.url, fan)
    page.goto(f"/content/{content.pk}/")
    panel = download_panel(page)
    downloads = collect_downloads(page)
    panel.get_by_role("button", name="Download").click()
    expect(panel.locator("[data-download-figures]")).to_contain_text("/s")  # speed, time left
    expect(panel.locator("[data-download-figures]")).to_contain_text("left")

    # when
    panel.get_by_role("button", name="Pause").click()

    # then
    expect(panel).to_have_attribute("data-state", "paused")
    expect(panel.get_by_role("status")).to_have_text("Paused. Verified pieces are kept.")
    screenshots(page, "content-paused")

    # when
    panel.get_by_role("button", name="Resume").click()

    # then
    expect(panel).to_have_attribute("data-state", "done", timeout=DONE_TIMEOUT_MS)
    wait_for_downloads(page, downloads, 1)
    assert sha256(save_download(downloads[0], tmp_path).read_bytes()) == sha256(data)
    assert_page_clean(page)


def test_access_withdrawn_before_the_download_says_so(
    site: Site,
    publish: Publish,
    browser: Chromium,
    creator: Creator,
    fan: User,
) -> None:
    browser.allow_console_error(r"status of 403 .*/torrent\)$", "access was withdrawn")
    # given: the fan's page is open when the entitlement is taken back (a refund, say)
    content = publish(creator, {"gone.bin": b"g" * 5000}, title="Refunded", access="paid")
    entitlement = ledger.grant(fan, content, Grant.Source.PURCHASE)
    page = browser.open(site.url, fan)
    page.goto(f"/content/{content.pk}/")
    with outside_browser_loop():
        ledger.revoke_grant(entitlement.pk, "revoked by the test")

    # when
    download_panel(page).get_by_role("button", name="Download").click()

    # then
    panel = download_panel(page)
    expect(panel).to_have_attribute("data-state", "error")
    expect(panel.get_by_role("status")).to_have_text(
        "Could not read the torrent: You have no access to this content."
    )
    expect(panel.get_by_role("button", name="Try again")).to_be_enabled()
    assert_page_clean(page)
    screenshots(page, "content-download-error")


def test_the_page_reads_the_torrent_as_libtorrent_does(
    site: Site, publish: Publish, browser: Chromium, creator: Creator, fan: User
) -> None:
    files = {"a.bin": b"a" * 300_000, "sub/b.bin": b"b" * 1000, "c.bin": b"c" * 400_000}
    content = publish(creator, files, title="Parts", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.STAFF)
    metainfo = personal_metainfo(content, fan)
    info = lt.torrent_info(metainfo)
    base = cast(dict[bytes, Any], lt.bdecode(metainfo))[b"url-list"][0].decode()
    page = browser.open(site.url, fan)
    page.goto(f"/content/{content.pk}/")
    module = page.locator("script[src*='webseed-download']").get_attribute("src")

    parsed = page.evaluate(
        """async ([module, url]) => {
            const { parseTorrent } = await import(module);
            const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
            const torrent = parseTorrent(bytes);
            let broken;
            try {
                parseTorrent(bytes.subarray(0, bytes.length - 1));
            } catch (error) {
                broken = error.message;
            }
            const hashes = Array.from(torrent.pieceHashes, (b) => b.toString(16).padStart(2, "0"));
            return { ...torrent, pieceHashes: hashes.join(""), broken };
        }""",
        [module, f"/api/v1/contents/{content.pk}/torrent"],
    )

    storage = info.files()
    assert parsed["name"] == info.name() == "Parts"
    assert parsed["pieceLength"] == info.piece_length()
    assert parsed["pieceCount"] == info.num_pieces()
    assert parsed["totalSize"] == info.total_size()
    assert (
        parsed["pieceHashes"]
        == b"".join(info.hash_for_piece(i) for i in range(info.num_pieces())).hex()
    )
    # Each file at the fan's web-seed URL (a token issued anew with each .torrent) + its path.
    token = re.compile(r"/webseed/(\d+)/[A-Za-z0-9_-]+/")
    assert [
        (f["path"], f["length"], f["offset"], token.sub(r"/webseed/\1/T/", f["url"]))
        for f in parsed["files"]
    ] == [
        (
            storage.file_path(i).split("/")[1:],
            storage.file_size(i),
            storage.file_offset(i),
            token.sub(r"/webseed/\1/T/", base) + storage.file_path(i),
        )
        for i in range(storage.num_files())
    ]
    assert parsed["broken"].startswith("Not a valid torrent")
    assert_page_clean(page)
