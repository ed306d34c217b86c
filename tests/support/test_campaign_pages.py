"""Campaign pages over HTTP and the progress socket on the live server: a creator starts a
campaign with tiers in the studio, fans pledge on its page, a sold-out reward is refused with
the reason, and the progress bar's socket hears a paid pledge."""

from __future__ import annotations

import html
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from websockets.sync.client import connect
from websockets.typing import Origin

from accounts.models import User
from creators.models import Creator
from payments.crediting import record_transfer
from support import campaigns
from support.models import Campaign, CampaignUpdate, Pledge
from tests.fixtures.servers import AsgiServer
from tests.fixtures.sessions import logged_in
from tests.payments.factories import paying, proven
from tests.support.tipping import tipping_creator


def start(creator: Creator, mode: str, tiers: str = "") -> Campaign:
    tipping_creator(creator)
    deadline = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = logged_in(creator.user).post(
        reverse("studio-campaigns"),
        {
            "title": "<script>alert(1)</script> Album",
            "story": "<img src=x onerror=alert(1)>\nTen songs.",
            "goal": "1000",
            "deadline": deadline,
            "mode": mode,
            "tiers": tiers,
        },
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302, html.unescape(response.content.decode())
    assert response["Location"] == reverse("campaign", args=[campaign.pk])
    return campaign


@pytest.mark.django_db
def test_a_flexible_pledge_on_the_page_leads_to_its_invoice_and_a_sold_out_reward_is_refused(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given
    campaign = start(creator, "flexible", "Signed CD | 100 | 1\nThanks | 10 |")
    cd, thanks = campaign.tiers.order_by("-minimum_units")
    assert (cd.title, cd.limit, thanks.limit) == ("Signed CD", 1, None)
    page = reverse("campaign", args=[campaign.pk])

    # when: the fan takes the last CD
    taken = logged_in(fan).post(page, {"amount": "150", "tier": cd.pk})

    # then: to the pledge's page, with its invoice to pay
    pledge = Pledge.objects.get()
    assert taken["Location"] == reverse("pledge", args=[pledge.pk])
    body = logged_in(fan).get(taken["Location"]).content.decode()
    assert pledge.invoice is not None
    assert f">{pledge.invoice.due.decimal_string()}</code>" in body  # the payment block
    assert f'href="/invoices/{pledge.invoice.pk}/"' in body  # TronLink and the QR code there
    assert logged_in(stranger).get(taken["Location"]).status_code == 404

    # when: someone else wants the CD too
    refused = logged_in(stranger).post(page, {"amount": "150", "tier": cd.pk})

    # then
    assert refused.status_code == 409
    assert "“Signed CD” is sold out." in html.unescape(refused.content.decode())
    assert Pledge.objects.count() == 1
    shown = Client().get(page).content.decode()
    assert "0 of 1 left" in shown
    assert "<script>alert(1)</script>" not in shown
    assert "<img src=x" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Album" in shown


@pytest.mark.django_db
def test_an_all_or_nothing_pledge_is_a_commitment_with_nothing_to_pay(
    fan: User, creator: Creator
) -> None:
    campaign = start(creator, "all_or_nothing")
    response = logged_in(fan).post(reverse("campaign", args=[campaign.pk]), {"amount": "200"})
    pledge = Pledge.objects.get()
    body = logged_in(fan).get(response["Location"]).content.decode()
    assert (pledge.state, pledge.invoice) == ("committed", None)
    assert "Nothing to pay now." in body
    assert "data-invoice" not in body


@pytest.mark.django_db
def test_the_studio_refuses_a_past_deadline_and_posts_updates_to_own_campaigns_only(
    creator: Creator,
) -> None:
    tipping_creator(creator)
    client = logged_in(creator.user)
    past = client.post(
        reverse("studio-campaigns"),
        {
            "title": "x",
            "story": "y",
            "goal": "10",
            "mode": "flexible",
            "deadline": "2020-01-01T00:00",
        },
    )
    assert past.status_code == 400
    assert "The deadline is between 5 minutes and 90 days from now." in html.unescape(
        past.content.decode()
    )
    assert not Campaign.objects.exists()

    campaign = start(creator, "flexible")
    url = reverse("studio-campaign-update", args=[campaign.pk])
    assert client.post(url, {"title": "Mixing", "body": "Done!"}).status_code == 302
    other = User.objects.create_user("other")
    Creator.objects.create(user=other, handle="other", display_name="O", payout_address="T" * 34)
    assert logged_in(other).post(url, {"title": "Hi", "body": "x"}).status_code == 404
    assert list(CampaignUpdate.objects.values_list("title", flat=True)) == ["Mixing"]


@pytest.mark.django_db(transaction=True)
def test_the_progress_socket_hears_a_paid_pledge(
    asgi_server: AsgiServer, fan: User, creator: Creator
) -> None:
    campaign = start(creator, "flexible")
    logged_in(fan).post(reverse("campaign", args=[campaign.pk]), {"amount": "250"})
    pledge = Pledge.objects.get()
    assert pledge.invoice is not None
    url = f"ws://{asgi_server.host}:{asgi_server.port}/ws/campaign/{campaign.pk}/"
    with connect(url, origin=Origin(asgi_server.url)) as socket:
        snapshot = json.loads(socket.recv(timeout=20))
        assert (snapshot["raised"], snapshot["backers"], snapshot["goal"]) == ("0", 0, "1000")

        record_transfer(proven(*paying(pledge.invoice, seq=7)), solidified=False)

        progress = json.loads(socket.recv(timeout=20))
        assert (progress["type"], progress["raised"], progress["paid"], progress["backers"]) == (
            "progress",
            "250",
            "250",
            1,
        )


@pytest.mark.django_db
def test_a_backer_sees_their_own_pledges_and_each_ones_history(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: the fan's commitment and the stranger's, to an all-or-nothing campaign
    campaign = start(creator, "all_or_nothing")
    logged_in(fan).post(reverse("campaign", args=[campaign.pk]), {"amount": "200"})
    logged_in(stranger).post(reverse("campaign", args=[campaign.pk]), {"amount": "300"})
    mine = Pledge.objects.get(backer=fan)

    # when: the goal is met at the deadline
    Pledge.objects.filter(backer=stranger).update(units=800 * 10**18)
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert campaigns.close_due_campaigns() == 1

    # then: the fan's list holds their pledge only, due, with the way to pay it
    listing = logged_in(fan).get(reverse("pledges"))
    body = listing.content.decode()
    assert listing["Cache-Control"] == "private, no-store"
    assert body.count("data-pledge=") == 1
    assert f'data-pledge="{mine.pk}"' in body
    assert f'href="{reverse("pledge", args=[mine.pk])}">Pay</a>' in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Album" in body
    # and its page tells what happened, and why
    page = logged_in(fan).get(reverse("pledge", args=[mine.pk])).content.decode()
    assert "committed, to be invoiced if the goal is met" in page
    assert "the goal was met by the deadline" in page
    # and no one else's pledge page opens for them, nor the list without logging in
    theirs = Pledge.objects.get(backer=stranger)
    assert logged_in(fan).get(reverse("pledge", args=[theirs.pk])).status_code == 404
    assert Client().get(reverse("pledges")).status_code == 302


@pytest.mark.django_db
def test_the_admin_shows_a_pledges_log_and_an_invoices_payments_read_only(
    fan: User, creator: Creator, superuser: User
) -> None:
    campaign = start(creator, "flexible")
    logged_in(fan).post(reverse("campaign", args=[campaign.pk]), {"amount": "200"})
    pledge = Pledge.objects.get()
    assert pledge.invoice is not None
    record_transfer(proven(*paying(pledge.invoice, seq=3)), solidified=False)

    admin = logged_in(superuser)
    pledge_page = admin.get(reverse("admin:support_pledge_change", args=[pledge.pk]))
    invoice_page = admin.get(reverse("admin:payments_invoice_change", args=[pledge.invoice.pk]))

    assert pledge_page.status_code == invoice_page.status_code == 200
    body = pledge_page.content.decode()
    assert "pledged" in body
    assert "its payment is in a block" in body
    assert 'name="events-0-reason"' not in body  # shown, not editable
    assert 'name="events-MAX_NUM_FORMS" value="0"' in body  # nothing to add
    assert proven(*paying(pledge.invoice, seq=3)).txid in invoice_page.content.decode()
