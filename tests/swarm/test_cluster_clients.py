"""The desktop clients fans use download a paid item held by three nodes, byte for byte.

Three real ``runswarm`` nodes, each with its own data directory and address; node a's is the
site's CONTENT_ROOT, where the upload is published, and placement (replication target 3) has
b and c fetch it from a over BitTorrent. aria2, Transmission, qBittorrent and rtorrent then
download the fan's own .torrent at once, as real processes, each in a network namespace of its
own (``client_network``: Transmission refuses loopback peers from a tracker). The namespaces
do not reach each other and the .torrent's web seeds are taken out, so every byte a client
gets came from the nodes over BitTorrent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import node_seeding, placement, torrents
from swarm.models import Content, NodeSeeding
from tests.fixtures.content import Site
from tests.fixtures.desktop_clients import CLIENTS, ClientNetwork, ClientRun
from tests.fixtures.processes import Child, free_port, wait_for
from tests.fixtures.servers import AsgiServer, serving
from tests.swarm.clients import read_tree, without_web_seeds

MIB = 1024 * 1024
FILES = {"side-a.flac": os.urandom(3 * MIB + 1234), "side-b.flac": os.urandom(2 * MIB)}
NODES = ("node-a", "node-b", "node-c")


@pytest.fixture
def asgi_server(
    client_network: ClientNetwork, settings: SettingsWrapper, transactional_db: None
) -> Iterator[AsgiServer]:
    """The live site on the clients' bridge, where they reach it."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, client_network.site_address]
    with serving(client_network.site_address) as server:
        yield server


def start_nodes(
    engine_factory: Callable[..., Child], site: Site, network: ClientNetwork, tmp_path: Path
) -> list[Child]:
    started = []
    for name, address in zip(NODES, network.node_addresses, strict=True):
        data = site.content_root if name == "node-a" else tmp_path / f"{name}-data"
        env = {
            **site.engine_env(),
            "SWARM_LISTEN_INTERFACES": f"{address}:{free_port()}",
            # Several nodes on one machine: each connects out from its own address, as
            # Procfile.cluster sets it, so that the others admit it by that address.
            "SWARM_OUTGOING_INTERFACES": address,
            "SWARM_DATA_DIR": str(data),
        }
        started.append(engine_factory(name=name, **env))
    return started


def held_by_all(content: Content) -> bool:
    placement.place_contents()
    live = node_seeding.live_node_ids()
    holders = NodeSeeding.objects.filter(content=content, state="seeding", node_id__in=live)
    return sorted(holders.values_list("node__name", flat=True)) == list(NODES)


def test_aria2_transmission_qbittorrent_and_rtorrent_download_a_paid_item_from_three_nodes(
    creator: Creator,
    fan: User,
    site: Site,
    publish: Callable[..., Content],
    engine_factory: Callable[..., Child],
    client_network: ClientNetwork,
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    # given: a paid album the fan bought, held by all three nodes
    settings.SWARM_REPLICATION_TARGET = 3
    settings.SWARM_NODE_RESERVE_BYTES = 0
    content = publish(creator, FILES, title="Album", access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    nodes = start_nodes(engine_factory, site, client_network, tmp_path)
    wait_for(lambda: held_by_all(content), timeout=120, what="the three nodes holding it")
    # and the fan's .torrent without its web seeds
    torrent = tmp_path / "album.torrent"
    torrent.write_bytes(without_web_seeds(torrents.personal_metainfo(content, fan)))

    # when: the four clients download it at once
    with ThreadPoolExecutor(len(CLIENTS)) as pool:
        futures = [
            pool.submit(download, host, torrent, tmp_path / name)
            for host, (name, download) in zip(client_network.fans, CLIENTS.items(), strict=True)
        ]
        runs: list[ClientRun] = [future.result() for future in futures]

    # then: each has the album, byte for byte (all four said at once, if not)
    expected = {f"Album/{name}": data for name, data in FILES.items()}
    failed = [run.output() for run in runs if not run.finished]
    failed += [f"{run.client}: files differ" for run in runs if read_tree(run.folder) != expected]
    assert not failed, "\n\n".join(failed)
    # and every node is still up
    down = [node for node in nodes if node.process.poll() is not None]
    assert not down, "\n".join(
        f"{node.name}: {node.process.returncode}\n{node.output()}" for node in down
    )
