"""Per-node seeding records, and the content health and swarm totals derived from them.

Several engine nodes seed the same content. Each node writes what it does with a content
(seeding, checking, missing files, error) and its own figures to its own ``NodeSeeding`` row,
and never another node's: one node missing the files cannot turn a content unhealthy for all,
and no node's figures overwrite another's. A content is unhealthy only when no live node (fresh
heartbeat, not stopped) seeds it; a stale node's rows do not count. ``Content.state`` moves
between seeding and unhealthy here only (``refresh_content_health``), and ``Content.peers`` and
the rest are a cache of the totals over every node's row, which pages, the API and the studio
read as one content.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from swarm import events
from swarm.models import Content, EngineNode, NodeSeeding
from swarm.seeding import HealthReport, TorrentStats
from swarm.tracker import entitlements

SEEDING = NodeSeeding.State.SEEDING


def live_node_ids(*also: EngineNode) -> set[int]:
    """The nodes whose rows count: heartbeat fresh and not stopped, and ``also`` (a node that
    is reporting right now is alive, even before its first heartbeat after a restart)."""
    fresh_since = timezone.now() - timedelta(seconds=settings.SWARM_HEARTBEAT_STALE_SECONDS)
    live = EngineNode.objects.filter(last_heartbeat__gte=fresh_since, stopped_at__isnull=True)
    return set(live.values_list("pk", flat=True)) | {node.pk for node in also}


def node_addresses(exclude: EngineNode | None = None) -> frozenset[str]:
    """The IP addresses the other engine nodes listen on (heartbeat within
    ``SWARM_NODE_LOST_SECONDS``): each node lets them in on its paid torrents, since nodes fetch
    placed contents from each other. An unspecified address (``0.0.0.0``) names no peer: a node
    of a cluster listens on its own address."""
    since = timezone.now() - timedelta(seconds=settings.SWARM_NODE_LOST_SECONDS)
    nodes = EngineNode.objects.filter(last_heartbeat__gte=since)
    if exclude is not None:
        nodes = nodes.exclude(pk=exclude.pk)
    found: set[str] = set()
    for listening in nodes.values_list("listen_address", flat=True):
        for address in filter(None, listening.split(",")):
            host = address.rpartition(":")[0].strip("[]")
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                continue
            if not ip.is_unspecified:
                found.add(str(ip))
    return frozenset(found)


# --- health -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentHealth:
    """How many live nodes seed a content, of the live nodes that hold a row for it."""

    seeding: int
    nodes: int

    def __str__(self) -> str:
        return f"seeding on {self.seeding} of {self.nodes} node{'s' if self.nodes != 1 else ''}"


@dataclass(frozen=True)
class NodeVerdict:
    """One live node's row, as the derivation reads it."""

    node: str
    state: str
    detail: str


def derive_health(verdicts: list[NodeVerdict]) -> tuple[str, str] | None:
    """The content's state and detail from its live nodes' rows; None without any, so the last
    verdict stands: with no live node at all the swarm is down, which /healthz says once,
    rather than every content telling its creator it turned unhealthy."""
    if not verdicts:
        return None
    if any(v.state == SEEDING for v in verdicts):
        return Content.State.SEEDING, ""
    details = sorted({v.detail for v in verdicts})
    if len(details) == 1:
        return Content.State.UNHEALTHY, details[0]
    return Content.State.UNHEALTHY, "; ".join(f"{v.node}: {v.detail}" for v in verdicts)


def chunked(ids: Iterable[int], size: int = 1000) -> Iterator[list[int]]:
    """``ids`` in lists of ``size``: SQLite caps the parameters of one statement (32766), and
    an engine restarting reports on every content it holds."""
    batch: list[int] = []
    for content_id in ids:
        batch.append(content_id)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _live_verdicts(content_ids: Iterable[int], live: set[int]) -> dict[int, list[NodeVerdict]]:
    verdicts: dict[int, list[NodeVerdict]] = defaultdict(list)
    for batch in chunked(content_ids):
        rows = (
            NodeSeeding.objects.filter(content_id__in=batch, node_id__in=live)
            .order_by("node__name")
            .values_list("content_id", "node__name", "state", "detail")
        )
        for content_id, node, state, detail in rows:
            verdicts[content_id].append(NodeVerdict(node, state, detail))
    return verdicts


def _existing(content_ids: Iterable[int]) -> set[int]:
    """Those of ``content_ids`` still in the database (a content can be deleted meanwhile)."""
    existing: set[int] = set()
    for batch in chunked(content_ids):
        existing.update(Content.objects.filter(pk__in=batch).values_list("pk", flat=True))
    return existing


