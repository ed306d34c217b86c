"""The tip form, the tip's payment page, the studio's tips and live pages, the live page and
the overlay page, over HTTP: hostile names and messages come out as inert text everywhere."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from creators.models import Creator
from payments.models import Invoice
from support import services
from support.models import Alert, LiveSession, Tip, TipSettings
from support.summary import session_summary
from tests.fixtures.sessions import logged_in
from tests.support.tipping import HOSTILE_MESSAGES, HOSTILE_NAMES, pay, tip, tipping_creator

pytestmark = pytest.mark.django_db

# Markup a hostile text would add to a page if it were not escaped.
INJECTED = re.compile(
    r"<script>alert|<script>document|<img src=x|<a href=\"javascript|<style>body|</style><style>",
    re.I,
)


def test_a_fan_tips_through_the_form_and_lands_on_the_payment_page(
    fan: User, creator: Creator
) -> None:
    # given
    tipping_creator(creator)
    client = logged_in(fan)

    # when
    response = client.post(
        reverse("tip", args=[creator.handle]),
        {"amount": "250", "name": "Ada", "message": "Love it"},
    )

    # then
    made = Tip.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tip-payment", args=[made.pk])
    page = client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200
    assert made.invoice.due.decimal_string() == "250.000001"
    assert (
        f'data-amount aria-labelledby="pay-amount-label-{made.invoice.pk}">250.000001</code>'
        in body
    )
    assert f">{creator.payout_address}</code>" in body
    assert f'data-invoice="{made.invoice.pk}"' in body
    # Nobody else sees someone's tip page.
    assert logged_in(creator.user).get(response["Location"]).status_code == 404
    # The invoice page pays it with TronLink or a QR code.
    assert f'href="/invoices/{made.invoice.pk}/"' in body
    paying = client.get(f"/invoices/{made.invoice.pk}/").content.decode()
    assert f"Your tip to {creator.display_name}" in paying
    assert "Pay with TronLink" in paying
    assert 'data-kind="tip"' in paying


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"amount": "1e3"}, "Enter an amount like 250 or 0.5"),
        ({"amount": "-5"}, "Enter an amount like 250 or 0.5"),
        ({"amount": "5"}, "The smallest tip here is 100 BTT."),
        ({"amount": "150", "message": "m" * 300}, "The message is 300 characters; at most 200."),
    ],
)
def test_a_refused_tip_shows_why_keeps_what_was_typed_and_makes_nothing(
    fan: User, creator: Creator, data: dict[str, str], error: str
) -> None:
    tipping_creator(creator)
    response = logged_in(fan).post(reverse("tip", args=[creator.handle]), data)
    body = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert error in body
    assert data["amount"] in body
    assert (Tip.objects.count(), Invoice.objects.count()) == (0, 0)


def test_someone_logged_out_is_sent_to_log_in_and_nothing_is_made(creator: Creator) -> None:
    tipping_creator(creator)
    response = Client().post(reverse("tip", args=[creator.handle]), {"amount": "150"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Tip.objects.exists()


def test_the_tip_box_is_on_the_creator_page_without_making_settings(
    fan: User, creator: Creator
) -> None:
    body = logged_in(fan).get(reverse("creator", args=[creator.handle])).content.decode()
    assert f'action="{reverse("tip", args=[creator.handle])}"' in body
    assert "At least 100 BTT." in body
    assert not TipSettings.objects.exists()


@pytest.mark.parametrize(
    ("name", "message"), list(zip(HOSTILE_NAMES, HOSTILE_MESSAGES, strict=True))
)
def test_hostile_names_and_messages_are_inert_text_on_every_page(
    fan: User, creator: Creator, name: str, message: str
) -> None:
    # given: a paid tip with a hostile name and message, during a live session
    tipping_creator(creator)
    services.start_live(creator.user, "Stream", "https://cdn.example.org/live/stream.m3u8")
    response = logged_in(fan).post(
        reverse("tip", args=[creator.handle]),
        {"amount": "150", "name": name, "message": message, "live": "True"},
    )
    assert response.status_code == 302, response.content.decode()
    made = Tip.objects.get()
    pay(made)
    assert Alert.objects.filter(tip=made).exists()

    # then: wherever it is shown, it is escaped text, never markup
    pages = {
        "studio": logged_in(creator.user).get(reverse("studio-tips")),
        "live": Client().get(reverse("live", args=[creator.handle])),
        "payment": logged_in(fan).get(reverse("tip-payment", args=[made.pk])),
    }
    for where, page in pages.items():
        body = page.content.decode()
        assert page.status_code == 200, where
        assert not INJECTED.search(body), where
        assert "\u200b" not in body, where
        assert "\u202e" not in body, where
        if made.name:
            assert html.escape(made.name) in body, where
        if made.message:
            assert html.escape(made.message) in body, where
    assert made.live_session is not None


def test_the_overlay_page_needs_its_current_key(creator: Creator) -> None:
    tipping_creator(creator)
    settings = services.tip_settings(creator)
    old = reverse("overlay", args=[settings.overlay_key])
    page = Client().get(old)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["Cache-Control"] == "private, no-store"
    assert "script-src 'self'" in page["Content-Security-Policy"]

    rotated = services.rotate_overlay_key(creator.user)

    assert Client().get(old).status_code == 404
    assert Client().get(reverse("overlay", args=["x" * 43])).status_code == 404
    assert Client().get(reverse("overlay", args=[rotated.overlay_key])).status_code == 200


def test_the_studio_sends_a_test_alert_and_rotates_the_key(creator: Creator) -> None:
    tipping_creator(creator)
    client = logged_in(creator.user)
    key = services.tip_settings(creator).overlay_key
    page = client.get(reverse("studio-tips")).content.decode()
    assert f"/overlay/{key}/" in page

    assert client.post(reverse("studio-tips-test")).status_code == 302
    assert client.post(reverse("studio-tips-rotate")).status_code == 302

    assert list(Alert.objects.values_list("seq", "test")) == [(1, True)]
    assert TipSettings.objects.get(creator=creator).overlay_key != key


def test_a_live_session_plays_its_stream_under_a_policy_naming_its_origin(
    fan: User, creator: Creator
) -> None:
    # given
    tipping_creator(creator)
    client = logged_in(creator.user)
    started = client.post(
        reverse("studio-live"),
        {"title": "Late show", "stream_url": "https://cdn.example.org/live/stream.m3u8"},
    )
    assert started.status_code == 302

    # when
    page = Client().get(reverse("live", args=[creator.handle]))

    # then
    policy = page["Content-Security-Policy"]
    assert 'data-hls-src="https://cdn.example.org/live/stream.m3u8"' in page.content.decode()
    assert "connect-src 'self' ws://127.0.0.1:8000 https://cdn.example.org" in policy
    assert "frame-src" not in policy
    # A second session while live is refused; a bad URL is refused with the reason.
    again = client.post(
        reverse("studio-live"), {"title": "x", "stream_url": "https://evil.example/x"}
    )
    assert again.status_code == 400
    assert "Use an HLS stream (.m3u8) or an embed URL" in html.unescape(again.content.decode())
    assert LiveSession.objects.count() == 1


def test_ending_a_live_session_shows_its_summary(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: tips from two fans during the session
    tipping_creator(creator)
    session = services.start_live(creator.user, "Show", "https://www.youtube.com/embed/xyz")
    pay(tip(fan, creator, name="Ada"))
    pay(tip(stranger, creator, name="Bob"))
    pay(tip(fan, creator, name="Ada L."))

    # when
    assert logged_in(creator.user).post(reverse("studio-live-end")).status_code == 302

    # then
    body = html.unescape(Client().get(reverse("live", args=[creator.handle])).content.decode())
    summary = session_summary(
        LiveSession.objects.get(pk=session.pk), services.tip_settings(creator)
    )
    assert summary.count == 3
    # By the name shown, not by account: the fan's two names are two rows.
    assert [(t.name, t.count) for t in summary.top] == [("Ada", 1), ("Ada L.", 1), ("Bob", 1)]
    assert f"<strong>{summary.total}</strong> from 3 tips." in body
    assert "Not live right now" in body


def test_hostile_tips_are_inert_text_in_the_admin(fan: User, creator: Creator) -> None:
    # given
    tipping_creator(creator)
    staff = User.objects.create_superuser("root", "root@example.com", "x")
    for name, message in zip(HOSTILE_NAMES[:4], HOSTILE_MESSAGES[:4], strict=True):
        pay(tip(fan, creator, name=name, message=message))

    # when
    pages = [
        logged_in(staff).get(reverse("admin:support_tip_changelist")),
        logged_in(staff).get(reverse("admin:support_alert_changelist")),
    ]

    # then
    for page in pages:
        body = page.content.decode()
        assert page.status_code == 200
        assert not INJECTED.search(body)
        assert html.escape(HOSTILE_NAMES[1]) in body
    settings_page = logged_in(staff).get(
        reverse("admin:support_tipsettings_change", args=[services.tip_settings(creator).pk])
    )
    assert services.tip_settings(creator).overlay_key not in settings_page.content.decode()


@pytest.mark.rate_limits
def test_tipping_is_rate_limited_per_account(fan: User, creator: Creator) -> None:
    from django.core.cache import cache

    cache.clear()
    tipping_creator(creator)
    client = logged_in(fan)
    url = reverse("tip", args=[creator.handle])

    answers = [client.post(url, {"amount": "1"}).status_code for _ in range(21)]

    assert answers[:20] == [400] * 20  # TIP_RATE is 20/m; each was below the minimum
    assert answers[20] == 429
    assert client.post(url, {"amount": "150"}).status_code == 429
    assert not Tip.objects.exists()


def test_the_creator_page_links_to_the_live_session_and_open_campaigns(
    fan: User, creator: Creator
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from payments.money import Amount, Token
    from support import campaigns

    tipping_creator(creator)
    services.start_live(creator.user, "<i>Late</i> show", "https://www.youtube.com/embed/x")
    campaign = campaigns.create_campaign(
        creator.user,
        title="Album",
        story="Songs",
        goal=Amount.parse("10", Token.BTT),
        deadline=timezone.now() + timedelta(days=1),
        mode="flexible",
        tiers=[],
    )
    body = Client().get(reverse("creator", args=[creator.handle])).content.decode()
    assert (
        f'<a href="{reverse("live", args=[creator.handle])}">&lt;i&gt;Late&lt;/i&gt; show</a>'
        in body
    )
    assert f'<a href="{reverse("campaign", args=[campaign.pk])}">Album</a>' in body
