"""Per-node seeding records: each node writes its own rows, and a content's health and totals
are derived from the rows of the live nodes (no engine process here: the engine's reports and
stats are handed to the services as ``runswarm`` hands them)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from swarm import node_seeding, services
from swarm.models import Content, EngineNode, NodeSeeding
from swarm.seeding import HealthReport, TorrentStats


def published(creator: Creator, title: str = "Concert") -> Content:
    return Content.objects.create(
        creator=creator,
        title=title,
        name="concert.mkv",
        state=Content.State.SEEDING,
        infohash=hashlib.sha256(title.encode()).hexdigest()[:40],
    )


def live_node(name: str) -> EngineNode:
    return EngineNode.objects.create(name=name, last_heartbeat=timezone.now())


def go_stale(node: EngineNode) -> None:
    EngineNode.objects.filter(pk=node.pk).update(last_heartbeat=timezone.now() - timedelta(hours=1))


def stats(content: Content, peers: int, uploaded: int) -> TorrentStats:
    return TorrentStats(
        content_id=content.pk,
        peers=peers,
        seeds=1,
        upload_rate=peers * 1000,
        bytes_uploaded=uploaded,
        bytes_on_disk=4096,
    )


def state_of(content: Content) -> tuple[str, str]:
    content.refresh_from_db()
    return content.state, content.state_detail


def test_a_node_missing_the_files_leaves_the_content_seeding_from_the_other(
    creator: Creator,
) -> None:
    # given: two live nodes; a seeds the content
    content = published(creator)
    a, b = live_node("a"), live_node("b")
    node_seeding.record_health_reports(a, [HealthReport(content.pk, "seeding")])

    # when: b finds the files missing
    node_seeding.record_health_reports(b, [HealthReport(content.pk, "missing", "file missing: x")])

    # then: still seeding; each node's row says its own
    assert state_of(content) == (Content.State.SEEDING, "")
    rows = {r.node.name: (r.state, r.detail) for r in NodeSeeding.objects.select_related("node")}
    assert rows == {"a": ("seeding", ""), "b": ("missing", "file missing: x")}
    health = node_seeding.content_health([content.pk])[content.pk]
    assert str(health) == "seeding on 1 of 2 nodes"


def test_the_content_turns_unhealthy_when_its_only_seeding_node_goes_stale(
    creator: Creator,
) -> None:
    # given: a seeds, b misses the files
    content = published(creator)
    a, b = live_node("a"), live_node("b")
    node_seeding.record_health_reports(a, [HealthReport(content.pk, "seeding")])
    node_seeding.record_health_reports(b, [HealthReport(content.pk, "missing", "file missing: x")])

    # when: a's heartbeat goes stale and b's periodic sweep runs
    go_stale(a)
    node_seeding.SwarmStats(b).record([], persist=True)

    # then: no live node seeds it; a's row does not count
    assert state_of(content) == (Content.State.UNHEALTHY, "file missing: x")
    assert str(node_seeding.content_health([content.pk])[content.pk]) == "seeding on 0 of 1 node"

    # when: a comes back and says it seeds
    node_seeding.record_health_reports(a, [HealthReport(content.pk, "seeding")])

    # then
    assert state_of(content) == (Content.State.SEEDING, "")


def test_a_stopped_node_no_longer_counts_but_no_live_node_at_all_changes_nothing(
    creator: Creator,
) -> None:
    # given: a seeds, b misses the files
    content = published(creator)
    a, b = live_node("a"), live_node("b")
    node_seeding.record_health_reports(a, [HealthReport(content.pk, "seeding")])
    node_seeding.record_health_reports(b, [HealthReport(content.pk, "missing", "file missing: x")])

    # when: a stops cleanly
    services.mark_stopped(a)

    # then: b's verdict is the only one
    assert state_of(content) == (Content.State.UNHEALTHY, "file missing: x")

    # given: a second content only a seeds, now with every node gone
    other = published(creator, "Other")
    NodeSeeding.objects.create(node=a, content=other)
    go_stale(b)

    # when
    node_seeding.refresh_content_health()

    # then: no live node's row, no verdict: the last one stands
    assert state_of(other) == (Content.State.SEEDING, "")
    assert state_of(content) == (Content.State.UNHEALTHY, "file missing: x")


def test_nodes_that_miss_the_files_for_different_reasons_are_each_named(creator: Creator) -> None:
    content = published(creator)
    a, b = live_node("a"), live_node("b")

    node_seeding.record_health_reports(a, [HealthReport(content.pk, "missing", "file missing: x")])
    node_seeding.record_health_reports(b, [HealthReport(content.pk, "error", "piece 3 failed")])

    assert state_of(content) == (
        Content.State.UNHEALTHY,
        "a: file missing: x; b: piece 3 failed",
    )


def test_each_node_writes_its_own_figures_and_the_content_holds_their_totals(
    creator: Creator,
) -> None:
    # given: two live nodes seeding one content
    content = published(creator)
    a, b = live_node("a"), live_node("b")

    # when: each writes its figures, b after a
    node_seeding.SwarmStats(a).record([stats(content, peers=3, uploaded=1000)], persist=True)
    node_seeding.SwarmStats(b).record([stats(content, peers=5, uploaded=7000)], persist=True)

    # then: b did not overwrite a's row, and the content holds the totals over both
    rows = {
        r.node.name: (r.peers, r.upload_rate, r.bytes_uploaded, r.bytes_on_disk)
        for r in NodeSeeding.objects.select_related("node")
    }
    assert rows == {"a": (3, 3000, 1000, 4096), "b": (5, 5000, 7000, 4096)}
    content.refresh_from_db()
    assert (content.peers, content.seeds, content.upload_rate, content.bytes_uploaded) == (
        8,
        1,
        8000,
        8000,
    )

    # when: b goes stale and a writes again
    go_stale(b)
    node_seeding.SwarmStats(a).record([stats(content, peers=2, uploaded=1500)], persist=True)

    # then: b's live figures no longer count; the bytes it sent stay counted
    content.refresh_from_db()
    assert (content.peers, content.upload_rate, content.bytes_uploaded) == (2, 2000, 8500)


def test_a_node_checks_what_its_own_row_says_is_bad_whatever_the_content_says(
    creator: Creator,
) -> None:
    # given: a seeds the content, b found its files missing
    content = published(creator)
    content.metainfo = b"d4:infod4:name1:xee"
    content.save()
    a, b = live_node("a"), live_node("b")
    node_seeding.record_health_reports(a, [HealthReport(content.pk, "seeding")])
    node_seeding.record_health_reports(b, [HealthReport(content.pk, "missing", "file missing: x")])

    # then: b re-checks every piece before it seeds again; a (and a new node) trusts its files
    healthy = {
        node.name: [p.healthy for p in services.published_content_for_engine(node)]
        for node in (a, b, live_node("c"))
    }
    assert healthy == {"a": [True], "b": [False], "c": [True]}


def test_staff_health_shows_what_each_node_does_with_a_content(
    creator: Creator, moderator: User
) -> None:
    # given
    content = published(creator)
    a, b = live_node("node-a"), live_node("node-b")
    node_seeding.record_health_reports(a, [HealthReport(content.pk, "seeding")])
    node_seeding.record_health_reports(b, [HealthReport(content.pk, "missing", "file missing: x")])
    client = Client()
    client.force_login(moderator)

    # when
    page = client.get("/staff/health/").content.decode()

    # then
    assert 'data-node-state="node-a:seeding"' in page
    assert 'data-node-state="node-b:missing"' in page
    assert "missing files: file missing: x" in page
    assert "seeding on 1 of 2 nodes" in page
