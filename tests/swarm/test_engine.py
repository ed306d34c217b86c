"""The swarm engine process survives what a server meets: SIGKILL, SIGTERM, files going bad.

Every test runs the real ``manage.py runswarm`` against the live site (tracker, API) and a fan's
own libtorrent session in this process that downloads from the engine only: the web seed is
taken out of the fan's .torrent, so every byte the fan gets came from the engine's session.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote_from_bytes

import httpx
import libtorrent as lt

from accounts.models import User
from accounts.services import issue_token
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import torrents
from swarm.models import Content, EngineNode
from swarm.services import active_passkey
from tests.fixtures.bittorrent import KIB, PIECE, FanSession
from tests.fixtures.content import Site
from tests.fixtures.processes import Child, free_port, wait_for
from tests.swarm.clients import client_settings
from tests.swarm.proxy import TamperingProxy

RESUMING = "resuming content {} from saved state"
CHECKING = "content {}: checking every piece of its files"


class FanClient(FanSession):
    """A BitTorrent client of a fan: its own libtorrent session on a loopback port."""

    def __init__(self, content: Content, user: User, folder: Path) -> None:
        self.session = lt.session(
            lt.session_params(
                client_settings(
                    free_port(),
                    alert_mask=lt.alert_category.status
                    | lt.alert_category.error
                    | lt.alert_category.tracker
                    | lt.alert_category.connect
                    | lt.alert_category.peer
                    | lt.alert_category.storage,
                )
            )
        )
        metainfo = cast(dict[bytes, Any], lt.bdecode(torrents.personal_metainfo(content, user)))
        # No web seed: whatever the client gets, it gets from the engine.
        del metainfo[b"url-list"]
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(lt.bencode(metainfo))
        params.save_path = str(folder)
        self.folder = folder
        self.num_pieces = params.ti.num_pieces()
        self.handle = self.session.add_torrent(params)
        # What the client did, in order: ("announce", event) and ("incoming", address).
        self.events: list[tuple[str, str]] = []
        self.flushes = 0

    def status(self) -> lt.torrent_status:
        # Alerts die at the next pop_alerts(): count what matters as they pass.
        for alert in self.session.pop_alerts():
            if isinstance(alert, lt.tracker_announce_alert):
                self.events.append(("announce", str(alert.event)))
            elif isinstance(alert, lt.incoming_connection_alert):
                self.events.append(("incoming", str(alert.endpoint)))
            elif isinstance(alert, lt.cache_flushed_alert):
                self.flushes += 1
        return self.handle.status()


def state_dir(tmp_path: Path, engine: Child) -> Path:
    # launch_engine (tests/fixtures/processes.py) gives each node name its own state folder.
    return tmp_path / f"swarm-{engine.name}"


def resume_file(tmp_path: Path, engine: Child) -> Path:
    """The engine's one file of resume data: bencoded, infohash -> libtorrent resume buffer."""
    return state_dir(tmp_path, engine) / "resume.batch"


def saved_states(tmp_path: Path, engine: Child) -> dict[str, bytes]:
    try:
        entries = lt.bdecode(resume_file(tmp_path, engine).read_bytes())
    except FileNotFoundError:
        return {}
    except RuntimeError:  # torn (as one test tears it) until the engine writes a good one
        return {}
    assert isinstance(entries, dict)
    return {cast(bytes, key).decode(): cast(bytes, value) for key, value in entries.items()}


def saved_state(tmp_path: Path, engine: Child, content: Content) -> bytes | None:
    return saved_states(tmp_path, engine).get(str(content.infohash))


def listen_address(engine: Child) -> str:
    node = EngineNode.objects.get(name=engine.name)
    assert node.listen_address, "no heartbeat with a listen address yet"
    return node.listen_address


