"""Campaign transitions: flexible pledges count when paid; all-or-nothing commitments are
invoiced at the deadline when the goal is met and lapse when it is not; a reward tier never
sells past its limit under concurrent pledges; the deadline job is safe to run twice, at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.tasks import send_email
from btt_platform.celery import app as celery_app
from creators.models import Creator
from payments.crediting import record_transfer
from payments.invoices import expire_invoices
from payments.models import AppendOnly, Invoice
from payments.money import Token
from support import campaigns
from support.models import Campaign, Pledge, PledgeEvent, RewardTier
from support.tasks import close_campaigns
from tests.fixtures.money import btt
from tests.fixtures.personas import make_user
from tests.fixtures.processes import wait_for
from tests.payments.factories import paying, proven
from tests.support.tipping import tipping_creator

BTT = Token.BTT


def new_campaign(
    creator: Creator, mode: str, goal: str = "1000", tiers: list[campaigns.TierSpec] | None = None
) -> Campaign:
    tipping_creator(creator)
    return campaigns.create_campaign(
        creator.user,
        title="New album",
        story="Ten songs, recorded live.",
        goal=btt(goal),
        deadline=timezone.now() + timedelta(days=7),
        mode=mode,
        tiers=tiers or [],
    )


def past_deadline(campaign: Campaign) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(seconds=1))


def pay(invoice: Invoice, seq: int) -> None:
    record_transfer(proven(*paying(invoice, seq=seq)), solidified=False)


def log(pledge: Pledge) -> list[tuple[str, str, int | None]]:
    """The pledge's event log: (from, to, actor), oldest first."""
    events = PledgeEvent.objects.filter(pledge=pledge).order_by("created_at", "pk")
    return list(events.values_list("from_state", "to_state", "actor_id"))


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` on ``count`` threads started together; each result or exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.django_db
def test_a_flexible_pledge_is_invoiced_at_once_and_counts_when_paid(
    fan: User, creator: Creator
) -> None:
    # given
    campaign = new_campaign(creator, "flexible")

    # when
    made = campaigns.pledge(fan, campaign, btt("300"), None)

    # then: an invoice to pay, not counted yet
    assert made.invoice is not None
    assert (made.state, made.invoice.kind, made.invoice.payer) == ("invoiced", "pledge", fan)
    assert campaigns.progress(campaign).raised == btt("0")

    # when: paid
    pay(made.invoice, seq=1)

    # then
    made.refresh_from_db()
    assert made.state == Pledge.State.PAID
    assert campaigns.progress(campaign) == campaigns.Progress(btt("300"), btt("300"), 1)
    assert log(made) == [("", "invoiced", fan.pk), ("invoiced", "paid", None)]
    assert PledgeEvent.objects.filter(pledge=made, to_state="paid").get().invoice == made.invoice


@pytest.mark.django_db
def test_an_unpaid_flexible_pledge_lapses_with_its_invoice_and_gives_its_reward_back(
    fan: User, creator: Creator
) -> None:
    campaign = new_campaign(
        creator, "flexible", tiers=[campaigns.TierSpec("Signed CD", btt("100"), limit=1)]
    )
    tier = campaign.tiers.get()
    made = campaigns.pledge(fan, campaign, btt("100"), tier)
    assert RewardTier.objects.get(pk=tier.pk).taken == 1

    assert expire_invoices(timezone.now() + timedelta(hours=1)) == 1

    made.refresh_from_db()
    assert made.state == Pledge.State.LAPSED
    assert RewardTier.objects.get(pk=tier.pk).taken == 0
    assert log(made) == [("", "invoiced", fan.pk), ("invoiced", "lapsed", None)]
    reasons = made.events.values_list("reason", flat=True)
    assert reasons.last() == "its invoice expired unpaid"


@pytest.mark.django_db
def test_all_or_nothing_met_at_the_deadline_invoices_every_backer_once(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: commitments that meet the goal, and nothing invoiced before the deadline
    campaign = new_campaign(creator, "all_or_nothing", goal="1000")
    first = campaigns.pledge(fan, campaign, btt("600"), None)
    second = campaigns.pledge(stranger, campaign, btt("400"), None)
    assert (first.state, first.invoice) == ("committed", None)
    assert campaigns.progress(campaign).raised == btt("1000")
    assert not Invoice.objects.exists()
    assert campaigns.close_due_campaigns() == 0  # not due yet

    # when: the deadline passes and the job runs (twice)
    past_deadline(campaign)
    assert campaigns.close_due_campaigns() == 1
    assert campaigns.close_due_campaigns() == 0

    # then: succeeded, one invoice per backer for their own pledge, to the creator's address
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.SUCCEEDED
    invoices = {
        p.backer_id: p.invoice
        for p in Pledge.objects.select_related("invoice")
        if p.invoice is not None
    }
    assert Invoice.objects.count() == 2
    assert {backer: (i.kind, i.payer_id, i.state) for backer, i in invoices.items()} == {
        fan.pk: ("pledge", fan.pk, "new"),
        stranger.pk: ("pledge", stranger.pk, "new"),
    }
    assert invoices[fan.pk].due.units // 10**12 == btt("600").units // 10**12 + 1
    assert set(Pledge.objects.values_list("state", flat=True)) == {"invoiced"}
    for invoice in invoices.values():
        assert invoice.expires_at - invoice.created_at == campaigns.PLEDGE_PAYMENT_TIME

    # when: one backer pays
    pay(invoices[fan.pk], seq=2)

    # then
    assert Pledge.objects.get(pk=first.pk).state == Pledge.State.PAID
    assert Pledge.objects.get(pk=second.pk).state == Pledge.State.INVOICED
    # and each step is in the pledge's log once, though the job ran twice
    assert log(first) == [
        ("", "committed", fan.pk),
        ("committed", "invoiced", None),
        ("invoiced", "paid", None),
    ]
    assert log(second) == [("", "committed", stranger.pk), ("committed", "invoiced", None)]


@pytest.mark.django_db
def test_all_or_nothing_not_met_lapses_every_pledge_and_invoices_nobody(
    fan: User, creator: Creator
) -> None:
    campaign = new_campaign(creator, "all_or_nothing", goal="1000")
    campaigns.pledge(fan, campaign, btt("999.999999"), None)
    past_deadline(campaign)

    assert campaigns.close_due_campaigns() == 1

    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.FAILED
    assert list(Pledge.objects.values_list("state", flat=True)) == ["lapsed"]
    assert not Invoice.objects.exists()
    lapsed = Pledge.objects.get()
    assert log(lapsed) == [("", "committed", fan.pk), ("committed", "lapsed", None)]
    reasons = lapsed.events.values_list("reason", flat=True)
    assert reasons.last() == "the goal was not met by the deadline"
    with pytest.raises(campaigns.CampaignRefused, match="closed"):
        campaigns.pledge(fan, campaign, btt("5000"), None)


@pytest.mark.django_db
def test_a_pledges_log_is_never_changed_nor_deleted(fan: User, creator: Creator) -> None:
    made = campaigns.pledge(fan, new_campaign(creator, "flexible"), btt("300"), None)
    event = made.events.get()

    event.reason = "rewritten"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        PledgeEvent.objects.filter(pledge=made).update(reason="rewritten")
    with pytest.raises(AppendOnly):
        PledgeEvent.objects.filter(pledge=made).delete()
    assert PledgeEvent.objects.get(pk=event.pk).reason == "pledged"


@pytest.mark.django_db
def test_a_pledge_below_the_tier_minimum_or_to_ones_own_campaign_is_refused(
    fan: User, creator: Creator
) -> None:
    campaign = new_campaign(creator, "flexible", tiers=[campaigns.TierSpec("Vinyl", btt("500"))])
    with pytest.raises(campaigns.CampaignRefused, match="at least 500 BTT"):
        campaigns.pledge(fan, campaign, btt("499"), campaign.tiers.get())
    with pytest.raises(campaigns.CampaignRefused, match="your own"):
        campaigns.pledge(creator.user, campaign, btt("600"), None)
    assert not Pledge.objects.exists()
    assert not Invoice.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["flexible", "all_or_nothing"])
def test_a_limited_tier_never_sells_past_its_limit_under_concurrent_pledges(
    creator: Creator, mode: str
) -> None:
    # given: three rewards, eight backers pledging at the same moment
    campaign = new_campaign(
        creator, mode, tiers=[campaigns.TierSpec("Dinner", btt("100"), limit=3)]
    )
    tier = campaign.tiers.get()
    backers = [make_user(f"backer{i}") for i in range(8)]

    # when
    results = in_threads(
        8, lambda i: campaigns.pledge(backers[i], campaign, btt(f"{100 + i}"), tier)
    )

    # then: exactly three pledges hold the reward; the rest were told it is sold out
    made = [r for r in results if isinstance(r, Pledge)]
    refused = [r for r in results if isinstance(r, campaigns.SoldOut)]
    assert (len(made), len(refused)) == (3, 5), results
    assert RewardTier.objects.get(pk=tier.pk).taken == 3
    assert Pledge.objects.filter(tier=tier).count() == 3
    assert Invoice.objects.count() == (3 if mode == "flexible" else 0)


@pytest.mark.django_db(transaction=True)
def test_the_deadline_task_run_twice_at_once_invoices_each_pledge_once(
    creator: Creator,
) -> None:
    # given: a met all-or-nothing campaign past its deadline with five backers
    campaign = new_campaign(creator, "all_or_nothing", goal="500")
    for i in range(5):
        campaigns.pledge(make_user(f"backer{i}"), campaign, btt("100"), None)
    past_deadline(campaign)

    # when: two workers run the task at the same moment, and it runs once more later
    results = in_threads(2, lambda i: close_campaigns())
    again = close_campaigns()

    # then
    assert sorted(results) == [0, 1], results
    assert again == 0
    assert Invoice.objects.filter(kind="pledge").count() == 5
    assert set(Pledge.objects.values_list("state", flat=True)) == {"invoiced"}
    assert Pledge.objects.filter(invoice__isnull=True).count() == 0


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_backers_are_emailed_by_the_worker_when_the_goal_is_met_and_when_it_is_not(
    request: pytest.FixtureRequest, fan: User, stranger: User, creator: Creator, tmp_path: Path
) -> None:
    # A worker of this test's, on a queue without what earlier tests left in it unrun.
    celery_app.control.purge()
    request.getfixturevalue("celery_worker")
    # given: one all-or-nothing campaign that will meet its goal and one that will not
    met = new_campaign(creator, "all_or_nothing", goal="1000")
    missed = new_campaign(creator, "all_or_nothing", goal="1000")
    due = campaigns.pledge(fan, met, btt("1000"), None)
    lapsed = campaigns.pledge(stranger, missed, btt("10"), None)
    past_deadline(met)
    past_deadline(missed)

    # when: the deadline job runs
    assert campaigns.close_due_campaigns() == 2

    # then: each backer gets one email from the worker, with their pledge's page (a worker may
    # also run tasks an earlier test left queued: only these pledges' emails count)
    mail_dir = tmp_path / "mail"

    def about(pledge: Pledge) -> list[str]:
        texts = [path.read_text() for path in mail_dir.iterdir()] if mail_dir.exists() else []
        return [text for text in texts if f"/pledges/{pledge.pk}/" in text]

    wait_for(lambda: about(due) and about(lapsed), what="an email to each backer")
    (to_fan,) = about(due)
    (to_stranger,) = about(lapsed)
    assert f"To: {fan.email}" in to_fan
    assert "is now due" in to_fan
    assert "1000 BTT" in to_fan
    assert f"To: {stranger.email}" in to_stranger
    assert "you owe nothing, and nothing was taken" in to_stranger
    # and the job run again sends nothing more: the solo worker runs tasks in order, so once a
    # marker email queued after it is written, anything the second run queued would be too
    assert campaigns.close_due_campaigns() == 0
    marker = f"marker-{uuid.uuid4().hex}@example.com"
    send_email.delay("marker", "marker", [marker])
    wait_for(
        lambda: any(marker in path.read_text() for path in mail_dir.iterdir()),
        what="the marker email",
    )
    assert (len(about(due)), len(about(lapsed))) == (1, 1)
