"""``kill -9`` of the embedded Redis (broker, cache and events) while a large upload is being
hashed, with a password reset and an invoice asked for while it is dead: /healthz names it;
it is started again (by ``runall``, or by the first process supervisor restarts); the content
seeds, the reset email is sent once and the creator's webhook is delivered once, by the sweeps,
the tasks queued during the outage having been lost.

The worker does not outlive Redis while it runs a task: Celery's consumer cannot hand back its
unacknowledged task without a connection (kombu's Redis transport raises in
``restore_unacked``) and the worker exits, its hashing with it. Supervisor starts it again, and
the hashing sweep queues the content again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from accounts.models import OutgoingEmail
from payments.models import WebhookDelivery
from swarm.models import Content
from tests.faults.work import (
    MiB,
    api,
    ask_password_reset,
    content,
    mails_to,
    new_creator,
    new_invoice,
    priced_content,
    publish,
    random_file,
    register_webhook,
    step_until_hashing,
    torrent_of,
    upload,
)
from tests.fixtures.layout import RECOVERY_SECONDS, Deadline, Layout
from tests.fixtures.personas import make_user
from tests.fixtures.processes import wait_for
from tests.fixtures.webhooks import Receiver

pytestmark = [pytest.mark.processes, pytest.mark.long]

# As in test_web_killed: the specified size, about a second of hashing here.
SIZE = 200 * MiB


def test_a_redis_killed_mid_hash_comes_back_and_nothing_is_lost_or_done_twice(
    layout: Layout, tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    # given: a 200 MiB upload, a fan, and a creator's webhook for invoice events
    creator = new_creator("redis-maker")
    client = api(layout, creator.user)
    source = random_file(tmp_path / "album.flac", SIZE)
    content_id = upload(client, source, "Album")
    receiver = receivers()
    register_webhook(client, receiver.url)
    release = priced_content(client, creator, "Single")
    fan = make_user("redis-fan")
    fan_client = api(layout, fan)

    # and: the worker part way through hashing the upload
    with layout.paused("worker") as worker:
        publish(client, content_id)
        step_until_hashing(worker, content_id)

        # Nothing starts Redis meanwhile: not runall, nor a process supervisor restarts (its
        # settings would).
        with layout.restarts_held(), layout.redis_restart_held():
            # when: Redis is killed -9 mid-hash, and meanwhile a fan asks for a reset link and
            # another buys the creator's single
            os.kill(layout.redis_pid, signal.SIGKILL)
            deadline = Deadline.now()
            worker.resume()
            # Side by side. With Redis away, queuing a task fails at once and the request
            # answers (the sweeps do the work later); a busy machine may still take long to
            # answer, so only the recovery deadline bounds them.
            fan_client.timeout = httpx.Timeout(RECOVERY_SECONDS)
            with ThreadPoolExecutor(1) as browser:
                reset = browser.submit(ask_password_reset, layout, fan.email, RECOVERY_SECONDS)
                invoice = new_invoice(fan_client, release)
                reset.result()

            # then: /healthz names it
            wait_for(
                lambda: "redis" in layout.stale(),
                timeout=deadline.left(),
                what="/healthz to name Redis",
            )

    # when: runall has started it again, then: the hashing, the email and the webhook are done
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
    wait_for(
        lambda: WebhookDelivery.objects.filter(
            webhook__creator=creator, state=WebhookDelivery.State.DELIVERED
        ).exists(),
        timeout=deadline.left(),
        what="the webhook",
    )
    done_after = deadline.elapsed()
    layout.wait_healthy(timeout=deadline.left())

    # then: hashed into the torrent of the very bytes uploaded, by the run Redis's death cut
    # short (its worker exited) and the one the sweep queued, or by the one run if its worker
    # survived
    seeding = content(content_id)
    assert seeding.state == Content.State.SEEDING, seeding.state_detail
    assert seeding.hash_attempts in (1, 2)
    assert seeding.hash_runner == ""
    assert torrent_of(source, bytes(seeding.metainfo or b""))
    # and the reset email sent once
    (email,) = OutgoingEmail.objects.filter(to=[fan.email])
    assert email.attempts == 1
    (sent,) = mails_to(layout, fan.email)
    assert "/accounts/reset/" in sent
    # and the invoice's webhook delivered once
    (delivery,) = WebhookDelivery.objects.filter(webhook__creator=creator)
    assert (delivery.event, delivery.attempts) == ("invoice.created", 1)
    (received,) = receiver.received
    assert received.delivery_id == str(delivery.delivery_id)
    assert received.json()["invoice"]["id"] == str(invoice.pk)
    print(f"redis killed mid-hash: everything done {done_after:.1f} s after the kill")
