"""The staff console in Chromium: a moderator takes a release down and restores it from the
moderation page; finance sees an unmatched transfer and attaches it from the reconciliation
page. Screenshots of both pages at desktop and phone width."""

from __future__ import annotations

from playwright.sync_api import expect

from accounts.models import User
from creators.models import Creator
from payments import crediting
from payments.models import Invoice, UnmatchedTransfer
from staff.models import AuditEntry
from swarm.models import Content
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.content import published
from tests.fixtures.servers import AsgiServer
from tests.payments.factories import paying, proven, purchase


def test_a_moderator_takes_a_release_down_and_restores_it_from_the_page(
    browser: Chromium, asgi_server: AsgiServer, moderator: User, creator: Creator, fan: User
) -> None:
    browser.allow_console_error(r"status of 410 .*/content/\d+/\)$", "a removed page is Gone")
    content = published(creator, "Bootleg Live")
    page = browser.open(asgi_server.url, moderator)
    page.goto("/staff/moderation/?q=bootleg")
    row = page.locator(f'tr[data-content-id="{content.pk}"]')
    screenshots(page, "staff-moderation")

    row.get_by_role("link", name="Take down…").click()
    expect(page.get_by_role("heading", name="Take down “Bootleg Live”?")).to_be_visible()
    page.get_by_label("Public reason").fill("Copyright claim by the label")
    page.get_by_role("button", name="Take down “Bootleg Live”").click()

    expect(page.get_by_role("status")).to_contain_text("“Bootleg Live” was taken down.")
    expect(row).to_contain_text("Copyright claim by the label")
    fan_page = browser.open(asgi_server.url, fan)
    fan_page.goto(f"/content/{content.pk}/")
    expect(fan_page.locator("[data-removed]")).to_contain_text("Copyright claim by the label")

    row.get_by_role("button", name="Restore").click()
    expect(page.get_by_role("status")).to_contain_text("“Bootleg Live” was restored.")
    with outside_browser_loop():
        content.refresh_from_db()
        assert content.state == Content.State.SEEDING
        assert AuditEntry.objects.count() == 2
    assert_page_clean(page)


def test_finance_attaches_an_unmatched_transfer_from_the_page(
    browser: Chromium, asgi_server: AsgiServer, finance: User, fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    crediting.record_transfer(
        proven(*paying(invoice, invoice.amount_due + 10**18)), solidified=True
    )
    kept = UnmatchedTransfer.objects.get()
    page = browser.open(asgi_server.url, finance)
    page.goto("/staff/reconciliation/")
    row = page.locator(f'tr[data-transfer-id="{kept.pk}"]')
    expect(row).to_contain_text("101.000001 BTT")
    screenshots(page, "staff-reconciliation")

    row.get_by_label("Invoice id").fill(str(invoice.pk))
    row.get_by_label("Attach note").fill("wallet rounded up")
    row.get_by_role("button", name="Attach").click()

    expect(page.get_by_role("status")).to_contain_text(f"credited to invoice {invoice.pk}")
    expect(page.locator(f'tr[data-transfer-id="{kept.pk}"]')).to_have_count(0)
    with outside_browser_loop():
        assert Invoice.objects.get(pk=invoice.pk).state == Invoice.State.SETTLED
    assert_page_clean(page)