def tracker_peers(site: Site, user: User, content: Content) -> set[str]:
    """The peers the tracker hands a client of ``user`` that announces now, as host:port."""
    assert content.infohash is not None

    def query(event: str) -> str:
        params = {
            "info_hash": quote_from_bytes(bytes.fromhex(content.infohash or ""), safe=""),
            "peer_id": quote_from_bytes(peer_id, safe=""),
            "port": "1",  # nothing listens there: a peer that only asks
            "uploaded": "0",
            "downloaded": "0",
            "left": str(content.total_size),
            "event": event,
        }
        return "&".join(f"{key}={value}" for key, value in params.items())

    peer_id = b"-XX0000-" + secrets.token_bytes(12)
    url = f"{site.url}/announce/{active_passkey(user).key}"
    reply = cast(dict[bytes, Any], lt.bdecode(httpx.get(f"{url}?{query('started')}").content))
    httpx.get(f"{url}?{query('stopped')}")  # leave the swarm again
    compact: bytes = reply[b"peers"]
    return {
        f"{socket.inet_ntoa(compact[i : i + 4])}:{int.from_bytes(compact[i + 4 : i + 6])}"
        for i in range(0, len(compact), 6)
    }


def wait_for_passes(engine: Child, count: int) -> None:
    """Wait until the engine's loop has gone round ``count`` more times (one heartbeat each)."""
    for _ in range(count):
        last = EngineNode.objects.get(name=engine.name).last_heartbeat

        def beat_again(last: object = last) -> bool:
            return EngineNode.objects.get(name=engine.name).last_heartbeat != last

        wait_for(beat_again, what="another pass of the engine")


