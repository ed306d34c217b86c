"""The settings of the engine's libtorrent session: a dedicated seeding server."""

from __future__ import annotations

import libtorrent as lt

from swarm.engine.webrtc import WebRtcConfig


def seedbox_settings(
    listen_interfaces: str, webrtc: WebRtcConfig | None = None
) -> lt.settings_pack:
    """libtorrent settings for a dedicated seeding server.

    libtorrent's ``high_performance_seed`` preset, listening where the settings say (never an
    assumed 127.0.0.1: some clients refuse loopback peers a tracker hands out), with nothing
    that reaches out to the public internet, and every torrent seeding at once. ``webrtc``:
    how it meets browsers (None: it announces to no WebSocket tracker; see ``webrtc``).
    """
    pack = lt.high_performance_seed()
    pack.update(
        {
            "listen_interfaces": listen_interfaces,
            # A server (and every test) must not reach out to public DHT, LSD, UPnP or STUN:
            # with a STUN server set, libtorrent contacts a public host for WebTorrent.
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "dht_bootstrap_nodes": "",
            "webtorrent_stun_server": "",
            # Many fans share one NAT address; test clients all sit on 127.0.0.1.
            "allow_multiple_connections_per_ip": True,
            # The default keeps only 5 seeds active; a seeding server seeds everything.
            "active_seeds": -1,
            "active_limit": -1,
            "user_agent": f"btt-creators/{lt.__version__}",
            # The ip_filter is the allow-list of peers for paid torrents; it must not keep the
            # engine from its own tracker (libtorrent applies it to trackers by default).
            "apply_ip_filter_to_trackers": False,
            # On stop the session waits this long at most for the tracker to take its "stopped"
            # announces (default 5 s): with SWARM_STOP_GRACE_SECONDS it bounds a stop.
            "stop_tracker_timeout": 2,
            # Each torrent has the HTTP tracker and (WebRTC on) the WebSocket tracker: the
            # engine must be in both swarms, not fall back from one to the other.
            "announce_to_all_trackers": True,
            "announce_to_all_tiers": True,
            # Nodes fetch from each other over TCP: between two libtorrents uTP won, and its
            # congestion control in user space made replication 4.6x slower than aria2c over
            # TCP (bench/RESULTS.md, "Replication"). Incoming uTP stays on for fans' clients
            # that connect with it.
            "enable_outgoing_utp": False,
            "enable_incoming_utp": True,
            "alert_mask": lt.alert_category.error
            | lt.alert_category.status
            | lt.alert_category.storage
            | lt.alert_category.tracker,
        }
    )
    if webrtc is not None:
        pack.update(webrtc.session_settings())
    return pack
