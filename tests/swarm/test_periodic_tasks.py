"""The periodic swarm tasks, run by a real worker as beat would queue them."""

from __future__ import annotations

import pytest
from django.conf import settings

from accounts.models import User
from btt_platform.celery import app
from creators.models import Creator
from swarm.models import Content, TransferTotal
from swarm.services import active_passkey
from swarm.tasks import flush_transfer_totals
from swarm.tracker import transfers
from tests.fixtures.http_tracker import announce, info_hash_of, new_peer_id
from tests.fixtures.processes import Child

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_scheduled_task_is_registered() -> None:
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {
        "swarm.purge_expired_uploads",
        "swarm.flush_transfer_totals",
        "payments.expire_invoices",
        "payments.deliver_due_webhooks",
        "support.close_campaigns",
        "swarm.requeue_stalled_hashing",
        "swarm.place_contents",
        "accounts.send_unsent_emails",
        "memberships.renew_memberships",
        "memberships.send_post_digests",
    }
    assert scheduled <= set(app.tasks)


def test_the_worker_flushes_pending_transfer_deltas(
    celery_worker: Child, creator: Creator, fan: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a fan's client reported bytes, and no later announce flushed them
    monkeypatch.setattr(transfers, "next_flush", float("inf"))
    content = Content.objects.create(
        creator=creator,
        title="Quiet",
        name="quiet.bin",
        access=Content.Access.FREE,
        state=Content.State.SEEDING,
        total_size=1,
        infohash="ab" * 20,
    )
    passkey = active_passkey(fan).key
    announce(passkey, info_hash_of(content), new_peer_id(), uploaded=7, downloaded=11)
    assert not TransferTotal.objects.exists()

    # when: the scheduled task runs on the worker
    flush_transfer_totals.apply_async(ignore_result=False).get(timeout=60)

    # then
    total = TransferTotal.objects.get(user=fan, content=content)
    assert (total.uploaded, total.downloaded) == (7, 11)
