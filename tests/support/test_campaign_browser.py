"""Campaign pages in Chromium: the backers count agrees with its noun as pledges are paid, and
the studio's deadline picker says and sends the creator's own time zone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from creators.models import Creator
from payments.crediting import record_transfer
from payments.money import Amount, Token
from support import campaigns
from support.models import Campaign
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop
from tests.fixtures.servers import AsgiServer
from tests.payments.factories import paying, proven
from tests.support.tipping import tipping_creator

# Each page the journey leaves open is put through axe at the end (tests/fixtures/browser.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.audit_pages]


def test_the_backers_count_agrees_with_its_noun_as_pledges_are_paid(
    browser: Chromium, asgi_server: AsgiServer, fan: User, stranger: User, creator: Creator
) -> None:
    # given: a flexible campaign with two unpaid pledges, its page open
    tipping_creator(creator)
    campaign = campaigns.create_campaign(
        creator.user,
        title="Album",
        story="Ten songs.",
        goal=Amount.parse("1000", Token.BTT),
        deadline=timezone.now() + timedelta(days=3),
        mode=Campaign.Mode.FLEXIBLE,
        tiers=[],
    )
    pledges = [
        campaigns.pledge(backer, campaign, Amount.parse("100", Token.BTT), None)
        for backer in (fan, stranger)
    ]
    page = browser.open(asgi_server.url)
    page.goto(f"/campaigns/{campaign.pk}/")
    counted = page.locator(".campaign-progress .goal-label")
    expect(counted).to_contain_text("0 backers")

    for seq, (made, words) in enumerate(zip(pledges, ("1 backer", "2 backers"), strict=True)):
        # when: a pledge is paid
        with outside_browser_loop():
            invoice = made.invoice
            assert invoice is not None
            transfer = paying(invoice, recipient=invoice.recipient, seq=seq + 1)
            record_transfer(proven(*transfer), solidified=False)

        # then: the count and its noun agree
        expect(counted).to_contain_text(words)
    expect(counted).not_to_contain_text("1 backers")
    assert_page_clean(page)


def test_the_deadline_picker_says_and_sends_the_creators_time_zone(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    # given: a creator whose device is in Tokyo
    tipping_creator(creator)
    page = browser.open(asgi_server.url, creator.user, timezone_id="Asia/Tokyo")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    day = (timezone.now() + timedelta(days=30)).date()

    # when: they start a campaign ending at 18:00 on their clock
    page.goto("/studio/campaigns/")
    expect(page.locator("#id_deadline_helptext")).to_have_text(
        "Time zone: Asia/Tokyo (your device's)."
    )
    page.fill("#id_title", "Album")
    page.fill("#id_story", "Ten songs.")
    page.fill("#id_goal", "1000")
    page.fill("#id_deadline", f"{day.isoformat()}T18:00")
    page.check("input[name=mode][value=flexible]")
    page.get_by_role("button", name="Start campaign").click()

    # then: it ends at 18:00 in Tokyo, 09:00 UTC
    expect(page.locator("[data-campaign-state]")).to_contain_text(
        f"ends {day.isoformat()} 09:00 UTC"
    )
    assert errors == []
    page.context.close()
