"""GET /api/v1/contents: a creator's own contents, each as the detail shows it to its owner, in
the same few queries however many there are."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile as FileBytes
from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_init
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import issue_token
from creators.models import Creator
from swarm.models import Content, ContentFile, Upload
from tests.fixtures.personas import TRON_ADDRESS, make_user


def as_user(creator: Creator) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(creator.user, 'test').secret}"}


def add_contents(creator: Creator, count: int) -> list[Content]:
    """Contents of every kind the list shows: published with two files (written out of their
    order), and one still uploading with two uploads."""
    made = []
    for _ in range(count):
        n = Content.objects.count()  # a distinct infohash on each call
        content = Content.objects.create(
            creator=creator, title=f"Album {n}", name=f"album-{n}", total_size=30,
            state=Content.State.SEEDING, infohash=f"{n:040x}", piece_length=2**18,
            published_at=timezone.now(),
        )  # fmt: skip
        ContentFile.objects.create(
            content=content, path="b.flac", original_name="B.flac", size=20, position=1
        )
        ContentFile.objects.create(
            content=content, path="a.flac", original_name="A.flac", size=10, position=0
        )
        made.append(content)
    draft = Content.objects.create(
        creator=creator, title="Draft", name=f"draft-{len(made)}", state_detail="waiting for files"
    )
    draft.cover.save("cover.png", FileBytes(b"not read here"), save=True)
    expires = timezone.now() + timedelta(days=1)
    for position, path in enumerate(("two.wav", "one.wav")):
        Upload.objects.create(
            content=draft, path=path, original_name=path.upper(), length=99, offset=position,
            position=position, expires_at=expires,
        )  # fmt: skip
    return [draft, *made]


def listed(client: Client, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/contents{query}", headers=headers)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def test_the_list_is_the_creators_own_contents_each_as_its_detail_shows_them(
    creator: Creator,
) -> None:
    other = Creator.objects.create(
        user=make_user("other"), handle="other", display_name="Other", payout_address=TRON_ADDRESS
    )
    add_contents(other, 1)
    mine = add_contents(creator, 3)
    client, headers = Client(), as_user(creator)

    page = listed(client, headers)

    assert page["count"] == 4
    # Only this creator's, newest first.
    assert {item["id"] for item in page["items"]} == {c.pk for c in mine}
    created = [item["created_at"] for item in page["items"]]
    assert created == sorted(created, reverse=True)
    assert {item["creator"] for item in page["items"]} == {"maker"}
    for item in page["items"]:
        detail = client.get(f"/api/v1/contents/{item['id']}", headers=headers).json()
        assert item == detail
    published = next(item for item in page["items"] if item["state"] == "seeding")
    assert [f["path"] for f in published["files"]] == ["a.flac", "b.flac"]  # their order
    assert published["uploads"] == []
    draft = next(item for item in page["items"] if item["title"] == "Draft")
    assert draft["state_detail"] == "waiting for files"
    assert draft["cover_url"].startswith(f"/covers/{draft['id']}/")
    assert [(u["path"], u["offset"]) for u in draft["uploads"]] == [("two.wav", 0), ("one.wav", 1)]
    assert draft["uploads"][0]["url"].startswith("http://testserver/api/v1/uploads/")
    assert draft["files"] == []


def test_the_detail_shows_others_no_uploads_and_no_state_detail(creator: Creator) -> None:
    published = add_contents(creator, 1)[1]

    public = Client().get(f"/api/v1/contents/{published.pk}").json()

    assert public["title"] == "Album 0"
    assert public["state_detail"] is None
    assert public["uploads"] is None
    assert [f["original_name"] for f in public["files"]] == ["A.flac", "B.flac"]


def test_limit_and_offset_page_through_the_list(creator: Creator) -> None:
    add_contents(creator, 4)
    client, headers = Client(), as_user(creator)

    first = listed(client, headers, "?limit=2")
    second = listed(client, headers, "?limit=2&offset=2")
    past = listed(client, headers, "?offset=50")
    everything = listed(client, headers, "?limit=500")

    assert first["count"] == second["count"] == past["count"] == 5
    assert len(first["items"]) == len(second["items"]) == 2
    assert past["items"] == []
    assert len(everything["items"]) == 5  # the limit is capped at 100, not refused
    assert [i["id"] for i in first["items"] + second["items"]] == [
        i["id"] for i in everything["items"][:4]
    ]


def test_the_list_reads_the_same_rows_for_one_content_or_many(creator: Creator) -> None:
    client = Client()
    headers = as_user(creator)
    add_contents(creator, 1)
    client.get("/api/v1/contents", headers=headers)  # anything read once per process, read

    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/contents", headers=headers)
    add_contents(creator, 6)
    built: list[type[Model]] = []

    def count(sender: type[Model], **kwargs: object) -> None:
        built.append(sender)

    post_init.connect(count)
    try:
        with CaptureQueriesContext(connection) as many:
            assert len(listed(client, headers)["items"]) == 9
    finally:
        post_init.disconnect(count)

    assert len(many.captured_queries) == len(few.captured_queries)
    # Rows as plain values: the list is the API's busiest answer, and building a model for each
    # content and file cost more CPU than the rest of the request.
    assert not {Content, ContentFile, Upload} & set(built)
