"""``kill -9`` of celery beat while a webhook waits for its retry (the first attempt answered
500): /healthz names it; supervisor starts it again; its sweep sends the retry, and the
endpoint gets the delivery once more and answers it: delivered once, under the same id."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payments.models import WebhookDelivery
from tests.faults.work import api, new_creator, new_invoice, priced_content, register_webhook
from tests.fixtures.layout import Layout
from tests.fixtures.personas import make_user
from tests.fixtures.processes import wait_for
from tests.fixtures.webhooks import Receiver

pytestmark = [pytest.mark.processes, pytest.mark.long]


def test_a_beat_killed_while_a_webhook_waits_for_its_retry_sends_it_once_after_its_restart(
    layout: Layout, receivers: Callable[..., Receiver]
) -> None:
    # given: a creator's endpoint that answers its first call 500
    creator = new_creator("beat-maker")
    client = api(layout, creator.user)
    receiver = receivers(500)
    register_webhook(client, receiver.url)
    release = priced_content(client, creator, "Album")

    # when: a fan's invoice is made, and its invoice.created delivery fails once
    new_invoice(api(layout, make_user("beat-fan")), release)

    def failed_once() -> bool:
        delivery = WebhookDelivery.objects.filter(webhook__creator=creator).first()
        return delivery is not None and delivery.last_status_code == 500

    wait_for(failed_once, timeout=60, what="the first attempt to fail")
    (delivery,) = WebhookDelivery.objects.filter(webhook__creator=creator)
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.PENDING, 1)

    with layout.restarts_held() as held:
        # and: beat, whose sweep sends the retry, is killed -9
        deadline = held.kill("beat")

        # then: /healthz names it
        wait_for(
            lambda: "beat" in layout.stale(),
            timeout=deadline.left(),
            what="/healthz to name beat",
        )

    # when: supervisor has started it again, then: the retry is delivered
    wait_for(
        lambda: WebhookDelivery.objects.get(pk=delivery.pk).state != WebhookDelivery.State.PENDING,
        timeout=deadline.left(),
        what="the retry",
    )
    done_after = deadline.elapsed()
    layout.wait_healthy(timeout=deadline.left())

    # then: delivered by the second attempt, once, under the delivery's one id
    delivered = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (delivered.state, delivered.attempts, delivered.last_status_code) == (
        WebhookDelivery.State.DELIVERED,
        2,
        200,
    )
    assert [(r.event, r.delivery_id) for r in receiver.received] == [
        ("invoice.created", str(delivery.delivery_id))
    ] * 2
    print(f"beat killed before a retry: delivered {done_after:.1f} s after the kill")
