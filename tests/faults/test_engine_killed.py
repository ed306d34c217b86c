"""``kill -9`` of the swarm engine while a fan's BitTorrent client downloads from it (and from
nothing else: the web seed is taken out of the .torrent): /healthz names it; supervisor starts
it again, it seeds the content again from its saved state, and the client finishes with the
very bytes uploaded, none of them fetched twice or refused by their piece hash.

The fan's client here speaks TCP, which tells it of the engine's death at once: it then takes
the restarted engine's connection within seconds. A client on uTP (UDP: nothing tells it) keeps
the dead connection until uTP's own timeout, about a minute, and meanwhile refuses the restarted
engine, which connects from the same address and port; that wait is the client's, the same for
any seed that dies, and would only measure uTP here.
"""

from __future__ import annotations

from pathlib import Path

import libtorrent as lt
import pytest

from swarm.models import Content, EngineNode
from tests.faults.work import (
    MiB,
    api,
    content,
    new_creator,
    publish,
    random_file,
    sha256_of,
    upload,
)
from tests.fixtures.layout import Layout
from tests.fixtures.personas import make_user
from tests.fixtures.processes import free_port, wait_for
from tests.swarm.clients import client_settings, without_web_seeds

pytestmark = [pytest.mark.processes, pytest.mark.long]

SIZE = 32 * MiB
# The fan's client takes about 8 s for it, so the kill lands mid-download.
RATE = 4 * MiB
# BitTorrent's request size (BEP 3: 16 KiB blocks).
BLOCK = 16 * 1024


def test_an_engine_killed_mid_download_seeds_again_and_the_download_completes(
    layout: Layout, tmp_path: Path
) -> None:
    # given: a creator's free release, seeding
    creator = new_creator("engine-maker")
    client = api(layout, creator.user)
    source = random_file(tmp_path / "clip.mp4", SIZE)
    content_id = upload(client, source, "Clip")
    publish(client, content_id)
    wait_for(lambda: content(content_id).state == Content.State.SEEDING, timeout=60, what="seeding")
    node = EngineNode.objects.get(name=layout.engine_name)

    # and: a fan's client downloading it from the engine alone
    response = api(layout, make_user("engine-fan")).get(f"/api/v1/contents/{content_id}/torrent")
    assert response.status_code == 200, response.text
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(without_web_seeds(response.content))
    params.save_path = str(tmp_path / "fan")
    params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    session = lt.session(
        lt.session_params(
            client_settings(
                free_port(),
                download_rate_limit=RATE,
                enable_outgoing_utp=False,
                enable_incoming_utp=False,
                # Loopback is a local network, whose peers are exempt from rate limits by default.
                ignore_limits_on_local_network=False,
            )
        )
    )
    handle = session.add_torrent(params)
    wait_for(
        lambda: handle.status().progress >= 0.25,
        timeout=60,
        what="a quarter of the download",
    )

    with layout.restarts_held() as held:
        # when: the engine is killed -9 mid-download
        deadline = held.kill("swarm")
        assert not handle.status().is_seeding

        # then: /healthz names it
        wait_for(
            lambda: "engine" in layout.stale(),
            timeout=deadline.left(),
            what="/healthz to name the engine",
        )

    # when: supervisor has started it again, then: the client finishes from it
    wait_for(lambda: handle.status().is_seeding, timeout=deadline.left(), what="the download")
    done_after = deadline.elapsed()
    layout.wait_healthy(timeout=deadline.left())

    # then: the very bytes uploaded, none failing its piece hash, and none fetched twice but
    # those of the block the engine was sending when it died (a connection carries one block
    # at a time)
    status = handle.status()
    assert status.total_failed_bytes == 0
    assert status.total_redundant_bytes < BLOCK
    session.remove_torrent(handle)
    del session  # joins the disk threads: every byte is in the file
    assert sha256_of(tmp_path / "fan" / "clip.mp4") == sha256_of(source)
    # and the engine came back as the same node, seeding the content as before
    restarted = EngineNode.objects.get(name=layout.engine_name)
    assert restarted.pk == node.pk
    assert restarted.pid != node.pid
    assert content(content_id).state == Content.State.SEEDING
    print(f"engine killed mid-download: download complete {done_after:.1f} s after the kill")
