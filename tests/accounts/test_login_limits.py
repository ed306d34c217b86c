"""The per-account log-in limit counts the account the form would authenticate as."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import Client, RequestFactory

from accounts.models import User
from accounts.ratelimits import login_username
from tests.fixtures.personas import PASSWORD

# "fan" in full-width letters (U+FF46 U+FF41 U+FF4E) is "fan" after NFKC.
SAME_ACCOUNT = ["fan", " fan ", "\uff46\uff41\uff4e", "\tfan\n", "fan "]


def test_names_the_login_form_treats_as_one_account_are_one_key() -> None:
    factory = RequestFactory()
    keys = {
        login_username("login", factory.post("/accounts/login/", {"username": name}))
        for name in SAME_ACCOUNT
    }
    assert keys == {"fan"}
    other = factory.post("/accounts/login/", {"username": "fan2"})
    assert login_username("login", other) == "fan2"


@pytest.mark.rate_limits
def test_padding_or_full_width_letters_do_not_get_around_the_account_limit(fan: User) -> None:
    caches["ratelimit"].clear()
    # every attempt from another address: only the per-account limit can stop them
    answers = [
        Client(REMOTE_ADDR=f"10.0.0.{n}")
        .post(
            "/accounts/login/", {"username": SAME_ACCOUNT[n % len(SAME_ACCOUNT)], "password": "x"}
        )
        .status_code
        for n in range(11)
    ]

    assert answers[:10] == [200] * 10  # AUTH_RATE is 10/m
    assert answers[10] == 429
    # the right password in any spelling is refused too, for now
    for name in SAME_ACCOUNT:
        client = Client(REMOTE_ADDR="10.0.1.1")
        response = client.post("/accounts/login/", {"username": name, "password": PASSWORD})
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session
