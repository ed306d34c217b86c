"""The engine's libtorrent session settings, read back from a session as libtorrent applies them."""

from __future__ import annotations

import libtorrent as lt

from swarm.engine import seedbox_settings


def test_the_engine_connects_out_over_tcp_only_and_still_takes_utp_from_fans() -> None:
    # Nodes replicating from each other connect out: over uTP they ran several times slower
    # than over TCP. Fans' clients that connect in with uTP must still get through.
    session = lt.session(seedbox_settings("127.0.0.1:0"))
    try:
        applied = session.get_settings()
    finally:
        del session
    assert applied["enable_outgoing_utp"] is False
    assert applied["enable_incoming_utp"] is True
    assert applied["enable_outgoing_tcp"] is True
    assert applied["enable_incoming_tcp"] is True
