"""What one engine node should seed, read from the database by what changed.

A node reconciles its session every ``SWARM_RECONCILE_SECONDS``. Reading every published
content's metainfo each time costs about 40 KB per GiB of content per tick per node, so a
``PublishedFeed`` keeps what it read and, on each tick, asks only for contents whose
``changed_at`` moved since its cursor (``swarm.models.ENGINE_FIELDS``: a takedown, a restore,
a hash, a health move). Metainfo is read only for a content whose ``changed_at`` differs from the
copy held, so a tick with no change reads no metainfo at all.

The cursor trails the clock by ``OVERLAP``: a change written with a timestamp just before the
cursor but committed after the node read is still seen, and a writer whose clock runs a little
behind too. A sweep at start and every ``SWEEP_SECONDS`` compares every wanted content's
``changed_at`` with the copy held (one column, no metainfo) and reads what differs: it catches
deleted rows, which leave no ``changed_at`` to find, and anything the overlap missed.

A node seeds the contents placed on it (``swarm.placement``; it fetches what it lacks from the
other nodes), and a content placed nowhere yet from the files it finds on disk, as one node
always did (a node whose data directory is not where uploads land does not report such a content
missing: it never had it). The placement job moves ``changed_at`` of every content whose
placements it changes.

The node's own ``NodeSeeding`` state says whether a content it holds is healthy (a node that
found the files wrong checks every piece before seeding again). This node alone writes it, so
between sweeps the feed follows its own reports (``saw``) instead of reading the rows again.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from swarm import data_dir
from swarm.models import Content, EngineNode, NodeSeeding, Placement
from swarm.node_seeding import chunked
from swarm.seeding import HealthReport, Published

WANTED_STATES = (Content.State.SEEDING, Content.State.UNHEALTHY)
# Longer than any transaction that writes a content's state, and than the clock skew between
# machines that NTP leaves; a few seconds of rows read twice (ids only) cost nothing.
OVERLAP = timedelta(seconds=30)
# The safety net: bounded work (one column per content, metainfo only for what differs).
SWEEP_SECONDS = 300.0


def wanted_contents(node: EngineNode | None = None) -> QuerySet[Content]:
    """Published contents with their torrent (unhealthy ones to retry): those ``node`` seeds,
    placed on it or on no node yet, annotated ``placed_here`` (None: every node's)."""
    contents = Content.objects.filter(
        state__in=WANTED_STATES, infohash__isnull=False, metainfo__isnull=False
    )
    if node is None:
        return contents
    placed_here = Exists(Placement.objects.filter(content=OuterRef("pk"), node=node))
    placed = Exists(Placement.objects.filter(content=OuterRef("pk")))
    return contents.annotate(placed_here=placed_here).filter(Q(placed_here=True) | ~placed)


def is_healthy(content_state: str, own_state: str | None) -> bool:
    """Healthy for ``node``: its own row says seeding, or, before it has one, the content does."""
    if own_state is not None:
        return own_state == NodeSeeding.State.SEEDING
    return content_state == Content.State.SEEDING


def as_published(content: Content, own_state: str | None, *, placed_here: bool) -> Published:
    """``content`` (its files prefetched) as the engine seeds it, in this node's data directory
    (``swarm.data_dir``): fetched from other nodes where lacking when ``placed_here``."""
    files = list(content.files.all())
    single = len(files) == 1 and files[0].path == content.name
    return Published(
        content_id=content.pk,
        infohash=str(content.infohash),
        metainfo=bytes(content.metainfo or b""),
        save_path=data_dir.content_dir(content.pk),
        files=tuple((f.path if single else f"{content.name}/{f.path}", f.size) for f in files),
        healthy=is_healthy(content.state, own_state),
        fetch=placed_here,
        optional=not placed_here and not data_dir.holds_uploads(),
    )


def read_published(
    node: EngineNode, content_ids: Iterable[int] | None = None
) -> dict[int, tuple[Published, datetime]]:
    """The wanted contents (of ``content_ids``; None: all) as ``node`` seeds them, each with the
    ``changed_at`` read in the same row, by id."""
    published: dict[int, tuple[Published, datetime]] = {}
    batches: Iterable[list[int] | None] = [None] if content_ids is None else chunked(content_ids)
    for batch in batches:
        own_rows = NodeSeeding.objects.filter(node=node)
        contents = wanted_contents(node).prefetch_related("files").order_by("pk")
        if batch is not None:
            own_rows = own_rows.filter(content_id__in=batch)
            contents = contents.filter(pk__in=batch)
        own = dict(own_rows.values_list("content_id", "state"))
        for content in contents:
            # (``placed_here``: annotated by ``wanted_contents``.)
            placed_here = bool(getattr(content, "placed_here", False))
            item = as_published(content, own.get(content.pk), placed_here=placed_here)
            published[content.pk] = (item, content.changed_at)
    return published


class PublishedFeed:
    """The contents ``node`` should seed, kept between ticks and refreshed by what changed."""

    def __init__(
        self,
        node: EngineNode,
        *,
        overlap: timedelta = OVERLAP,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self.node = node
        self.overlap = overlap
        self.sweep_seconds = sweep_seconds
        self._items: dict[int, Published] = {}
        self._versions: dict[int, datetime] = {}  # content id -> changed_at of the copy held
        self._cursor: datetime | None = None
        self._next_sweep = 0.0
        # Metainfo rows read by the last ``wanted``: what a quiet tick must keep at zero.
        self.loaded = 0

    def wanted(self, *, sweep: bool = False) -> list[Published]:
        """What to seed now: a sweep at first and every ``sweep_seconds`` (or when asked),
        otherwise only the changes since the cursor. The cursor moves only once it all read,
        so a tick that failed half-way is read again in full."""
        started = timezone.now()
        self.loaded = 0
        if sweep or self._cursor is None or time.monotonic() >= self._next_sweep:
            self._sweep()
            self._next_sweep = time.monotonic() + self.sweep_seconds
        else:
            self._catch_up(self._cursor)
        self._cursor = started - self.overlap
        return [self._items[content_id] for content_id in sorted(self._items)]

    def saw(self, reports: Iterable[HealthReport]) -> None:
        """This node's health reports, once written to its rows: the copies held follow them,
        as a fresh read of the rows would."""
        for report in reports:
            item = self._items.get(report.content_id)
            if item is not None and item.healthy != report.healthy:
                self._items[report.content_id] = dataclasses.replace(item, healthy=report.healthy)

    def _sweep(self) -> None:
        rows = list(wanted_contents(self.node).values_list("pk", "changed_at", "state"))
        versions = {pk: changed_at for pk, changed_at, _ in rows}
        states = {pk: state for pk, _, state in rows}
        for gone in self._items.keys() - versions.keys():
            self._forget(gone)
        self._load(
            [pk for pk, changed_at in versions.items() if self._versions.get(pk) != changed_at]
        )
        own = dict(NodeSeeding.objects.filter(node=self.node).values_list("content_id", "state"))
        for pk, item in list(self._items.items()):
            healthy = is_healthy(states.get(pk, Content.State.SEEDING), own.get(pk))
            if item.healthy != healthy:
                self._items[pk] = dataclasses.replace(item, healthy=healthy)

    def _catch_up(self, since: datetime) -> None:
        changed = Content.objects.filter(changed_at__gte=since).values_list("pk", "changed_at")
        self._load([pk for pk, changed_at in changed if self._versions.get(pk) != changed_at])

    def _load(self, content_ids: list[int]) -> None:
        """Read ``content_ids`` again: the wanted ones are held anew, the rest forgotten."""
        if not content_ids:
            return
        found = read_published(self.node, content_ids)
        self.loaded += len(found)
        for content_id in content_ids:
            if content_id in found:
                self._items[content_id], self._versions[content_id] = found[content_id]
            else:
                self._forget(content_id)

    def _forget(self, content_id: int) -> None:
        self._items.pop(content_id, None)
        self._versions.pop(content_id, None)
