"""Rental terms read right at one: "1 hour", "1 day", never "1 hours" or "1 days"."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from purchases.models import RentalTerms
from swarm.models import Content

pytestmark = pytest.mark.django_db


def test_one_hour_and_one_day_are_singular(fan: User, film: Content) -> None:
    RentalTerms.objects.filter(content=film).update(window_hours=1, start_within_days=1)
    client = Client()
    client.force_login(fan)
    rent = client.get(f"/content/{film.pk}/rent/").content.decode()
    page = client.get(f"/content/{film.pk}/").content.decode()
    assert "for 1 hour from the first play or download, and at most 1 day after paying" in rent
    assert "within 1 day of payment" in page
    assert "1 hours" not in rent + page
    assert "1 days" not in rent + page
