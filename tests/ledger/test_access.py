"""The one access decision, and the doors that ask it: who may fetch what, now, and why."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any
from urllib.parse import quote_from_bytes

import libtorrent as lt
import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from btt_platform.records import AppendOnly
from creators.models import Creator
from ledger import access
from ledger import services as ledger
from ledger.models import Grant
from swarm.models import Content, ContentFile
from swarm.services import active_passkey
from swarm.webseed import tokens

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def content_of(creator: Creator, access_mode: str = Content.Access.PAID) -> Content:
    content = Content.objects.create(
        creator=creator,
        title="Film",
        name="film.mkv",
        access=access_mode,
        state=Content.State.SEEDING,
        infohash=os.urandom(20).hex(),
    )
    ContentFile.objects.create(content=content, path="film.mkv", original_name="film.mkv", size=1)
    return content


# --- the decision -------------------------------------------------------------------------------


def test_free_content_is_open_and_paid_content_needs_a_live_grant(
    fan: User, stranger: User, creator: Creator
) -> None:
    free, paid = content_of(creator, Content.Access.FREE), content_of(creator)
    ledger.grant(fan, paid, Grant.Source.STAFF, "comp")

    assert access.decide(None, free) == access.Access(True, access.FREE)
    assert access.decide(None, paid) == access.Access(False, access.SIGNED_OUT)
    assert access.decide(stranger, paid) == access.Access(False, access.NO_GRANT)
    assert access.decide(creator.user, paid) == access.Access(True, access.OWN)
    decision = access.decide(fan, paid)
    assert (decision.allowed, decision.reason, decision.until) == (True, "staff", None)


def test_a_time_limited_grant_holds_from_its_start_until_its_end(
    fan: User, creator: Creator
) -> None:
    paid = content_of(creator)
    start = timezone.now()
    ledger.grant(fan, paid, Grant.Source.RENTAL, "rent-1", starts_at=start, until=start + HOUR)

    assert not access.may_fetch(fan, paid, now=start - timedelta(seconds=1))
    during = access.decide(fan, paid, now=start + HOUR / 2)
    assert (during.allowed, during.reason, during.until) == (True, "rental", start + HOUR)
    assert not access.may_fetch(fan, paid, now=start + HOUR)


def test_the_longest_live_grant_is_the_answer(fan: User, creator: Creator) -> None:
    paid = content_of(creator)
    now = timezone.now()
    ledger.grant(fan, paid, Grant.Source.RENTAL, "short", starts_at=now, until=now + HOUR)
    ledger.grant(fan, paid, Grant.Source.MEMBERSHIP, "long", starts_at=now, until=now + 3 * HOUR)
    assert access.decide(fan, paid, now=now).until == now + 3 * HOUR
    ledger.grant(fan, paid, Grant.Source.PURCHASE, "invoice")
    assert access.decide(fan, paid).until is None


def test_a_takedown_closes_every_grant_and_a_restore_reopens_them(
    fan: User, staff: User, creator: Creator
) -> None:
    from swarm.services import restore_content, take_down_content

    paid = content_of(creator)
    ledger.grant(fan, paid, Grant.Source.PURCHASE, "invoice")

    take_down_content(staff, paid.pk, "copyright claim")
    paid.refresh_from_db()
    assert access.decide(fan, paid) == access.Access(False, access.NOT_PUBLISHED)
    assert not access.may_fetch(creator.user, paid)

    restore_content(staff, paid.pk)
    paid.refresh_from_db()
    assert access.may_fetch(fan, paid)


def test_revoking_a_source_takes_back_exactly_its_grants(fan: User, creator: Creator) -> None:
    film, album = content_of(creator), content_of(creator)
    ledger.grant(fan, film, Grant.Source.PURCHASE, "invoice-1")
    ledger.grant(fan, album, Grant.Source.PURCHASE, "invoice-2")

    assert ledger.revoke_source(Grant.Source.PURCHASE, "invoice-1", "refunded") == 1
    assert ledger.revoke_source(Grant.Source.PURCHASE, "invoice-1", "refunded") == 0

    assert not access.may_fetch(fan, film)
    assert access.may_fetch(fan, album)
    revoked = Grant.objects.get(source_ref="invoice-1")
    assert revoked.revoke_reason == "refunded"


def test_granting_twice_from_one_source_is_one_grant_and_a_regrant_is_a_new_row(
    fan: User, creator: Creator
) -> None:
    film = content_of(creator)
    first = ledger.grant(fan, film, Grant.Source.STAFF, "comp")
    assert ledger.grant(fan, film, Grant.Source.STAFF, "comp") == first
    ledger.revoke_grant(first.pk, "mistake")

    again = ledger.grant(fan, film, Grant.Source.STAFF, "comp")

    assert again.pk != first.pk
    assert Grant.objects.filter(user=fan, content=film).count() == 2


def test_grants_are_never_edited_or_deleted(fan: User, creator: Creator) -> None:
    grant = ledger.grant(fan, content_of(creator), Grant.Source.STAFF, "comp")

    grant.source_ref = "forged"
    with pytest.raises(AppendOnly):
        grant.save()
    with pytest.raises(AppendOnly):
        grant.delete()
    with pytest.raises(AppendOnly):
        Grant.objects.all().delete()
    assert Grant.objects.get().source_ref == "comp"


def test_a_grant_refuses_an_unknown_source_or_an_end_before_its_start(
    fan: User, creator: Creator
) -> None:
    film = content_of(creator)
    with pytest.raises(ValueError, match="unknown grant source"):
        ledger.grant(fan, film, "gift", "x")
    now = timezone.now()
    with pytest.raises(ValueError, match="ends after it starts"):
        ledger.grant(fan, film, Grant.Source.RENTAL, "x", starts_at=now, until=now)
    assert not Grant.objects.exists()


# --- the doors ---------------------------------------------------------------------------------


def announce(passkey: str, content: Content) -> dict[Any, Any]:
    info_hash = quote_from_bytes(bytes.fromhex(str(content.infohash)))
    query = (
        f"info_hash={info_hash}&peer_id=-LT2110-abcdefghijkl&port=6881"
        "&uploaded=0&downloaded=0&left=1&compact=1"
    )
    reply = lt.bdecode(Client().get(f"/announce/{passkey}?{query}").content)
    assert isinstance(reply, dict)
    return reply


def test_an_ended_grant_is_refused_by_the_tracker_and_the_web_seed(
    fan: User, creator: Creator
) -> None:
    # given: a rental that ended a minute ago, and one that runs for another hour
    ended, running = content_of(creator), content_of(creator)
    now = timezone.now()
    ledger.grant(fan, ended, Grant.Source.RENTAL, "r1", starts_at=now - HOUR, until=now)
    ledger.grant(fan, running, Grant.Source.RENTAL, "r2", starts_at=now - HOUR, until=now + HOUR)
    passkey = active_passkey(fan).key

    # then: the tracker refuses the ended one, admits the running one
    assert announce(passkey, ended)[b"failure reason"] == b"not entitled to this torrent"
    assert b"failure reason" not in announce(passkey, running)
    # and the web seed: 403 for the ended rental's link, the file for the running one
    for content, expected in ((ended, 403), (running, None)):
        url = tokens.webseed_url_for(fan, content)
        token = url.rstrip("/").split("/")[-1]
        decision = tokens.authorise(str(content.pk), token, "film.mkv")
        assert decision == expected if expected else isinstance(decision, tokens.Target)
