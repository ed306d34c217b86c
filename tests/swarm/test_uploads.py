"""Resumable uploads (tus 1.0) through the live ASGI server, and publishing what was uploaded."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.models import User
from creators.models import Creator
from swarm import contents, uploads_store
from swarm.models import Content, ContentFile, Upload
from tests.fixtures.processes import wait_for
from tests.fixtures.servers import AsgiServer
from tests.fixtures.uploads import (
    OCTETS,
    TUS,
    bearer,
    create,
    metadata,
    new_content,
    patch,
    upload,
)

MiB = 1024 * 1024


def head(url: str, auth: dict[str, str]) -> httpx.Response:
    return httpx.head(url, headers={**TUS, **auth})


def stored(url: str) -> Path:
    return Path(settings.UPLOAD_ROOT) / url.rsplit("/", 1)[1]


def upload_files() -> set[str]:
    root = Path(settings.UPLOAD_ROOT)
    return set(os.listdir(root)) if root.exists() else set()


def test_options_tells_what_the_server_speaks(asgi_server: AsgiServer) -> None:
    response = httpx.options(asgi_server.url + "/api/v1/uploads")

    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) >= {"creation", "termination"}
    assert response.headers["Tus-Max-Size"] == str(settings.UPLOAD_MAX_BYTES)


def test_a_file_uploads_in_chunks(asgi_server: AsgiServer, creator: Creator) -> None:
    # given
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth)
    data = os.urandom(3 * MiB + 17)

    # when: created, then sent in two PATCHes (the second as POST with a method override)
    created = create(asgi_server, auth, content_id, "song.mp3", len(data))
    url = created.headers["Location"]
    first = patch(url, auth, 0, data[: 2 * MiB])
    second = httpx.post(
        url,
        headers={
            **OCTETS,
            **auth,
            "Upload-Offset": str(2 * MiB),
            "X-HTTP-Method-Override": "PATCH",
        },
        content=data[2 * MiB :],
    )

    # then
    assert created.status_code == 201
    assert url.startswith(asgi_server.url + "/api/v1/uploads/")
    assert first.status_code == second.status_code == 204
    assert first.headers["Upload-Offset"] == str(2 * MiB)
    assert second.headers["Upload-Offset"] == str(len(data))
    status = head(url, auth)
    assert status.status_code == 200
    assert status.headers["Upload-Offset"] == status.headers["Upload-Length"] == str(len(data))
    assert status.headers["Cache-Control"] == "no-store"
    assert stored(url).read_bytes() == data


def test_an_interrupted_upload_resumes_into_the_identical_file(
    asgi_server: AsgiServer, creator: Creator
) -> None:
    # given: an upload whose first PATCH dies half-way (the client drops the connection)
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth)
    data = os.urandom(8 * MiB)
    half = len(data) // 2
    url = create(asgi_server, auth, content_id, "film.mkv", len(data)).headers["Location"]

    def first_half_then_drop() -> Iterator[bytes]:
        for start in range(0, half, 256 * 1024):
            yield data[start : start + 256 * 1024]
        raise ConnectionAbortedError("network gone")

    with pytest.raises(ConnectionAbortedError):
        httpx.patch(
            url,
            headers={**OCTETS, **auth, "Upload-Offset": "0", "Content-Length": str(len(data))},
            content=first_half_then_drop(),
        )

    # then: the server kept what arrived, on disk and fsynced, and says where to resume
    wait_for(lambda: int(head(url, auth).headers["Upload-Offset"]) > 0, what="kept bytes")
    offset = int(head(url, auth).headers["Upload-Offset"])
    assert 0 < offset <= half
    assert stored(url).read_bytes() == data[:offset]

    # when: the client resumes from there (the dropped request may still hold the lock briefly)
    resumed: list[httpx.Response] = []

    def resume() -> bool:
        resumed.append(patch(url, auth, offset, data[offset:]))
        return resumed[-1].status_code != 423

    wait_for(resume, what="the upload's lock")

    # then
    assert resumed[-1].status_code == 204
    assert hashlib.sha256(stored(url).read_bytes()).digest() == hashlib.sha256(data).digest()


def test_a_patch_at_the_wrong_offset_is_a_conflict(
    asgi_server: AsgiServer, creator: Creator
) -> None:
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth)
    fresh = create(asgi_server, auth, content_id, "a.bin", 10).headers["Location"]
    done = upload(asgi_server, auth, content_id, "b.bin", b"x" * 10)

    ahead = patch(fresh, auth, 5, b"y" * 5)
    behind = patch(done, auth, 0, b"z")
    past_the_end = patch(done, auth, 10, b"z")

    assert ahead.status_code == 409
    assert "Upload-Offset 5 does not match the server's 0" in ahead.text
    assert behind.status_code == 409
    assert past_the_end.status_code == 413
    assert stored(fresh).stat().st_size == 0
    assert stored(done).read_bytes() == b"x" * 10


def test_protocol_errors(asgi_server: AsgiServer, creator: Creator) -> None:
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth)
    url = create(asgi_server, auth, content_id, "a.bin", 4).headers["Location"]
    wrong_type = {**TUS, **auth, "Upload-Offset": "0", "Content-Type": "text/plain"}

    assert httpx.head(url, headers=auth).status_code == 412
    assert httpx.patch(url, headers=wrong_type, content=b"abcd").status_code == 415
    assert head(url.replace(url[-8:], "00000000"), auth).status_code == 404
    no_length = httpx.post(
        asgi_server.url + "/api/v1/uploads",
        headers={**TUS, **auth, "Upload-Metadata": metadata(filename="a", content_id="1")},
    )
    assert no_length.status_code == 400
    assert "Upload-Length" in no_length.text
    assert stored(url).stat().st_size == 0


def test_oversize_is_refused_before_a_byte_beyond_the_limit_is_stored(
    asgi_server: AsgiServer, creator: Creator, settings: SettingsWrapper
) -> None:
    # given: a 64 KiB limit
    settings.UPLOAD_MAX_BYTES = 64 * 1024
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth)
    before = upload_files()

    # when: a bigger file is announced
    too_big = create(asgi_server, auth, content_id, "big.iso", 64 * 1024 + 1)

    # then: refused with the reason, and nothing was created
    assert too_big.status_code == 413
    assert "largest upload allowed is 64.0 KiB" in too_big.text
    assert upload_files() == before
    assert not Upload.objects.exists()

    # when: an upload within the limit is sent more bytes than it declared
    url = create(asgi_server, auth, content_id, "ok.bin", 64 * 1024).headers["Location"]
    declared = patch(url, auth, 0, b"a" * (64 * 1024 + 1))

    def chunked() -> Iterator[bytes]:
        yield b"b" * (48 * 1024)
        yield b"c" * (48 * 1024)

    streamed = patch(url, auth, 0, chunked())

    # then: a declared overflow is refused before the body is read; a streamed one keeps only
    # the bytes up to the declared length
    assert declared.status_code == 413
    assert "Upload-Length" in declared.text
    assert streamed.status_code == 413
    assert streamed.headers["Upload-Offset"] == str(64 * 1024)
    assert stored(url).stat().st_size == 64 * 1024
    assert stored(url).read_bytes() == b"b" * (48 * 1024) + b"c" * (16 * 1024)


def test_over_quota_is_refused_with_what_is_left(
    asgi_server: AsgiServer, creator: Creator, settings: SettingsWrapper
) -> None:
    # given: 1 MiB of quota, 768 KiB of it published and 128 KiB reserved by an open upload
    settings.CREATOR_QUOTA_BYTES = MiB
    Content.objects.create(creator=creator, title="Old", state="seeding", total_size=768 * 1024)
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth)
    assert create(asgi_server, auth, content_id, "a.bin", 128 * 1024).status_code == 201
    before = upload_files()

    # when
    over = create(asgi_server, auth, content_id, "b.bin", 128 * 1024 + 1)
    fits = create(asgi_server, auth, content_id, "c.bin", 128 * 1024)

    # then
    assert over.status_code == 413
    assert "quota" in over.text
    assert "128.0 KiB of your 1.0 MiB are left" in over.text
    assert fits.status_code == 201
    assert upload_files() - before == {fits.headers["Location"].rsplit("/", 1)[1]}


def test_only_creators_upload_and_tokens_must_be_valid(
    asgi_server: AsgiServer, creator: Creator, fan: User
) -> None:
    content_id = new_content(asgi_server, bearer(creator.user))

    as_fan = create(asgi_server, bearer(fan), content_id, "a.bin", 10)
    forged = create(asgi_server, {"Authorization": "Bearer btt_" + "x" * 43}, content_id, "a", 1)
    anonymous = create(asgi_server, {}, content_id, "a.bin", 10)

    assert as_fan.status_code == 403
    assert "Only creators" in as_fan.text
    assert forged.status_code == 401
    assert anonymous.status_code == 401
    assert not Upload.objects.exists()


def test_the_browser_session_needs_the_csrf_header(
    asgi_server: AsgiServer, creator: Creator
) -> None:
    client = Client()
    client.force_login(creator.user)
    content = Content.objects.create(creator=creator, title="From the page")
    csrf = httpx.get(asgi_server.url + "/accounts/login/").cookies["csrftoken"]
    cookies = f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}"

    without = create(asgi_server, {"Cookie": cookies}, content.pk, "a.bin", 1)
    with_header = create(asgi_server, {"Cookie": cookies, "X-CSRFToken": csrf}, content.pk, "a", 1)

    assert without.status_code == 403
    assert with_header.status_code == 201


def test_a_bundle_of_three_is_published_with_ascii_safe_names(
    asgi_server: AsgiServer, creator: Creator
) -> None:
    # given: three finished uploads with names no web seed should carry
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth, title="Été à Paris", access="free")
    files = {"Café Olé.mp3": b"1" * 1000, "日本語.txt": b"2" * 2000, "café olé.MP3": b"3" * 3}
    urls = [upload(asgi_server, auth, content_id, name, data) for name, data in files.items()]

    # when
    response = httpx.post(f"{asgi_server.url}/api/v1/contents/{content_id}/publish", headers=auth)

    # then: the content is hashing, its files sit at their torrent paths, the uploads are gone
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["state"] == "hashing"
    assert body["name"] == "Ete-a-Paris"
    assert body["total_size"] == 3003
    assert [(f["path"], f["original_name"]) for f in body["files"]] == [
        ("Cafe-Ole.mp3", "Café Olé.mp3"),
        ("file.txt", "日本語.txt"),
        ("cafe-ole-2.MP3", "café olé.MP3"),
    ]
    folder = Path(settings.CONTENT_ROOT) / str(content_id) / "Ete-a-Paris"
    for path, data in zip(
        ["Cafe-Ole.mp3", "file.txt", "cafe-ole-2.MP3"], files.values(), strict=True
    ):
        assert (folder / path).read_bytes() == data
    assert all(f.path.isascii() for f in ContentFile.objects.filter(content_id=content_id))
    assert not any(stored(url).exists() for url in urls)
    assert not Upload.objects.exists()


def test_publishing_is_all_or_nothing(asgi_server: AsgiServer, creator: Creator) -> None:
    # given: two finished uploads, one of whose bytes vanished from the disk
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth)
    kept = upload(asgi_server, auth, content_id, "a.bin", b"a" * 100)
    lost = upload(asgi_server, auth, content_id, "b.bin", b"b" * 100)
    stored(lost).unlink()
    unfinished = new_content(asgi_server, auth)
    create(asgi_server, auth, unfinished, "c.bin", 10)

    # when
    failed = httpx.post(f"{asgi_server.url}/api/v1/contents/{content_id}/publish", headers=auth)
    early = httpx.post(f"{asgi_server.url}/api/v1/contents/{unfinished}/publish", headers=auth)

    # then: nothing half-published; the intact upload is still there to retry with
    assert failed.status_code == 500
    assert "nothing was published" in failed.json()["detail"]
    assert Content.objects.get(pk=content_id).state == "uploading"
    assert not ContentFile.objects.exists()
    assert not (Path(settings.CONTENT_ROOT) / str(content_id)).exists()
    assert stored(kept).read_bytes() == b"a" * 100
    assert Upload.objects.filter(content_id=content_id).count() == 2
    assert early.status_code == 409
    assert "c.bin (0/10 bytes)" in early.json()["detail"]


def test_cancelled_and_expired_uploads_free_their_space(
    asgi_server: AsgiServer, creator: Creator
) -> None:
    # given: one upload the creator cancels, one left alone past its expiry
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth)
    cancelled = create(asgi_server, auth, content_id, "a.bin", 10).headers["Location"]
    abandoned = create(asgi_server, auth, content_id, "b.bin", 10).headers["Location"]
    assert patch(abandoned, auth, 0, b"12345").status_code == 204
    Upload.objects.filter(pk=abandoned.rsplit("/", 1)[1]).update(expires_at=timezone.now())

    # when
    deleted = httpx.delete(cancelled, headers={**TUS, **auth})
    expired = head(abandoned, auth)
    purged = uploads_store.purge_expired_uploads()

    # then
    assert deleted.status_code == 204
    assert head(cancelled, auth).status_code == 404
    assert expired.status_code == 410
    assert purged == 1
    assert not stored(cancelled).exists()
    assert not stored(abandoned).exists()
    assert not Upload.objects.exists()


def test_patch_also_works_without_the_streaming_middleware(creator: Creator) -> None:
    # WSGI or Django's test client: the view reads the buffered request body in chunks.
    content = contents.create_content(creator.user, title="WSGI")
    upload_row = uploads_store.create_upload(creator.user, content.pk, "a.bin", 5)
    client = Client(headers=bearer(creator.user))

    response = client.patch(
        f"/api/v1/uploads/{upload_row.pk}",
        b"hello",
        content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Offset": "0"},
    )

    assert response.status_code == 204
    assert response["Upload-Offset"] == "5"
    assert upload_row.file_path.read_bytes() == b"hello"
