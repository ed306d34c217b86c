"""Placement: which engine nodes hold each content, and the moves when nodes come and go.

Each published content is held by ``replication_target`` nodes (``SWARM_REPLICATION_TARGET``
unless the content says more or less). The placement job (celery beat, ``place_contents``)
writes ``Placement`` rows; a node seeds what is placed on it and fetches what it lacks over
BitTorrent from the nodes that have it (``swarm.published_feed``, ``swarm.engine``). Whether a
node holds a content yet is its own ``NodeSeeding`` row (seeding: every piece verified).

One pass, under a lock on the node rows (two passes at once would both see room):

- a lost node (no heartbeat for ``SWARM_NODE_LOST_SECONDS``) loses its placements;
- live nodes that already seed a content (a content placed nowhere yet: the node it was uploaded
  to, or every node of a deployment that had no placement) are adopted first: they have the
  bytes. A draining holder is adopted too, so it keeps seeding until the others hold it;
- a content short of its target gets the live, not draining nodes with the most room
  (``choose_nodes``). A content that no live node holds is not placed: nobody could send it,
  and the nodes that have its files on disk keep seeding it as before;
- a draining node's placement is dropped once enough other nodes hold the content: the target,
  or every other live node when there are fewer.

Every content whose placements changed gets a new ``changed_at``: the nodes read it at their
next reconcile. Raises nothing of its own; safe to run twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from swarm.models import Content, EngineNode, NodeSeeding, Placement
from swarm.node_seeding import chunked
from swarm.published_feed import wanted_contents

SEEDING = NodeSeeding.State.SEEDING


@dataclass(frozen=True)
class NodeRoom:
    """A node placement may fill: its usable free bytes (reported free space, less the reserve
    and what its fetches still have to write) and what is placed on it."""

    node_id: int
    name: str
    free_bytes: int
    placed_bytes: int = 0
    placed_contents: int = 0

    def fill_after(self, size: int) -> float:
        """The share of this node's space in use once it holds ``size`` more bytes."""
        return (self.placed_bytes + size) / max(1, self.placed_bytes + self.free_bytes)

    def with_content(self, size: int) -> NodeRoom:
        return NodeRoom(
            self.node_id,
            self.name,
            self.free_bytes - size,
            self.placed_bytes + size,
            self.placed_contents + 1,
        )


def choose_nodes(candidates: Iterable[NodeRoom], size: int, count: int) -> list[NodeRoom]:
    """Up to ``count`` of ``candidates`` with room for ``size`` bytes, least full after taking
    it first (free space and load together: nodes fill in proportion to their space), then the
    one holding fewer contents, then by name."""
    fitting = [room for room in candidates if room.free_bytes >= size]
    fitting.sort(key=lambda r: (r.fill_after(size), r.placed_contents, r.name))
    return fitting[: max(0, count)]


def target_of(content_target: int | None) -> int:
    return content_target or settings.SWARM_REPLICATION_TARGET


@dataclass
class PlacementPass:
    """What one pass did, by content id."""

    placed: list[tuple[int, str]] = field(default_factory=list)  # (content, node) new
    rows: list[Placement] = field(default_factory=list)  # the new ones, written at the end
    dropped: list[tuple[int, str]] = field(default_factory=list)  # (content, node) removed
    short: list[int] = field(default_factory=list)  # below target, no node with room

    @property
    def changed(self) -> set[int]:
        return {content_id for content_id, _ in self.placed + self.dropped}


@dataclass
class _Cluster:
    """The nodes as one pass sees them."""

    names: dict[int, str]
    live: set[int]  # fresh heartbeat, not stopped
    lost: set[int]
    draining: set[int]
    rooms: dict[int, NodeRoom]  # live, not draining nodes with a reported free space

    @classmethod
    def read(cls, nodes: list[EngineNode]) -> _Cluster:
        now = timezone.now()
        lost_before = now - timedelta(seconds=settings.SWARM_NODE_LOST_SECONDS)
        fresh_since = now - timedelta(seconds=settings.SWARM_HEARTBEAT_STALE_SECONDS)
        lost = {n.pk for n in nodes if n.last_heartbeat is None or n.last_heartbeat < lost_before}
        live = {
            n.pk
            for n in nodes
            if n.pk not in lost
            and n.last_heartbeat is not None
            and n.last_heartbeat >= fresh_since
            and n.stopped_at is None
        }
        draining = {n.pk for n in nodes if n.draining_at is not None}
        rooms = {
            n.pk: NodeRoom(n.pk, n.name, n.free_bytes - settings.SWARM_NODE_RESERVE_BYTES)
            for n in nodes
            if n.pk in live and n.pk not in draining and n.free_bytes is not None
        }
        return cls({n.pk: n.name for n in nodes}, live, lost, draining, rooms)


