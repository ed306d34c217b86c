"""Sign up, log in and out through the pages."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.fixtures.personas import PASSWORD


def test_signup_creates_a_fan_and_logs_them_in(db: None) -> None:
    client = Client()

    response = client.post(
        "/signup/",
        {
            "username": "newfan",
            "email": "NewFan@Example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="newfan")
    assert user.email == "newfan@example.com"
    assert not user.is_creator
    assert not user.is_staff
    home = client.get("/")
    assert b"Log out newfan" in home.content
    assert b"Become a creator" in home.content


def test_signup_refuses_weak_passwords_and_duplicate_emails(fan: User) -> None:
    weak = Client().post(
        "/signup/",
        {"username": "x1", "email": "x1@example.com", "password1": "123", "password2": "123"},
    )
    duplicate = Client().post(
        "/signup/",
        {
            "username": "x2",
            "email": fan.email.upper(),
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert b"too short" in weak.content
    assert b"already exists" in duplicate.content
    assert User.objects.count() == 1


def test_login_and_logout(fan: User) -> None:
    client = Client()

    bad = client.post("/accounts/login/", {"username": "fan", "password": "wrong"})
    good = client.post("/accounts/login/", {"username": "fan", "password": PASSWORD})

    assert bad.status_code == 200
    assert b"Please enter a correct username and password" in bad.content
    assert good.status_code == 302
    assert client.get("/api/v1/me").json()["username"] == "fan"

    logout = client.post("/accounts/logout/")
    assert logout.status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_logout_needs_post(fan: User) -> None:
    client = Client()
    client.force_login(fan)

    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/api/v1/me").status_code == 200


def test_pages_render_without_inline_scripts(fan: User) -> None:
    client = Client()
    for path in ["/", "/signup/", "/accounts/login/", "/accounts/password_reset/"]:
        body = client.get(path).content.decode()
        assert "<script>" not in body, path
        assert "onclick=" not in body, path


@pytest.mark.rate_limits
def test_login_attempts_are_rate_limited(fan: User) -> None:
    from django.core.cache import cache

    cache.clear()
    client = Client()

    answers = [
        client.post("/accounts/login/", {"username": "fan", "password": "wrong"}).status_code
        for _ in range(12)
    ]

    assert answers[:10] == [200] * 10  # AUTH_RATE is 10/m
    assert answers[-1] == 429
    blocked = client.post("/accounts/login/", {"username": "fan", "password": PASSWORD})
    assert blocked.status_code == 429
    assert b"Too many attempts" in blocked.content
    assert "_auth_user_id" not in client.session
