"""Two real engine nodes on one machine, one of them without a content's files: each writes its
own seeding record, and the content stays healthy while one live node seeds it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from django.test import Client

from accounts.models import User
from creators.models import Creator
from swarm import node_seeding
from swarm.models import Content, NodeSeeding
from tests.fixtures.content import Site
from tests.fixtures.processes import Child, wait_for

PIECE = 256 * 1024


def row(node: Child, content: Content) -> NodeSeeding | None:
    return NodeSeeding.objects.filter(node__name=node.name, content=content).first()


def test_a_node_without_the_files_leaves_the_content_seeding_from_the_node_that_has_them(
    creator: Creator,
    moderator: User,
    site: Site,
    publish: Callable[..., Content],
    site_engine: Callable[..., Child],
    engine_factory: Callable[..., Child],
    tmp_path: Path,
) -> None:
    # given: a content on node a's disk, seeded by a
    data = os.urandom(2 * PIECE)
    content = publish(creator, {"song.flac": data}, title="Song")
    a = site_engine(name="node-a")
    wait_for(lambda: (r := row(a, content)) and r.state == "seeding", what="a seeding")

    # when: node b starts on a data folder without the content
    empty = tmp_path / "node-b-content"
    empty.mkdir()
    b = engine_factory(name="node-b", **{**site.engine_env(), "CONTENT_ROOT": str(empty)})

    # then: b's own row says the files are missing; the content still seeds, from a
    wait_for(lambda: (r := row(b, content)) and r.state == "missing", what="b missing the files")
    assert NodeSeeding.objects.get(node__name=b.name, content=content).detail == (
        "file missing: song.flac"
    )
    content.refresh_from_db()
    assert (content.state, content.state_detail) == (Content.State.SEEDING, "")
    assert str(node_seeding.content_health([content.pk])[content.pk]) == "seeding on 1 of 2 nodes"

    # and each node's figures are its own: a holds every byte, b (which wrote its row after
    # a's) none
    wait_for(
        lambda: (r := row(a, content)) and r.bytes_on_disk == len(data),
        what="a's figures written",
    )
    assert NodeSeeding.objects.get(node__name=b.name, content=content).bytes_on_disk == 0
    assert a.process.poll() is None
    assert b.process.poll() is None

    # and staff see what each node does with it
    client = Client()
    client.force_login(moderator)
    page = client.get("/staff/health/").content.decode()
    assert 'data-node-state="node-a:seeding"' in page
    assert 'data-node-state="node-b:missing"' in page
    assert "seeding on 1 of 2 nodes" in page
