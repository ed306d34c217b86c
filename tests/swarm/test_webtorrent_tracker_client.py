"""npm ``bittorrent-tracker``'s own Client, the one WebTorrent announces with, against the
platform's WebSocket tracker (js/webtorrent_tracker_client.mjs run by node): its frames are
the ones that client parses, for an entitled fan and for a stranger."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm.models import Content
from swarm.services import active_passkey
from tests.fixtures.http_tracker import make_content
from tests.fixtures.processes import BASE_DIR
from tests.fixtures.servers import AsgiServer
from tests.swarm.webtorrent import info_hash_of, new_peer_id

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]

JS = BASE_DIR / "tests" / "swarm" / "js"


def run_client(server: AsgiServer, passkey: str, content: Content, *, left: int) -> Any:
    node = shutil.which("node")
    assert node, "Node.js is needed to run bittorrent-tracker's client"
    assert (BASE_DIR / "node_modules" / "bittorrent-tracker").is_dir(), "run make setup"
    command = {
        "announce": f"ws://{server.host}:{server.port}/ws/announce/{passkey}",
        "info_hash": info_hash_of(content).hex(),
        "peer_id": new_peer_id().hex(),
        "left": left,
    }
    done = subprocess.run(
        [node, "--import", str(JS / "no_webrtc.mjs"), str(JS / "webtorrent_tracker_client.mjs")],
        input=json.dumps(command),
        capture_output=True,
        text=True,
        cwd=BASE_DIR,
        timeout=60,  # a hang guard only
    )
    assert done.stdout, done.stderr
    answer = json.loads(done.stdout)
    assert answer["ok"] is True, (answer, done.stderr)
    return answer


def test_the_webtorrent_client_announces_and_scrapes_a_paid_torrent_it_is_entitled_to(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    content = make_content(creator, access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.STAFF)

    answer = run_client(asgi_server, active_passkey(fan).key, content, left=0)

    assert answer["warnings"] == []
    update = answer["update"]
    assert (update["action"], update["interval"], update["infoHash"]) == (
        "announce",
        120,
        content.infohash,
    )
    assert (update["complete"], update["incomplete"]) == (1, 0)
    scrape = answer["scrape"]
    assert (scrape["infoHash"], scrape["complete"], scrape["incomplete"]) == (
        content.infohash,
        1,
        0,
    )


def test_the_webtorrent_client_of_a_stranger_hears_a_refusal_and_sees_no_swarm(
    asgi_server: AsgiServer, stranger: User, creator: Creator
) -> None:
    content = make_content(creator, access=Content.Access.PAID)

    answer = run_client(asgi_server, active_passkey(stranger).key, content, left=1000)

    assert answer["update"] is None
    assert answer["scrape"] is None
    # the client's words: the tracker's failure reason, then a scrape with nothing in it
    assert answer["warnings"] == ["not entitled to this torrent", "invalid scrape response"]
