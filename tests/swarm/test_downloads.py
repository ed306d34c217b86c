"""A fan's own torrent downloads whole with real clients, libtorrent and aria2: from the engine
alone (found through our tracker, the web seed taken out) and from the web seed alone (no engine).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, quote_from_bytes, urlsplit

import httpx
import libtorrent as lt
import pytest

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm.models import Content, EngineNode
from swarm.services import active_passkey
from swarm.torrents import personal_metainfo
from tests.fixtures.content import Site
from tests.fixtures.processes import Child, wait_for
from tests.swarm.clients import aria2_download, libtorrent_download, read_tree, without_web_seeds

MiB = 1024 * 1024
PIECE = 256 * 1024
BLOCK = 16 * 1024  # what a BitTorrent PIECE message carries


@dataclass(frozen=True)
class Release:
    content: Content
    metainfo: bytes  # the fan's personal .torrent
    files: dict[str, bytes]  # what the download folder must hold, by path inside the torrent

    @property
    def total_size(self) -> int:
        return sum(len(data) for data in self.files.values())

    @property
    def num_pieces(self) -> int:
        return int(lt.torrent_info(self.metainfo).num_pieces())

    @property
    def web_seed(self) -> str:
        decoded = cast(dict[bytes, Any], lt.bdecode(self.metainfo))
        (url,) = decoded[b"url-list"]
        return cast(bytes, url).decode()


@pytest.fixture(params=["single file", "bundle"])
def release(
    request: pytest.FixtureRequest, publish: Callable[..., Content], creator: Creator, fan: User
) -> Release:
    """A free single file, or a paid bundle the fan bought; several pieces each.

    Random bytes give every test a new infohash, so no swarm carries over between tests.
    """
    if request.param == "single file":
        uploads = {"concert.mkv": os.urandom(3 * MiB + 12_345)}
        content = publish(creator, uploads, title="Concert", access=Content.Access.FREE)
        files = {content.name: uploads["concert.mkv"]}
    else:
        uploads = {
            "episode-1.mkv": os.urandom(2 * MiB + 4_321),
            # Smaller than a piece: its bytes share pieces with both neighbours.
            "notes/read-me.txt": os.urandom(100_003),
            "extras/commentary.ogg": os.urandom(MiB + 777_777),
        }
        content = publish(creator, uploads, title="The Pack", access=Content.Access.PAID)
        ledger.grant(fan, content, Grant.Source.PURCHASE)
        files = {f"{content.name}/{path}": data for path, data in uploads.items()}
    assert content.piece_length == PIECE
    assert sorted(content.files.values_list("path", flat=True)) == sorted(uploads)
    return Release(content, personal_metainfo(content, fan), files)


def swarm_counts(site: Site, fan: User, release: Release) -> dict[bytes, int]:
    """Our tracker's scrape of the release, as the fan sees it."""
    info_hash = bytes.fromhex(str(release.content.infohash))
    passkey = active_passkey(fan).key
    response = httpx.get(f"{site.url}/scrape/{passkey}?info_hash={quote_from_bytes(info_hash)}")
    reply = cast(dict[bytes, Any], lt.bdecode(response.content))
    counts: dict[bytes, int] = reply[b"files"][info_hash]
    return counts


def engine_seeding(
    site: Site, fan: User, release: Release, site_engine: Callable[..., Child]
) -> str:
    """Start the engine and wait until our tracker lists it as the release's seed; its address."""
    engine = site_engine()
    wait_for(
        lambda: swarm_counts(site, fan, release)[b"complete"] == 1,
        timeout=60,
        what="the engine's announce",
    )
    return EngineNode.objects.get(name=engine.name).listen_address


def no_engine(site: Site, fan: User, release: Release) -> None:
    """No engine process has ever run in this test, and no peer has the release."""
    assert not EngineNode.objects.exists()
    assert swarm_counts(site, fan, release) == {b"complete": 0, b"incomplete": 0, b"downloaded": 0}


# --- from the engine alone ---------------------------------------------------------------------


def test_libtorrent_downloads_from_the_engine_alone(
    release: Release, site: Site, site_engine: Callable[..., Child], fan: User, tmp_path: Path
) -> None:
    # given: the engine seeds the release; the fan's torrent has no web seed left
    engine_seeding(site, fan, release, site_engine)
    metainfo = without_web_seeds(release.metainfo)

    # when
    download = libtorrent_download(metainfo, tmp_path / "fan")

    # then: every file, byte for byte, and every byte came in BitTorrent PIECE messages from
    # the one peer our tracker gave out
    assert read_tree(tmp_path / "fan") == release.files
    assert download.web_seeds == []
    assert download.peers_from_tracker[0] == 1
    assert download.payload_downloaded >= release.total_size
    assert download.pieces_from_peers >= -(-release.total_size // BLOCK)
    assert download.errors == []


def test_aria2_downloads_from_the_engine_alone(
    release: Release, site: Site, site_engine: Callable[..., Child], fan: User, tmp_path: Path
) -> None:
    # given
    engine = engine_seeding(site, fan, release, site_engine)
    metainfo = without_web_seeds(release.metainfo)

    # when
    download = aria2_download(metainfo, tmp_path / "fan")

    # then: aria2 connects to the loopback address our tracker hands out, and every piece came
    # from the engine
    assert download.returncode == 0, download
    assert read_tree(tmp_path / "fan") == release.files
    assert download.pieces_by_peer == {engine: set(range(release.num_pieces))}, download
    assert download.web_requests == set()


# --- from the web seed alone -------------------------------------------------------------------


def test_libtorrent_downloads_from_the_web_seed_alone(
    release: Release, site: Site, fan: User, tmp_path: Path
) -> None:
    # given
    no_engine(site, fan, release)

    # when
    download = libtorrent_download(release.metainfo, tmp_path / "fan")

    # then: no PIECE message ever arrived (the web seed may finish before the tracker replies)
    assert read_tree(tmp_path / "fan") == release.files
    assert download.web_seeds == [release.web_seed]
    assert set(download.peers_from_tracker) <= {0}
    assert download.pieces_from_peers == 0
    assert download.payload_downloaded >= release.total_size
    assert download.errors == []


@pytest.mark.processes
def test_aria2_downloads_from_the_web_seed_alone(
    release: Release, site: Site, fan: User, tmp_path: Path
) -> None:
    # given
    no_engine(site, fan, release)

    # when
    download = aria2_download(release.metainfo, tmp_path / "fan")

    # then: aria2 built the BEP 19 URLs (url-list + name, + "/" + path in a bundle) and fetched
    # every file from them, nothing from peers
    assert download.returncode == 0, download
    assert read_tree(tmp_path / "fan") == release.files
    base = urlsplit(release.web_seed).path
    assert download.web_requests == {base + quote(path) for path in release.files}
    assert download.pieces_by_peer == {}
