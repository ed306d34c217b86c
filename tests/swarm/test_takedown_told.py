"""A takedown, told: the download API answers 410 Gone with the public reason, the library keeps
the fan's removed purchase marked with the reason and the date, every door stays shut, and a
restore opens exactly what the grants still allow."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest
from django.test import Client

from accounts.models import User
from btt_platform import fastpath
from creators.models import Creator
from ledger import access
from ledger import services as ledger
from ledger.models import Grant
from swarm import services
from swarm.models import Content
from swarm.webseed.tokens import webseed_url_for
from tests.fixtures.content import Site

Publish = Callable[..., Content]
REASON = "Copyright claim 2026-118 from the label"


def client_of(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def body(response: object) -> dict[str, object]:
    # Round-tripped through JSON, as a page reads it.
    content = getattr(response, "content", b"")
    decoded: dict[str, object] = json.loads(content)
    return decoded


@pytest.fixture
def bought(site: Site, publish: Publish, creator: Creator, fan: User) -> Content:
    """A paid release the fan holds a purchase grant for."""
    content = publish(creator, {"film.bin": b"f" * 70_000}, title="Film", access="paid")
    ledger.grant(fan, content, Grant.Source.PURCHASE, "invoice-film")
    return content


@pytest.mark.parametrize("endpoint", ["torrent", "magnet", ""])
def test_the_api_answers_410_with_the_public_reason_once_taken_down(
    bought: Content, fan: User, moderator: User, endpoint: str
) -> None:
    # given: the fan's download page is open; staff take the release down
    services.take_down_content(moderator, bought.pk, REASON)

    # when: the page (or a client) asks the API for the torrent, the magnet or the details
    url = f"/api/v1/contents/{bought.pk}/{endpoint}".rstrip("/")
    response = client_of(fan).get(url)

    # then: 410 Gone, the reason and the date in the JSON
    assert response.status_code == 410
    answer = body(response)
    bought.refresh_from_db()
    assert bought.removed_at is not None
    assert answer == {
        "detail": f"Removed by the platform's moderators: {REASON}",
        "code": "removed",
        "reason": REASON,
        "removed_at": answer["removed_at"],
    }
    # JSON carries milliseconds
    removed_ms = bought.removed_at.replace(microsecond=bought.removed_at.microsecond // 1000 * 1000)
    assert datetime.fromisoformat(str(answer["removed_at"])) == removed_ms
    assert not access.decide(fan, bought)


def test_the_creator_and_a_stranger_are_refused_with_the_same_reason(
    bought: Content, creator: Creator, stranger: User, moderator: User
) -> None:
    services.take_down_content(moderator, bought.pk, REASON)

    for user in (creator.user, stranger):
        response = client_of(user).get(f"/api/v1/contents/{bought.pk}/torrent")
        assert response.status_code == 410
        assert body(response)["reason"] == REASON
    # The details stay the creator's to read; others learn the reason, as the page says it.
    assert client_of(creator.user).get(f"/api/v1/contents/{bought.pk}").status_code == 200
    assert client_of(None).get(f"/api/v1/contents/{bought.pk}").status_code == 410


def test_content_that_never_existed_is_still_404(fan: User, db: None) -> None:
    response = client_of(fan).get("/api/v1/contents/987654/torrent")
    assert response.status_code == 404
    assert body(response) == {"detail": "No such content."}


def test_the_library_keeps_a_removed_purchase_marked_with_reason_and_date(
    bought: Content, fan: User, moderator: User
) -> None:
    # given
    services.take_down_content(moderator, bought.pk, REASON)
    bought.refresh_from_db()
    assert bought.removed_at is not None

    # when
    page = client_of(fan).get("/library/").content.decode()

    # then: marked, with the reason and the date; no link that would fetch it
    assert "Nothing here yet" not in page
    assert f'data-removed-content="{bought.pk}"' in page
    assert "Removed by moderators" in page
    assert f"Reason: {REASON}" in page
    assert f'datetime="{bought.removed_at.isoformat()}"' in page
    assert f"/api/v1/contents/{bought.pk}/torrent" not in page
    assert "/webseed/" not in page


def test_a_removed_content_the_fan_never_had_is_not_in_their_library(
    bought: Content, stranger: User, moderator: User
) -> None:
    services.take_down_content(moderator, bought.pk, REASON)

    page = client_of(stranger).get("/library/").content.decode()

    assert "data-removed-content" not in page
    assert REASON not in page


def test_every_door_stays_shut_while_removed_and_a_restore_opens_them_again(
    bought: Content, fan: User, moderator: User
) -> None:
    # given: the fan could fetch it
    fan_client = client_of(fan)
    webseed = webseed_url_for(fan, bought) + bought.name
    assert fan_client.get(f"/api/v1/contents/{bought.pk}/torrent").status_code == 200

    # when: taken down
    services.take_down_content(moderator, bought.pk, REASON)

    # then: the API, the web seed and the ledger refuse
    bought.refresh_from_db()
    assert fan_client.get(f"/api/v1/contents/{bought.pk}/torrent").status_code == 410
    assert fan_client.get(webseed.removeprefix(_origin(webseed))).status_code == 410
    assert access.decide(fan, bought).reason == access.NOT_PUBLISHED

    # when: restored
    services.restore_content(moderator, bought.pk, "the claim was withdrawn")
    # The web seed keeps a decision for 1 s in this process (swarm.webseed.tokens); the test
    # client is in this process, so drop it rather than wait.
    fastpath.clear()

    # then: the purchase grant (never revoked) opens every door again, and the library lists
    # it as a download, no longer as removed
    bought.refresh_from_db()
    assert (bought.state, bought.state_detail, bought.removed_at) == (
        Content.State.SEEDING,
        "",
        None,
    )
    assert access.decide(fan, bought).reason == Grant.Source.PURCHASE
    torrent = fan_client.get(f"/api/v1/contents/{bought.pk}/torrent")
    assert torrent.status_code == 200
    assert torrent["Content-Type"] == "application/x-bittorrent"
    assert fan_client.get(webseed.removeprefix(_origin(webseed))).status_code == 200
    page = fan_client.get("/library/").content.decode()
    assert "data-removed-content" not in page
    assert f'data-content-id="{bought.pk}"' in page


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def test_the_content_page_says_when_it_was_removed_and_where_to_ask_for_a_refund(
    bought: Content, fan: User, moderator: User
) -> None:
    services.take_down_content(moderator, bought.pk, REASON)
    bought.refresh_from_db()
    assert bought.removed_at is not None

    response = client_of(fan).get(f"/content/{bought.pk}/")

    assert response.status_code == 410
    page = response.content.decode()
    assert REASON in page
    assert f'datetime="{bought.removed_at.isoformat()}"' in page
    assert 'href="/library/"' in page
