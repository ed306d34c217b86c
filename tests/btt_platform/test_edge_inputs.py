"""Odd inputs answered in the right shape: NUL characters in text, oversized JSON bodies and
images, tracker paths that are not the tracker's, file names Windows cannot write, and where
pages may connect to."""

from __future__ import annotations

import http.client
import io
import json

import libtorrent as lt
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from creators.models import Creator
from studio.forms import ContentDetailsForm, NewContentForm
from swarm.models import Content, Upload
from swarm.uploads import WINDOWS_DEVICE_NAMES, windows_safe
from tests.fixtures.api_clients import client_for
from tests.fixtures.servers import AsgiServer
from tests.fixtures.sessions import logged_in
from tests.fixtures.uploads import bearer, new_content, upload


def png(width: int, height: int) -> SimpleUploadedFile:
    """A PNG of that size, a few kilobytes whatever the size (one colour, one bit a pixel)."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return SimpleUploadedFile("cover.png", buffer.getvalue(), content_type="image/png")


# --- NUL characters --------------------------------------------------------------------------


def test_a_nul_in_a_title_is_refused_by_the_api_not_a_500(creator: Creator) -> None:
    # PostgreSQL cannot store U+0000: run with DATABASE_URL=postgres://... to see the 500 before.
    client = client_for(creator.user)

    titled = client.post("/api/v1/contents", {"title": "Talk\x00"}, content_type="application/json")
    described = client.post(
        "/api/v1/contents",
        {"title": "Talk", "description": "a\x00b"},
        content_type="application/json",
    )

    for response in (titled, described):
        assert response.status_code == 400
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["detail"]  # ninja words it "Cannot parse request body"
    assert not Content.objects.exists()
    fine = client.post("/api/v1/contents", {"title": "Talk"}, content_type="application/json")
    assert fine.status_code in (200, 201)


def test_a_nul_in_a_title_or_description_is_a_form_error(creator: Creator) -> None:
    response = logged_in(creator.user).post(
        "/studio/content/new/",
        {"title": "Talk\x00", "description": "x\x00", "access": "free"},
    )

    assert response.status_code in (200, 400)
    form = response.context["form"]
    assert "title" in form.errors
    assert "description" in form.errors
    assert not Content.objects.exists()
    assert not NewContentForm({"title": "a\x00", "access": "free"}).is_valid()


# --- oversized bodies and images --------------------------------------------------------------


def test_an_oversized_json_body_gets_a_json_error(creator: Creator) -> None:
    body = json.dumps({"title": "x" * 3_000_000})

    response = client_for(creator.user).post(
        "/api/v1/contents", body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert "larger than" in response.json()["detail"]


def test_a_cover_of_too_many_pixels_is_refused_with_a_clear_error(creator: Creator) -> None:
    content = Content.objects.create(creator=creator, title="Talk")
    data = {"title": "Talk", "description": "", "access": "free"}

    huge = ContentDetailsForm(data, {"cover": png(12000, 12000)}, instance=content)
    wide = ContentDetailsForm(data, {"cover": png(9000, 10)}, instance=content)
    fine = ContentDetailsForm(data, {"cover": png(4096, 4096)}, instance=content)

    assert not huge.is_valid()
    assert "12000x12000 pixels" in huge.errors["cover"][0]
    assert not wide.is_valid()
    assert "cover" in wide.errors
    assert fine.is_valid(), fine.errors


# --- tracker paths ----------------------------------------------------------------------------


def raw_request(server: AsgiServer, method: str, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        connection.request(method, path)  # sent as written: no normalising of "..%2f.."
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def test_odd_tracker_paths_answer_a_bencoded_failure(asgi_server: AsgiServer) -> None:
    for method, path in [
        ("GET", "/announce/..%2f.."),
        ("GET", "/announce/..%2f..%2fetc%2fpasswd?info_hash=x"),
        ("GET", "/scrape/a/b"),
        ("GET", "/announce//"),
        ("POST", "/announce/key/extra"),
    ]:
        status, content_type, body = raw_request(asgi_server, method, path)

        assert (status, content_type) == (200, "text/plain"), path
        reply = lt.bdecode(body)
        assert isinstance(reply, dict), (path, body[:100])
        assert b"failure reason" in reply, path
    # and the real routes are still the tracker's
    status, _, body = raw_request(asgi_server, "GET", "/announce")
    assert status == 200
    assert b"passkey required" in body


# --- the content security policy --------------------------------------------------------------


def test_pages_may_connect_to_their_own_site_only(db: None) -> None:
    policy = Client().get("/")["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    sources = directives["connect-src"].split()
    assert sources == ["'self'", "ws://127.0.0.1:8000"]
    assert "ws:" not in sources
    assert "wss:" not in sources


# --- Windows device names ---------------------------------------------------------------------


def test_windows_device_names_are_renamed_whatever_their_extension() -> None:
    assert windows_safe("NUL.tar.gz") == "NUL_.tar.gz"
    assert windows_safe("con") == "con_"
    assert windows_safe("Com1 .txt") == "Com1_.txt"
    assert windows_safe("lpt9.") == "lpt9_."
    assert windows_safe("CON/aux.log") == "CON_/aux_.log"
    assert windows_safe("a\\PRN.b") == "a\\PRN_.b"
    for fine in ("null.txt", "COM10.txt", "console.log", "my-NUL.txt", "LPT.txt"):
        assert windows_safe(fine) == fine


def test_an_upload_named_like_a_windows_device_gets_a_name_windows_can_write(
    asgi_server: AsgiServer, creator: Creator
) -> None:
    auth = bearer(creator.user)
    content_id = new_content(asgi_server, auth)
    names = ["NUL.tar.gz", "aux.TXT", "Com3 .log", "LPT1...", "CON/readme.md", "prn"]

    for name in names:
        upload(asgi_server, auth, content_id, name, b"data")

    paths = sorted(Upload.objects.filter(content_id=content_id).values_list("path", flat=True))
    assert paths == sorted(
        ["NUL_.tar.gz", "aux_.TXT", "Com3_.log", "LPT1_", "CON_/readme.md", "prn_"]
    )
    for path in paths:
        for part in path.split("/"):
            assert part.split(".")[0].rstrip(" .").upper() not in WINDOWS_DEVICE_NAMES
