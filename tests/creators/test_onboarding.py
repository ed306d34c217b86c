"""A fan becomes a creator through the page; bad input is refused and nothing is saved."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from pytest_django.fixtures import Settings

from accounts.models import User
from creators.directory import PAGE_SIZE
from creators.models import Creator
from tests.fixtures.personas import TRON_ADDRESS
from tests.fixtures.sessions import logged_in


def onboarding(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "handle": "nightowl",
        "display_name": "Night Owl",
        "bio": "Ambient music, every full moon.",
        "payout_address": TRON_ADDRESS,
    }
    data.update(overrides)
    return data


def png(size: tuple[int, int] = (64, 64)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 60, 200)).save(buffer, format="PNG")
    return SimpleUploadedFile("avatar.png", buffer.getvalue(), content_type="image/png")


def test_bad_tron_address_shows_a_form_error_and_saves_nothing(fan: User) -> None:
    client = logged_in(fan)

    response = client.post("/become-creator/", onboarding(payout_address="TNotAnAddress123"))

    assert response.status_code == 200
    assert b"Enter a valid TRON address" in response.content
    assert not Creator.objects.exists()


def test_address_with_a_bad_checksum_is_refused(fan: User) -> None:
    tampered = TRON_ADDRESS[:-1] + ("5" if TRON_ADDRESS[-1] != "5" else "6")

    response = logged_in(fan).post("/become-creator/", onboarding(payout_address=tampered))

    assert b"checksum" in response.content
    assert not Creator.objects.exists()


def test_good_address_makes_the_fan_a_creator(fan: User) -> None:
    client = logged_in(fan)

    response = client.post(
        "/become-creator/", {**onboarding(payout_address=f"  {TRON_ADDRESS} "), "avatar": png()}
    )

    assert response.status_code == 302
    assert response["Location"] == "/c/nightowl/"
    creator = Creator.objects.get(user=fan)
    assert creator.handle == "nightowl"
    assert creator.payout_address == TRON_ADDRESS
    assert creator.avatar.name.startswith("avatars/")
    page = client.get("/c/nightowl/")
    assert b"Night Owl" in page.content
    assert b"Ambient music" in page.content


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        ("admin", b"reserved"),
        ("a", b"3 to 30 characters"),
        ("bad handle!", b"3 to 30 characters"),
        ("-dash", b"3 to 30 characters"),
    ],
)
def test_bad_handles_are_refused(fan: User, handle: str, message: bytes) -> None:
    response = logged_in(fan).post("/become-creator/", onboarding(handle=handle))

    assert message in response.content
    assert not Creator.objects.exists()


def test_handle_is_unique_ignoring_case(fan: User, creator: Creator) -> None:
    response = logged_in(fan).post("/become-creator/", onboarding(handle=creator.handle.upper()))

    assert b"already exists" in response.content
    assert Creator.objects.count() == 1


def test_oversized_avatar_is_refused(fan: User, settings: Settings) -> None:
    settings.AVATAR_MAX_BYTES = 1024

    response = logged_in(fan).post("/become-creator/", {**onboarding(), "avatar": png((400, 400))})

    assert b"at most 1 KiB" in response.content
    assert not Creator.objects.exists()


def test_a_file_that_is_not_an_image_is_refused(fan: User) -> None:
    fake = SimpleUploadedFile("avatar.png", b"<script>alert(1)</script>", content_type="image/png")

    response = logged_in(fan).post("/become-creator/", {**onboarding(), "avatar": fake})

    assert b"Upload a valid image" in response.content
    assert not Creator.objects.exists()


def test_onboarding_needs_a_login(db: None) -> None:
    response = Client().get("/become-creator/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_profile_edit_keeps_the_handle_and_validates_the_address(creator: Creator) -> None:
    client = logged_in(creator.user)

    bad = client.post(
        "/settings/profile/", {"display_name": "New", "payout_address": "T" + "1" * 33}
    )
    creator.refresh_from_db()
    assert b"Enter a valid TRON address" in bad.content
    assert creator.display_name == "The Maker"

    good = client.post(
        "/settings/profile/",
        {
            "display_name": "New Name",
            "bio": "",
            "payout_address": "TNuoKL1ni8aoshfFL1ASca1Gou9RXwAzfn",
        },
    )
    creator.refresh_from_db()
    assert good.status_code == 302
    assert creator.display_name == "New Name"
    assert creator.payout_address == "TNuoKL1ni8aoshfFL1ASca1Gou9RXwAzfn"
    assert creator.handle == "maker"


def test_home_lists_creators(creator: Creator) -> None:
    response = Client().get("/")

    assert b"The Maker" in response.content
    assert b'href="/c/maker/"' in response.content


@pytest.mark.django_db
def test_home_lists_creators_a_page_at_a_time_in_name_order() -> None:
    # given: more active creators than one page holds, and one whose account is closed
    count = PAGE_SIZE + 2
    for n in range(count):
        user = User.objects.create_user(
            username=f"maker{n:03}", email=f"maker{n:03}@example.com", password=None
        )
        Creator.objects.create(
            user=user,
            handle=f"maker{n:03}",
            display_name=f"Maker {n:03}",
            payout_address="TNuoKL1ni8aoshfFL1ASca1Gou9RXwAzfn",
        )
    User.objects.filter(username="maker001").update(is_active=False)

    # when: the first and the last page are asked for
    first = Client().get("/").content.decode()
    last = Client().get("/?page=2").content.decode()

    # then: the first holds one page in name order, the closed account on neither; the last
    # holds the rest, and each links to the other
    on_first = [f"Maker {n:03}" for n in range(count) if f"Maker {n:03}" in first]
    on_last = [f"Maker {n:03}" for n in range(count) if f"Maker {n:03}" in last]
    assert on_first == [f"Maker {n:03}" for n in (0, *range(2, PAGE_SIZE + 1))]
    assert on_last == [f"Maker {PAGE_SIZE + 1:03}"]
    assert 'href="?page=2"' in first
    assert 'href="?page=1"' in last
