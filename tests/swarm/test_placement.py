"""Placement: which nodes hold each content (no engine process here: the nodes' heartbeats and
rows are written as ``runswarm`` writes them, and the placement pass runs as beat runs it)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from creators.models import Creator
from swarm import node_seeding, placement, published_feed
from swarm.models import Content, EngineNode, NodeSeeding, Placement
from swarm.placement import NodeRoom, choose_nodes

GB = 1024**3


@pytest.fixture(autouse=True)
def _cluster_settings(settings: SettingsWrapper) -> None:
    settings.SWARM_REPLICATION_TARGET = 2
    settings.SWARM_NODE_RESERVE_BYTES = 0
    settings.SWARM_NODE_LOST_SECONDS = 300
    settings.SWARM_HEARTBEAT_STALE_SECONDS = 10


def published(creator: Creator, title: str, size: int = GB, target: int | None = None) -> Content:
    return Content.objects.create(
        creator=creator,
        title=title,
        name=f"{title}.bin",
        state=Content.State.SEEDING,
        infohash=hashlib.sha256(title.encode()).hexdigest()[:40],
        metainfo=b"d4:infod4:name1:xee",
        total_size=size,
        replication_target=target,
    )


def node(name: str, free: int = 100 * GB, *, seconds_ago: float = 0) -> EngineNode:
    return EngineNode.objects.create(
        name=name,
        last_heartbeat=timezone.now() - timedelta(seconds=seconds_ago),
        free_bytes=free,
    )


def holds(node: EngineNode, content: Content, state: str = "seeding") -> None:
    NodeSeeding.objects.update_or_create(node=node, content=content, defaults={"state": state})


def placed(content: Content) -> list[str]:
    return sorted(Placement.objects.filter(content=content).values_list("node__name", flat=True))


# --- the choice -------------------------------------------------------------------------------


def test_the_node_least_full_after_taking_it_is_chosen_first() -> None:
    rooms = [
        NodeRoom(1, "a", free_bytes=10 * GB, placed_bytes=90 * GB, placed_contents=9),
        NodeRoom(2, "b", free_bytes=50 * GB, placed_bytes=50 * GB, placed_contents=5),
        NodeRoom(3, "c", free_bytes=400 * GB, placed_bytes=100 * GB, placed_contents=10),
    ]

    chosen = choose_nodes(rooms, GB, 2)

    assert [room.name for room in chosen] == ["c", "b"]


def test_a_node_without_room_for_the_content_is_never_chosen() -> None:
    rooms = [NodeRoom(1, "a", free_bytes=GB - 1), NodeRoom(2, "b", free_bytes=GB)]

    assert [room.name for room in choose_nodes(rooms, GB, 2)] == ["b"]


def test_equally_full_nodes_go_by_fewer_contents_then_name() -> None:
    rooms = [
        NodeRoom(1, "c", free_bytes=10 * GB, placed_bytes=0, placed_contents=0),
        NodeRoom(2, "a", free_bytes=10 * GB, placed_bytes=0, placed_contents=3),
        NodeRoom(3, "b", free_bytes=10 * GB, placed_bytes=0, placed_contents=0),
    ]

    assert [room.name for room in choose_nodes(rooms, GB, 3)] == ["b", "c", "a"]


# --- the pass ---------------------------------------------------------------------------------


def test_a_new_content_keeps_its_holder_and_gets_a_second_node(creator: Creator) -> None:
    # given: a content uploaded to a (which seeds it), and two other live nodes
    content = published(creator, "song")
    a, b = node("a"), node("b", free=50 * GB)
    node("c", free=80 * GB)
    holds(a, content)
    changed_before = Content.objects.get(pk=content.pk).changed_at

    # when
    done = placement.place_contents()

    # then: a keeps it, and the node with more room fetches it; the nodes are told
    assert placed(content) == ["a", "c"]
    assert sorted(done.placed) == [(content.pk, "a"), (content.pk, "c")]
    assert Content.objects.get(pk=content.pk).changed_at > changed_before
    assert b.placements.count() == 0


def test_a_pass_with_nothing_to_change_changes_nothing(creator: Creator) -> None:
    content = published(creator, "song")
    a = node("a")
    node("b")
    holds(a, content)
    placement.place_contents()
    changed = Content.objects.get(pk=content.pk).changed_at

    done = placement.place_contents()

    assert (done.placed, done.dropped) == ([], [])
    assert placed(content) == ["a", "b"]
    assert Content.objects.get(pk=content.pk).changed_at == changed


def test_the_content_target_overrides_the_setting(creator: Creator) -> None:
    content = published(creator, "film", target=3)
    one = published(creator, "single", target=1)
    a, b = node("a"), node("b")
    node("c")
    holds(a, content)
    holds(b, one)

    placement.place_contents()

    assert placed(content) == ["a", "b", "c"]
    assert placed(one) == ["b"]


def test_a_content_nobody_holds_is_not_placed(creator: Creator) -> None:
    # given: a content whose files no live node seeds (only reported missing)
    content = published(creator, "lost")
    a = node("a")
    node("b")
    holds(a, content, "missing")

    placement.place_contents()

    # then: placing it would only make nodes wait; it stays with whoever has it on disk
    assert placed(content) == []


def test_contents_spread_over_the_nodes_by_load(creator: Creator) -> None:
    contents = [published(creator, f"c{i}") for i in range(4)]
    a = node("a")
    node("b")
    node("c")
    for content in contents:
        holds(a, content)

    placement.place_contents()

    # a holds each; the second copies alternate between b and c as their load grows
    assert [placed(content) for content in contents] == [
        ["a", "b"],
        ["a", "c"],
        ["a", "b"],
        ["a", "c"],
    ]


def test_a_node_whose_fetches_would_fill_it_gets_no_more(creator: Creator) -> None:
    # given: b has room for one 1 GB content only, and its fetch has written nothing yet
    first, second = published(creator, "first"), published(creator, "second")
    a = node("a")
    node("b", free=GB + GB // 2)
    holds(a, first)
    holds(a, second)

    done = placement.place_contents()

    assert placed(first) == ["a", "b"]
    assert placed(second) == ["a"]
    assert done.short == [second.pk]


def test_a_lost_node_loses_its_placements_and_another_node_takes_over(creator: Creator) -> None:
    # given: a content held on a and b; c live with nothing
    content = published(creator, "song")
    a, b = node("a"), node("b")
    node("c", free=GB * 2)
    holds(a, content)
    holds(b, content)
    placement.place_contents()
    assert placed(content) == ["a", "b"]

    # when: b's heartbeat goes older than SWARM_NODE_LOST_SECONDS
    EngineNode.objects.filter(pk=b.pk).update(
        last_heartbeat=timezone.now() - timedelta(seconds=301)
    )
    done = placement.place_contents()

    # then
    assert placed(content) == ["a", "c"]
    assert (content.pk, "b") in done.dropped


def test_a_pass_places_and_moves_many_contents_in_batches(creator: Creator) -> None:
    # given: 1,200 contents on a (more than one batch of writes)
    contents = Content.objects.bulk_create(
        Content(
            creator=creator,
            title=f"c{i}",
            name=f"c{i}.bin",
            state=Content.State.SEEDING,
            infohash=f"{i:040x}",
            metainfo=b"d4:infod4:name1:xee",
            total_size=1024,
        )
        for i in range(1200)
    )
    a = node("a")
    node("b")
    node("c")
    NodeSeeding.objects.bulk_create(NodeSeeding(node=a, content=c) for c in contents)

    placement.place_contents()
    assert Placement.objects.filter(node=a).count() == 1200

    # when: a is lost
    EngineNode.objects.filter(pk=a.pk).update(last_heartbeat=timezone.now() - timedelta(hours=1))
    done = placement.place_contents()

    # then: its placements go; b and c keep the copies they were fetching (nobody live holds
    # the contents now, so nothing new is placed)
    assert len(done.dropped) == 1200
    assert Placement.objects.filter(node=a).count() == 0
    assert Placement.objects.exclude(node=a).count() == 1200
    assert done.placed == []


def test_a_node_stale_for_less_than_the_lost_time_keeps_its_placements(
    creator: Creator,
) -> None:
    # given: b restarting (stale for health, not lost)
    content = published(creator, "song")
    a, b = node("a"), node("b")
    node("c")
    holds(a, content)
    holds(b, content)
    placement.place_contents()
    EngineNode.objects.filter(pk=b.pk).update(last_heartbeat=timezone.now() - timedelta(seconds=60))

    placement.place_contents()

    # then: nothing is copied to c for a restart
    assert placed(content) == ["a", "b"]


def test_no_content_is_placed_on_a_draining_node(creator: Creator) -> None:
    content = published(creator, "song")
    a = node("a")
    node("b", free=500 * GB)
    node("c")
    holds(a, content)
    placement.start_draining("b")

    placement.place_contents()

    assert placed(content) == ["a", "c"]


def test_a_draining_node_keeps_a_content_until_others_hold_it(creator: Creator) -> None:
    # given: a content on a and b; a starts draining
    content = published(creator, "song")
    a, b, c = node("a"), node("b"), node("c")
    holds(a, content)
    holds(b, content)
    placement.place_contents()
    placement.start_draining("a")

    # when: a pass places it on c, which is still fetching
    placement.place_contents()
    holds(c, content, "fetching")
    placement.place_contents()

    # then: a still holds it
    assert placed(content) == ["a", "b", "c"]
    assert not placement.drain_progress(a).safe_to_stop

    # when: c holds every piece
    holds(c, content)
    placement.place_contents()

    # then: a's placement goes; once a let go (its row deleted), it is safe to stop
    assert placed(content) == ["b", "c"]
    assert placement.drain_progress(a) == placement.DrainProgress(placed=0, seeding=1)
    NodeSeeding.objects.filter(node=a).delete()
    assert placement.drain_progress(a).safe_to_stop


def test_a_draining_holder_of_an_unplaced_content_keeps_it_until_it_is_copied(
    creator: Creator,
) -> None:
    # given: a content only a seeds, placed nowhere yet, and a draining
    content = published(creator, "song")
    a = node("a")
    node("b")
    holds(a, content)
    placement.start_draining("a")

    placement.place_contents()

    # then: a keeps a placement (so it keeps seeding) while b fetches from it
    assert placed(content) == ["a", "b"]


def test_a_taken_down_content_loses_its_placements(creator: Creator) -> None:
    content = published(creator, "song")
    a = node("a")
    holds(a, content)
    placement.place_contents()

    Content.objects.filter(pk=content.pk).update(state=Content.State.REMOVED)
    placement.place_contents()

    assert placed(content) == []


def test_a_node_seeds_what_is_placed_on_it_and_what_is_placed_nowhere(creator: Creator) -> None:
    # given: one content placed on a, one on b, one on no node
    on_a, on_b, nowhere = published(creator, "x"), published(creator, "y"), published(creator, "z")
    a, b = node("a"), node("b")
    Placement.objects.create(node=a, content=on_a)
    Placement.objects.create(node=b, content=on_b)

    wanted = published_feed.read_published(a)

    # then: a fetches what is placed on it; the rest it seeds from disk only
    assert {content_id: item.fetch for content_id, (item, _) in wanted.items()} == {
        on_a.pk: True,
        nowhere.pk: False,
    }


# --- drainnode --------------------------------------------------------------------------------


def test_drainnode_says_when_the_node_is_safe_to_stop(creator: Creator) -> None:
    content = published(creator, "song")
    a, b = node("a"), node("b")
    holds(a, content)
    holds(b, content)
    placement.place_contents()
    NodeSeeding.objects.filter(node=a).delete()  # (as if a had let go already)
    Placement.objects.filter(node=a).delete()
    out = StringIO()

    call_command("drainnode", "a", "--timeout", "5", stdout=out)

    assert "a: every content is held on other nodes; safe to stop" in out.getvalue()
    assert EngineNode.objects.get(name="a").draining_at is not None


def test_drainnode_refuses_an_unknown_node(db: None) -> None:
    with pytest.raises(CommandError, match="no engine node named 'ghost'"):
        call_command("drainnode", "ghost", "--timeout", "0")


def test_drainnode_cancel_takes_placements_again(creator: Creator) -> None:
    node("a")
    placement.start_draining("a")

    call_command("drainnode", "a", "--cancel", stdout=StringIO())

    assert EngineNode.objects.get(name="a").draining_at is None


# --- the admin --------------------------------------------------------------------------------


def test_a_superuser_drains_a_node_from_the_admin(superuser: User) -> None:
    a = node("a")
    client = Client()
    client.force_login(superuser)

    page = client.post(
        "/admin/swarm/enginenode/", {"action": "drain", "_selected_action": [a.pk]}, follow=True
    )

    assert page.status_code == 200
    assert EngineNode.objects.get(pk=a.pk).draining_at is not None


def test_a_moderator_cannot_drain_a_node(moderator: User) -> None:
    a = node("a")
    client = Client()
    client.force_login(moderator)

    client.post("/admin/swarm/enginenode/", {"action": "drain", "_selected_action": [a.pk]})

    assert EngineNode.objects.get(pk=a.pk).draining_at is None


# --- the nodes let each other in ---------------------------------------------------------------


def test_each_node_admits_the_other_nodes_listen_addresses(db: None) -> None:
    me = node("me")
    EngineNode.objects.filter(pk=me.pk).update(listen_address="10.0.0.1:6881")
    for name, listening in [
        ("b", "10.0.0.2:6881,[2001:db8::2]:6881"),
        ("c", "0.0.0.0:6881"),  # names no peer
        ("d", "garbled"),
    ]:
        EngineNode.objects.filter(pk=node(name).pk).update(listen_address=listening)
    lost = node("e", seconds_ago=301)
    EngineNode.objects.filter(pk=lost.pk).update(listen_address="10.0.0.5:6881")

    assert node_seeding.node_addresses(exclude=me) == {"10.0.0.2", "2001:db8::2"}