def content_via_api(site: Site, creator: Creator, content: Content) -> dict[str, Any]:
    token = issue_token(creator.user, "test").secret
    response = httpx.get(
        f"{site.url}/api/v1/contents/{content.pk}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


def state_of(content: Content) -> str:
    content.refresh_from_db()
    return content.state


# --- SIGKILL ---------------------------------------------------------------------------------


def test_a_killed_engine_restarts_from_saved_state_and_the_fan_completes(
    creator: Creator,
    fan: User,
    site: Site,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a paid song the fan bought, seeded by the engine
    song = os.urandom(8 * PIECE)
    content = publish(creator, {"song.flac": song}, title="Song", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    engine = site_engine()
    # The engine asks for the state right after adding a content, long before its periodic
    # save (30 s): an engine killed a moment after publishing must not re-hash on restart.
    wait_for(
        lambda: saved_state(tmp_path, engine, content) is not None,
        what="the state saved on adding",
    )
    old_address = listen_address(engine)
    # and the fan's client downloading from the engine, slowly, so the kill lands mid-way
    client = FanClient(content, fan, tmp_path / "fan")
    client.handle.set_download_limit(64 * KIB)
    wait_for(lambda: client.status().num_pieces >= 1, timeout=120, what="the first piece")
    client.handle.set_download_limit(1)  # hold the download where it is

    # when: the engine dies without a word
    assert engine.stop(signal.SIGKILL) == -signal.SIGKILL
    have = client.status().num_pieces
    since_kill = len(client.events)
    # the write was atomic: it parses
    saved = lt.read_resume_data(saved_state(tmp_path, engine, content) or b"")
    # and comes back under the same node name, on another port (launch_engine picks a free one)
    restarted = site_engine(name=engine.name)
    new_address = listen_address(restarted)
    client.handle.set_download_limit(0)
    client.wait_until_complete()

    # then: the fan had part of the song at the kill and has all of it, byte for byte, now
    assert 0 < have < client.num_pieces
    assert (client.folder / "song.flac").read_bytes() == song
    assert str(saved.info_hashes.v1) == content.infohash
    # the restarted engine took its pieces from the saved state, without checking the file
    log = restarted.output()
    assert RESUMING.format(content.pk) in log
    assert CHECKING.format(content.pk) not in log
    # What reconnected the fan: the restarted engine announced, the tracker's reply listed the
    # fan's client as a leecher, and the engine connected to it. The client itself did not
    # announce again (its next announce is an interval, 30 minutes, away).
    assert new_address != old_address
    after_kill = [kind for kind, _ in client.events[since_kill:]]
    assert "incoming" in after_kill
    assert "announce" not in after_kill[: after_kill.index("incoming")]
    # A client that does re-announce (one behind a NAT the engine cannot reach) is handed the
    # new address.
    assert new_address in tracker_peers(site, fan, content)


def test_a_corrupt_state_file_is_ignored_and_the_content_still_seeds(
    creator: Creator,
    fan: User,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: an engine that saved its state, then died, leaving a half-written temporary file
    data = os.urandom(2 * PIECE)
    content = publish(creator, {"clip.mp4": data}, title="Clip")
    engine = site_engine()
    resume = resume_file(tmp_path, engine)
    wait_for(
        lambda: saved_state(tmp_path, engine, content) is not None,
        what="the state saved on adding",
    )
    engine.stop(signal.SIGKILL)
    corrupt: dict[str, Any] = {str(content.infohash): b"d8:not a resume file"}
    resume.write_bytes(lt.bencode(corrupt))
    leftover = resume.with_name(resume.name + "abc123.tmp")
    leftover.write_bytes(b"d4:half")

    # when
    restarted = site_engine(name=engine.name)
    client = FanClient(content, fan, tmp_path / "fan")
    client.wait_until_complete()

    # then: the content seeds as freshly published, a good state file replaces the bad one
    assert (client.folder / "clip.mp4").read_bytes() == data
    log = restarted.output()
    assert f"ignoring resume data for {content.infohash}" in log
    assert CHECKING.format(content.pk) not in log
    assert not leftover.exists()

    def valid() -> bool:
        state = saved_state(tmp_path, restarted, content)
        return state is not None and (
            str(lt.read_resume_data(state).info_hashes.v1) == content.infohash
        )

    wait_for(valid, what="a valid state file")


# --- files going bad -------------------------------------------------------------------------


def test_a_deleted_file_makes_its_content_unhealthy_and_the_rest_keeps_seeding(
    creator: Creator,
    fan: User,
    site: Site,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: an album of two tracks and a film, both seeded by one engine
    one, two = os.urandom(PIECE + 1000), os.urandom(PIECE - 1000)
    album = publish(creator, {"one.flac": one, "two.flac": two}, title="Album")
    film = os.urandom(3 * PIECE)
    movie = publish(creator, {"film.mkv": film}, title="Film")
    engine = site_engine()
    wait_for(lambda: EngineNode.objects.get(name=engine.name).torrents == 2, what="both contents")
    album_folder = site.content_root / str(album.pk) / album.name

    # when: a track of the album disappears
    (album_folder / "two.flac").unlink()

    # then: the album turns unhealthy and says why, the engine lives on and seeds the film
    wait_for(lambda: state_of(album) == Content.State.UNHEALTHY, what="the album unhealthy")
    assert album.state_detail == "file missing: Album/two.flac"
    seen = content_via_api(site, creator, album)
    assert (seen["state"], seen["state_detail"]) == ("unhealthy", "file missing: Album/two.flac")
    assert engine.process.poll() is None
    assert state_of(movie) == Content.State.SEEDING
    film_client = FanClient(movie, fan, tmp_path / "fan-film")
    film_client.wait_until_complete()
    assert (film_client.folder / "film.mkv").read_bytes() == film

    # when: the track is put back
    (album_folder / "two.flac").write_bytes(two)

    # then: the engine checks the album's pieces and seeds it again
    wait_for(lambda: state_of(album) == Content.State.SEEDING, what="the album healthy again")
    assert album.state_detail == ""
    assert CHECKING.format(album.pk) in engine.output()
    album_client = FanClient(album, fan, tmp_path / "fan-album")
    album_client.wait_until_complete()
    assert (album_client.folder / "Album" / "two.flac").read_bytes() == two

    # when: a track is cut short
    with open(album_folder / "one.flac", "r+b") as track:
        track.truncate(1000)

    # then
    wait_for(lambda: state_of(album) == Content.State.UNHEALTHY, what="the album unhealthy")
    assert album.state_detail == (
        f"file changed: Album/one.flac is 1000 bytes, the torrent says {len(one)}"
    )
    assert engine.process.poll() is None
    assert state_of(movie) == Content.State.SEEDING


# --- SIGTERM ---------------------------------------------------------------------------------


def test_sigterm_saves_the_state_and_exits_cleanly(
    creator: Creator,
    fan: User,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: the engine sent a whole content to a fan
    data = os.urandom(4 * PIECE)
    content = publish(creator, {"book.epub": data}, title="Book")
    engine = site_engine()
    client = FanClient(content, fan, tmp_path / "fan")
    client.wait_until_complete()
    # libtorrent counts transfers once a second; the engine writes its counts every 10 s.
    wait_for(
        lambda: Content.objects.get(pk=content.pk).bytes_uploaded > 0,
        what="the engine to count its upload",
    )
    counted = Content.objects.get(pk=content.pk).bytes_uploaded
    resume = resume_file(tmp_path, engine)
    # The state saved on adding holds no upload; take it away so only the shutdown writes one.
    wait_for(resume.exists, what="the state saved on adding")
    resume.unlink()

    # when
    code = engine.stop(signal.SIGTERM)

    # then: a clean exit, with the state written on the way out, upload counter and all
    assert code == 0, engine.output()
    saved = lt.read_resume_data(saved_state(tmp_path, engine, content) or b"")
    assert str(saved.info_hashes.v1) == content.infohash
    assert saved.total_uploaded >= counted > 0
    assert "saved the state of 1 contents" in engine.output()
    assert EngineNode.objects.get(name=engine.name).stopped_at is not None


def seeding_count(engine: Child) -> int:
    return EngineNode.objects.get(name=engine.name).torrents


def test_a_stop_saves_every_content_in_one_file_and_a_restart_resumes_them_all(
    creator: Creator,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: an engine seeding a few contents
    contents = [
        publish(creator, {f"track{i}.flac": os.urandom(PIECE + i)}, title=f"Track {i}")
        for i in range(6)
    ]
    engine = site_engine()
    wait_for(lambda: seeding_count(engine) == len(contents), what="all contents seeding")
    folder = state_dir(tmp_path, engine)

    # when: it is stopped
    assert engine.stop(signal.SIGTERM) == 0, engine.output()

    # then: one file holds the state of every content (written once: one fsync), nothing else
    # is left in the folder
    assert sorted(p.name for p in folder.iterdir()) == ["resume.batch"]
    states = saved_states(tmp_path, engine)
    assert set(states) == {c.infohash for c in contents}
    for infohash, state in states.items():
        assert str(lt.read_resume_data(state).info_hashes.v1) == infohash
    assert f"saved the state of {len(contents)} contents" in engine.output()

    # when: it restarts
    restarted = site_engine(name=engine.name)
    wait_for(lambda: seeding_count(restarted) == len(contents), what="all contents seeding")

    # then: every content came back from its saved state, none was checked
    log = restarted.output()
    for content in contents:
        assert RESUMING.format(content.pk) in log
        assert CHECKING.format(content.pk) not in log

    # when: it is stopped, and its state folder is put back the way an engine that wrote one
    # file per content left it (a node upgraded in place)
    assert restarted.stop(signal.SIGTERM) == 0, restarted.output()
    for infohash, state in saved_states(tmp_path, restarted).items():
        (folder / f"{infohash}.resume").write_bytes(state)
    resume_file(tmp_path, restarted).unlink()
    upgraded = site_engine(name=engine.name)
    wait_for(lambda: seeding_count(upgraded) == len(contents), what="all contents seeding")

    # then: it resumed every content from those files, and moved them into its one file
    log = upgraded.output()
    for content in contents:
        assert RESUMING.format(content.pk) in log
        assert CHECKING.format(content.pk) not in log
    wait_for(
        lambda: sorted(p.name for p in folder.iterdir()) == ["resume.batch"],
        what="the per-content files folded into one",
    )
    assert set(saved_states(tmp_path, upgraded)) == {c.infohash for c in contents}


def test_a_torn_state_file_is_ignored_and_every_content_still_seeds(
    creator: Creator,
    fan: User,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: an engine that saved the state of three contents, then died in a way that left
    # the file cut short (a disk that lied about a write)
    data = [os.urandom(PIECE + i) for i in range(3)]
    contents = [
        publish(creator, {f"clip{i}.mp4": d}, title=f"Clip {i}") for i, d in enumerate(data)
    ]
    engine = site_engine()
    wait_for(
        lambda: len(saved_states(tmp_path, engine)) == len(contents),
        what="the states saved on adding",
    )
    engine.stop(signal.SIGKILL)
    resume = resume_file(tmp_path, engine)
    whole = resume.read_bytes()
    resume.write_bytes(whole[: len(whole) // 2])

    # when
    restarted = site_engine(name=engine.name)

    # then: the engine lives, seeds every content as freshly published (no check: each piece
    # is verified the first time it is sent), and a good file replaces the torn one
    wait_for(lambda: seeding_count(restarted) == len(contents), what="all contents seeding")
    assert restarted.process.poll() is None
    log = restarted.output()
    assert "ignoring the saved state file" in log
    for content in contents:
        assert CHECKING.format(content.pk) not in log
    wait_for(
        lambda: set(saved_states(tmp_path, restarted)) == {c.infohash for c in contents},
        what="a good state file",
    )
    client = FanClient(contents[1], fan, tmp_path / "fan")
    client.wait_until_complete()
    assert (client.folder / "clip1.mp4").read_bytes() == data[1]


def test_a_file_changed_in_place_is_caught_when_a_piece_is_sent(
    creator: Creator,
    fan: User,
    site: Site,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a freshly published file, seeded without a check (the platform hashed it itself)
    data = os.urandom(4 * PIECE)
    content = publish(creator, {"talk.mp3": data}, title="Talk")
    engine = site_engine()
    wait_for(lambda: EngineNode.objects.get(name=engine.name).torrents == 1, what="seeding")
    path = site.content_root / str(content.pk) / "talk.mp3"

    # when: its bytes change on disk, same size, and a fan asks for them
    path.write_bytes(bytes(byte ^ 0xFF for byte in data))
    client = FanClient(content, fan, tmp_path / "fan")

    # then: the engine verifies a piece before sending it, finds it bad and stops seeding it
    wait_for(lambda: state_of(content) == Content.State.UNHEALTHY, what="the content unhealthy")
    assert content.state_detail.endswith("failed its hash check"), content.state_detail
    assert client.status().num_pieces == 0  # not one bad byte reached the fan
    # and it does not check the same bad files again and again: wait for a few more passes
    wait_for_passes(engine, 3)
    assert CHECKING.format(content.pk) not in engine.output()
    assert state_of(content) == Content.State.UNHEALTHY

    # when: the right bytes come back
    path.write_bytes(data)

    # then: one check, and the fan's download completes
    wait_for(lambda: state_of(content) == Content.State.SEEDING, what="the content healthy")
    client.wait_until_complete()
    assert (client.folder / "talk.mp3").read_bytes() == data
    assert engine.output().count(CHECKING.format(content.pk)) == 1


# --- announces -------------------------------------------------------------------------------


class RefusingProxy(TamperingProxy):
    """In front of the live site: closes its first ``refuse`` connections without an answer, as
    a web process that is not up yet does; passes everything on after that."""

    def __init__(self, site: Site, refuse: int) -> None:
        super().__init__(site.server.host, site.server.port)
        self.refuse = refuse
        self.refused = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refused < self.refuse:
            self.refused += 1
            return  # the caller closes the connection
        await super()._handle(reader, writer)


def test_an_engine_that_found_the_tracker_down_is_listed_once_it_answers(
    creator: Creator,
    fan: User,
    site: Site,
    publish: Callable[..., Content],
    engine_factory: Callable[..., Child],
) -> None:
    # given: the tracker does not answer the engine's first three announces (``make run``
    # starts the engine and the web process at once; the engine may be first)
    content = publish(creator, {"talk.mp3": os.urandom(PIECE)}, title="Talk")
    proxy = RefusingProxy(site, refuse=3)
    proxy.start()
    try:
        # when: the engine starts and announces through it
        engine = engine_factory(**{**site.engine_env(), "SITE_URL": proxy.url})
        address = listen_address(engine)

        # then: the engine is in the tracker's replies a few passes after the tracker answers.
        # (libtorrent's own back-off waits 17 s, 55 s, then 117 s before the fourth announce:
        # this guard would run out long before that.)
        wait_for(
            lambda: address in tracker_peers(site, fan, content),
            timeout=60,
            what="the engine in the tracker's replies",
        )
        assert proxy.refused == 3
        assert "retrying every second" in engine.output()
    finally:
        proxy.stop()
