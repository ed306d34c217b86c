"""An engine node reads what it should seed by what changed since its cursor: a quiet tick reads
no metainfo, and a takedown, a restore, a hash or a health move after the cursor is seen on the
next tick (the engine acting on them: tests/swarm/test_takedown.py, test_engine.py)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from swarm import node_seeding, services
from swarm.models import Content, EngineNode
from swarm.published_feed import PublishedFeed
from swarm.seeding import HealthReport
from tests.fixtures.content import Site
from tests.fixtures.processes import Child, wait_for


def published(creator: Creator, title: str) -> Content:
    return Content.objects.create(
        creator=creator,
        title=title,
        name=f"{title.lower()}.mkv",
        state=Content.State.SEEDING,
        infohash=hashlib.sha256(title.encode()).hexdigest()[:40],
        metainfo=b"d4:infod4:name1:xee",
    )


def node(name: str = "a") -> EngineNode:
    return EngineNode.objects.create(name=name, last_heartbeat=timezone.now())


def seeded(feed: PublishedFeed) -> dict[int, bool]:
    return {item.content_id: item.healthy for item in feed.wanted()}


def metainfo_reads(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "metainfo" in q["sql"].split("FROM")[0]]


def test_a_tick_without_changes_reads_no_metainfo(creator: Creator) -> None:
    # given: a node that read two contents at start
    one, two = published(creator, "One"), published(creator, "Two")
    feed = PublishedFeed(node())
    assert seeded(feed) == {one.pk: True, two.pk: True}
    assert feed.loaded == 2

    # when: nothing changes
    with CaptureQueriesContext(connection) as queries:
        wanted = seeded(feed)

    # then: the same two, and not one metainfo read
    assert wanted == {one.pk: True, two.pk: True}
    assert feed.loaded == 0
    assert metainfo_reads(queries) == []
    assert len(queries.captured_queries) == 1  # the ids changed since the cursor


def test_a_takedown_a_restore_and_a_new_content_after_the_cursor_are_seen(
    creator: Creator, moderator: User
) -> None:
    # given
    one = published(creator, "One")
    feed = PublishedFeed(node())
    assert seeded(feed) == {one.pk: True}

    # when/then: taken down, it is no longer wanted (and no metainfo is read to say so)
    services.take_down_content(moderator, one.pk, "copyright claim")
    assert seeded(feed) == {}
    assert feed.loaded == 0

    # when/then: restored, and another hashed meanwhile: both read, once
    services.restore_content(moderator, one.pk)
    two = Content.objects.create(
        creator=creator, title="Two", name="two.mkv", state=Content.State.HASHING
    )
    assert seeded(feed) == {one.pk: True}
    Content.objects.filter(pk=two.pk).update(
        state=Content.State.SEEDING, infohash="ab" * 20, metainfo=b"d4:infod4:name1:yee"
    )
    assert seeded(feed) == {one.pk: True, two.pk: True}
    assert feed.loaded == 1
    assert seeded(feed) == {one.pk: True, two.pk: True}
    assert feed.loaded == 0


def test_the_nodes_own_reports_and_the_contents_health_moves_are_followed(
    creator: Creator,
) -> None:
    # given: node a seeds the content; b has not reported yet
    content = published(creator, "One")
    a, b = node("a"), node("b")
    feed_a, feed_b = PublishedFeed(a), PublishedFeed(b)
    assert seeded(feed_a) == seeded(feed_b) == {content.pk: True}

    # when: a finds its files missing (its own report), so no live node seeds the content
    missing = [HealthReport(content.pk, "missing", "file missing: one.mkv")]
    node_seeding.record_health_reports(a, missing)
    feed_a.saw(missing)

    # then: a checks every piece before seeding again; b, without a row, follows the content
    assert seeded(feed_a) == {content.pk: False}
    assert seeded(feed_b) == {content.pk: False}
    assert feed_b.loaded == 1

    # when: a's check passed
    healthy = [HealthReport(content.pk, "seeding")]
    node_seeding.record_health_reports(a, healthy)
    feed_a.saw(healthy)

    # then
    assert seeded(feed_a) == seeded(feed_b) == {content.pk: True}


def test_the_sweep_finds_a_deleted_content_and_a_change_the_cursor_missed(
    creator: Creator,
) -> None:
    # given
    one, two = published(creator, "One"), published(creator, "Two")
    one_id = one.pk
    feed = PublishedFeed(node())
    assert seeded(feed) == {one_id: True, two.pk: True}

    # when: one is deleted (no changed_at left to find) and two taken down with a timestamp
    # older than the cursor (a writer's clock far behind)
    one.delete()
    Content.objects.filter(pk=two.pk).update(
        state=Content.State.REMOVED, changed_at=timezone.now() - timedelta(days=1)
    )

    # then: the next tick does not see them; the sweep does
    assert seeded(feed) == {one_id: True, two.pk: True}
    assert feed.wanted(sweep=True) == []
    assert feed.loaded == 0


def test_the_full_read_and_the_feed_agree(creator: Creator) -> None:
    one, two = published(creator, "One"), published(creator, "Two")
    a = node()
    node_seeding.record_health_reports(a, [HealthReport(two.pk, "error", "piece 3 failed")])
    assert PublishedFeed(a).wanted() == services.published_content_for_engine(a)
    assert [p.content_id for p in services.published_content_for_engine(a)] == [one.pk, two.pk]


@pytest.mark.processes
def test_a_running_engine_seeds_a_publish_drops_a_takedown_and_seeds_a_restore(
    creator: Creator,
    moderator: User,
    site: Site,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
) -> None:
    # given: an engine that has read the published set (nothing yet) and moved its cursor on
    engine = site_engine()
    wait_for(lambda: "listening on" in engine.output(), what="the engine to listen")

    def seeding() -> int:
        return EngineNode.objects.get(name=engine.name).torrents

    # when/then: published after the engine started, it is seeded
    content = publish(creator, {"song.ogg": os.urandom(300_000)}, title="Song")
    wait_for(lambda: seeding() == 1, what="the engine to seed the new content")

    # when/then: taken down, the engine drops it
    services.take_down_content(moderator, content.pk, "copyright claim")
    wait_for(lambda: seeding() == 0, what="the engine to drop the content")
    assert f"stopped seeding {content.infohash} (unpublished" in engine.output()

    # when/then: restored, it is seeded again
    services.restore_content(moderator, content.pk)
    wait_for(lambda: seeding() == 1, what="the engine to seed the restored content")
    assert engine.output().count(f"seeding content {content.pk} ") == 2
