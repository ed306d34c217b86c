"""Hashing is an intent in the database: it survives a worker killed mid-hash and a lost queue.

Real worker processes on the real broker; the sweep is the function beat runs every 30 s.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from btt_platform import embedded
from btt_platform.celery import app as celery_app
from creators.models import Creator
from swarm import hashing, publishing, torrents
from swarm.models import Content
from tests.fixtures.content import uploaded
from tests.fixtures.processes import Child, start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# The sweep's threshold in this test process and in the workers: seconds, not a minute.
STALE = "2"


@pytest.fixture
def files(settings, tmp_path: Path) -> None:
    settings.CONTENT_ROOT = tmp_path / "content"
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    settings.SWARM_HASH_STALE_SECONDS = int(STALE)
    settings.SWARM_HASH_HEARTBEAT_SECONDS = 1


@pytest.fixture
def tasks_run_here() -> Iterator[Callable[[bool], None]]:
    """``run_here(True)``: queued tasks run in this process, as a worker would run them."""
    eager = celery_app.conf.task_always_eager

    def run_here(on: bool) -> None:
        celery_app.conf.task_always_eager = on

    try:
        yield run_here
    finally:
        celery_app.conf.task_always_eager = eager


class LostQueue:
    """Stands in for the ingest task: what is sent to it is lost, as a Redis restarted without
    persistence or a purge lost it (and nothing reaches a broker other test runs may share)."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def delay(self, content_id: int) -> None:
        self.sent.append(content_id)


@pytest.fixture
def lost_queue(monkeypatch: pytest.MonkeyPatch) -> LostQueue:
    """While in use, the ingest tasks queued are lost; ``monkeypatch.undo()`` ends it."""
    lost = LostQueue()
    monkeypatch.setattr(hashing, "ingest_content", lost)
    return lost


def worker_env() -> dict[str, str]:
    return {
        "CONTENT_ROOT": str(settings.CONTENT_ROOT),
        "UPLOAD_ROOT": str(settings.UPLOAD_ROOT),
        "SWARM_HASH_STALE_SECONDS": STALE,
        "SWARM_HASH_HEARTBEAT_SECONDS": "1",
    }


def clean_infohash(content: Content) -> str:
    """The torrent a clean run builds from the same files, in this process."""
    return torrents.parse(torrents.build_torrent(content)).infohash


def state(content: Content) -> Content:
    return Content.objects.get(pk=content.pk)


@pytest.mark.processes
def test_a_worker_killed_mid_hash_is_recovered_by_the_sweep(
    files: None, creator: Creator, tmp_path: Path
) -> None:
    # given: a 64 MiB upload published, and a worker that gets half way through its hashing
    data = os.urandom(64 * 1024 * 1024)
    content = uploaded(creator, {"film.mkv": data}, access="free")
    stalling = start_worker(
        tmp_path,
        command=[sys.executable, "-m", "tests.swarm.stalling_worker"],
        label="stalling",
        extra={**worker_env(), "STALL_AT": "0.5"},
    )
    workers: list[Child] = [stalling]
    try:
        publishing.publish_content(creator.user, content.pk)
        wait_for(lambda: state(content).hash_progress >= 0.5, timeout=120, what="half the hash")
        assert state(content).hash_runner

        # when: the worker is killed -9 mid-hash, and a new worker starts
        stalling.stop(signal.SIGKILL)
        assert state(content).state == Content.State.HASHING
        workers.append(start_worker(tmp_path, label="fresh", extra=worker_env()))

        # then: the sweep queues it again once the heartbeat went quiet (the dead run's task
        # is unacknowledged in Redis until the visibility timeout), and it seeds
        wait_for(lambda: hashing.requeue_stalled_hashing() == 1, timeout=60, what="the sweep")
        wait_for(lambda: state(content).state != Content.State.HASHING, timeout=120)
    finally:
        for worker in workers:
            worker.stop()
    content.refresh_from_db()
    assert content.state == Content.State.SEEDING, content.state_detail
    assert content.hash_attempts == 2
    assert content.hash_runner == ""
    # one torrent, the same a clean run builds from these bytes
    assert content.infohash == clean_infohash(content)
    assert torrents.parse(bytes(content.metainfo or b"")).infohash == content.infohash


