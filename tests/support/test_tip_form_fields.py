"""The tip form's limits in the field: the browser's maxlength is the server's limit, a refused
tip from the live page shows the live page again with every mistake beside its field, and
names keep their emoji while invisible tricks are still stripped."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from accounts.models import User
from creators.models import Creator
from payments.models import Invoice
from support import services
from support.models import MESSAGE_MAX, NAME_MAX, Tip
from support.text import TextRefused, clean, length
from tests.fixtures.html_elements import Elements
from tests.fixtures.sessions import logged_in
from tests.support.tipping import tipping_creator

pytestmark = pytest.mark.django_db

WOMAN_TECHNOLOGIST = "\U0001f469\u200d\U0001f4bb"
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
ASTRONAUT_DARK = "\U0001f468\U0001f3ff\u200d\U0001f680"
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


def live_creator(creator: Creator) -> None:
    tipping_creator(creator)
    services.start_live(creator.user, "Late show", "https://www.youtube-nocookie.com/embed/x")


def test_the_fields_maxlength_is_the_limit_the_server_keeps(fan: User, creator: Creator) -> None:
    live_creator(creator)
    page = Elements(logged_in(fan).get(reverse("live", args=[creator.handle])).content.decode())
    assert page.named("name")["maxlength"] == str(NAME_MAX) == "40"
    assert page.named("message")["maxlength"] == str(MESSAGE_MAX) == "200"
    # The amount's help is linked to it, with the smallest tip in it.
    described = page.named("amount")["aria-describedby"]
    assert page.texts[described] == "At least 100 BTT."


def test_a_refused_tip_from_the_live_page_stays_on_it_with_every_mistake_by_its_field(
    fan: User, creator: Creator
) -> None:
    # given: the creator is live; the fan types three mistakes at once
    live_creator(creator)
    data = {"amount": "5", "name": "N" * 41, "message": "m" * 201, "live": "True"}

    # when
    response = logged_in(fan).post(reverse("tip", args=[creator.handle]), data)

    # then: the live page again (its stream and feed), the form as typed, three errors linked
    body = response.content.decode()
    page = Elements(body)
    assert response.status_code == 400
    for part in ("data-live-socket", "live-embed", "data-tip-feed"):
        assert part in body
    expected = {
        "amount": "The smallest tip here is 100 BTT.",
        "name": "The name is 41 characters; at most 40.",
        "message": "The message is 201 characters; at most 200.",
    }
    for field, error in expected.items():
        attrs = page.named(field)
        assert attrs["aria-invalid"] == "true"
        ids = attrs["aria-describedby"].split()
        assert f"id_{field}_error" in ids
        assert all(described in page.texts for described in ids)  # no dangling reference
        assert html.unescape(page.texts[f"id_{field}_error"]).strip() == error
    assert page.named("amount")["value"] == "5"
    assert page.named("live")["value"] == "True"
    assert "m" * 201 in body
    assert (Tip.objects.count(), Invoice.objects.count()) == (0, 0)


def test_a_refused_tip_from_its_own_page_shows_every_mistake_there(
    fan: User, creator: Creator
) -> None:
    tipping_creator(creator)
    data = {"amount": "x", "name": "N" * 41}
    response = logged_in(fan).post(reverse("tip", args=[creator.handle]), data)
    page = Elements(response.content.decode())
    assert response.status_code == 400
    assert "data-live-socket" not in response.content.decode()
    assert page.named("amount")["aria-invalid"] == page.named("name")["aria-invalid"] == "true"
    assert not Tip.objects.exists()


@pytest.mark.parametrize(
    "emoji",
    [WOMAN_TECHNOLOGIST, RAINBOW_FLAG, ASTRONAUT_DARK, ENGLAND, "\u2764\ufe0f\u200d\U0001f525"],
)
def test_emoji_sequences_keep_their_joiners_and_tags(emoji: str) -> None:
    assert clean(f"Ada {emoji}", NAME_MAX, "name") == f"Ada {emoji}"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        # A joiner between letters hides a blocked word's edges: dropped.
        ("sp\u200dam", "spam"),
        # Joiners at the edges or doubled join nothing visible.
        ("\u200d\U0001f469", "\U0001f469"),
        ("\U0001f469\u200d", "\U0001f469"),
        ("\U0001f469\u200d\u200d\u200d\U0001f4bb", WOMAN_TECHNOLOGIST),
        ("\u200d" * 50, ""),
        # A joiner between an emoji and a letter, or a letter and an emoji.
        ("\U0001f469\u200da", "\U0001f469a"),
        ("a\u200d\U0001f469", "a\U0001f469"),
        # Bidi overrides and isolates flip the text around them.
        ("a\u202etxt.exe", "atxt.exe"),
        ("\u2066admin\u2069", "admin"),
        # Tag characters smuggle hidden ASCII unless they spell a flag after the black flag.
        ("hi\U000e0069\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065", "hi"),
        ("\U0001f3f4\U000e0041", "\U0001f3f4"),
        ("a\U000e0067\U000e0062\U000e007f", "a"),
        # Zero-width spaces, the BOM, soft hyphens, controls.
        ("\u200b\ufeff\u00ad\x00\x1bAda", "Ada"),
    ],
)
def test_invisible_tricks_are_still_stripped(typed: str, kept: str) -> None:
    assert clean(typed, NAME_MAX, "name") == kept


def test_lengths_count_as_the_browser_counts_so_a_full_field_is_accepted() -> None:
    # An emoji outside the BMP is two UTF-16 units, as maxlength counts it.
    assert length("\U0001f600" * 20) == 40
    assert clean("\U0001f600" * 20, NAME_MAX, "name") == "\U0001f600" * 20
    with pytest.raises(TextRefused, match=r"The name is 42 characters; at most 40\."):
        clean("\U0001f600" * 21, NAME_MAX, "name")
    # Invisible characters the browser counted are gone: what fitted in the field fits here.
    assert clean("\u200b" * 20 + "N" * 20, NAME_MAX, "name") == "N" * 20


def test_an_emoji_name_survives_the_tip_and_shows_on_its_payment_page(
    fan: User, creator: Creator
) -> None:
    tipping_creator(creator)
    client = logged_in(fan)
    name = f"Ada {WOMAN_TECHNOLOGIST}\u202e"
    response = client.post(reverse("tip", args=[creator.handle]), {"amount": "150", "name": name})
    assert response.status_code == 302
    made = Tip.objects.get()
    assert made.name == f"Ada {WOMAN_TECHNOLOGIST}"
    assert f"Ada {WOMAN_TECHNOLOGIST}" in client.get(response["Location"]).content.decode()
