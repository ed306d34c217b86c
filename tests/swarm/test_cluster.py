"""Several real engine nodes on one machine, each with its own data directory and loopback
address (127.0.0.2-4), replicating contents to each other over BitTorrent.

Every node is a real ``manage.py runswarm``; node a's data directory is the site's CONTENT_ROOT,
where uploads are published (the node the upload landed on). The placement pass runs in this
process, as celery beat runs it, with short lost-node times. Paid torrents: the nodes must let
each other (and the fan's client, on 127.0.0.5) through their admission filters.
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import libtorrent as lt
import pytest
from django.core.management import call_command
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import node_seeding, placement, torrents
from swarm.models import Content, EngineNode, NodeSeeding, Placement
from tests.fixtures.content import Site
from tests.fixtures.processes import Child, free_port, wait_for
from tests.swarm.clients import client_settings, without_web_seeds

PIECE = 256 * 1024
FILES = {"side-a.flac": os.urandom(5 * PIECE + 123), "side-b.flac": os.urandom(3 * PIECE)}
ADDRESSES = {"node-a": "127.0.0.2", "node-b": "127.0.0.3", "node-c": "127.0.0.4"}


@pytest.fixture(autouse=True)
def _fast_cluster(settings: SettingsWrapper) -> None:
    settings.SWARM_REPLICATION_TARGET = 2
    settings.SWARM_NODE_RESERVE_BYTES = 0
    settings.SWARM_NODE_LOST_SECONDS = 4


def start_node(
    engine_factory: Callable[..., Child], site: Site, tmp_path: Path, name: str
) -> tuple[Child, Path]:
    """Node ``name`` on its own address; a's data directory is CONTENT_ROOT, the others' own."""
    data = site.content_root if name == "node-a" else tmp_path / f"{name}-data"
    env = {
        **site.engine_env(),
        "SWARM_LISTEN_INTERFACES": f"{ADDRESSES[name]}:{free_port()}",
        # Its TCP connections to the others and to the fan leave from its own address.
        "SWARM_OUTGOING_INTERFACES": ADDRESSES[name],
        "SWARM_DATA_DIR": str(data),
    }
    return engine_factory(name=name, **env), data


def state(name: str, content: Content) -> str | None:
    row = NodeSeeding.objects.filter(node__name=name, content=content).first()
    return row.state if row else None


def placed(content: Content) -> list[str]:
    return sorted(Placement.objects.filter(content=content).values_list("node__name", flat=True))


def held_on(content: Content, names: list[str]) -> bool:
    """A placement pass, then whether exactly ``names`` hold the content (seeding rows of live
    nodes)."""
    placement.place_contents()
    live = node_seeding.live_node_ids()
    holders = NodeSeeding.objects.filter(content=content, state="seeding", node_id__in=live)
    return sorted(holders.values_list("node__name", flat=True)) == names


def sha256_of_files(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file()
    }


class FanClient:
    """A fan's libtorrent on its own loopback address (the nodes admit it by address), slowed
    so that a download is still running when a test needs it to be."""

    def __init__(self, address: str, metainfo: bytes, folder: Path) -> None:
        settings = client_settings(
            free_port(),
            listen_interfaces=f"{address}:{free_port()}",
            outgoing_interfaces=address,
            download_rate_limit=256 * 1024,
            # Loopback peers are exempt from rate limits unless told otherwise.
            ignore_limits_on_local_network=False,
        )
        self.session = lt.session(lt.session_params(settings))
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(metainfo)
        params.save_path = str(folder)
        params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        self.handle = self.session.add_torrent(params)

    def status(self) -> lt.torrent_status:
        self.session.pop_alerts()  # (unread: they would only pile up)
        return self.handle.status()

    def senders(self) -> set[str]:
        return {peer.ip[0] for peer in self.handle.get_peer_info() if peer.total_download}

    def unthrottle(self) -> None:
        pack: lt.settings_pack = {"download_rate_limit": 0}
        self.session.apply_settings(pack)


EXPECTED = {name: hashlib.sha256(data).hexdigest() for name, data in FILES.items()}


def test_a_content_published_on_one_node_is_replicated_to_a_second_over_bittorrent(
    creator: Creator,
    site: Site,
    publish: Callable[..., Content],
    engine_factory: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a paid bundle uploaded to node a, which seeds it; node b has an empty data folder
    content = publish(creator, FILES, title="Album", access=Content.Access.PAID)
    a, _ = start_node(engine_factory, site, tmp_path, "node-a")
    b, b_data = start_node(engine_factory, site, tmp_path, "node-b")
    wait_for(lambda: state("node-a", content) == "seeding", what="a seeding")
    # (b reconciled before its first heartbeat: a content placed nowhere, whose files it never
    # had, it leaves alone rather than report missing)
    assert state("node-b", content) is None

    # when: placement runs (target 2)
    placement.place_contents()

    # then: b fetches it from a over BitTorrent, and seeds it once every piece checked out
    assert placed(content) == ["node-a", "node-b"]
    wait_for(lambda: state("node-b", content) == "seeding", timeout=120, what="b holding it")
    assert "fetching content" in b.output()
    assert sha256_of_files(b_data / str(content.pk)) == EXPECTED
    assert str(node_seeding.content_health([content.pk])[content.pk]) == "seeding on 2 of 2 nodes"
    # and its row says how much it holds
    wait_for(
        lambda: (
            NodeSeeding.objects.get(node__name="node-b", content=content).bytes_on_disk
            == content.total_size
        ),
        what="b's figures written",
    )
    assert a.process.poll() is None
    assert b.process.poll() is None


def test_a_killed_node_loses_its_placement_and_the_third_node_fetches_from_the_survivor(
    creator: Creator,
    site: Site,
    publish: Callable[..., Content],
    engine_factory: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a content held on node a (its upload) and node b; node c holds nothing
    content = publish(creator, FILES, title="Album", access=Content.Access.PAID)
    a, _ = start_node(engine_factory, site, tmp_path, "node-a")
    b, _ = start_node(engine_factory, site, tmp_path, "node-b")
    wait_for(lambda: state("node-a", content) == "seeding", what="a seeding")
    wait_for(lambda: held_on(content, ["node-a", "node-b"]), timeout=120, what="a and b holding it")
    c, c_data = start_node(engine_factory, site, tmp_path, "node-c")
    placement.place_contents()
    assert placed(content) == ["node-a", "node-b"]
    assert state("node-c", content) is None

    # when: node a, where it was uploaded, is killed with no chance to say goodbye
    a.stop(signal.SIGKILL)

    # then: once a is lost (no heartbeat for SWARM_NODE_LOST_SECONDS), c takes its place and
    # fetches every byte from b
    wait_for(
        lambda: held_on(content, ["node-b", "node-c"]), timeout=120, what="c holding it from b"
    )
    assert placed(content) == ["node-b", "node-c"]
    assert sha256_of_files(c_data / str(content.pk)) == EXPECTED
    # and health shows a's row as no longer counting: seeding on the two live nodes
    assert str(node_seeding.content_health([content.pk])[content.pk]) == "seeding on 2 of 2 nodes"
    assert b.process.poll() is None
    assert c.process.poll() is None


def test_a_drained_node_lets_go_only_once_another_node_holds_its_contents(
    creator: Creator,
    site: Site,
    publish: Callable[..., Content],
    engine_factory: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a content meant for one node, held on node a; node b holds nothing
    content = publish(creator, FILES, title="Album", access=Content.Access.PAID)
    Content.objects.filter(pk=content.pk).update(replication_target=1)
    a, _ = start_node(engine_factory, site, tmp_path, "node-a")
    b, b_data = start_node(engine_factory, site, tmp_path, "node-b")
    wait_for(lambda: held_on(content, ["node-a"]), what="a holding it")
    assert placed(content) == ["node-a"]

    # when: node a is drained
    out = StringIO()
    call_command("drainnode", "node-a", "--timeout", "120", stdout=out)

    # then: b holds it, byte for byte, and a let go of it before the command said so
    assert "node-a: every content is held on other nodes; safe to stop" in out.getvalue()
    assert placed(content) == ["node-b"]
    assert state("node-b", content) == "seeding"
    assert state("node-a", content) is None
    assert sha256_of_files(b_data / str(content.pk)) == EXPECTED
    wait_for(lambda: EngineNode.objects.get(name="node-a").torrents == 0, what="a seeding none")
    assert a.stop() == 0
    assert b.process.poll() is None


def test_a_fan_downloading_from_two_nodes_finishes_from_the_other_when_one_is_killed(
    creator: Creator,
    fan: User,
    site: Site,
    publish: Callable[..., Content],
    engine_factory: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a paid film the fan bought, held on nodes a and b
    film = os.urandom(48 * PIECE)
    content = publish(creator, {"film.mkv": film}, title="Film", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    a, _ = start_node(engine_factory, site, tmp_path, "node-a")
    b, _ = start_node(engine_factory, site, tmp_path, "node-b")
    wait_for(lambda: state("node-a", content) == "seeding", what="a seeding")
    wait_for(lambda: held_on(content, ["node-a", "node-b"]), timeout=120, what="a and b holding it")

    # and the fan's client (no web seed: every byte from the nodes), slowed so that it is
    # mid-download, connected to both nodes
    fan_client = FanClient(
        "127.0.0.5", without_web_seeds(torrents.personal_metainfo(content, fan)), tmp_path / "fan"
    )

    def from_both() -> bool:
        fan_client.status()
        return fan_client.senders() >= {"127.0.0.2", "127.0.0.3"}

    wait_for(from_both, timeout=120, what="the fan receiving from both nodes")
    assert not fan_client.status().is_seeding

    # when: node a is killed mid-download
    a.stop(signal.SIGKILL)
    fan_client.unthrottle()

    # then: the fan's client finishes from b, byte for byte
    wait_for(lambda: fan_client.status().is_seeding, timeout=120, what="the download to finish")
    fan_client.handle.flush_cache()
    del fan_client.handle, fan_client.session  # closes the files
    assert (tmp_path / "fan" / "film.mkv").read_bytes() == film
    assert b.process.poll() is None
