"""Personal API tokens: issued once, stored hashed, revocable; bearer auth on the API."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from django.test import Client

from accounts.models import ApiToken, User
from accounts.services import issue_token, revoke_token
from creators.models import Creator
from tests.fixtures.personas import TRON_ADDRESS
from tests.fixtures.processes import BASE_DIR, process_environment


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_good_token_authenticates(fan: User) -> None:
    issued = issue_token(fan, "script")

    response = Client().get("/api/v1/me", headers=bearer(issued.secret))

    assert response.status_code == 200
    assert response.json() == {
        "id": fan.pk,
        "username": "fan",
        "email": "fan@example.com",
        "is_creator": False,
        "is_staff": False,
        "creator": None,
    }


def test_only_a_hash_of_the_token_is_stored(fan: User) -> None:
    issued = issue_token(fan, "script")

    stored = ApiToken.objects.get()
    assert stored.digest == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in {stored.digest, stored.prefix, stored.name}


def test_revoked_token_is_refused(fan: User) -> None:
    issued = issue_token(fan, "script")
    assert revoke_token(fan, issued.token.pk)

    response = Client().get("/api/v1/me", headers=bearer(issued.secret))

    assert response.status_code == 401


def test_someone_elses_token_cannot_be_revoked(fan: User, stranger: User) -> None:
    issued = issue_token(fan, "script")

    assert not revoke_token(stranger, issued.token.pk)
    assert Client().get("/api/v1/me", headers=bearer(issued.secret)).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Bearer btt_" + "A" * 43,  # well-formed, unknown
        "Bearer btt_" + "A" * 42 + "!",
        "Basic dXNlcjpwYXNz",
        "Bearer btt_" + "é" * 43,
    ],
)
def test_malformed_or_unknown_tokens_are_refused(fan: User, header: str) -> None:
    issue_token(fan, "script")

    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401


def test_inactive_users_tokens_stop_working(fan: User) -> None:
    issued = issue_token(fan, "script")
    fan.is_active = False
    fan.save()

    assert Client().get("/api/v1/me", headers=bearer(issued.secret)).status_code == 401


def test_tokens_page_shows_the_secret_once_and_revokes(fan: User) -> None:
    client = Client()
    client.force_login(fan)

    created = client.post("/settings/tokens/", {"name": "uploader"})
    token = ApiToken.objects.get()
    secret = created.context["new_secret"]
    assert secret.encode() in created.content
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200

    again = client.get("/settings/tokens/")
    assert secret.encode() not in again.content
    assert token.prefix.encode() in again.content

    client.post(f"/settings/tokens/{token.pk}/revoke/")
    assert Client().get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_token_api_create_list_revoke(fan: User) -> None:
    client = Client()
    client.force_login(fan)

    created = client.post("/api/v1/tokens", {"name": "ci"}, content_type="application/json")
    secret = created.json()["token"]
    listed = Client().get("/api/v1/tokens", headers=bearer(secret)).json()
    revoked = Client().delete(f"/api/v1/tokens/{created.json()['id']}", headers=bearer(secret))

    assert created.status_code == 201
    assert [t["name"] for t in listed] == ["ci"]
    assert "token" not in listed[0]
    assert revoked.status_code == 204
    assert Client().get("/api/v1/me", headers=bearer(secret)).status_code == 401


@pytest.mark.processes
def test_create_user_command_prints_a_working_token(transactional_db: None) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "create_user", "cli-maker", "--creator",
         "--payout-address", TRON_ADDRESS, "--display-name", "CLI Maker"],
        cwd=BASE_DIR, env=process_environment(), capture_output=True, text=True, check=True,
    )  # fmt: skip

    token = result.stdout.strip()
    me = Client().get("/api/v1/me", headers=bearer(token)).json()
    assert me["username"] == "cli-maker"
    assert me["creator"] == {"handle": "cli-maker", "display_name": "CLI Maker"}


@pytest.mark.processes
def test_create_user_command_refuses_a_bad_address(transactional_db: None) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "create_user", "bad", "--creator",
         "--payout-address", "Tnope"],
        cwd=BASE_DIR, env=process_environment(), capture_output=True, text=True,
    )  # fmt: skip

    assert result.returncode != 0
    assert "Enter a valid TRON address" in result.stderr
    assert not User.objects.filter(username="bad").exists()
    assert not Creator.objects.exists()
