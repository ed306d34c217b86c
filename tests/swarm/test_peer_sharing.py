"""P2P in the browser, server side: the fan's choice, the browser's copy of the .torrent (the
WebSocket tracker, same infohash, desktop torrents untouched), and the self-reported peer bytes
a creator's saving is made of, refused when implausible or from someone without access."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import libtorrent as lt
import pytest
from django.core.cache import caches
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from studio.reports import swarm_totals
from swarm import peer_sharing
from swarm.models import Content, PeerBytes
from swarm.peer_sharing import MAX_REPORTED_COPIES, PeerMode
from swarm.services import active_passkey
from swarm.torrents import build_torrent, personal_metainfo
from swarm.webseed.tokens import token_user
from tests.fixtures.sessions import logged_in
from tests.fixtures.webseed import DATA, SIZE, publish


@pytest.fixture(autouse=True)
def content_root(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.CONTENT_ROOT = tmp_path / "content"
    settings.SITE_URL = "http://platform.test:8000"
    return Path(settings.CONTENT_ROOT)


def bought(creator: Creator, fan: User) -> Content:
    content = publish(creator, DATA, access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    return content


def report(client: Client, content: Content, body: Any) -> Any:
    return client.post(
        f"/api/v1/contents/{content.pk}/peer-bytes",
        json.dumps(body),
        content_type="application/json",
    )


def decoded(metainfo: bytes) -> dict[bytes, Any]:
    return cast(dict[bytes, Any], lt.bdecode(metainfo))


# --- the choice ---------------------------------------------------------------------------


def test_p2p_is_on_for_free_items_and_asked_for_paid_ones_until_chosen(
    creator: Creator, fan: User
) -> None:
    free = publish(creator, DATA)
    paid = bought(creator, fan)

    assert peer_sharing.mode_for(fan, free) == PeerMode.ON
    assert peer_sharing.mode_for(fan, paid) == PeerMode.ASK

    peer_sharing.set_preference(fan, enabled=True, paid=True)
    assert peer_sharing.mode_for(fan, paid) == PeerMode.ON

    peer_sharing.set_preference(fan, enabled=False, paid=True)
    assert peer_sharing.mode_for(fan, free) == PeerMode.OFF
    assert peer_sharing.mode_for(fan, paid) == PeerMode.OFF


def test_the_settings_page_and_the_api_turn_p2p_off(fan: User) -> None:
    client = logged_in(fan)
    page = client.get("/settings/p2p/").content.decode()
    assert "P2P shares your IP address with other viewers" in page

    client.post("/settings/p2p/", {"paid": "on"})  # "enabled" left unticked
    assert client.get("/api/v1/settings/p2p").json() == {"enabled": False, "paid": True}

    answer = client.put(
        "/api/v1/settings/p2p",
        json.dumps({"enabled": True, "paid": False}),
        content_type="application/json",
    )
    assert answer.json() == {"enabled": True, "paid": False}
    assert peer_sharing.preference(fan).enabled is True


def test_the_download_page_says_what_p2p_shares_and_asks_for_paid_items(
    creator: Creator, fan: User
) -> None:
    paid = bought(creator, fan)
    page = logged_in(fan).get(f"/content/{paid.pk}/").content.decode()

    assert 'data-p2p="ask"' in page
    assert "P2P shares your IP address with other viewers of this item." in page
    assert '<input type="checkbox" data-p2p-choice>' in page  # not ticked

    peer_sharing.set_preference(fan, enabled=False, paid=False)
    page = logged_in(fan).get(f"/content/{paid.pk}/").content.decode()
    assert 'data-p2p="off"' in page
    assert "data-p2p-choice" not in page


# --- the browser's .torrent ---------------------------------------------------------------


def token_of(url: bytes) -> str:
    """The token segment of a web-seed URL (``.../webseed/<content id>/<token>/...``)."""
    parts = url.decode().split("/")
    return parts[parts.index("webseed") + 2]


def without_token(url: bytes) -> bytes:
    return url.replace(token_of(url).encode(), b"<token>")


def test_the_browser_torrent_announces_to_the_websocket_tracker_only(
    creator: Creator, fan: User
) -> None:
    content = bought(creator, fan)
    content.metainfo = build_torrent(content)
    content.save(update_fields=["metainfo"])
    passkey = active_passkey(fan).key

    answer = logged_in(fan).get(f"/api/v1/contents/{content.pk}/browser-torrent")

    assert answer.status_code == 200
    assert answer["Cache-Control"] == "private, no-store"
    browser = decoded(answer.content)
    desktop = decoded(personal_metainfo(content, fan))
    tracker = f"ws://platform.test:8000/ws/announce/{passkey}".encode()
    assert browser[b"announce"] == tracker
    assert browser[b"announce-list"] == [[tracker]]
    # WebTorrent asks a web seed URL for the file as it is: the single file's name is in it.
    # Each copy's token is issued when it is built (it expires a fixed time after), so two copies
    # built a second apart carry different tokens for the same user and content.
    (url,) = desktop[b"url-list"]
    (browser_url,) = browser[b"url-list"]
    assert without_token(browser_url) == without_token(url) + b"track.bin"
    assert token_user(token_of(browser_url), content) == fan
    # same info dict, so the same infohash and swarm; the desktop copy names no ws:// tracker
    assert browser[b"info"] == desktop[b"info"]
    assert b"ws://" not in personal_metainfo(content, fan)


def test_no_browser_torrent_for_someone_without_access(creator: Creator, stranger: User) -> None:
    content = publish(creator, DATA, access=Content.Access.PAID)

    answer = logged_in(stranger).get(f"/api/v1/contents/{content.pk}/browser-torrent")

    assert answer.status_code == 404
    assert active_passkey(stranger).key.encode() not in answer.content


def test_the_tracker_is_wss_on_an_https_site(
    creator: Creator, fan: User, settings: SettingsWrapper
) -> None:
    settings.SITE_URL = "https://platform.example/"
    assert peer_sharing.websocket_tracker_url(fan).startswith("wss://platform.example/ws/announce/")


# --- peer bytes ---------------------------------------------------------------------------


def test_a_fan_reports_bytes_from_peers_and_the_creator_sees_the_saving(
    creator: Creator, fan: User
) -> None:
    content = bought(creator, fan)
    client = logged_in(fan)

    first = report(client, content, {"bytes_from_peers": 4000})
    second = report(client, content, {"bytes_from_peers": SIZE})

    assert first.status_code == 200
    assert first.json() == {"content_id": content.pk, "received": 4000}
    assert second.json()["received"] == 4000 + SIZE
    totals = swarm_totals(creator)
    assert totals.peer_bytes == 4000 + SIZE
    assert totals.saved_percent == 100  # nothing came from the web seed in this test
    page = logged_in(creator.user).get("/studio/").content.decode()
    assert "(self-reported)" in page
    assert "Bandwidth saved" in page


@pytest.mark.parametrize(
    "body",
    [
        {"bytes_from_peers": 0},
        {"bytes_from_peers": -5},
        {"bytes_from_peers": SIZE + 1},  # more than the whole content in one report
        {"bytes_from_peers": 10**30},
        {"bytes_from_peers": "lots"},
        {"bytes_from_peers": 1.5},
        {"bytes": 100},
        [],
    ],
)
def test_garbage_and_oversized_reports_are_refused(creator: Creator, fan: User, body: Any) -> None:
    content = bought(creator, fan)

    answer = report(logged_in(fan), content, body)

    assert answer.status_code == 422
    assert not PeerBytes.objects.exists()


def test_a_fan_without_access_cannot_report(creator: Creator, stranger: User) -> None:
    content = publish(creator, DATA, access=Content.Access.PAID)

    answer = report(logged_in(stranger), content, {"bytes_from_peers": 100})

    assert answer.status_code == 404
    assert not PeerBytes.objects.exists()


def test_an_anonymous_report_is_refused(creator: Creator) -> None:
    content = publish(creator, DATA)

    answer = report(Client(), content, {"bytes_from_peers": 100})

    assert answer.status_code == 401
    assert not PeerBytes.objects.exists()


def test_a_fans_total_stops_at_a_few_copies_of_the_content(creator: Creator, fan: User) -> None:
    content = bought(creator, fan)
    client = logged_in(fan)

    for _ in range(MAX_REPORTED_COPIES + 3):
        last = report(client, content, {"bytes_from_peers": SIZE})

    assert last.json()["received"] == SIZE * MAX_REPORTED_COPIES


@pytest.mark.rate_limits
def test_reports_are_rate_limited(creator: Creator, fan: User, settings: SettingsWrapper) -> None:
    caches[settings.RATELIMIT_USE_CACHE].clear()
    settings.PEER_BYTES_REPORT_RATE = "2/m"
    content = bought(creator, fan)
    client = logged_in(fan)

    answers = [report(client, content, {"bytes_from_peers": 10}).status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    assert PeerBytes.objects.get().received == 20
