"""The membership pages and API: join from the creator's page, the fan's Memberships page (state,
next due date, pay now, cancel), the studio's tiers and the members CSV with privacy honoured."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import User
from creators.models import Creator
from memberships import services
from memberships.models import Membership, Tier
from payments.invoices import move_invoice
from payments.models import Invoice
from payments.money import Amount, Token
from tests.fixtures.personas import make_user
from tests.fixtures.sessions import logged_in
from tests.payments.factories import with_wallet

pytestmark = pytest.mark.django_db
State = Membership.State


@pytest.fixture
def tier(creator: Creator) -> Tier:
    with_wallet(creator)
    return services.save_tier(creator, name="Supporter", monthly=Amount.parse("10", Token.BTT))


def paid(fan: User, tier: Tier, listed: bool = False) -> Membership:
    membership, invoice = services.join(fan, tier, listed=listed)
    move_invoice(invoice, Invoice.State.PROCESSING)
    move_invoice(invoice, Invoice.State.SETTLED)
    membership.refresh_from_db()
    return membership


def test_join_from_the_creator_page_leads_to_the_invoice(fan, creator, tier):
    client = logged_in(fan)
    page = client.get(f"/c/{creator.handle}/")
    assert b"Join monthly" in page.content
    response = client.post(f"/tiers/{tier.pk}/join/", {"period": "monthly", "listed": "1"})
    membership = Membership.objects.get(fan=fan, tier=tier)
    invoice = services.open_invoice(membership)
    assert invoice is not None
    assert response.status_code == 302
    assert response["Location"] == f"/invoices/{invoice.pk}/"
    assert membership.listed is True


def test_memberships_page_shows_state_and_due_date_and_cancel_works(fan, tier):
    membership = paid(fan, tier)
    assert membership.paid_until is not None
    client = logged_in(fan)
    page = client.get("/memberships/").content.decode()
    assert "Active" in page
    assert membership.paid_until.strftime("%Y-%m-%d") in page
    assert client.get(f"/memberships/{membership.pk}/cancel/").status_code == 200
    client.post(f"/memberships/{membership.pk}/cancel/")
    membership.refresh_from_db()
    assert membership.state == State.CANCELLED
    assert "Cancelled: runs to the end" in client.get("/memberships/").content.decode()


def test_a_stranger_cannot_cancel_a_fans_membership(fan, stranger, tier):
    membership = paid(fan, tier)
    response = logged_in(stranger).post(f"/memberships/{membership.pk}/cancel/")
    assert response.status_code == 404
    membership.refresh_from_db()
    assert membership.state == State.ACTIVE


def test_members_csv_names_only_listed_fans(creator, fan, tier):
    paid(fan, tier, listed=True)
    paid(make_user("quiet"), tier, listed=False)
    response = logged_in(creator.user).get("/studio/members.csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "tier,member,state,period,paid_until"
    members = sorted(line.split(",")[1] for line in lines[1:])
    assert members == ["Anonymous member", fan.username]
    assert "quiet" not in response.content.decode()


def test_studio_creates_a_tier(creator):
    with_wallet(creator)
    client = logged_in(creator.user)
    form = {"name": "Gold", "token": "BTT", "monthly": "25", "yearly": "250", "rank": "2"}
    response = client.post("/studio/tiers/", form)
    assert response.status_code == 302
    tier = Tier.objects.get(creator=creator, name="Gold")
    assert tier.price_yearly == Amount.parse("250", Token.BTT)
    assert "Gold" in client.get("/studio/tiers/").content.decode()


def test_api_join_list_and_cancel(fan, creator, tier):
    client = logged_in(fan)
    tiers = client.get(f"/api/v1/creators/{creator.handle}/tiers").json()
    assert [t["name"] for t in tiers] == ["Supporter"]
    joined = client.post(
        f"/api/v1/tiers/{tier.pk}/join", json.dumps({"period": "monthly"}), "application/json"
    )
    assert joined.status_code == 201
    assert joined.json()["kind"] == "membership"
    mine = client.get("/api/v1/memberships").json()
    assert mine[0]["state"] == "pending"
    assert mine[0]["open_invoice"] == joined.json()["id"]
    cancelled = client.post(f"/api/v1/memberships/{mine[0]['id']}/cancel")
    assert cancelled.json()["state"] == "ended"


def test_api_members_are_anonymous_unless_listed(creator, fan, tier):
    paid(fan, tier, listed=False)
    rows = logged_in(creator.user).get("/api/v1/studio/members").json()
    assert [r["member"] for r in rows] == ["Anonymous member"]


def test_membership_paths_are_in_the_openapi_schema(fan):
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/tiers/{tier_id}/join" in paths
    assert "/api/v1/memberships/{membership_id}/cancel" in paths
    assert "/api/v1/studio/members" in paths
