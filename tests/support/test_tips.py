"""Tips: making one (an invoice of kind tip), the text rules, and the alert a paid tip raises
through the invoice state machine, once, at the state the creator chose."""

from __future__ import annotations

import pytest

from accounts.models import User
from creators.models import Creator
from payments.crediting import drop_transfer, record_transfer
from payments.models import Invoice
from payments.money import Amount, Token
from support import events, services
from support.models import Alert, Tip, TipSettings
from tests.payments.factories import purchase
from tests.support.tipping import (
    OTHER_ADDRESS,
    TIP,
    other_creator,
    pay,
    solidify,
    tip,
    tipping_creator,
    with_goal,
)

pytestmark = pytest.mark.django_db


def test_a_tip_is_an_invoice_for_its_amount_to_the_creators_address(
    fan: User, creator: Creator
) -> None:
    # given
    tipping_creator(creator)

    # when
    made = tip(fan, creator, name="  Ada   Lovelace ", message="Great\nstream!")

    # then
    invoice = made.invoice
    assert (invoice.kind, invoice.state, invoice.payer, invoice.creator) == (
        Invoice.Kind.TIP,
        Invoice.State.NEW,
        fan,
        creator,
    )
    assert invoice.recipient == creator.payout_address
    assert invoice.due == Amount.parse("150.000001", Token.BTT)
    assert (made.name, made.message) == ("Ada Lovelace", "Great stream!")
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    ("amount", "text", "error"),
    [
        ("99.999999", {}, "The smallest tip here is 100 BTT."),
        ("150", {"name": "n" * 41}, "The name is 41 characters; at most 40."),
        ("150", {"message": "m" * 201}, "The message is 201 characters; at most 200."),
    ],
)
def test_a_tip_below_the_minimum_or_with_too_long_text_is_refused_and_nothing_is_made(
    fan: User, creator: Creator, amount: str, text: dict[str, str], error: str
) -> None:
    tipping_creator(creator)
    with pytest.raises(services.TipRefused) as refused:
        tip(
            fan,
            creator,
            Amount.parse(amount, Token.BTT),
            text.get("name", ""),
            text.get("message", ""),
        )
    assert refused.value.message == error
    assert (Tip.objects.count(), Invoice.objects.count()) == (0, 0)


def test_a_creator_cannot_tip_themselves(creator: Creator) -> None:
    tipping_creator(creator)
    with pytest.raises(services.TipRefused, match="yourself"):
        tip(creator.user, creator)
    assert not Invoice.objects.exists()


def test_invisible_characters_are_dropped_before_the_limit_and_blocked_words_masked(
    fan: User, creator: Creator
) -> None:
    # given: a filter the tipper tries to slip past with zero-width characters and case
    tipping_creator(creator)
    services.update_tip_settings(
        creator.user,
        minimum=Amount.parse("100", Token.BTT),
        blocked="darn\n\nSpoiler Alert\n",
        alert_on="processing",
        goal_title="",
        goal=Amount.zero(Token.BTT),
    )

    # when
    made = tip(
        fan,
        creator,
        name="\u200bD\u200ba\u200dr\u2060n\ufeff",
        message="\u202espoiler ALERT\u202c: " + "\u200b" * 400 + "the end, darned",
    )

    # then: 400 zero-width spaces did not count against the 200; whole words only
    assert made.name == "****"
    assert made.message == "*************: the end, darned"


def test_a_paid_tip_alerts_once_at_processing_and_counts_towards_the_goal(
    fan: User, creator: Creator
) -> None:
    # given
    tipping_creator(creator)
    with_goal(creator, "1000")
    first = tip(fan, creator, name="Ada", message="hi")
    second = tip(fan, creator, Amount.parse("10000", Token.BTT))

    # when: the first is in a block, then solidified; the second is in a block
    solidify(pay(first))
    pay(second)

    # then: one alert each, numbered in order, tiers by the amount against the minimum
    alerts = list(Alert.objects.order_by("seq"))
    assert [(a.seq, a.tip_id, a.name, a.message, a.tier, a.test) for a in alerts] == [
        (1, first.pk, "Ada", "hi", 2, False),
        (2, second.pk, "Anonymous", "", 4, False),
    ]
    # as asked: the tag that named the invoice stays out of the alert and the goal
    assert alerts[0].amount == first.invoice.asked == TIP
    settings = TipSettings.objects.get(creator=creator)
    assert settings.last_alert_seq == 2
    assert settings.goal_raised == first.invoice.asked + second.invoice.asked
    assert Invoice.objects.get(pk=first.invoice.pk).state == Invoice.State.SETTLED