def place_contents() -> PlacementPass:
    """One placement pass over every published content (see the module's docstring)."""
    result = PlacementPass()
    with transaction.atomic():
        cluster = _Cluster.read(list(EngineNode.objects.select_for_update().order_by("pk")))
        _drop(Placement.objects.filter(node_id__in=cluster.lost), cluster, result)
        wanted = dict(wanted_contents().values_list("pk", "total_size"))
        targets = dict(
            wanted_contents()
            .filter(replication_target__isnull=False)
            .values_list("pk", "replication_target")
        )
        # (A subquery: SQLite caps the parameters of one statement.)
        _drop(Placement.objects.exclude(content__in=wanted_contents()), cluster, result)
        placed: dict[int, set[int]] = defaultdict(set)
        for content_id, node_id in Placement.objects.values_list("content_id", "node_id"):
            placed[content_id].add(node_id)
        holders: dict[int, set[int]] = defaultdict(set)
        on_disk: dict[tuple[int, int], int] = {}
        for content_id, node_id, state, size in NodeSeeding.objects.filter(
            node_id__in=cluster.live
        ).values_list("content_id", "node_id", "state", "bytes_on_disk"):
            if state == SEEDING:
                holders[content_id].add(node_id)
            on_disk[node_id, content_id] = size
        _count_load(cluster, placed, holders, wanted, on_disk)
        for content_id in sorted(wanted):
            _place_one(
                content_id,
                wanted[content_id],
                target_of(targets.get(content_id)),
                placed[content_id],
                holders[content_id],
                cluster,
                result,
            )
        # One statement per thousand: the first pass of a large deployment places every content.
        Placement.objects.bulk_create(result.rows, batch_size=1000)
        touched = result.changed
        if touched:
            for batch in chunked(touched):
                Content.objects.filter(pk__in=batch).update(changed_at=timezone.now())
    return result


def _drop(placements: Iterable[Placement], cluster: _Cluster, result: PlacementPass) -> None:
    rows = list(placements)
    for row in rows:
        result.dropped.append((row.content_id, cluster.names.get(row.node_id, "?")))
    for batch in chunked(row.pk for row in rows):
        Placement.objects.filter(pk__in=batch).delete()


def _count_load(
    cluster: _Cluster,
    placed: dict[int, set[int]],
    holders: dict[int, set[int]],
    sizes: dict[int, int],
    on_disk: dict[tuple[int, int], int],
) -> None:
    """Charge each node with room for what is placed on it: bytes and contents, and the bytes
    its fetches have yet to write (not in its reported free space yet)."""
    for content_id, node_ids in placed.items():
        size = sizes.get(content_id, 0)
        for node_id in node_ids:
            room = cluster.rooms.get(node_id)
            if room is None:
                continue
            pending = 0
            if node_id not in holders.get(content_id, set()):
                pending = max(0, size - on_disk.get((node_id, content_id), 0))
            cluster.rooms[node_id] = NodeRoom(
                node_id,
                room.name,
                room.free_bytes - pending,
                room.placed_bytes + size,
                room.placed_contents + 1,
            )


def _place_one(
    content_id: int,
    size: int,
    target: int,
    here: set[int],
    holders: set[int],
    cluster: _Cluster,
    result: PlacementPass,
) -> None:
    def add(node_id: int) -> None:
        result.rows.append(Placement(node_id=node_id, content_id=content_id))
        here.add(node_id)
        result.placed.append((content_id, cluster.names[node_id]))
        room = cluster.rooms.get(node_id)
        if room is not None:
            charged = 0 if node_id in holders else size
            cluster.rooms[node_id] = room.with_content(charged)

    if not here and not holders:
        return  # nobody could send it: left to the nodes that have its files on disk
    for node_id in sorted(holders - here, key=cluster.names.__getitem__):
        kept = len(here - cluster.draining)
        if node_id in cluster.draining or kept < target:
            add(node_id)
    if holders:  # (fetchers alone have nothing to pass on)
        missing = target - len(here - cluster.draining)
        candidates = [room for node_id, room in cluster.rooms.items() if node_id not in here]
        chosen = choose_nodes(candidates, size, missing)
        for room in chosen:
            add(room.node_id)
        if len(chosen) < missing:
            result.short.append(content_id)
    _drain(content_id, target, here, holders, cluster, result)


def _drain(
    content_id: int,
    target: int,
    here: set[int],
    holders: set[int],
    cluster: _Cluster,
    result: PlacementPass,
) -> None:
    draining_here = here & cluster.draining
    if not draining_here:
        return
    others_holding = (here - cluster.draining) & holders & cluster.live
    enough = max(1, min(target, len(cluster.live - cluster.draining)))
    if len(others_holding) < enough:
        return
    for node_id in draining_here:
        Placement.objects.filter(node_id=node_id, content_id=content_id).delete()
        # (or adopted in this very pass, not written yet)
        result.rows = [
            row for row in result.rows if (row.node_id, row.content_id) != (node_id, content_id)
        ]
        here.discard(node_id)
        result.dropped.append((content_id, cluster.names[node_id]))


# --- draining ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrainProgress:
    placed: int  # contents still placed on the node
    seeding: int  # contents the node still says it seeds

    @property
    def safe_to_stop(self) -> bool:
        return self.placed == 0 and self.seeding == 0


def start_draining(name: str) -> EngineNode:
    """Mark node ``name`` draining: nothing new is placed on it and its contents move to other
    nodes. Raises EngineNode.DoesNotExist."""
    node = EngineNode.objects.get(name=name)
    if node.draining_at is None:
        EngineNode.objects.filter(pk=node.pk, draining_at__isnull=True).update(
            draining_at=timezone.now()
        )
        node.refresh_from_db()
    return node


def stop_draining(name: str) -> EngineNode:
    """Node ``name`` takes placements again. Raises EngineNode.DoesNotExist."""
    node = EngineNode.objects.get(name=name)
    EngineNode.objects.filter(pk=node.pk).update(draining_at=None)
    node.refresh_from_db()
    return node


def drain_progress(node: EngineNode) -> DrainProgress:
    """How much of ``node``'s content is still on it. Safe to stop once nothing is placed on it
    and it dropped all it seeded (it deletes its rows as it lets go)."""
    return DrainProgress(
        placed=Placement.objects.filter(node=node).count(),
        seeding=NodeSeeding.objects.filter(
            node=node, state=SEEDING, content__in=wanted_contents()
        ).count(),
    )