def test_a_publish_whose_queued_task_was_lost_is_hashed_after_the_sweep(
    files: None,
    creator: Creator,
    tmp_path: Path,
    lost_queue: LostQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: published, and its queued task lost
    content = uploaded(creator, {"song.flac": os.urandom(300_000)}, access="free")
    publishing.publish_content(creator.user, content.pk)
    assert lost_queue.sent == [content.pk]
    monkeypatch.undo()
    worker = start_worker(tmp_path, extra=worker_env())
    try:
        # when: the sweep runs (beat, every 30 s) once the publish is older than the threshold
        wait_for(lambda: hashing.requeue_stalled_hashing() == 1, timeout=60, what="the sweep")

        # then
        wait_for(lambda: state(content).state != Content.State.HASHING, timeout=120)
    finally:
        worker.stop()
    content.refresh_from_db()
    assert content.state == Content.State.SEEDING, content.state_detail
    assert content.infohash == clean_infohash(content)


def test_after_too_many_interrupted_runs_the_content_fails_and_publishing_again_retries(
    files: None,
    creator: Creator,
    tasks_run_here: Callable[[bool], None],
    lost_queue: LostQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a content whose hashing runs all died (the last one long quiet)
    content = uploaded(creator, {"clip.mp4": os.urandom(100_000)}, access="free")
    publishing.publish_content(creator.user, content.pk)
    Content.objects.filter(pk=content.pk).update(
        hash_attempts=settings.SWARM_HASH_MAX_ATTEMPTS, hash_runner="dead", hash_heartbeat_at=None
    )

    # when: the sweep runs
    assert hashing.requeue_stalled_hashing() == 1
    assert lost_queue.sent == [content.pk]  # the publish's only: the sweep queued nothing
    monkeypatch.undo()

    # then: failed, with a reason the creator sees on the content's API
    client = Client()
    client.force_login(creator.user)
    detail = client.get(f"/api/v1/contents/{content.pk}").json()
    assert detail["state"] == "failed"
    assert detail["state_detail"] == hashing.interrupted_reason(settings.SWARM_HASH_MAX_ATTEMPTS)

    # and publishing again hashes it anew (the task run here, as a worker would)
    tasks_run_here(True)
    response = client.post(f"/api/v1/contents/{content.pk}/publish")
    assert response.status_code == 202, response.content
    content.refresh_from_db()
    assert content.state == Content.State.SEEDING, content.state_detail
    assert content.hash_attempts == 1
    assert content.infohash == clean_infohash(content)


def test_publishing_again_while_hashing_is_accepted_and_requeues_a_quiet_hash(
    files: None,
    creator: Creator,
    tasks_run_here: Callable[[bool], None],
    lost_queue: LostQueue,
    monkeypatch: pytest.MonkeyPatch,
    settings,
) -> None:
    # given: published, and its queued task lost; its sign of life stays fresh however slowly
    # this test runs (it goes quiet below by being made so)
    settings.SWARM_HASH_STALE_SECONDS = 3600
    content = uploaded(creator, {"book.pdf": os.urandom(100_000)}, access="free")
    publishing.publish_content(creator.user, content.pk)
    client = Client()
    client.force_login(creator.user)

    # when: published again while the hashing shows signs of life: accepted, nothing queued
    response = client.post(f"/api/v1/contents/{content.pk}/publish")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "hashing"
    assert state(content).hash_attempts == 0
    assert lost_queue.sent == [content.pk]

    # when: published again once it went quiet: accepted, and hashed (run here, as a worker would)
    Content.objects.filter(pk=content.pk).update(hash_heartbeat_at=None, hash_runner="dead")
    monkeypatch.undo()
    tasks_run_here(True)
    response = client.post(f"/api/v1/contents/{content.pk}/publish")

    # then
    assert response.status_code == 202, response.content
    content.refresh_from_db()
    assert content.state == Content.State.SEEDING, content.state_detail
    assert content.infohash == clean_infohash(content)


@pytest.fixture
def own_redis() -> Iterator[Path]:
    """An embedded Redis of its own (a short folder: the socket path is limited), so that
    restarting it disturbs no connection of this test run."""
    folder = Path(tempfile.mkdtemp(prefix="btt-q-", dir="/tmp"))
    embedded.ensure_running(folder)
    try:
        yield folder
    finally:
        embedded.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.processes
def test_a_publish_queued_before_redis_stops_and_starts_is_hashed_from_the_queue(
    files: None,
    creator: Creator,
    tmp_path: Path,
    own_redis: Path,
    lost_queue: LostQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a publish whose ingest task waits in the embedded Redis, no worker running
    content = uploaded(creator, {"show.mkv": os.urandom(300_000)}, access="free")
    publishing.publish_content(creator.user, content.pk)
    monkeypatch.undo()
    broker = "redis+socket://" + str(embedded.socket_path(own_redis))
    with celery_app.connection_for_write(broker) as connection:
        hashing.ingest_content.apply_async((content.pk,), connection=connection)  # type: ignore[call-arg]

    # when: Redis is stopped and started again (as `make run` does on Ctrl-C and the next run)
    embedded.stop(own_redis)
    embedded.ensure_running(own_redis)
    worker = start_worker(
        tmp_path,
        extra={
            **worker_env(),
            "REDIS_URL": embedded.url(own_redis),
            # no sweep here, and none would find this content quiet
            "SWARM_HASH_STALE_SECONDS": "3600",
        },
        broker=broker,
    )
    try:
        # then: the worker finds the task and hashes it
        wait_for(lambda: state(content).state != Content.State.HASHING, timeout=120)
    finally:
        worker.stop()
    content.refresh_from_db()
    assert content.state == Content.State.SEEDING, content.state_detail
    assert content.hash_attempts == 1
    assert content.infohash == clean_infohash(content)


def test_the_creator_sees_why_hashing_failed_and_publishes_again_from_the_studio(
    files: None,
    creator: Creator,
    tasks_run_here: Callable[[bool], None],
) -> None:
    # given: a content whose hashing failed after too many interrupted runs
    tasks_run_here(True)
    content = uploaded(creator, {"track.ogg": os.urandom(100_000)}, access="free")
    publishing.publish_content(creator.user, content.pk)
    reason = hashing.interrupted_reason(settings.SWARM_HASH_MAX_ATTEMPTS)
    Content.objects.filter(pk=content.pk).update(
        state=Content.State.FAILED, state_detail=reason, metainfo=None, infohash=None
    )
    client = Client()
    client.force_login(creator.user)

    # when: the creator opens the content's page
    page = client.get(reverse("studio-upload", args=[content.pk])).content.decode()

    # then: the reason, and a way to try again
    assert reason in page
    assert "data-publish-again" in page

    # when: pressed (the task run here, as a worker would)
    response = client.post(reverse("studio-publish", args=[content.pk]))

    # then
    assert response.status_code == 302
    content.refresh_from_db()
    assert content.state == Content.State.SEEDING, content.state_detail
    assert content.infohash == clean_infohash(content)
