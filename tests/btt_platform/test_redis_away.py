"""With Redis unreachable, log-in, sign-up, password reset, tips, pages and the API answer (no
500); rate limits count in the database meanwhile."""

from __future__ import annotations

import contextvars
import copy

import pytest
import redis
from celery.app.task import Task
from django.core import mail
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from kombu.exceptions import OperationalError
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from accounts.services import issue_token
from btt_platform import broadcast
from btt_platform.cache import FailoverCache
from creators.models import Creator
from support.models import Tip
from tests.fixtures.personas import PASSWORD
from tests.support.tipping import tipping_creator

pytestmark = pytest.mark.rate_limits

CLOSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def redis_away(settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache, the publisher of events and the Celery broker all unreachable."""
    configured = copy.deepcopy(settings.CACHES)
    configured["default"]["LOCATION"] = CLOSED
    settings.CACHES = configured
    settings.REDIS_URL = CLOSED
    monkeypatch.setattr(broadcast, "_publisher", redis.Redis.from_url(CLOSED))

    def broker_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", broker_down)
    with pytest.raises(redis.ConnectionError):
        caches["default"].get("anything")
    return


@pytest.mark.usefixtures("redis_away")
def test_logging_in_works_and_the_limit_counts_in_the_database(fan: User) -> None:
    client = Client()
    answers = [
        client.post("/accounts/login/", {"username": "fan", "password": "wrong"}).status_code
        for _ in range(11)
    ]
    assert answers[:10] == [200] * 10
    assert answers[10] == 429  # still limited, from the database's count
    ratelimit = caches["ratelimit"]
    assert isinstance(ratelimit, FailoverCache)
    assert ratelimit.primary_is_down()

    other = Client(REMOTE_ADDR="10.0.0.2")
    response = other.post("/accounts/login/", {"username": "stranger", "password": PASSWORD})
    assert response.status_code in (200, 302)


@pytest.mark.usefixtures("redis_away")
def test_once_redis_failed_the_next_requests_leave_it_alone(db: None) -> None:
    # given: two requests, each in a context of its own as under ASGI, so each with a rate-limit
    # cache of its own (Django's cache handler is context-local)
    first, second = (contextvars.Context().run(lambda: caches["ratelimit"]) for _ in range(2))
    assert first is not second

    # when: the first finds Redis unreachable
    assert first.get_or_set("count", 1) == 1

    # then: the second goes to the database at once, without trying Redis
    assert isinstance(second, FailoverCache)
    assert second.primary_is_down()
    assert second.get("count") == 1


@pytest.mark.usefixtures("redis_away")
def test_the_right_password_logs_in(fan: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "fan", "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(fan.pk)


@pytest.mark.usefixtures("redis_away")
def test_signing_up_works(db: None) -> None:
    client = Client()
    response = client.post(
        "/signup/",
        {
            "username": "newfan",
            "email": "newfan@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 302
    assert User.objects.filter(username="newfan").exists()


@pytest.mark.usefixtures("redis_away")
def test_a_password_reset_is_answered_even_with_the_broker_down(
    fan: User, transactional_db: None
) -> None:
    # transactional: the email is queued after commit, where the broker is down
    response = Client().post("/accounts/password_reset/", {"email": fan.email})

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []  # not sent now; nothing failed either


@pytest.mark.usefixtures("redis_away")
def test_tipping_through_the_form_works(fan: User, creator: Creator) -> None:
    tipping_creator(creator)
    client = Client()
    client.force_login(fan)

    response = client.post(reverse("tip", args=[creator.handle]), {"amount": "150"})

    assert response.status_code == 302
    assert Tip.objects.count() == 1


@pytest.mark.usefixtures("redis_away")
def test_tipping_through_the_api_works(fan: User, creator: Creator) -> None:
    tipping_creator(creator)
    token = issue_token(fan, "script").secret
    client = Client(headers={"Authorization": f"Bearer {token}"})

    response = client.post(
        f"/api/v1/creators/{creator.handle}/tips",
        {"amount": "150"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content


@pytest.mark.usefixtures("redis_away")
def test_pages_and_the_api_answer(fan: User, creator: Creator) -> None:
    token = issue_token(fan, "script").secret
    client = Client()
    client.force_login(fan)

    assert Client().get("/").status_code == 200
    assert Client().get("/accounts/login/").status_code == 200
    assert client.get(f"/c/{creator.handle}/").status_code == 200
    me = Client(headers={"Authorization": f"Bearer {token}"}).get("/api/v1/me")
    assert me.status_code == 200
