"""The engine's own retry of failed announces (swarm.engine.announces): one probe a second,
every failed torrent at once when the tracker answers again; the WebSocket tracker's failures
are probed once per failure, since its answers raise no alert that would clear them."""

from __future__ import annotations

from swarm.engine.announces import ANNOUNCE_PROBE_SECONDS, FailedAnnounces


def test_failed_torrents_are_probed_in_turn_until_the_tracker_answers() -> None:
    failures = FailedAnnounces()
    failures.failed("a", "connection refused")
    failures.failed("b", "connection refused")

    first = failures.due(100.0)
    too_soon = failures.due(100.0 + ANNOUNCE_PROBE_SECONDS / 2)
    second = failures.due(100.0 + ANNOUNCE_PROBE_SECONDS)
    third = failures.due(100.0 + 2 * ANNOUNCE_PROBE_SECONDS)

    assert (first, too_soon, second, third) == ("a", None, "b", "a")
    assert failures.succeeded("a") == ["b"]
    assert failures.succeeded("b") == []
    assert failures.due(200.0) is None


def test_a_websocket_failure_is_probed_once_and_again_only_after_another_failure() -> None:
    failures = FailedAnnounces(tracker=1, name="WebSocket announce", once=True)
    failures.failed("a", "closed")

    probed = failures.due(100.0)
    after = failures.due(100.0 + 5 * ANNOUNCE_PROBE_SECONDS)
    failures.failed("a", "closed")  # the probe failed too

    assert (probed, after) == ("a", None)
    assert failures.due(100.0 + 6 * ANNOUNCE_PROBE_SECONDS) == "a"
    assert failures.tracker == 1
