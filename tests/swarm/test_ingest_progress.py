"""Hashing progress is throttled by time, so a file of many pieces costs a few writes, not one
per piece: the clock here is simulated (a millisecond per reading), the hashing is real."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from creators.models import Creator
from swarm import events, hashing, publishing
from swarm.models import Content
from tests.fixtures.content import uploaded

pytestmark = pytest.mark.django_db(transaction=True)

PIECE = 16 * 1024  # the smallest piece libtorrent takes: many pieces from a small file
PIECES = 1024


class SimulatedClock:
    """Every reading is a millisecond after the one before."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def test_progress_is_written_at_most_four_times_a_simulated_second(
    settings, tmp_path: Path, creator: Creator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a published content of 1024 pieces whose queued task went nowhere
    settings.CONTENT_ROOT = tmp_path / "content"
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    monkeypatch.setattr(
        hashing,
        "ingest_content",
        type("Nowhere", (), {"delay": staticmethod(lambda content_id: None)}),
    )
    content = uploaded(creator, {"many.bin": os.urandom(PIECE * PIECES)}, access="free")
    publishing.publish_content(creator.user, content.pk)
    Content.objects.filter(pk=content.pk).update(piece_length=PIECE)

    # and: the reporter's clock simulated, and the group sends counted
    clock = SimulatedClock()
    reporters: list[hashing.ProgressReporter] = []
    real_reporter = hashing.ProgressReporter

    def reporter(content_id: int, runner: str) -> hashing.ProgressReporter:
        made = real_reporter(content_id, runner, clock=clock)
        reporters.append(made)
        return made

    sent: list[tuple[str, float]] = []
    send: Callable[..., None] = events.send_ingest

    def counted(content_id: int, state: str, progress: float, detail: str = "") -> None:
        sent.append((state, progress))
        send(content_id, state, progress, detail)

    monkeypatch.setattr(hashing, "ProgressReporter", reporter)
    monkeypatch.setattr(events, "send_ingest", counted)

    # when
    hashing.hash_content(content.pk)

    # then: hashing took about a simulated second (a reading per piece); progress went out
    # every quarter of a second, one UPDATE and one send each
    content.refresh_from_db()
    assert content.state == Content.State.SEEDING, content.state_detail
    assert 1.0 < clock.now < 1.1
    (used,) = reporters
    progress = [p for state, p in sent if state == Content.State.HASHING]
    assert used.writes == len(progress)
    assert 3 <= len(progress) <= 5
    assert 0 < progress[0] < 0.3
    assert progress == sorted(progress)
    assert sent[-1] == (Content.State.SEEDING, 1.0)
