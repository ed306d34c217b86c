"""Swarm settings beside those in ``settings``: hashing, and the placement and replication of
contents on several engine nodes (README "Configuration", ARCHITECTURE "Storage contract")."""

from __future__ import annotations

from btt_platform.env import env_float, env_int, env_str

# Hashing (swarm.hashing): a running hash refreshes its content's heartbeat this often; one
# quiet for SWARM_HASH_STALE_SECONDS is queued again by the sweep; after SWARM_HASH_MAX_ATTEMPTS
# runs that died, the content fails with a reason its creator sees (publishing again retries).
SWARM_HASH_HEARTBEAT_SECONDS = env_int("SWARM_HASH_HEARTBEAT_SECONDS", 5, minimum=1)
SWARM_HASH_STALE_SECONDS = env_int("SWARM_HASH_STALE_SECONDS", 60, minimum=2)
SWARM_HASH_MAX_ATTEMPTS = env_int("SWARM_HASH_MAX_ATTEMPTS", 3, minimum=1)

# This node's data directory: its torrents' save paths and its web seed's files (swarm.data_dir).
# Empty: CONTENT_ROOT, where uploads are published, as on one machine.
SWARM_DATA_DIR = env_str("SWARM_DATA_DIR")
# The address this node's outgoing BitTorrent connections leave from (libtorrent
# ``outgoing_interfaces``). Nodes connect to each other over TCP, and the others admit a node to
# paid torrents by its listen address: on a machine with several addresses (and in the one-machine
# cluster on 127.0.0.2-4), set it to the listen address. Empty: the kernel's choice. Not derived
# from the listen address by default: bound to 127.0.0.1 that way, the engine's WebRTC
# connections to a browser failed in the tests (libtorrent seems to bind those to it too).
SWARM_OUTGOING_INTERFACES = env_str("SWARM_OUTGOING_INTERFACES")
# How many nodes hold each content (a content's own ``replication_target`` overrides it).
SWARM_REPLICATION_TARGET = env_int("SWARM_REPLICATION_TARGET", 2, minimum=1)
# A node whose heartbeat is older than this is lost: its contents are placed on other nodes.
# Longer than a restart, so a deploy does not copy every content of the node it restarts.
SWARM_NODE_LOST_SECONDS = env_int("SWARM_NODE_LOST_SECONDS", 300, minimum=2)
# Space a node keeps free in its data directory: no content is placed on it past this.
SWARM_NODE_RESERVE_BYTES = env_int("SWARM_NODE_RESERVE_BYTES", 1024**3, minimum=0)
# How often celery beat runs the placement job (swarm.placement, beat entry "place-contents").
SWARM_PLACEMENT_SECONDS = env_float("SWARM_PLACEMENT_SECONDS", 10.0, minimum=1.0)