def content_health(content_ids: Iterable[int]) -> dict[int, ContentHealth]:
    """``ContentHealth`` of each content with a row on a live node."""
    verdicts = _live_verdicts(content_ids, live_node_ids())
    return {
        content_id: ContentHealth(sum(v.state == SEEDING for v in rows), len(rows))
        for content_id, rows in verdicts.items()
    }


def _disagreeing(live: set[int]) -> list[int]:
    """Published contents whose state the live nodes' rows contradict (one query): what a node
    that went stale, or stopped, leaves behind."""
    live_rows = Q(seedings__node_id__in=live)
    return list(
        Content.objects.published()
        .annotate(
            live_rows=Count("seedings", filter=live_rows),
            live_seeding=Count("seedings", filter=live_rows & Q(seedings__state=SEEDING)),
        )
        .filter(
            Q(state=Content.State.SEEDING, live_rows__gt=0, live_seeding=0)
            | Q(state=Content.State.UNHEALTHY, live_seeding__gt=0)
        )
        .values_list("pk", flat=True)
    )


def refresh_content_health(
    content_ids: Iterable[int] | None = None, *, reporting: EngineNode | None = None
) -> None:
    """Derive ``Content.state`` of ``content_ids`` (None: every published content the live
    nodes' rows contradict) from the rows of the live nodes, ``reporting`` counted live."""
    live = live_node_ids(*([reporting] if reporting else []))
    ids = _disagreeing(live) if content_ids is None else list(content_ids)
    for content_id, verdicts in _live_verdicts(ids, live).items():
        derived = derive_health(verdicts)
        if derived is not None:
            _move(content_id, *derived)


def _move(content_id: int, new: str, detail: str) -> None:
    """The one transition between seeding and unhealthy: a conditional UPDATE, and the tracker,
    the content's page and staff told when it changed."""
    old = Content.State.SEEDING if new == Content.State.UNHEALTHY else Content.State.UNHEALTHY
    with transaction.atomic():
        changed = Content.objects.filter(pk=content_id, state=old).update(
            state=new, state_detail=detail
        )
        if not changed:
            if new == Content.State.UNHEALTHY:  # already unhealthy: keep the newest reason
                Content.objects.filter(pk=content_id, state=new).update(state_detail=detail)
            return
        infohash = Content.objects.filter(pk=content_id).values_list("infohash", flat=True).first()
        entitlements.forget_content(infohash)
        transaction.on_commit(partial(entitlements.forget_content, infohash), robust=True)
        events.send_ingest(content_id, new, 1.0, detail)
        events.send_content_health(content_id, new, detail)


def record_health_reports(node: EngineNode, reports: list[HealthReport]) -> None:
    """Write ``node``'s reports to its own rows, then derive the contents' health."""
    latest = {report.content_id: report for report in reports}  # the last word counts
    if not latest:
        return
    existing = _existing(latest)
    now = timezone.now()
    held: list[NodeSeeding] = []
    lost: list[NodeSeeding] = []
    for report in latest.values():
        if report.content_id not in existing:  # deleted meanwhile
            continue
        row = NodeSeeding(
            node=node,
            content_id=report.content_id,
            state=report.state,
            detail=report.detail,
            updated_at=now,
        )
        holds = report.state in (SEEDING, NodeSeeding.State.CHECKING, NodeSeeding.State.FETCHING)
        (held if holds else lost).append(row)
    fields = ["state", "detail", "updated_at"]
    _upsert(held, fields)
    # Out of this node's session: it serves nobody and holds no verified bytes of it now.
    _upsert(lost, [*fields, "peers", "seeds", "upload_rate", "bytes_on_disk"])
    refresh_content_health(existing, reporting=node)


def _upsert(rows: list[NodeSeeding], fields: list[str]) -> None:
    if rows:
        NodeSeeding.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["node", "content"], update_fields=fields
        )


def forget_dropped(node: EngineNode, content_ids: list[int]) -> None:
    """``node`` let go of ``content_ids`` (taken down, or placed on other nodes): its rows go,
    so no door lists it and health is derived from the nodes that hold them."""
    if not content_ids:
        return
    for batch in chunked(content_ids):
        NodeSeeding.objects.filter(node=node, content_id__in=batch).delete()
    refresh_content_health(content_ids, reporting=node)


def node_stopped(node: EngineNode) -> None:
    """``node`` stopped: it serves nobody, and its contents' health is derived without it."""
    rows = NodeSeeding.objects.filter(node=node)
    rows.update(peers=0, upload_rate=0)
    refresh_content_health(rows.values_list("content_id", flat=True))


