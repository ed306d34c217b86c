"""A membership at the real doors of the live server: the web seed serves a members-only content
and the tracker admits its announce while a period is paid, both refuse once the membership
lapsed past its grace, and both serve again after a late payment of the renewal; every
membership webhook on the way is signed with the creator's webhook secret."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import httpx
import libtorrent as lt

from accounts.models import User
from btt_platform import fastpath
from creators.models import Creator
from memberships import renewals, services
from memberships.models import Membership
from payments.invoices import expire_invoices
from payments.models import Invoice, WebhookDelivery
from payments.money import Amount, Token
from payments.webhooks import signing
from payments.webhooks.services import create_webhook
from swarm.models import Content
from swarm.services import active_passkey
from swarm.webseed import tokens
from tests.fixtures.clock import Clock, move_to
from tests.fixtures.content import Site
from tests.fixtures.http_tracker import announce_query, new_peer_id
from tests.fixtures.memberships import settle
from tests.fixtures.webhooks import Receiver, signature_matches
from tests.payments.factories import with_wallet

# No process is started: the live server (uvicorn) and the webhook receiver run in threads of
# this test, so it stays in the quick tier, as the web seed's own live-server tests do.
State = Membership.State
DATA = bytes(range(256)) * 16


def fetch(site: Site, fan: User, content: Content) -> httpx.Response:
    """The fan's web-seed request, with a token issued now: a token lives
    WEBSEED_TOKEN_TTL_SECONDS by the platform clock, so one issued before the clock moved a
    month would be refused for its age, not for the membership."""
    url = tokens.webseed_url_for(fan, content)
    assert url.startswith(f"{site.url}/webseed/")  # the torrent's url-list names the live server
    return httpx.get(url + content.name)


def announce(site: Site, fan: User, content: Content) -> dict[bytes, Any]:
    assert content.infohash is not None
    query = announce_query(bytes.fromhex(content.infohash), new_peer_id(), event="started")
    response = httpx.get(f"{site.url}/announce/{active_passkey(fan).key}?{query}")
    assert response.status_code == 200
    reply = lt.bdecode(response.content)
    assert isinstance(reply, dict)
    return cast(dict[bytes, Any], reply)


def forget_door_decisions() -> None:
    # The tracker keeps decisions AUTH_CACHE_SECONDS (3 s) and the web seed
    # WEBSEED_AUTH_CACHE_SECONDS (1 s); the server runs in a thread of this process, so clearing
    # its caches here is exact and needs no sleep.
    fastpath.clear()


def test_members_only_content_at_the_web_seed_and_tracker_through_lapse_and_late_payment(
    site: Site,
    publish: Callable[..., Content],
    clock: Clock,
    settings: Any,
    creator: Creator,
    fan: User,
    receivers: Callable[..., Receiver],
) -> None:
    # given: a creator's webhook, a tier and a content for its members
    settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE = True
    receiver = receivers()
    webhook = create_webhook(creator.user, receiver.url)
    with_wallet(creator)
    tier = services.save_tier(
        creator, name="Supporter", monthly=Amount.parse("10", Token.BTT), rank=1
    )
    content = publish(creator, {"members.bin": DATA}, title="Members", access=Content.Access.PAID)
    services.mark_for_members(creator.user, content, tier)
    membership, first = services.join(fan, tier)
    forget_door_decisions()
    assert fetch(site, fan, content).status_code == 403
    assert announce(site, fan, content)[b"failure reason"] == b"not entitled to this torrent"

    # when: the first period is paid
    settle(first)
    forget_door_decisions()

    # then: both doors serve the member
    served = fetch(site, fan, content)
    assert served.status_code == 200
    assert served.content == DATA
    admitted = announce(site, fan, content)
    assert b"failure reason" not in admitted
    assert b"interval" in admitted

    # when: the renewal is issued, left unpaid past the period's end and the grace
    membership.refresh_from_db()
    paid_until = membership.paid_until
    assert paid_until is not None
    move_to(clock, paid_until - timedelta(days=7))
    assert renewals.renew_memberships() == 1
    renewal = services.open_invoice(membership)
    assert renewal is not None
    move_to(clock, paid_until + services.renewal_grace() + timedelta(seconds=1))
    renewals.renew_memberships()
    membership.refresh_from_db()
    assert membership.state == State.LAPSED
    forget_door_decisions()

    # then: the web seed refuses with 403 and no bytes, the tracker with its failure reason
    refused = fetch(site, fan, content)
    assert refused.status_code == 403
    assert refused.content == b""
    assert announce(site, fan, content)[b"failure reason"] == b"not entitled to this torrent"

    # when: the renewal invoice, expired by the sweep, is paid late and accepted
    assert expire_invoices() >= 1
    renewal.refresh_from_db()
    assert renewal.state == Invoice.State.EXPIRED
    settle(renewal)
    membership.refresh_from_db()
    assert membership.state == State.ACTIVE
    assert membership.paid_until is not None
    assert membership.paid_until > clock.now() + timedelta(days=27)
    forget_door_decisions()

    # then: both doors serve the member again
    again = fetch(site, fan, content)
    assert again.status_code == 200
    assert again.content == DATA
    assert b"failure reason" not in announce(site, fan, content)

    # and: each membership event was queued once, signed with the webhook's secret
    deliveries = list(
        WebhookDelivery.objects.filter(webhook=webhook, event__startswith="membership.").order_by(
            "created_at"
        )
    )
    assert [d.event for d in deliveries] == [
        "membership.started",
        "membership.renewal_due",
        "membership.lapsed",
        "membership.renewed",
    ]
    received = {request.delivery_id: request for request in receiver.received}
    for delivery in deliveries:
        request = received[str(delivery.delivery_id)]
        assert request.event == delivery.event
        assert request.body == signing.body_of(delivery)
        assert signature_matches(webhook.secret, request)
        assert not signature_matches(webhook.secret + "0", request)