def test_a_tip_whose_payment_leaves_the_chain_after_its_alert_is_withdrawn_from_the_goal(
    fan: User, creator: Creator
) -> None:
    # given: two tips alerted at processing, the first solidified, the second not yet
    tipping_creator(creator)
    with_goal(creator, "1000")
    kept, lost = tip(fan, creator, name="Ada"), tip(fan, creator, name="Bo")
    solidify(pay(kept))
    transfer = pay(lost)
    assert (
        TipSettings.objects.get(creator=creator).goal_raised
        == kept.invoice.asked + lost.invoice.asked
    )

    # when: the second one's transaction leaves the chain (a fork), twice over
    drop_transfer(transfer.txid, transfer.log_index)
    drop_transfer(transfer.txid, transfer.log_index)

    # then: its invoice is invalid, its alert withdrawn (still numbered), the goal without it
    assert Invoice.objects.get(pk=lost.invoice.pk).state == Invoice.State.INVALID
    alerts = {a.tip_id: a for a in Alert.objects.all()}
    assert alerts[kept.pk].withdrawn_at is None
    assert alerts[lost.pk].withdrawn_at is not None
    assert TipSettings.objects.get(creator=creator).goal_raised == kept.invoice.asked
    settings = services.tip_settings(creator)
    replayed = [events.alert_payload(a, settings) for a in services.alerts_after(creator.pk, 0)]
    assert [(a["seq"], a["withdrawn"]) for a in replayed] == [(1, False), (2, True)]


def test_with_alerts_on_settled_a_tip_in_a_block_waits_for_solidification(
    fan: User, creator: Creator
) -> None:
    tipping_creator(creator)
    settings = services.tip_settings(creator)
    TipSettings.objects.filter(pk=settings.pk).update(alert_on="settled")
    made = tip(fan, creator)

    transfer = pay(made)
    assert Invoice.objects.get(pk=made.invoice.pk).state == Invoice.State.PROCESSING
    assert not Alert.objects.exists()

    solidify(transfer)
    assert list(Alert.objects.values_list("seq", "tip_id")) == [(1, made.pk)]


def test_alerts_are_numbered_per_creator_and_purchases_raise_none(
    fan: User, creator: Creator
) -> None:
    tipping_creator(creator)
    other = tipping_creator(other_creator(), OTHER_ADDRESS)
    bought = purchase(fan, creator)
    mine = tip(fan, creator)
    theirs = tip(fan, other)

    pay(theirs)
    pay(mine)
    from tests.payments.factories import paying, proven

    record_transfer(proven(*paying(bought, seq=999)), solidified=False)

    assert Invoice.objects.get(pk=bought.pk).state == Invoice.State.PROCESSING
    assert sorted(Alert.objects.values_list("creator_id", "seq", "tip_id")) == sorted(
        [(creator.pk, 1, mine.pk), (other.pk, 1, theirs.pk)]
    )


def test_a_test_alert_is_numbered_with_the_rest_and_leaves_the_goal_alone(
    fan: User, creator: Creator
) -> None:
    tipping_creator(creator)
    alert = services.send_test_alert(creator.user)
    pay(tip(fan, creator))

    assert list(Alert.objects.values_list("seq", "test", "name")) == [
        (1, True, "Test alert"),
        (2, False, "Anonymous"),
    ]
    assert alert.amount == Amount.parse("100", Token.BTT)
    assert services.tip_settings(creator).goal_raised == TIP


@pytest.mark.parametrize(
    ("url", "player"),
    [
        ("https://cdn.example.org/live/stream.m3u8", "hls"),
        ("https://www.youtube-nocookie.com/embed/abc123", "embed"),
        ("https://player.twitch.tv/?channel=me&parent=example.org", "embed"),
    ],
)
def test_stream_urls_are_hls_or_an_allowed_player(url: str, player: str) -> None:
    assert services.stream_player(url) == player


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.org/live/stream.m3u8",
        "javascript:alert(1)//.m3u8",
        "https://evil.example/embed/abc",
        "https://www.youtube.com/watch?v=abc",
        "https://user:pw@cdn.example.org/a.m3u8",
        "https://cdn.example.org:8443/a.m3u8",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_other_stream_urls_are_refused(url: str) -> None:
    with pytest.raises(services.TipRefused):
        services.stream_player(url)
