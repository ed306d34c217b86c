"""Anonymous tips stay anonymous in public: a live session's top tippers group by the name the
public saw, never by account, so a fan's anonymous tips never add to their named row (nor the
other way round), two fans who chose one name are one row, and a name that reads "Anonymous"
is anonymous. The alerts and sockets carry the tip as asked, without the unique-amount tag,
and nothing that names the account behind an anonymous tip."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from creators.models import Creator
from payments import invoices
from payments.crediting import record_transfer
from payments.models import Invoice
from support import events, services
from support.models import Alert, LiveSession, Tip
from support.summary import SessionSummary, session_summary
from tests.fixtures.money import btt
from tests.fixtures.personas import make_user
from tests.fixtures.sessions import logged_in
from tests.payments.factories import paying, proven
from tests.support.tipping import pay, tip, tipping_creator

pytestmark = pytest.mark.django_db


def rows(summary: SessionSummary) -> list[tuple[str, str, int, bool]]:
    return [(t.name, t.total.decimal_string(), t.count, t.anonymous) for t in summary.top]


def summary_of(creator: Creator) -> SessionSummary:
    session = LiveSession.objects.filter(creator=creator).get()
    return session_summary(session, services.tip_settings(creator))


def live(creator: Creator) -> LiveSession:
    tipping_creator(creator)
    return services.start_live(creator.user, "Show", "https://www.youtube.com/embed/xyz")


def test_a_fan_alternating_named_and_anonymous_tips_is_two_rows_that_never_mix(
    fan: User, creator: Creator
) -> None:
    # given: one fan tips as "Ada", anonymously, as "Ada", anonymously
    live(creator)
    for amount, name in [("150", "Ada"), ("200", ""), ("175", "Ada"), ("1000", "")]:
        pay(tip(fan, creator, btt(amount), name=name))

    # when
    summary = summary_of(creator)

    # then: the named row holds only the named tips; the anonymous row only the anonymous ones
    assert rows(summary) == [("Anonymous", "1200", 2, True), ("Ada", "325", 2, False)]
    assert summary.total == btt("1525")  # as asked: no tag digits in any figure
    assert summary.count == 4
    assert fan.username not in {t.name for t in summary.top}


def test_a_fans_named_tips_never_show_as_anonymous(fan: User, creator: Creator) -> None:
    # given: the fan tips once anonymously first, then twice by name (the old grouping named
    # the account's row by the *last* name, and the reverse order by the first)
    live(creator)
    pay(tip(fan, creator, btt("500")))
    pay(tip(fan, creator, btt("100"), name="Ada"))
    pay(tip(fan, creator, btt("100"), name="Ada"))

    assert rows(summary_of(creator)) == [("Anonymous", "500", 1, True), ("Ada", "200", 2, False)]


def test_two_fans_who_chose_the_same_name_are_one_row_and_no_account_is_named(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: two accounts sign as "Sam"; a third tips anonymously
    live(creator)
    third = make_user("third")
    pay(tip(fan, creator, btt("100"), name="Sam"))
    pay(tip(stranger, creator, btt("300"), name="Sam"))
    pay(tip(third, creator, btt("250")))

    # then: one "Sam" row, as the stream showed it; the accounts appear nowhere
    summary = summary_of(creator)
    assert rows(summary) == [("Sam", "400", 2, False), ("Anonymous", "250", 1, True)]
    names = {t.name for t in summary.top}
    assert names.isdisjoint({fan.username, stranger.username, third.username})


@pytest.mark.parametrize(
    "typed",
    [
        "Anonymous",
        "anonymous",
        "  ANONYMOUS  ",
        "\uff21nonymous",  # full-width
        "Anon\u200bymous",  # an invisible character
        "\u0410n\u043en\u0443m\u043eus",  # Cyrillic A, o, y, o
        "\u0391\u03b7\u03bfnym\u03bf\u03c5s",  # Greek Alpha, eta, omicron, upsilon
    ],
)
def test_a_name_that_reads_anonymous_is_an_anonymous_tip(
    typed: str, fan: User, stranger: User, creator: Creator
) -> None:
    # given: one fan types a name that reads "Anonymous" (any case, full-width, with an
    # invisible character); another tips anonymously
    live(creator)
    posing = tip(fan, creator, btt("100"), name=typed)
    pay(posing)
    pay(tip(stranger, creator, btt("200")))

    # then: the tip is anonymous, and there is one Anonymous row, not a second one to confuse
    assert posing.name == ""
    assert posing.display_name == "Anonymous"
    assert rows(summary_of(creator)) == [("Anonymous", "300", 2, True)]


def test_a_tip_stored_with_the_name_anonymous_still_counts_as_anonymous(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: a tip whose stored name is "Anonymous" (kept from before names were checked)
    live(creator)
    old = tip(fan, creator, btt("100"), name="Ada")
    Tip.objects.filter(pk=old.pk).update(name="Anonymous")
    old.refresh_from_db()
    pay(old)
    pay(tip(stranger, creator, btt("100"), name="Ada"))

    # then: it is in the anonymous row, not a named "Anonymous" one, and Ada has only hers
    assert rows(summary_of(creator)) == [("Ada", "100", 1, False), ("Anonymous", "100", 1, True)]


def test_an_anonymous_tips_alert_carries_no_trace_of_its_account(
    fan: User, creator: Creator
) -> None:
    # given: the fan has a named tip too, and pays from a known address
    live(creator)
    pay(tip(fan, creator, btt("100"), name="Ada"))
    anonymous = tip(fan, creator, btt("250"), message="keep going")
    pay(anonymous)
    alert = Alert.objects.get(tip=anonymous)
    payload = json.loads(json.dumps(events.alert_payload(alert, services.tip_settings(creator))))

    # then: the payload names nobody and shows the tip as asked
    assert payload["name"] == "Anonymous"
    assert payload["amount"] == "250"
    assert payload["units"] == str(btt("250").units)
    text = json.dumps(payload)
    invoice = Invoice.objects.get(pk=anonymous.invoice.pk)
    for secret in (fan.username, fan.email, str(invoice.pk), invoice.payer_address, "Ada"):
        assert secret
        assert secret not in text
    assert invoice.due.decimal_string() not in text  # the tagged amount


def test_the_live_page_names_no_account_and_shows_no_tag(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: a session with a named and an anonymous tip by the same fan, then ended
    live(creator)
    named = tip(fan, creator, btt("100"), name="Ada")
    anonymous = tip(fan, creator, btt("250"))
    pay(named)
    pay(anonymous)
    services.end_live(creator.user)

    # when
    body = Client().get(reverse("live", args=[creator.handle])).content.decode()

    # then: Ada's row is 100 BTT, the anonymous 250 BTT row is apart; no account, no tag
    # (the true anonymous row is marked, so a name made to look like it can be told apart)
    assert '<li class="top-anonymous"><span class="tip-name">Anonymous</span>: 250 BTT' in body
    assert '<li><span class="tip-name">Ada</span>: 100 BTT (1 tip)' in body
    assert fan.username not in body
    for made in (named, anonymous):
        assert made.invoice.due.decimal_string() not in body


def test_a_late_anonymous_tip_is_shown_to_its_creator_as_anonymous(creator: Creator) -> None:
    # given: an anonymous tip whose invoice expired, then was paid in full
    tipping_creator(creator)
    fan = make_user("quiet-account")
    made = tip(fan, creator, btt("250"))
    invoice = made.invoice
    invoices.expire_invoices(now=invoice.expires_at)
    late = invoice.expires_at - invoice.created_at + timedelta(1)
    record_transfer(proven(*paying(invoice, after=late)), solidified=True)
    invoice.refresh_from_db()
    assert (invoice.state, invoice.late) == ("expired", True)

    # when: the creator reviews late payments
    page = logged_in(creator.user).get("/studio/sales/").content.decode()

    # then: the tip is there as asked, from Anonymous; its account is not named
    assert "Late payments to review" in page
    assert "250 BTT from Anonymous" in page
    assert fan.username not in page
    assert invoice.due.decimal_string() not in page
