"""``kill -9`` of the worker (with its pool) in the middle of hashing a large upload, and a
password reset asked for while it is dead: /healthz names it; supervisor starts it again; the
sweep queues the hashing again and the content seeds, hashed from its files; the reset email
is sent once."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.models import OutgoingEmail
from swarm.models import Content, ContentFile
from tests.faults.work import (
    MiB,
    api,
    ask_password_reset,
    content,
    mails_to,
    new_creator,
    publish,
    random_file,
    sha256_of,
    step_until_hashing,
    torrent_of,
    upload,
)
from tests.fixtures.layout import Layout
from tests.fixtures.personas import make_user
from tests.fixtures.processes import wait_for

pytestmark = [pytest.mark.processes, pytest.mark.long]

# As in test_web_killed: the specified size, about a second of hashing here.
SIZE = 200 * MiB


def test_a_worker_killed_mid_hash_hashes_again_and_a_reset_email_asked_meanwhile_is_sent_once(
    layout: Layout, tmp_path: Path
) -> None:
    # given: a 200 MiB upload, and a fan who forgot their password
    creator = new_creator("worker-maker")
    client = api(layout, creator.user)
    source = random_file(tmp_path / "film.mkv", SIZE)
    content_id = upload(client, source, "Film")
    fan = make_user("worker-fan")

    # and: the worker part way through hashing it (run a few milliseconds at a time, so that
    # the kill lands mid-hash rather than racing a hash that takes about a second)
    with layout.paused("worker") as worker:
        publish(client, content_id)
        step_until_hashing(worker, content_id)

        with layout.restarts_held() as held:
            # when: it is killed -9, and the fan asks for a reset link meanwhile
            deadline = held.kill("worker")
            ask_password_reset(layout, fan.email)

            # then: /healthz names it
            wait_for(
                lambda: "worker" in layout.stale(),
                timeout=deadline.left(),
                what="/healthz to name the worker",
            )

    # when: supervisor has started it again, then: the hashing is done, the email sent
    wait_for(
        lambda: content(content_id).state != Content.State.HASHING,
        timeout=deadline.left(),
        what="the hashing to be done",
    )
    wait_for(
        lambda: OutgoingEmail.objects.filter(to=[fan.email], sent_at__isnull=False).exists(),
        timeout=deadline.left(),
        what="the reset email",
    )
    done_after = deadline.elapsed()
    layout.wait_healthy(timeout=deadline.left())

    # then: hashed by one more run, into the torrent of the very bytes uploaded
    seeding = content(content_id)
    assert seeding.state == Content.State.SEEDING, seeding.state_detail
    assert (seeding.hash_attempts, seeding.hash_runner) == (2, "")
    (stored,) = ContentFile.objects.filter(content=seeding)
    assert sha256_of(layout.content_root / str(content_id) / stored.path) == sha256_of(source)
    assert torrent_of(source, bytes(seeding.metainfo or b""))
    # and one email, sent once, with the reset link
    (email,) = OutgoingEmail.objects.filter(to=[fan.email])
    assert email.attempts == 1
    (sent,) = mails_to(layout, fan.email)
    assert "/accounts/reset/" in sent
    print(f"worker killed mid-hash: seeding and the email sent {done_after:.1f} s after the kill")