# --- figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    peers: int = 0
    seeds: int = 0
    upload_rate: int = 0
    bytes_uploaded: int = 0

    def plus(self, peers: int, seeds: int, upload_rate: int, bytes_uploaded: int) -> Totals:
        return Totals(
            self.peers + peers,
            # Each node counts the same swarm's seeds (the tracker's complete count among
            # them): added up, every seed would count once per node.
            max(self.seeds, seeds),
            self.upload_rate + upload_rate,
            self.bytes_uploaded + bytes_uploaded,
        )


class SwarmStats:
    """One node's swarm figures: every tick to each content's WebSocket group as totals with the
    other nodes' figures; to its own rows and the contents' cached totals when persisting."""

    def __init__(self, node: EngineNode) -> None:
        self.node = node
        # The other nodes' figures as last read: they write theirs as seldom as this one does,
        # so reading them on every tick would only read the same numbers again.
        self._others: dict[int, Totals] = {}

    def record(self, stats: list[TorrentStats], *, persist: bool) -> None:
        if persist:
            self._persist(stats)
        for item in stats:
            totals = self._totals(item)
            event: events.StatsEvent = {
                "type": "stats",
                "state": Content.State.SEEDING,
                "peers": totals.peers,
                "seeds": totals.seeds,
                "upload_rate": totals.upload_rate,
                "bytes_uploaded": totals.bytes_uploaded,
            }
            events.send_stats(item.content_id, event)

    def _totals(self, item: TorrentStats) -> Totals:
        others = self._others.get(item.content_id, Totals())
        return others.plus(item.peers, item.seeds, item.upload_rate, item.bytes_uploaded)

    def _persist(self, stats: list[TorrentStats]) -> None:
        now = timezone.now()
        existing = _existing(s.content_id for s in stats)
        mine = [s for s in stats if s.content_id in existing]
        _upsert(
            [
                NodeSeeding(
                    node=self.node,
                    content_id=s.content_id,
                    peers=s.peers,
                    seeds=s.seeds,
                    upload_rate=s.upload_rate,
                    bytes_uploaded=s.bytes_uploaded,
                    bytes_on_disk=s.bytes_on_disk,
                    updated_at=now,
                )
                for s in mine
            ],
            ["peers", "seeds", "upload_rate", "bytes_uploaded", "bytes_on_disk", "updated_at"],
        )
        self._others = self._read_others()
        for item in mine:
            totals = self._totals(item)
            Content.objects.filter(pk=item.content_id).update(
                peers=totals.peers,
                seeds=totals.seeds,
                upload_rate=totals.upload_rate,
                bytes_uploaded=totals.bytes_uploaded,
                stats_updated_at=now,
            )
        # A node that went stale (killed, cut off) stops counting here: the live nodes sweep
        # the contents its rows alone kept seeding.
        refresh_content_health(reporting=self.node)

    def _read_others(self) -> dict[int, Totals]:
        live = live_node_ids()
        others: dict[int, Totals] = {}
        rows = (
            NodeSeeding.objects.exclude(node=self.node)
            .filter(content__state__in=(Content.State.SEEDING, Content.State.UNHEALTHY))
            .values_list("content_id", "node_id", "peers", "seeds", "upload_rate", "bytes_uploaded")
        )
        for content_id, node_id, peers, seeds, rate, uploaded in rows:
            totals = others.get(content_id, Totals())
            if node_id in live:
                others[content_id] = totals.plus(peers, seeds, rate, uploaded)
            else:  # a stale node serves nobody now; what it sent stays sent
                others[content_id] = totals.plus(0, 0, 0, uploaded)
        return others


# --- the staff view ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixRow:
    content: Content
    health: ContentHealth
    cells: list[NodeSeeding | None]  # one per node, in the nodes' order


def seeding_matrix(nodes: list[EngineNode], limit: int) -> list[MatrixRow]:
    """The published contents some node does not seed (or that are unhealthy), newest first,
    with each node's row: the contents worth a look, not every content of the platform."""
    not_seeding = Q(seedings__state__in=[s for s in NodeSeeding.State if s != SEEDING])
    contents = list(
        Content.objects.published()
        .filter(Q(state=Content.State.UNHEALTHY) | not_seeding)
        .distinct()
        .select_related("creator")
        .order_by("-created_at")[:limit]
    )
    by_cell = {
        (row.content_id, row.node_id): row
        for row in NodeSeeding.objects.filter(content__in=contents).select_related("node")
    }
    health = content_health(c.pk for c in contents)
    return [
        MatrixRow(
            content,
            health.get(content.pk, ContentHealth(0, 0)),
            [by_cell.get((content.pk, node.pk)) for node in nodes],
        )
        for content in contents
    ]
