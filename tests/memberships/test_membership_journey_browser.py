"""A membership's whole life in Chromium, against the real devnet and chain watcher: the creator
makes two tiers and marks a content for the lower one; a fan joins, pays from a phone wallet
(the amount and address copied from the invoice, sent exactly) and downloads the content in the
browser. The platform clock then moves a month for every process (the live server runs in this
one; the watcher reads the shared offset file): the renewal is issued and shown, left unpaid,
grace is shown with access kept, then the membership lapses: the page, the web seed (403) and a
desktop client's announce all refuse. The fan pays late and access is back.

The renewal sweep (``memberships.renew_memberships``, run every minute by beat) is called here
at each step, as beat would after the clock moved, so the test waits on nothing.

The creator also writes a post for Supporters: the fan reads it while a member, finds it locked
once lapsed, and reads it again after paying late.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import libtorrent as lt
import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from btt_platform import fastpath
from creators.models import Creator
from memberships import renewals, services
from memberships.models import Membership
from payments.money import Amount, Token
from swarm import torrents
from swarm.models import Content
from swarm.webseed import tokens
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.clock import Clock, move_to
from tests.fixtures.content import Site
from tests.fixtures.devnet import Devnet, Wallet, funded_wallet
from tests.fixtures.downloads import download_panel, start_and_collect
from tests.fixtures.processes import free_port, wait_for
from tests.fixtures.sales import on_sale
from tests.payments.watching import send_btt, start_watcher_process, wait_following
from tests.swarm.clients import client_settings, without_web_seeds

pytestmark = pytest.mark.django_db(transaction=True)

BTT = 10**18
SOLIDIFY = 3
# Blocks only when the test mines them, so a block can be made at the moved clock's time.
ON_DEMAND = {"TRON_DEVNET_BLOCK_SECONDS": "3600", "TRON_DEVNET_SOLIDIFY_BLOCKS": str(SOLIDIFY)}
State = Membership.State
# 10 BTT with the invoice's unique tag.
TAGGED_10 = re.compile(r"^10\.0000\d\d$")


def pay_from_phone(page: Page, devnet: Devnet, wallet: Wallet, at: datetime | None) -> None:
    """On an open invoice page: copy the amount and the address, send exactly those from the
    wallet, and watch the invoice settle on the page. ``at``: the block's time (the moved
    clock), so the chain agrees with the platform on when the payment was made."""
    expect(page.locator("[data-invoice]")).to_have_attribute("data-live", "live")
    page.get_by_role("button", name="Copy amount").click()
    amount_text = page.evaluate("navigator.clipboard.readText()")
    page.get_by_role("button", name="Copy address").click()
    address_text = page.evaluate("navigator.clipboard.readText()")
    with outside_browser_loop():
        send_btt(devnet, wallet, address_text, Amount.parse(amount_text, Token.BTT).units)
        devnet.mine(1, at=at)
        devnet.mine(SOLIDIFY + 1)
    expect(page.locator("[data-status]")).to_have_text("Paid and confirmed.", timeout=60_000)


def webseed_status(fan: User, content: Content) -> int:
    """A real web seed request with a token issued now (a token older than its TTL by the
    moved clock would be refused for its age, not for the membership)."""
    fastpath.clear()  # the door's decision cache lives in this process with the live server
    return httpx.get(tokens.webseed_url_for(fan, content) + content.name).status_code


def desktop_announce(metainfo: bytes, folder: Path) -> str:
    """What the tracker answers a libtorrent client's first announce: "admitted" or its
    failure reason."""
    fastpath.clear()
    session = lt.session(lt.session_params(client_settings(free_port())))
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(without_web_seeds(metainfo))
    params.save_path = str(folder)
    params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    session.add_torrent(params)
    answers: list[str] = []

    def answered() -> bool:
        for alert in session.pop_alerts():
            if isinstance(alert, lt.tracker_error_alert):
                answers.append(alert.failure_reason() or alert.message())
            elif isinstance(alert, lt.tracker_reply_alert):
                answers.append("admitted")
        return bool(answers)

    wait_for(answered, timeout=30, what="the tracker's answer")
    session.pause()
    return answers[0]


def membership_of(fan: User) -> Membership:
    return Membership.objects.select_related("tier").get(fan=fan)


def test_a_fan_joins_pays_from_a_phone_downloads_lapses_and_pays_late(
    devnet_factory: Any,
    site: Site,
    browser: Chromium,
    clock: Clock,
    creator: Creator,
    fan: User,
    tmp_path: Path,
) -> None:
    # given: a published album of the creator's, paid to their own wallet; a funded fan wallet
    devnet: Devnet = devnet_factory(**ON_DEMAND)
    data = os.urandom(1024 * 1024 + 321)
    content = on_sale(creator, {"bonus.bin": data}, "Bonus", "40")
    wallet = funded_wallet(devnet, trx=100_000_000, trc20=100 * BTT)
    watcher = start_watcher_process(tmp_path, devnet.url)
    wait_following(devnet)
    metainfo = torrents.personal_metainfo(content, fan)
    try:
        studio = browser.open(site.url, creator.user)

        # when: the creator makes two tiers in the studio
        for name, monthly, rank in (("Supporter", "10", "1"), ("Patron", "25", "2")):
            studio.goto("/studio/tiers/")
            studio.get_by_label("Name").fill(name)
            studio.get_by_label("Monthly").fill(monthly)
            studio.get_by_label("Rank").fill(rank)
            studio.get_by_role("button", name="Save tier").click()
            expect(studio.locator("main")).to_contain_text(name)
        # and marks the album for Supporters or higher
        studio.goto(f"/studio/content/{content.pk}/")
        studio.get_by_label("Included for members of").select_option(label="Supporter or higher")
        studio.get_by_role("button", name="Save for members").click()
        expect(studio.get_by_text("For members of Supporter or higher.")).to_be_visible()
        assert_page_clean(studio)

        # when: the fan joins Supporter from the creator's page and pays from a phone wallet
        page = browser.open(site.url, fan)
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
        page.goto(f"/c/{creator.handle}/")
        supporter = page.locator(".tier", has=page.get_by_role("heading", name="Supporter"))
        supporter.get_by_role("button", name="Join monthly").click()
        expect(page.locator("[data-amount]")).to_have_text(TAGGED_10)
        pay_from_phone(page, devnet, wallet, at=None)

        # then: the album downloads in the browser, whole
        page.goto(f"/content/{content.pk}/")
        saved = start_and_collect(page, 1, tmp_path / "saved")
        assert hashlib.sha256(saved["bonus.bin"].read_bytes()).digest() == (
            hashlib.sha256(data).digest()
        )
        # when: the creator writes a post for Supporters and higher
        studio.goto("/studio/posts/")
        studio.get_by_label("Title").fill("Thank you")
        studio.get_by_label("Text").fill("The first take of the album, for Supporters.")
        studio.get_by_label("Who may read it").select_option(index=1)  # after "Everyone"
        studio.get_by_role("button", name="Publish").click()
        expect(studio.locator(".post-list")).to_contain_text("Thank you · Supporter and higher")
        post_url = studio.get_by_role("link", name="Thank you").get_attribute("href")
        assert post_url is not None

        # then: the fan reads it
        page.goto(post_url)
        expect(page.locator(".post-body")).to_have_text(
            "The first take of the album, for Supporters."
        )
        with outside_browser_loop():
            membership = membership_of(fan)
            assert (membership.state, membership.tier.name) == (State.ACTIVE, "Supporter")
            paid_until = membership.paid_until
            assert paid_until is not None
            assert desktop_announce(metainfo, tmp_path / "client-1") == "admitted"

            # when: a week before the period ends, the renewal is issued
            move_to(clock, paid_until - timedelta(days=7))
            assert renewals.renew_memberships() == 1

        # then: the Memberships page asks for it
        page.goto("/memberships/")
        expect(page.locator(".membership-state")).to_have_text("Active")
        expect(page.get_by_role("link", name="Pay now")).to_be_visible()
        screenshots(page, "membership-renewal-due")

        # when: the period ends unpaid
        with outside_browser_loop():
            move_to(clock, paid_until + timedelta(hours=1))
            renewals.renew_memberships()
        page.reload()

        # then: grace, said on the page, and access kept at the web seed
        expect(page.locator("[data-grace]")).to_contain_text("Your renewal is unpaid.")
        screenshots(page, "membership-grace")
        with outside_browser_loop():
            assert membership_of(fan).state == State.GRACE
            assert webseed_status(fan, content) == 200

        # when: the grace ends unpaid
        with outside_browser_loop():
            move_to(clock, paid_until + services.renewal_grace() + timedelta(minutes=1))
            renewals.renew_memberships()
        page.reload()

        # then: lapsed on the page, no download on the content page, and every door refuses
        expect(page.locator("[data-lapsed]")).to_be_visible()
        page.goto(f"/content/{content.pk}/")
        expect(download_panel(page)).to_have_count(0)
        # (the locked post answers 403, which a page visit would count as a failed load)
        locked = page.request.get(post_url)
        assert locked.status == 403
        assert "For members of Supporter or a higher tier." in locked.text()
        assert "The first take of the album" not in locked.text()
        with outside_browser_loop():
            assert membership_of(fan).state == State.LAPSED
            assert webseed_status(fan, content) == 403
            refusal = desktop_announce(metainfo, tmp_path / "client-2")
            assert refusal == "not entitled to this torrent"

        # when: the fan pays late from the Memberships page
        page.goto("/memberships/")
        page.get_by_role("button", name="Pay now").click()
        expect(page.locator("[data-amount]")).to_have_text(TAGGED_10)
        with outside_browser_loop():
            now = clock.now()
        pay_from_phone(page, devnet, wallet, at=now)

        # then: active for a new period from now, the page downloads again, the web seed serves
        with outside_browser_loop():
            membership = membership_of(fan)
            assert membership.state == State.ACTIVE
            assert membership.paid_until is not None
            assert membership.paid_until > now + timedelta(days=27)
            assert webseed_status(fan, content) == 200
            assert desktop_announce(metainfo, tmp_path / "client-3") == "admitted"
        page.goto(f"/content/{content.pk}/")
        again = start_and_collect(page, 1, tmp_path / "again")
        assert again["bonus.bin"].read_bytes() == data
        page.goto(post_url)
        expect(page.locator(".post-body")).to_contain_text("The first take of the album")
        page.goto("/memberships/")
        expect(page.locator(".membership-state")).to_have_text("Active")
        assert_page_clean(page)
    finally:
        with outside_browser_loop():
            watcher.stop()
