"""A fan rotates a leaked passkey from their settings or the API: the old passkey's announces
are refused and its web-seed links answer 403 at once."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client

from accounts.models import User
from accounts.services import issue_token
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm import services
from swarm.models import Content, Passkey
from swarm.services import active_passkey
from tests.fixtures.http_tracker import announce, announce_query, failure, new_peer_id
from tests.fixtures.servers import AsgiServer
from tests.fixtures.sessions import logged_in
from tests.fixtures.webseed import DATA, assert_refused, file_url, publish

pytestmark = pytest.mark.usefixtures("webseed_content_root")


def bought(creator: Creator, fan: User) -> Content:
    content = publish(creator, DATA, access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.STAFF)
    return content


def test_the_settings_page_shows_the_passkey_and_a_rotate_button(fan: User) -> None:
    passkey = active_passkey(fan)
    client = logged_in(fan)

    page = client.get("/settings/passkey/").content.decode()

    assert f"<code>{passkey.key[:6]}…</code>" in page
    assert 'action="/settings/passkey/rotate/"' in page
    assert "csrfmiddlewaretoken" in page
    assert passkey.key not in page  # only its start
    assert 'href="/settings/passkey/"' in client.get("/").content.decode()  # in the navigation


def test_only_its_owner_rotates_it_with_a_post_and_its_csrf_token(fan: User) -> None:
    passkey = active_passkey(fan)

    assert Client().get("/settings/passkey/").status_code == 302  # to the login page
    assert Client().post("/settings/passkey/rotate/").status_code == 302
    assert logged_in(fan).get("/settings/passkey/rotate/").status_code == 405
    forged = logged_in(fan, enforce_csrf_checks=True).post("/settings/passkey/rotate/")
    assert forged.status_code == 403
    assert Passkey.objects.get(pk=passkey.pk).revoked_at is None


def test_rotating_from_the_settings_stops_the_old_passkey_at_once(
    asgi_server: AsgiServer, creator: Creator, fan: User
) -> None:
    content = bought(creator, fan)
    old_key = active_passkey(fan).key
    old_url = file_url(asgi_server.url, fan, content)
    assert httpx.get(old_url).content == DATA  # used, so its decision is cached
    # announced just before, so the tracker holds a decision for it too
    assert b"failure reason" not in announce(old_key, bytes.fromhex(str(content.infohash)))

    response = logged_in(fan).post("/settings/passkey/rotate/")

    assert response.status_code == 302
    assert response["Location"] == "/settings/passkey/"
    # at once: no waiting for a cache to expire
    assert_refused(httpx.get(old_url), 403)
    assert failure(announce(old_key, bytes.fromhex(str(content.infohash)))) == (
        "passkey revoked: download the torrent again"
    )
    new_key = active_passkey(fan).key
    assert new_key != old_key
    assert httpx.get(file_url(asgi_server.url, fan, content)).content == DATA
    assert b"failure reason" not in announce(new_key, bytes.fromhex(str(content.infohash)))


def test_rotating_through_the_api_stops_the_old_passkey_at_once(
    asgi_server: AsgiServer, creator: Creator, fan: User
) -> None:
    content = bought(creator, fan)
    old_key = active_passkey(fan).key
    old_url = file_url(asgi_server.url, fan, content)
    assert httpx.get(old_url).status_code == 200
    token = issue_token(fan, "script").secret

    response = httpx.post(
        f"{asgi_server.url}/api/v1/passkey/rotate", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["passkey"] == active_passkey(fan).key != old_key
    assert_refused(httpx.get(old_url), 403)
    assert failure(announce(old_key, bytes.fromhex(str(content.infohash)))).startswith(
        "passkey revoked"
    )
    # anonymous: refused, and nothing rotated
    assert httpx.post(f"{asgi_server.url}/api/v1/passkey/rotate").status_code in (401, 403)
    assert active_passkey(fan).key == body["passkey"]


def test_another_web_process_refuses_the_old_passkey_at_once(
    asgi_server: AsgiServer, creator: Creator, fan: User
) -> None:
    # given: this server's tracker and web seed hold decisions for the old passkey
    content = bought(creator, fan)
    infohash = bytes.fromhex(str(content.infohash))
    old_key = active_passkey(fan).key
    old_url = file_url(asgi_server.url, fan, content)
    assert httpx.get(old_url).content == DATA
    assert b"failure reason" not in announce(old_key, infohash)

    # when: the passkey is rotated as another web process rotates it: the service alone, which
    # clears none of this process's caches
    services.rotate_passkey(fan)

    # then: refused at once, with no wait for the cached decisions to expire
    assert_refused(httpx.get(old_url), 403)
    assert failure(announce(old_key, infohash)) == "passkey revoked: download the torrent again"
    query = announce_query(infohash, new_peer_id())
    fast_path = httpx.get(f"{asgi_server.url}/announce/{old_key}?{query}")
    assert fast_path.content.startswith(b"d14:failure reason43:passkey revoked")
    new_key = active_passkey(fan).key
    assert httpx.get(file_url(asgi_server.url, fan, content)).content == DATA
    assert b"failure reason" not in announce(new_key, infohash)
